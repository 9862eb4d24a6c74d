#!/usr/bin/env bash
# Event-history benchmark: index N generated events (default 10 million), then LookupEvents
# latency for each lookup attribute and for a time range alone (first page and a deep page),
# the index build rate and disk bytes per event; beside it, DuckDB answering the same queries
# over the same events loaded into a DuckDB table (answers are checked to be identical).
#
#   benches/history.sh [EVENTS] [QUERIES_PER_CLASS]
set -euo pipefail
cd "$(dirname "$0")/.."
events=${1:-10000000}
queries=${2:-200}
cargo build --release -p opentrail --locked >&2
bin=${CARGO_TARGET_DIR:-target}/release/opentrail
work=$(mktemp -d "${BENCH_TMPDIR:-${TMPDIR:-/tmp}}/opentrail-history.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p bench-results
venv=bench-results/venv
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check duckdb==1.4.4
out=bench-results/history-$(date +%Y%m%dT%H%M%S).jsonl
"$bin" bench history --dir "$work/history" --events "$events" --queries "$queries" --export "$work/export" | tee -a "$out"
rm -rf "$work/history"
"$venv/bin/python" benches/history_duckdb.py "$work/export" | tee -a "$out"
python3 - "$out" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
ot = next(r for r in rows if r["bench"] == "history")
dk = next(r for r in rows if r["bench"] == "history_duckdb")
print(f"\nindex: {ot['events']:,} events in {ot['index_seconds']:.1f} s = {ot['index_events_per_sec']:,.0f} events/s; "
      f"disk {ot['disk_bytes_per_event']:.0f} bytes/event ({ot['disk_bytes_per_indexed_event']:.0f} per indexed event; "
      f"JSON {ot['json_bytes']/ot['events']:.0f}); DuckDB load {dk['load_seconds']:.0f} s; answers differing: {dk['answers_differing_from_opentrail']}\n")
print("| lookup | opentrail first page p50 / p99 | DuckDB p50 / p99 | opentrail deep page p50 / p99 | DuckDB p50 / p99 | speed-up (p50 first / deep) |")
print("|---|---|---|---|---|---|")
for cls, o in ot["lookups"].items():
    d = dk["lookups"][cls]
    print(f"| {cls} | {o['first_p50_ms']:.2f} / {o['first_p99_ms']:.2f} ms | {d['first_p50_ms']:.1f} / {d['first_p99_ms']:.1f} ms "
          f"| {o['deep_p50_ms']:.2f} / {o['deep_p99_ms']:.2f} ms | {d['deep_p50_ms']:.1f} / {d['deep_p99_ms']:.1f} ms "
          f"| {d['first_p50_ms']/max(o['first_p50_ms'],1e-6):.0f}x / {d['deep_p50_ms']/max(o['deep_p50_ms'],1e-6):.0f}x |")
PY
