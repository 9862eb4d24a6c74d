"""SigV4 against a running server with boto3, and the recording of every refused call."""
import datetime
import json
from unittest import mock

import botocore.auth
import pytest
import requests
from botocore.exceptions import ClientError

from harness import ACCOUNT, ROOT_KEY

UNSUPPORTED = "UnsupportedOperationException"


def error_of(call):
    with pytest.raises(ClientError) as e:
        call()
    return e.value.response


def test_a_signed_call_succeeds_and_is_recorded(server):
    resp = server.client().list_trails()
    assert resp["Trails"] == []
    rid = resp["ResponseMetadata"]["RequestId"]
    [rec] = server.records(requestID=rid)
    assert rec["eventName"] == "ListTrails"
    assert rec["userIdentity"] == {"type": "Root", "principalId": ACCOUNT, "arn": f"arn:aws:iam::{ACCOUNT}:root",
                                   "accountId": ACCOUNT, "accessKeyId": ROOT_KEY}
    assert "errorCode" not in rec and rec["readOnly"] is True and rec["responseElements"] is None


def test_a_signed_native_call_succeeds(server):
    r = server.ingest([{"eventVersion": "1.11", "eventTime": "2026-11-25T10:00:00Z", "eventSource": "a.example.com",
                        "eventName": "Ping", "awsRegion": "us-east-1", "userIdentity": {"type": "IAMUser"}}])
    assert r.status_code == 200, r.text
    assert len(r.json()["successful"]) == 1


@pytest.mark.parametrize("case,code,needle", [
    ("wrong_secret", "InvalidSignatureException", "does not match"),
    ("unknown_key", "UnrecognizedClientException", "security token included in the request is invalid"),
    ("expired", "InvalidSignatureException", "Signature expired"),
    ("future", "InvalidSignatureException", "not yet current"),
    ("session_token", "UnrecognizedClientException", "security token"),
])
def test_refused_signatures_get_the_aws_error_and_are_recorded(server, case, code, needle):
    kw = {"region": "eu-central-1"}
    if case == "wrong_secret":
        kw["secret"] = "not-the-secret-000000000000000000000000"
    elif case == "unknown_key":
        kw.update(key="AKIAUNKNOWNKEY000001", secret="whatever-000000000000000000000000000000")
    elif case == "session_token":
        kw["token"] = "FwoGZXIvYXdzEXAMPLE"
    client = server.client(**kw)
    skew = {"expired": -20, "future": 20}.get(case)
    if skew is None:
        resp = error_of(lambda: client.lookup_events(MaxResults=5))
    else:
        then = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) + datetime.timedelta(minutes=skew)
        with mock.patch.object(botocore.auth, "get_current_datetime", return_value=then):
            resp = error_of(lambda: client.lookup_events(MaxResults=5))
    assert resp["Error"]["Code"] == code, resp
    assert needle in resp["Error"]["Message"]
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 400

    [rec] = server.records(requestID=resp["ResponseMetadata"]["RequestId"])
    assert rec["eventName"] == "LookupEvents"
    assert rec["errorCode"] == code
    assert needle in rec["errorMessage"]
    assert rec["awsRegion"] == "eu-central-1"
    assert rec["eventSource"] == "cloudtrail.amazonaws.com"
    assert rec["sourceIPAddress"] == "127.0.0.1"
    assert "Boto3" in rec["userAgent"] or "botocore" in rec["userAgent"]
    assert rec["userIdentity"]["type"] == "Unknown"
    presented = "AKIAUNKNOWNKEY000001" if case == "unknown_key" else ROOT_KEY
    assert rec["userIdentity"]["accessKeyId"] == presented
    assert rec["readOnly"] is True and rec["managementEvent"] is True
    assert rec["eventCategory"] == "Management" and rec["recipientAccountId"] == ACCOUNT


def test_a_tampered_body_is_refused_and_recorded(server):
    import botocore.awsrequest
    import botocore.credentials
    req = botocore.awsrequest.AWSRequest(
        method="POST", url=server.endpoint + "/", data=b'{"MaxResults": 5}',
        headers={"X-Amz-Target": "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents",
                 "Content-Type": "application/x-amz-json-1.1"})
    botocore.auth.SigV4Auth(botocore.credentials.Credentials(server.key, server.secret), "cloudtrail", "us-east-1").add_auth(req)
    p = req.prepare()
    r = requests.post(p.url, data=b'{"MaxResults": 50}', headers=dict(p.headers))
    assert r.status_code == 400
    assert r.json()["__type"] == "InvalidSignatureException"
    assert r.headers["x-amzn-ErrorType"] == "InvalidSignatureException"
    [rec] = server.records(requestID=r.headers["x-amzn-RequestId"])
    assert rec["errorCode"] == "InvalidSignatureException"


