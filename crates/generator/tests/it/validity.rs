//! Every generated record is a valid CloudTrail record of the right shape: it passes ingest
//! validation, round-trips through the model unchanged, and carries the members and
//! identity shapes AWS writes.

use std::collections::{BTreeMap, BTreeSet};

use opentrail_model::{Record, UserIdentity, time::parse_event_time, validate_incoming};
use serde_json::Value;

use crate::{large_sample, value};

const ACCOUNT: &str = "123456789012";

fn is_guid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            14 => c == '4',
            _ => c.is_ascii_digit() || ('a'..='f').contains(&c),
        })
}

fn is_key(s: &str, prefix: &str) -> bool {
    s.len() == 20
        && s.starts_with(prefix)
        && s.chars()
            .all(|c| c.is_ascii_uppercase() || ('2'..='7').contains(&c))
}

fn str_of(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or_default()
}

fn check_identity(id: &UserIdentity, r: &Record) {
    let console_login = str_of(&r.event_name) == "ConsoleLogin";
    match str_of(&id.identity_type) {
        "IAMUser" => {
            assert_eq!(str_of(&id.account_id), ACCOUNT);
            let name = str_of(&id.user_name);
            if name == "HIDDEN_DUE_TO_SECURITY_REASONS" {
                assert_eq!(str_of(&r.error_message), "Failed authentication");
                assert!(id.arn.is_none() && id.principal_id.is_none());
                return;
            }
            let principal = str_of(&id.principal_id);
            assert!(
                principal.starts_with("AIDA") && principal.len() == 21,
                "{principal}"
            );
            assert_eq!(
                str_of(&id.arn),
                format!("arn:aws:iam::{ACCOUNT}:user/{name}")
            );
            if !console_login {
                let key = str_of(&id.access_key_id);
                if id.session_context.is_some() {
                    assert!(is_key(key, "ASIA"), "console user session key {key}");
                    assert_eq!(str_of(&r.session_credential_from_console), "true");
                } else {
                    assert!(is_key(key, "AKIA"), "user key {key}");
                }
            }
        }
        "AssumedRole" => {
            let ctx = id.session_context.as_ref().expect("sessionContext");
            let issuer = ctx.session_issuer.as_ref().expect("sessionIssuer");
            assert_eq!(str_of(&issuer.issuer_type), "Role");
            assert_eq!(str_of(&issuer.account_id), ACCOUNT);
            let role = str_of(&issuer.user_name);
            let role_id = str_of(&issuer.principal_id);
            assert!(role_id.starts_with("AROA") && role_id.len() == 21);
            assert_eq!(
                str_of(&issuer.arn),
                format!("arn:aws:iam::{ACCOUNT}:role/{role}")
            );
            let principal = str_of(&id.principal_id);
            let session = principal
                .strip_prefix(role_id)
                .and_then(|p| p.strip_prefix(':'));
            let session = session.expect("principalId is AROA…:session");
            assert_eq!(
                str_of(&id.arn),
                format!("arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{session}")
            );
            let attrs = ctx.attributes.as_ref().expect("attributes");
            let created = str_of(&attrs.creation_date);
            assert!(parse_event_time(created).is_ok(), "{created}");
            assert!(created <= str_of(&r.event_time));
            assert!(matches!(str_of(&attrs.mfa_authenticated), "true" | "false"));
            if !console_login {
                assert!(is_key(str_of(&id.access_key_id), "ASIA"));
            }
        }
        "Root" => {
            assert_eq!(str_of(&id.principal_id), ACCOUNT);
            assert_eq!(str_of(&id.arn), format!("arn:aws:iam::{ACCOUNT}:root"));
        }
        "AWSService" => {
            let only_two = UserIdentity {
                identity_type: id.identity_type.clone(),
                invoked_by: id.invoked_by.clone(),
                ..Default::default()
            };
            assert_eq!(
                id, &only_two,
                "AWSService identities hold type and invokedBy only"
            );
            let by = str_of(&id.invoked_by);
            assert!(by.ends_with(".amazonaws.com"));
            assert_eq!(str_of(&r.source_ip_address), by);
            assert!(r.tls_details.is_none());
        }
        "SAMLUser" => {
            assert!(id.identity_provider.is_some());
            assert_eq!(str_of(&r.event_name), "AssumeRoleWithSAML");
        }
        "AWSAccount" => {
            assert_eq!(str_of(&id.account_id), "111122223333");
            assert!(is_guid(str_of(&r.shared_event_id)));
        }
        other => panic!("unexpected identity type {other}"),
    }
}

