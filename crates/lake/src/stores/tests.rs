//! Unit tests of the event data store service: validation, limits, the status machine,
//! the restore window, pagination and tags, over a real catalog and KMS registry.

use std::sync::Mutex;

use super::*;

const ACCT: &str = "123456789012";
const REGION: &str = "us-east-1";

struct Fixture {
    _dir: tempfile::TempDir,
    svc: EventDataStores,
    kms: Arc<opentrail_kms::Registry>,
    now: Arc<Mutex<DateTime<Utc>>>,
}

impl Fixture {
    fn advance(&self, d: Duration) {
        let mut t = self.now.lock().expect("clock lock");
        *t += d;
    }
}

fn fixture_with(org: Option<Organization>) -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let catalog = Arc::new(Catalog::open(&dir.path().join("catalog.db")).expect("catalog"));
    let kms =
        Arc::new(opentrail_kms::Registry::open(dir.path().join("kms"), None, ACCT).expect("kms"));
    let now = Arc::new(Mutex::new(
        DateTime::parse_from_rfc3339("2026-01-10T12:00:00Z")
            .expect("time")
            .with_timezone(&Utc),
    ));
    let clock = now.clone();
    let svc = EventDataStores::new(catalog, kms.clone(), org)
        .with_clock(move || *clock.lock().expect("clock lock"));
    Fixture {
        _dir: dir,
        svc,
        kms,
        now,
    }
}

fn fixture() -> Fixture {
    fixture_with(None)
}

fn named(name: &str) -> CreateEventDataStore {
    CreateEventDataStore {
        name: name.into(),
        ..Default::default()
    }
}

fn sel(v: Value) -> Vec<AdvancedEventSelector> {
    serde_json::from_value(v).expect("selectors")
}

fn code<T: std::fmt::Debug>(r: Result<T, LakeError>) -> &'static str {
    r.expect_err("should be refused").code()
}

fn update(store: &str) -> UpdateEventDataStore {
    UpdateEventDataStore {
        event_data_store: store.into(),
        ..Default::default()
    }
}

#[test]
fn a_new_store_has_aws_defaults() {
    let f = fixture();
    let (s, tags) = f.svc.create(ACCT, REGION, named("audit")).expect("create");
    assert!(tags.is_empty());
    assert_eq!(s.status, EventDataStoreStatus::Enabled);
    assert!(s.multi_region_enabled && !s.organization_enabled);
    assert!(s.termination_protection_enabled);
    assert_eq!(s.billing_mode, BillingMode::ExtendableRetentionPricing);
    assert_eq!(s.retention_period, 366);
    assert_eq!(s.kms_key_id, None);
    assert_eq!(s.advanced_event_selectors, default_selectors());
    assert_eq!(
        serde_json::to_value(&s.advanced_event_selectors).expect("json"),
        json!([{"Name":"Default management events","FieldSelectors":[{"Field":"eventCategory","Equals":["Management"]}]}])
    );
    assert_eq!(
        s.arn,
        format!("arn:aws:cloudtrail:{REGION}:{ACCT}:eventdatastore/{}", s.id)
    );
    assert!(uuid::Uuid::try_parse(&s.id).is_ok());
    assert_eq!(s.created, s.updated);
    assert!(s.is_ingesting() && s.collects_region("eu-west-1"));

    let api = s.to_api(ResponseShape::Create, &[]);
    assert_eq!(api["Status"], "ENABLED");
    assert_eq!(api["BillingMode"], "EXTENDABLE_RETENTION_PRICING");
    assert_eq!(api["CreatedTimestamp"], json!(s.created.timestamp() as f64));
    assert!(api.get("TagsList").is_none() && api.get("KmsKeyId").is_none());
    assert!(api.get("FederationStatus").is_none());
    assert_eq!(
        s.to_api(ResponseShape::Get, &[])["FederationStatus"],
        "DISABLED"
    );

    let mut req = named("stopped");
    req.start_ingestion = Some(false);
    req.billing_mode = Some("FIXED_RETENTION_PRICING".into());
    req.multi_region_enabled = Some(false);
    let (s, _) = f.svc.create(ACCT, REGION, req).expect("create");
    assert_eq!(s.status, EventDataStoreStatus::StoppedIngestion);
    assert_eq!(s.retention_period, 2557);
    assert!(!s.collects_region("eu-west-1") && s.collects_region(REGION));
}

