"""Log file integrity: digest chains that the real `aws cloudtrail validate-logs` accepts, on
the embedded store and on a real S3-compatible server; ListPublicKeys; a tamper matrix."""
import base64
import datetime
import gzip
import hashlib
import json
import re
import os
import subprocess
import sys
import time

import pytest
from botocore.exceptions import ClientError

from harness import ACCOUNT, BIN, MotoS3, Server, record

INTERVAL = 3
FAST = f"[trails]\nflush_interval_secs = 1\n[integrity]\ndigest_interval_secs = {INTERVAL}\n"
ARN = f"arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/audit"
AWS = os.path.join(os.path.dirname(sys.executable), "aws")


def wait_for(check, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = check()
        if v:
            return v
        time.sleep(0.2)
    raise AssertionError("timed out")


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def aws_validate(srv, start, s3_endpoint=None, region="us-east-1", extra=(), arn=ARN):
    """Runs the real aws CLI's validate-logs; returns (rc, stdout, stderr)."""
    env = dict(os.environ, AWS_ACCESS_KEY_ID=srv.key, AWS_SECRET_ACCESS_KEY=srv.secret, AWS_DEFAULT_REGION=region,
               AWS_ENDPOINT_URL_S3=s3_endpoint or srv.endpoint, AWS_ENDPOINT_URL_ORGANIZATIONS=srv.endpoint,
               AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null")
    p = subprocess.run([AWS, "cloudtrail", "validate-logs", "--endpoint-url", srv.endpoint, "--region", region,
                        "--trail-arn", arn, "--start-time", iso(start), "--verbose", *extra],
                       capture_output=True, text=True, env=env, timeout=120)
    return p.returncode, p.stdout, p.stderr


def ot_validate(srv, start, end, source="server", region="us-east-1", extra=(), arn=ARN, s3_endpoint=None):
    """Runs `opentrail validate-logs` on the server, its data directory, or an S3 location."""
    env = dict(os.environ, AWS_ACCESS_KEY_ID=srv.key, AWS_SECRET_ACCESS_KEY=srv.secret)
    env.pop("AWS_ENDPOINT_URL_S3", None)
    args = [BIN, "validate-logs", "--region", region, "--trail-arn", arn, "--start-time", iso(start),
            "--end-time", iso(end), "--verbose", *extra]
    if source == "server":
        args += ["--endpoint-url", srv.endpoint]
        if s3_endpoint:
            args += ["--s3-endpoint-url", s3_endpoint]
    elif source == "data-dir":
        args += ["--data-dir", srv.data_dir]
    p = subprocess.run(args, capture_output=True, text=True, env=env, timeout=120)
    return p.returncode, p.stdout, p.stderr


def both_agree(srv, start, sources=("server", "data-dir"), **kw):
    """The aws CLI and opentrail validate-logs (from each source) print the same and exit the
    same; returns the aws CLI's (rc, stdout, stderr)."""
    end = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=1)
    s3_endpoint = kw.pop("s3_endpoint", None)
    theirs = aws_validate(srv, start, s3_endpoint=s3_endpoint, extra=["--end-time", iso(end), *kw.get("extra", ())],
                          **{k: v for k, v in kw.items() if k != "extra"})
    for source in sources:
        ours = ot_validate(srv, start, end, source=source, s3_endpoint=s3_endpoint, **kw)
        assert ours == theirs, f"{source}:\n--- opentrail\n{ours}\n--- aws\n{theirs}"
    return theirs


def digest_keys(s3, bucket):
    out = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="AWSLogs/"):
        out += [o["Key"] for o in page.get("Contents", []) if "/CloudTrail-Digest/" in o["Key"]]
    return sorted(out)


def read_digest(s3, bucket, key):
    o = s3.get_object(Bucket=bucket, Key=key)
    return json.loads(gzip.decompress(o["Body"].read())), o["Metadata"]


