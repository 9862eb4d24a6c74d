"""Event history: LookupEvents with AWS's semantics, checked against a brute-force filter of
the same records, plus its errors, throttling, durability and export."""
import csv
import datetime
import io
import json
import os
import subprocess
import sys
import time
import uuid

import pytest
from botocore.exceptions import ClientError

from awsref import attribute_values, in_history, parse_time
from harness import ACCOUNT, BIN, Server, record

REGION = "eu-north-1"
NOW = datetime.datetime.now(datetime.timezone.utc).replace(minute=0, second=0, microsecond=0)
DATA_END = NOW - datetime.timedelta(days=2)
QUERY_END = DATA_END + datetime.timedelta(hours=1)


def generated(seed=21, per_day=5000):
    out = subprocess.run(
        [BIN, "generate", "--out", "-", "--format", "ndjson", "--hours", "24", "--seed", str(seed),
         "--end", DATA_END.strftime("%Y-%m-%dT%H:%M:%SZ"), "--events-per-day", str(per_day),
         "--regions", f"{REGION},eu-south-1"],
        capture_output=True, text=True, check=True, timeout=120)
    recs = [json.loads(line) for line in out.stdout.splitlines()]
    base = DATA_END - datetime.timedelta(hours=30)
    for i, r in enumerate(recs):
        if i % 37 == 0:  # late-arriving old events
            r["eventTime"] = (base + datetime.timedelta(minutes=i % 300)).strftime("%Y-%m-%dT%H:%M:%SZ")
        if i % 41 == 1:  # same second as the previous record: ties fall back to arrival order
            r["eventTime"] = recs[i - 1]["eventTime"]
    return recs


def ingest_all(server, recs):
    for i in range(0, len(recs), 500):
        r = server.ingest(recs[i:i + 500])
        assert r.status_code == 200 and not r.json()["failed"], r.text[:500]


def wait_indexed(server, recs, timeout=60):
    client = server.client(region=REGION)
    last = [r for r in recs if in_history(r) and r["awsRegion"] == REGION][-1]
    deadline = time.time() + timeout
    while time.time() < deadline:
        ev = client.lookup_events(LookupAttributes=[{"AttributeKey": "EventId", "AttributeValue": last["eventID"]}])["Events"]
        if ev:
            return
        time.sleep(0.1)
    raise AssertionError("history did not catch up")


@pytest.fixture(scope="module")
def loaded():
    s = Server().start()
    recs = generated()
    ingest_all(s, recs)
    wait_indexed(s, recs)
    yield s, recs
    s.close()


def expected(recs, region=REGION, key=None, value=None, start=None, end=None):
    end = parse_time(QUERY_END.strftime("%Y-%m-%dT%H:%M:%SZ")) if end is None else end
    rows = []
    for i, r in enumerate(recs):
        if not in_history(r) or r.get("awsRegion") != region or r.get("recipientAccountId", ACCOUNT) != ACCOUNT:
            continue
        t = parse_time(r["eventTime"])
        if (start is not None and t < start) or t > end:
            continue
        if key and value not in attribute_values(r, key):
            continue
        rows.append((t, i, r["eventID"]))
    rows.sort(reverse=True)
    return [x[2] for x in rows]


def lookup_all(server, page_size=7, region=REGION, **kw):
    kw.setdefault("EndTime", QUERY_END)
    pages = server.client(region=region).get_paginator("lookup_events").paginate(
        PaginationConfig={"PageSize": page_size}, **kw)
    out = []
    for p in pages:
        assert len(p["Events"]) <= page_size
        out += [e["EventId"] for e in p["Events"]]
    return out