fn check_record(r: &Record) {
    assert_eq!(str_of(&r.event_version), "1.11");
    assert!(is_guid(str_of(&r.event_id)), "eventID {:?}", r.event_id);
    assert_eq!(str_of(&r.recipient_account_id), ACCOUNT);
    let source = str_of(&r.event_source);
    let sign_in = source == "signin.amazonaws.com";
    let request_id = str_of(&r.request_id);
    match source {
        "s3.amazonaws.com" => assert_eq!(request_id.len(), 16),
        "dynamodb.amazonaws.com" => assert_eq!(request_id.len(), 52),
        _ if sign_in => assert!(r.request_id.is_none()),
        _ => assert!(is_guid(request_id)),
    }
    let region = str_of(&r.aws_region);
    if matches!(source, "iam.amazonaws.com" | "signin.amazonaws.com") {
        assert_eq!(region, "us-east-1");
    } else {
        assert!(
            ["us-east-1", "us-west-2", "eu-west-1"].contains(&region),
            "{region}"
        );
    }
    let data = str_of(&r.event_category) == "Data";
    assert!(data || str_of(&r.event_category) == "Management");
    assert_eq!(r.management_event, Some(!data));
    assert!(r.read_only.is_some());
    assert_eq!(
        str_of(&r.event_type),
        if sign_in {
            "AwsConsoleSignIn"
        } else {
            "AwsApiCall"
        }
    );
    let agent = str_of(&r.user_agent);
    assert!(!agent.is_empty() && agent.len() <= 1024);
    let ip = str_of(&r.source_ip_address);
    assert!(
        ["203.0.113.", "198.51.100.", "192.0.2."]
            .iter()
            .any(|p| ip.starts_with(p))
            || ip.ends_with(".amazonaws.com")
            || ip == "AWS Internal",
        "{ip}"
    );
    let response = r
        .response_elements
        .as_ref()
        .expect("responseElements is always written");
    if r.error_code.is_some() {
        assert!(!str_of(&r.error_code).is_empty() && !str_of(&r.error_message).is_empty());
        assert!(response.is_null(), "failed calls have no response");
    }
    // STS returns credentials from calls AWS counts as read-only; nothing else does.
    if r.read_only == Some(true) && source != "sts.amazonaws.com" {
        assert!(
            response.is_null(),
            "read-only calls have no response: {r:?}"
        );
    }
    if let Some(tls) = &r.tls_details {
        let host = str_of(&tls.client_provided_host_header);
        assert!(
            host.ends_with(".amazonaws.com") || host == "signin.aws.amazon.com",
            "{host}"
        );
        assert!(str_of(&tls.tls_version).starts_with("TLSv1."));
    }
    if data {
        let resources = r
            .resources
            .as_ref()
            .expect("data events name their resources");
        let types: Vec<&str> = resources.iter().map(|x| str_of(&x.resource_type)).collect();
        match source {
            "s3.amazonaws.com" => {
                assert_eq!(types, ["AWS::S3::Object", "AWS::S3::Bucket"]);
                let extra = r
                    .additional_event_data
                    .as_ref()
                    .expect("additionalEventData");
                assert!(
                    extra["bytesTransferredIn"].is_u64() && extra["bytesTransferredOut"].is_u64()
                );
                assert!(extra["x-amz-id-2"].is_string());
            }
            "lambda.amazonaws.com" => assert_eq!(types, ["AWS::Lambda::Function"]),
            "dynamodb.amazonaws.com" => assert_eq!(types, ["AWS::DynamoDB::Table"]),
            other => panic!("unexpected data event source {other}"),
        }
    }
    check_identity(r.user_identity.as_ref().expect("userIdentity"), r);
}

