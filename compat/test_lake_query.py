"""CloudTrail Lake queries with boto3 against a running server: events flow from the journal
into an event data store's Delta table, StartQuery/GetQueryResults/DescribeQuery/ListQueries/
CancelQuery answer as AWS does, answers are checked against a count over the events sent, and
the table reads the same with an engine that is not opentrail (the `deltalake` package and
DuckDB)."""
import collections
import datetime
import os
import random
import time
import uuid

import boto3
import botocore.config
import pytest
from botocore.exceptions import ClientError

from harness import ACCOUNT, Server, record

USERS = ["alice", "bob", "carol", "dave"]
NAMES = ["GetObject", "PutObject", "DescribeInstances", "AssumeRole", "ConsoleLogin", "CreateUser"]


def code(call):
    with pytest.raises(ClientError) as e:
        call()
    return e.value.response["Error"]["Code"]


def events(n, seed=3):
    rnd = random.Random(seed)
    start = datetime.datetime(2026, 11, 20, tzinfo=datetime.timezone.utc)
    out = []
    for i in range(n):
        user = rnd.choice(USERS)
        name = rnd.choice(NAMES)
        t = start + datetime.timedelta(seconds=37 * i)
        out.append(record(
            eventID=str(uuid.UUID(int=rnd.getrandbits(128))),
            eventTime=t.strftime("%Y-%m-%dT%H:%M:%SZ"),
            eventName=name,
            awsRegion=rnd.choice(["us-east-1", "eu-west-1"]),
            readOnly=name.startswith(("Get", "Describe")),
            errorCode=rnd.choice([None, None, None, "AccessDenied"]),
            sourceIPAddress=f"10.0.{rnd.randrange(4)}.{rnd.randrange(255)}",
            userIdentity={"type": "IAMUser", "principalId": f"AIDA{user.upper()}", "userName": user,
                          "arn": f"arn:aws:iam::{ACCOUNT}:user/{user}", "accountId": ACCOUNT,
                          "accessKeyId": f"AKIA{user.upper():0<16}"},
        ))
    return out


