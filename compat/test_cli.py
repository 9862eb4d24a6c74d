"""`opentrail generate` and `--help` as a user runs them."""
import gzip
import json
import os
import subprocess

from harness import BIN


def run(*args, **kw):
    return subprocess.run([BIN, *args], capture_output=True, text=True, timeout=300, **kw)


def test_generate_is_deterministic_and_its_output_is_ingestible(server, tmp_path):
    args = ["generate", "--out", "-", "--format", "ndjson", "--hours", "1", "--seed", "11",
            "--end", "2026-11-25T12:00:00Z", "--events-per-day", "20000"]
    a, b = run(*args), run(*args)
    assert a.returncode == 0, a.stderr
    assert a.stdout == b.stdout, "same seed and options give the same events"
    lines = a.stdout.splitlines()
    assert len(lines) > 200
    c = run(*args[:-4], "--seed", "12", "--end", "2026-11-25T12:00:00Z", "--events-per-day", "20000")
    assert c.stdout != a.stdout
    r = server.ingest(lines, ndjson=True)
    assert r.status_code == 200
    assert r.json()["failed"] == [] and len(r.json()["successful"]) == len(lines)


def test_generate_log_files_are_aws_shaped(tmp_path):
    out = run("generate", "--out", str(tmp_path), "--hours", "1", "--seed", "3", "--end", "2026-11-25T12:00:00Z",
              "--burst", "ec2.amazonaws.com:TerminateInstances:100")
    assert out.returncode == 0, out.stderr
    files = []
    for root, _, names in os.walk(tmp_path / "AWSLogs"):
        files += [os.path.join(root, n) for n in names]
    assert files
    total = 0
    terminate = 0
    for f in files:
        rel = os.path.relpath(f, tmp_path)
        parts = rel.split(os.sep)
        assert parts[:3] == ["AWSLogs", "123456789012", "CloudTrail"], rel
        assert parts[-1].startswith(f"123456789012_CloudTrail_{parts[3]}_") and parts[-1].endswith(".json.gz")
        with gzip.open(f) as g:
            recs = json.load(g)["Records"]
        total += len(recs)
        terminate += sum(r["eventName"] == "TerminateInstances" for r in recs)
    assert terminate >= 1500, "the 20-minute burst at 100/min is in the files"
    assert f"generated {total} events" in out.stderr


def test_bad_arguments_explain_themselves():
    out = run("generate", "--out", "/tmp/x", "--burst", "nonsense")
    assert out.returncode != 0 and "SOURCE:NAME:PER_MINUTE" in out.stderr
    out = run("generate")
    assert out.returncode != 0 and "--out" in out.stderr
    help_text = run("--help").stdout
    for word in ("serve", "generate", "bench", "CloudTrail"):
        assert word in help_text
    assert "OPENTRAIL_DATA_DIR" in run("serve", "--help").stdout
