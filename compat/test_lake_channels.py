"""CloudTrail Lake integrations with boto3's `cloudtrail` and `cloudtrail-data` clients and the
aws CLI: channels (create, get, list, update, delete, limits, errors, tags), integration-events
(ActivityAuditLog) event data stores, and PutAuditEvents — events reach exactly the channel's
destination stores with the integration schema, every whole-request and per-event failure has
its exact name, accepted events survive kill -9, and none of them shows up in event history or
in trail log files."""
import base64
import hashlib
import json
import os
import subprocess
import sys
import time
import uuid

import boto3
import botocore.config
import pytest
from botocore.exceptions import ClientError

from harness import ACCOUNT, ALICE_KEY, ALICE_SECRET, Server, read_log_files

REGION = "us-east-1"
OTHER_ACCOUNT = "210987654321"
ACTIVITY = [{"Name": "integration events",
             "FieldSelectors": [{"Field": "eventCategory", "Equals": ["ActivityAuditLog"]}]}]
MISSING_ID = "00000000-0000-4000-8000-000000000000"
FAST = "[trails]\nflush_interval_secs = 1\n[lake]\nflush_interval_ms = 200\n"


def code(call):
    with pytest.raises(ClientError) as e:
        call()
    return e.value.response["Error"]["Code"]


def unchecked(srv, service="cloudtrail", **kw):
    """A client that sends what boto3 itself would refuse to send."""
    return boto3.client(service, endpoint_url=srv.endpoint, region_name=kw.get("region", REGION),
                        aws_access_key_id=kw.get("key", srv.key), aws_secret_access_key=kw.get("secret", srv.secret),
                        config=botocore.config.Config(parameter_validation=False, retries={"max_attempts": 1}))


def activity_store(ct, name):
    return ct.create_event_data_store(Name=name, AdvancedEventSelectors=ACTIVITY,
                                      TerminationProtectionEnabled=False)


def destination(store):
    return [{"Type": "EVENT_DATA_STORE", "Location": store["EventDataStoreArn"]}]


def store_id(store):
    return store["EventDataStoreArn"].rsplit("/", 1)[1]


def event_data(n, **overrides):
    d = {
        "version": "1.0",
        "userIdentity": {"type": "CustomUser", "principalId": f"user-{n % 3}", "details": {"team": "billing"}},
        "userAgent": "billing-app/2.1",
        "eventSource": "billing.example.com",
        "eventName": f"Charge{n}",
        "eventTime": f"2026-11-25T10:{n % 60:02d}:00Z",
        "UID": f"uid-{n:04d}",
        "requestParameters": {"amount": n, "currency": "EUR"},
        "responseElements": {"ok": True},
        "sourceIPAddress": "203.0.113.7",
        "recipientAccountId": ACCOUNT,
        "additionalEventData": {"plan": "gold"},
    }
    d.update(overrides)
    return {k: v for k, v in d.items() if v is not None}


def audit_event(n, checksum=True, **overrides):
    data = json.dumps(event_data(n, **overrides))
    e = {"id": f"src-{n:04d}", "eventData": data}
    if checksum:
        e["eventDataChecksum"] = base64.b64encode(hashlib.sha256(data.encode()).digest()).decode()
    return e


def wait_query(ct, sql, want_rows, timeout=60):
    """Runs `sql` until it answers `want_rows` rows (events reach the table within seconds)."""
    deadline = time.time() + timeout
    rows = None
    while time.time() < deadline:
        qid = ct.start_query(QueryStatement=sql)["QueryId"]
        while True:
            d = ct.describe_query(QueryId=qid)
            if d["QueryStatus"] not in ("QUEUED", "RUNNING"):
                break
            time.sleep(0.05)
        assert d["QueryStatus"] == "FINISHED", d
        r = ct.get_query_results(QueryId=qid)
        rows = [[list(c.values())[0] for c in row] for row in r["QueryResultRows"]]
        if len(rows) >= want_rows:
            return rows
        time.sleep(0.3)
    raise AssertionError(f"query answered {rows}")


