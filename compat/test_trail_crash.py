"""kill -9 while a trail delivers under load, several times: after restarts every selected
event whose ingest was acknowledged is in exactly one log file, no file is torn, and the digest
chains still validate with the real aws CLI, listing every log file exactly once."""
import collections
import datetime
import gzip
import json
import os
import subprocess
import sys
import threading
import time

import requests

from harness import ACCOUNT, Server, read_log_files, record


def test_sigkill_during_delivery_never_loses_or_duplicates_events(tmp_path):
    config = "[trails]\nflush_interval_secs = 1\nmax_events_per_file = 300\n[integrity]\ndigest_interval_secs = 2\n"
    started = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=5)
    s = Server(data_dir=str(tmp_path), config_toml=config).start()
    s.s3().create_bucket(Bucket="trail-logs")
    ct = s.client()
    ct.create_trail(Name="audit", S3BucketName="trail-logs", IsMultiRegionTrail=True, EnableLogFileValidation=True)
    ct.start_logging(Name="audit")
    acknowledged = []
    lock = threading.Lock()
    servers = [s]
    for round_ in range(3):
        stop = threading.Event()

        def client(n):
            while not stop.is_set():
                batch = [record(awsRegion=("us-east-1", "eu-west-1")[n % 2], eventName=f"R{round_}C{n}") for _ in range(40)]
                try:
                    r = servers[-1].ingest(batch)
                except requests.RequestException:
                    return
                if r.status_code == 200:
                    with lock:
                        acknowledged.extend(x["eventID"] for x in r.json()["successful"])

        threads = [threading.Thread(target=client, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        time.sleep(2.5)  # several deliveries happen; the kill lands in or between them
        servers[-1].kill()
        stop.set()
        for t in threads:
            t.join(timeout=30)
        servers.append(Server(data_dir=str(tmp_path), config_toml=config, port=servers[-1].port).start())
    final = servers[-1]
    assert len(acknowledged) > 1000
    deadline = time.time() + 60
    while True:
        files = read_log_files(final.s3(), "trail-logs", prefix=f"AWSLogs/{ACCOUNT}/CloudTrail/")
        counts = collections.Counter(r["eventID"] for recs in files.values() for r in recs)
        if all(counts[e] >= 1 for e in acknowledged) or time.time() > deadline:
            break
        time.sleep(0.5)
    missing = [e for e in acknowledged if counts[e] == 0]
    duplicated = [e for e, n in counts.items() if n > 1]
    assert not missing, f"{len(missing)} acknowledged events never delivered"
    assert not duplicated, f"{len(duplicated)} events delivered twice"

    # The chains end with StopLogging; then each region's chain validates and lists each
    # delivered log file once.
    final.client().stop_logging(Name="audit")
    s3 = final.s3()
    def digests():
        keys = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket="trail-logs", Prefix=f"AWSLogs/{ACCOUNT}/CloudTrail-Digest/"):
            keys += [o["Key"] for o in page.get("Contents", [])]
        return keys
    seen, since = None, time.time()
    while time.time() - since < 5:
        n = len(digests())
        if n != seen:
            seen, since = n, time.time()
        time.sleep(0.3)
    listed = collections.Counter()
    for key in digests():
        doc = json.loads(gzip.decompress(s3.get_object(Bucket="trail-logs", Key=key)["Body"].read()))
        listed.update(f["s3Object"] for f in doc["logFiles"])
    logs = set(read_log_files(s3, "trail-logs", prefix=f"AWSLogs/{ACCOUNT}/CloudTrail/"))
    assert set(listed) == logs, f"{len(logs - set(listed))} log files in no digest, {len(set(listed) - logs)} listed but absent"
    assert all(n == 1 for n in listed.values()), "a log file listed twice"
    aws = os.path.join(os.path.dirname(sys.executable), "aws")
    env = dict(os.environ, AWS_ACCESS_KEY_ID=final.key, AWS_SECRET_ACCESS_KEY=final.secret, AWS_ENDPOINT_URL_S3=final.endpoint,
               AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null")
    for region in ("us-east-1", "eu-west-1"):
        p = subprocess.run([aws, "cloudtrail", "validate-logs", "--endpoint-url", final.endpoint, "--region", region,
                            "--trail-arn", f"arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/audit",
                            "--start-time", started.strftime("%Y-%m-%dT%H:%M:%SZ")],
                           capture_output=True, text=True, env=env, timeout=300)
        assert p.returncode == 0, region + p.stdout + p.stderr
        assert "digest files valid" in p.stdout and "INVALID" not in p.stdout + p.stderr
        assert "No log files were delivered" not in p.stderr, "the crashes broke a chain: " + p.stderr
    for sv in servers:
        sv.close()
