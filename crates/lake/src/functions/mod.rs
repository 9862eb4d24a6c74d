//! The Trino functions CloudTrail Lake users write, with Trino's semantics, on DataFusion.
//!
//! DataFusion already has, with Trino's argument order and meaning (each proved by a case in
//! `tests.rs`): `regexp_like`, `approx_distinct`, `date_trunc`, `lower`, `upper`, `strpos`,
//! `split_part`, `map_keys`, `map_values`, `now()`, `current_timestamp`, `coalesce`, `length`,
//! `replace`, `substr`.
//!
//! Ours, because DataFusion lacks them or its same-named function means something else:
//! - time: `date_add`, `date_diff` (Joda's calendar arithmetic), `year`, `quarter`, `month`,
//!   `week`, `day`, `day_of_week`, `day_of_year`, `hour`, `minute`, `second`, `millisecond`,
//!   `year_of_week` (and Trino's aliases); `to_iso8601`, `from_iso8601_timestamp`,
//!   `from_iso8601_date`; `from_unixtime` (DataFusion's takes only integers and drops the
//!   zone) and `to_unixtime` (DataFusion's returns whole seconds, Trino's a double);
//!   `date_format` (DataFusion's is `to_char` with chrono's format, Trino's MySQL's) and
//!   `format_datetime` (Joda's format).
//! - collections: `element_at` (DataFusion's is `map_extract`, which returns a list, and
//!   takes no arrays), `cardinality` (DataFusion's counts the elements of nested arrays too),
//!   `contains` (DataFusion's is a string function; ours takes an array and keeps the string
//!   form), `split` (DataFusion has `string_to_array`, whose third argument means something
//!   else).
//! - JSON (as text; there is no JSON type): `json_extract_scalar`, `json_extract`,
//!   `json_parse`, `json_format`, `json_array_length`, `json_array_contains`.
//!
//! Text arguments that are literals (units, JSON paths, formats, zones) are checked when the
//! statement is planned, so a mistake is an `InvalidQueryStatementException` at StartQuery
//! rather than a failed query.

mod collections;
mod convert;
mod datetime;
mod formats;
mod json;
#[cfg(test)]
mod tests;

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{Result, ScalarValue, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};
use datafusion::prelude::SessionContext;

/// Registers the functions with `ctx`, replacing DataFusion's functions of the same names.
pub fn register(ctx: &SessionContext) {
    let all = datetime::functions()
        .into_iter()
        .chain(convert::functions())
        .chain(collections::functions())
        .chain(json::functions());
    for f in all {
        ctx.register_udf(ScalarUDF::new_from_impl(f));
    }
}

/// How a function coerces its arguments: the types to cast them to, or why they cannot be.
type Coerce = fn(&[DataType]) -> Result<Vec<DataType>, String>;
/// The result type from the (coerced) argument types and the literal arguments; the place to
/// check literals at planning.
type Returns = fn(&[DataType], &[Option<&ScalarValue>]) -> Result<DataType>;
/// Evaluation over arrays of the coerced types, all of one length; the second argument is
/// the result type.
type Eval = fn(&[ArrayRef], &DataType) -> Result<ArrayRef>;

/// One of our functions: its name, coercion, result type and evaluation.
pub(crate) struct Function {
    name: &'static str,
    aliases: Vec<String>,
    signature: Signature,
    coerce: Coerce,
    returns: Returns,
    eval: Eval,
}

impl Function {
    fn new(name: &'static str, coerce: Coerce, returns: Returns, eval: Eval) -> Function {
        Function {
            name,
            aliases: Vec::new(),
            signature: Signature::user_defined(Volatility::Immutable),
            coerce,
            returns,
            eval,
        }
    }

    fn alias(mut self, names: &[&str]) -> Function {
        self.aliases = names.iter().map(|n| (*n).to_owned()).collect();
        self
    }
}

impl std::fmt::Debug for Function {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Function")
            .field("name", &self.name)
            .finish()
    }
}

// Names are unique among our functions, so a function is its name.
impl PartialEq for Function {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for Function {}

impl Hash for Function {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

impl ScalarUDFImpl for Function {
    fn name(&self) -> &str {
        self.name
    }

    fn aliases(&self) -> &[String] {
        &self.aliases
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        // Types that do not fit are left as they are, for `return_field_from_args` to
        // refuse: DataFusion wraps a coercion error in three lines about candidate
        // signatures, which bury the message saying what to write.
        Ok((self.coerce)(arg_types).unwrap_or_else(|_| arg_types.to_vec()))
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        (self.returns)(arg_types, &vec![None; arg_types.len()])
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let types: Vec<DataType> = args
            .arg_fields
            .iter()
            .map(|f| f.data_type().clone())
            .collect();
        if let Err(why) = (self.coerce)(&types) {
            return plan_err!("{}: {why}", self.name);
        }
        let returns = (self.returns)(&types, args.scalar_arguments)?;
        Ok(Arc::new(Field::new(self.name, returns, true)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let out = (self.eval)(&arrays, args.return_field.data_type())?;
        if scalar {
            Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?))
        } else {
            Ok(ColumnarValue::Array(out))
        }
    }
}

/// True for the text types.
fn is_text(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

/// True for the integer types.
fn is_integer(t: &DataType) -> bool {
    t.is_integer()
}

/// Text (or NULL) as `Utf8`, or why not.
fn text(t: &DataType, what: &str) -> Result<DataType, String> {
    if is_text(t) || t.is_null() {
        Ok(DataType::Utf8)
    } else {
        Err(format!("{what} must be text, not {t}"))
    }
}

/// An integer (or NULL) as `Int64`, or why not.
fn integer(t: &DataType, what: &str) -> Result<DataType, String> {
    if is_integer(t) || t.is_null() {
        Ok(DataType::Int64)
    } else {
        Err(format!("{what} must be an integer, not {t}"))
    }
}

/// Checks the number of arguments.
fn arity(types: &[DataType], allowed: &[usize], usage: &str) -> Result<(), String> {
    if allowed.contains(&types.len()) {
        Ok(())
    } else {
        Err(format!(
            "takes {usage}; {} arguments were given",
            types.len()
        ))
    }
}

/// The literal text at `i`, if that argument is a text literal.
fn literal_text<'a>(literals: &[Option<&'a ScalarValue>], i: usize) -> Option<&'a str> {
    match literals.get(i).copied().flatten() {
        Some(ScalarValue::Utf8(Some(s)))
        | Some(ScalarValue::LargeUtf8(Some(s)))
        | Some(ScalarValue::Utf8View(Some(s))) => Some(s.as_str()),
        _ => None,
    }
}