def wait_query(ct, qid, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        d = ct.describe_query(QueryId=qid)
        if d["QueryStatus"] not in ("QUEUED", "RUNNING"):
            return d
        time.sleep(0.1)
    raise AssertionError("query did not end")


def rows_of(ct, qid, page=1000):
    rows, token = [], None
    while True:
        kw = {"QueryId": qid, "MaxQueryResults": page}
        if token:
            kw["NextToken"] = token
        r = ct.get_query_results(**kw)
        assert r["QueryStatus"] == "FINISHED", r
        rows += [[list(c.values())[0] for c in row] for row in r["QueryResultRows"]]
        token = r.get("NextToken")
        if not token:
            return rows, r


def query(ct, sql):
    qid = ct.start_query(QueryStatement=sql)["QueryId"]
    d = wait_query(ct, qid)
    assert d["QueryStatus"] == "FINISHED", d
    return rows_of(ct, qid)[0]


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    srv = Server(data_dir=str(tmp_path_factory.mktemp("lake"))).start()
    ct = srv.client()
    eds = ct.create_event_data_store(Name="all-events")
    store = eds["EventDataStoreArn"].rsplit("/", 1)[1]
    time.sleep(1.5)  # the store takes events from its creation on
    sent = events(3000)
    for i in range(0, len(sent), 500):
        assert srv.ingest(sent[i:i + 500]).status_code == 200
    # Within seconds the events are queryable.
    deadline = time.time() + 60
    while time.time() < deadline:
        n = int(query(ct, f"SELECT count(*) FROM {store} WHERE eventsource = 's3.amazonaws.com'")[0][0])
        if n >= len(sent):
            break
        time.sleep(0.5)
    assert n == len(sent)
    yield srv, ct, store, sent, eds
    srv.close()


def test_queries_answer_what_the_events_say(lake):
    srv, ct, store, sent, _ = lake
    # Top APIs.
    want = collections.Counter(e["eventName"] for e in sent)
    got = query(ct, f"SELECT eventName, COUNT(*) AS c FROM {store} WHERE eventSource = 's3.amazonaws.com' "
                    "GROUP BY eventName ORDER BY c DESC, eventName")
    assert [(n, int(c)) for n, c in got] == sorted(want.items(), key=lambda x: (-x[1], x[0]))
    # Errors by user (struct access).
    want = collections.Counter(e["userIdentity"]["userName"] for e in sent if e["errorCode"])
    got = query(ct, f"SELECT useridentity.username, count(*) FROM {store} WHERE errorcode IS NOT NULL "
                    "AND eventsource = 's3.amazonaws.com' GROUP BY 1 ORDER BY 1")
    assert [(u, int(c)) for u, c in got] == sorted(want.items())
    # Activity of one access key in a time window, newest first.
    key = sent[10]["userIdentity"]["accessKeyId"]
    lo, hi = sent[100]["eventTime"], sent[900]["eventTime"]
    want = [e["eventID"] for e in sent if e["userIdentity"]["accessKeyId"] == key and lo <= e["eventTime"] <= hi]
    got = query(ct, f"SELECT eventid FROM {store} WHERE useridentity.accesskeyid = '{key}' AND "
                    f"eventtime BETWEEN '{lo.replace('T', ' ').rstrip('Z')}' AND '{hi.replace('T', ' ').rstrip('Z')}' "
                    "ORDER BY eventtime DESC")
    assert [r[0] for r in got] == list(reversed(want))
    # Calls from an IP range, hourly counts, Trino functions.
    want = collections.Counter(e["eventTime"][:13] for e in sent if e["sourceIPAddress"].startswith("10.0.2."))
    got = query(ct, f"SELECT date_trunc('hour', eventtime) AS h, count(*) FROM {store} "
                    "WHERE regexp_like(sourceipaddress, '^10\\.0\\.2\\.') AND eventsource = 's3.amazonaws.com' "
                    "GROUP BY 1 ORDER BY 1")
    assert [(h[:13].replace(" ", "T"), int(c)) for h, c in got] == sorted(want.items())
    got = query(ct, f"SELECT json_extract_scalar(eventjson, '$.userIdentity.userName') AS u, "
                    f"approx_distinct(eventname) FROM {store} WHERE eventsource = 's3.amazonaws.com' GROUP BY 1 ORDER BY 1")
    assert [r[0] for r in got] == sorted(USERS)
    # Maps and arrays keep their shape.
    got = query(ct, f"SELECT requestparameters['bucketName'], cardinality(resources), resources[1].arn "
                    f"FROM {store} WHERE eventid = '{sent[0]['eventID']}'")
    assert got == [["audit-logs", "1", "arn:aws:s3:::audit-logs"]]


def test_results_page_and_statistics_are_measured(lake):
    srv, ct, store, sent, _ = lake
    qid = ct.start_query(QueryStatement=f"SELECT eventid, eventtime FROM {store} "
                                        "WHERE readonly = true AND eventsource = 's3.amazonaws.com' ORDER BY eventid")["QueryId"]
    d = wait_query(ct, qid)
    ro = sorted(e["eventID"] for e in sent if e["readOnly"])
    stats = d["QueryStatistics"]
    assert stats["EventsScanned"] >= len(sent) and stats["EventsMatched"] == len(ro)
    assert stats["BytesScanned"] > 0 and stats["ExecutionTimeInMillis"] >= 0
    assert isinstance(stats["CreationTime"], datetime.datetime)
    assert d["QueryString"].startswith("SELECT eventid") and d["QueryId"] == qid
    rows, last = rows_of(ct, qid, page=100)
    assert [r[0] for r in rows] == ro
    assert last["QueryStatistics"]["TotalResultsCount"] == len(ro)
    first = ct.get_query_results(QueryId=qid, MaxQueryResults=7)
    assert first["QueryStatistics"]["ResultsCount"] == 7 and "NextToken" in first
    assert list(first["QueryResultRows"][0][1].keys()) == ["eventtime"]
    assert first["QueryResultRows"][0][1]["eventtime"][10] == " "
    listed = ct.list_queries(EventDataStore=store)["Queries"]
    assert qid in [q["QueryId"] for q in listed]
    assert all(q["QueryStatus"] in ("FINISHED", "CANCELLED", "FAILED") for q in listed)
    assert ct.list_queries(EventDataStore=store, QueryStatus="RUNNING")["Queries"] == []


def test_bad_queries_and_requests_get_aws_errors(lake):
    srv, ct, store, sent, eds = lake
    for sql in [f"DELETE FROM {store}", f"DROP TABLE {store}", f"SELECT nosuch FROM {store}",
                f"SELEC * FROM {store}", "SELECT 1", f"SELECT * FROM {store}; SELECT 1"]:
        assert code(lambda: ct.start_query(QueryStatement=sql)) == "InvalidQueryStatementException", sql
    assert code(lambda: ct.start_query(QueryStatement="SELECT * FROM 00000000-0000-4000-8000-000000000000")) \
        == "EventDataStoreNotFoundException"
    missing = str(uuid.uuid4())
    assert code(lambda: ct.describe_query(QueryId=missing)) == "QueryIdNotFoundException"
    assert code(lambda: ct.get_query_results(QueryId=missing)) == "QueryIdNotFoundException"
    assert code(lambda: ct.cancel_query(QueryId=missing)) == "QueryIdNotFoundException"
    qid = ct.start_query(QueryStatement=f"SELECT count(*) FROM {store}")["QueryId"]
    wait_query(ct, qid)
    assert code(lambda: ct.cancel_query(QueryId=qid)) == "InactiveQueryException"
    # botocore checks ranges itself; without that, the server answers as AWS does.
    raw = boto3.client("cloudtrail", endpoint_url=srv.endpoint, region_name="us-east-1",
                       aws_access_key_id=srv.key, aws_secret_access_key=srv.secret,
                       config=botocore.config.Config(parameter_validation=False))
    for bad in (0, 1001):
        assert code(lambda: raw.get_query_results(QueryId=qid, MaxQueryResults=bad)) == "InvalidMaxResultsException"
        assert code(lambda: raw.list_queries(EventDataStore=store, MaxResults=bad)) == "InvalidMaxResultsException"
    assert code(lambda: ct.get_query_results(QueryId=qid, NextToken="forged-token")) == "InvalidNextTokenException"
    other = ct.start_query(QueryStatement=f"SELECT eventid FROM {store}")["QueryId"]
    wait_query(ct, other)
    token = ct.get_query_results(QueryId=other, MaxQueryResults=1)["NextToken"]
    assert code(lambda: ct.get_query_results(QueryId=qid, NextToken=token)) == "InvalidNextTokenException"
    assert code(lambda: ct.list_queries(EventDataStore=missing)) == "EventDataStoreNotFoundException"
    assert code(lambda: ct.list_queries(EventDataStore=store, QueryStatus="DONE")) == "InvalidQueryStatusException"
    now = datetime.datetime.now(datetime.timezone.utc)
    assert code(lambda: ct.list_queries(EventDataStore=store, StartTime=now, EndTime=now - datetime.timedelta(hours=1))) \
        == "InvalidDateRangeException"
    # Another region's caller does not see the store.
    assert code(lambda: srv.client(region="eu-west-1").start_query(QueryStatement=f"SELECT * FROM {store}")) \
        == "EventDataStoreNotFoundException"
    # The stored data is intact after all of that.
    assert int(query(ct, f"SELECT count(*) FROM {store} WHERE eventsource = 's3.amazonaws.com'")[0][0]) == len(sent)


def test_a_long_query_is_cancelled_and_stops(lake):
    srv, ct, store, sent, _ = lake
    qid = ct.start_query(QueryStatement=f"SELECT count(*) FROM {store} a, {store} b, {store} c "
                                        "WHERE a.eventname <> c.useragent")["QueryId"]
    time.sleep(0.5)
    r = ct.cancel_query(QueryId=qid)
    assert r == {**r, "QueryId": qid, "QueryStatus": "CANCELLED"}
    d = ct.describe_query(QueryId=qid)
    assert d["QueryStatus"] == "CANCELLED"
    assert ct.get_query_results(QueryId=qid)["QueryStatus"] == "CANCELLED"
    assert code(lambda: ct.cancel_query(QueryId=qid)) == "InactiveQueryException"
    # The server is not still burning a core on it.
    pid = srv.proc.pid
    def cpu():
        with open(f"/proc/{pid}/stat") as f:
            parts = f.read().rsplit(")", 1)[1].split()
        return int(parts[11]) + int(parts[12])
    # Work stops where an operator next yields, a batch away (in a debug build over a grown
    # store a batch of this join can take a second); uncancelled, this query (billions of
    # rows) would keep a core busy for hours.
    idle = False
    deadline = time.time() + 15
    while not idle and time.time() < deadline:
        before = cpu()
        time.sleep(1)
        idle = cpu() - before < 30
    assert idle, "the cancelled query still runs"


def test_the_table_reads_the_same_without_opentrail(lake):
    srv, ct, store, sent, _ = lake
    from deltalake import DeltaTable
    import duckdb
    path = os.path.join(srv.data_dir, "lake", "tables", store)
    table = DeltaTable(path).to_pyarrow_table()
    s3 = [r for r in table.to_pylist() if r["eventsource"] == "s3.amazonaws.com"]
    assert sorted(r["eventid"] for r in s3) == sorted(e["eventID"] for e in sent)
    by_id = {e["eventID"]: e for e in sent}
    for r in s3[:50]:
        e = by_id[r["eventid"]]
        assert r["eventname"] == e["eventName"] and r["useridentity"]["username"] == e["userIdentity"]["userName"]
        assert r["eventtime"].strftime("%Y-%m-%dT%H:%M:%SZ") == e["eventTime"]
        assert r["readonly"] == e["readOnly"] and r["errorcode"] == e["errorCode"]
    con = duckdb.connect()
    con.register("t", table)
    n = con.execute("SELECT count(*) FROM t WHERE eventsource = 's3.amazonaws.com' AND errorcode = 'AccessDenied'").fetchone()[0]
    assert n == sum(1 for e in sent if e["errorCode"] == "AccessDenied")
    assert n == int(query(ct, f"SELECT count(*) FROM {store} WHERE eventsource = 's3.amazonaws.com' "
                              "AND errorcode = 'AccessDenied'")[0][0])


def delivered(ct, qid, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        d = ct.describe_query(QueryId=qid)
        if d.get("DeliveryStatus") not in (None, "PENDING"):
            return d
        time.sleep(0.1)
    raise AssertionError("results were not delivered")


def test_results_are_delivered_to_s3_as_signed_gzip_csv(lake):
    import csv
    import gzip
    import hashlib
    import io
    import json
    import rsa
    srv, ct, store, sent, _ = lake
    s3 = srv.s3()
    s3.create_bucket(Bucket="lake-results")
    sql = (f"SELECT eventname, count(*) AS n, max(useridentity.username) AS u FROM {store} "
           "WHERE eventsource = 's3.amazonaws.com' GROUP BY eventname ORDER BY eventname")
    qid = ct.start_query(QueryStatement=sql, DeliveryS3Uri="s3://lake-results/team/results/")["QueryId"]
    d = delivered(ct, qid)
    assert d["QueryStatus"] == "FINISHED" and d["DeliveryStatus"] == "SUCCESS", d
    assert d["DeliveryS3Uri"] == "s3://lake-results/team/results/"
    created = d["QueryStatistics"]["CreationTime"].astimezone(datetime.timezone.utc)
    folder = f"team/results/AWSLogs/{ACCOUNT}/CloudTrail-Lake/Query/{created:%Y/%m/%d}/{qid}/"
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="lake-results", Prefix=folder)["Contents"])
    assert keys == [folder + "result_1.csv.gz", folder + "result_sign.json"]
    body = s3.get_object(Bucket="lake-results", Key=folder + "result_1.csv.gz")["Body"].read()
    table = list(csv.reader(io.StringIO(gzip.decompress(body).decode())))
    want = collections.Counter(e["eventName"] for e in sent)
    assert table[0] == ["eventname", "n", "u"]
    assert [(r[0], int(r[1])) for r in table[1:]] == sorted(want.items())
    assert table[1:] == rows_of(ct, qid)[0], "the file holds what GetQueryResults returns"
    # The signing file (spec 5.6) verifies with the region's public key, as
    # `aws cloudtrail verify-query-results` checks it.
    sign = json.loads(s3.get_object(Bucket="lake-results", Key=folder + "result_sign.json")["Body"].read())
    assert sign["version"] == "1.0" and sign["region"] == "us-east-1"
    assert sign["hashAlgorithm"] == "SHA-256" and sign["signatureAlgorithm"] == "SHA256withRSA"
    assert sign["files"] == [{"fileHashValue": hashlib.sha256(body).hexdigest(), "fileName": "result_1.csv.gz"}]
    assert datetime.datetime.strptime(sign["queryCompleteTime"], "%Y-%m-%dT%H:%M:%SZ")
    keys_by_fp = {k["Fingerprint"]: k["Value"] for k in ct.list_public_keys()["PublicKeyList"]}
    public = rsa.PublicKey.load_pkcs1(keys_by_fp[sign["publicKeyFingerprint"]], format="DER")
    signed = " ".join(f["fileHashValue"] for f in sign["files"]).encode()
    assert rsa.verify(signed, bytes.fromhex(sign["hashSignature"]), public) == "SHA-256"
    with pytest.raises(rsa.VerificationError):
        rsa.verify(signed + b" tampered", bytes.fromhex(sign["hashSignature"]), public)
    # An empty result is a header-only file; no prefix puts the folder at the bucket's root.
    qid = ct.start_query(QueryStatement=f"SELECT eventid FROM {store} WHERE eventname = 'NoSuchCall'",
                         DeliveryS3Uri="s3://lake-results")["QueryId"]
    assert delivered(ct, qid)["DeliveryStatus"] == "SUCCESS"
    listed = s3.list_objects_v2(Bucket="lake-results", Prefix=f"AWSLogs/{ACCOUNT}/CloudTrail-Lake/Query/")["Contents"]
    csv_key = [o["Key"] for o in listed if qid in o["Key"] and o["Key"].endswith(".csv.gz")]
    assert gzip.decompress(s3.get_object(Bucket="lake-results", Key=csv_key[0])["Body"].read()) == b"eventid\n"
    # A query without DeliveryS3Uri has no delivery fields.
    d = ct.describe_query(QueryId=ct.start_query(QueryStatement=f"SELECT 1 FROM {store} LIMIT 1")["QueryId"])
    assert "DeliveryS3Uri" not in d and "DeliveryStatus" not in d


