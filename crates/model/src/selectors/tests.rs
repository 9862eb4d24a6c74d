//! Selector evaluation and validation, including the property that every basic selector and
//! its advanced equivalent decide every event the same way.

use super::*;
use proptest::prelude::*;
use serde_json::json;

fn facts(v: serde_json::Value) -> EventFacts<'static> {
    let text: &'static str = Box::leak(v.to_string().into_boxed_str());
    EventFacts::parse(text.as_bytes()).expect("facts")
}

fn basic(v: serde_json::Value) -> EventSelector {
    serde_json::from_value(v).expect("selector")
}

#[test]
fn default_trail_selectors_take_management_events_only() {
    let s = Selectors::default();
    assert!(s.is_default());
    assert!(s.matches(&facts(
        json!({"eventCategory":"Management","readOnly":true})
    )));
    assert!(
        s.matches(&facts(json!({"eventName":"Old","managementEvent":true}))),
        "records without a category"
    );
    assert!(!s.matches(&facts(json!({"eventCategory":"Data","resources":[{"type":"AWS::S3::Object","ARN":"arn:aws:s3:::b/k"}]}))));
    assert!(!s.matches(&facts(json!({"eventCategory":"Insight"}))));
    assert!(s.selects_management(false) && s.selects_management(true));
}

#[test]
fn basic_selectors_follow_read_write_type_exclusions_and_arn_prefixes() {
    let s = basic(
        json!({"ReadWriteType":"WriteOnly","IncludeManagementEvents":true,
        "ExcludeManagementEventSources":["kms.amazonaws.com"],
        "DataResources":[{"Type":"AWS::S3::Object","Values":["arn:aws:s3:::logs/"]}]}),
    );
    assert!(s.matches(&facts(
        json!({"eventCategory":"Management","readOnly":false,"eventSource":"iam.amazonaws.com"})
    )));
    assert!(!s.matches(&facts(
        json!({"eventCategory":"Management","readOnly":true,"eventSource":"iam.amazonaws.com"})
    )));
    assert!(!s.matches(&facts(
        json!({"eventCategory":"Management","readOnly":false,"eventSource":"kms.amazonaws.com"})
    )));
    let put = |arn: &str| {
        facts(json!({"eventCategory":"Data","readOnly":false,
        "resources":[{"type":"AWS::S3::Object","ARN":arn},{"type":"AWS::S3::Bucket","ARN":"arn:aws:s3:::x"}]}))
    };
    assert!(s.matches(&put("arn:aws:s3:::logs/2026/a.gz")));
    assert!(!s.matches(&put("arn:aws:s3:::logsbucket/a")));
    let all_s3 = basic(
        json!({"IncludeManagementEvents":false,"DataResources":[{"Type":"AWS::S3::Object","Values":["arn:aws:s3"]}]}),
    );
    assert!(all_s3.matches(&put("arn:aws:s3:::anything/at/all")));
    assert!(!all_s3.matches(&facts(
        json!({"eventCategory":"Management","readOnly":false})
    )));
}

#[test]
fn advanced_operators_combine_as_documented() {
    let sel: AdvancedEventSelector = serde_json::from_value(json!({"Name":"x","FieldSelectors":[
        {"Field":"eventCategory","Equals":["Data"]},
        {"Field":"resources.type","Equals":["AWS::S3::Object"]},
        {"Field":"resources.ARN","StartsWith":["arn:aws:s3:::a/","arn:aws:s3:::b/"],"NotEndsWith":[".tmp"]},
        {"Field":"eventName","NotEquals":["GetObject","HeadObject"]}]})).expect("parse");
    let ev = |arn: &str, name: &str| {
        facts(json!({"eventCategory":"Data","eventName":name,
        "resources":[{"type":"AWS::S3::Object","ARN":arn}]}))
    };
    assert!(sel.matches(&ev("arn:aws:s3:::b/x.gz", "PutObject")));
    assert!(
        !sel.matches(&ev("arn:aws:s3:::b/x.tmp", "PutObject")),
        "negative operator in the same field"
    );
    assert!(!sel.matches(&ev("arn:aws:s3:::c/x.gz", "PutObject")));
    assert!(!sel.matches(&ev("arn:aws:s3:::a/x.gz", "GetObject")));
    let errors: AdvancedFieldSelector =
        serde_json::from_value(json!({"Field":"errorCode","NotEquals":["AccessDenied"]}))
            .expect("parse");
    assert!(
        errors.matches(&facts(json!({}))),
        "a negative operator holds when the field is absent"
    );
    let eq: AdvancedFieldSelector =
        serde_json::from_value(json!({"Field":"errorCode","Equals":["AccessDenied"]}))
            .expect("parse");
    assert!(!eq.matches(&facts(json!({}))));
}