def sample(recs, key, n=3):
    vals = []
    for r in recs:
        if in_history(r) and r["awsRegion"] == REGION:
            for v in sorted(x for x in attribute_values(r, key) if x):
                if v not in vals:
                    vals.append(v)
    return vals[:: max(len(vals) // n, 1)][:n] if key != "ReadOnly" else vals


KEYS = ["EventId", "EventName", "ReadOnly", "Username", "ResourceType", "ResourceName", "EventSource", "AccessKeyId"]


@pytest.mark.parametrize("key", KEYS)
def test_each_attribute_filter_matches_brute_force_in_order(loaded, key):
    server, recs = loaded
    values = sample(recs, key)
    assert values, key
    for value in values:
        want = expected(recs, key=key, value=value)
        got = lookup_all(server, LookupAttributes=[{"AttributeKey": key, "AttributeValue": value}])
        assert got == want, (key, value, len(got), len(want))


def test_pagination_visits_every_event_exactly_once(loaded):
    server, recs = loaded
    want = expected(recs)
    assert len(want) > 1500
    got = lookup_all(server, page_size=7)
    assert len(got) == len(set(got)) == len(want)
    assert got == want
    assert lookup_all(server, page_size=50) == want


def test_time_bounds_are_inclusive(loaded):
    server, recs = loaded
    t = sorted(parse_time(r["eventTime"]) for r in recs if in_history(r) and r["awsRegion"] == REGION)[len(recs) // 4]
    at = datetime.datetime.fromtimestamp(t, datetime.timezone.utc)
    got = lookup_all(server, StartTime=at, EndTime=at)
    assert got and got == expected(recs, start=t, end=t)
    window = lookup_all(server, StartTime=at - datetime.timedelta(minutes=30), EndTime=at + datetime.timedelta(minutes=30))
    assert window == expected(recs, start=t - 1800, end=t + 1800)


def test_events_have_the_lookup_events_shape(loaded):
    server, recs = loaded
    by_id = {r["eventID"]: r for r in recs}
    events = server.client(region=REGION).lookup_events(EndTime=QUERY_END, MaxResults=50)["Events"]
    assert len(events) == 50
    with_resources = 0
    for e in events:
        r = by_id[e["EventId"]]
        assert json.loads(e["CloudTrailEvent"]) == r
        assert e["EventName"] == r["eventName"] and e["EventSource"] == r["eventSource"]
        assert e["EventTime"] == datetime.datetime.fromtimestamp(parse_time(r["eventTime"]), datetime.timezone.utc).astimezone(e["EventTime"].tzinfo)
        assert e["ReadOnly"] == ("true" if r["readOnly"] else "false")
        assert e.get("AccessKeyId") == r["userIdentity"].get("accessKeyId")
        assert e.get("Username") == next(iter(attribute_values(r, "Username")))
        assert e["Resources"] == [{"ResourceType": x["type"], "ResourceName": __import__("awsref").resource_name(x["ARN"])}
                                  for x in r.get("resources", [])]
        with_resources += bool(e["Resources"])
    assert with_resources > 0


def test_data_events_are_not_in_history_and_other_regions_are_separate(loaded):
    server, recs = loaded
    data = [r for r in recs if r.get("eventCategory") == "Data" and r["awsRegion"] == REGION]
    assert data
    got = server.client(region=REGION).lookup_events(
        LookupAttributes=[{"AttributeKey": "EventId", "AttributeValue": data[0]["eventID"]}])["Events"]
    assert got == []
    assert lookup_all(server, region="eu-south-1", page_size=50) == expected(recs, region="eu-south-1")


def test_insight_events_only_with_event_category_insight(server):
    ins = {"eventVersion": "1.07", "eventTime": "2026-11-20T10:01:00Z", "awsRegion": "us-east-1",
           "eventID": str(uuid.uuid4()), "eventType": "AwsCloudTrailInsight", "eventCategory": "Insight",
           "recipientAccountId": ACCOUNT, "sharedEventID": str(uuid.uuid4()),
           "insightDetails": {"state": "Start", "eventSource": "ec2.amazonaws.com", "eventName": "RunInstances",
                              "insightType": "ApiCallRateInsight", "insightContext": {"statistics": {"baseline": {"average": 1.5}, "insight": {"average": 40}}}}}
    normal = record(awsRegion="us-east-1", eventName="RunInstances", eventSource="ec2.amazonaws.com", eventTime="2026-11-20T10:02:00Z")
    assert server.ingest([ins, normal]).status_code == 200
    c = server.client()
    attrs = [{"AttributeKey": "EventName", "AttributeValue": "RunInstances"}]
    deadline = time.time() + 10
    while time.time() < deadline and not c.lookup_events(LookupAttributes=attrs, EventCategory="insight")["Events"]:
        time.sleep(0.1)
    got = c.lookup_events(LookupAttributes=attrs, EventCategory="insight")["Events"]
    assert [e["EventId"] for e in got] == [ins["eventID"]]
    assert got[0]["EventSource"] == "ec2.amazonaws.com"
    plain = c.lookup_events(LookupAttributes=attrs)["Events"]
    assert [e["EventId"] for e in plain] == [normal["eventID"]]


def test_an_event_is_visible_within_a_second(server):
    c = server.client()
    rec = record(awsRegion="us-east-1", eventTime=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
    assert server.ingest([rec]).status_code == 200
    acked = time.monotonic()
    while True:
        ev = c.lookup_events(LookupAttributes=[{"AttributeKey": "EventId", "AttributeValue": rec["eventID"]}])["Events"]
        if ev:
            break
        assert time.monotonic() - acked < 5
        time.sleep(0.01)
    assert time.monotonic() - acked < 1.0


def api_error(server, body, region=REGION):
    r = server.api("LookupEvents", body, region=region)
    assert r.status_code == 400, r.text
    return r.json()["__type"], r.json()["Message"]


@pytest.mark.parametrize("body,code", [
    ({"LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": "a"}, {"AttributeKey": "Username", "AttributeValue": "b"}]}, "InvalidLookupAttributesException"),
    ({"LookupAttributes": [{"AttributeKey": "Region", "AttributeValue": "a"}]}, "InvalidLookupAttributesException"),
    ({"LookupAttributes": [{"AttributeKey": "eventname", "AttributeValue": "a"}]}, "InvalidLookupAttributesException"),
    ({"LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": ""}]}, "InvalidLookupAttributesException"),
    ({"LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": "x" * 2001}]}, "InvalidLookupAttributesException"),
    ({"LookupAttributes": [{"AttributeKey": "ReadOnly", "AttributeValue": "maybe"}]}, "InvalidLookupAttributesException"),
    ({"EventCategory": "insight", "LookupAttributes": [{"AttributeKey": "Username", "AttributeValue": "a"}]}, "InvalidLookupAttributesException"),
    ({"StartTime": 1764000000, "EndTime": 1763999999}, "InvalidTimeRangeException"),
    ({"MaxResults": 0}, "InvalidMaxResultsException"),
    ({"MaxResults": 51}, "InvalidMaxResultsException"),
    ({"EventCategory": "management"}, "InvalidEventCategoryException"),
    ({"NextToken": "abcd"}, "InvalidNextTokenException"),
])
def test_each_bad_request_gets_its_aws_error(loaded, body, code):
    server, _ = loaded
    got, message = api_error(server, body)
    assert got == code, message
    assert len(message) > 10


