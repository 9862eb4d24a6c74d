"""validate-logs benchmark driver (run by benches/validate.sh).

For two shapes of bucket, fills a trail's bucket on a real `opentrail serve` with EVENTS
generated events delivered over several digest periods: large log files (a file a second at
5,000 events/s), and AWS-sized ones (at most 100 events a file, as busy AWS accounts see many
small files). Then times, RUNS times each, over the same bucket in the same run:
  - the real `aws cloudtrail validate-logs` (awscli from PyPI) through opentrail's APIs;
  - `opentrail validate-logs --endpoint-url` (the same CloudTrail and S3 APIs over HTTP);
  - `opentrail validate-logs --data-dir` (offline, reading the data directory).
Every run must print the same thing and exit 0. Prints one JSON line per run and a summary.
"""
import datetime
import gzip
import json
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "compat"))
from harness import ACCOUNT, BIN, Server  # noqa: E402

EVENTS = int(sys.argv[1])
RUNS = int(sys.argv[2])
WORK = sys.argv[3]
AWS = os.path.join(os.path.dirname(sys.executable), "aws")
ARN = f"arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/bench"
CONFIG = """
[journal]
sync = "periodic"
[trails]
flush_interval_secs = 1
max_events_per_file = {per_file}
[integrity]
digest_interval_secs = 5
"""


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def fill(srv):
    """A trail with validation on receives EVENTS events, then stops logging; returns the
    time range to validate once the final digest is in."""
    ct, s3 = srv.client(), srv.s3()
    s3.create_bucket(Bucket="bench-logs")
    start = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=2)
    ct.create_trail(Name="bench", S3BucketName="bench-logs", EnableLogFileValidation=True)
    ct.start_logging(Name="bench")
    subprocess.run([BIN, "generate", "--endpoint", srv.endpoint, "--rate", "5000", "--count", str(EVENTS),
                    "--batch", "500", "--regions", "us-east-1", "--access-key-id", srv.key,
                    "--secret-access-key", srv.secret], check=True, stderr=subprocess.DEVNULL)
    time.sleep(3)
    ct.stop_logging(Name="bench")
    seen, since = None, time.time()
    while time.time() - since < 8:
        n = sum(len(p.get("Contents", [])) for p in s3.get_paginator("list_objects_v2").paginate(Bucket="bench-logs"))
        if n != seen:
            seen, since = n, time.time()
        time.sleep(0.5)
    end = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=1)
    return start, end


def sizes(s3):
    """(log files, gzip bytes, JSON bytes, digests) in the bucket."""
    logs = gz = raw = digests = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket="bench-logs"):
        for o in page.get("Contents", []):
            if "/CloudTrail-Digest/" in o["Key"]:
                digests += 1
            elif "/CloudTrail/" in o["Key"]:
                logs += 1
                gz += o["Size"]
                raw += len(gzip.decompress(s3.get_object(Bucket="bench-logs", Key=o["Key"])["Body"].read()))
    return logs, gz, raw, digests


def timed(args, env):
    t = time.perf_counter()
    p = subprocess.run(args, capture_output=True, text=True, env=env, timeout=3600)
    return time.perf_counter() - t, p


def scenario(label, per_file):
    srv = Server(data_dir=os.path.join(WORK, label), config_toml=CONFIG.format(per_file=per_file)).start()
    try:
        start, end = fill(srv)
        logs, gz, raw, digests = sizes(srv.s3())
        common = ["--trail-arn", ARN, "--start-time", iso(start), "--end-time", iso(end)]
        env = dict(os.environ, AWS_ACCESS_KEY_ID=srv.key, AWS_SECRET_ACCESS_KEY=srv.secret,
                   AWS_DEFAULT_REGION="us-east-1", AWS_ENDPOINT_URL_S3=srv.endpoint,
                   AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null")
        commands = {
            "aws_cli": [AWS, "cloudtrail", "validate-logs", "--endpoint-url", srv.endpoint, *common],
            "opentrail_endpoint": [BIN, "validate-logs", "--endpoint-url", srv.endpoint, *common],
            "opentrail_data_dir": [BIN, "validate-logs", "--data-dir", srv.data_dir, *common],
        }
        outputs = {}
        times = {name: [] for name in commands}
        for run in range(RUNS):
            for name, args in commands.items():
                secs, p = timed(args, env)
                assert p.returncode == 0, f"{name}: {p.stdout}{p.stderr}"
                outputs.setdefault(name, p.stdout)
                assert p.stdout == outputs["aws_cli"], f"{name} differs:\n{p.stdout}\n---\n{outputs['aws_cli']}"
                times[name].append(secs)
                print(json.dumps({"bench": "validate", "files": label, "run": run, "tool": name, "seconds": secs,
                                  "log_files": logs, "digests": digests, "gzip_bytes": gz, "json_bytes": raw}),
                      flush=True)
        summary = [l for l in outputs["aws_cli"].splitlines() if "files valid" in l]
        print(f"\n{label} files: {EVENTS:,} events in {logs} log files ({gz / 1e6:.1f} MB gzip, {raw / 1e6:.1f} MB JSON), "
              f"{digests} digests; every run printed: {' / '.join(summary)}; medians of {RUNS} runs")
        print("| validator | seconds | log MB/s (JSON) | log MB/s (gzip) | vs aws CLI |")
        print("|---|---|---|---|---|")
        base = statistics.median(times["aws_cli"])
        for name, ts in times.items():
            m = statistics.median(ts)
            print(f"| {name} | {m:.2f} | {raw / 1e6 / m:.0f} | {gz / 1e6 / m:.1f} | {base / m:.1f}x |")
    finally:
        srv.close()


scenario("large", 50000)
scenario("aws-sized", 100)