#[test]
fn parameters_are_validated_and_refusals_leave_nothing() {
    let f = fixture();
    let cases: Vec<(CreateEventDataStore, &str)> = vec![
        (named("ab"), "InvalidParameterException"),
        (named(&"n".repeat(129)), "InvalidParameterException"),
        (named("bad name"), "InvalidParameterException"),
        (named("slash/name"), "InvalidParameterException"),
        (
            CreateEventDataStore {
                retention_period: Some(6),
                ..named("eds")
            },
            "InvalidParameterException",
        ),
        (
            CreateEventDataStore {
                retention_period: Some(3654),
                ..named("eds")
            },
            "InvalidParameterException",
        ),
        (
            CreateEventDataStore {
                retention_period: Some(2558),
                billing_mode: Some("FIXED_RETENTION_PRICING".into()),
                ..named("eds")
            },
            "InvalidParameterException",
        ),
        (
            CreateEventDataStore {
                billing_mode: Some("CHEAP".into()),
                ..named("eds")
            },
            "InvalidParameterException",
        ),
        (
            CreateEventDataStore {
                advanced_event_selectors: Some(sel(
                    json!([{"FieldSelectors":[{"Field":"eventName","Equals":["x"]}]}]),
                )),
                ..named("eds")
            },
            "InvalidEventSelectorsException",
        ),
        (
            CreateEventDataStore {
                advanced_event_selectors: Some(Vec::new()),
                ..named("eds")
            },
            "InvalidEventSelectorsException",
        ),
        (
            CreateEventDataStore {
                advanced_event_selectors: Some(sel(json!([
                    {"FieldSelectors":[{"Field":"eventCategory","Equals":["Management"]}]},
                    {"FieldSelectors":[{"Field":"eventCategory","Equals":["Insight"]}]}
                ]))),
                ..named("eds")
            },
            "InvalidEventSelectorsException",
        ),
        (
            CreateEventDataStore {
                advanced_event_selectors: Some(sel(
                    json!([{"FieldSelectors":[{"Field":"eventCategory","Equals":["Insight"]}]}]),
                )),
                start_ingestion: Some(false),
                ..named("eds")
            },
            "InvalidParameterException",
        ),
        (
            CreateEventDataStore {
                tags_list: vec![Tag {
                    key: "aws:x".into(),
                    value: None,
                }],
                ..named("eds")
            },
            "InvalidTagParameterException",
        ),
        (
            CreateEventDataStore {
                tags_list: (0..51)
                    .map(|i| Tag {
                        key: format!("k{i}"),
                        value: None,
                    })
                    .collect(),
                ..named("eds")
            },
            "InvalidTagParameterException",
        ),
        (
            CreateEventDataStore {
                kms_key_id: Some("not-a-key".into()),
                ..named("eds")
            },
            "InvalidKmsKeyIdException",
        ),
        (
            CreateEventDataStore {
                kms_key_id: Some("alias/missing".into()),
                ..named("eds")
            },
            "KmsKeyNotFoundException",
        ),
        (
            CreateEventDataStore {
                organization_enabled: Some(true),
                ..named("eds")
            },
            "OrganizationsNotInUseException",
        ),
    ];
    for (req, expected) in cases {
        let what = format!("{req:?}");
        assert_eq!(code(f.svc.create(ACCT, REGION, req)), expected, "{what}");
    }
    assert!(
        f.svc.list_all().expect("list").is_empty(),
        "nothing left behind"
    );
    // The bounds themselves are accepted.
    for (name, days, mode) in [
        ("a-1", 7, None),
        ("a.2", 3653, None),
        ("a_3", 2557, Some("FIXED_RETENTION_PRICING")),
    ] {
        let req = CreateEventDataStore {
            retention_period: Some(days),
            billing_mode: mode.map(Into::into),
            ..named(name)
        };
        assert_eq!(
            f.svc
                .create(ACCT, REGION, req)
                .expect("create")
                .0
                .retention_period,
            days as u32
        );
    }
    f.svc
        .create(ACCT, REGION, named(&"n".repeat(128)))
        .expect("128 characters");
}

