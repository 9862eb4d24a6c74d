#!/usr/bin/env python3
"""DuckDB anchors for the lake benchmark.

`opentrail bench lake --dir DIR` leaves in DIR the event data store's Delta table, the same
events as AWS-format gzip JSON log files ({"Records":[...]}, one file per account, region and
five minutes, at most 1,000 records), and `queries.json`: the queries it ran with the values
they look for, and opentrail's answers. This runs the same queries in DuckDB

  - over the table's Parquet files (`read_parquet`, hive partitioning; every file is live
    because the lake only appends, which is checked against the Delta log with delta-rs'
    Python reader), and
  - over the gzip JSON log files (`read_json`, the Records array unnested, with the record's
    types declared so that every query sees the same columns whatever a sample would detect;
    `records = true` matters: with declared columns and without it, DuckDB 2.0.1 reads these
    one-object files about 5x slower),

checks that DuckDB's answers equal opentrail's, and prints JSON lines: per query and engine
the median time, and the Parquet bytes per column of the table.

Usage: lake_duckdb.py DIR [RUNS] [JSON_RUNS]
"""
import datetime
import glob
import json
import math
import os
import statistics
import sys
import time

import duckdb
import pyarrow.parquet as pq
from deltalake import DeltaTable

# The same queries as crates/cli/src/bench_lake.rs (QUERIES), by name: over the Parquet files
# the columns are CloudTrail Lake's (lowercase, maps for requestparameters and the like); over
# the log files they are the records' own members (camelCase, JSON for free-form members).
PARQUET = {
    "top_apis": "SELECT eventsource, eventname, COUNT(*) AS calls FROM eds GROUP BY eventsource, eventname "
                "ORDER BY calls DESC, eventsource, eventname LIMIT 10",
    "errors_by_user": "SELECT useridentity.arn AS principal, COUNT(*) AS errors FROM eds WHERE errorcode IS NOT NULL "
                      "GROUP BY useridentity.arn ORDER BY errors DESC, principal NULLS LAST LIMIT 10",
    "top_error_codes": "SELECT errorcode, eventsource, COUNT(*) AS errors FROM eds WHERE errorcode IS NOT NULL "
                       "GROUP BY errorcode, eventsource ORDER BY errors DESC, errorcode, eventsource LIMIT 20",
    "access_key_activity": "SELECT eventsource, eventname, sourceipaddress, COUNT(*) AS calls, MIN(eventtime) AS first_seen, "
                           "MAX(eventtime) AS last_seen FROM eds WHERE useridentity.accesskeyid = '{key}' "
                           "AND eventtime >= '{week_start}' GROUP BY eventsource, eventname, sourceipaddress "
                           "ORDER BY calls DESC, eventsource, eventname, sourceipaddress LIMIT 50",
    "console_logins_without_mfa": "SELECT useridentity.arn AS principal, sourceipaddress, COUNT(*) AS logins FROM eds "
                                  "WHERE eventname = 'ConsoleLogin' AND additionaleventdata['MFAUsed'] = 'No' "
                                  "AND responseelements['ConsoleLogin'] = 'Success' GROUP BY useridentity.arn, sourceipaddress "
                                  "ORDER BY logins DESC, principal NULLS LAST, sourceipaddress LIMIT 20",
    "role_writes_without_mfa": "SELECT useridentity.sessioncontext.sessionissuer.username AS role, eventname, COUNT(*) AS calls "
                               "FROM eds WHERE useridentity.type = 'AssumedRole' "
                               "AND useridentity.sessioncontext.attributes.mfaauthenticated = 'false' "
                               "AND readonly = false AND managementevent = true "
                               "GROUP BY useridentity.sessioncontext.sessionissuer.username, eventname "
                               "ORDER BY calls DESC, role NULLS LAST, eventname LIMIT 20",
    "failed_console_logins": "SELECT sourceipaddress, useridentity.username AS username, COUNT(*) AS failures FROM eds "
                             "WHERE eventname = 'ConsoleLogin' AND errormessage = 'Failed authentication' "
                             "GROUP BY sourceipaddress, useridentity.username "
                             "ORDER BY failures DESC, sourceipaddress, username NULLS LAST LIMIT 20",
    "ip_range": "SELECT sourceipaddress, useridentity.arn AS principal, COUNT(*) AS calls FROM eds "
                "WHERE sourceipaddress LIKE '198.51.100.%' GROUP BY sourceipaddress, useridentity.arn "
                "ORDER BY calls DESC, sourceipaddress, principal NULLS LAST LIMIT 20",
    "resources_of_role": "SELECT r['type'] AS resource_type, r['arn'] AS resource_arn, COUNT(*) AS calls "
                         "FROM (SELECT unnest(resources) AS r FROM eds "
                         "WHERE useridentity.sessioncontext.sessionissuer.arn = '{role}') AS touched "
                         "GROUP BY r['type'], r['arn'] "
                         "ORDER BY calls DESC, resource_type NULLS LAST, resource_arn NULLS LAST LIMIT 20",
    "hourly_counts": "SELECT date_trunc('hour', eventtime) AS hour, COUNT(*) AS events, COUNT(errorcode) AS errors FROM eds "
                     "WHERE eventtime >= '{day_start}' AND eventtime < '{day_end}' "
                     "GROUP BY date_trunc('hour', eventtime) ORDER BY hour",
    "distinct_users_per_source": "SELECT eventsource, COUNT(DISTINCT useridentity.arn) AS principals, COUNT(*) AS events "
                                 "FROM eds GROUP BY eventsource ORDER BY principals DESC, eventsource",
    "bucket_activity": "SELECT eventname, useridentity.arn AS principal, COUNT(*) AS calls FROM eds "
                       "WHERE eventsource = 's3.amazonaws.com' AND requestparameters['bucketName'] = '{bucket}' "
                       "GROUP BY eventname, useridentity.arn ORDER BY calls DESC, eventname, principal NULLS LAST LIMIT 20",
    "root_activity": "SELECT eventname, sourceipaddress, COUNT(*) AS calls FROM eds WHERE useridentity.type = 'Root' "
                     "GROUP BY eventname, sourceipaddress ORDER BY calls DESC, eventname, sourceipaddress",
    "event_by_id": "SELECT eventtime, eventsource, eventname, useridentity.arn AS principal, sourceipaddress "
                   "FROM eds WHERE eventid = '{event_id}'",
}