def test_delivery_targets_are_checked_at_start(lake):
    srv, ct, store, _, _ = lake
    s3 = srv.s3()
    sql = f"SELECT count(*) FROM {store}"
    raw = boto3.client("cloudtrail", endpoint_url=srv.endpoint, region_name="us-east-1",
                       aws_access_key_id=srv.key, aws_secret_access_key=srv.secret,
                       config=botocore.config.Config(parameter_validation=False))
    assert code(lambda: ct.start_query(QueryStatement=sql, DeliveryS3Uri="s3://no-such-bucket-here/x")) \
        == "S3BucketDoesNotExistException"
    assert code(lambda: raw.start_query(QueryStatement=sql, DeliveryS3Uri="s3://Bad_Bucket/x")) \
        == "InvalidS3BucketNameException"
    assert code(lambda: raw.start_query(QueryStatement=sql, DeliveryS3Uri="s3://lake-policy/a//b")) \
        == "InvalidS3PrefixException"
    # A bucket policy that lets CloudTrail write only trail logs refuses query results.
    s3.create_bucket(Bucket="lake-policy")
    statement = lambda action, resource: {"Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"},
                                          "Action": action, "Resource": resource}
    import json
    policy = {"Version": "2012-10-17", "Statement": [
        statement("s3:GetBucketAcl", "arn:aws:s3:::lake-policy"),
        statement("s3:PutObject", f"arn:aws:s3:::lake-policy/AWSLogs/{ACCOUNT}/CloudTrail/*")]}
    s3.put_bucket_policy(Bucket="lake-policy", Policy=json.dumps(policy))
    assert code(lambda: ct.start_query(QueryStatement=sql, DeliveryS3Uri="s3://lake-policy")) \
        == "InsufficientS3BucketPolicyException"
    policy["Statement"][1] = statement("s3:PutObject", f"arn:aws:s3:::lake-policy/AWSLogs/{ACCOUNT}/*")
    s3.put_bucket_policy(Bucket="lake-policy", Policy=json.dumps(policy))
    qid = ct.start_query(QueryStatement=sql, DeliveryS3Uri="s3://lake-policy")["QueryId"]
    assert delivered(ct, qid)["DeliveryStatus"] == "SUCCESS"
    # A cancelled query delivers nothing.
    qid = ct.start_query(QueryStatement=f"SELECT count(*) FROM {store} a, {store} b, {store} c "
                                        "WHERE a.eventname <> c.useragent", DeliveryS3Uri="s3://lake-policy")["QueryId"]
    ct.cancel_query(QueryId=qid)
    assert ct.describe_query(QueryId=qid)["DeliveryStatus"] == "CANCELLED"
    listed = s3.list_objects_v2(Bucket="lake-policy", Prefix=f"AWSLogs/{ACCOUNT}/")["Contents"]
    assert not [o for o in listed if qid in o["Key"]]


