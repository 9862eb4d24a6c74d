"""Encryption at rest: the KMS API over opentrail's key registry, trails with KmsKeyId whose
log files and digests are sealed on disk yet read in the clear through S3 (so validate-logs
still works), disabled keys, rotation, and SSE-KMS headers sent to a real S3-compatible
server."""
import base64
import datetime
import gzip
import json
import os
import pathlib
import subprocess
import sys
import time

import pytest
from botocore.exceptions import ClientError

from harness import ACCOUNT, MotoS3, Server, read_log_files, record

FAST = "[trails]\nflush_interval_secs = 1\n[integrity]\ndigest_interval_secs = 2\n"
AWS = os.path.join(os.path.dirname(sys.executable), "aws")


def wait_for(check, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = check()
        if v:
            return v
        time.sleep(0.2)
    raise AssertionError("timed out")


def code(call):
    with pytest.raises(ClientError) as e:
        call()
    return e.value.response["Error"]["Code"]


@pytest.fixture
def srv(tmp_path):
    s = Server(data_dir=str(tmp_path), config_toml=FAST).start()
    s.s3().create_bucket(Bucket="trail-logs")
    yield s
    s.close()


def test_the_kms_api_manages_keys_aliases_and_ciphertexts(srv):
    kms = srv.client("kms")
    key = kms.create_key(Description="trail logs")["KeyMetadata"]
    assert key["Arn"] == f"arn:aws:kms:us-east-1:{ACCOUNT}:key/{key['KeyId']}"
    assert key["KeyState"] == "Enabled" and key["KeySpec"] == "SYMMETRIC_DEFAULT"
    kms.create_alias(AliasName="alias/trail-logs", TargetKeyId=key["KeyId"])
    assert kms.describe_key(KeyId="alias/trail-logs")["KeyMetadata"]["KeyId"] == key["KeyId"]
    assert [k["KeyId"] for k in kms.list_keys()["Keys"]] == [key["KeyId"]]
    assert [a["AliasName"] for a in kms.list_aliases(KeyId=key["KeyId"])["Aliases"]] == ["alias/trail-logs"]
    blob = kms.encrypt(KeyId="alias/trail-logs", Plaintext=b"secret")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"secret"
    dk = kms.generate_data_key(KeyId=key["Arn"], KeySpec="AES_256")
    assert len(dk["Plaintext"]) == 32 and kms.decrypt(CiphertextBlob=dk["CiphertextBlob"])["Plaintext"] == dk["Plaintext"]
    assert kms.get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"] is False
    kms.enable_key_rotation(KeyId=key["KeyId"], RotationPeriodInDays=90)
    status = kms.get_key_rotation_status(KeyId=key["KeyId"])
    assert status["KeyRotationEnabled"] is True and status["RotationPeriodInDays"] == 90
    kms.rotate_key_on_demand(KeyId=key["KeyId"])
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"secret", "old ciphertexts open after rotation"
    kms.disable_key(KeyId=key["KeyId"])
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "Disabled"
    assert code(lambda: kms.decrypt(CiphertextBlob=blob)) == "DisabledException"
    assert code(lambda: kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x")) == "DisabledException"
    kms.enable_key(KeyId=key["KeyId"])
    assert code(lambda: kms.describe_key(KeyId="alias/none")) == "NotFoundException"
    assert code(lambda: kms.describe_key(KeyId="00000000-0000-0000-0000-000000000000")) == "NotFoundException"
    assert code(lambda: kms.create_alias(AliasName="alias/trail-logs", TargetKeyId=key["KeyId"])) == "AlreadyExistsException"
    assert code(lambda: kms.create_alias(AliasName="no-prefix", TargetKeyId=key["KeyId"])) == "ValidationException"
    assert code(lambda: kms.decrypt(CiphertextBlob=b"not a ciphertext from here" * 3)) == "InvalidCiphertextException"
    assert code(lambda: kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")) == "UnsupportedOperationException"
    # botocore refuses to send an out-of-range period; a raw request gets the server's answer.
    r = srv.signed("POST", "/", json.dumps({"KeyId": key["KeyId"], "RotationPeriodInDays": 5}), service="kms",
                   headers={"X-Amz-Target": "TrentService.EnableKeyRotation", "Content-Type": "application/x-amz-json-1.1"})
    assert r.status_code == 400 and r.json()["__type"] == "ValidationException", r.text
    assert not srv.client("kms", region="eu-west-1").list_keys()["Keys"], "keys are per region"
    calls = srv.records(eventSource="kms.amazonaws.com")
    assert {"CreateKey", "Decrypt", "DisableKey"} <= {r["eventName"] for r in calls}, "KMS calls are recorded"


def test_trails_name_kms_keys_as_aws_does(srv):
    kms = srv.client("kms")
    key = kms.create_key()["KeyMetadata"]
    kms.create_alias(AliasName="alias/logs", TargetKeyId=key["KeyId"])
    ct = srv.client()
    out = ct.create_trail(Name="audit", S3BucketName="trail-logs", KmsKeyId="alias/logs")
    assert out["KmsKeyId"] == key["Arn"], "stored as the key's full ARN"
    assert ct.get_trail(Name="audit")["Trail"]["KmsKeyId"] == key["Arn"]
    assert code(lambda: ct.update_trail(Name="audit", KmsKeyId="not a key!")) == "InvalidKmsKeyIdException"
    assert code(lambda: ct.update_trail(Name="audit", KmsKeyId="alias/missing")) == "KmsKeyNotFoundException"
    kms.disable_key(KeyId=key["KeyId"])
    assert code(lambda: ct.update_trail(Name="audit", KmsKeyId=key["KeyId"])) == "KmsException"
    assert ct.get_trail(Name="audit")["Trail"]["KmsKeyId"] == key["Arn"], "a refused update changes nothing"


def test_log_files_and_digests_are_sealed_at_rest_and_validate(srv):
    kms = srv.client("kms")
    key = kms.create_key()["KeyMetadata"]
    ct = srv.client()
    start = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=2)
    ct.create_trail(Name="audit", S3BucketName="trail-logs", KmsKeyId=key["KeyId"], EnableLogFileValidation=True)
    ct.start_logging(Name="audit")
    marker = "ZZencryption-markerZZ"
    srv.ingest([record(awsRegion="us-east-1", eventName=marker)])
    s3 = srv.s3()
    logs = wait_for(lambda: (f := read_log_files(s3, "trail-logs", prefix=f"AWSLogs/{ACCOUNT}/CloudTrail/"))
                    and any(r["eventName"] == marker for recs in f.values() for r in recs) and f)
    ct.stop_logging(Name="audit")
    wait_for(lambda: [o for o in s3.list_objects_v2(Bucket="trail-logs").get("Contents", []) if "CloudTrail-Digest" in o["Key"]])
    time.sleep(3)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="trail-logs")["Contents"]]
    root = pathlib.Path(srv.data_dir) / "buckets" / "trail-logs"
    for k in keys:
        head = s3.head_object(Bucket="trail-logs", Key=k)
        assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == key["Arn"], k
        on_disk = (root / k).read_bytes()
        assert on_disk[:2] != b"\x1f\x8b", "not even the gzip header is stored in the clear"
        with pytest.raises(OSError):
            gzip.decompress(on_disk)
    assert marker.encode() not in b"".join((root / k).read_bytes() for k in keys)
    env = dict(os.environ, AWS_ACCESS_KEY_ID=srv.key, AWS_SECRET_ACCESS_KEY=srv.secret, AWS_DEFAULT_REGION="us-east-1",
               AWS_ENDPOINT_URL_S3=srv.endpoint, AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null")
    p = subprocess.run([AWS, "s3", "cp", f"s3://trail-logs/{next(iter(logs))}", "-"], capture_output=True, env=env)
    assert p.returncode == 0 and json.loads(gzip.decompress(p.stdout))["Records"]
    p = subprocess.run([AWS, "cloudtrail", "validate-logs", "--endpoint-url", srv.endpoint, "--trail-arn",
                        f"arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/audit", "--start-time", start.strftime("%Y-%m-%dT%H:%M:%SZ")],
                       capture_output=True, text=True, env=env)
    assert p.returncode == 0 and "digest files valid" in p.stdout, p.stdout + p.stderr

    # Rotation needs no re-encryption: old objects still open.
    kms.rotate_key_on_demand(KeyId=key["KeyId"])
    assert s3.get_object(Bucket="trail-logs", Key=keys[0])["Body"].read()

    # A disabled key refuses reads of what it protects, and deliveries wait and say why.
    kms.disable_key(KeyId=key["KeyId"])
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="trail-logs", Key=keys[0])
    assert e.value.response["Error"]["Code"] == "KMS.DisabledException"
    ct.start_logging(Name="audit")
    srv.ingest([record(awsRegion="us-east-1", eventName="WhileDisabled")])
    status = wait_for(lambda: (st := ct.get_trail_status(Name="audit")).get("LatestDeliveryError") and st)
    assert "disabled" in status["LatestDeliveryError"]
    kms.enable_key(KeyId=key["KeyId"])
    wait_for(lambda: any(r["eventName"] == "WhileDisabled" for recs in read_log_files(
        s3, "trail-logs", prefix=f"AWSLogs/{ACCOUNT}/CloudTrail/").values() for r in recs), timeout=60)


