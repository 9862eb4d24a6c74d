#!/usr/bin/env bash
# validate-logs benchmark: a trail's bucket filled with N generated events (default 300,000)
# over several digest periods, then the real `aws cloudtrail validate-logs` beside
# `opentrail validate-logs` (through the server's APIs, and offline on the data directory) on
# the same bucket in the same run, RUNS times each (default 3). Prints medians and log MB/s.
#
#   benches/validate.sh [EVENTS] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
events=${1:-300000}
runs=${2:-3}
cargo build --release -p opentrail --locked >&2
export OPENTRAIL_BIN=$(realpath "${CARGO_TARGET_DIR:-target}")/release/opentrail
work=$(mktemp -d "${BENCH_TMPDIR:-${TMPDIR:-/tmp}}/opentrail-validate.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p bench-results
venv=bench-results/venv-validate
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r compat/requirements.txt
out=bench-results/validate-$(date +%Y%m%dT%H%M%S).txt
"$venv/bin/python" benches/validate.py "$events" "$runs" "$work" | tee "$out"