def test_stopped_ingestion_skips_events_and_restarts_carry_on(tmp_path):
    srv = Server(data_dir=str(tmp_path)).start()
    try:
        ct = srv.client()
        store = ct.create_event_data_store(Name="mgmt")["EventDataStoreArn"].rsplit("/", 1)[1]
        time.sleep(1.5)
        count = lambda: int(query(ct, f"SELECT count(*) FROM {store} WHERE eventsource = 's3.amazonaws.com'")[0][0])
        def wait_count(n):
            deadline = time.time() + 30
            while time.time() < deadline and count() != n:
                time.sleep(0.3)
            assert count() == n
        assert srv.ingest([record(eventName="Before")]).status_code == 200
        wait_count(1)
        ct.stop_event_data_store_ingestion(EventDataStore=store)
        time.sleep(1.5)
        assert srv.ingest([record(eventName="WhileStopped")]).status_code == 200
        time.sleep(2)
        ct.start_event_data_store_ingestion(EventDataStore=store)
        time.sleep(1.5)
        assert srv.ingest([record(eventName="After")]).status_code == 200
        wait_count(2)
        srv.kill()
        srv.start()
        assert srv.ingest([record(eventName="AfterRestart")]).status_code == 200
        wait_count(3)
        names = sorted(r[0] for r in query(ct, f"SELECT eventname FROM {store} WHERE eventsource = 's3.amazonaws.com'"))
        assert names == ["After", "AfterRestart", "Before"]
    finally:
        srv.close()


