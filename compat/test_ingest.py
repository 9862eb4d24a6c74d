"""Native ingest of full CloudTrail records: shapes, per-record results, round trips."""
import copy
import json

from harness import record


def test_log_file_shape_round_trips_unchanged(server):
    sent = [record(), record(eventName="DeleteBucket", readOnly=False), record(eventCategory="Data", managementEvent=False)]
    sent[1]["someFutureMember"] = {"nested": [1, 2.5, None, True]}
    r = server.ingest(sent)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["failed"] == []
    assert [s["index"] for s in body["successful"]] == [0, 1, 2]
    assert [s["eventID"] for s in body["successful"]] == [x["eventID"] for x in sent]
    by_id = {rec.get("eventID"): rec for _, rec in server.journal()}
    for s in sent:
        assert by_id[s["eventID"]] == s


def test_gzip_and_ndjson_bodies(server):
    a, b = record(), record()
    r = server.ingest([a], gzip_body=True)
    assert r.status_code == 200 and len(r.json()["successful"]) == 1, r.text
    r = server.ingest([b, record()], ndjson=True, gzip_body=True)
    assert r.status_code == 200 and len(r.json()["successful"]) == 2, r.text
    ids = {rec.get("eventID") for _, rec in server.journal()}
    assert a["eventID"] in ids and b["eventID"] in ids


def test_bad_records_are_refused_one_by_one_without_blocking_the_others(server):
    good1, good2 = record(), record()
    no_time = record()
    del no_time["eventTime"]
    bad_time = record(eventTime="25/11/2026 10:00")
    no_id = record()
    del no_id["eventID"]
    big = record(requestParameters={"blob": "x" * 300_000})
    bad_type = record(readOnly="yes")
    batch = [good1, no_time, bad_time, no_id, big, bad_type, good2]
    r = server.ingest(batch)
    assert r.status_code == 200, r.text
    body = r.json()
    failed = {f["index"]: f for f in body["failed"]}
    assert failed[1]["errorCode"] == "FieldNotFound" and "eventTime" in failed[1]["errorMessage"]
    assert failed[2]["errorCode"] == "InvalidData" and "event time" in failed[2]["errorMessage"]
    assert failed[4]["errorCode"] == "FieldTooLong"
    assert failed[5]["errorCode"] == "InvalidData" and "boolean" in failed[5]["errorMessage"]
    ok = {s["index"]: s["eventID"] for s in body["successful"]}
    assert set(ok) == {0, 3, 6}
    assert ok[0] == good1["eventID"] and ok[6] == good2["eventID"]
    assigned = ok[3]
    assert len(assigned) == 36
    stored = {rec.get("eventID"): rec for _, rec in server.journal()}
    assert good1["eventID"] in stored and good2["eventID"] in stored
    expected = copy.deepcopy(no_id)
    expected["eventID"] = assigned
    assert stored[assigned] == expected
    assert no_time["eventID"] not in stored and big["eventID"] not in stored


def test_a_bad_ndjson_line_only_fails_that_line(server):
    good = record()
    r = server.ingest([json.dumps(good), "{not json", "[1]"], ndjson=True)
    body = r.json()
    assert [f["index"] for f in body["failed"]] == [1, 2]
    assert body["failed"][0]["errorCode"] == "InvalidData"
    assert [s["eventID"] for s in body["successful"]] == [good["eventID"]]


def test_whole_request_errors(server):
    r = server.signed("POST", "/_opentrail/ingest", b'{"Records": [', headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["__type"] == "SerializationException"
    r = server.signed("POST", "/_opentrail/ingest", b'{"Records": []}', headers={"Content-Type": "application/json"})
    assert r.json()["__type"] == "ValidationException"
    r = server.signed("POST", "/_opentrail/ingest", b"x", headers={"Content-Type": "application/json", "Content-Encoding": "br"})
    assert r.status_code == 415
    r = server.ingest([record()], service="cloudtrail")
    assert r.json()["__type"] == "InvalidSignatureException"
    # None of those stored a record; each was recorded as a refused IngestRecords call.
    calls = server.records(eventName="IngestRecords")
    assert len(calls) == 4 and all("errorCode" in c for c in calls)
    assert not [r for _, r in server.journal() if r.get("eventSource") == "s3.amazonaws.com"]


def test_ingest_calls_are_recorded(server):
    r = server.ingest([record(), record(eventTime="bad")], region="ca-central-1")
    [call] = server.records(eventName="IngestRecords")
    assert call["requestID"] == r.headers["x-amzn-RequestId"]
    assert call["eventSource"] == "opentrail.amazonaws.com"
    assert call["awsRegion"] == "ca-central-1"
    assert call["eventCategory"] == "Data" and call["managementEvent"] is False
    assert call["requestParameters"] == {"records": 2, "contentType": "application/json", "contentEncoding": None}
    assert call["responseElements"] == {"accepted": 1, "failed": 1}
    assert call["userIdentity"]["type"] == "Root"
