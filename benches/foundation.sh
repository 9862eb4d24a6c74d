#!/usr/bin/env bash
# Foundation benchmark: native ingest end to end with durable group commit, journal appends
# alone, and the machine's own anchors for the same bytes (dd with conv=fsync, serde_json parse).
#
#   benches/foundation.sh [EVENTS] [RUNS]      (defaults: 1000000 events, 3 runs)
#
# Prints one JSON object per measurement and a Markdown summary (medians over RUNS) to stdout;
# raw results are kept in bench-results/foundation-<timestamp>.jsonl.
set -euo pipefail
cd "$(dirname "$0")/.."
events=${1:-1000000}
runs=${2:-3}
cargo build --release -p opentrail --locked >&2
bin=${CARGO_TARGET_DIR:-target}/release/opentrail
work=$(mktemp -d "${TMPDIR:-/tmp}/opentrail-bench.XXXXXX")
out=bench-results/foundation-$(date +%Y%m%dT%H%M%S).jsonl
mkdir -p bench-results
export AWS_ACCESS_KEY_ID=AKIABENCHMARK0000001 AWS_SECRET_ACCESS_KEY=benchmark-secret-key-00000000000000000000
server_pid=
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

record() { tee -a "$out"; }

echo "# machine: $(nproc) cores, $(grep MemTotal /proc/meminfo | awk '{print $2/1024/1024 " GiB"}'), $(uname -r)" >&2

# Anchor 1: serde_json's own parse rate over the same records, and ingest validation.
"$bin" bench parse --events 200000 | record

for run in $(seq "$runs"); do
  # Anchor 2: the disk's durable write rate for the same volume (dd, one fsync at the end).
  mb=$(( events * 1300 / 1000000 ))
  dd_out=$(dd if=/dev/zero of="$work/dd.bin" bs=1M count="$mb" conv=fsync 2>&1 | tail -1)
  secs=$(echo "$dd_out" | sed -E 's/.* copied, ([0-9.]+) s.*/\1/')
  echo "{\"bench\":\"dd_fsync\",\"run\":$run,\"mb\":$mb,\"seconds\":$secs,\"mb_per_sec\":$(python3 -c "print($mb*1.048576/$secs)")}" | record
  rm -f "$work/dd.bin"

  # The journal alone: 8 writers, 100 events per append, fsync per group commit.
  rm -rf "$work/journal"
  "$bin" bench journal --dir "$work/journal" --events "$events" --batch 100 --writers 8 | sed "s/^{/{\"run\":$run,/" | record
  rm -rf "$work/journal"

  # End to end: a release server with a fresh data dir, 8 concurrent clients, 100 records per request.
  rm -rf "$work/data"
  OPENTRAIL_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID OPENTRAIL_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY RUST_LOG=warn \
    "$bin" serve --listen 127.0.0.1:4698 --data-dir "$work/data" >/dev/null 2>"$work/server.log" &
  server_pid=$!
  for _ in $(seq 100); do curl -sf http://127.0.0.1:4698/health >/dev/null && break; sleep 0.1; done
  "$bin" bench ingest --endpoint http://127.0.0.1:4698 --events "$events" --batch 100 --clients 8 \
    | sed "s/^{/{\"run\":$run,\"mode\":\"max\",/" | tee "$work/max.json" | record
  max_rate=$(python3 -c "import json;print(json.load(open('$work/max.json'))['events_per_sec'])")
  half=$(python3 -c "print(int($max_rate/2))")
  # Latency at half the maximum rate (open loop: requests are sent on schedule).
  "$bin" bench ingest --endpoint http://127.0.0.1:4698 --events "$((events / 2))" --batch 100 --clients 16 --rate "$half" \
    | sed "s/^{/{\"run\":$run,\"mode\":\"half\",/" | record
  rss_kb=$(awk '/VmHWM/ {print $2}' "/proc/$server_pid/status")
  disk=$(du -sb "$work/data/journal" | cut -f1)
  echo "{\"bench\":\"server\",\"run\":$run,\"peak_rss_mb\":$(python3 -c "print($rss_kb/1024)"),\"journal_bytes\":$disk,\"journal_bytes_per_event\":$(python3 -c "print($disk/($events*1.5))")}" | record
  kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=
done

python3 - "$out" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
def med(bench, key, **match):
    vals = [r for r in rows if r["bench"] == bench and all(r.get(k) == v for k, v in match.items())]
    for k in key.split("."):
        vals = [v[k] for v in vals]
    return statistics.median(vals)
parse = [r for r in rows if r["bench"] == "parse"][0]
print(f"\n| measurement (median of {len([r for r in rows if r['bench']=='dd_fsync'])} runs) | value |\n|---|---|")
print(f"| native ingest, 8 clients x 100 records/request, durable | {med('ingest','events_per_sec',mode='max'):,.0f} events/s ({med('ingest','mb_per_sec',mode='max'):.0f} MB/s) |")
print(f"| ingest latency at max load p50 / p99 | {med('ingest','latency_ms.p50',mode='max'):.1f} / {med('ingest','latency_ms.p99',mode='max'):.1f} ms |")
print(f"| ingest latency at half that rate p50 / p99 | {med('ingest','latency_ms.p50',mode='half'):.1f} / {med('ingest','latency_ms.p99',mode='half'):.1f} ms |")
print(f"| journal append alone, 8 writers x 100 events | {med('journal','events_per_sec'):,.0f} events/s ({med('journal','mb_per_sec'):.0f} MB/s), {med('journal','appends_per_commit'):.1f} appends per fsync |")
print(f"| server peak RSS | {med('server','peak_rss_mb'):.0f} MB |")
print(f"| journal bytes per event on disk | {med('server','journal_bytes_per_event'):.0f} |")
print(f"| anchor: dd conv=fsync, same volume | {med('dd_fsync','mb_per_sec'):.0f} MB/s |")
print(f"| anchor: serde_json::Value parse of the same records | {parse['serde_value_mb_per_sec']:.0f} MB/s ({parse['serde_value_events_per_sec']:,.0f} events/s, one core) |")
print(f"| ingest validation (borrowed view) of the same records | {parse['ingest_validate_mb_per_sec']:.0f} MB/s ({parse['ingest_validate_events_per_sec']:,.0f} events/s, one core) |")
PY