def deliver_chain(srv, s3, bucket="trail-logs", rounds=4):
    """A trail with validation on that delivers over several digest periods, then stops
    logging; returns the time just before it started."""
    ct = srv.client()
    start = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=2)
    ct.create_trail(Name="audit", S3BucketName=bucket, EnableLogFileValidation=True)
    ct.start_logging(Name="audit")
    for i in range(rounds):
        assert srv.ingest([record(awsRegion="us-east-1", eventName=f"Round{i}-{j}") for j in range(5)]).status_code == 200
        time.sleep(INTERVAL * 0.7)
    # Quiet periods still get (empty) digests.
    time.sleep(2 * INTERVAL + 0.5)
    ct.stop_logging(Name="audit")
    # The chain ends with a final digest once the StopLogging call is delivered; after it no
    # digest comes, however long we wait.
    seen, since, deadline = None, time.time(), time.time() + 60
    while time.time() - since < INTERVAL + 2:
        assert time.time() < deadline, "digests kept coming after StopLogging"
        n = len(digest_keys(s3, bucket))
        if n != seen:
            seen, since = n, time.time()
        time.sleep(0.3)
    return start


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    srv = Server(data_dir=str(tmp_path_factory.mktemp("integrity")), config_toml=FAST).start()
    s3 = srv.s3()
    s3.create_bucket(Bucket="trail-logs")
    start = deliver_chain(srv, s3)
    yield srv, s3, start
    srv.close()


def summary(out):
    lines = [l for l in out.splitlines() if "files valid" in l]
    return lines


def test_the_aws_cli_and_opentrail_validate_every_digest_and_log_file(chain):
    srv, s3, start = chain
    keys = digest_keys(s3, "trail-logs")
    assert len(keys) >= 4, keys
    both_agree(srv, start)
    assert any(read_digest(s3, "trail-logs", k)[0]["logFiles"] == [] for k in keys), "an empty digest"

    docs = [read_digest(s3, "trail-logs", k)[0] for k in keys]
    logs = {f["s3Object"] for d in docs for f in d["logFiles"]}
    rc, out, err = aws_validate(srv, start)
    assert rc == 0, out + err
    assert f"{len(keys)}/{len(keys)} digest files valid" in out, out
    assert f"{len(logs)}/{len(logs)} log files valid" in out, out
    assert err == ""


def test_digests_follow_the_aws_format_and_chain(chain):
    srv, s3, _ = chain
    keys = digest_keys(s3, "trail-logs")
    docs = [read_digest(s3, "trail-logs", k) for k in keys]
    listed = [f["s3Object"] for d, _ in docs for f in d["logFiles"]]
    assert len(listed) == len(set(listed)), "each log file is listed by exactly one digest"
    all_logs = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket="trail-logs", Prefix=f"AWSLogs/{ACCOUNT}/CloudTrail/"):
        all_logs += [o["Key"] for o in page.get("Contents", [])]
    assert sorted(listed) == sorted(all_logs), "every delivered log file is in a digest"
    first, meta = docs[0]
    assert meta["signature-algorithm"] == "SHA256withRSA" and len(meta["signature"]) == 512
    assert first["previousDigestSignature"] is None and first["previousDigestS3Object"] is None, "a chain starts with nulls"
    for (prev, prev_meta), (doc, _), key in zip(docs, docs[1:], keys[1:]):
        assert doc["previousDigestSignature"] == prev_meta["signature"]
        assert doc["previousDigestS3Object"] == keys[keys.index(key) - 1]
        assert doc["digestStartTime"] == prev["digestEndTime"], "windows are contiguous"
        assert doc["previousDigestHashAlgorithm"] == "SHA-256"
    for (doc, _), key in zip(docs, keys):
        assert doc["digestS3Object"] == key and doc["digestS3Bucket"] == "trail-logs"
        assert key.endswith(f"_CloudTrail-Digest_us-east-1_audit_us-east-1_{doc['digestEndTime'].replace('-', '').replace(':', '')}.json.gz")
        for f in doc["logFiles"]:
            body = s3.get_object(Bucket="trail-logs", Key=f["s3Object"])["Body"].read()
            raw = gzip.decompress(body)
            assert hashlib.sha256(raw).hexdigest() == f["hashValue"]
            times = [r["eventTime"] for r in json.loads(raw)["Records"]]
            assert (f["oldestEventTime"], f["newestEventTime"]) == (min(times), max(times))
    empty = [d for d, _ in docs if not d["logFiles"]]
    assert empty and all(d["newestEventTime"] is None and d["oldestEventTime"] is None for d in empty)
    ends = [datetime.datetime.strptime(d["digestEndTime"], "%Y-%m-%dT%H:%M:%SZ") for d, _ in docs]
    assert all((b - a).total_seconds() >= 1 for a, b in zip(ends, ends[1:]))