#[test]
fn kms_keys_are_checked_in_the_registry_and_stored_as_arns() {
    let f = fixture();
    let key = f.kms.create_key(REGION, "lake").expect("key");
    f.kms
        .create_alias(REGION, "alias/lake", &key.key_id)
        .expect("alias");
    let (s, _) = f
        .svc
        .create(
            ACCT,
            REGION,
            CreateEventDataStore {
                kms_key_id: Some("alias/lake".into()),
                ..named("enc")
            },
        )
        .expect("create");
    assert_eq!(s.kms_key_id.as_deref(), Some(key.arn.as_str()));
    assert_eq!(
        s.to_api(ResponseShape::Get, &[])["KmsKeyId"],
        json!(key.arn)
    );

    // Set once, never changed.
    let other = f.kms.create_key(REGION, "other").expect("key");
    let change = UpdateEventDataStore {
        kms_key_id: Some(other.key_id.clone()),
        ..update(&s.id)
    };
    assert_eq!(
        code(f.svc.update(ACCT, REGION, change)),
        "InvalidParameterException"
    );
    let same = UpdateEventDataStore {
        kms_key_id: Some(key.key_id.clone()),
        ..update(&s.id)
    };
    f.svc
        .update(ACCT, REGION, same)
        .expect("the same key again is no change");
    // A store without a key may get one.
    let (plain, _) = f.svc.create(ACCT, REGION, named("plain")).expect("create");
    let add = UpdateEventDataStore {
        kms_key_id: Some(other.arn.clone()),
        ..update(&plain.arn)
    };
    assert_eq!(
        f.svc.update(ACCT, REGION, add).expect("update").kms_key_id,
        Some(other.arn.clone())
    );

    f.kms
        .set_enabled(REGION, &other.key_id, false)
        .expect("disable");
    let disabled = CreateEventDataStore {
        kms_key_id: Some(other.key_id.clone()),
        ..named("disabled")
    };
    assert_eq!(code(f.svc.create(ACCT, REGION, disabled)), "KmsException");
}

#[test]
fn organization_stores_need_the_management_account() {
    let f = fixture_with(Some(Organization {
        id: "o-a1b2c3d4e5".into(),
        management_account: "444455556666".into(),
    }));
    let req = CreateEventDataStore {
        organization_enabled: Some(true),
        ..named("org")
    };
    assert_eq!(
        code(f.svc.create(ACCT, REGION, req.clone())),
        "NotOrganizationMasterAccountException"
    );
    let (s, _) = f
        .svc
        .create("444455556666", REGION, req)
        .expect("management account");
    assert!(s.organization_enabled);
    let (mine, _) = f.svc.create(ACCT, REGION, named("mine")).expect("create");
    let up = UpdateEventDataStore {
        organization_enabled: Some(true),
        ..update(&mine.arn)
    };
    assert_eq!(
        code(f.svc.update(ACCT, REGION, up)),
        "NotOrganizationMasterAccountException"
    );
    assert!(
        !f.svc
            .get(ACCT, REGION, &mine.arn)
            .expect("get")
            .organization_enabled
    );
}

#[test]
fn names_are_unique_and_ten_stores_is_the_limit_in_any_status() {
    let f = fixture();
    let mut arns = Vec::new();
    for i in 0..10 {
        let req = CreateEventDataStore {
            termination_protection_enabled: Some(false),
            ..named(&format!("eds-{i}"))
        };
        arns.push(f.svc.create(ACCT, REGION, req).expect("create").0.arn);
    }
    assert_eq!(
        code(f.svc.create(ACCT, REGION, named("eds-0"))),
        "EventDataStoreAlreadyExistsException"
    );
    f.svc.delete(ACCT, REGION, &arns[0]).expect("delete");
    assert_eq!(
        code(f.svc.create(ACCT, REGION, named("eds-10"))),
        "EventDataStoreMaxLimitExceededException"
    );
    assert_eq!(
        code(f.svc.create(ACCT, REGION, named("eds-0"))),
        "EventDataStoreAlreadyExistsException",
        "a store pending deletion keeps its name"
    );
    // Limits and names are per account and region.
    f.svc
        .create(ACCT, "eu-west-1", named("eds-0"))
        .expect("other region");
    f.svc
        .create("210987654321", REGION, named("eds-0"))
        .expect("other account");
    assert_eq!(f.svc.list_all().expect("all").len(), 12);
    // Renaming onto a taken name is refused too.
    let rename = UpdateEventDataStore {
        name: Some("eds-2".into()),
        ..update(&arns[1])
    };
    assert_eq!(
        code(f.svc.update(ACCT, REGION, rename)),
        "EventDataStoreAlreadyExistsException"
    );
}

