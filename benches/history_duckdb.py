#!/usr/bin/env python3
"""DuckDB anchor for the event-history benchmark.

Loads the events `opentrail bench history --export DIR` wrote (the same records, with the same
indexed columns) into a DuckDB table, then replays the same LookupEvents queries (first page
and deep page per lookup attribute) as SQL `ORDER BY time DESC, lsn DESC LIMIT 50`, checking
that DuckDB returns exactly the events opentrail returned, and prints latency figures as JSON.

Usage: history_duckdb.py EXPORT_DIR
"""
import json
import statistics
import sys
import time

import duckdb

COLUMNS = {
    "lsn": "UBIGINT", "time_ms": "BIGINT", "account": "VARCHAR", "region": "VARCHAR", "category": "UTINYINT",
    "event_id": "VARCHAR", "event_name": "VARCHAR", "read_only": "VARCHAR", "username": "VARCHAR",
    "resource_types": "VARCHAR[]", "resource_names": "VARCHAR[]", "event_source": "VARCHAR",
    "access_key": "VARCHAR", "json": "VARCHAR",
}
# Attr codes of opentrail_history::Attr.
CONDITION = {
    0: None, 1: "event_id = ?", 2: "event_name = ?", 3: "read_only = ?", 4: "username = ?",
    5: "list_contains(resource_types, ?)", 6: "list_contains(resource_names, ?)", 7: "event_source = ?",
    8: "access_key = ?",
}


def pct(values, p):
    values = sorted(values)
    return values[round((len(values) - 1) * p)] * 1000 if values else 0.0


def main(export_dir):
    con = duckdb.connect(f"{export_dir}/duckdb.db")
    con.execute("SET preserve_insertion_order = false")
    t = time.time()
    con.execute(f"CREATE OR REPLACE TABLE events AS SELECT * FROM read_json('{export_dir}/events.ndjson', "
                f"format='newline_delimited', columns={COLUMNS})")
    load = time.time() - t
    rows = con.execute("SELECT count(*) FROM events").fetchone()[0]
    queries = json.load(open(f"{export_dir}/queries.json"))
    lat = {}
    mismatches = 0
    for q in queries:
        where = ["account = '123456789012'", "region = 'us-east-1'", "category = 0", "time_ms BETWEEN ? AND ?"]
        args = [q["start_ms"], q["end_ms"]]
        cond = CONDITION[q["attr"]]
        if cond:
            where.append(cond)
            args.append(q["value"])
        if q["after"]:
            where.append("(time_ms < ? OR (time_ms = ? AND lsn < ?))")
            args += [q["after"]["time_ms"], q["after"]["time_ms"], q["after"]["lsn"]]
        sql = f"SELECT lsn, json FROM events WHERE {' AND '.join(where)} ORDER BY time_ms DESC, lsn DESC LIMIT 50"
        t = time.perf_counter()
        got = con.execute(sql, args).fetchall()
        lat.setdefault((q["class"], q["page"]), []).append(time.perf_counter() - t)
        if [r[0] for r in got] != q["lsns"]:
            mismatches += 1
    out = {"bench": "history_duckdb", "duckdb": duckdb.__version__, "rows": rows, "load_seconds": load,
           "answers_differing_from_opentrail": mismatches, "lookups": {}}
    for (cls, page), v in lat.items():
        d = out["lookups"].setdefault(cls, {"queries": len(v)})
        d[f"{page}_p50_ms"] = pct(v, 0.5)
        d[f"{page}_p99_ms"] = pct(v, 0.99)
        d[f"{page}_mean_ms"] = statistics.mean(v) * 1000
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1])