#[test]
fn validation_names_what_is_wrong() {
    let msg = |r: Result<(), SelectorError>| r.expect_err("invalid").0;
    assert!(msg(validate_basic(&[])).contains("1 to 5"));
    let too_many: Vec<_> = (0..6).map(|_| basic(json!({}))).collect();
    assert!(msg(validate_basic(&too_many)).contains("1 to 5"));
    assert!(
        msg(validate_basic(&[basic(
            json!({"ExcludeManagementEventSources":["s3.amazonaws.com"]})
        )]))
        .contains("kms.amazonaws.com")
    );
    assert!(
        msg(validate_basic(&[basic(
            json!({"DataResources":[{"Type":"AWS::SNS::Topic","Values":["arn:aws:sns"]}]})
        )]))
        .contains("not supported")
    );
    assert!(
        msg(validate_basic(&[basic(
            json!({"DataResources":[{"Type":"AWS::S3::Object","Values":["s3://b"]}]})
        )]))
        .contains("s3://b")
    );
    let many: Vec<String> = (0..251).map(|i| format!("arn:aws:s3:::b{i}/")).collect();
    assert!(
        msg(validate_basic(&[basic(
            json!({"DataResources":[{"Type":"AWS::S3::Object","Values":many}]})
        )]))
        .contains("250")
    );
    validate_basic(&[basic(
        json!({"DataResources":[{"Type":"AWS::Lambda::Function","Values":["arn:aws:lambda"]}]}),
    )])
    .expect("valid");

    let adv = |v: serde_json::Value| -> Vec<AdvancedEventSelector> {
        serde_json::from_value(v).expect("parse")
    };
    let t = SelectorOwner::Trail;
    assert!(
        msg(validate_advanced(
            &adv(json!([{"FieldSelectors":[{"Field":"eventName","Equals":["x"]}]}])),
            t
        ))
        .contains("eventCategory")
    );
    assert!(
        msg(validate_advanced(
            &adv(json!([{"FieldSelectors":[{"Field":"eventCategory","StartsWith":["Man"]}]}])),
            t
        ))
        .contains("only the Equals")
    );
    assert!(
        msg(validate_advanced(
            &adv(json!([{"FieldSelectors":[{"Field":"eventCategory","Equals":["Data"]}]}])),
            t
        ))
        .contains("resources.type")
    );
    assert!(
        msg(validate_advanced(
            &adv(json!([{"FieldSelectors":[{"Field":"eventCategory","Equals":["Insight"]}]}])),
            t
        ))
        .contains("not valid here")
    );
    assert!(msg(validate_advanced(&adv(json!([{"FieldSelectors":[{"Field":"eventCategory","Equals":["Management"]},{"Field":"eventName","Equals":["x"]}]}])), t)).contains("cannot select management"));
    assert!(msg(validate_advanced(&adv(json!([{"FieldSelectors":[{"Field":"eventCategory","Equals":["Management"]},{"Field":"color","Equals":["x"]}]}])), t)).contains("not a valid field"));
    assert!(msg(validate_advanced(&adv(json!([{"FieldSelectors":[{"Field":"eventCategory","Equals":["Management"]},{"Field":"readOnly","Equals":["yes"]}]}])), t)).contains("true"));
    assert!(msg(validate_advanced(&adv(json!([{"FieldSelectors":[{"Field":"eventCategory","Equals":["Management"]},{"Field":"readOnly","Equals":[]}]}])), t)).contains("at least one value"));
    let big: Vec<String> = (0..500).map(|i| format!("arn:aws:s3:::b{i}/")).collect();
    assert!(msg(validate_advanced(&adv(json!([{"FieldSelectors":[{"Field":"eventCategory","Equals":["Data"]},{"Field":"resources.type","Equals":["AWS::S3::Object"]},{"Field":"resources.ARN","StartsWith":big}]}])), t)).contains("500"));
    validate_advanced(&adv(json!([{"Name":"m","FieldSelectors":[{"Field":"eventCategory","Equals":["Management"]},{"Field":"eventSource","NotEquals":["kms.amazonaws.com"]}]}])), t).expect("valid");
    // Event data stores accept fields and categories trails do not.
    validate_advanced(&adv(json!([{"FieldSelectors":[{"Field":"eventCategory","Equals":["Management"]},{"Field":"eventName","StartsWith":["Create"]}]}])), SelectorOwner::EventDataStore).expect("valid for EDS");
    validate_advanced(
        &adv(json!([{"FieldSelectors":[{"Field":"eventCategory","Equals":["ActivityAuditLog"]}]}])),
        SelectorOwner::EventDataStore,
    )
    .expect("valid for EDS");
    let six: Vec<_> = (0..6)
        .map(|_| json!({"FieldSelectors":[{"Field":"eventCategory","Equals":["Management"]}]}))
        .collect();
    assert!(
        msg(validate_advanced(
            &adv(json!(six)),
            SelectorOwner::EventDataStore
        ))
        .contains("1 to 5")
    );
}

