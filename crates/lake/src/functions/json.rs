//! Trino's JSON functions over JSON text (there is no JSON type: `json_parse` gives text,
//! which the others read): `json_extract_scalar`, `json_extract`, `json_parse`,
//! `json_format`, `json_array_length`, `json_array_contains`. Invalid JSON reads as NULL, as
//! in Trino; an invalid path is an error.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanBuilder, Int64Builder, StringBuilder,
};
use datafusion::arrow::datatypes::{DataType, Float64Type, Int64Type};
use datafusion::common::{Result, ScalarValue, exec_datafusion_err, exec_err, plan_err};
use serde_json::Value;
use serde_json::value::RawValue;

use super::{Function, arity, is_integer, literal_text, text};

pub(crate) fn functions() -> Vec<Function> {
    vec![
        Function::new(
            "json_extract_scalar",
            coerce_json_path,
            returns_path,
            json_extract_scalar,
        ),
        Function::new("json_extract", coerce_json_path, returns_path, json_extract),
        Function::new(
            "json_parse",
            coerce_json,
            |_, _| Ok(DataType::Utf8),
            json_parse,
        ),
        Function::new(
            "json_format",
            coerce_json,
            |_, _| Ok(DataType::Utf8),
            json_format,
        ),
        Function::new(
            "json_array_length",
            coerce_json,
            |_, _| Ok(DataType::Int64),
            json_array_length,
        ),
        Function::new(
            "json_array_contains",
            coerce_array_contains,
            |_, _| Ok(DataType::Boolean),
            json_array_contains,
        ),
    ]
}

/// One step of a JSON path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
}

/// Trino's JSON path subset: `$`, then `.name`, `["name"]`, `['name']` or `[index]` steps.
fn parse_path(path: &str) -> Result<Vec<Step>, String> {
    let invalid = || format!("Invalid JSON path: '{path}' (write it like $.a.b[0] or $[\"a b\"])");
    let mut rest = path.trim().strip_prefix('$').ok_or_else(invalid)?;
    let mut steps = Vec::new();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            if end == 0 {
                return Err(invalid());
            }
            steps.push(Step::Key(r[..end].to_owned()));
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let r = r.trim_start();
            if let Some(quote) = r.chars().next().filter(|c| *c == '"' || *c == '\'') {
                let body = &r[1..];
                let end = body.find(quote).ok_or_else(invalid)?;
                steps.push(Step::Key(body[..end].to_owned()));
                rest = body[end + 1..]
                    .trim_start()
                    .strip_prefix(']')
                    .ok_or_else(invalid)?;
            } else {
                let end = r.find(']').ok_or_else(invalid)?;
                let index = r[..end].trim().parse::<usize>().map_err(|_| invalid())?;
                steps.push(Step::Index(index));
                rest = &r[end + 1..];
            }
        } else {
            return Err(invalid());
        }
    }
    Ok(steps)
}

/// The value at `steps` in `doc`, as its text in the document; None when the document is not
/// JSON or nothing is there.
fn extract<'a>(doc: &'a str, steps: &[Step]) -> Option<&'a RawValue> {
    let mut cur: &'a RawValue = serde_json::from_str(doc).ok()?;
    for step in steps {
        // Reading one level at a time keeps the rest of the document as unparsed text.
        cur = match step {
            Step::Key(k) => {
                let object: HashMap<String, &'a RawValue> = serde_json::from_str(cur.get()).ok()?;
                object.get(k).copied()?
            }
            Step::Index(i) => {
                let array: Vec<&'a RawValue> = serde_json::from_str(cur.get()).ok()?;
                array.get(*i).copied()?
            }
        };
    }
    Some(cur)
}

/// JSON text without the whitespace between tokens.
fn minify(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in json.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !c.is_ascii_whitespace() {
            out.push(c);
        }
    }
    out
}

fn coerce_json_path(types: &[DataType]) -> Result<Vec<DataType>, String> {
    arity(types, &[2], "(json, path)")?;
    Ok(vec![
        text(&types[0], "the JSON")?,
        text(&types[1], "the path")?,
    ])
}

fn returns_path(_: &[DataType], literals: &[Option<&ScalarValue>]) -> Result<DataType> {
    if let Some(path) = literal_text(literals, 1)
        && let Err(why) = parse_path(path)
    {
        return plan_err!("{why}");
    }
    Ok(DataType::Utf8)
}

/// Applies `f` to the value at each row's path, parsing the path only when it changes.
fn each_path(
    args: &[ArrayRef],
    mut f: impl FnMut(Option<&RawValue>) -> Option<String>,
) -> Result<ArrayRef> {
    let (docs, paths) = (args[0].as_string::<i32>(), args[1].as_string::<i32>());
    let mut parsed: Option<(String, Vec<Step>)> = None;
    let mut out = StringBuilder::new();
    for i in 0..docs.len() {
        if docs.is_null(i) || paths.is_null(i) {
            out.append_null();
            continue;
        }
        let path = paths.value(i);
        if parsed.as_ref().is_none_or(|(p, _)| p != path) {
            let steps = parse_path(path).map_err(|why| exec_datafusion_err!("{why}"))?;
            parsed = Some((path.to_owned(), steps));
        }
        let steps = parsed
            .as_ref()
            .map(|(_, s)| s.as_slice())
            .unwrap_or_default();
        out.append_option(f(extract(docs.value(i), steps)));
    }
    Ok(Arc::new(out.finish()))
}

