//! Whether a bucket policy lets CloudTrail deliver (spec 4.5) trail log files or CloudTrail
//! Lake query results, decided statically.
//!
//! CloudTrail needs `s3:GetBucketAcl` on `arn:aws:s3:::{bucket}` and `s3:PutObject` on
//! `arn:aws:s3:::{bucket}/[{prefix}/]AWSLogs/{account}/*` for the principal
//! `{"Service": "cloudtrail.amazonaws.com"}`. An Allow statement covers an action and
//! resource when its patterns match them (`*` and `?` wildcards); an explicit Deny covering
//! either wins. AWS's own probe is not public; this evaluation is what its documentation
//! describes.

use serde_json::Value;

fn list(v: &Value) -> Vec<&str> {
    match v {
        Value::String(s) => vec![s.as_str()],
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// `*` matches any run of characters, `?` one character.
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi].eq_ignore_ascii_case(&t[ti]) && p[pi] != '*') {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

fn covers_principal(st: &Value) -> bool {
    match st.get("Principal") {
        Some(Value::String(s)) => s == "*",
        Some(Value::Object(m)) => {
            m.get("AWS").is_some_and(|a| list(a).contains(&"*"))
                || m.get("Service")
                    .is_some_and(|s| list(s).contains(&"cloudtrail.amazonaws.com"))
        }
        _ => false,
    }
}

fn covers(st: &Value, action: &str, resource: &str) -> bool {
    let actions = st.get("Action").map(list).unwrap_or_default();
    let resources = st.get("Resource").map(list).unwrap_or_default();
    covers_principal(st)
        && actions.iter().any(|a| glob(a, action))
        && resources.iter().any(|r| glob(r, resource))
}

/// Whether `policy` (JSON) lets CloudTrail check the bucket and write the trail's logs.
pub fn bucket_policy_allows_cloudtrail(
    policy: &str,
    bucket: &str,
    prefix: Option<&str>,
    log_accounts: &[String],
) -> bool {
    bucket_policy_allows_cloudtrail_in(policy, bucket, prefix, log_accounts, "CloudTrail/x.json.gz")
}

/// Whether `policy` lets CloudTrail check the bucket and write CloudTrail Lake query results
/// (`AWSLogs/{account}/CloudTrail-Lake/...`).
pub fn bucket_policy_allows_lake_results(
    policy: &str,
    bucket: &str,
    prefix: Option<&str>,
    account: &str,
) -> bool {
    bucket_policy_allows_cloudtrail_in(
        policy,
        bucket,
        prefix,
        &[account.to_owned()],
        "CloudTrail-Lake/Query/result_1.csv.gz",
    )
}

/// The check, for an object `{base}/{account}/{object}` of each account.
fn bucket_policy_allows_cloudtrail_in(
    policy: &str,
    bucket: &str,
    prefix: Option<&str>,
    log_accounts: &[String],
    object: &str,
) -> bool {
    let Ok(doc) = serde_json::from_str::<Value>(policy) else {
        return false;
    };
    let statements: Vec<&Value> = match doc.get("Statement") {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(v @ Value::Object(_)) => vec![v],
        _ => return false,
    };
    let effect = |st: &Value, e: &str| st.get("Effect").and_then(Value::as_str) == Some(e);
    let allowed = |action: &str, resource: &str| {
        statements
            .iter()
            .any(|st| effect(st, "Allow") && covers(st, action, resource))
            && !statements
                .iter()
                .any(|st| effect(st, "Deny") && covers(st, action, resource))
    };
    let bucket_arn = format!("arn:aws:s3:::{bucket}");
    let base = match prefix {
        Some(p) if !p.is_empty() => format!("{bucket_arn}/{p}/AWSLogs"),
        _ => format!("{bucket_arn}/AWSLogs"),
    };
    allowed("s3:GetBucketAcl", &bucket_arn)
        && log_accounts
            .iter()
            .all(|a| allowed("s3:PutObject", &format!("{base}/{a}/{object}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONSOLE_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[
        {"Sid":"AWSCloudTrailAclCheck20150319","Effect":"Allow","Principal":{"Service":"cloudtrail.amazonaws.com"},
         "Action":"s3:GetBucketAcl","Resource":"arn:aws:s3:::logs"},
        {"Sid":"AWSCloudTrailWrite20150319","Effect":"Allow","Principal":{"Service":"cloudtrail.amazonaws.com"},
         "Action":"s3:PutObject","Resource":"arn:aws:s3:::logs/team/AWSLogs/123456789012/*",
         "Condition":{"StringEquals":{"s3:x-amz-acl":"bucket-owner-full-control"}}}]}"#;

    #[test]
    fn the_console_policy_allows_exactly_its_prefix() {
        let acct = vec!["123456789012".to_owned()];
        assert!(bucket_policy_allows_cloudtrail(
            CONSOLE_POLICY,
            "logs",
            Some("team"),
            &acct
        ));
        assert!(!bucket_policy_allows_cloudtrail(
            CONSOLE_POLICY,
            "logs",
            None,
            &acct
        ));
        assert!(!bucket_policy_allows_cloudtrail(
            CONSOLE_POLICY,
            "logs",
            Some("other"),
            &acct
        ));
        assert!(!bucket_policy_allows_cloudtrail(
            CONSOLE_POLICY,
            "logs",
            Some("team"),
            &["999999999999".to_owned()]
        ));
        assert!(!bucket_policy_allows_cloudtrail(
            CONSOLE_POLICY,
            "other-bucket",
            Some("team"),
            &acct
        ));
    }

    #[test]
    fn wildcards_allow_and_explicit_deny_wins() {
        let acct = vec!["1".to_owned()];
        let broad = r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"]}}"#;
        assert!(bucket_policy_allows_cloudtrail(broad, "b", None, &acct));
        let denied = r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"]},
            {"Effect":"Deny","Principal":{"Service":"cloudtrail.amazonaws.com"},"Action":"s3:PutObject","Resource":"arn:aws:s3:::b/*"}]}"#;
        assert!(!bucket_policy_allows_cloudtrail(denied, "b", None, &acct));
        let wrong_principal = r#"{"Statement":{"Effect":"Allow","Principal":{"Service":"s3.amazonaws.com"},"Action":"*","Resource":"*"}}"#;
        assert!(!bucket_policy_allows_cloudtrail(
            wrong_principal,
            "b",
            None,
            &acct
        ));
        assert!(!bucket_policy_allows_cloudtrail(
            "not json", "b", None, &acct
        ));
        assert!(glob("arn:aws:s3:::b/?/x", "arn:aws:s3:::b/a/x"));
        assert!(!glob("arn:aws:s3:::b/?/x", "arn:aws:s3:::b/ab/x"));
    }

    #[test]
    fn lake_results_need_their_own_folder_allowed() {
        let only_logs = r#"{"Statement":[{"Effect":"Allow","Principal":{"Service":"cloudtrail.amazonaws.com"},"Action":"s3:GetBucketAcl","Resource":"arn:aws:s3:::b"},
            {"Effect":"Allow","Principal":{"Service":"cloudtrail.amazonaws.com"},"Action":"s3:PutObject","Resource":"arn:aws:s3:::b/AWSLogs/1/CloudTrail/*"}]}"#;
        assert!(bucket_policy_allows_cloudtrail(
            only_logs,
            "b",
            None,
            &["1".to_owned()]
        ));
        assert!(!bucket_policy_allows_lake_results(
            only_logs, "b", None, "1"
        ));
        let account_wide = only_logs.replace("AWSLogs/1/CloudTrail/*", "AWSLogs/1/*");
        assert!(bucket_policy_allows_lake_results(
            &account_wide,
            "b",
            None,
            "1"
        ));
        assert!(!bucket_policy_allows_lake_results(
            &account_wide,
            "b",
            Some("p"),
            "1"
        ));
    }
}