/// What one thread saw.
#[derive(Default)]
struct Seen {
    names: BTreeSet<(String, String)>,
    hidden: usize,
    keys_by_session: BTreeMap<(String, String), BTreeSet<String>>,
}

fn check_all(records: &[Record]) -> Seen {
    let mut seen = Seen::default();
    for (i, r) in records.iter().enumerate() {
        let bytes = r.to_json_vec();
        let text = std::str::from_utf8(&bytes).expect("utf8");
        let valid = validate_incoming(text).unwrap_or_else(|e| panic!("{}: {text}", e.message));
        assert!(
            valid.assigned_event_id.is_none(),
            "generated records carry an eventID"
        );
        // Parsing is the slowest step in debug builds, so a sample (every shape is frequent
        // enough to be in it many times) round-trips: same record, hence the same JSON.
        if i % 8 == 0 {
            let back: Record = serde_json::from_slice(&bytes).expect("record");
            assert_eq!(&back, r);
        }
        check_record(r);
        seen.names.insert((
            str_of(&r.event_source).to_owned(),
            str_of(&r.event_name).to_owned(),
        ));
        let Some(id) = &r.user_identity else { continue };
        if str_of(&id.user_name) == "HIDDEN_DUE_TO_SECURITY_REASONS" {
            seen.hidden += 1;
        }
        let created = id
            .session_context
            .as_ref()
            .and_then(|c| c.attributes.as_ref())
            .and_then(|a| a.creation_date.clone());
        if let (Some(p), Some(c), Some(k)) = (&id.principal_id, created, &id.access_key_id)
            && !k.is_empty()
        {
            seen.keys_by_session
                .entry((p.clone(), c))
                .or_default()
                .insert(k.clone());
        }
    }
    seen
}

#[test]
fn every_record_is_valid_and_shaped_like_aws() {
    let [a, b] = large_sample();
    assert!(a.len() + b.len() > 95_000, "{}", a.len() + b.len());
    let (sa, sb) = std::thread::scope(|s| {
        let other = s.spawn(|| check_all(b));
        (check_all(a), other.join().expect("checker thread"))
    });
    assert!(
        sa.hidden + sb.hidden > 0,
        "some failed sign-ins hide the user name"
    );
    for seen in [&sa, &sb] {
        // One key per session; sessions rotate, so principals have several.
        assert!(seen.keys_by_session.values().all(|keys| keys.len() == 1));
        let principals: BTreeSet<&String> = seen.keys_by_session.keys().map(|(p, _)| p).collect();
        assert!(seen.keys_by_session.len() > 3 * principals.len());
    }
    let names: BTreeSet<_> = sa.names.union(&sb.names).cloned().collect();
    let listed = [
        (
            "s3",
            &[
                "ListBuckets",
                "CreateBucket",
                "DeleteBucket",
                "GetBucketPolicy",
                "PutBucketPolicy",
                "GetBucketAcl",
                "GetBucketLocation",
                "GetObject",
                "PutObject",
                "DeleteObject",
                "HeadObject",
            ][..],
        ),
        (
            "ec2",
            &[
                "DescribeInstances",
                "RunInstances",
                "StartInstances",
                "StopInstances",
                "TerminateInstances",
                "DescribeSecurityGroups",
                "AuthorizeSecurityGroupIngress",
                "CreateTags",
                "DescribeVolumes",
            ],
        ),
        (
            "iam",
            &[
                "CreateUser",
                "DeleteUser",
                "AttachUserPolicy",
                "CreateAccessKey",
                "ListUsers",
                "GetUser",
                "CreateRole",
                "PutRolePolicy",
                "ListRoles",
            ],
        ),
        (
            "sts",
            &["AssumeRole", "GetCallerIdentity", "GetSessionToken"],
        ),
        (
            "kms",
            &[
                "Decrypt",
                "Encrypt",
                "GenerateDataKey",
                "CreateKey",
                "ScheduleKeyDeletion",
                "DescribeKey",
            ],
        ),
        (
            "lambda",
            &[
                "Invoke",
                "ListFunctions20150331",
                "GetFunction20150331v2",
                "CreateFunction20150331",
                "UpdateFunctionCode20150331v2",
            ],
        ),
        (
            "dynamodb",
            &[
                "GetItem",
                "PutItem",
                "Query",
                "DescribeTable",
                "CreateTable",
                "ListTables",
            ],
        ),
        ("signin", &["ConsoleLogin"]),
    ];
    for (service, events) in listed {
        for event in events {
            let key = (format!("{service}.amazonaws.com"), (*event).to_owned());
            assert!(names.contains(&key), "{key:?} never generated");
        }
    }
}