def test_missing_and_incomplete_authorization(server):
    target = {"X-Amz-Target": "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.ListTrails",
              "Content-Type": "application/x-amz-json-1.1"}
    r = requests.post(server.endpoint + "/", data="{}", headers=target)
    assert r.status_code == 403
    assert r.json() == {"__type": "MissingAuthenticationTokenException", "Message": "Missing Authentication Token"}
    r2 = requests.post(server.endpoint + "/", data="{}", headers={**target, "Authorization": "AWS4-HMAC-SHA256 Credential=AKIAX/20261125/us-east-1/cloudtrail/aws4_request"})
    assert r2.status_code == 400
    assert r2.json()["__type"] == "IncompleteSignatureException"
    assert "requires 'Signature'" in r2.json()["Message"]
    for r in (r, r2):
        [rec] = server.records(requestID=r.headers["x-amzn-RequestId"])
        assert rec["eventName"] == "ListTrails"
        assert rec["errorCode"] == r.json()["__type"]


def test_credentials_scoped_to_another_service_are_refused(server):
    r = server.api("ListTrails", {}, service="sts")
    assert r.json()["__type"] == "InvalidSignatureException"
    assert "scoped to correct service: 'cloudtrail'" in r.json()["Message"]


def test_iam_users_from_the_config_are_recorded_as_iam_users(tmp_path):
    from harness import ALICE_KEY, ALICE_SECRET, Server
    s = Server(data_dir=str(tmp_path), config_toml=f'''
[[principals]]
user_name = "alice"
access_key_id = "{ALICE_KEY}"
secret_access_key = "{ALICE_SECRET}"
''').start()
    try:
        resp = error_of(lambda: s.client(key=ALICE_KEY, secret=ALICE_SECRET, region="ap-south-1").get_trail(Name="t1-audit"))
        assert resp["Error"]["Code"] == "TrailNotFoundException"
        [rec] = s.records(requestID=resp["ResponseMetadata"]["RequestId"])
        ident = rec["userIdentity"]
        assert ident["type"] == "IAMUser" and ident["userName"] == "alice"
        assert ident["arn"] == f"arn:aws:iam::{ACCOUNT}:user/alice"
        assert ident["principalId"].startswith("AIDA") and len(ident["principalId"]) == 21
        assert rec["awsRegion"] == "ap-south-1"
        assert rec["requestParameters"] == {"name": "t1-audit"}
        # Only root may read the journal.
        r = s.signed("GET", "/_opentrail/journal", key=ALICE_KEY, secret=ALICE_SECRET)
        assert r.status_code == 400 and r.json()["__type"] == "AccessDeniedException"
    finally:
        s.close()


def test_accept_any_access_key_mode_records_the_presented_key(tmp_path):
    from harness import Server
    s = Server(data_dir=str(tmp_path), extra_args=["--accept-any-access-key", "true"]).start()
    try:
        assert "accept_any_access_key is ON" in s.log()
        resp = s.client(key="AKIAANYKEY0000000001", secret="anything").list_trails()
        [rec] = s.records(requestID=resp["ResponseMetadata"]["RequestId"])
        assert rec["userIdentity"]["accessKeyId"] == "AKIAANYKEY0000000001"
        assert rec["userIdentity"]["type"] == "Unknown" and "errorCode" not in rec
        # A known key with the wrong secret is still refused.
        resp = error_of(lambda: s.client(secret="wrong-wrong-wrong-wrong-wrong-wrong-1234").list_trails())
        assert resp["Error"]["Code"] == "InvalidSignatureException"
        # So is a malformed or stale signature.
        then = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) - datetime.timedelta(minutes=30)
        with mock.patch.object(botocore.auth, "get_current_datetime", return_value=then):
            resp = error_of(lambda: s.client(key="AKIAANYKEY0000000001", secret="x").list_trails())
        assert resp["Error"]["Code"] == "InvalidSignatureException"
    finally:
        s.close()