#[test]
fn stores_are_found_by_arn_or_id_in_their_own_account_and_region() {
    let f = fixture();
    let (s, _) = f.svc.create(ACCT, REGION, named("audit")).expect("create");
    assert_eq!(f.svc.resolve(ACCT, REGION, &s.arn).expect("by arn"), s);
    assert_eq!(f.svc.resolve(ACCT, REGION, &s.id).expect("by id"), s);
    for given in [
        event_data_store_arn(REGION, ACCT, "00000000-0000-0000-0000-000000000000"),
        "00000000-0000-0000-0000-000000000000".to_owned(),
        "audit".to_owned(),
        event_data_store_arn("eu-west-1", ACCT, &s.id),
        event_data_store_arn(REGION, "210987654321", &s.id),
    ] {
        assert_eq!(
            code(f.svc.resolve(ACCT, REGION, &given)),
            "EventDataStoreNotFoundException",
            "{given}"
        );
    }
    assert_eq!(
        code(f.svc.resolve(ACCT, "eu-west-1", &s.id)),
        "EventDataStoreNotFoundException"
    );
    assert_eq!(
        code(f.svc.resolve("210987654321", REGION, &s.arn)),
        "EventDataStoreNotFoundException"
    );
    for given in [
        format!("arn:aws:cloudtrail:{REGION}:{ACCT}:trail/audit"),
        format!("arn:aws:cloudtrail:{REGION}:{ACCT}:eventdatastore/"),
        "arn:aws:s3:::bucket".to_owned(),
        "not an id".to_owned(),
    ] {
        assert_eq!(
            code(f.svc.resolve(ACCT, REGION, &given)),
            "EventDataStoreARNInvalidException",
            "{given}"
        );
    }
    assert!(is_event_data_store_arn(&s.arn));
    assert!(!is_event_data_store_arn(&format!(
        "arn:aws:cloudtrail:{REGION}:{ACCT}:trail/x"
    )));
}

