"""The AWS JSON 1.1 protocol as real clients see it: routing of all 60 operations, error
shapes for bad requests, and the aws CLI."""
import datetime
import json
import os
import subprocess
import sys

import botocore.session
import pytest
from botocore import xform_name
from botocore.exceptions import ClientError

MODEL = botocore.session.get_session().get_service_model("cloudtrail")
EXCEPTIONS = {s.name for s in MODEL.error_shapes}


def dummy(shape, depth=0):
    """The smallest value botocore's client-side validation accepts for `shape`."""
    t = shape.type_name
    if t == "structure":
        return {m: dummy(shape.members[m], depth + 1) for m in shape.required_members}
    if t == "list":
        return [dummy(shape.member, depth + 1) for _ in range(max(shape.metadata.get("min", 0), 1))]
    if t == "map":
        return {"k" * max(shape.key.metadata.get("min", 1), 1): dummy(shape.value, depth + 1)}
    if t == "string":
        if shape.enum:
            return shape.enum[0]
        return "x" * max(int(shape.metadata.get("min", 1)), 3)
    if t in ("integer", "long"):
        return max(int(shape.metadata.get("min", 1)), 1)
    if t in ("double", "float"):
        return 1.0
    if t == "boolean":
        return True
    if t == "timestamp":
        return datetime.datetime(2026, 1, 1)
    if t == "blob":
        return b"x"
    raise AssertionError(t)


def test_every_operation_of_the_model_is_routed(shared_server):
    client = shared_server.client()
    assert len(MODEL.operation_names) == 60
    for op in MODEL.operation_names:
        params = dummy(MODEL.operation_model(op).input_shape) if MODEL.operation_model(op).input_shape else {}
        try:
            getattr(client, xform_name(op))(**params)
        except ClientError as e:
            err = e.response["Error"]
            status = e.response["ResponseMetadata"]["HTTPStatusCode"]
            assert status < 500, (op, e.response)
            assert err["Code"] in EXCEPTIONS | {"ValidationException"}, (op, err)
            if err["Code"] == "UnsupportedOperationException":
                assert op in err["Message"], (op, err)
    # Every one of those calls was recorded under its own name.
    names = {r["eventName"] for _, r in shared_server.journal() if r.get("eventSource") == "cloudtrail.amazonaws.com"}
    assert set(MODEL.operation_names) <= names


@pytest.mark.parametrize("body,code,needle", [
    (b'{"MaxResults": 5', "SerializationException", "not valid JSON"),
    (b'[1,2]', "SerializationException", "JSON object"),
    (b'{"MaxResults": "five"}', "SerializationException", "'maxResults'"),
    (b'{"LookupAttributes": {"AttributeKey": "EventName"}}', "SerializationException", "'lookupAttributes'"),
    (b'{"StartTime": "2026-01-01T00:00:00Z"}', "SerializationException", "timestamp"),
])
def test_malformed_requests_get_serialization_errors(shared_server, body, code, needle):
    r = shared_server.api("LookupEvents", body)
    assert r.status_code == 400
    assert r.headers["Content-Type"] == "application/x-amz-json-1.1"
    assert r.json()["__type"] == code
    assert needle in r.json()["Message"]
    assert r.headers["x-amzn-ErrorType"] == code


def test_missing_required_members_are_validation_errors(shared_server):
    r = shared_server.api("CreateTrail", {"Name": "t"})
    assert r.json() == {
        "__type": "ValidationException",
        "Message": "1 validation error detected: Value null at 's3BucketName' failed to satisfy constraint: Member must not be null",
    }


def test_unknown_targets_are_unknown_operations(shared_server):
    r = shared_server.api("DescribeEverything", {})
    assert r.status_code == 400 and r.json()["__type"] == "UnknownOperationException"
    r = shared_server.signed("POST", "/", b"{}", headers={"Content-Type": "application/x-amz-json-1.1"}, service="cloudtrail")
    assert r.json()["__type"] == "UnknownOperationException"
    r = shared_server.signed("POST", "/", b"{}", headers={"X-Amz-Target": "com.amazonaws.s3.ListBuckets"}, service="cloudtrail")
    assert r.json()["__type"] == "UnknownOperationException"
    # Other paths and methods answer in the same protocol, never with an HTML page.
    r = shared_server.signed("GET", "/some/page", service="cloudtrail")
    assert r.status_code == 400 and r.json()["__type"] == "UnknownOperationException"


def test_responses_carry_the_request_id_and_it_is_the_recorded_one(shared_server):
    r = shared_server.api("GetTrail", {"Name": "x"})
    rid = r.headers["x-amzn-RequestId"]
    assert len(rid) == 36
    [rec] = shared_server.records(requestID=rid)
    assert rec["requestParameters"] == {"name": "x"}
    assert rec["responseElements"] is None


def test_request_parameters_are_recorded_as_aws_writes_them(shared_server):
    client = shared_server.client(region="eu-west-3")
    resp = client.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "ConsoleLogin"}],
                                StartTime=datetime.datetime(2026, 1, 2, 15, 4, 5), MaxResults=7)
    [rec] = shared_server.records(requestID=resp["ResponseMetadata"]["RequestId"])
    assert rec["requestParameters"] == {
        "lookupAttributes": [{"attributeKey": "EventName", "attributeValue": "ConsoleLogin"}],
        "startTime": "Jan 2, 2026, 3:04:05 PM",
        "maxResults": 7,
    }
    assert rec["awsRegion"] == "eu-west-3"
    assert rec["readOnly"] is True
    assert rec["responseElements"] is None and "errorCode" not in rec
    with pytest.raises(ClientError) as e:
        client.create_trail(Name="t1", S3BucketName="b1", IsMultiRegionTrail=True)
    [rec] = shared_server.records(requestID=e.value.response["ResponseMetadata"]["RequestId"])
    assert rec["requestParameters"] == {"name": "t1", "s3BucketName": "b1", "isMultiRegionTrail": True}
    assert rec["readOnly"] is False


def aws(server, *args, region="us-east-1"):
    env = dict(os.environ, AWS_ACCESS_KEY_ID=server.key, AWS_SECRET_ACCESS_KEY=server.secret,
               AWS_DEFAULT_REGION=region, AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null")
    cmd = [os.path.join(os.path.dirname(sys.executable), "aws"), "cloudtrail", *args, "--endpoint-url", server.endpoint]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)


def test_the_aws_cli_gets_aws_shaped_answers(shared_server):
    out = aws(shared_server, "get-trail", "--name", "audit", region="sa-east-1")
    assert out.returncode == 255, out  # aws-cli v1 exits 255 on a service error
    assert ("An error occurred (TrailNotFoundException) when calling the GetTrail operation: Unknown trail: "
            "arn:aws:cloudtrail:sa-east-1:123456789012:trail/audit for the user: 123456789012") in out.stderr
    recs = [r for _, r in shared_server.journal() if r.get("awsRegion") == "sa-east-1"]
    assert recs and recs[-1]["userAgent"].startswith("aws-cli/")
    assert recs[-1]["requestParameters"] == {"name": "audit"}
    ok = aws(shared_server, "describe-trails", region="sa-east-1")
    assert ok.returncode == 0 and json.loads(ok.stdout) == {"trailList": []}

    env_bad = aws(type("S", (), {"key": shared_server.key, "secret": "bad" * 14, "endpoint": shared_server.endpoint}), "list-trails")
    assert env_bad.returncode == 255
    assert "(InvalidSignatureException)" in env_bad.stderr
