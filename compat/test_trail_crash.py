"""kill -9 while a trail delivers under load, several times: after restarts every selected
event whose ingest was acknowledged is in exactly one log file, and no file is torn."""
import collections
import threading
import time

import requests

from harness import Server, read_log_files, record


def test_sigkill_during_delivery_never_loses_or_duplicates_events(tmp_path):
    config = "[trails]\nflush_interval_secs = 1\nmax_events_per_file = 300\n"
    s = Server(data_dir=str(tmp_path), config_toml=config).start()
    s.s3().create_bucket(Bucket="trail-logs")
    ct = s.client()
    ct.create_trail(Name="audit", S3BucketName="trail-logs", IsMultiRegionTrail=True)
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
        files = read_log_files(final.s3(), "trail-logs")
        counts = collections.Counter(r["eventID"] for recs in files.values() for r in recs)
        if all(counts[e] >= 1 for e in acknowledged) or time.time() > deadline:
            break
        time.sleep(0.5)
    missing = [e for e in acknowledged if counts[e] == 0]
    duplicated = [e for e, n in counts.items() if n > 1]
    assert not missing, f"{len(missing)} acknowledged events never delivered"
    assert not duplicated, f"{len(duplicated)} events delivered twice"
    for sv in servers:
        sv.close()