def aws(srv, service, *args):
    env = dict(os.environ, AWS_ACCESS_KEY_ID=srv.key, AWS_SECRET_ACCESS_KEY=srv.secret,
               AWS_DEFAULT_REGION=REGION, AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null")
    cmd = [os.path.join(os.path.dirname(sys.executable), "aws"), service, *args,
           "--endpoint-url", srv.endpoint, "--output", "json"]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)


@pytest.fixture
def srv(tmp_path):
    s = Server(data_dir=str(tmp_path), config_toml=FAST).start()
    yield s
    s.close()


def test_channel_lifecycle_with_aws_shapes(srv):
    ct = srv.client()
    a, b = activity_store(ct, "activity-a"), activity_store(ct, "activity-b")
    created = ct.create_channel(Name="billing-app", Source="Custom", Destinations=destination(a),
                                Tags=[{"Key": "team", "Value": "billing"}])
    arn = created["ChannelArn"]
    assert arn.startswith(f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:channel/")
    assert len(arn.rsplit("/", 1)[1]) == 36
    assert created["Name"] == "billing-app" and created["Source"] == "Custom"
    assert created["Destinations"] == destination(a)
    assert created["Tags"] == [{"Key": "team", "Value": "billing"}]
    got = ct.get_channel(Channel=arn)
    assert got["ChannelArn"] == arn and got["Destinations"] == destination(a)
    assert got["SourceConfig"]["ApplyToAllRegions"] is False
    assert got["SourceConfig"]["AdvancedEventSelectors"][0]["FieldSelectors"] == \
        [{"Field": "eventCategory", "Equals": ["ActivityAuditLog"]}]
    assert got["IngestionStatus"] == {}
    assert ct.get_channel(Channel=arn.rsplit("/", 1)[1])["ChannelArn"] == arn, "by ID too"
    assert ct.list_channels()["Channels"] == [{"ChannelArn": arn, "Name": "billing-app"}]
    updated = ct.update_channel(Channel=arn, Name="billing", Destinations=destination(a) + destination(b))
    assert (updated["Name"], updated["Source"]) == ("billing", "Custom")
    assert updated["Destinations"] == destination(a) + destination(b)
    assert ct.get_channel(Channel=arn)["Name"] == "billing"
    # Pages.
    more = [ct.create_channel(Name=f"more-{i}", Source="Custom", Destinations=destination(a))["ChannelArn"]
            for i in range(3)]
    page = ct.list_channels(MaxResults=2)
    assert [c["ChannelArn"] for c in page["Channels"]] == [arn, more[0]]
    rest = ct.list_channels(MaxResults=2, NextToken=page["NextToken"])
    assert [c["ChannelArn"] for c in rest["Channels"]] == more[1:] and "NextToken" not in rest
    assert code(lambda: ct.list_channels(NextToken="forged-token")) == "InvalidNextTokenException"
    assert code(lambda: unchecked(srv).list_channels(MaxResults=1001)) == "InvalidParameterException"
    assert srv.client(region="eu-west-1").list_channels()["Channels"] == []
    ct.delete_channel(Channel=arn)
    assert code(lambda: ct.get_channel(Channel=arn)) == "ChannelNotFoundException"
    assert code(lambda: ct.delete_channel(Channel=arn)) == "ChannelNotFoundException"
    # Every channel call is recorded as a CloudTrail management event.
    [rec] = [r for r in srv.records(eventName="CreateChannel") if r["requestParameters"]["name"] == "billing-app"]
    assert rec["responseElements"]["channelArn"] == arn and rec["managementEvent"] is True


def test_channel_errors_name_the_aws_exception_and_change_nothing(srv):
    ct = srv.client()
    activity = activity_store(ct, "activity")
    management = ct.create_event_data_store(Name="management", TerminationProtectionEnabled=False)
    doomed = activity_store(ct, "doomed")
    ct.delete_event_data_store(EventDataStore=doomed["EventDataStoreArn"])
    missing = f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:eventdatastore/{MISSING_ID}"
    cases = [
        (dict(Name="chan-1", Source="custom", Destinations=destination(activity)), "InvalidSourceException"),
        (dict(Name="chan-1", Source="aws-service-channel/x", Destinations=destination(activity)), "InvalidSourceException"),
        (dict(Name="chan-1", Source="Custom", Destinations=destination(management)), "InvalidEventDataStoreCategoryException"),
        (dict(Name="chan-1", Source="Custom", Destinations=[{"Type": "EVENT_DATA_STORE", "Location": missing}]),
         "EventDataStoreNotFoundException"),
        (dict(Name="chan-1", Source="Custom", Destinations=[{"Type": "EVENT_DATA_STORE", "Location": "arn:aws:s3:::bucket"}]),
         "EventDataStoreARNInvalidException"),
        (dict(Name="chan-1", Source="Custom", Destinations=destination(doomed)), "InactiveEventDataStoreException"),
        (dict(Name="chan-1", Source="Custom", Destinations=[{"Type": "AWS_SERVICE", "Location": "config.amazonaws.com"}]),
         "InvalidParameterException"),
        (dict(Name="chan-1", Source="Custom", Destinations=destination(activity) * 2), "InvalidParameterException"),
        (dict(Name="chan-1", Source="Custom", Destinations=destination(activity), Tags=[{"Key": "aws:reserved"}]),
         "InvalidTagParameterException"),
        (dict(Name="chan-1", Source="Custom", Destinations=destination(activity),
              Tags=[{"Key": f"k{i}"} for i in range(51)]), "TagsLimitExceededException"),
    ]
    for kw, expected in cases:
        assert code(lambda: ct.create_channel(**kw)) == expected, kw
    raw = unchecked(srv)
    assert code(lambda: raw.create_channel(Name="x y", Source="Custom", Destinations=destination(activity))) \
        == "InvalidParameterException"
    assert code(lambda: raw.create_channel(Name="chan-1", Source="Custom", Destinations=[])) == "InvalidParameterException"
    assert ct.list_channels()["Channels"] == [], "refused requests leave nothing behind"
    c = ct.create_channel(Name="chan-1", Source="Custom", Destinations=destination(activity))["ChannelArn"]
    ct.create_channel(Name="chan-2", Source="Custom", Destinations=destination(activity))
    assert code(lambda: ct.create_channel(Name="chan-1", Source="Custom", Destinations=destination(activity))) \
        == "ChannelAlreadyExistsException"
    ct.create_channel(Name="partner", Source="ExamplePartner", Destinations=destination(activity))
    assert code(lambda: ct.create_channel(Name="partner-2", Source="ExamplePartner", Destinations=destination(activity))) \
        == "ChannelAlreadyExistsException", "one channel per partner source"
    assert code(lambda: ct.update_channel(Channel=c, Name="chan-2")) == "ChannelAlreadyExistsException"
    assert code(lambda: ct.update_channel(Channel=c, Destinations=destination(management))) \
        == "InvalidEventDataStoreCategoryException"
    assert ct.get_channel(Channel=c)["Destinations"] == destination(activity)
    for bad, expected in [(f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/t", "ChannelARNInvalidException"),
                          ("arn:aws:cloudtrail:nope", "ChannelARNInvalidException"),
                          (MISSING_ID, "ChannelNotFoundException"),
                          (f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:channel/{MISSING_ID}", "ChannelNotFoundException")]:
        assert code(lambda: ct.get_channel(Channel=bad)) == expected, bad
        assert code(lambda: ct.update_channel(Channel=bad, Name="zzz")) == expected, bad
        assert code(lambda: ct.delete_channel(Channel=bad)) == expected, bad
    assert code(lambda: srv.client(region="eu-west-1").get_channel(Channel=c)) == "ChannelNotFoundException"


def test_twenty_five_channels_per_region(srv):
    ct = srv.client()
    a = activity_store(ct, "activity")
    for i in range(25):
        ct.create_channel(Name=f"chan-{i:02d}", Source="Custom", Destinations=destination(a))
    assert code(lambda: ct.create_channel(Name="chan-25", Source="Custom", Destinations=destination(a))) \
        == "ChannelMaxLimitExceededException"
    assert len(ct.list_channels()["Channels"]) == 25


def test_integration_stores_and_their_channels(srv):
    ct = srv.client()
    store = activity_store(ct, "activity")
    arn = store["EventDataStoreArn"]
    assert store["AdvancedEventSelectors"] == ACTIVITY and store["Status"] == "ENABLED"
    # AWS does not stop or start ingestion of integration-events stores.
    assert code(lambda: ct.stop_event_data_store_ingestion(EventDataStore=arn)) == "InvalidEventDataStoreCategoryException"
    assert code(lambda: ct.start_event_data_store_ingestion(EventDataStore=arn)) == "InvalidEventDataStoreCategoryException"
    assert code(lambda: ct.create_event_data_store(Name="stopped", AdvancedEventSelectors=ACTIVITY, StartIngestion=False)) \
        == "InvalidParameterException"
    c = ct.create_channel(Name="chan-1", Source="Custom", Destinations=destination(store))["ChannelArn"]
    # A store a channel delivers to cannot be deleted.
    assert code(lambda: ct.delete_event_data_store(EventDataStore=arn)) == "ChannelExistsForEDSException"
    assert ct.get_event_data_store(EventDataStore=arn)["Status"] == "ENABLED"
    ct.delete_channel(Channel=c)
    ct.delete_event_data_store(EventDataStore=arn)
    assert ct.get_event_data_store(EventDataStore=arn)["Status"] == "PENDING_DELETION"


def test_tags_on_channels(srv):
    ct = srv.client()
    store = activity_store(ct, "activity")
    c = ct.create_channel(Name="chan-1", Source="Custom", Destinations=destination(store))["ChannelArn"]
    ct.add_tags(ResourceId=c, TagsList=[{"Key": "env", "Value": "prod"}, {"Key": "team", "Value": "a"}])
    ct.add_tags(ResourceId=store["EventDataStoreArn"], TagsList=[{"Key": "kind", "Value": "lake"}])
    ct.remove_tags(ResourceId=c, TagsList=[{"Key": "team"}])
    listed = ct.list_tags(ResourceIdList=[c, store["EventDataStoreArn"]])["ResourceTagList"]
    assert listed == [{"ResourceId": c, "TagsList": [{"Key": "env", "Value": "prod"}]},
                      {"ResourceId": store["EventDataStoreArn"], "TagsList": [{"Key": "kind", "Value": "lake"}]}]
    gone = f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:channel/{MISSING_ID}"
    assert code(lambda: ct.add_tags(ResourceId=gone, TagsList=[{"Key": "x"}])) == "ChannelNotFoundException"
    assert code(lambda: ct.remove_tags(ResourceId=gone, TagsList=[{"Key": "x"}])) == "ChannelNotFoundException"
    assert code(lambda: ct.list_tags(ResourceIdList=[gone])) == "ResourceNotFoundException"
    assert code(lambda: ct.add_tags(ResourceId=f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:channel/a b",
                                    TagsList=[{"Key": "x"}])) == "ChannelARNInvalidException"
    assert code(lambda: ct.add_tags(ResourceId=c, TagsList=[{"Key": f"k{i}"} for i in range(50)])) \
        == "TagsLimitExceededException"


def test_put_audit_events_reach_exactly_the_channels_stores(srv):
    ct, data = srv.client(), srv.client("cloudtrail-data")
    store, other = activity_store(ct, "activity"), activity_store(ct, "not-a-destination")
    management = ct.create_event_data_store(Name="management", TerminationProtectionEnabled=False)
    channel = ct.create_channel(Name="billing", Source="Custom", Destinations=destination(store))["ChannelArn"]
    events = [audit_event(i) for i in range(5)] + [audit_event(5, checksum=False)]
    resp = data.put_audit_events(channelArn=channel, auditEvents=events)
    assert resp["failed"] == []
    assert [s["id"] for s in resp["successful"]] == [e["id"] for e in events]
    ids = {s["id"]: s["eventID"] for s in resp["successful"]}
    assert all(len(v) == 36 for v in ids.values()) and len(set(ids.values())) == 6
    sid = store_id(store)
    rows = wait_query(ct, f"SELECT eventdata.uid, eventdata.eventname, metadata.channelarn, eventid, eventcategory, "
                          f"eventtype, recipientaccountid, awsregion, eventdata.useridentity.principalid "
                          f"FROM {sid} ORDER BY eventdata.uid", 6)
    assert rows == [[f"uid-{i:04d}", f"Charge{i}", channel, ids[f"src-{i:04d}"], "ActivityAuditLog", "ActivityLog",
                     ACCOUNT, REGION, f"user-{i % 3}"] for i in range(6)]
    # Columns are named as CloudTrail Lake names them: a struct field after the field.
    qid = ct.start_query(QueryStatement=f"SELECT eventdata.eventname, metadata.channelarn, "
                                        f"eventdata.useridentity.principalid, eventid FROM {sid}")["QueryId"]
    while ct.describe_query(QueryId=qid)["QueryStatus"] in ("QUEUED", "RUNNING"):
        time.sleep(0.05)
    first = ct.get_query_results(QueryId=qid)["QueryResultRows"][0]
    assert [list(c)[0] for c in first] == ["eventname", "channelarn", "principalid", "eventid"]
    # Event time, the caller's objects as JSON text, the record as eventjson.
    got = wait_query(ct, f"SELECT eventtime, json_extract_scalar(eventdata.requestparameters, '$.amount'), "
                         f"json_extract_scalar(eventdata.useridentity.details, '$.team'), metadata.ingestiontime, "
                         f"json_extract_scalar(eventjson, '$.eventData.UID') FROM {sid} WHERE eventdata.uid = 'uid-0003'", 1)
    assert got[0][0].startswith("2026-11-25 10:03:00") and got[0][1:3] == ["3", "billing"]
    assert got[0][3].endswith("Z") and got[0][4] == "uid-0003"
    time.sleep(1.5)  # well past the lake's flush interval
    assert wait_query(ct, f"SELECT count(*) FROM {store_id(other)}", 1) == [["0"]]
    assert wait_query(ct, f"SELECT count(*) FROM {store_id(management)} WHERE eventcategory = 'ActivityAuditLog'", 1) \
        == [["0"]]
    # The channel shows its latest ingestion.
    status = ct.get_channel(Channel=channel)["IngestionStatus"]
    assert status["LatestIngestionSuccessEventID"] == ids["src-0005"]
    assert status["LatestIngestionAttemptEventID"] == ids["src-0005"]
    assert "LatestIngestionSuccessTime" in status and "LatestIngestionErrorCode" not in status
    # The same source ids in a later request are new events (ids only need be unique per request).
    again = data.put_audit_events(channelArn=channel.rsplit("/", 1)[1], auditEvents=[audit_event(0)])
    assert again["successful"][0]["eventID"] not in ids.values()
    wait_query(ct, f"SELECT eventid FROM {sid} WHERE eventdata.uid = 'uid-0000'", 2)
    # A channel pointed at another store delivers there from then on.
    ct.update_channel(Channel=channel, Destinations=destination(other))
    data.put_audit_events(channelArn=channel, auditEvents=[audit_event(42)])
    assert wait_query(ct, f"SELECT eventdata.uid FROM {store_id(other)}", 1) == [["uid-0042"]]
    time.sleep(1)
    assert wait_query(ct, f"SELECT count(*) FROM {sid} WHERE eventdata.uid = 'uid-0042'", 1) == [["0"]]


def test_per_event_failures_have_their_codes_and_stay_out(srv):
    ct, data = srv.client(), srv.client("cloudtrail-data")
    store = activity_store(ct, "activity")
    channel = ct.create_channel(Name="chan", Source="Custom", Destinations=destination(store))["ChannelArn"]
    good = audit_event(1)
    bad_checksum = dict(audit_event(2), eventDataChecksum=audit_event(3)["eventDataChecksum"])
    cases = [
        (bad_checksum, "InvalidChecksum"),
        ({"id": "no-json", "eventData": "not json"}, "InvalidData"),
        (audit_event(4, eventTime="25/11/2026"), "InvalidData"),
        (audit_event(5, sourceIPAddress="10.0.0.300"), "InvalidData"),
        (audit_event(6, UID=None), "FieldNotFound"),
        (audit_event(7, userIdentity={"type": "CustomUser"}), "FieldNotFound"),
        (audit_event(8, eventName="x" * 1025), "FieldTooLong"),
        (audit_event(9, requestParameters={"blob": "x" * 102400}), "FieldTooLong"),
        (audit_event(10, recipientAccountId=OTHER_ACCOUNT), "InvalidRecipient"),
    ]
    resp = data.put_audit_events(channelArn=channel, auditEvents=[good] + [e for e, _ in cases])
    assert [s["id"] for s in resp["successful"]] == [good["id"]]
    assert [(f["id"], f["errorCode"]) for f in resp["failed"]] == [(e["id"], c) for e, c in cases]
    assert all(f["errorMessage"] for f in resp["failed"])
    assert "recipientAccountId" in resp["failed"][-1]["errorMessage"]
    rows = wait_query(ct, f"SELECT eventdata.uid FROM {store_id(store)}", 1)
    time.sleep(1)
    assert wait_query(ct, f"SELECT eventdata.uid FROM {store_id(store)}", 1) == rows == [["uid-0001"]]
    status = ct.get_channel(Channel=channel)["IngestionStatus"]
    assert status["LatestIngestionErrorCode"] == "InvalidRecipient"
    assert status["LatestIngestionSuccessEventID"] == resp["successful"][0]["eventID"]
    # Every event refused is still a 200 with an empty successful list.
    resp = data.put_audit_events(channelArn=channel, auditEvents=[cases[0][0]])
    assert resp["successful"] == [] and resp["failed"][0]["errorCode"] == "InvalidChecksum"


def test_whole_request_errors_have_their_exact_names(tmp_path):
    srv = Server(data_dir=str(tmp_path), config_toml=FAST + f'''
[[principals]]
user_name = "alice"
account_id = "{OTHER_ACCOUNT}"
access_key_id = "{ALICE_KEY}"
secret_access_key = "{ALICE_SECRET}"
''').start()
    try:
        ct, data = srv.client(), srv.client("cloudtrail-data")
        store = activity_store(ct, "activity")
        channel = ct.create_channel(Name="chan", Source="Custom", Destinations=destination(store))["ChannelArn"]
        one = [audit_event(1)]
        assert code(lambda: data.put_audit_events(channelArn=f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/t",
                                                  auditEvents=one)) == "InvalidChannelARN"
        assert code(lambda: data.put_audit_events(channelArn="arn:aws:cloudtrail", auditEvents=one)) == "InvalidChannelARN"
        assert code(lambda: data.put_audit_events(
            channelArn=f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:channel/{MISSING_ID}", auditEvents=one)) == "ChannelNotFound"
        assert code(lambda: srv.client("cloudtrail-data", region="eu-west-1").put_audit_events(
            channelArn=channel, auditEvents=one)) == "ChannelNotFound"
        alice = srv.client("cloudtrail-data", key=ALICE_KEY, secret=ALICE_SECRET)
        assert code(lambda: alice.put_audit_events(channelArn=channel, auditEvents=one)) == "ChannelInsufficientPermission"
        assert code(lambda: data.put_audit_events(channelArn=channel, auditEvents=[audit_event(1), audit_event(1)])) \
            == "DuplicatedAuditEventId"
        raw = unchecked(srv, "cloudtrail-data")
        assert code(lambda: raw.put_audit_events(channelArn=channel, auditEvents=[audit_event(i) for i in range(101)])) \
            == "ValidationException"
        assert code(lambda: raw.put_audit_events(channelArn=channel, auditEvents=[])) == "ValidationException"
        assert code(lambda: raw.put_audit_events(channelArn=channel, auditEvents=[dict(audit_event(1), id="has space")])) \
            == "ValidationException"
        assert code(lambda: raw.put_audit_events(channelArn=channel, auditEvents=[{"id": "x"}])) == "ValidationException"
        assert code(lambda: raw.put_audit_events(channelArn=channel, externalId="x", auditEvents=one)) \
            == "ValidationException"
        assert code(lambda: raw.put_audit_events(channelArn=channel, externalId="semi;colon", auditEvents=one)) \
            == "ValidationException"
        big = [audit_event(i, additionalEventData={"pad": "x" * 20000}) for i in range(60)]
        assert code(lambda: raw.put_audit_events(channelArn=channel, auditEvents=big)) == "ValidationException"
        # The REST-JSON error shape: status, X-Amzn-ErrorType and {"message": ...}.
        body = json.dumps({"auditEvents": one}).encode()
        r = srv.signed("POST", "/PutAuditEvents", body, headers={"Content-Type": "application/json"},
                       service="cloudtrail-data", params={"channelArn": f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:channel/{MISSING_ID}"})
        assert r.status_code == 400 and r.headers["X-Amzn-ErrorType"] == "ChannelNotFound"
        assert set(r.json()) == {"message"} and MISSING_ID in r.json()["message"]
        assert r.headers.get("x-amzn-RequestId")
        r = srv.signed("GET", "/PutAuditEvents", service="cloudtrail-data", params={"channelArn": channel})
        assert r.status_code == 400 and r.headers["X-Amzn-ErrorType"] == "UnsupportedOperationException"
        r = srv.signed("POST", "/PutAuditEvents", body, headers={"Content-Type": "application/json"},
                       service="cloudtrail-data", secret="wrong-secret", params={"channelArn": channel})
        assert r.headers["X-Amzn-ErrorType"] == "InvalidSignatureException" and "message" in r.json()
        # The refusals stored nothing; each call was recorded as a data event on the channel.
        time.sleep(1)
        assert wait_query(ct, f"SELECT count(*) FROM {store_id(store)}", 1) == [["0"]]
        calls = srv.records(eventName="PutAuditEvents")
        assert {c["errorCode"] for c in calls} >= {"InvalidChannelARN", "ChannelNotFound", "ChannelInsufficientPermission",
                                                    "DuplicatedAuditEventId", "ValidationException"}
        assert all(c["eventSource"] == "cloudtrail-data.amazonaws.com" and c["managementEvent"] is False
                   and c["eventCategory"] == "Data" for c in calls)
        denied = [c for c in calls if c["errorCode"] == "ChannelInsufficientPermission"]
        assert denied[0]["userIdentity"]["userName"] == "alice" and denied[0]["recipientAccountId"] == OTHER_ACCOUNT
    finally:
        srv.close()


def test_integration_events_stay_out_of_event_history_and_trail_files(srv):
    ct, data, s3 = srv.client(), srv.client("cloudtrail-data"), srv.s3()
    s3.create_bucket(Bucket="trail-logs")
    ct.create_trail(Name="everything", S3BucketName="trail-logs")
    # Management events, and data events on channels (which PutAuditEvents calls are).
    ct.put_event_selectors(TrailName="everything", AdvancedEventSelectors=[
        {"FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}]},
        {"FieldSelectors": [{"Field": "eventCategory", "Equals": ["Data"]},
                            {"Field": "resources.type", "Equals": ["AWS::CloudTrail::Channel"]}]}])
    ct.start_logging(Name="everything")
    store = activity_store(ct, "activity")
    channel = ct.create_channel(Name="chan", Source="Custom", Destinations=destination(store))["ChannelArn"]
    resp = data.put_audit_events(channelArn=channel, auditEvents=[audit_event(i) for i in range(3)])
    event_ids = {s["eventID"] for s in resp["successful"]}
    wait_query(ct, f"SELECT eventid FROM {store_id(store)}", 3)

    def delivered():
        files = read_log_files(s3, "trail-logs")
        recs = [r for rs in files.values() for r in rs]
        return recs if any(r.get("eventName") == "PutAuditEvents" for r in recs) else None
    deadline = time.time() + 30
    while not (recs := delivered()) and time.time() < deadline:
        time.sleep(0.3)
    assert recs, "the PutAuditEvents call itself reaches the trail"
    [call] = [r for r in recs if r.get("eventName") == "PutAuditEvents"]
    assert call["resources"] == [{"ARN": channel, "accountId": ACCOUNT, "type": "AWS::CloudTrail::Channel"}]
    assert not [r for r in recs if r.get("eventCategory") == "ActivityAuditLog" or r.get("eventID") in event_ids]
    # Event history has the channel's management calls, but neither the events nor the data call.
    deadline = time.time() + 10
    while "CreateChannel" not in (names := {e["EventName"] for e in ct.lookup_events(MaxResults=50)["Events"]}) \
            and time.time() < deadline:
        time.sleep(0.2)
    assert "CreateChannel" in names and "PutAuditEvents" not in names
    for key, value in [("EventSource", "billing.example.com"), ("EventName", "Charge1"),
                       ("EventSource", "cloudtrail-data.amazonaws.com")]:
        found = ct.lookup_events(LookupAttributes=[{"AttributeKey": key, "AttributeValue": value}])["Events"]
        assert found == [], (key, value)
    for eid in event_ids:
        assert ct.lookup_events(LookupAttributes=[{"AttributeKey": "EventId", "AttributeValue": eid}])["Events"] == []


def test_accepted_events_survive_kill_9(tmp_path):
    srv = Server(data_dir=str(tmp_path), config_toml=FAST).start()
    try:
        ct = srv.client()
        store = activity_store(ct, "activity")
        channel = ct.create_channel(Name="chan", Source="Custom", Destinations=destination(store))["ChannelArn"]
        resp = srv.client("cloudtrail-data").put_audit_events(channelArn=channel,
                                                             auditEvents=[audit_event(i) for i in range(20)])
        assert len(resp["successful"]) == 20
        srv.kill()  # right after the answer: the events are in the journal, maybe not yet in the table
        srv.start()
        ct = srv.client()
        rows = wait_query(ct, f"SELECT eventid FROM {store_id(store)} ORDER BY eventid", 20)
        assert sorted(r[0] for r in rows) == sorted(s["eventID"] for s in resp["successful"])
        time.sleep(1)
        assert len(wait_query(ct, f"SELECT eventid FROM {store_id(store)}", 20)) == 20, "exactly once"
        assert ct.get_channel(Channel=channel)["Destinations"] == destination(store)
    finally:
        srv.close()


def test_the_aws_cli_lists_channels_and_puts_audit_events(srv):
    ct = srv.client()
    store = activity_store(ct, "activity")
    channel = ct.create_channel(Name="cli", Source="Custom", Destinations=destination(store))["ChannelArn"]
    out = aws(srv, "cloudtrail", "list-channels")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["Channels"] == [{"ChannelArn": channel, "Name": "cli"}]
    events = [audit_event(7), audit_event(8, recipientAccountId=OTHER_ACCOUNT)]
    out = aws(srv, "cloudtrail-data", "put-audit-events", "--channel-arn", channel,
              "--audit-events", json.dumps(events))
    assert out.returncode == 0, out.stderr
    resp = json.loads(out.stdout)
    assert [s["id"] for s in resp["successful"]] == ["src-0007"]
    assert [(f["id"], f["errorCode"]) for f in resp["failed"]] == [("src-0008", "InvalidRecipient")]
    assert wait_query(ct, f"SELECT eventdata.eventname FROM {store_id(store)}", 1) == [["Charge7"]]
    out = aws(srv, "cloudtrail-data", "put-audit-events", "--channel-arn", channel + "x",
              "--audit-events", json.dumps(events[:1]))
    assert out.returncode != 0 and "ChannelNotFound" in out.stderr
