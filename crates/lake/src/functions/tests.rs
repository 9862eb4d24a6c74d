//! Every Trino function CloudTrail Lake users write, run through a SessionContext with our
//! functions registered (as the query service builds it): DataFusion's own where they agree
//! with Trino, ours where they do not. Each case is `(expression, expected text)`.

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::prelude::{SessionConfig, SessionContext};

fn context() -> SessionContext {
    let ctx = SessionContext::new_with_config(SessionConfig::new().with_information_schema(false));
    super::register(&ctx);
    ctx
}

/// The rows as text, columns joined by ` | `.
fn text(batches: &[RecordBatch]) -> Vec<String> {
    let options = FormatOptions::default()
        .with_null("NULL")
        .with_timestamp_tz_format(Some("%Y-%m-%d %H:%M:%S%.3f"))
        .with_timestamp_format(Some("%Y-%m-%d %H:%M:%S%.3f"));
    let mut out = Vec::new();
    for b in batches {
        let columns: Vec<ArrayFormatter<'_>> = b
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options).expect("formatter"))
            .collect();
        for i in 0..b.num_rows() {
            let row: Vec<String> = columns.iter().map(|f| f.value(i).to_string()).collect();
            out.push(row.join(" | "));
        }
    }
    out
}

/// The value of `expr` (one row), or the error planning or running it gave.
async fn eval(ctx: &SessionContext, expr: &str) -> Result<String, String> {
    let sql = format!("SELECT {expr}");
    let df = ctx.sql(&sql).await.map_err(|e| e.to_string())?;
    let batches = df.collect().await.map_err(|e| e.to_string())?;
    let rows = text(&batches);
    match rows.as_slice() {
        [one] => Ok(one.clone()),
        other => Err(format!("{expr}: {} rows", other.len())),
    }
}

async fn check(cases: &[(&str, &str)]) {
    let ctx = context();
    let mut wrong = Vec::new();
    for (expr, expected) in cases {
        match eval(&ctx, expr).await {
            Ok(got) if got == *expected => {}
            got => wrong.push(format!(
                "{expr}\n   expected {expected}\n   got      {got:?}"
            )),
        }
    }
    assert!(wrong.is_empty(), "\n{}", wrong.join("\n"));
}

async fn check_errors(cases: &[(&str, &str)]) {
    let ctx = context();
    let mut wrong = Vec::new();
    for (expr, expected) in cases {
        match eval(&ctx, expr).await {
            Err(e) if e.contains(expected) => {}
            got => wrong.push(format!(
                "{expr}\n   expected an error with {expected:?}\n   got {got:?}"
            )),
        }
    }
    assert!(wrong.is_empty(), "\n{}", wrong.join("\n"));
}

const TS: &str = "TIMESTAMP '2024-03-05 17:08:09.123'";

#[tokio::test]
async fn datafusion_builtins_agree_with_trino() {
    check(&[
        ("regexp_like('GetObject', '^Get')", "true"),
        // Trino's regexp_like matches anywhere in the text, not the whole text.
        ("regexp_like('xGetObjectx', 'Get')", "true"),
        ("regexp_like('PutObject', '^Get')", "false"),
        ("lower('GetObject')", "getobject"),
        ("upper('GetObject')", "GETOBJECT"),
        ("strpos('high', 'ig')", "2"),
        ("strpos('high', 'x')", "0"),
        ("position('ig' IN 'high')", "2"),
        ("split_part('a/b/c', '/', 2)", "b"),
        ("length('abc')", "3"),
        ("replace('a-b', '-', '_')", "a_b"),
        ("substr('abcdef', 2, 3)", "bcd"),
        ("coalesce(NULL, 'x')", "x"),
        (
            "date_trunc('day', TIMESTAMP '2024-03-05 17:08:09')",
            "2024-03-05 00:00:00.000",
        ),
        // Trino's weeks start on Monday.
        (
            "date_trunc('week', TIMESTAMP '2024-03-07 17:08:09')",
            "2024-03-04 00:00:00.000",
        ),
        (
            "date_trunc('month', TIMESTAMP '2024-03-07 17:08:09')",
            "2024-03-01 00:00:00.000",
        ),
        (
            "date_trunc('quarter', TIMESTAMP '2024-05-07 17:08:09')",
            "2024-04-01 00:00:00.000",
        ),
        (
            "date_trunc('hour', from_iso8601_timestamp('2024-03-07T17:08:09Z'))",
            "2024-03-07 17:00:00.000",
        ),
        ("now() > TIMESTAMP '2024-01-01 00:00:00'", "true"),
        ("now() = current_timestamp", "true"),
        ("map_keys(MAP {'a': '1', 'b': '2'})", "[a, b]"),
        ("map_values(MAP {'a': '1', 'b': '2'})", "[1, 2]"),
    ])
    .await;
    let ctx = context();
    let df = ctx
        .sql("SELECT approx_distinct(c) FROM (VALUES ('a'), ('b'), ('a'), (NULL)) AS t(c)")
        .await
        .expect("plan");
    assert_eq!(text(&df.collect().await.expect("run")), ["2"]);
}