#[test]
fn errors_use_aws_codes_and_messages() {
    let records: Vec<Value> = large_sample()
        .iter()
        .flatten()
        .filter(|r| r.error_code.is_some())
        .map(value)
        .collect();
    let denied: Vec<&Value> = records
        .iter()
        .filter(|v| v["errorCode"] == "AccessDenied")
        .collect();
    assert!(!denied.is_empty());
    for v in denied {
        let msg = v["errorMessage"].as_str().expect("message");
        let caller = v["userIdentity"]["arn"].as_str().expect("caller arn");
        assert!(
            msg.starts_with(&format!("User: {caller} is not authorized to perform: ")),
            "{msg}"
        );
        assert!(
            msg.contains(" on resource: ")
                && msg.contains(" because no identity-based policy allows the "),
            "{msg}"
        );
    }
    let codes: BTreeSet<&str> = records
        .iter()
        .filter_map(|v| v["errorCode"].as_str())
        .collect();
    for code in [
        "NoSuchKey",
        "Client.RequestLimitExceeded",
        "Client.InvalidInstanceID.NotFound",
        "ResourceNotFoundException",
        "NoSuchBucketPolicy",
        "EntityAlreadyExists",
        "ThrottlingException",
    ] {
        assert!(codes.contains(code), "{code} missing from {codes:?}");
    }
    let not_found = records
        .iter()
        .find(|v| v["errorCode"] == "Client.InvalidInstanceID.NotFound")
        .expect("not found");
    let msg = not_found["errorMessage"].as_str().expect("message");
    assert!(
        msg.starts_with("The instance ID 'i-") && msg.ends_with("' does not exist"),
        "{msg}"
    );
}

#[test]
fn console_sign_ins_look_like_aws() {
    let logins: Vec<Value> = large_sample()
        .iter()
        .flatten()
        .filter(|r| r.event_name.as_deref() == Some("ConsoleLogin"))
        .map(value)
        .collect();
    assert!(logins.len() > 50, "{}", logins.len());
    let mut failures = 0;
    for v in &logins {
        assert_eq!(v["eventType"], "AwsConsoleSignIn");
        assert!(v.get("sessionCredentialFromConsole").is_none());
        assert!(v["requestParameters"].is_null());
        let extra = &v["additionalEventData"];
        assert_eq!(extra["MobileVersion"], "No");
        assert!(
            extra["LoginTo"]
                .as_str()
                .is_some_and(|l| l.starts_with("https://console.aws.amazon.com/"))
        );
        assert!(matches!(extra["MFAUsed"].as_str(), Some("Yes" | "No")));
        match v["responseElements"]["ConsoleLogin"].as_str() {
            Some("Success") => assert!(v.get("errorMessage").is_none()),
            Some("Failure") => {
                failures += 1;
                assert_eq!(v["errorMessage"], "Failed authentication");
                assert!(v.get("errorCode").is_none());
                assert_eq!(extra["MFAUsed"], "No");
            }
            other => panic!("unexpected ConsoleLogin result {other:?}"),
        }
    }
    assert!(
        failures > 0 && failures * 5 < logins.len(),
        "{failures} of {}",
        logins.len()
    );
    assert!(
        logins.iter().any(|v| v["userIdentity"]["type"] == "Root"),
        "root signs in now and then"
    );
}
