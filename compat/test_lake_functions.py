"""The Trino functions CloudTrail Lake users write, through boto3's StartQuery against a running
server: time windows with date_add, fields and formats of eventtime, element_at on the map
columns, cardinality and element_at on resources, contains over a list, JSON paths into
eventjson; answers checked against the events sent, and mistakes answered as AWS errors."""
import collections
import datetime
import json
import random
import time
import uuid

import pytest
from botocore.exceptions import ClientError

from harness import ACCOUNT, Server, record
from test_lake_query import query, wait_query

NAMES = ["GetObject", "PutObject", "AssumeRole", "ConsoleLogin", "CreateUser", "DeleteBucket"]
START = datetime.datetime(2026, 11, 20, tzinfo=datetime.timezone.utc)


def events(n, seed=11):
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        extra = rnd.choice([None, {"MFAUsed": "Yes"}, {"MFAUsed": "No"},
                            {"SignatureVersion": "SigV4", "bytesTransferredIn": 12}])
        resources = rnd.choice([None, 0, 1, 2, 3])
        if resources is not None:
            resources = [{"accountId": ACCOUNT, "type": rnd.choice(["AWS::S3::Bucket", "AWS::IAM::Role"]),
                          "ARN": f"arn:aws:s3:::bucket-{i}-{k}"} for k in range(resources)]
        t = START + datetime.timedelta(seconds=61 * i)
        out.append(record(eventID=str(uuid.UUID(int=rnd.getrandbits(128))),
                          eventTime=t.strftime("%Y-%m-%dT%H:%M:%SZ"),
                          eventName=rnd.choice(NAMES), additionalEventData=extra, resources=resources))
    return out


