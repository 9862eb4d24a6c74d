"""Every example in README.md runs: shell blocks in order (with `cargo run --release --` mapped
to the binary under test), Python blocks, and the sample configuration file."""
import os
import re
import subprocess
import sys

from harness import BIN, Server

README = os.path.join(os.path.dirname(__file__), "..", "README.md")
FENCE = re.compile(r"(<!-- readme-test: skip -->\s*)?```(\w+)\n(.*?)```", re.S)


def blocks(lang):
    text = open(README).read()
    return [body for skip, l, body in FENCE.findall(text) if l == lang and not skip]


def test_readme_shell_and_python_examples_run(tmp_path):
    server = Server(data_dir=str(tmp_path / "opentrail-data"), env_credentials=False,
                    config_toml="[trails]\nflush_interval_secs = 1\n").start()
    try:
        endpoint = f"127.0.0.1:{server.port}"
        prelude = (
            'cargo() { if [ "$1" = run ]; then shift; [ "$1" = --release ] && shift; '
            '[ "$1" = -- ] && shift; "$OPENTRAIL_BIN" "$@"; else command cargo "$@"; fi; }\n'
            "set -euo pipefail\n"
        )
        script = prelude + "\n".join(b.replace("127.0.0.1:4599", endpoint) for b in blocks("sh"))
        env = dict(os.environ, OPENTRAIL_BIN=BIN, PATH=os.path.dirname(sys.executable) + ":" + os.environ["PATH"])
        for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_SHARED_CREDENTIALS_FILE"):
            env.pop(k, None)
        out = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stdout + out.stderr
        # The ingest example accepts one record and refuses the other, as the README says.
        assert '"successful":[{"index":0,"eventID":' in out.stdout
        assert '"errorCode":"InvalidData"' in out.stdout
        assert '"CreateInvoice"' in out.stdout, "the journal read shows the ingested record"
        assert "CreateInvoice\tbilling-svc" in out.stdout, "lookup-events finds it by name, with its user"
        assert os.path.getsize("/tmp/lookups.csv") > 0
        assert re.search(r"AWSLogs/123456789012/CloudTrail/us-east-1/\d{4}/\d{2}/\d{2}/123456789012_CloudTrail_us-east-1_\d{8}T\d{4}Z_\w{16}\.json\.gz", out.stdout)
        assert '"IsLogging": true' in out.stdout
        assert os.path.isdir("/tmp/ct-logs/AWSLogs/123456789012/CloudTrail")
        assert "sent 1000 events (0 refused)" in out.stderr
        # Both validators accept the signed, encrypted trail's chain (the aws CLI, then
        # opentrail on the data directory, then opentrail on an S3 location with exported keys).
        found = re.findall(r"\n(\d+)/(\d+) digest files valid\n(\d+)/(\d+) log files valid\n", out.stdout)
        assert len(found) == 3 and all(a == b and c == d and int(a) > 0 and int(c) > 0 for a, b, c, d in found), out.stdout
        assert len(set(found)) == 1, found
        assert "INVALID" not in out.stdout + out.stderr
        # The lake query finds the call made after the store was created.
        assert re.search(r"^ListTrails$", out.stdout, re.M), out.stdout
        # ... and its results, delivered to S3 with their signing file.
        assert re.search(r" lake/AWSLogs/123456789012/CloudTrail-Lake/Query/\d{4}/\d{2}/\d{2}/[0-9a-f-]{36}/result_1\.csv\.gz\n", out.stdout), out.stdout
        assert re.search(r"/[0-9a-f-]{36}/result_sign\.json\n", out.stdout), out.stdout
        # The integration event went through the channel into the integration store.
        assert re.search(r"^ChargeCard\talice\tarn:aws:cloudtrail:us-east-1:123456789012:channel/[0-9a-f-]{36}$",
                         out.stdout, re.M), out.stdout
        assert '"failed": []' in out.stdout
        # The generated log files are imported into the store, completely.
        assert re.search(r"^import [0-9a-f-]{36} COMPLETED: [1-9]\d* events from [1-9]\d* files", out.stdout, re.M), out.stdout
        assert re.search(r"^COMPLETED$", out.stdout, re.M), out.stdout

        py_env = dict(env, AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "opentrail-data" / "credentials"),
                      AWS_PROFILE="opentrail", AWS_DEFAULT_REGION="us-east-1")
        for code in blocks("python"):
            out = subprocess.run([sys.executable, "-c", code.replace("127.0.0.1:4599", endpoint)],
                                 env=py_env, capture_output=True, text=True, timeout=120)
            assert out.returncode == 0, out.stderr
    finally:
        server.close()


def test_readme_configuration_examples_are_valid(tmp_path):
    tomls = blocks("toml")
    assert len(tomls) >= 2
    for i, toml in enumerate(tomls):
        cfg = tmp_path / f"opentrail-{i}.toml"
        cfg.write_text(toml)
        s = Server(data_dir=str(tmp_path / f"d{i}"), extra_args=["--config", str(cfg)]).start()
        try:
            assert s.stop() == 0, s.log()
        finally:
            s.close()
