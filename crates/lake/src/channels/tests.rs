//! Unit tests of the channel service: validation, the destination rules, limits, lookups by
//! ARN or ID, the data plane's lookup, pagination, tags, and the store that cannot be deleted
//! while a channel delivers to it — over a real catalog.

use super::*;
use crate::stores::{CreateEventDataStore, EventDataStores};

const ACCT: &str = "123456789012";
const OTHER: &str = "210987654321";
const REGION: &str = "us-east-1";

struct Fixture {
    _dir: tempfile::TempDir,
    stores: EventDataStores,
    channels: Channels,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let catalog = Arc::new(Catalog::open(&dir.path().join("catalog.db")).expect("catalog"));
    let kms =
        Arc::new(opentrail_kms::Registry::open(dir.path().join("kms"), None, ACCT).expect("kms"));
    Fixture {
        _dir: dir,
        stores: EventDataStores::new(catalog.clone(), kms, None),
        channels: Channels::new(catalog),
    }
}

impl Fixture {
    fn store(&self, name: &str, category: &str) -> EventDataStore {
        self.store_in(ACCT, REGION, name, category)
    }

    fn store_in(&self, account: &str, region: &str, name: &str, category: &str) -> EventDataStore {
        let req = CreateEventDataStore {
            name: name.into(),
            advanced_event_selectors: Some(
                serde_json::from_value(
                    json!([{"FieldSelectors":[{"Field":"eventCategory","Equals":[category]}]}]),
                )
                .expect("selectors"),
            ),
            termination_protection_enabled: Some(false),
            ..Default::default()
        };
        self.stores.create(account, region, req).expect("store").0
    }

    fn create(
        &self,
        name: &str,
        source: &str,
        stores: &[&EventDataStore],
    ) -> Result<Channel, LakeError> {
        self.channels
            .create(ACCT, REGION, request(name, source, stores))
            .map(|(c, _)| c)
    }
}

fn to(store: &EventDataStore) -> Destination {
    Destination {
        kind: EVENT_DATA_STORE.into(),
        location: store.arn.clone(),
    }
}

fn request(name: &str, source: &str, stores: &[&EventDataStore]) -> CreateChannel {
    CreateChannel {
        name: name.into(),
        source: source.into(),
        destinations: stores.iter().map(|s| to(s)).collect(),
        tags: Vec::new(),
    }
}

fn code<T: std::fmt::Debug>(r: Result<T, LakeError>) -> &'static str {
    r.expect_err("refused").code()
}

#[test]
fn create_get_list_update_delete() {
    let f = fixture();
    let a = f.store("activity-a", "ActivityAuditLog");
    let b = f.store("activity-b", "ActivityAuditLog");
    let (c, tags) = f
        .channels
        .create(
            ACCT,
            REGION,
            CreateChannel {
                tags: vec![Tag {
                    key: "team".into(),
                    value: Some("billing".into()),
                }],
                ..request("billing-app", "Custom", &[&a])
            },
        )
        .expect("created");
    assert!(
        c.arn
            .starts_with(&format!("arn:aws:cloudtrail:{REGION}:{ACCT}:channel/"))
    );
    assert_eq!(c.arn.rsplit('/').next(), Some(c.id.as_str()));
    assert_eq!(tags.len(), 1);
    let api = c.to_create_api(&tags);
    assert_eq!(
        api["Destinations"],
        json!([{"Type": "EVENT_DATA_STORE", "Location": a.arn}])
    );
    assert_eq!(api["Tags"], json!([{"Key": "team", "Value": "billing"}]));
    assert_eq!(api["Source"], "Custom");

    // By ARN and by ID.
    let (got, status) = f.channels.get(ACCT, REGION, &c.arn).expect("by arn");
    assert_eq!(got, c);
    assert_eq!(status, IngestionStatus::default());
    assert_eq!(f.channels.get(ACCT, REGION, &c.id).expect("by id").0, c);
    let api = got.to_get_api(&status);
    assert_eq!(api["SourceConfig"]["ApplyToAllRegions"], false);
    assert_eq!(api["IngestionStatus"], json!({}));

    let updated = f
        .channels
        .update(
            ACCT,
            REGION,
            UpdateChannel {
                channel: c.id.clone(),
                name: Some("billing-app-2".into()),
                destinations: Some(vec![to(&a), to(&b)]),
            },
        )
        .expect("updated");
    assert_eq!(updated.name, "billing-app-2");
    assert_eq!(
        updated.store_arns().collect::<Vec<_>>(),
        vec![a.arn.as_str(), b.arn.as_str()]
    );
    // Nothing given: nothing changes but the answer.
    let same = f
        .channels
        .update(
            ACCT,
            REGION,
            UpdateChannel {
                channel: c.arn.clone(),
                ..Default::default()
            },
        )
        .expect("no-op");
    assert_eq!(
        (same.name, same.destinations),
        (updated.name.clone(), updated.destinations.clone())
    );

    let page = f.channels.list(ACCT, REGION, None, None).expect("list");
    assert_eq!(page.channels.len(), 1);
    assert_eq!(
        page.channels[0].to_list_item(),
        json!({"ChannelArn": c.arn, "Name": "billing-app-2"})
    );
    assert!(
        f.channels
            .list(ACCT, "eu-west-1", None, None)
            .expect("list")
            .channels
            .is_empty()
    );

    f.channels.delete(ACCT, REGION, &c.arn).expect("deleted");
    assert_eq!(
        code(f.channels.get(ACCT, REGION, &c.arn)),
        "ChannelNotFoundException"
    );
    assert_eq!(
        code(f.channels.delete(ACCT, REGION, &c.arn)),
        "ChannelNotFoundException"
    );
}