#[test]
fn selectors_round_trip_in_the_api_shape() {
    let v = json!([{"ReadWriteType":"ReadOnly","IncludeManagementEvents":false,
        "DataResources":[{"Type":"AWS::S3::Object","Values":["arn:aws:s3"]}],"ExcludeManagementEventSources":[]}]);
    let s: Vec<EventSelector> = serde_json::from_value(v.clone()).expect("parse");
    assert_eq!(serde_json::to_value(&s).expect("json"), v);
    let d: Vec<EventSelector> = serde_json::from_value(json!([{}])).expect("defaults");
    assert_eq!(Selectors::Basic(d), Selectors::default());
}

const SOURCES: [&str; 4] = [
    "s3.amazonaws.com",
    "kms.amazonaws.com",
    "iam.amazonaws.com",
    "rdsdata.amazonaws.com",
];
const TYPES: [&str; 4] = [
    "AWS::S3::Object",
    "AWS::Lambda::Function",
    "AWS::DynamoDB::Table",
    "AWS::S3::Bucket",
];
const ARNS: [&str; 6] = [
    "arn:aws:s3:::logs/a.gz",
    "arn:aws:s3:::logs2/b",
    "arn:aws:s3:::other/x",
    "arn:aws:lambda:us-east-1:1:function:fn",
    "arn:aws:dynamodb:us-east-1:1:table/Orders",
    "arn:aws:s3:::logs",
];
const PREFIXES: [&str; 7] = [
    "arn:aws:s3",
    "arn:aws:s3:::logs/",
    "arn:aws:s3:::logs",
    "arn:aws:s3:::other/",
    "arn:aws:lambda",
    "arn:aws:lambda:us-east-1:1:function:fn",
    "arn:aws:dynamodb",
];

fn event_strategy() -> impl Strategy<Value = serde_json::Value> {
    (
        prop_oneof![Just("Management"), Just("Data"), Just("NetworkActivity"), Just("Insight")],
        proptest::option::of(any::<bool>()),
        0..SOURCES.len(),
        proptest::collection::vec((0..TYPES.len(), 0..ARNS.len()), 0..3),
    )
        .prop_map(|(cat, ro, src, res)| {
            let mut v = json!({"eventCategory": cat, "eventSource": SOURCES[src],
                "resources": res.iter().map(|(t, a)| json!({"type": TYPES[*t], "ARN": ARNS[*a]})).collect::<Vec<_>>()});
            if let Some(r) = ro {
                v["readOnly"] = json!(r);
            }
            v
        })
}