#[tokio::test]
async fn date_add_and_date_diff() {
    check(&[
        // The most common use: a window ending now.
        ("date_add('day', -7, now()) < now()", "true"),
        (
            "date_diff('second', date_add('day', -7, now()), now())",
            "604800",
        ),
        (
            "date_add('day', -7, TIMESTAMP '2024-03-05 17:08:09')",
            "2024-02-27 17:08:09.000",
        ),
        (
            "date_add('DAY', 1, TIMESTAMP '2024-03-05 17:08:09')",
            "2024-03-06 17:08:09.000",
        ),
        // Calendar months: the day is kept, or the month's last day when it has fewer.
        (
            "date_add('month', 1, TIMESTAMP '2024-01-31 00:00:00')",
            "2024-02-29 00:00:00.000",
        ),
        (
            "date_add('year', 1, TIMESTAMP '2024-02-29 12:00:00')",
            "2025-02-28 12:00:00.000",
        ),
        ("date_add('quarter', -1, DATE '2024-05-31')", "2024-02-29"),
        ("date_add('week', 2, DATE '2024-01-01')", "2024-01-15"),
        (&format!("date_add('hour', 25, {TS})"), "2024-03-06 18:08:09.123"),
        (&format!("date_add('minute', 90, {TS})"), "2024-03-05 18:38:09.123"),
        (&format!("date_add('second', -10, {TS})"), "2024-03-05 17:07:59.123"),
        (
            &format!("date_add('millisecond', 1500, {TS})"),
            "2024-03-05 17:08:10.623",
        ),
        ("date_add('day', 1, CAST(NULL AS TIMESTAMP))", "NULL"),
        ("date_add('day', NULL, DATE '2024-01-01')", "NULL"),
        // The zone is kept; days count on its wall clock, hours on the instant (New York
        // moved its clocks on 2024-03-10).
        (
            "to_iso8601(date_add('day', 1, from_unixtime(1710003600, 'America/New_York')))",
            "2024-03-10T12:00:00.000-04:00",
        ),
        (
            "to_iso8601(date_add('hour', 24, from_unixtime(1710003600, 'America/New_York')))",
            "2024-03-10T13:00:00.000-04:00",
        ),
        (
            "to_iso8601(date_add('day', -1, from_iso8601_timestamp('2024-03-01T00:00:00Z')))",
            "2024-02-29T00:00:00.000Z",
        ),
        (
            "date_diff('day', TIMESTAMP '2024-03-01 00:00:00', TIMESTAMP '2024-03-08 12:00:00')",
            "7",
        ),
        (
            "date_diff('day', TIMESTAMP '2024-03-08 12:00:00', TIMESTAMP '2024-03-01 00:00:00')",
            "-7",
        ),
        (
            "date_diff('hour', TIMESTAMP '2024-03-01 00:00:00', TIMESTAMP '2024-03-01 05:59:59')",
            "5",
        ),
        (
            "date_diff('millisecond', TIMESTAMP '2024-03-01 00:00:00', TIMESTAMP '2024-03-01 00:00:01.5')",
            "1500",
        ),
        (
            "date_diff('week', DATE '2024-01-01', DATE '2024-01-14')",
            "1",
        ),
        // A month is complete when the day of month is reached, or the month's last day.
        (
            "date_diff('month', DATE '2024-01-31', DATE '2024-02-29')",
            "1",
        ),
        (
            "date_diff('month', DATE '2024-01-15', DATE '2024-02-14')",
            "0",
        ),
        (
            "date_diff('quarter', DATE '2024-01-01', DATE '2024-12-31')",
            "3",
        ),
        (
            "date_diff('year', DATE '2020-02-29', DATE '2021-02-28')",
            "1",
        ),
        (
            "date_diff('year', TIMESTAMP '2024-06-01 00:00:00', TIMESTAMP '2023-06-01 00:00:01')",
            "0",
        ),
        // Dates and timestamps of any unit and zone mix.
        (
            "date_diff('day', DATE '2024-01-01', TIMESTAMP '2024-01-03 00:00:00')",
            "2",
        ),
        (
            "date_diff('minute', from_unixtime(0), TIMESTAMP '1970-01-01 01:00:00')",
            "60",
        ),
        (
            "date_diff('day', NULL, TIMESTAMP '2024-01-03 00:00:00')",
            "NULL",
        ),
    ])
    .await;
}