#[test]
fn names_and_sources_are_checked() {
    let f = fixture();
    let a = f.store("activity", "ActivityAuditLog");
    for bad in ["ab", "has space", &"x".repeat(129), "slash/name"] {
        assert_eq!(
            code(f.create(bad, "Custom", &[&a])),
            "InvalidParameterException",
            "{bad}"
        );
    }
    for bad in [
        "custom",
        "CUSTOM",
        "",
        " leading",
        "aws-service-channel",
        "AWSConfig",
        "bad/char",
        &"p".repeat(257),
    ] {
        assert_eq!(
            code(f.create("chan", bad, &[&a])),
            "InvalidSourceException",
            "{bad:?}"
        );
    }
    f.create("custom-1", "Custom", &[&a]).expect("custom");
    f.create("custom-2", "Custom", &[&a])
        .expect("several custom channels");
    assert_eq!(
        code(f.create("custom-1", "Custom", &[&a])),
        "ChannelAlreadyExistsException"
    );
    f.create("okta", "Okta Identity", &[&a]).expect("partner");
    let e = f
        .create("okta-2", "Okta Identity", &[&a])
        .expect_err("one per partner");
    assert_eq!(e.code(), "ChannelAlreadyExistsException");
    assert!(e.to_string().contains("at most one channel"), "{e}");
}

#[test]
fn destinations_must_be_active_integration_stores_of_the_caller() {
    let f = fixture();
    let activity = f.store("activity", "ActivityAuditLog");
    let management = f.store("management", "Management");
    let elsewhere = f.store_in(ACCT, "eu-west-1", "activity-eu", "ActivityAuditLog");
    let foreign = f.store_in(OTHER, REGION, "activity-other", "ActivityAuditLog");
    assert_eq!(
        code(f.create("chan-1", "Custom", &[&management])),
        "InvalidEventDataStoreCategoryException"
    );
    assert_eq!(
        code(f.create("chan-1", "Custom", &[&elsewhere])),
        "EventDataStoreNotFoundException"
    );
    assert_eq!(
        code(f.create("chan-1", "Custom", &[&foreign])),
        "EventDataStoreNotFoundException"
    );
    let missing = Destination {
        kind: EVENT_DATA_STORE.into(),
        location: format!(
            "arn:aws:cloudtrail:{REGION}:{ACCT}:eventdatastore/00000000-0000-4000-8000-000000000000"
        ),
    };
    let with = |d: Vec<Destination>| {
        f.channels.create(
            ACCT,
            REGION,
            CreateChannel {
                destinations: d,
                ..request("chan-1", "Custom", &[])
            },
        )
    };
    assert_eq!(code(with(vec![missing])), "EventDataStoreNotFoundException");
    for location in [
        "not-an-arn",
        "arn:aws:cloudtrail:us-east-1:123456789012:trail/t",
        "arn:aws:s3:::bucket",
    ] {
        let d = Destination {
            kind: EVENT_DATA_STORE.into(),
            location: location.into(),
        };
        assert_eq!(
            code(with(vec![d])),
            "EventDataStoreARNInvalidException",
            "{location}"
        );
    }
    assert_eq!(code(with(vec![])), "InvalidParameterException");
    assert_eq!(
        code(with(vec![to(&activity), to(&activity)])),
        "InvalidParameterException"
    );
    for kind in ["AWS_SERVICE", "EventDataStore"] {
        let d = Destination {
            kind: kind.into(),
            location: activity.arn.clone(),
        };
        assert_eq!(code(with(vec![d])), "InvalidParameterException", "{kind}");
    }
    let many: Vec<Destination> = (0..201).map(|_| to(&activity)).collect();
    assert_eq!(code(with(many)), "InvalidParameterException");
    // A store pending deletion is inactive.
    let doomed = f.store("doomed", "ActivityAuditLog");
    f.stores.delete(ACCT, REGION, &doomed.arn).expect("deleted");
    assert_eq!(
        code(f.create("chan-1", "Custom", &[&doomed])),
        "InactiveEventDataStoreException"
    );
    // Refused requests left nothing behind.
    assert!(f.channels.list_all().expect("all").is_empty());
    // An update is held to the same rules and changes nothing when refused.
    let c = f.create("chan-1", "Custom", &[&activity]).expect("created");
    let refused = f.channels.update(
        ACCT,
        REGION,
        UpdateChannel {
            channel: c.arn.clone(),
            name: Some("renamed".into()),
            destinations: Some(vec![to(&management)]),
        },
    );
    assert_eq!(code(refused), "InvalidEventDataStoreCategoryException");
    assert_eq!(f.channels.get(ACCT, REGION, &c.arn).expect("get").0, c);
}

