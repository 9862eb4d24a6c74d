"""kill -9 while clients ingest: every record whose request was answered 200 survives exactly
once, and the journal reads cleanly to its end after recovery."""
import collections
import threading
import time

import requests

from harness import Server, record


def test_sigkill_during_concurrent_ingest_loses_nothing_acknowledged(tmp_path):
    server = Server(data_dir=str(tmp_path)).start()
    acknowledged = []
    lock = threading.Lock()
    stop = threading.Event()

    def client(n):
        while not stop.is_set():
            batch = [record(eventName=f"Client{n}") for _ in range(50)]
            try:
                r = server.ingest(batch)
            except requests.RequestException:
                return  # the server died mid-request: that batch was never acknowledged
            if r.status_code == 200:
                with lock:
                    acknowledged.extend(s["eventID"] for s in r.json()["successful"])

    threads = [threading.Thread(target=client, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    deadline = time.time() + 30
    while time.time() < deadline:
        with lock:
            if len(acknowledged) >= 3000:
                break
        time.sleep(0.05)
    server.kill()
    stop.set()
    for t in threads:
        t.join(timeout=30)
    assert len(acknowledged) >= 1000, f"too little load before the kill: {len(acknowledged)}"

    restarted = Server(data_dir=str(tmp_path)).start()
    try:
        entries = restarted.journal()
        lsns = [lsn for lsn, _ in entries]
        assert lsns == sorted(lsns)
        counts = collections.Counter(rec.get("eventID") for _, rec in entries)
        missing = [e for e in acknowledged if counts[e] == 0]
        duplicated = [e for e in acknowledged if counts[e] > 1]
        assert not missing, f"{len(missing)} acknowledged records lost"
        assert not duplicated, f"{len(duplicated)} records duplicated"
        # The journal accepts appends right after the recovered end.
        assert restarted.ingest([record()]).status_code == 200
    finally:
        restarted.close()
        server.close()
