"""Importing AWS CloudTrail log files into an event data store, with boto3, the aws CLI and
`opentrail import`: from a folder and from an s3:// location in the embedded store, answers of
StartQuery checked against a brute-force reading of the same files, re-imports that add
nothing, StopImport and resumption, a kill -9 in the middle, failures listed per file, and
every refusal with its exact exception name."""
import collections
import datetime
import gzip
import json
import os
import shutil
import subprocess
import sys
import time

import boto3
import botocore.config
import pytest
from botocore.exceptions import ClientError

from harness import ACCOUNT, BIN, Server

REGION = "us-east-1"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/import"
INSIGHT_SELECTORS = [{"FieldSelectors": [{"Field": "eventCategory", "Equals": ["Insight"]}]}]
MISSING_ID = "00000000-0000-4000-8000-000000000000"


def code(call):
    with pytest.raises(ClientError) as e:
        call()
    return e.value.response["Error"]["Code"]


def unchecked(srv):
    """A client that sends values boto3 itself would refuse."""
    return boto3.client("cloudtrail", endpoint_url=srv.endpoint, region_name=REGION,
                        aws_access_key_id=srv.key, aws_secret_access_key=srv.secret,
                        config=botocore.config.Config(parameter_validation=False, retries={"max_attempts": 1}))