def test_next_tokens_are_tamper_proof_and_bound_to_their_parameters(loaded):
    server, _ = loaded
    c = server.client(region=REGION)
    first = c.lookup_events(EndTime=QUERY_END, MaxResults=5)
    token = first["NextToken"]
    again = c.lookup_events(EndTime=QUERY_END, MaxResults=5, NextToken=token)
    assert again["Events"][0]["EventId"] not in {e["EventId"] for e in first["Events"]}
    tampered = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
    other_params = {"EndTime": QUERY_END, "MaxResults": 5, "LookupAttributes": [{"AttributeKey": "ReadOnly", "AttributeValue": "true"}]}
    for kw in ({"EndTime": QUERY_END, "NextToken": tampered}, {**other_params, "NextToken": token}):
        with pytest.raises(ClientError) as e:
            c.lookup_events(**kw)
        assert e.value.response["Error"]["Code"] == "InvalidNextTokenException"
    # A token from another region (or account) cannot read this one's events.
    with pytest.raises(ClientError) as e:
        server.client(region="eu-south-1").lookup_events(EndTime=QUERY_END, MaxResults=5, NextToken=token)
    assert e.value.response["Error"]["Code"] == "InvalidNextTokenException"


def test_throttling_when_enabled(tmp_path):
    s = Server(data_dir=str(tmp_path), config_toml="[history]\nlookup_rate_limit = 2\n").start()
    try:
        from concurrent.futures import ThreadPoolExecutor
        clients = [s.client() for _ in range(8)]

        def call(c):
            try:
                c.lookup_events(MaxResults=1)
                return "OK"
            except ClientError as e:
                return e.response["Error"]["Code"]

        # Eight calls at once: a 2-per-second limit lets two or three through.
        with ThreadPoolExecutor(8) as pool:
            codes = list(pool.map(call, clients))
        assert codes.count("ThrottlingException") >= 4 and "OK" in codes, codes
        # The SDK's standard retry mode gets through.
        import boto3, botocore.config
        retrying = boto3.client("cloudtrail", endpoint_url=s.endpoint, region_name="us-east-1",
                                aws_access_key_id=s.key, aws_secret_access_key=s.secret,
                                config=botocore.config.Config(retries={"max_attempts": 10, "mode": "standard"}))
        for _ in range(4):
            retrying.lookup_events(MaxResults=1)
    finally:
        s.close()