#[test]
fn twenty_five_channels_per_region() {
    let f = fixture();
    let a = f.store("activity", "ActivityAuditLog");
    for i in 0..MAX_CHANNELS {
        f.create(&format!("chan-{i:02}"), "Custom", &[&a])
            .expect("within the limit");
    }
    let e = f
        .create("one-too-many", "Custom", &[&a])
        .expect_err("limit");
    assert_eq!(e.code(), "ChannelMaxLimitExceededException");
    // Another region has its own quota.
    let eu = f.store_in(ACCT, "eu-west-1", "activity-eu", "ActivityAuditLog");
    f.channels
        .create(ACCT, "eu-west-1", request("chan-eu", "Custom", &[&eu]))
        .expect("other region");
}

#[test]
fn channels_are_named_by_arn_or_id_of_the_callers_region() {
    let f = fixture();
    let a = f.store("activity", "ActivityAuditLog");
    let c = f.create("chan-1", "Custom", &[&a]).expect("created");
    for bad in [
        "arn:aws:cloudtrail:us-east-1:123456789012:trail/t",
        "arn:aws:cloudtrail:us-east-1:123456789012:channel/",
        "arn:aws:cloudtrail:us-east-1:123456789012:channel/a b",
        "arn:aws",
        "not an id",
    ] {
        assert_eq!(
            code(f.channels.get(ACCT, REGION, bad)),
            "ChannelARNInvalidException",
            "{bad}"
        );
    }
    assert_eq!(
        code(f.channels.get(ACCT, "eu-west-1", &c.arn)),
        "ChannelNotFoundException"
    );
    assert_eq!(
        code(f.channels.get(ACCT, "eu-west-1", &c.id)),
        "ChannelNotFoundException"
    );
    assert_eq!(
        code(f.channels.get(OTHER, REGION, &c.arn)),
        "ChannelNotFoundException"
    );
    assert_eq!(
        code(
            f.channels
                .get(ACCT, REGION, "00000000-0000-4000-8000-000000000000")
        ),
        "ChannelNotFoundException"
    );
}