/// The scalar at the path as text (numbers as written); NULL for objects, arrays and null.
fn json_extract_scalar(args: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    each_path(args, |found| {
        let raw = found?.get();
        match raw.as_bytes().first()? {
            b'"' => serde_json::from_str::<String>(raw).ok(),
            b'{' | b'[' | b'n' => None,
            _ => Some(raw.to_owned()),
        }
    })
}

/// The value at the path as JSON text.
fn json_extract(args: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    each_path(args, |found| Some(minify(found?.get())))
}

fn coerce_json(types: &[DataType]) -> Result<Vec<DataType>, String> {
    arity(types, &[1], "(json)")?;
    Ok(vec![text(&types[0], "the JSON")?])
}

/// Text to JSON, which must be valid; objects get their keys sorted, as Trino's canonical
/// JSON has them.
fn json_parse(args: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let docs = args[0].as_string::<i32>();
    let mut out = StringBuilder::new();
    for i in 0..docs.len() {
        if docs.is_null(i) {
            out.append_null();
            continue;
        }
        let doc = docs.value(i);
        match serde_json::from_str::<Value>(doc) {
            Ok(v) => out.append_value(v.to_string()),
            Err(e) => {
                let shown: String = doc.chars().take(100).collect();
                return exec_err!("json_parse: cannot convert {shown:?} to JSON: {e}");
            }
        }
    }
    Ok(Arc::new(out.finish()))
}

/// JSON as compact text.
fn json_format(args: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let docs = args[0].as_string::<i32>();
    let mut out = StringBuilder::new();
    for i in 0..docs.len() {
        out.append_option((!docs.is_null(i)).then(|| minify(docs.value(i))));
    }
    Ok(Arc::new(out.finish()))
}

/// The length of a JSON array; NULL for anything else.
fn json_array_length(args: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let docs = args[0].as_string::<i32>();
    let mut out = Int64Builder::with_capacity(docs.len());
    for i in 0..docs.len() {
        let n = (!docs.is_null(i))
            .then(|| serde_json::from_str::<Vec<&RawValue>>(docs.value(i)).ok())
            .flatten()
            .map(|a| a.len() as i64);
        out.append_option(n);
    }
    Ok(Arc::new(out.finish()))
}

fn coerce_array_contains(types: &[DataType]) -> Result<Vec<DataType>, String> {
    arity(types, &[2], "(json, value)")?;
    let value = match &types[1] {
        t if is_integer(t) => DataType::Int64,
        t if t.is_numeric() => DataType::Float64,
        DataType::Boolean => DataType::Boolean,
        DataType::Null => DataType::Utf8,
        t => text(t, "the value (a number, a boolean or text)")?,
    };
    Ok(vec![text(&types[0], "the JSON")?, value])
}

/// Whether a JSON array holds the value: integers match integral numbers, doubles any
/// number, booleans booleans, text strings. NULL when the JSON is not an array.
fn json_array_contains(args: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let docs = args[0].as_string::<i32>();
    let matches = |i: usize, v: &Value| -> bool {
        match args[1].data_type() {
            DataType::Int64 => v
                .as_i64()
                .is_some_and(|n| v.is_i64() && n == args[1].as_primitive::<Int64Type>().value(i)),
            DataType::Float64 => v
                .as_f64()
                .is_some_and(|n| n == args[1].as_primitive::<Float64Type>().value(i)),
            DataType::Boolean => v.as_bool() == Some(args[1].as_boolean().value(i)),
            _ => v.as_str() == Some(args[1].as_string::<i32>().value(i)),
        }
    };
    let mut out = BooleanBuilder::with_capacity(docs.len());
    for i in 0..docs.len() {
        if docs.is_null(i) || args[1].is_null(i) {
            out.append_null();
            continue;
        }
        let found = serde_json::from_str::<Vec<Value>>(docs.value(i))
            .ok()
            .map(|a| a.iter().any(|v| matches(i, v)));
        out.append_option(found);
    }
    Ok(Arc::new(out.finish()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn steps(path: &str) -> Vec<Step> {
        parse_path(path).expect(path)
    }

    #[test]
    fn json_paths_as_trino_reads_them() {
        let doc = r#"{"a":{"b":[1,{"c":"x"}]},"k y":true, "n": 1.50}"#;
        let at = |p: &str| extract(doc, &steps(p)).map(|r| r.get().to_owned());
        assert_eq!(at("$.a.b[1].c").as_deref(), Some(r#""x""#));
        assert_eq!(at("$[\"k y\"]").as_deref(), Some("true"));
        assert_eq!(at("$['k y']").as_deref(), Some("true"));
        assert_eq!(at("$.a.b[0]").as_deref(), Some("1"));
        assert_eq!(at("$.n").as_deref(), Some("1.50"));
        assert_eq!(at("$.missing"), None);
        assert_eq!(at("$.a.b[7]"), None);
        assert_eq!(at("$.a.b.c"), None, "a key of an array");
        assert!(extract("{not json", &steps("$.a")).is_none());
        for bad in ["a.b", "$.", "$[x]", "$[\"a\"", "$[1", "$a", "$..a"] {
            let e = parse_path(bad).expect_err(bad);
            assert!(e.starts_with("Invalid JSON path"), "{e}");
        }
    }

    #[test]
    fn minify_keeps_whitespace_inside_strings() {
        assert_eq!(
            minify("{ \"a b\" : [ 1 , \"x \\\" y\" ] }"),
            r#"{"a b":[1,"x \" y"]}"#
        );
    }
}
