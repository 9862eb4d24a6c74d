//! Trino's array and map functions: `element_at` (1-based, negative from the end, NULL when
//! out of range or missing), `cardinality`, `contains` (arrays; strings as DataFusion has
//! it) and `split`.

use std::cmp::Ordering;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanBuilder, Int64Builder, ListBuilder, StringBuilder,
    UInt64Builder, make_comparator, new_null_array,
};
use datafusion::arrow::compute::kernels::comparison;
use datafusion::arrow::compute::{SortOptions, take};
use datafusion::arrow::datatypes::{DataType, Field, Int64Type};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::type_coercion::binary::comparison_coercion;

use super::{Function, arity, integer, is_text, text};

pub(crate) fn functions() -> Vec<Function> {
    vec![
        Function::new(
            "element_at",
            coerce_element_at,
            returns_element_at,
            element_at,
        ),
        Function::new(
            "cardinality",
            coerce_cardinality,
            |_, _| Ok(DataType::Int64),
            cardinality,
        ),
        Function::new(
            "contains",
            coerce_contains,
            |_, _| Ok(DataType::Boolean),
            contains,
        ),
        Function::new("split", coerce_split, returns_split, split),
    ]
}

/// Lists of every kind as `List`, the one kind the functions read.
fn as_list(t: &DataType) -> Option<DataType> {
    match t {
        DataType::List(_) => Some(t.clone()),
        DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
            Some(DataType::List(Arc::clone(f)))
        }
        _ => None,
    }
}

/// The type both sides are compared as, when they are of one kind (text, numbers, times,
/// booleans, or equal nested types): Trino does not turn text into numbers or numbers into
/// dates to compare them, where DataFusion's comparison coercion would.
fn comparable(have: &DataType, given: &DataType) -> Option<DataType> {
    fn kind(t: &DataType) -> u8 {
        match t {
            t if is_text(t) => 1,
            t if t.is_numeric() => 2,
            t if t.is_temporal() => 3,
            DataType::Boolean => 4,
            _ => 5,
        }
    }
    if given.is_null() {
        return Some(have.clone());
    }
    if kind(have) != kind(given) {
        return None;
    }
    comparison_coercion(have, given)
}

fn coerce_element_at(types: &[DataType]) -> Result<Vec<DataType>, String> {
    arity(types, &[2], "(array, index) or (map, key)")?;
    if let Some(list) = as_list(&types[0]) {
        return Ok(vec![list, integer(&types[1], "the index")?]);
    }
    match &types[0] {
        DataType::Map(entries, _) => {
            let DataType::Struct(fields) = entries.data_type() else {
                return Err(format!("{} is not a map type", types[0]));
            };
            let key = fields[0].data_type();
            if comparable(key, &types[1]).is_some() {
                Ok(vec![types[0].clone(), key.clone()])
            } else {
                Err(format!(
                    "the key must be of the map's key type {key}, not {}",
                    types[1]
                ))
            }
        }
        DataType::Null => Ok(vec![DataType::Null, types[1].clone()]),
        other => Err(format!("takes an array or a map, not {other}")),
    }
}

fn returns_element_at(types: &[DataType], literals: &[Option<&ScalarValue>]) -> Result<DataType> {
    if matches!(types[0], DataType::List(_))
        && let Some(Some(ScalarValue::Int64(Some(0)))) = literals.get(1)
    {
        return plan_err!("element_at: SQL array indices start at 1");
    }
    match &types[0] {
        DataType::List(f) => Ok(f.data_type().clone()),
        DataType::Map(entries, _) => match entries.data_type() {
            DataType::Struct(fields) => Ok(fields[1].data_type().clone()),
            other => exec_err!("element_at: {other} is not a map's entries"),
        },
        _ => Ok(DataType::Null),
    }
}

fn element_at(args: &[ArrayRef], returns: &DataType) -> Result<ArrayRef> {
    let rows = args[0].len();
    let mut picks = UInt64Builder::with_capacity(rows);
    let values = match args[0].data_type() {
        DataType::List(_) => {
            let list = args[0].as_list::<i32>();
            let index = args[1].as_primitive::<Int64Type>();
            let offsets = list.value_offsets();
            for i in 0..rows {
                if list.is_null(i) || index.is_null(i) {
                    picks.append_null();
                    continue;
                }
                let (start, len) = (offsets[i] as i64, (offsets[i + 1] - offsets[i]) as i64);
                let k = index.value(i);
                let at = match k {
                    0 => return exec_err!("element_at: SQL array indices start at 1"),
                    k if k > 0 => k - 1,
                    k => len + k,
                };
                if (0..len).contains(&at) {
                    picks.append_value((start + at) as u64);
                } else {
                    picks.append_null();
                }
            }
            Arc::clone(list.values())
        }
        DataType::Map(..) => {
            let map = args[0].as_map();
            let keys = map.keys();
            let same = make_comparator(keys.as_ref(), args[1].as_ref(), SortOptions::default())?;
            let offsets = map.value_offsets();
            for i in 0..rows {
                if map.is_null(i) || args[1].is_null(i) {
                    picks.append_null();
                    continue;
                }
                let (start, end) = (offsets[i] as usize, offsets[i + 1] as usize);
                let found =
                    (start..end).find(|&j| !keys.is_null(j) && same(j, i) == Ordering::Equal);
                picks.append_option(found.map(|j| j as u64));
            }
            Arc::clone(map.values())
        }
        _ => return Ok(new_null_array(returns, rows)),
    };
    Ok(take(values.as_ref(), &picks.finish(), None)?)
}