def generate(out, hours, seed, per_file=100, events_per_day=50000):
    r = subprocess.run([BIN, "generate", "--out", str(out), "--hours", str(hours), "--seed", str(seed),
                        "--end", "2026-11-20T12:00:00Z", "--regions", "us-east-1,eu-west-1",
                        "--max-records-per-file", str(per_file), "--events-per-day", str(events_per_day)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr


def log_records(root):
    """Every record of every trail log file under `root`, read the slow, obvious way."""
    out = []
    for d, _, names in os.walk(root):
        if "CloudTrail-Digest" in d:
            continue
        for n in sorted(names):
            if n.endswith(".json.gz"):
                with gzip.open(os.path.join(d, n)) as f:
                    out += json.load(f)["Records"]
    return out


def source(uri):
    return {"S3": {"S3LocationUri": uri, "S3BucketRegion": REGION, "S3BucketAccessRoleArn": ROLE}}


def wait_import(ct, import_id, timeout=300):
    deadline = time.time() + timeout
    while time.time() < deadline:
        imp = ct.get_import(ImportId=import_id)
        if imp["ImportStatus"] not in ("INITIALIZING", "IN_PROGRESS"):
            return imp
        time.sleep(0.2)
    raise AssertionError("import did not end")


def query(ct, sql):
    qid = ct.start_query(QueryStatement=sql)["QueryId"]
    deadline = time.time() + 120
    while time.time() < deadline:
        d = ct.describe_query(QueryId=qid)
        if d["QueryStatus"] not in ("QUEUED", "RUNNING"):
            break
        time.sleep(0.1)
    assert d["QueryStatus"] == "FINISHED", d
    rows, token = [], None
    while True:
        kw = {"QueryId": qid}
        if token:
            kw["NextToken"] = token
        r = ct.get_query_results(**kw)
        rows += [[list(c.values())[0] for c in row] for row in r["QueryResultRows"]]
        token = r.get("NextToken")
        if not token:
            return rows


def counts(ct, store):
    n, distinct = query(ct, f"SELECT count(*), count(DISTINCT eventid) FROM {store}")[0]
    return int(n), int(distinct)


def new_store(ct, name):
    """A store that takes no live events, so it holds exactly what is imported (all of it: the
    store's selectors, here the default management events, do not apply to imports)."""
    arn = ct.create_event_data_store(Name=name, StartIngestion=False)["EventDataStoreArn"]
    return arn, arn.rsplit("/", 1)[1]


@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    root = tmp_path_factory.mktemp("logs")
    generate(root, hours=6, seed=7)
    return root, log_records(root)


@pytest.fixture
def srv(tmp_path):
    s = Server(data_dir=str(tmp_path / "data")).start()
    yield s
    s.close()


def test_a_folder_imports_exactly_its_events_and_a_reimport_adds_nothing(srv, logs):
    root, records = logs
    ct = srv.client()
    arn, store = new_store(ct, "from-folder")
    started = ct.start_import(Destinations=[arn], ImportSource=source(str(root)))
    assert started["ImportStatus"] == "INITIALIZING"
    assert started["Destinations"] == [arn]
    assert started["ImportSource"] == source(str(root))
    assert "ImportStatistics" not in started
    imp = wait_import(ct, started["ImportId"])
    assert imp["ImportStatus"] == "COMPLETED", ct.list_import_failures(ImportId=started["ImportId"])
    stats = imp["ImportStatistics"]
    files = sum(len([n for n in names if n.endswith(".json.gz")]) for d, _, names in os.walk(root))
    folders = sum(1 for d, _, names in os.walk(root) if any(n.endswith(".json.gz") for n in names))
    assert stats == {"PrefixesFound": folders, "PrefixesCompleted": folders, "FilesCompleted": files,
                     "EventsCompleted": len(records), "FailedEntries": 0}
    assert imp["CreatedTimestamp"] <= imp["UpdatedTimestamp"]

    assert counts(ct, store) == (len(records), len(records))
    want = collections.Counter((r["eventSource"], r["eventName"]) for r in records)
    got = query(ct, f"SELECT eventsource, eventname, count(*) FROM {store} GROUP BY 1, 2")
    assert {(s, n): int(c) for s, n, c in got} == dict(want)
    by_user = collections.Counter(r["userIdentity"].get("arn") for r in records if r.get("errorCode"))
    got = query(ct, f"SELECT useridentity.arn, count(*) FROM {store} WHERE errorcode IS NOT NULL GROUP BY 1")
    assert {a: int(c) for a, c in got} == dict(by_user)
    one = records[len(records) // 2]
    [[eventjson, region]] = query(ct, f"SELECT eventjson, awsregion FROM {store} WHERE eventid = '{one['eventID']}'")
    assert json.loads(eventjson) == one and region == one["awsRegion"]

    # Imported events go to the store only: not the event history.
    assert ct.lookup_events(LookupAttributes=[{"AttributeKey": "EventId",
                                               "AttributeValue": one["eventID"]}])["Events"] == []

    again = wait_import(ct, ct.start_import(Destinations=[arn], ImportSource=source(f"file://{root}"))["ImportId"])
    assert again["ImportStatus"] == "COMPLETED"
    assert again["ImportStatistics"]["EventsCompleted"] == 0
    assert again["ImportStatistics"]["FilesCompleted"] == files
    assert counts(ct, store) == (len(records), len(records))

    listed = ct.list_imports()["Imports"]
    assert [i["ImportId"] for i in listed] == [again["ImportId"], imp["ImportId"]]
    assert set(listed[0]) == {"ImportId", "ImportStatus", "Destinations", "CreatedTimestamp", "UpdatedTimestamp"}
    page = ct.list_imports(MaxResults=1)
    assert len(page["Imports"]) == 1
    assert ct.list_imports(MaxResults=1, NextToken=page["NextToken"])["Imports"][0]["ImportId"] == imp["ImportId"]
    assert [i["ImportId"] for i in ct.list_imports(Destination=arn, ImportStatus="COMPLETED")["Imports"]] == \
        [again["ImportId"], imp["ImportId"]]
    assert ct.list_imports(ImportStatus="FAILED")["Imports"] == []


def test_an_s3_location_of_the_embedded_store_with_a_time_range(srv, logs):
    root, records = logs
    ct, s3 = srv.client(), srv.s3()
    s3.create_bucket(Bucket="old-trail")
    for d, _, names in os.walk(root):
        for n in names:
            path = os.path.join(d, n)
            with open(path, "rb") as f:
                s3.put_object(Bucket="old-trail", Key="archive/" + os.path.relpath(path, root), Body=f.read())
    # Not log files of the trail: skipped.
    s3.put_object(Bucket="old-trail", Key=f"archive/AWSLogs/{ACCOUNT}/CloudTrail-Digest/us-east-1/2026/11/20/d.json.gz",
                  Body=gzip.compress(json.dumps({"Records": [dict(records[0], eventID="digest")]}).encode()))
    s3.put_object(Bucket="old-trail", Key="archive/notes.txt", Body=b"hello")

    arn, store = new_store(ct, "from-s3")
    lo = datetime.datetime(2026, 11, 20, 8, 0, tzinfo=datetime.timezone.utc)
    hi = datetime.datetime(2026, 11, 20, 9, 30, tzinfo=datetime.timezone.utc)
    imp = wait_import(ct, ct.start_import(Destinations=[arn], ImportSource=source("s3://old-trail/archive/"),
                                          StartEventTime=lo, EndEventTime=hi)["ImportId"])
    assert imp["ImportStatus"] == "COMPLETED"
    assert imp["StartEventTime"] == lo and imp["EndEventTime"] == hi
    inside = [r for r in records if lo.strftime("%Y-%m-%dT%H:%M:%SZ") <= r["eventTime"] <= hi.strftime("%Y-%m-%dT%H:%M:%SZ")]
    assert 0 < len(inside) < len(records)
    assert counts(ct, store) == (len(inside), len(inside))
    assert imp["ImportStatistics"]["EventsCompleted"] == len(inside)
    got = query(ct, f"SELECT min(eventtime), max(eventtime) FROM {store}")[0]
    assert got[0] >= "2026-11-20 08:00:00" and got[1] <= "2026-11-20 09:30:00.000", got


def test_failures_are_listed_per_file_and_the_import_goes_on(srv, logs, tmp_path):
    root, records = logs
    folder = tmp_path / "mixed"
    shutil.copytree(root, folder)
    day = next(d for d, _, names in os.walk(folder) if any(n.endswith(".json.gz") for n in names))
    with open(os.path.join(day, "zz-torn.json.gz"), "wb") as f:
        f.write(gzip.compress(b'{"Records": []}')[:10])
    with open(os.path.join(day, "zz-text.json"), "w") as f:
        f.write("this is not json")
    ct = srv.client()
    arn, store = new_store(ct, "mixed")
    imp = wait_import(ct, ct.start_import(Destinations=[arn], ImportSource=source(str(folder)))["ImportId"])
    assert imp["ImportStatus"] == "FAILED"
    assert imp["ImportStatistics"]["FailedEntries"] == 2
    assert counts(ct, store) == (len(records), len(records)), "the good files are imported"
    failures = ct.list_import_failures(ImportId=imp["ImportId"])["Failures"]
    assert [(f["Location"].rsplit("/", 1)[1], f["Status"], f["ErrorType"]) for f in failures] == [
        ("zz-text.json", "FAILED", "InvalidJson"), ("zz-torn.json.gz", "FAILED", "InvalidGzip")]
    assert failures[0]["Location"] == os.path.join(day, "zz-text.json")
    assert all(f["ErrorMessage"] and isinstance(f["LastUpdatedTime"], datetime.datetime) for f in failures)
    first = ct.list_import_failures(ImportId=imp["ImportId"], MaxResults=1)
    assert len(first["Failures"]) == 1
    rest = ct.list_import_failures(ImportId=imp["ImportId"], MaxResults=1, NextToken=first["NextToken"])
    assert rest["Failures"] == failures[1:] and "NextToken" not in rest

    # Fixed files, then StartImport with the id retries: nothing doubles.
    os.remove(os.path.join(day, "zz-torn.json.gz"))
    with open(os.path.join(day, "zz-text.json"), "w") as f:
        json.dump({"Records": [dict(records[0], eventID="11111111-2222-4333-8444-555555555555")]}, f)
    retried = ct.start_import(ImportId=imp["ImportId"])
    assert retried["ImportId"] == imp["ImportId"]
    done = wait_import(ct, imp["ImportId"])
    assert done["ImportStatus"] == "COMPLETED"
    assert ct.list_import_failures(ImportId=imp["ImportId"])["Failures"] == []
    assert counts(ct, store) == (len(records) + 1, len(records) + 1)


def test_stop_and_resume_and_a_kill_in_the_middle(tmp_path):
    big = tmp_path / "big"
    generate(big, hours=24, seed=5, per_file=40, events_per_day=100000)
    records = log_records(big)
    srv = Server(data_dir=str(tmp_path / "data")).start()
    try:
        ct = srv.client()
        arn, store = new_store(ct, "big")
        import_id = ct.start_import(Destinations=[arn], ImportSource=source(str(big)))["ImportId"]
        time.sleep(0.3)
        stopped = ct.stop_import(ImportId=import_id)
        assert stopped["ImportStatus"] == "STOPPED", stopped
        assert "ImportStatistics" in stopped
        time.sleep(1)
        assert ct.get_import(ImportId=import_id)["ImportStatus"] == "STOPPED"
        assert ct.stop_import(ImportId=import_id)["ImportStatus"] == "STOPPED"
        n, distinct = counts(ct, store)
        assert n == distinct < len(records)

        assert ct.start_import(ImportId=import_id)["ImportStatus"] == "IN_PROGRESS"
        # Crash once some of it is committed; the restarted server carries on by itself.
        deadline = time.time() + 120
        while ct.get_import(ImportId=import_id)["ImportStatistics"]["EventsCompleted"] <= n:
            assert time.time() < deadline
            time.sleep(0.05)
        srv.kill()
        srv.start()
        ct = srv.client()
        assert ct.get_import(ImportId=import_id)["ImportStatus"] == "IN_PROGRESS"
        done = wait_import(ct, import_id)
        assert done["ImportStatus"] == "COMPLETED"
        assert done["ImportStatistics"]["EventsCompleted"] == len(records)
        assert counts(ct, store) == (len(records), len(records))
        assert code(lambda: ct.stop_import(ImportId=import_id)) == "InvalidParameterException"
        assert code(lambda: ct.start_import(ImportId=import_id)) == "InvalidParameterException"
    finally:
        srv.close()


def test_refusals_name_the_aws_exception(srv, logs, tmp_path):
    root, _ = logs
    ct, raw = srv.client(), unchecked(srv)
    arn, store = new_store(ct, "target")
    src = source(str(root))
    assert code(lambda: ct.start_import(Destinations=[arn[:-4] + "0000"], ImportSource=src)) == \
        "EventDataStoreNotFoundException"
    assert code(lambda: ct.start_import(Destinations=["arn:aws:s3:::bucket"], ImportSource=src)) == \
        "EventDataStoreARNInvalidException"
    assert code(lambda: ct.start_import(Destinations=[store], ImportSource=src)) == \
        "EventDataStoreARNInvalidException"
    assert code(lambda: raw.start_import(Destinations=[arn, arn], ImportSource=src)) == "InvalidParameterException"
    assert code(lambda: ct.start_import(ImportSource=src)) == "InvalidParameterException"
    assert code(lambda: ct.start_import(Destinations=[arn])) == "InvalidParameterException"
    assert code(lambda: ct.start_import(Destinations=[arn], ImportSource=src,
                                        StartEventTime=datetime.datetime(2026, 2, 1),
                                        EndEventTime=datetime.datetime(2026, 1, 1))) == "InvalidParameterException"
    for uri in ("s3://no-such-bucket/AWSLogs/", "ftp://host/x", "relative/dir", str(tmp_path / "missing")):
        assert code(lambda: ct.start_import(Destinations=[arn], ImportSource=source(uri))) == \
            "InvalidImportSourceException", uri
    insights = ct.create_event_data_store(Name="insights", AdvancedEventSelectors=INSIGHT_SELECTORS)
    assert code(lambda: ct.start_import(Destinations=[insights["EventDataStoreArn"]], ImportSource=src)) == \
        "InvalidEventDataStoreCategoryException"
    doomed = ct.create_event_data_store(Name="doomed", TerminationProtectionEnabled=False)["EventDataStoreArn"]
    ct.delete_event_data_store(EventDataStore=doomed)
    assert code(lambda: ct.start_import(Destinations=[doomed], ImportSource=src)) == "InactiveEventDataStoreException"

    assert code(lambda: ct.get_import(ImportId=MISSING_ID)) == "ImportNotFoundException"
    assert code(lambda: ct.stop_import(ImportId=MISSING_ID)) == "ImportNotFoundException"
    assert code(lambda: ct.start_import(ImportId=MISSING_ID)) == "ImportNotFoundException"
    assert code(lambda: raw.get_import(ImportId="not-an-id")) == "InvalidParameterException"
    assert code(lambda: ct.list_import_failures(ImportId=MISSING_ID)) == "InvalidParameterException"
    assert code(lambda: raw.list_imports(ImportStatus="DONE")) == "InvalidParameterException"
    assert code(lambda: raw.list_imports(MaxResults=0)) == "InvalidParameterException"
    assert code(lambda: ct.list_imports(Destination="not-an-arn")) == "EventDataStoreARNInvalidException"
    assert code(lambda: ct.list_imports(NextToken="garbage-token")) == "InvalidNextTokenException"
    assert code(lambda: raw.get_import()) == "ValidationException"

    # One import at a time per account; the store cannot be deleted meanwhile.
    big = tmp_path / "big"
    generate(big, hours=12, seed=9, per_file=20)
    running = ct.start_import(Destinations=[arn], ImportSource=source(str(big)))["ImportId"]
    assert code(lambda: ct.start_import(Destinations=[arn], ImportSource=src)) == "AccountHasOngoingImportException"
    assert code(lambda: ct.delete_event_data_store(EventDataStore=arn)) == "EventDataStoreHasOngoingImportException"
    ct.stop_import(ImportId=running)
    assert ct.get_import(ImportId=running)["ImportStatus"] == "STOPPED"


def test_the_aws_cli_and_opentrail_import(srv, logs, tmp_path):
    root, records = logs
    ct = srv.client()
    arn, store = new_store(ct, "cli")
    env = dict(os.environ, AWS_ACCESS_KEY_ID=srv.key, AWS_SECRET_ACCESS_KEY=srv.secret,
               AWS_DEFAULT_REGION=REGION, AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null")
    out = subprocess.run([BIN, "import", str(root), "--event-data-store", store, "--endpoint", srv.endpoint],
                         capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "COMPLETED" in out.stdout and f"{len(records)} events" in out.stdout, out.stdout
    assert "IN_PROGRESS" in out.stderr or "INITIALIZING" in out.stderr, out.stderr
    assert counts(ct, store) == (len(records), len(records))

    bad = tmp_path / "bad"
    os.makedirs(bad / "AWSLogs" / ACCOUNT / "CloudTrail" / "us-east-1" / "2026" / "11" / "20")
    broken = bad / "AWSLogs" / ACCOUNT / "CloudTrail" / "us-east-1" / "2026" / "11" / "20" / "x.json.gz"
    broken.write_bytes(b"not gzip")
    out = subprocess.run([BIN, "import", str(bad), "--event-data-store", arn, "--endpoint", srv.endpoint],
                         capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "FAILED" in out.stdout and str(broken) in out.stdout and "InvalidGzip" in out.stdout, out.stdout
    assert "--import-id" in out.stderr

    out = subprocess.run([BIN, "import", "--help"], capture_output=True, text=True)
    assert "--event-data-store" in out.stdout and "s3://" in out.stdout and "--import-id" in out.stdout

    aws = os.path.join(os.path.dirname(sys.executable), "aws")
    listed = subprocess.run([aws, "cloudtrail", "list-imports", "--endpoint-url", srv.endpoint, "--output", "json"],
                            capture_output=True, text=True, env=env, timeout=60)
    assert listed.returncode == 0, listed.stderr
    assert len(json.loads(listed.stdout)["Imports"]) == 2