JSON = {
    "top_apis": "SELECT eventSource, eventName, COUNT(*) AS calls FROM ev GROUP BY eventSource, eventName "
                "ORDER BY calls DESC, eventSource, eventName LIMIT 10",
    "errors_by_user": "SELECT userIdentity.arn AS principal, COUNT(*) AS errors FROM ev WHERE errorCode IS NOT NULL "
                      "GROUP BY userIdentity.arn ORDER BY errors DESC, principal NULLS LAST LIMIT 10",
    "top_error_codes": "SELECT errorCode, eventSource, COUNT(*) AS errors FROM ev WHERE errorCode IS NOT NULL "
                       "GROUP BY errorCode, eventSource ORDER BY errors DESC, errorCode, eventSource LIMIT 20",
    "access_key_activity": "SELECT eventSource, eventName, sourceIPAddress, COUNT(*) AS calls, MIN(eventTime) AS first_seen, "
                           "MAX(eventTime) AS last_seen FROM ev WHERE userIdentity.accessKeyId = '{key}' "
                           "AND eventTime >= '{week_start}' GROUP BY eventSource, eventName, sourceIPAddress "
                           "ORDER BY calls DESC, eventSource, eventName, sourceIPAddress LIMIT 50",
    "console_logins_without_mfa": "SELECT userIdentity.arn AS principal, sourceIPAddress, COUNT(*) AS logins FROM ev "
                                  "WHERE eventName = 'ConsoleLogin' AND additionalEventData->>'MFAUsed' = 'No' "
                                  "AND responseElements->>'ConsoleLogin' = 'Success' GROUP BY userIdentity.arn, sourceIPAddress "
                                  "ORDER BY logins DESC, principal NULLS LAST, sourceIPAddress LIMIT 20",
    "role_writes_without_mfa": "SELECT userIdentity.sessionContext.sessionIssuer.userName AS role, eventName, COUNT(*) AS calls "
                               "FROM ev WHERE userIdentity.type = 'AssumedRole' "
                               "AND userIdentity.sessionContext.attributes.mfaAuthenticated = 'false' "
                               "AND readOnly = false AND managementEvent = true "
                               "GROUP BY userIdentity.sessionContext.sessionIssuer.userName, eventName "
                               "ORDER BY calls DESC, role NULLS LAST, eventName LIMIT 20",
    "failed_console_logins": "SELECT sourceIPAddress, userIdentity.userName AS username, COUNT(*) AS failures FROM ev "
                             "WHERE eventName = 'ConsoleLogin' AND errorMessage = 'Failed authentication' "
                             "GROUP BY sourceIPAddress, userIdentity.userName "
                             "ORDER BY failures DESC, sourceIPAddress, username NULLS LAST LIMIT 20",
    "ip_range": "SELECT sourceIPAddress, userIdentity.arn AS principal, COUNT(*) AS calls FROM ev "
                "WHERE sourceIPAddress LIKE '198.51.100.%' GROUP BY sourceIPAddress, userIdentity.arn "
                "ORDER BY calls DESC, sourceIPAddress, principal NULLS LAST LIMIT 20",
    "resources_of_role": "SELECT r['type'] AS resource_type, r['ARN'] AS resource_arn, COUNT(*) AS calls "
                         "FROM (SELECT unnest(resources) AS r FROM ev "
                         "WHERE userIdentity.sessionContext.sessionIssuer.arn = '{role}') AS touched "
                         "GROUP BY r['type'], r['ARN'] "
                         "ORDER BY calls DESC, resource_type NULLS LAST, resource_arn NULLS LAST LIMIT 20",
    "hourly_counts": "SELECT date_trunc('hour', eventTime) AS hour, COUNT(*) AS events, COUNT(errorCode) AS errors FROM ev "
                     "WHERE eventTime >= '{day_start}' AND eventTime < '{day_end}' "
                     "GROUP BY date_trunc('hour', eventTime) ORDER BY hour",
    "distinct_users_per_source": "SELECT eventSource, COUNT(DISTINCT userIdentity.arn) AS principals, COUNT(*) AS events "
                                 "FROM ev GROUP BY eventSource ORDER BY principals DESC, eventSource",
    "bucket_activity": "SELECT eventName, userIdentity.arn AS principal, COUNT(*) AS calls FROM ev "
                       "WHERE eventSource = 's3.amazonaws.com' AND requestParameters->>'bucketName' = '{bucket}' "
                       "GROUP BY eventName, userIdentity.arn ORDER BY calls DESC, eventName, principal NULLS LAST LIMIT 20",
    "root_activity": "SELECT eventName, sourceIPAddress, COUNT(*) AS calls FROM ev WHERE userIdentity.type = 'Root' "
                     "GROUP BY eventName, sourceIPAddress ORDER BY calls DESC, eventName, sourceIPAddress",
    "event_by_id": "SELECT eventTime, eventSource, eventName, userIdentity.arn AS principal, sourceIPAddress "
                   "FROM ev WHERE eventID = '{event_id}'",
}

