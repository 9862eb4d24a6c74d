"""Starting real `opentrail serve` processes and talking to them as AWS clients do.

Every test in this suite drives a real server binary (OPENTRAIL_BIN) over HTTP with boto3,
botocore's SigV4 signer or the aws CLI; nothing is mocked.
"""
import gzip
import json
import os
import signal
import socket
import subprocess
import tempfile
import time
import uuid

import boto3
import botocore.auth
import botocore.awsrequest
import botocore.config
import botocore.credentials
import requests

BIN = os.environ.get("OPENTRAIL_BIN", os.path.join(os.path.dirname(__file__), "..", "target", "debug", "opentrail"))
ROOT_KEY = "AKIAOPENTRAILTEST001"
ROOT_SECRET = "opentrail-test-secret-key-000000000000000"
ACCOUNT = "123456789012"
ALICE_KEY = "AKIAALICEEXAMPLE0001"
ALICE_SECRET = "alice-secret-key-0000000000000000000000"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One `opentrail serve` child process with its own data directory."""

    def __init__(self, data_dir=None, env_credentials=True, extra_args=(), config_toml=None, port=None):
        self._tmp = None
        if data_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="opentrail-test-")
            data_dir = self._tmp.name
        os.makedirs(data_dir, exist_ok=True)
        self.data_dir = data_dir
        self.port = port or free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.env_credentials = env_credentials
        self.extra_args = list(extra_args)
        self.config_path = None
        if config_toml is not None:
            self.config_path = os.path.join(data_dir, "opentrail.toml")
            with open(self.config_path, "w") as f:
                f.write(config_toml)
        self.proc = None
        self.log_path = os.path.join(data_dir, "server.log")
        self.key, self.secret = (ROOT_KEY, ROOT_SECRET) if env_credentials else (None, None)

    def start(self, timeout=30):
        env = dict(os.environ)
        env.pop("OPENTRAIL_ACCESS_KEY_ID", None)
        env.pop("OPENTRAIL_SECRET_ACCESS_KEY", None)
        if self.env_credentials:
            env["OPENTRAIL_ACCESS_KEY_ID"] = ROOT_KEY
            env["OPENTRAIL_SECRET_ACCESS_KEY"] = ROOT_SECRET
        env.setdefault("RUST_LOG", "info")
        args = [BIN, "serve", "--listen", f"127.0.0.1:{self.port}", "--data-dir", self.data_dir]
        if self.config_path:
            args += ["--config", self.config_path]
        args += self.extra_args
        self._log = open(self.log_path, "ab")
        self.stdout_path = os.path.join(self.data_dir, "server.stdout")
        self._stdout = open(self.stdout_path, "ab")
        self.proc = subprocess.Popen(args, stdout=self._stdout, stderr=self._log, env=env)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}: {self.log()}")
            try:
                if requests.get(self.endpoint + "/health", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.05)
        else:
            raise RuntimeError("server did not become healthy: " + self.log())
        if not self.env_credentials:
            self.key, self.secret = read_credentials_file(os.path.join(self.data_dir, "credentials"))
        return self

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")[-4000:]
        except OSError:
            return ""

    def stdout(self):
        with open(self.stdout_path, "rb") as f:
            return f.read().decode(errors="replace")

    def stop(self, timeout=20):
        """SIGTERM: graceful shutdown. Returns the exit code."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=timeout)
        return self.proc.returncode if self.proc else None

    def kill(self):
        """SIGKILL: a crash."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def close(self):
        self.kill()
        for f in ("_log", "_stdout"):
            if hasattr(self, f):
                getattr(self, f).close()
        if self._tmp:
            self._tmp.cleanup()

    # --- clients ---------------------------------------------------------------------------

    def client(self, service="cloudtrail", region="us-east-1", key=None, secret=None, token=None):
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=region,
            aws_access_key_id=key or self.key,
            aws_secret_access_key=secret or self.secret,
            aws_session_token=token,
            config=botocore.config.Config(retries={"max_attempts": 1, "mode": "standard"}),
        )

    def s3(self, key=None, secret=None):
        """A boto3 S3 client for the embedded store (path-style, same listener)."""
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id=key or self.key,
            aws_secret_access_key=secret or self.secret,
            config=botocore.config.Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
        )

    def signed(self, method, path, body=b"", headers=None, service="opentrail", region="us-east-1",
               key=None, secret=None, params=None):
        """Sends a request signed by botocore's own SigV4 signer."""
        creds = botocore.credentials.Credentials(key or self.key, secret or self.secret)
        url = self.endpoint + path
        req = botocore.awsrequest.AWSRequest(method=method, url=url, data=body, headers=headers or {}, params=params or {})
        botocore.auth.SigV4Auth(creds, service, region).add_auth(req)
        prepared = req.prepare()
        return requests.request(method, prepared.url, data=prepared.body, headers=dict(prepared.headers), timeout=60)

    def api(self, operation, body, **kw):
        """A raw CloudTrail JSON 1.1 call (for bodies that boto3 would refuse to send)."""
        data = body if isinstance(body, (bytes, str)) else json.dumps(body)
        headers = {
            "X-Amz-Target": f"com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.{operation}",
            "Content-Type": "application/x-amz-json-1.1",
        }
        headers.update(kw.pop("headers", {}))
        kw.setdefault("service", "cloudtrail")
        return self.signed("POST", "/", data, headers=headers, **kw)

    def ingest(self, records, ndjson=False, gzip_body=False, **kw):
        if ndjson:
            body = "\n".join(r if isinstance(r, str) else json.dumps(r) for r in records).encode()
            ctype = "application/x-ndjson"
        else:
            body = json.dumps({"Records": records}).encode()
            ctype = "application/json"
        headers = {"Content-Type": ctype}
        if gzip_body:
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        return self.signed("POST", "/_opentrail/ingest", body, headers=headers, **kw)

    def journal(self, start=1, limit=10000):
        """Every record in the journal from `start`, as (lsn, record) pairs."""
        out = []
        end = None
        while True:
            r = self.signed("GET", "/_opentrail/journal", params={"from": str(start), "limit": str(limit)})
            assert r.status_code == 200, r.text
            page = r.json()
            # Each read is itself recorded, so stop at what was durable when reading began.
            end = page["durableLsn"] if end is None else end
            out += [(e["lsn"], e["record"]) for e in page["entries"] if e["lsn"] <= end]
            start = page["nextLsn"]
            if not page["entries"] or start > end:
                return [x for x in out if x[1].get("eventName") != "ReadJournal"]

    def records(self, **match):
        """Journal records whose top-level fields equal `match`."""
        return [r for _, r in self.journal() if all(r.get(k) == v for k, v in match.items())]