def test_s3_clients_can_ask_for_sse_kms_on_the_embedded_store(srv):
    key = srv.client("kms").create_key()["KeyMetadata"]
    s3 = srv.s3()
    s3.put_object(Bucket="trail-logs", Key="notes/secret.txt", Body=b"top secret", ServerSideEncryption="aws:kms", SSEKMSKeyId=key["Arn"])
    got = s3.get_object(Bucket="trail-logs", Key="notes/secret.txt")
    assert got["Body"].read() == b"top secret" and got["ServerSideEncryption"] == "aws:kms"
    assert b"top secret" not in (pathlib.Path(srv.data_dir) / "buckets" / "trail-logs" / "notes" / "secret.txt").read_bytes()
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket="trail-logs", Key="x", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId="alias/none")
    assert e.value.response["Error"]["Code"] == "KMS.NotFoundException"


def test_an_external_s3_store_gets_sse_kms_headers(tmp_path):
    moto = MotoS3().start()
    try:
        moto.client().create_bucket(Bucket="external-logs")
        srv = Server(data_dir=str(tmp_path), config_toml=FAST + f'''
[storage]
kind = "s3"
[storage.s3]
endpoint = "{moto.endpoint}"
region = "us-east-1"
access_key_id = "moto"
secret_access_key = "moto"
''').start()
        try:
            key = srv.client("kms").create_key()["KeyMetadata"]
            ct = srv.client()
            ct.create_trail(Name="audit", S3BucketName="external-logs", KmsKeyId=key["Arn"])
            ct.start_logging(Name="audit")
            srv.ingest([record(awsRegion="us-east-1")])
            m = moto.client()
            k = wait_for(lambda: next((o["Key"] for o in m.list_objects_v2(Bucket="external-logs").get("Contents", [])), None))
            head = m.head_object(Bucket="external-logs", Key=k)
            assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == key["Arn"]
        finally:
            srv.close()
    finally:
        moto.stop()