#[tokio::test]
async fn fields_and_conversions() {
    check(&[
        (&format!("year({TS})"), "2024"),
        (&format!("quarter({TS})"), "1"),
        (&format!("month({TS})"), "3"),
        (&format!("week({TS})"), "10"),
        (&format!("week_of_year({TS})"), "10"),
        (&format!("day({TS})"), "5"),
        (&format!("day_of_month({TS})"), "5"),
        (&format!("day_of_week({TS})"), "2"),
        (&format!("dow({TS})"), "2"),
        (&format!("day_of_year({TS})"), "65"),
        (&format!("doy({TS})"), "65"),
        (&format!("hour({TS})"), "17"),
        (&format!("minute({TS})"), "8"),
        (&format!("second({TS})"), "9"),
        (&format!("millisecond({TS})"), "123"),
        ("day_of_week(DATE '2024-03-10')", "7"),
        ("week(DATE '2021-01-01')", "53"),
        ("year_of_week(DATE '2021-01-01')", "2020"),
        ("yow(DATE '2021-01-01')", "2020"),
        ("year(DATE '2021-01-01')", "2021"),
        ("hour(from_unixtime(0, 'Asia/Kolkata'))", "5"),
        ("year(CAST(NULL AS TIMESTAMP))", "NULL"),
        (&format!("to_iso8601({TS})"), "2024-03-05T17:08:09.123"),
        ("to_iso8601(DATE '2024-03-05')", "2024-03-05"),
        (
            "to_iso8601(from_iso8601_timestamp('2024-03-05T17:08:09Z'))",
            "2024-03-05T17:08:09.000Z",
        ),
        (
            "to_iso8601(from_iso8601_timestamp('2024-03-05T17:08:09.5+02:00'))",
            "2024-03-05T15:08:09.500Z",
        ),
        (
            "from_iso8601_timestamp('2024-03-05T17:08')",
            "2024-03-05 17:08:00.000",
        ),
        (
            "from_iso8601_timestamp('2024-03-05')",
            "2024-03-05 00:00:00.000",
        ),
        ("from_iso8601_date('2024-03-05')", "2024-03-05"),
        (
            "to_iso8601(from_unixtime(0, 'Asia/Kolkata'))",
            "1970-01-01T05:30:00.000+05:30",
        ),
        ("from_unixtime(1.5)", "1970-01-01 00:00:01.500"),
        ("from_unixtime(1710003600)", "2024-03-09 17:00:00.000"),
        (
            "to_iso8601(from_unixtime(1710003600))",
            "2024-03-09T17:00:00.000Z",
        ),
        ("to_unixtime(TIMESTAMP '1970-01-01 00:00:01.5')", "1.5"),
        ("to_unixtime(from_unixtime(1710003600))", "1710003600.0"),
        ("to_unixtime(DATE '1970-01-02')", "86400.0"),
        (
            &format!("date_format({TS}, '%Y-%m-%d %H:%i:%s')"),
            "2024-03-05 17:08:09",
        ),
        (
            &format!("date_format({TS}, '%W, %M %e %Y %r')"),
            "Tuesday, March 5 2024 05:08:09 PM",
        ),
        (&format!("date_format({TS}, '%f')"), "123000"),
        (
            "date_format(from_unixtime(0, 'Asia/Kolkata'), '%H:%i')",
            "05:30",
        ),
        (
            &format!("format_datetime({TS}, 'yyyy-MM-dd''T''HH:mm:ss.SSS')"),
            "2024-03-05T17:08:09.123",
        ),
        (
            "format_datetime(from_unixtime(0, 'Asia/Kolkata'), 'EEE, d MMM yyyy HH:mm ZZ')",
            "Thu, 1 Jan 1970 05:30 +05:30",
        ),
    ])
    .await;
}

