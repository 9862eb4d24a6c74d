#!/usr/bin/env bash
# CloudTrail Lake benchmark: N generated events (default 10 million) written into one event
# data store's Delta table by the lake's journal consumer, the write rate, and the table's bytes
# per event beside the same events as AWS-format gzip JSON log files; then typical CloudTrail
# Lake queries through the query service (StartQuery until FINISHED), RUNS runs each (default
# 5), and in the same run DuckDB over the table's Parquet files (RUNS runs) and over the gzip
# JSON log files (JSON_RUNS runs, default 3), with answers checked against opentrail's.
# Prints medians and geometric means.
#
#   benches/lake.sh [EVENTS] [RUNS] [JSON_RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
events=${1:-10000000}
runs=${2:-5}
json_runs=${3:-3}
cargo build --release -p opentrail --locked >&2
bin=${CARGO_TARGET_DIR:-target}/release/opentrail
work=$(mktemp -d "${BENCH_TMPDIR:-${TMPDIR:-/tmp}}/opentrail-lake.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p bench-results
venv=bench-results/venv-lake
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
# The versions compat/requirements.txt pins.
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check duckdb==2.0.1 pyarrow==26.0.1 deltalake==1.6.6
out=bench-results/lake-$(date +%Y%m%dT%H%M%S).jsonl
"$bin" --log warn bench lake --dir "$work/run" --events "$events" --runs "$runs" | tee -a "$out"
"$venv/bin/python" benches/lake_duckdb.py "$work/run" "$runs" "$json_runs" | tee -a "$out"
python3 - "$out" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
w = next(r for r in rows if r["bench"] == "lake_write")
files = next(r for r in rows if r["bench"] == "lake_files")
engines = ["opentrail", "duckdb_parquet", "duckdb_json"]
q = {(r["engine"], r["query"]): r for r in rows if r["bench"] == "lake_query"}
g = {r["engine"]: r for r in rows if r["bench"] == "lake_queries"}
names = [r["query"] for r in rows if r["bench"] == "lake_query" and r["engine"] == "opentrail"]
print(f"\nwrite ({w['path']}): {w['events']:,} events in {w['seconds']:.1f} s = {w['events_per_sec']:,.0f} events/s "
      f"({w['consumer_passes']} consumer passes, {w['delta_commits']} Delta commits, {w['parquet_files']} Parquet files, "
      f"{w['rows_per_file']:,.0f} rows per file); one core: row {w['row_us_per_event_one_core']:.2f} us/event, "
      f"Arrow batch {w['batch_us_per_event_one_core']:.2f} us/event")
print(f"size: lake {w['lake_bytes_per_event']:.0f} bytes/event, gzip JSON log files {w['gzip_json_bytes_per_event']:.0f} "
      f"({w['gzip_json_files']:,} files), JSON {w['json_bytes_per_event']:.0f}; lake / gzip JSON = {w['lake_over_gzip_json']:.2f}")
cols = files["column_bytes_per_event"]
print("Parquet bytes per event by column: " + ", ".join(f"{k} {v:.0f}" for k, v in list(cols.items())[:8])
      + f"; glob = live files of the Delta log: {files['glob_is_the_live_set']}\n")
print("| query | opentrail | DuckDB, Parquet | DuckDB, gzip JSON | vs DuckDB Parquet | vs DuckDB gzip JSON | rows | same answers |")
print("|---|---|---|---|---|---|---|---|")
def ms(e, n):
    r = q.get((e, n))
    return r["median_ms"] if r else None
def f(v):
    return "-" if v is None else (f"{v:,.0f} ms" if v >= 100 else f"{v:.1f} ms")
def x(a, b):
    return "-" if a is None or b is None else f"{b / a:.2f}x"
for n in names:
    o, p, j = ms("opentrail", n), ms("duckdb_parquet", n), ms("duckdb_json", n)
    same = all(q[(e, n)]["same_answer_as_opentrail"] for e in engines[1:] if (e, n) in q)
    print(f"| {n} | {f(o)} | {f(p)} | {f(j)} | {x(o, p)} | {x(o, j)} | {q[('opentrail', n)]['rows']} | {'yes' if same else 'NO'} |")
go, gp, gj = (g[e]["geomean_ms"] if e in g else None for e in engines)
print(f"| **geometric mean** | **{f(go)}** | **{f(gp)}** | **{f(gj)}** | **{x(go, gp)}** | **{x(go, gj)}** | | |")
print("\ntargets:")
print(f"- geomean no worse than DuckDB over the same Parquet: {f(go)} vs {f(gp)}: {'met' if gp and go <= gp else 'NOT met'}")
print(f"- at least 20x faster than DuckDB over gzip JSON: {x(go, gj)}: {'met' if gj and gj / go >= 20 else 'NOT met'}")
print(f"- lake size at most half of gzip JSON: {w['lake_over_gzip_json']:.2f}: {'met' if w['lake_over_gzip_json'] <= 0.5 else 'NOT met'}")
PY
