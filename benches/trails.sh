#!/usr/bin/env bash
# Trail delivery benchmark, repeated RUNS times (default 3) over N generated events
# (default 1 million): one trail selecting everything, five trails with different selectors
# over the same backlog, delivery latency (event accepted -> log file visible) at a steady
# 2,000 events/s with a 1 s flush interval, the per-trail scan cost, and the log-file gzip
# encoder beside GNU `gzip -6` on the same bytes in the same run. Prints medians.
#
#   benches/trails.sh [EVENTS] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
events=${1:-1000000}
runs=${2:-3}
cargo build --release -p opentrail --locked >&2
bin=${CARGO_TARGET_DIR:-target}/release/opentrail
work=$(mktemp -d "${BENCH_TMPDIR:-${TMPDIR:-/tmp}}/opentrail-trails.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p bench-results
out=bench-results/trails-$(date +%Y%m%dT%H%M%S).jsonl
for i in $(seq "$runs"); do
  "$bin" bench trails --dir "$work/run$i" --events "$events" | tee -a "$out"
  rm -rf "$work/run$i"
done
python3 - "$out" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
def med(bench, f):
    return statistics.median(f(r) for r in rows if r["bench"] == bench)
one = med("trails_one", lambda r: r["events_per_sec"])
five = med("trails_five", lambda r: r["events_per_sec"])
ratio = med("trails_five", lambda r: r["cost_ratio_vs_linear"])
p50 = med("trails_latency", lambda r: r["latency_ms"]["p50"])
p99 = med("trails_latency", lambda r: r["latency_ms"]["p99"])
scan = med("trails_scan", lambda r: r["us_per_event"])
ours = med("gzip", lambda r: r["opentrail_mb_per_sec"])
gnu = med("gzip", lambda r: r["gnu_gzip_mb_per_sec"])
our_ratio = med("gzip", lambda r: r["opentrail_ratio"])
gnu_ratio = med("gzip", lambda r: r["gnu_gzip_ratio"])
n = sum(r["bench"] == "trails_one" for r in rows)
print(f"\nmedians of {n} runs")
print("| figure | value |")
print("|---|---|")
print(f"| one trail, everything: delivered events/s | {one:,.0f} |")
print(f"| five trails: delivered events/s (sum over trails) | {five:,.0f} |")
print(f"| five trails: time / (one-trail time x bytes ratio) | {ratio:.2f} |")
print(f"| delivery latency p50 / p99 (1 s flush, 2,000 events/s) | {p50:.0f} / {p99:.0f} ms |")
print(f"| per-trail scan (parse + select), one core | {scan:.2f} us/event |")
print(f"| gzip -6, one core: opentrail / GNU gzip | {ours:.0f} / {gnu:.0f} MB/s ({ours/gnu:.2f}x) |")
print(f"| compression ratio: opentrail / GNU gzip | {our_ratio:.2f} / {gnu_ratio:.2f} |")
PY