#[tokio::test]
async fn arrays_and_maps() {
    check(&[
        ("element_at(ARRAY['a', 'b', 'c'], 1)", "a"),
        ("element_at(ARRAY['a', 'b', 'c'], 3)", "c"),
        ("element_at(ARRAY['a', 'b', 'c'], -1)", "c"),
        ("element_at(ARRAY['a', 'b', 'c'], -3)", "a"),
        ("element_at(ARRAY['a', 'b', 'c'], 4)", "NULL"),
        ("element_at(ARRAY['a', 'b', 'c'], -4)", "NULL"),
        ("element_at(ARRAY['a', 'b'], NULL)", "NULL"),
        (
            "element_at(ARRAY[named_struct('arn', 'x'), named_struct('arn', 'y')], -1)['arn']",
            "y",
        ),
        ("element_at(MAP {'a': '1', 'b': '2'}, 'b')", "2"),
        ("element_at(MAP {'a': '1', 'b': '2'}, 'z')", "NULL"),
        ("element_at(MAP {'a': 1, 'b': 2}, 'a') + 1", "2"),
        ("cardinality(ARRAY[1, 2, 3])", "3"),
        // The outer array's elements (DataFusion's cardinality would say 3).
        ("cardinality(ARRAY[ARRAY[1, 2], ARRAY[3]])", "2"),
        ("cardinality(MAP {'a': '1', 'b': '2'})", "2"),
        ("cardinality(CAST(NULL AS INT[]))", "NULL"),
        ("cardinality(split('', ','))", "1"),
        ("contains(ARRAY['a', 'b'], 'b')", "true"),
        ("contains(ARRAY['a', 'b'], 'z')", "false"),
        // Trino: not found, but a NULL might have been it.
        ("contains(ARRAY['a', NULL], 'z')", "NULL"),
        ("contains(ARRAY['a', NULL], 'a')", "true"),
        ("contains(ARRAY['a', 'b'], NULL)", "NULL"),
        ("contains(ARRAY[1, 2], 2)", "true"),
        ("contains(ARRAY[1, 2], 2.0)", "true"),
        ("contains(map_keys(MAP {'k': 'v'}), 'k')", "true"),
        // DataFusion's string form stays.
        ("contains('GetObject', 'Obj')", "true"),
        ("contains('GetObject', 'obj')", "false"),
        ("split('a/b/c', '/')", "[a, b, c]"),
        ("split('a/b/c', '/', 2)", "[a, b/c]"),
        ("split('a::b', '::')", "[a, b]"),
        ("element_at(split('a,b,c', ','), -1)", "c"),
    ])
    .await;
}