def test_list_public_keys_returns_the_signing_keys(chain):
    srv, s3, _ = chain
    ct = srv.client()
    keys = ct.list_public_keys()["PublicKeyList"]
    assert keys
    fingerprints = {read_digest(s3, "trail-logs", k)[0]["digestPublicKeyFingerprint"] for k in digest_keys(s3, "trail-logs")}
    for k in keys:
        assert hashlib.md5(k["Value"]).hexdigest() == k["Fingerprint"]
        assert k["Value"][0] == 0x30, "DER"
        assert k["ValidityEndTime"] > k["ValidityStartTime"]
    assert fingerprints <= {k["Fingerprint"] for k in keys}
    now = datetime.datetime.now(datetime.timezone.utc)
    ranged = ct.list_public_keys(StartTime=now - datetime.timedelta(days=1), EndTime=now)["PublicKeyList"]
    assert [k["Fingerprint"] for k in ranged] == [k["Fingerprint"] for k in keys]
    other = srv.client(region="eu-west-1").list_public_keys()["PublicKeyList"]
    assert other and not {k["Fingerprint"] for k in other} & {k["Fingerprint"] for k in keys}, "keys are per region"
    with pytest.raises(ClientError) as e:
        ct.list_public_keys(StartTime=now, EndTime=now - datetime.timedelta(hours=1))
    assert e.value.response["Error"]["Code"] == "InvalidTimeRangeException"
    with pytest.raises(ClientError) as e:
        ct.list_public_keys(NextToken="forged")
    assert e.value.response["Error"]["Code"] == "InvalidTokenException"
    env = dict(os.environ, AWS_ACCESS_KEY_ID=srv.key, AWS_SECRET_ACCESS_KEY=srv.secret, AWS_DEFAULT_REGION="us-east-1",
               AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null")
    p = subprocess.run([AWS, "cloudtrail", "list-public-keys", "--endpoint-url", srv.endpoint], capture_output=True, text=True, env=env)
    assert p.returncode == 0 and base64.b64decode(json.loads(p.stdout)["PublicKeyList"][0]["Value"])[0] == 0x30


def test_validation_needs_digests_in_range(chain):
    srv, _, start = chain
    rc, out, err = aws_validate(srv, start - datetime.timedelta(days=3), extra=["--end-time", iso(start - datetime.timedelta(days=2))])
    assert rc == 0 and "No digests found" in out, out + err


def test_a_real_s3_compatible_store_holds_a_chain_the_aws_cli_accepts(tmp_path):
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
            start = deliver_chain(srv, moto.client(), bucket="external-logs", rounds=3)
            keys = digest_keys(moto.client(), "external-logs")
            assert len(keys) >= 3, keys
            rc, out, err = both_agree(srv, start, sources=("server",), s3_endpoint=moto.endpoint)
            assert rc == 0, out + err
            assert f"{len(keys)}/{len(keys)} digest files valid" in out, out
        finally:
            srv.close()
    finally:
        moto.stop()


class Bucket:
    """Tampering through the S3 API, undone after each case."""

    def __init__(self, s3, name):
        self.s3, self.name, self.saved = s3, name, {}

    def get(self, key):
        o = self.s3.get_object(Bucket=self.name, Key=key)
        return o["Body"].read(), o["Metadata"]

    def _save(self, key):
        if key not in self.saved:
            try:
                self.saved[key] = self.get(key)
            except ClientError:
                self.saved[key] = None

    def put(self, key, body, metadata=None):
        self._save(key)
        self.s3.put_object(Bucket=self.name, Key=key, Body=body, Metadata=metadata or {})

    def delete(self, key):
        self._save(key)
        self.s3.delete_object(Bucket=self.name, Key=key)

    def restore(self):
        for key, v in self.saved.items():
            if v is None:
                self.s3.delete_object(Bucket=self.name, Key=key)
            else:
                self.s3.put_object(Bucket=self.name, Key=key, Body=v[0], Metadata=v[1])
        self.saved = {}


def resign(doc, key, bucket, previous_signature, private_key):
    """A digest signed the way CloudTrail signs, with another RSA key."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding
    raw = json.dumps(doc).encode()
    to_sign = f"{doc['digestEndTime']}\n{bucket}/{key}\n{hashlib.sha256(raw).hexdigest()}\n{previous_signature or 'null'}"
    sig = private_key.sign(to_sign.encode(), padding.PKCS1v15(), hashes.SHA256()).hex()
    return gzip.compress(raw), {"signature": sig, "signature-algorithm": "SHA256withRSA"}


def tamper_cases(b, keys):
    """(name, tamper(), expected stderr line) for the chain's digests `keys` (oldest first)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    docs = {k: b.get(k) for k in keys}
    with_logs = [k for k in keys if json.loads(gzip.decompress(docs[k][0]))["logFiles"]]
    middle = with_logs[len(with_logs) // 2]
    doc = json.loads(gzip.decompress(docs[middle][0]))
    log, log2 = doc["logFiles"][0]["s3Object"], doc["logFiles"][-1]["s3Object"]
    s3url = lambda k: f"s3://{b.name}/{k}"  # noqa: E731
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other_fp = hashlib.md5(other.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)).hexdigest()

    def modify_log():
        body, meta = b.get(log)
        records = json.loads(gzip.decompress(body))
        records["Records"][0]["sourceIPAddress"] = "198.51.100.66"
        b.put(log, gzip.compress(json.dumps(records).encode()), meta)

    def swap_logs():
        first, second = b.get(log), b.get(doc["logFiles"][1]["s3Object"] if len(doc["logFiles"]) > 1 else log2)
        b.put(log, first[0] if log == log2 else second[0], first[1])

    def modify_digest():
        body, meta = docs[middle]
        d = json.loads(gzip.decompress(body))
        d["logFiles"] = d["logFiles"][1:] + d["logFiles"][:1] if len(d["logFiles"]) > 1 else []
        b.put(middle, gzip.compress(json.dumps(d).encode()), meta)

    def resign_with_other_key():
        d = dict(doc, digestPublicKeyFingerprint=other_fp, logFiles=doc["logFiles"][1:])
        body, meta = resign(d, middle, b.name, doc["previousDigestSignature"], other)
        b.put(middle, body, meta)

    def forge_with_real_fingerprint():
        d = dict(doc, logFiles=doc["logFiles"][1:])
        body, meta = resign(d, middle, b.name, doc["previousDigestSignature"], other)
        b.put(middle, body, meta)

    newest = keys[-1]
    stamp = newest[-24:-8]
    later = (datetime.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ") + datetime.timedelta(minutes=10)).strftime("%Y%m%dT%H%M%SZ")
    moved = newest[:-24] + later + newest[-8:]

    def move_digest():
        b.put(moved, *docs[newest])
        b.delete(newest)

    cases = [
        ("log file modified", modify_log, f"Log file\t{s3url(log)}\tINVALID: hash value doesn't match"),
        ("log file deleted", lambda: b.delete(log), f"Log file\t{s3url(log)}\tINVALID: not found"),
        ("digest modified", modify_digest, f"Digest file\t{s3url(middle)}\tINVALID: signature verification failed"),
        ("digest deleted (chain broken)", lambda: b.delete(middle), f"Digest file\t{s3url(middle)}\tINVALID: not found"),
        ("digest re-signed with another key", resign_with_other_key,
         f"Digest file\t{s3url(middle)}\tINVALID: public key not found in region us-east-1 for fingerprint {other_fp}"),
        ("digest forged under the real fingerprint", forge_with_real_fingerprint,
         f"Digest file\t{s3url(middle)}\tINVALID: signature verification failed"),
        ("digest moved", move_digest, f"Digest file\t{s3url(moved)}\tINVALID: has been moved from its original location"),
    ]
    if len(doc["logFiles"]) > 1:
        cases.append(("log files reordered", swap_logs, f"Log file\t{s3url(log)}\tINVALID: hash value doesn't match"))
    return cases


def test_tampering_is_reported_exactly_by_the_aws_cli(chain):
    srv, s3, start = chain
    b = Bucket(s3, "trail-logs")
    keys = digest_keys(s3, "trail-logs")
    for name, tamper, expected in tamper_cases(b, keys):
        try:
            tamper()
            rc, out, err = both_agree(srv, start)
            assert rc == 1, (name, out, err)
            assert expected in err, (name, err)
            assert "INVALID" in out.splitlines()[-1] or "INVALID" in out, (name, out)
        finally:
            b.restore()
    rc, out, err = aws_validate(srv, start)
    assert rc == 0 and err == "", "restored: " + out + err


def test_an_added_log_file_is_outside_every_digest(chain):
    """The aws CLI only checks the files digests list: a planted file goes unnoticed by it, and
    by opentrail validate-logs by default (same output); `--check-unlisted` reports it."""
    srv, s3, start = chain
    b = Bucket(s3, "trail-logs")
    doc = read_digest(s3, "trail-logs", digest_keys(s3, "trail-logs")[0])[0]
    planted = doc["logFiles"][0]["s3Object"].replace(".json.gz", "X.json.gz")
    try:
        b.put(planted, gzip.compress(b'{"Records":[]}'))
        rc, out, err = both_agree(srv, start)
        assert rc == 0 and planted not in out + err
        end = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=1)
        for source in ("server", "data-dir"):
            rc, out, err = ot_validate(srv, start, end, source=source, extra=["--check-unlisted"])
            assert rc == 1, out + err
            assert err.strip() == f"Log file\ts3://trail-logs/{planted}\tINVALID: not listed in any digest file", err
            assert re.search(r"\n(\d+)/(\d+) log files valid, 1/\2 log files INVALID\n$", out), out
        b.restore()
        rc, out, err = ot_validate(srv, start, end, extra=["--check-unlisted"])
        assert rc == 0 and err == "", out + err
    finally:
        b.restore()


def test_keys_rotate_and_every_digest_still_validates(tmp_path):
    srv = Server(data_dir=str(tmp_path), config_toml=FAST.replace(
        "[integrity]\n", "[integrity]\nkey_validity_secs = 8\nkey_rotation_secs = 4\n")).start()
    try:
        s3 = srv.s3()
        s3.create_bucket(Bucket="trail-logs")
        start = deliver_chain(srv, s3, rounds=5)
        keys = digest_keys(s3, "trail-logs")
        fingerprints = [read_digest(s3, "trail-logs", k)[0]["digestPublicKeyFingerprint"] for k in keys]
        assert len(set(fingerprints)) >= 2, "digests were signed by more than one key"
        listed = srv.client().list_public_keys(StartTime=start, EndTime=datetime.datetime.now(datetime.timezone.utc))["PublicKeyList"]
        windows = sorted((k["ValidityStartTime"], k["ValidityEndTime"]) for k in listed)
        assert all(b[0] < a[1] for a, b in zip(windows, windows[1:])), "validity windows overlap"
        rc, out, err = both_agree(srv, start)
        assert rc == 0 and f"{len(keys)}/{len(keys)} digest files valid" in out, out + err
    finally:
        srv.close()


def test_a_master_key_wraps_the_signing_keys(tmp_path):
    master = tmp_path / "master.key"
    master.write_text("11" * 32 + "\n")
    data = tmp_path / "data"
    config = FAST + f'master_key_file = "{master}"\n'
    srv = Server(data_dir=str(data), config_toml=config).start()
    try:
        s3 = srv.s3()
        s3.create_bucket(Bucket="trail-logs")
        start = deliver_chain(srv, s3, rounds=2)
    finally:
        srv.close()
    files = list((data / "signing-keys").iterdir())
    assert files and all(oct(f.stat().st_mode)[-3:] == "600" for f in files)
    for f in files:
        stored = json.loads(f.read_text())["keys"]
        assert all("wrapped" in k["private_key"] for k in stored), "no private key in the clear"
    master.write_text("22" * 32 + "\n")
    with pytest.raises(RuntimeError) as e:
        Server(data_dir=str(data), config_toml=config).start()
    assert "master key" in str(e.value)
    master.write_text("11" * 32 + "\n")
    srv = Server(data_dir=str(data), config_toml=config).start()
    try:
        rc, out, err = aws_validate(srv, start)
        assert rc == 0, out + err
    finally:
        srv.close()


def test_organization_trails_validate_per_member_account(tmp_path):
    org, member = "o-a1b2c3d4e5", "111122223333"
    srv = Server(data_dir=str(tmp_path), config_toml=FAST + f"""
[organization]
id = "{org}"
management_account = "{ACCOUNT}"
member_accounts = ["{ACCOUNT}", "{member}"]
""").start()
    try:
        desc = srv.client("organizations").describe_organization()["Organization"]
        assert desc["Id"] == org and desc["MasterAccountId"] == ACCOUNT
        s3 = srv.s3()
        s3.create_bucket(Bucket="org-logs")
        ct = srv.client()
        start = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=2)
        ct.create_trail(Name="audit", S3BucketName="org-logs", IsOrganizationTrail=True, EnableLogFileValidation=True)
        ct.start_logging(Name="audit")
        for _ in range(3):
            srv.ingest([record(awsRegion="us-east-1"), record(awsRegion="us-east-1", recipientAccountId=member)])
            time.sleep(INTERVAL * 0.8)
        ct.stop_logging(Name="audit")
        wait_for(lambda: any(f"AWSLogs/{org}/{member}/CloudTrail-Digest/" in k for k in digest_keys_all(s3, "org-logs")))
        time.sleep(INTERVAL + 2)
        for account in (ACCOUNT, member):
            keys = [k for k in digest_keys_all(s3, "org-logs") if k.startswith(f"AWSLogs/{org}/{account}/CloudTrail-Digest/us-east-1/")]
            assert keys, account
            rc, out, err = both_agree(srv, start, extra=["--account-id", account])
            assert rc == 0, out + err
            assert f"{len(keys)}/{len(keys)} digest files valid" in out, out
    finally:
        srv.close()


def digest_keys_all(s3, bucket):
    out = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        out += [o["Key"] for o in page.get("Contents", []) if "/CloudTrail-Digest/" in o["Key"]]
    return sorted(out)


def test_describe_organization_without_an_organization(chain):
    srv, _, _ = chain
    with pytest.raises(ClientError) as e:
        srv.client("organizations").describe_organization()
    assert e.value.response["Error"]["Code"] == "AWSOrganizationsNotInUseException"