#[test]
fn ingestion_deletion_and_restore_follow_the_status_machine() {
    let f = fixture();
    let (s, _) = f.svc.create(ACCT, REGION, named("audit")).expect("create");
    assert_eq!(
        code(f.svc.start_ingestion(ACCT, REGION, &s.id)),
        "InvalidEventDataStoreStatusException"
    );
    f.advance(Duration::seconds(5));
    let stopped = f.svc.stop_ingestion(ACCT, REGION, &s.id).expect("stop");
    assert_eq!(stopped.status, EventDataStoreStatus::StoppedIngestion);
    assert!(stopped.updated > s.updated && stopped.created == s.created);
    assert_eq!(
        code(f.svc.stop_ingestion(ACCT, REGION, &s.id)),
        "InvalidEventDataStoreStatusException"
    );
    assert_eq!(
        f.svc
            .start_ingestion(ACCT, REGION, &s.arn)
            .expect("start")
            .status,
        EventDataStoreStatus::Enabled
    );

    // Termination protection.
    assert_eq!(
        code(f.svc.delete(ACCT, REGION, &s.arn)),
        "EventDataStoreTerminationProtectedException"
    );
    assert_eq!(
        f.svc.get(ACCT, REGION, &s.arn).expect("get").status,
        EventDataStoreStatus::Enabled
    );
    let off = UpdateEventDataStore {
        termination_protection_enabled: Some(false),
        ..update(&s.arn)
    };
    f.svc.update(ACCT, REGION, off).expect("protection off");
    f.svc.stop_ingestion(ACCT, REGION, &s.arn).expect("stop");
    f.svc.delete(ACCT, REGION, &s.arn).expect("delete");
    let gone = f
        .svc
        .get(ACCT, REGION, &s.arn)
        .expect("still there while pending deletion");
    assert_eq!(gone.status, EventDataStoreStatus::PendingDeletion);
    assert!(!gone.is_ingesting());
    assert_eq!(
        f.svc
            .list(ACCT, REGION, None, None)
            .expect("list")
            .stores
            .len(),
        1
    );

    // Nothing but restore works on a store pending deletion.
    assert_eq!(
        code(f.svc.delete(ACCT, REGION, &s.arn)),
        "InactiveEventDataStoreException"
    );
    let up = UpdateEventDataStore {
        retention_period: Some(30),
        ..update(&s.arn)
    };
    assert_eq!(
        code(f.svc.update(ACCT, REGION, up)),
        "InactiveEventDataStoreException"
    );
    assert_eq!(
        code(f.svc.start_ingestion(ACCT, REGION, &s.arn)),
        "InvalidEventDataStoreStatusException"
    );
    assert_eq!(
        code(f.svc.stop_ingestion(ACCT, REGION, &s.arn)),
        "InvalidEventDataStoreStatusException"
    );
    assert_eq!(
        code(f.svc.add_tags(ACCT, REGION, &s.arn, &[])),
        "InactiveEventDataStoreException"
    );
    assert_eq!(
        code(f.svc.list_tags(ACCT, REGION, &s.arn)),
        "InactiveEventDataStoreException"
    );

    let back = f.svc.restore(ACCT, REGION, &s.id).expect("restore");
    assert_eq!(
        back.status,
        EventDataStoreStatus::StoppedIngestion,
        "the status it had"
    );
    assert_eq!((back.deleted, back.status_before_deletion), (None, None));
    assert_eq!(
        code(f.svc.restore(ACCT, REGION, &s.id)),
        "InvalidEventDataStoreStatusException"
    );
    f.svc.start_ingestion(ACCT, REGION, &s.id).expect("start");

    // Insight stores cannot stop or start ingestion.
    let insights = CreateEventDataStore {
        advanced_event_selectors: Some(sel(
            json!([{"FieldSelectors":[{"Field":"eventCategory","Equals":["Insight"]}]}]),
        )),
        ..named("insights")
    };
    let (i, _) = f.svc.create(ACCT, REGION, insights).expect("create");
    assert_eq!(
        code(f.svc.stop_ingestion(ACCT, REGION, &i.arn)),
        "InvalidEventDataStoreCategoryException"
    );
    assert_eq!(
        code(f.svc.start_ingestion(ACCT, REGION, &i.arn)),
        "InvalidEventDataStoreCategoryException"
    );
    let config = CreateEventDataStore {
        advanced_event_selectors: Some(sel(
            json!([{"FieldSelectors":[{"Field":"eventCategory","Equals":["ConfigurationItem"]}]}]),
        )),
        ..named("config")
    };
    let (c, _) = f.svc.create(ACCT, REGION, config).expect("create");
    f.svc
        .stop_ingestion(ACCT, REGION, &c.arn)
        .expect("configuration items can stop");
}

#[test]
fn a_deleted_store_is_gone_after_seven_days() {
    let f = fixture();
    let req = CreateEventDataStore {
        termination_protection_enabled: Some(false),
        ..named("audit")
    };
    let (s, _) = f.svc.create(ACCT, REGION, req.clone()).expect("create");
    f.svc.delete(ACCT, REGION, &s.arn).expect("delete");
    f.advance(Duration::days(RESTORE_WINDOW_DAYS) - Duration::seconds(1));
    assert_eq!(
        f.svc.get(ACCT, REGION, &s.arn).expect("get").status,
        EventDataStoreStatus::PendingDeletion
    );
    f.advance(Duration::seconds(1));
    assert_eq!(
        code(f.svc.get(ACCT, REGION, &s.arn)),
        "EventDataStoreNotFoundException"
    );
    assert_eq!(
        code(f.svc.restore(ACCT, REGION, &s.arn)),
        "EventDataStoreNotFoundException"
    );
    assert!(f.svc.list_all().expect("all").is_empty());
    let (again, _) = f
        .svc
        .create(ACCT, REGION, req)
        .expect("the name is free again");
    assert_ne!(again.id, s.id);
}