# A CloudTrail record's members and types (what the lake's table has as columns).
RECORD = (
    "STRUCT(eventVersion VARCHAR, "
    "userIdentity STRUCT(type VARCHAR, principalId VARCHAR, arn VARCHAR, accountId VARCHAR, accessKeyId VARCHAR, "
    "userName VARCHAR, sessionContext STRUCT(attributes STRUCT(creationDate VARCHAR, mfaAuthenticated VARCHAR), "
    "sessionIssuer STRUCT(type VARCHAR, principalId VARCHAR, arn VARCHAR, accountId VARCHAR, userName VARCHAR), "
    "webIdFederationData JSON, sourceIdentity VARCHAR, ec2RoleDelivery VARCHAR, ec2IssuedInVPC VARCHAR), "
    "invokedBy VARCHAR, identityProvider VARCHAR, credentialId VARCHAR, onBehalfOf JSON), "
    "eventTime TIMESTAMPTZ, eventSource VARCHAR, eventName VARCHAR, awsRegion VARCHAR, sourceIPAddress VARCHAR, "
    "userAgent VARCHAR, errorCode VARCHAR, errorMessage VARCHAR, requestParameters JSON, responseElements JSON, "
    "additionalEventData JSON, requestID VARCHAR, eventID VARCHAR, readOnly BOOLEAN, "
    "resources STRUCT(accountId VARCHAR, type VARCHAR, ARN VARCHAR, ARNPrefix VARCHAR)[], eventType VARCHAR, "
    "apiVersion VARCHAR, managementEvent BOOLEAN, recipientAccountId VARCHAR, sharedEventID VARCHAR, "
    "annotation VARCHAR, vpcEndpointId VARCHAR, serviceEventDetails JSON, addendum JSON, edgeDeviceDetails JSON, "
    "insightDetails JSON, eventCategory VARCHAR, "
    "tlsDetails STRUCT(tlsVersion VARCHAR, cipherSuite VARCHAR, clientProvidedHostHeader VARCHAR), "
    "sessionCredentialFromConsole VARCHAR)"
)