#[test]
fn put_audit_events_lookup_names_the_data_plane_failures() {
    let f = fixture();
    let a = f.store("activity", "ActivityAuditLog");
    let c = f.create("chan-1", "Custom", &[&a]).expect("created");
    assert_eq!(f.channels.for_put(ACCT, REGION, &c.arn).expect("owner"), c);
    assert_eq!(f.channels.for_put(ACCT, REGION, &c.id).expect("by id"), c);
    let e = f
        .channels
        .for_put(OTHER, REGION, &c.arn)
        .expect_err("not the owner");
    assert_eq!(e.data_plane_code(), "ChannelInsufficientPermission");
    let e = f
        .channels
        .for_put(ACCT, "eu-west-1", &c.arn)
        .expect_err("other region");
    assert_eq!(e.data_plane_code(), "ChannelNotFound");
    assert!(e.to_string().contains(REGION), "{e}");
    let gone = channel_arn(REGION, OTHER, "00000000-0000-4000-8000-000000000000");
    assert_eq!(
        f.channels
            .for_put(ACCT, REGION, &gone)
            .expect_err("missing")
            .data_plane_code(),
        "ChannelNotFound"
    );
    for bad in [
        "arn:aws:cloudtrail:us-east-1:123456789012:eventdatastore/x",
        "arn:nope",
        "white space",
    ] {
        assert_eq!(
            f.channels
                .for_put(ACCT, REGION, bad)
                .expect_err("bad")
                .data_plane_code(),
            "InvalidChannelARN",
            "{bad}"
        );
    }
}

#[test]
fn ingestion_status_keeps_the_latest_outcomes() {
    let f = fixture();
    let a = f.store("activity", "ActivityAuditLog");
    let c = f.create("chan-1", "Custom", &[&a]).expect("created");
    let t1 = Utc::now();
    f.channels.record_ingestion(
        &c.arn,
        t1,
        Some("11111111-1111-4111-8111-111111111111"),
        None,
    );
    let t2 = t1 + chrono::Duration::seconds(5);
    f.channels
        .record_ingestion(&c.arn, t2, None, Some("InvalidChecksum"));
    let (_, s) = f.channels.get(ACCT, REGION, &c.arn).expect("get");
    assert_eq!(s.latest_success_time, Some(t1));
    assert_eq!(
        s.latest_success_event_id.as_deref(),
        Some("11111111-1111-4111-8111-111111111111")
    );
    assert_eq!(s.latest_attempt_time, Some(t2));
    assert_eq!(s.latest_attempt_event_id, None);
    assert_eq!(s.latest_error_code.as_deref(), Some("InvalidChecksum"));
    let api = c.to_get_api(&s);
    assert_eq!(
        api["IngestionStatus"]["LatestIngestionErrorCode"],
        "InvalidChecksum"
    );
    assert!(api["IngestionStatus"]["LatestIngestionSuccessTime"].is_number());
}

#[test]
fn list_pages_by_position() {
    let f = fixture();
    let a = f.store("activity", "ActivityAuditLog");
    let made: Vec<Channel> = (0..5)
        .map(|i| {
            f.create(&format!("chan-{i}"), "Custom", &[&a])
                .expect("created")
        })
        .collect();
    let first = f
        .channels
        .list(ACCT, REGION, Some(2), None)
        .expect("page 1");
    assert_eq!(first.channels, made[..2]);
    let token = first.next_token.expect("more");
    // A deleted channel does not shift the next page.
    f.channels
        .delete(ACCT, REGION, &made[0].arn)
        .expect("deleted");
    let second = f
        .channels
        .list(ACCT, REGION, Some(2), Some(&token))
        .expect("page 2");
    assert_eq!(second.channels, made[2..4]);
    let last = f
        .channels
        .list(ACCT, REGION, Some(2), second.next_token.as_deref())
        .expect("page 3");
    assert_eq!(last.channels, made[4..]);
    assert!(last.next_token.is_none());
    for bad in [0, 1001] {
        assert_eq!(
            code(f.channels.list(ACCT, REGION, Some(bad), None)),
            "InvalidParameterException"
        );
    }
    assert_eq!(
        code(f.channels.list(ACCT, REGION, None, Some("forged"))),
        "InvalidNextTokenException"
    );
    assert_eq!(
        code(f.channels.list(ACCT, "eu-west-1", None, Some(&token))),
        "InvalidNextTokenException"
    );
}