def test_retention_drops_events_older_than_the_period(tmp_path):
    srv = Server(data_dir=str(tmp_path), config_toml="[lake]\nretention_check_secs = 1\n").start()
    try:
        ct = srv.client()
        store = ct.create_event_data_store(Name="week", RetentionPeriod=7)["EventDataStoreArn"].rsplit("/", 1)[1]
        time.sleep(1.5)
        now = datetime.datetime.now(datetime.timezone.utc)
        iso = lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ")
        old = [record(eventName="Old", eventTime=iso(now - datetime.timedelta(days=30, minutes=i))) for i in range(20)]
        edge = [record(eventName="Edge", eventTime=iso(now - datetime.timedelta(days=7, hours=1)))]
        recent = [record(eventName="Recent", eventTime=iso(now - datetime.timedelta(days=6, minutes=i))) for i in range(5)]
        assert srv.ingest(old + edge + recent).status_code == 200
        def names():
            return collections.Counter(r[0] for r in query(
                ct, f"SELECT eventname FROM {store} WHERE eventsource = 's3.amazonaws.com'"))
        deadline = time.time() + 60
        while time.time() < deadline and names() != {"Recent": 5}:
            time.sleep(0.5)
        assert names() == {"Recent": 5}
        # The deletion is in the table itself: other readers see it too.
        from deltalake import DeltaTable
        rows = DeltaTable(os.path.join(srv.data_dir, "lake", "tables", store)).to_pyarrow_table().to_pylist()
        assert sorted({r["eventname"] for r in rows if r["eventsource"] == "s3.amazonaws.com"}) == ["Recent"]
    finally:
        srv.close()