fn selector_strategy() -> impl Strategy<Value = EventSelector> {
    (
        prop_oneof![
            Just(ReadWriteType::All),
            Just(ReadWriteType::ReadOnly),
            Just(ReadWriteType::WriteOnly)
        ],
        any::<bool>(),
        proptest::collection::vec(0..2usize, 0..3),
        proptest::collection::vec(
            (
                0..3usize,
                proptest::collection::vec(0..PREFIXES.len(), 1..3),
            ),
            0..3,
        ),
    )
        .prop_map(|(rw, mgmt, excl, data)| EventSelector {
            read_write_type: rw,
            include_management_events: mgmt,
            exclude_management_event_sources: excl
                .into_iter()
                .map(|i| EXCLUDABLE[i].to_owned())
                .collect(),
            data_resources: data
                .into_iter()
                .map(|(t, vs)| DataResource {
                    r#type: Some(TYPES[t].to_owned()),
                    values: vs.into_iter().map(|i| PREFIXES[i].to_owned()).collect(),
                })
                .collect(),
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, .. ProptestConfig::default() })]

    #[test]
    fn a_basic_selector_and_its_advanced_equivalent_agree(sel in selector_strategy(), events in proptest::collection::vec(event_strategy(), 1..8)) {
        let adv = Selectors::Advanced(sel.to_advanced());
        let basic = Selectors::Basic(vec![sel.clone()]);
        for e in events {
            let f = facts(e.clone());
            prop_assert_eq!(basic.matches(&f), adv.matches(&f), "event {} selector {:?}", e, sel);
        }
    }
}

#[test]
fn integration_records_are_selected_only_by_activity_audit_log_selectors() {
    let record = json!({"eventVersion":"1.0","eventCategory":"ActivityAuditLog","eventType":"ActivityLog",
        "eventID":"e","eventTime":"2026-11-25T10:00:00Z","awsRegion":"us-east-1","recipientAccountId":"1",
        "metadata":{"channelARN":"arn:aws:cloudtrail:us-east-1:1:channel/c"},
        "eventData":{"eventSource":"s3.amazonaws.com","eventName":"GetObject","UID":"u"}})
    .to_string();
    let facts = EventFacts::parse(record.as_bytes()).expect("facts");
    assert_eq!(facts.category(), "ActivityAuditLog");
    let adv = |v: serde_json::Value| -> Selectors {
        Selectors::Advanced(serde_json::from_value(v).expect("parse"))
    };
    let basic_data: Vec<EventSelector> = serde_json::from_value(json!([{"ReadWriteType":"All",
        "IncludeManagementEvents":true,"DataResources":[{"Type":"AWS::S3::Object","Values":["arn:aws:s3"]}]}]))
    .expect("basic");
    for s in [
        Selectors::default(),
        Selectors::Basic(basic_data),
        adv(json!([{"FieldSelectors":[{"Field":"eventCategory","Equals":["Management"]}]}])),
        adv(
            json!([{"FieldSelectors":[{"Field":"eventCategory","Equals":["Data"]},{"Field":"resources.type","Equals":["AWS::S3::Object"]}]}]),
        ),
        adv(
            json!([{"FieldSelectors":[{"Field":"eventCategory","Equals":["Management"]},{"Field":"eventSource","NotEquals":["kms.amazonaws.com"]}]}]),
        ),
    ] {
        assert!(!s.matches(&facts), "{s:?}");
    }
    assert!(
        adv(json!([{"FieldSelectors":[{"Field":"eventCategory","Equals":["ActivityAuditLog"]}]}]))
            .matches(&facts)
    );
}