def read_credentials_file(path):
    key = secret = None
    profile = None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("["):
                profile = line
            elif profile == "[opentrail]" and "=" in line:
                k, v = (x.strip() for x in line.split("=", 1))
                if k == "aws_access_key_id":
                    key = v
                elif k == "aws_secret_access_key":
                    secret = v
    return key, secret


def record(**overrides):
    """A realistic CloudTrail record (real-world shape, nested identity, resources, TLS)."""
    r = {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "AssumedRole",
            "principalId": "AROAEXAMPLEROLEID:jane",
            "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/Admin/jane",
            "accountId": ACCOUNT,
            "accessKeyId": "ASIAEXAMPLEKEY000001",
            "sessionContext": {
                "sessionIssuer": {"type": "Role", "principalId": "AROAEXAMPLEROLEID",
                                  "arn": f"arn:aws:iam::{ACCOUNT}:role/Admin", "accountId": ACCOUNT,
                                  "userName": "Admin"},
                "webIdFederationData": {},
                "attributes": {"creationDate": "2026-11-25T08:00:00Z", "mfaAuthenticated": "true"},
            },
        },
        "eventTime": "2026-11-25T09:15:02Z",
        "eventSource": "s3.amazonaws.com",
        "eventName": "PutBucketPolicy",
        "awsRegion": "eu-west-1",
        "sourceIPAddress": "203.0.113.7",
        "userAgent": "[aws-cli/2.15.0 Python/3.11.6 Linux/6.1 exe/x86_64.debian.12]",
        "requestParameters": {"bucketName": "audit-logs", "bucketPolicy": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow"}]}, "Host": "audit-logs.s3.eu-west-1.amazonaws.com", "policy": ""},
        "responseElements": None,
        "additionalEventData": {"SignatureVersion": "SigV4", "CipherSuite": "TLS_AES_128_GCM_SHA256", "bytesTransferredIn": 0, "AuthenticationMethod": "AuthHeader", "x-amz-id-2": "abc=", "bytesTransferredOut": 0},
        "requestID": "8ZSHK3TX0M8W2Q7A",
        "eventID": str(uuid.uuid4()),
        "readOnly": False,
        "resources": [{"accountId": ACCOUNT, "type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::audit-logs"}],
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": ACCOUNT,
        "eventCategory": "Management",
        "tlsDetails": {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256", "clientProvidedHostHeader": "audit-logs.s3.eu-west-1.amazonaws.com"},
    }
    r.update(overrides)
    return r


class MotoS3:
    """A moto S3 server (a third-party S3 implementation) on a free port."""

    def __init__(self, port=None):
        self.port = port or free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.proc = None

    def start(self):
        import sys
        moto = os.path.join(os.path.dirname(sys.executable), "moto_server")
        self.proc = subprocess.Popen([moto, "-p", str(self.port), "-H", "127.0.0.1"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                requests.get(self.endpoint, timeout=1)
                return self
            except requests.RequestException:
                time.sleep(0.1)
        raise RuntimeError("moto did not start")

    def client(self):
        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id="moto", aws_secret_access_key="moto",
                            config=botocore.config.Config(s3={"addressing_style": "path"}))

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


def read_log_files(s3, bucket, prefix=""):
    """Every delivered log file: {key: [records]}, checking each is one gzip member."""
    import zlib
    out = {}
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        for o in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()
            d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            raw = d.decompress(body) + d.flush()
            assert d.eof and not d.unused_data, f"{o['Key']} is not a single gzip member"
            out[o["Key"]] = json.loads(raw)["Records"]
    return out