def when(e):
    return datetime.datetime.strptime(e["eventTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    srv = Server(data_dir=str(tmp_path_factory.mktemp("lake-functions"))).start()
    ct = srv.client()
    store = ct.create_event_data_store(Name="functions")["EventDataStoreArn"].rsplit("/", 1)[1]
    time.sleep(1.5)  # the store takes events from its creation on
    sent = events(600)
    assert srv.ingest(sent).status_code == 200
    deadline = time.time() + 60
    while time.time() < deadline:
        n = int(query(ct, f"SELECT count(*) FROM {store} WHERE eventsource = 's3.amazonaws.com'")[0][0])
        if n >= len(sent):
            break
        time.sleep(0.5)
    assert n == len(sent)
    yield ct, f"{store} WHERE eventsource = 's3.amazonaws.com'", sent
    srv.close()


def test_time_windows_fields_and_formats(lake):
    ct, src, sent = lake
    # date_add in WHERE: a window from a fixed time, and the usual one ending now.
    got = query(ct, f"SELECT count(*) FROM {src} AND eventtime >= date_add('hour', 2, TIMESTAMP '2026-11-20 00:00:00')")
    assert int(got[0][0]) == sum(when(e) >= START + datetime.timedelta(hours=2) for e in sent)
    now = datetime.datetime.now(datetime.timezone.utc)
    got = query(ct, f"SELECT count(*) FILTER (WHERE eventtime > date_add('day', -7, now())), "
                    f"count(*) FILTER (WHERE eventtime < date_add('day', 1, now())) FROM {src}")
    assert [int(x) for x in got[0]] == [sum(when(e) > now - datetime.timedelta(days=7) for e in sent),
                                        sum(when(e) < now + datetime.timedelta(days=1) for e in sent)]
    # Fields, ISO 8601, MySQL and Joda formats, Unix time of one event.
    e = sent[123]
    t = when(e)
    got = query(ct, f"SELECT year(eventtime), month(eventtime), day(eventtime), hour(eventtime), "
                    f"minute(eventtime), day_of_week(eventtime), to_iso8601(eventtime), "
                    f"date_format(eventtime, '%Y-%m-%d %H:%i:%s'), format_datetime(eventtime, 'yyyy/MM/dd HH:mm'), "
                    f"to_unixtime(eventtime), from_unixtime(to_unixtime(eventtime)) = eventtime "
                    f"FROM {src} AND eventid = '{e['eventID']}'")
    assert got[0][:9] == [str(t.year), str(t.month), str(t.day), str(t.hour), str(t.minute),
                          str(t.isoweekday()), t.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                          t.strftime("%Y-%m-%d %H:%M:%S"), t.strftime("%Y/%m/%d %H:%M")]
    assert float(got[0][9]) == t.timestamp() and got[0][10] == "true"
    # date_diff over the events, and date_trunc's hours.
    got = query(ct, f"SELECT date_diff('second', min(eventtime), max(eventtime)), "
                    f"date_diff('hour', min(eventtime), max(eventtime)) FROM {src}")
    assert got == [[str(61 * (len(sent) - 1)), str(61 * (len(sent) - 1) // 3600)]]


def test_maps_arrays_and_json(lake):
    ct, src, sent = lake
    # element_at on a map column: the value, NULL when the key is missing.
    want = collections.Counter(e["additionalEventData"]["MFAUsed"] for e in sent
                               if e["additionalEventData"] and "MFAUsed" in e["additionalEventData"])
    got = query(ct, f"SELECT element_at(additionaleventdata, 'MFAUsed') AS mfa, count(*) FROM {src} "
                    "AND element_at(additionaleventdata, 'MFAUsed') IS NOT NULL GROUP BY 1 ORDER BY 1")
    assert [(m, int(c)) for m, c in got] == sorted(want.items())
    got = query(ct, f"SELECT count(*) FROM {src} AND contains(map_keys(additionaleventdata), 'SignatureVersion')")
    assert int(got[0][0]) == sum(bool(e["additionalEventData"]) and "SignatureVersion" in e["additionalEventData"]
                                 for e in sent)
    # cardinality of the array of structs, its last element.
    want = collections.Counter(len(e["resources"]) for e in sent if e["resources"] is not None)
    got = query(ct, f"SELECT cardinality(resources), count(*) FROM {src} AND resources IS NOT NULL GROUP BY 1 ORDER BY 1")
    assert [(int(n), int(c)) for n, c in got] == sorted(want.items())
    e = next(e for e in sent if e["resources"] and len(e["resources"]) == 3)
    got = query(ct, f"SELECT element_at(resources, -1)['arn'], element_at(resources, 1)['arn'], "
                    f"element_at(resources, 4)['arn'] FROM {src} AND eventid = '{e['eventID']}'")
    assert got == [[e["resources"][2]["ARN"], e["resources"][0]["ARN"], ""]]
    # contains over a list: Trino's way to write IN.
    got = query(ct, f"SELECT count(*) FROM {src} AND contains(ARRAY['GetObject', 'AssumeRole'], eventname)")
    assert int(got[0][0]) == sum(e["eventName"] in ("GetObject", "AssumeRole") for e in sent)
    # JSON paths into the record as received.
    got = query(ct, f"SELECT json_extract(eventjson, '$.resources[0]'), json_array_length(json_extract(eventjson, '$.resources')), "
                    f"json_extract_scalar(eventjson, '$.userIdentity.sessionContext.sessionIssuer.userName'), "
                    f"element_at(split(useragent, '/'), 1) FROM {src} AND eventid = '{e['eventID']}'")
    assert json.loads(got[0][0]) == e["resources"][0]
    assert got[0][1:] == ["3", "Admin", "[aws-cli"]


def test_function_mistakes_are_aws_errors(lake):
    ct, src, sent = lake
    for sql, says in [
        (f"SELECT date_add('days', -7, eventtime) FROM {src}", "'days' is not a valid Timestamp field"),
        (f"SELECT json_extract_scalar(eventjson, 'userIdentity.arn') FROM {src}", "Invalid JSON path"),
        (f"SELECT date_add('day', 1, eventname) FROM {src}", "must be a timestamp or a date, not text"),
        (f"SELECT element_at(resources, 0) FROM {src}", "SQL array indices start at 1"),
        (f"SELECT date_format(eventtime, '%U') FROM {src}", "%U is not supported"),
    ]:
        with pytest.raises(ClientError) as err:
            ct.start_query(QueryStatement=sql)
        assert err.value.response["Error"]["Code"] == "InvalidQueryStatementException", sql
        assert says in err.value.response["Error"]["Message"], err.value.response["Error"]["Message"]
    # A unit read from the data is checked as the query runs: the query fails, saying why.
    qid = ct.start_query(QueryStatement=f"SELECT date_add(lower(eventname), 1, eventtime) FROM {src}")["QueryId"]
    d = wait_query(ct, qid)
    assert d["QueryStatus"] == "FAILED"
    assert "is not a valid Timestamp field" in d["ErrorMessage"], d["ErrorMessage"]
