"""The server as operators see it: credentials, configuration, health, metrics, shutdown."""
import os
import re
import stat

import requests

from harness import ACCOUNT, Server, read_credentials_file, record


def test_credentials_are_generated_once_into_a_private_file(tmp_path):
    s = Server(data_dir=str(tmp_path), env_credentials=False).start()
    try:
        path = tmp_path / "credentials"
        mode = stat.S_IMODE(os.stat(path).st_mode)
        assert mode == 0o600
        key, secret = read_credentials_file(str(path))
        assert key.startswith("AKIA") and len(key) == 20 and len(secret) == 40
        assert secret not in s.log(), "the secret must never be logged"
        assert key in s.stdout() and secret in s.stdout(), "the banner shows the credentials"
        assert f"http://127.0.0.1:{s.port}" in s.stdout()
        # The profile works as-is with the AWS SDK's shared-credentials loader.
        import boto3
        os.environ["AWS_SHARED_CREDENTIALS_FILE"] = str(path)
        try:
            session = boto3.Session(profile_name="opentrail", region_name="us-east-1")
            ct = session.client("cloudtrail", endpoint_url=s.endpoint)
            assert ct.list_trails()["Trails"] == []
        finally:
            del os.environ["AWS_SHARED_CREDENTIALS_FILE"]
        assert s.stop() == 0
        s2 = Server(data_dir=str(tmp_path), env_credentials=False).start()
        assert (s2.key, s2.secret) == (key, secret), "restart reuses the stored key"
        s2.close()
    finally:
        s.close()


def test_health_and_metrics(server):
    h = requests.get(server.endpoint + "/health").json()
    assert h["status"] == "ok" and h["journal"]["durableLsn"] >= 0
    server.ingest([record(), record(eventTime="nope")])
    server.api("ListTrails", {})
    text = requests.get(server.endpoint + "/metrics").text
    assert re.search(r'opentrail_ingest_records_total\{result="accepted"\} 1', text), text
    assert re.search(r'opentrail_ingest_records_total\{result="refused"\} 1', text)
    assert re.search(r'opentrail_requests_total\{operation="ListTrails",code="OK"\} 1', text)
    assert "opentrail_journal_fsync_seconds_bucket" in text
    assert re.search(r"opentrail_journal_entries_total \d+", text)
    assert re.search(r"opentrail_journal_disk_bytes \d+", text)


def test_sigterm_shuts_down_cleanly_and_keeps_everything(tmp_path):
    s = Server(data_dir=str(tmp_path)).start()
    sent = [record() for _ in range(20)]
    assert s.ingest(sent).status_code == 200
    assert s.stop() == 0
    assert "journal flushed" in s.log()
    s2 = Server(data_dir=str(tmp_path)).start()
    try:
        ids = {r.get("eventID") for _, r in s2.journal()}
        assert {r["eventID"] for r in sent} <= ids
        assert "cut a torn tail" not in s2.log()
    finally:
        s2.close()
        s.close()


def test_configuration_file_environment_and_flags(tmp_path):
    port = Server(data_dir=str(tmp_path)).port
    s = Server(data_dir=str(tmp_path), config_toml=f'''
account_id = "111122223333"
region = "eu-north-1"
trusted_proxies = ["127.0.0.0/8"]
''', extra_args=["--account-id", "444455556666"], port=port).start()
    try:
        r = s.signed("POST", "/_opentrail/ingest", b'{"Records":[]}',
                     headers={"Content-Type": "application/json", "X-Forwarded-For": "198.51.100.23"})
        [call] = s.records(requestID=r.headers["x-amzn-RequestId"])
        assert call["sourceIPAddress"] == "198.51.100.23", "trusted proxy's X-Forwarded-For is believed"
        assert call["recipientAccountId"] == "444455556666", "the flag wins over the file"
    finally:
        s.close()


def test_a_bad_configuration_fails_with_a_clear_message(tmp_path):
    cfg = tmp_path / "bad.toml"
    cfg.write_text('acount_id = "1"\n')
    import subprocess
    from harness import BIN
    out = subprocess.run([BIN, "serve", "--config", str(cfg), "--data-dir", str(tmp_path)], capture_output=True, text=True, timeout=30)
    assert out.returncode != 0
    assert "acount_id" in out.stderr


def test_demo_mode_fills_the_journal_with_realistic_activity(tmp_path):
    s = Server(data_dir=str(tmp_path), extra_args=["--demo"], config_toml="[trails]\nflush_interval_secs = 2\n").start()
    try:
        import time
        deadline = time.time() + 60
        recs = []
        while time.time() < deadline:
            recs = [r for _, r in s.journal() if r.get("eventSource") != "opentrail.amazonaws.com" and r.get("eventSource") != "cloudtrail.amazonaws.com"]
            if len(recs) > 1000:
                break
            time.sleep(0.5)
        assert len(recs) > 1000
        sources = {r["eventSource"] for r in recs}
        assert {"s3.amazonaws.com", "ec2.amazonaws.com", "iam.amazonaws.com", "sts.amazonaws.com"} <= sources
        assert any(r.get("errorCode") for r in recs)
        assert {r["recipientAccountId"] for r in recs} == {ACCOUNT}
        # The demo trail delivers log files, and event history answers about the activity.
        from harness import read_log_files
        deadline = time.time() + 60
        files = {}
        while time.time() < deadline and not files:
            files = read_log_files(s.s3(), "opentrail-demo-logs")
            time.sleep(0.5)
        assert files, "the demo trail delivered log files"
        trail = s.client().get_trail_status(Name="demo-trail")
        assert trail["IsLogging"] is True
        assert s.client().lookup_events(LookupAttributes=[{"AttributeKey": "EventSource", "AttributeValue": "ec2.amazonaws.com"}])["Events"]
    finally:
        s.close()