#[test]
fn updates_change_only_what_is_given_within_aws_rules() {
    let f = fixture();
    let (s, _) = f.svc.create(ACCT, REGION, named("audit")).expect("create");
    assert_eq!(
        code(f.svc.update(ACCT, REGION, update(&s.arn))),
        "InvalidParameterException"
    );
    let to_fixed = UpdateEventDataStore {
        billing_mode: Some("FIXED_RETENTION_PRICING".into()),
        ..update(&s.arn)
    };
    assert_eq!(
        code(f.svc.update(ACCT, REGION, to_fixed)),
        "InvalidParameterException"
    );
    let long = UpdateEventDataStore {
        retention_period: Some(3654),
        ..update(&s.arn)
    };
    assert_eq!(
        code(f.svc.update(ACCT, REGION, long)),
        "InvalidParameterException"
    );
    let insight = UpdateEventDataStore {
        advanced_event_selectors: Some(sel(
            json!([{"FieldSelectors":[{"Field":"eventCategory","Equals":["Insight"]}]}]),
        )),
        ..update(&s.arn)
    };
    assert_eq!(
        code(f.svc.update(ACCT, REGION, insight)),
        "InvalidEventSelectorsException"
    );
    let bad_name = UpdateEventDataStore {
        name: Some("x".into()),
        ..update(&s.arn)
    };
    assert_eq!(
        code(f.svc.update(ACCT, REGION, bad_name)),
        "InvalidParameterException"
    );
    assert_eq!(
        code(f.svc.update(
            ACCT,
            REGION,
            UpdateEventDataStore {
                retention_period: Some(30),
                ..update("ghost-id")
            }
        )),
        "EventDataStoreNotFoundException"
    );
    assert_eq!(
        f.svc.get(ACCT, REGION, &s.arn).expect("get"),
        s,
        "refused updates changed nothing"
    );

    f.advance(Duration::seconds(3));
    let data = sel(json!([
        {"Name":"writes","FieldSelectors":[{"Field":"eventCategory","Equals":["Management"]},{"Field":"readOnly","Equals":["false"]}]},
        {"Name":"s3","FieldSelectors":[{"Field":"eventCategory","Equals":["Data"]},{"Field":"resources.type","Equals":["AWS::S3::Object"]}]}
    ]));
    let up = UpdateEventDataStore {
        name: Some("renamed".into()),
        advanced_event_selectors: Some(data.clone()),
        multi_region_enabled: Some(false),
        retention_period: Some(90),
        ..update(&s.id)
    };
    let u = f.svc.update(ACCT, REGION, up).expect("update");
    assert_eq!(
        (u.name.as_str(), u.retention_period, u.multi_region_enabled),
        ("renamed", 90, false)
    );
    assert_eq!(u.advanced_event_selectors, data);
    assert!(u.termination_protection_enabled, "untouched");
    assert!(u.updated > u.created);
    assert_eq!(f.svc.get(ACCT, REGION, &s.arn).expect("get"), u);

    let fixed = CreateEventDataStore {
        billing_mode: Some("FIXED_RETENTION_PRICING".into()),
        ..named("fixed")
    };
    let (fx, _) = f.svc.create(ACCT, REGION, fixed).expect("create");
    let too_long = UpdateEventDataStore {
        retention_period: Some(3000),
        ..update(&fx.arn)
    };
    assert_eq!(
        code(f.svc.update(ACCT, REGION, too_long)),
        "InvalidParameterException"
    );
    let extend = UpdateEventDataStore {
        billing_mode: Some("EXTENDABLE_RETENTION_PRICING".into()),
        retention_period: Some(3000),
        ..update(&fx.arn)
    };
    let fx = f
        .svc
        .update(ACCT, REGION, extend)
        .expect("fixed may become extendable");
    assert_eq!(
        (fx.billing_mode, fx.retention_period),
        (BillingMode::ExtendableRetentionPricing, 3000)
    );
}

#[test]
fn list_pages_with_tokens() {
    let f = fixture();
    let mut arns = Vec::new();
    for i in 0..3 {
        f.advance(Duration::seconds(1));
        arns.push(
            f.svc
                .create(ACCT, REGION, named(&format!("eds-{i}")))
                .expect("create")
                .0
                .arn,
        );
    }
    f.svc
        .create(ACCT, "eu-west-1", named("elsewhere"))
        .expect("create");
    let all = f.svc.list(ACCT, REGION, None, None).expect("list");
    assert_eq!(
        all.stores.iter().map(|s| s.arn.clone()).collect::<Vec<_>>(),
        arns
    );
    assert_eq!(all.next_token, None);
    let p1 = f.svc.list(ACCT, REGION, Some(2), None).expect("page 1");
    assert_eq!(p1.stores.len(), 2);
    let token = p1.next_token.expect("more");
    assert!((4..=1000).contains(&token.len()));
    let p2 = f
        .svc
        .list(ACCT, REGION, Some(2), Some(&token))
        .expect("page 2");
    assert_eq!(
        p2.stores.iter().map(|s| s.arn.clone()).collect::<Vec<_>>(),
        vec![arns[2].clone()]
    );
    assert_eq!(p2.next_token, None);
    assert_eq!(
        code(f.svc.list(ACCT, REGION, Some(0), None)),
        "InvalidMaxResultsException"
    );
    assert_eq!(
        code(f.svc.list(ACCT, REGION, Some(1001), None)),
        "InvalidMaxResultsException"
    );
    assert_eq!(
        code(f.svc.list(ACCT, REGION, None, Some("garbage!"))),
        "InvalidNextTokenException"
    );
    assert_eq!(
        code(f.svc.list(ACCT, "eu-west-1", None, Some(&token))),
        "InvalidNextTokenException"
    );
    assert_eq!(
        p1.stores[0].to_list_item(),
        json!({"EventDataStoreArn": arns[0], "Name": "eds-0"})
    );
}