def test_history_survives_kill_9_and_rebuilds_when_its_index_is_lost(tmp_path):
    s = Server(data_dir=str(tmp_path)).start()
    recs = generated(seed=5, per_day=2000)
    ingest_all(s, recs)
    s.kill()
    s2 = Server(data_dir=str(tmp_path)).start()
    try:
        wait_indexed(s2, recs)
        want = expected(recs)
        assert lookup_all(s2, page_size=50) == want
        assert s2.stop() == 0
        import shutil
        shutil.rmtree(tmp_path / "history")
        s3 = Server(data_dir=str(tmp_path)).start()
        wait_indexed(s3, recs)
        assert lookup_all(s3, page_size=50) == want
        s3.close()
    finally:
        s2.close()
        s.close()


def test_aws_cli_lookup_events(loaded):
    server, recs = loaded
    value = sample(recs, "EventName")[0]
    env = dict(os.environ, AWS_ACCESS_KEY_ID=server.key, AWS_SECRET_ACCESS_KEY=server.secret,
               AWS_DEFAULT_REGION=REGION, AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null")
    out = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "aws"), "cloudtrail", "lookup-events",
         "--lookup-attributes", f"AttributeKey=EventName,AttributeValue={value}",
         "--end-time", QUERY_END.strftime("%Y-%m-%dT%H:%M:%SZ"), "--endpoint-url", server.endpoint],
        capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    events = json.loads(out.stdout)["Events"]
    assert [e["EventId"] for e in events] == expected(recs, key="EventName", value=value)
    assert all(isinstance(e["EventTime"], (int, float)) or e["EventTime"] for e in events)


def export(server, *args):
    env = dict(os.environ, AWS_ACCESS_KEY_ID=server.key, AWS_SECRET_ACCESS_KEY=server.secret, AWS_DEFAULT_REGION=REGION)
    return subprocess.run([BIN, "history", "export", "--endpoint", server.endpoint, *args],
                          capture_output=True, text=True, env=env, timeout=120)


def test_export_csv_and_json_hold_every_page(loaded, tmp_path):
    server, recs = loaded
    end = QUERY_END.strftime("%Y-%m-%dT%H:%M:%SZ")
    out = export(server, "--format", "csv", "--end-time", end, "--output", str(tmp_path / "h.csv"))
    assert out.returncode == 0, out.stderr
    want = expected(recs)
    assert f"exported {len(want)} events" in out.stderr
    rows = list(csv.reader(open(tmp_path / "h.csv", newline="")))
    assert rows[0] == ["Event ID", "Event time", "User name", "Event name", "Resource type", "Resource name",
                       "AWS access key", "AWS region", "Error code", "Source IP address", "Resources"]
    assert [r[0] for r in rows[1:]] == want
    by_id = {r["eventID"]: r for r in recs}
    for row in rows[1:200]:
        r = by_id[row[0]]
        assert row[1] == r["eventTime"] and row[3] == r["eventName"] and row[7] == r["awsRegion"]
        assert row[8] == r.get("errorCode", "") and row[9] == r["sourceIPAddress"]

    key_value = sample(recs, "Username")[0]
    out = export(server, "--format", "json", "--end-time", end, "--lookup-attribute", f"Username={key_value}")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert [r["eventID"] for r in doc["Records"]] == expected(recs, key="Username", value=key_value)
    assert doc["Records"][0] == by_id[doc["Records"][0]["eventID"]]

    empty = export(server, "--format", "json", "--lookup-attribute", "EventName=NoSuchEvent")
    assert json.loads(empty.stdout) == {"Records": []}
    bad = export(server, "--lookup-attribute", "Color=red")
    assert bad.returncode != 0 and "InvalidLookupAttributesException" in bad.stderr