def text(v):
    """A DuckDB value as opentrail's results show it (text; nulls empty; times to the ms)."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, datetime.datetime):
        v = v.astimezone(datetime.timezone.utc) if v.tzinfo else v
        return v.strftime("%Y-%m-%d %H:%M:%S.") + f"{v.microsecond // 1000:03d}"
    return str(v)


def fill(sql, params):
    for k, v in params.items():
        sql = sql.replace("{" + k + "}", v)
    return sql


def geomean(values):
    return math.exp(sum(math.log(max(v, 1e-9)) for v in values) / len(values)) if values else 0.0


def column_bytes(files, events):
    """Compressed Parquet bytes per top-level column over `files`, per event."""
    sizes = {}
    for f in files:
        meta = pq.ParquetFile(f).metadata
        for g in range(meta.num_row_groups):
            rg = meta.row_group(g)
            for c in range(rg.num_columns):
                col = rg.column(c)
                top = col.path_in_schema.split(".")[0]
                sizes[top] = sizes.get(top, 0) + col.total_compressed_size
    return {k: round(v / max(events, 1), 1) for k, v in sorted(sizes.items(), key=lambda kv: -kv[1])}


def main(work, runs, json_runs):
    spec = json.load(open(os.path.join(work, "queries.json")))
    table, logs, params = spec["table_dir"], spec["logs_dir"], spec["params"]
    # Data files are under the partition directories; the Delta log's checkpoints are
    # Parquet files too, so the glob names the partitions.
    files = sorted(glob.glob(f"{table}/eventday=*/*.parquet"))
    live = sorted(u.removeprefix("file://") for u in DeltaTable(table).file_uris())
    print(json.dumps({"bench": "lake_files", "parquet_files": len(files), "live_in_delta_log": len(live),
                      "glob_is_the_live_set": files == live,
                      "column_bytes_per_event": column_bytes(files, spec["events"])}), flush=True)

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"CREATE VIEW eds AS SELECT * EXCLUDE (eventday) FROM "
                f"read_parquet('{table}/eventday=*/*.parquet', hive_partitioning = true)")
    con.execute(f"CREATE VIEW ev AS SELECT unnest(Records, max_depth := 2) FROM "
                f"read_json('{logs}/**/*.json.gz', format = 'unstructured', records = true, "
                f"maximum_object_size = 268435456, columns = {{'Records': '{RECORD}[]'}})")
    for engine, queries, n in (("duckdb_parquet", PARQUET, runs), ("duckdb_json", JSON, json_runs)):
        if n <= 0:
            continue
        times = {q["query"]: [] for q in spec["queries"]}
        answers = {}
        for run in range(n):
            for q in spec["queries"]:
                sql = fill(queries[q["query"]], params)
                t = time.perf_counter()
                rows = con.execute(sql).fetchall()
                times[q["query"]].append((time.perf_counter() - t) * 1000)
                answers[q["query"]] = [[text(v) for v in r] for r in rows]
            print(f"{engine}: run {run + 1} of {n} done", file=sys.stderr, flush=True)
        medians = []
        differing = []
        for q in spec["queries"]:
            name = q["query"]
            m = statistics.median(times[name])
            medians.append(m)
            same = answers[name] == q["rows"]
            if not same:
                differing.append(name)
            print(json.dumps({"bench": "lake_query", "engine": engine, "query": name, "runs": n, "median_ms": m,
                              "times_ms": times[name], "rows": len(answers[name]),
                              "same_answer_as_opentrail": same,
                              **({} if same else {"answer": answers[name][:5], "opentrail": q["rows"][:5]})}),
                  flush=True)
        print(json.dumps({"bench": "lake_queries", "engine": engine, "duckdb": duckdb.__version__,
                          "queries": len(medians), "runs": n, "geomean_ms": geomean(medians),
                          "answers_differing_from_opentrail": differing}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 5, int(sys.argv[3]) if len(sys.argv) > 3 else 3)
