#!/usr/bin/env bash
# Import benchmark: N generated events (default 1 million) as AWS-format gzip JSON log files
# (PER_FILE records each, default 1000), imported into an event data store by the server's
# import engine (list, read, gunzip, parse, dedup by eventID, Delta commits), RUNS times
# (default 3), beside GNU `gzip -dc` decompressing the same files in the same run. Prints the
# medians.
#
#   benches/import.sh [EVENTS] [RUNS] [PER_FILE]
set -euo pipefail
cd "$(dirname "$0")/.."
events=${1:-1000000}
runs=${2:-3}
per_file=${3:-1000}
cargo build --release -p opentrail --locked >&2
bin=${CARGO_TARGET_DIR:-target}/release/opentrail
work=$(mktemp -d "${BENCH_TMPDIR:-${TMPDIR:-/tmp}}/opentrail-import.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p bench-results
out=bench-results/import-$(date +%Y%m%dT%H%M%S).jsonl
"$bin" --log warn bench import --dir "$work/run" --events "$events" --runs "$runs" --per-file "$per_file" | tee -a "$out"
python3 - "$out" <<'PY'
import json, sys
r = [json.loads(l) for l in open(sys.argv[1]) if '"import"' in l][-1]
print(f"\nimport: {r['events']:,} events in {r['files']:,} files ({r['gzip_bytes'] / 1e6:.1f} MB gzip), "
      f"median of {r['runs']} runs, {r['workers']} reader threads")
print(f"| path | seconds | events/s |")
print(f"|---|---|---|")
print(f"| opentrail import (into a Delta table) | {r['import_seconds_median']:.2f} | {r['import_events_per_sec']:,.0f} |")
print(f"| GNU gzip -dc (decompress only, one core) | {r['gzip_dc_seconds_median']:.2f} | {r['gzip_dc_events_per_sec']:,.0f} |")
print(f"\nimport / gzip -dc: {r['import_over_gzip_dc']:.2f}x; target 100,000 events/s: "
      f"{'met' if r['import_events_per_sec'] >= 100000 else 'NOT met'}")
PY