#[test]
fn tags_on_channels() {
    let f = fixture();
    let a = f.store("activity", "ActivityAuditLog");
    let c = f.create("chan-1", "Custom", &[&a]).expect("created");
    let tag = |k: &str, v: &str| Tag {
        key: k.into(),
        value: Some(v.into()),
    };
    f.channels
        .add_tags(ACCT, REGION, &c.arn, &[tag("a", "1"), tag("b", "2")])
        .expect("add");
    f.channels
        .add_tags(ACCT, REGION, &c.arn, &[tag("a", "3")])
        .expect("overwrite");
    f.channels
        .remove_tags(ACCT, REGION, &c.arn, &[tag("b", "wrong")])
        .expect("value must match");
    assert_eq!(
        f.channels.list_tags(ACCT, REGION, &c.arn).expect("list"),
        vec![tag("a", "3"), tag("b", "2")]
    );
    f.channels
        .remove_tags(
            ACCT,
            REGION,
            &c.arn,
            &[Tag {
                key: "b".into(),
                value: None,
            }],
        )
        .expect("remove");
    assert_eq!(
        f.channels.list_tags(ACCT, REGION, &c.arn).expect("list"),
        vec![tag("a", "3")]
    );
    let many: Vec<Tag> = (0..50).map(|i| tag(&format!("k{i}"), "v")).collect();
    assert_eq!(
        code(f.channels.add_tags(ACCT, REGION, &c.arn, &many)),
        "TagsLimitExceededException"
    );
    assert_eq!(
        code(
            f.channels
                .add_tags(ACCT, REGION, &c.arn, &[tag("aws:x", "v")])
        ),
        "InvalidTagParameterException"
    );
    assert_eq!(
        code(f.channels.add_tags(ACCT, REGION, &c.id, &[tag("a", "1")])),
        "ChannelARNInvalidException"
    );
    let missing = channel_arn(REGION, ACCT, "00000000-0000-4000-8000-000000000000");
    assert_eq!(
        code(
            f.channels
                .add_tags(ACCT, REGION, &missing, &[tag("a", "1")])
        ),
        "ChannelNotFoundException"
    );
    assert_eq!(
        code(f.channels.list_tags(ACCT, REGION, &missing)),
        "ResourceNotFoundException"
    );
    let over: Vec<Tag> = (0..51).map(|i| tag(&format!("k{i}"), "v")).collect();
    assert_eq!(
        code(f.channels.create(
            ACCT,
            REGION,
            CreateChannel {
                tags: over,
                ..request("chan-2", "Custom", &[&a])
            }
        )),
        "TagsLimitExceededException"
    );
    // Deleting the channel deletes its tags.
    f.channels.delete(ACCT, REGION, &c.arn).expect("deleted");
    let left = f.channels.catalog.read(|tx| tx.tags(&c.arn)).expect("tags");
    assert!(left.is_empty());
}

#[test]
fn a_store_a_channel_delivers_to_cannot_be_deleted() {
    let f = fixture();
    let a = f.store("activity", "ActivityAuditLog");
    let b = f.store("activity-b", "ActivityAuditLog");
    let c = f.create("chan-1", "Custom", &[&a]).expect("created");
    let e = f.stores.delete(ACCT, REGION, &a.arn).expect_err("in use");
    assert_eq!(e.code(), "ChannelExistsForEDSException");
    assert!(e.to_string().contains(&c.arn), "{e}");
    assert_eq!(
        f.stores
            .get(ACCT, REGION, &a.arn)
            .expect("still there")
            .status,
        EventDataStoreStatus::Enabled
    );
    // Once the channel points elsewhere, the store can go.
    f.channels
        .update(
            ACCT,
            REGION,
            UpdateChannel {
                channel: c.arn.clone(),
                name: None,
                destinations: Some(vec![to(&b)]),
            },
        )
        .expect("moved");
    f.stores.delete(ACCT, REGION, &a.arn).expect("deleted");
    f.channels
        .delete(ACCT, REGION, &c.arn)
        .expect("channel deleted");
    f.stores.delete(ACCT, REGION, &b.arn).expect("deleted");
}

#[test]
fn integration_stores_cannot_stop_or_start_ingestion() {
    let f = fixture();
    let a = f.store("activity", "ActivityAuditLog");
    assert_eq!(
        code(f.stores.stop_ingestion(ACCT, REGION, &a.arn)),
        "InvalidEventDataStoreCategoryException"
    );
    assert_eq!(
        code(f.stores.start_ingestion(ACCT, REGION, &a.arn)),
        "InvalidEventDataStoreCategoryException"
    );
    let refused = f.stores.create(
        ACCT,
        REGION,
        CreateEventDataStore {
            start_ingestion: Some(false),
            ..CreateEventDataStore {
                name: "stopped-activity".into(),
                advanced_event_selectors: Some(a.advanced_event_selectors.clone()),
                ..Default::default()
            }
        },
    );
    assert_eq!(code(refused), "InvalidParameterException");
}