#[test]
fn tags_are_kept_per_store() {
    let f = fixture();
    let req = CreateEventDataStore {
        tags_list: vec![Tag {
            key: "env".into(),
            value: Some("prod".into()),
        }],
        ..named("audit")
    };
    let (s, tags) = f.svc.create(ACCT, REGION, req).expect("create");
    assert_eq!(
        tags,
        vec![Tag {
            key: "env".into(),
            value: Some("prod".into())
        }]
    );
    assert_eq!(
        s.to_api(ResponseShape::Create, &tags)["TagsList"],
        json!([{"Key":"env","Value":"prod"}])
    );
    f.svc
        .add_tags(
            ACCT,
            REGION,
            &s.arn,
            &[
                Tag {
                    key: "env".into(),
                    value: Some("dev".into()),
                },
                Tag {
                    key: "team".into(),
                    value: None,
                },
            ],
        )
        .expect("add");
    assert_eq!(
        f.svc.list_tags(ACCT, REGION, &s.arn).expect("tags"),
        vec![
            Tag {
                key: "env".into(),
                value: Some("dev".into())
            },
            Tag {
                key: "team".into(),
                value: None
            }
        ]
    );
    f.svc
        .remove_tags(
            ACCT,
            REGION,
            &s.arn,
            &[Tag {
                key: "team".into(),
                value: None,
            }],
        )
        .expect("remove");
    assert_eq!(
        f.svc.list_tags(ACCT, REGION, &s.arn).expect("tags").len(),
        1
    );
    let many: Vec<Tag> = (0..50)
        .map(|i| Tag {
            key: format!("k{i}"),
            value: None,
        })
        .collect();
    assert_eq!(
        code(f.svc.add_tags(ACCT, REGION, &s.arn, &many)),
        "TagsLimitExceededException"
    );
    assert_eq!(
        code(f.svc.add_tags(
            ACCT,
            REGION,
            &s.arn,
            &[Tag {
                key: "aws:x".into(),
                value: None
            }]
        )),
        "InvalidTagParameterException"
    );
    assert_eq!(
        code(f.svc.list_tags(ACCT, REGION, &s.id)),
        "EventDataStoreARNInvalidException"
    );
    assert_eq!(
        code(f.svc.list_tags(
            ACCT,
            REGION,
            &event_data_store_arn(REGION, ACCT, "00000000-0000-0000-0000-000000000000")
        )),
        "EventDataStoreNotFoundException"
    );
    assert_eq!(
        f.svc.list_tags(ACCT, REGION, &s.arn).expect("tags").len(),
        1,
        "refusals changed nothing"
    );
}

#[test]
fn stores_survive_a_reopen_of_the_catalog() {
    let dir = tempfile::tempdir().expect("tempdir");
    let open = || {
        let catalog = Arc::new(Catalog::open(&dir.path().join("catalog.db")).expect("catalog"));
        let kms = Arc::new(
            opentrail_kms::Registry::open(dir.path().join("kms"), None, ACCT).expect("kms"),
        );
        EventDataStores::new(catalog, kms, None)
    };
    let (s, _) = open().create(ACCT, REGION, named("audit")).expect("create");
    let all = open().list_all().expect("all");
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].arn, s.arn);
    assert_eq!(
        all[0].created.timestamp_millis(),
        s.created.timestamp_millis()
    );
}