#[tokio::test]
async fn json_functions() {
    check(&[
        (r#"json_extract_scalar('{"a": {"b": "x"}}', '$.a.b')"#, "x"),
        (r#"json_extract_scalar('{"a": 1.50}', '$.a')"#, "1.50"),
        (r#"json_extract_scalar('{"a": true}', '$.a')"#, "true"),
        (r#"json_extract_scalar('{"a": [1]}', '$.a')"#, "NULL"),
        (r#"json_extract_scalar('{"a": null}', '$.a')"#, "NULL"),
        (r#"json_extract_scalar('{"a": "x"}', '$.b')"#, "NULL"),
        (r#"json_extract_scalar('{not json', '$.a')"#, "NULL"),
        (
            r#"json_extract_scalar('{"k y": [{"c": "z"}]}', '$["k y"][0].c')"#,
            "z",
        ),
        (
            r#"json_extract('{"a": {"b": "x", "c": [1, 2]}}', '$.a')"#,
            r#"{"b":"x","c":[1,2]}"#,
        ),
        (r#"json_extract('{"a": "x"}', '$.a')"#, r#""x""#),
        (r#"json_extract('{"a": null}', '$.a')"#, "null"),
        (
            r#"json_extract('{"b": 2, "a": 1}', '$')"#,
            r#"{"b":2,"a":1}"#,
        ),
        (r#"json_extract('{"a": 1}', '$.b')"#, "NULL"),
        (
            r#"json_parse('{"b": 2, "a": [1, 2]}')"#,
            r#"{"a":[1,2],"b":2}"#,
        ),
        ("json_format(json_parse('[1, 2]'))", "[1,2]"),
        (
            r#"json_extract_scalar(json_parse('{"a": {"b": 7}}'), '$.a.b')"#,
            "7",
        ),
        ("json_array_length('[1, 2, 3]')", "3"),
        ("json_array_length('[]')", "0"),
        ("json_array_length('{}')", "NULL"),
        ("json_array_length('[1, ')", "NULL"),
        ("json_array_contains('[1, 2, 3]', 2)", "true"),
        ("json_array_contains('[1, 2, 3]', 4)", "false"),
        ("json_array_contains('[1.5, 2]', 1.5)", "true"),
        (r#"json_array_contains('["a", "b"]', 'b')"#, "true"),
        (r#"json_array_contains('["1"]', 1)"#, "false"),
        ("json_array_contains('[true]', true)", "true"),
        ("json_array_contains('{}', 1)", "NULL"),
    ])
    .await;
}

#[tokio::test]
async fn bad_arguments_say_what_to_write() {
    check_errors(&[
        (
            &format!("date_add('days', 1, {TS})"),
            "'days' is not a valid Timestamp field: use one of millisecond",
        ),
        // Not a literal: found when the query runs.
        (
            &format!("date_add(u, 1, {TS}) FROM (VALUES ('days')) AS v(u)"),
            "date_add: 'days' is not a valid Timestamp field",
        ),
        (
            "date_add('hour', 1, DATE '2024-01-01')",
            "'hour' is not a valid DATE field",
        ),
        (
            "date_add('day', 1, '2024-01-01 00:00:00')",
            "must be a timestamp or a date, not text: write TIMESTAMP",
        ),
        (
            &format!("date_add('day', 1.5, {TS})"),
            "the value must be an integer",
        ),
        ("date_add('day', 1)", "takes (unit, value, timestamp)"),
        (
            &format!("date_diff('fortnight', {TS}, {TS})"),
            "'fortnight' is not a valid Timestamp field",
        ),
        (
            &format!("date_diff('day', {TS}, 'yesterday')"),
            "must be a timestamp or a date, not text",
        ),
        ("hour(DATE '2024-01-01')", "a date has no time of day"),
        (
            "year('2024-01-01')",
            "must be a timestamp or a date, not text",
        ),
        ("element_at(ARRAY[1], 0)", "SQL array indices start at 1"),
        // Not a literal: found when the query runs.
        (
            "element_at(ARRAY[1], i) FROM (VALUES (0)) AS v(i)",
            "SQL array indices start at 1",
        ),
        ("element_at('abc', 1)", "takes an array or a map, not Utf8"),
        ("element_at(ARRAY[1], 'x')", "the index must be an integer"),
        ("cardinality('abc')", "takes an array or a map"),
        ("contains(1, 1)", "takes an array and an element"),
        // Trino compares like with like: no text-to-number or number-to-date guesses.
        (
            "contains(ARRAY[1, 2], 'x')",
            "an element of type Utf8 cannot be compared with the array's elements of type Int64",
        ),
        (
            "contains(ARRAY[1, 2], DATE '2024-01-01')",
            "cannot be compared with the array's elements",
        ),
        (
            "element_at(MAP {'a': '1'}, 1)",
            "the key must be of the map's key type Utf8, not Int64",
        ),
        (
            "split('a,b', '')",
            "the delimiter may not be the empty string",
        ),
        ("split('a,b', ',', 0)", "the limit must be positive"),
        (r#"json_extract('{}', 'a.b')"#, "Invalid JSON path: 'a.b'"),
        (r#"json_extract_scalar('{}', '$[x]')"#, "Invalid JSON path"),
        ("json_extract_scalar(1, '$.a')", "the JSON must be text"),
        ("json_parse('{bad')", "json_parse: cannot convert"),
        (&format!("date_format({TS}, '%D')"), "%D is not supported"),
        (
            &format!("format_datetime({TS}, 'yyyy T')"),
            "Illegal pattern component: T",
        ),
        ("from_unixtime(0, 'Mars/Olympus')", "is not a time zone"),
        ("from_unixtime('x')", "must be a number of seconds"),
        (
            "from_iso8601_timestamp('yesterday')",
            "is not an ISO 8601 timestamp",
        ),
    ])
    .await;
}

/// Literal units, paths and formats are checked when the statement is planned, so
/// StartQuery refuses the statement instead of starting a query that will fail.
#[tokio::test]
async fn literal_mistakes_fail_at_planning() {
    let ctx = context();
    for sql in [
        "SELECT date_add('days', 1, now())",
        "SELECT json_extract_scalar('{}', 'a')",
        "SELECT date_format(now(), '%U')",
        "SELECT from_unixtime(0, 'Nowhere/Special')",
        "SELECT split('a', '')",
    ] {
        let e = ctx.sql(sql).await.expect_err(sql);
        assert!(
            e.to_string().starts_with("Error during planning"),
            "{sql}: {e}"
        );
    }
}

/// Why ours replace DataFusion's: the same calls in a plain DataFusion context answer
/// differently (or not at all).
#[tokio::test]
async fn datafusion_alone_answers_differently() {
    let plain = SessionContext::new();
    let ours = context();
    for expr in [
        "element_at(MAP {'a': '1'}, 'a')",
        "element_at(ARRAY['a', 'b'], -1)",
        "cardinality(ARRAY[ARRAY[1, 2], ARRAY[3]])",
        "contains(ARRAY['a', 'b'], 'b')",
        "date_format(TIMESTAMP '2024-03-05 17:08:09', '%Y-%m-%d %H:%i')",
        "to_unixtime(TIMESTAMP '1970-01-01 00:00:01.5')",
        "from_unixtime(1.5)",
        "date_add('day', 1, TIMESTAMP '2024-03-05 17:08:09')",
        "year(TIMESTAMP '2024-03-05 17:08:09')",
        "split('a/b', '/')",
        "json_extract('{\"a\": 1}', '$.a')",
    ] {
        let theirs = eval(&plain, expr).await;
        let mine = eval(&ours, expr).await;
        assert!(mine.is_ok(), "{expr}: {mine:?}");
        assert_ne!(theirs, mine, "{expr}");
    }
}

/// Columns of several rows, NULLs among them: each row answers for itself.
#[tokio::test]
async fn columns_row_by_row() {
    let ctx = context();
    let sql = "SELECT element_at(a, i), cardinality(a), contains(a, 'b'), \
               element_at(m, k), json_extract_scalar(j, p), \
               date_add(u, i, t), date_diff('day', t, TIMESTAMP '2024-01-10 00:00:00') \
               FROM (VALUES \
                 (ARRAY['a', 'b'], 1, MAP {'x': '1'}, 'x', '{\"a\": 1}', '$.a', 'day', TIMESTAMP '2024-01-01 00:00:00'), \
                 (ARRAY['c'], -1, MAP {'x': '1'}, 'y', '{\"b\": [2]}', '$.b[0]', 'month', TIMESTAMP '2024-01-31 00:00:00'), \
                 (NULL, 1, NULL, 'x', NULL, '$.a', 'hour', NULL), \
                 (ARRAY['a', NULL], 5, MAP {'y': '2'}, 'y', '[]', '$[0]', NULL, TIMESTAMP '2024-01-10 00:00:00') \
               ) AS v(a, i, m, k, j, p, u, t)";
    let rows = text(
        &ctx.sql(sql)
            .await
            .expect("plan")
            .collect()
            .await
            .expect("run"),
    );
    assert_eq!(
        rows,
        [
            "a | 2 | true | 1 | 1 | 2024-01-02 00:00:00.000 | 9",
            "c | 1 | false | NULL | 2 | 2023-12-31 00:00:00.000 | -21",
            "NULL | NULL | NULL | NULL | NULL | NULL | NULL",
            "NULL | 2 | NULL | 2 | NULL | NULL | 0",
        ]
    );
}