fn coerce_cardinality(types: &[DataType]) -> Result<Vec<DataType>, String> {
    arity(types, &[1], "(array) or (map)")?;
    if let Some(list) = as_list(&types[0]) {
        return Ok(vec![list]);
    }
    match &types[0] {
        DataType::Map(..) | DataType::Null => Ok(vec![types[0].clone()]),
        other => Err(format!("takes an array or a map, not {other}")),
    }
}

/// The number of elements (of the outer array: an array of arrays counts its arrays).
fn cardinality(args: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let rows = args[0].len();
    let offsets = match args[0].data_type() {
        DataType::List(_) => args[0].as_list::<i32>().value_offsets(),
        DataType::Map(..) => args[0].as_map().value_offsets(),
        _ => return Ok(new_null_array(&DataType::Int64, rows)),
    };
    let mut out = Int64Builder::with_capacity(rows);
    for i in 0..rows {
        if args[0].is_null(i) {
            out.append_null();
        } else {
            out.append_value(i64::from(offsets[i + 1] - offsets[i]));
        }
    }
    Ok(Arc::new(out.finish()))
}

fn coerce_contains(types: &[DataType]) -> Result<Vec<DataType>, String> {
    arity(types, &[2], "(array, element) or (string, substring)")?;
    if let Some(DataType::List(f)) = as_list(&types[0]) {
        let common = comparable(f.data_type(), &types[1]).ok_or_else(|| {
            format!(
                "an element of type {} cannot be compared with the array's elements of type {}",
                types[1],
                f.data_type()
            )
        })?;
        let list = DataType::List(Arc::new(Field::new(f.name(), common.clone(), true)));
        return Ok(vec![list, common]);
    }
    if is_text(&types[0]) {
        return Ok(vec![DataType::Utf8, text(&types[1], "the substring")?]);
    }
    match &types[0] {
        DataType::Null => Ok(vec![DataType::Null, types[1].clone()]),
        other => Err(format!(
            "takes an array and an element (or a string and a substring), not {other}"
        )),
    }
}

/// Trino's: true when found; NULL when not found but the array holds a NULL (it might have
/// been the element), or when the element is NULL. Strings: whether the substring occurs.
fn contains(args: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let rows = args[0].len();
    match args[0].data_type() {
        DataType::List(_) => {
            let list = args[0].as_list::<i32>();
            let values = list.values();
            let same = make_comparator(values.as_ref(), args[1].as_ref(), SortOptions::default())?;
            let offsets = list.value_offsets();
            let mut out = BooleanBuilder::with_capacity(rows);
            for i in 0..rows {
                if list.is_null(i) || args[1].is_null(i) {
                    out.append_null();
                    continue;
                }
                let (start, end) = (offsets[i] as usize, offsets[i + 1] as usize);
                let mut nulls = false;
                let mut found = false;
                for j in start..end {
                    if values.is_null(j) {
                        nulls = true;
                    } else if same(j, i) == Ordering::Equal {
                        found = true;
                        break;
                    }
                }
                out.append_option((found || !nulls).then_some(found));
            }
            Ok(Arc::new(out.finish()))
        }
        DataType::Utf8 => Ok(Arc::new(comparison::contains(&args[0], &args[1])?)),
        _ => Ok(new_null_array(&DataType::Boolean, rows)),
    }
}

fn coerce_split(types: &[DataType]) -> Result<Vec<DataType>, String> {
    arity(
        types,
        &[2, 3],
        "(string, delimiter) or (string, delimiter, limit)",
    )?;
    let mut out = vec![
        text(&types[0], "the string")?,
        text(&types[1], "the delimiter")?,
    ];
    if let Some(limit) = types.get(2) {
        out.push(integer(limit, "the limit")?);
    }
    Ok(out)
}

fn returns_split(_: &[DataType], literals: &[Option<&ScalarValue>]) -> Result<DataType> {
    if let Some(Some(ScalarValue::Utf8(Some(d)))) = literals.get(1)
        && d.is_empty()
    {
        return plan_err!("split: the delimiter may not be the empty string");
    }
    if let Some(Some(ScalarValue::Int64(Some(n)))) = literals.get(2)
        && *n <= 0
    {
        return plan_err!("split: the limit must be positive, not {n}");
    }
    Ok(DataType::List(Arc::new(Field::new_list_field(
        DataType::Utf8,
        true,
    ))))
}

/// Trino's: at most `limit` parts, the last holding the rest of the string.
fn split(args: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let strings = args[0].as_string::<i32>();
    let delimiters = args[1].as_string::<i32>();
    let limits = args.get(2).map(|a| a.as_primitive::<Int64Type>());
    let mut out = ListBuilder::new(StringBuilder::new());
    for i in 0..strings.len() {
        if strings.is_null(i) || delimiters.is_null(i) || limits.is_some_and(|l| l.is_null(i)) {
            out.append_null();
            continue;
        }
        let (s, d) = (strings.value(i), delimiters.value(i));
        if d.is_empty() {
            return exec_err!("split: the delimiter may not be the empty string");
        }
        let limit = match limits.map(|l| l.value(i)) {
            None => usize::MAX,
            Some(n) if n <= 0 => return exec_err!("split: the limit must be positive, not {n}"),
            Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
        };
        for part in s.splitn(limit, d) {
            out.values().append_value(part);
        }
        out.append(true);
    }
    Ok(Arc::new(out.finish()))
}
