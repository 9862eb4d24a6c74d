//! CloudTrail Lake queries: StartQuery's statement checked and planned on DataFusion over the
//! stores' tables, run in the background with AWS's states, cancellation and timeout,
//! statistics read from the executed plan's metrics, and the results kept (on disk, 7 days)
//! for paginated GetQueryResults.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use chrono::{DateTime, Utc};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::datasource::MemTable;
use datafusion::physical_plan::{ExecutionPlan, collect};
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion::sql::parser::{DFParser, Statement as DfStatement};
use datafusion::sql::sqlparser::ast::Statement;
use datafusion::sql::sqlparser::dialect::GenericDialect;
use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::task::AbortHandle;

use crate::LakeError;
use crate::eventjson;
use crate::results::{self, Delivery, ResultDelivery, Target};
use crate::schema::PARTITION_COLUMN;
use crate::tables::TableKind;
use crate::writer::Lake;

/// How long results are kept (AWS: 7 days).
const RESULTS_KEPT: chrono::Duration = chrono::Duration::days(7);
/// Queued and running queries per account (AWS: 10).
const MAX_CONCURRENT: usize = 10;

/// A query's state, with AWS's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum QueryStatus {
    /// Accepted, not started.
    Queued,
    /// Running.
    Running,
    /// Done; results available.
    Finished,
    /// Failed; `ErrorMessage` says why.
    Failed,
    /// Cancelled by CancelQuery.
    Cancelled,
    /// Ran longer than the timeout.
    TimedOut,
}

impl QueryStatus {
    /// AWS's name.
    pub fn as_str(self) -> &'static str {
        match self {
            QueryStatus::Queued => "QUEUED",
            QueryStatus::Running => "RUNNING",
            QueryStatus::Finished => "FINISHED",
            QueryStatus::Failed => "FAILED",
            QueryStatus::Cancelled => "CANCELLED",
            QueryStatus::TimedOut => "TIMED_OUT",
        }
    }

    fn active(self) -> bool {
        matches!(self, QueryStatus::Queued | QueryStatus::Running)
    }

    /// Parses AWS's name.
    pub fn parse(s: &str) -> Option<QueryStatus> {
        [
            QueryStatus::Queued,
            QueryStatus::Running,
            QueryStatus::Finished,
            QueryStatus::Failed,
            QueryStatus::Cancelled,
            QueryStatus::TimedOut,
        ]
        .into_iter()
        .find(|q| q.as_str() == s)
    }
}

/// Measured statistics of a query.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryStats {
    /// Rows read from the tables (after file pruning).
    pub events_scanned: u64,
    /// Rows that passed the statement's filters.
    pub events_matched: u64,
    /// Bytes read from Parquet files.
    pub bytes_scanned: u64,
    /// Wall time of the execution.
    pub execution_ms: u64,
}

/// One query and, once finished, its results.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QueryRecord {
    /// The query id (a UUID).
    pub id: String,
    /// Account that ran it.
    pub account: String,
    /// Region it ran in.
    pub region: String,
    /// The statement as given.
    pub statement: String,
    /// The stores it reads (their ids).
    pub stores: Vec<String>,
    /// State.
    pub status: QueryStatus,
    /// When StartQuery accepted it.
    pub created: DateTime<Utc>,
    /// Why it failed.
    pub error: Option<String>,
    /// Statistics (final once the query ended).
    pub stats: QueryStats,
    /// Result column names, in order.
    pub columns: Vec<String>,
    /// Result rows, each value as text (nulls as empty text, as the results CSV has them).
    pub rows: Vec<Vec<String>>,
    /// StartQuery's `DeliveryS3Uri`, when the results also go to S3.
    #[serde(default)]
    pub delivery_s3_uri: Option<String>,
    /// `DeliveryStatus` of that delivery.
    #[serde(default)]
    pub delivery_status: Option<String>,
}

/// A store a statement may name, as the caller's account and region see it.
#[derive(Debug, Clone)]
pub struct QueryableStore {
    /// Its id (the UUID ending its ARN).
    pub id: String,
    /// Its ARN.
    pub arn: String,
    /// False while it is pending deletion.
    pub active: bool,
    /// Its table's kind, which fixes the columns queries see.
    pub kind: TableKind,
}

/// What running a query gives: the executed plan (for its metrics) and the results.
type Executed =
    Result<(Arc<dyn ExecutionPlan>, Vec<RecordBatch>), datafusion::error::DataFusionError>;

/// The query service.
pub struct Queries {
    lake: Arc<Lake>,
    dir: PathBuf,
    timeout: Duration,
    queries: Mutex<HashMap<String, QueryRecord>>,
    running: Mutex<HashMap<String, AbortHandle>>,
    delivery: Option<ResultDelivery>,
}

static EDS_ID: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)'(?:[^']|'')*'|\x22[^\x22]*\x22|\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b|[\])]\s*\.\s*[a-z_][a-z0-9_]*")
        .expect("valid regex")
});

/// The CloudTrail Lake dialect's pre-pass, outside string literals and quoted identifiers:
/// store ids, which CloudTrail Lake writes unquoted (`FROM 5e2676f8-...`) and no SQL parser
/// reads as one identifier, are quoted; a field of an indexed element (`resources[1].arn`,
/// Trino syntax) becomes `resources[1]['arn']`, which DataFusion reads. Returns the
/// rewritten statement and the store ids it names (lowercase). The same goes for a field of
/// a function's result (`element_at(resources, 1).arn`).
pub fn quote_store_ids(statement: &str) -> (String, Vec<String>) {
    let mut ids = Vec::new();
    let out = EDS_ID.replace_all(statement, |c: &regex::Captures<'_>| {
        let m = &c[0];
        if m.starts_with('\'') || m.starts_with('"') {
            m.to_owned()
        } else if let Some(field) = m.strip_prefix([']', ')']) {
            let field = field.trim_start().trim_start_matches('.').trim_start();
            format!("{}['{}']", &m[..1], field.to_ascii_lowercase())
        } else {
            let id = m.to_ascii_lowercase();
            if !ids.contains(&id) {
                ids.push(id.clone());
            }
            format!("\"{id}\"")
        }
    });
    (out.into_owned(), ids)
}

fn invalid(message: impl Into<String>) -> LakeError {
    LakeError::InvalidQueryStatement(message.into())
}

/// Checks that `statement` is exactly one SELECT (a query, possibly with WITH, UNION...).
fn check_select(statement: &str) -> Result<(), LakeError> {
    let parsed = DFParser::parse_sql_with_dialect(statement, &GenericDialect {})
        .map_err(|e| invalid(format!("Query statement is not valid: {e}")))?;
    if parsed.len() != 1 {
        return Err(invalid(format!(
            "Query statement must be a single SELECT statement; {} statements were given.",
            parsed.len()
        )));
    }
    match parsed.front() {
        Some(DfStatement::Statement(s)) if matches!(**s, Statement::Query(_)) => Ok(()),
        _ => Err(invalid(
            "Only SELECT statements are supported: CloudTrail Lake queries cannot change data or tables.",
        )),
    }
}

impl Queries {
    /// A query service over `lake`'s tables, keeping results under `dir`, delivering them to
    /// S3 through `delivery` when a query asks (without it, DeliveryS3Uri is refused).
    pub fn open(
        lake: Arc<Lake>,
        dir: PathBuf,
        timeout: Duration,
        delivery: Option<ResultDelivery>,
    ) -> Result<Arc<Queries>, LakeError> {
        std::fs::create_dir_all(&dir)
            .map_err(|e| LakeError::Internal(format!("creating {}: {e}", dir.display())))?;
        let mut queries = HashMap::new();
        let cutoff = Utc::now() - RESULTS_KEPT;
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for e in entries.flatten() {
                let path = e.path();
                let Ok(text) = std::fs::read(&path) else {
                    continue;
                };
                match serde_json::from_slice::<QueryRecord>(&text) {
                    Ok(mut q) if q.created >= cutoff => {
                        // A query the server was running when it stopped did not finish.
                        if q.status.active() {
                            q.status = QueryStatus::Failed;
                            q.error = Some("The server restarted while the query ran.".into());
                        }
                        if q.delivery_status.as_deref() == Some(results::status::PENDING) {
                            q.delivery_status = Some(results::status::FAILED.into());
                        }
                        queries.insert(q.id.clone(), q);
                    }
                    _ => {
                        let _ = std::fs::remove_file(&path);
                    }
                }
            }
        }
        Ok(Arc::new(Queries {
            lake,
            dir,
            timeout,
            queries: Mutex::new(queries),
            running: Mutex::new(HashMap::new()),
            delivery,
        }))
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, HashMap<String, QueryRecord>>, LakeError> {
        self.queries
            .lock()
            .map_err(|_| LakeError::Internal("query table lock poisoned".into()))
    }

    /// StartQuery: checks and plans the statement against `stores` (the caller's) and the
    /// delivery target (`DeliveryS3Uri`), then runs it in the background. Returns the query id.
    pub async fn start(
        self: &Arc<Self>,
        account: &str,
        region: &str,
        statement: &str,
        stores: &[QueryableStore],
        delivery_uri: Option<&str>,
    ) -> Result<String, LakeError> {
        if statement.trim().is_empty() {
            return Err(invalid("Query statement must not be empty."));
        }
        let (sql, ids) = quote_store_ids(statement);
        check_select(&sql)?;
        if ids.is_empty() {
            return Err(invalid(
                "Query statement must name an event data store by its ID, e.g. FROM 5e2676f8-9fce-46ef-8142-3e36a94e6691.",
            ));
        }
        let active = self
            .lock()?
            .values()
            .filter(|q| q.account == account && q.status.active())
            .count();
        if active >= MAX_CONCURRENT {
            return Err(LakeError::MaxConcurrentQueries(format!(
                "You already have {active} queries queued or running; wait for one to finish or cancel one (at most {MAX_CONCURRENT})."
            )));
        }
        let ctx =
            SessionContext::new_with_config(SessionConfig::new().with_information_schema(false));
        crate::functions::register(&ctx);
        ctx.register_udf(eventjson::assemble_udf());
        for id in &ids {
            let Some(store) = stores.iter().find(|s| s.id.eq_ignore_ascii_case(id)) else {
                return Err(LakeError::EventDataStoreNotFound(format!(
                    "The event data store {id} was not found."
                )));
            };
            if !store.active {
                return Err(LakeError::InactiveEventDataStore(format!(
                    "The event data store {} is pending deletion and cannot be queried.",
                    store.arn
                )));
            }
            self.register(&ctx, id, store.kind).await?;
        }
        let plan = ctx.state().create_logical_plan(&sql).await.map_err(|e| {
            invalid(format!(
                "Query statement is not valid: {}",
                clean(&e.to_string())
            ))
        })?;
        let target = match delivery_uri {
            Some(uri) => {
                let Some(delivery) = &self.delivery else {
                    return Err(LakeError::Internal(
                        "this server has no object storage to deliver query results to".into(),
                    ));
                };
                let target = Target::parse(uri)?;
                delivery.check(&target, account).await?;
                Some(target)
            }
            None => None,
        };
        let id = uuid::Uuid::new_v4().to_string();
        let record = QueryRecord {
            id: id.clone(),
            account: account.to_owned(),
            region: region.to_owned(),
            statement: statement.to_owned(),
            stores: ids,
            status: QueryStatus::Queued,
            created: Utc::now(),
            error: None,
            stats: QueryStats::default(),
            columns: Vec::new(),
            rows: Vec::new(),
            delivery_s3_uri: delivery_uri.map(str::to_owned),
            delivery_status: target.as_ref().map(|_| results::status::PENDING.to_owned()),
        };
        self.lock()?.insert(id.clone(), record);
        let this = Arc::clone(self);
        let qid = id.clone();
        // Held until the task has registered its abort handle, so a CancelQuery right after
        // StartQuery always finds something to cancel.
        let mut running = self
            .running
            .lock()
            .map_err(|_| LakeError::Internal("query table lock poisoned".into()))?;
        let task = tokio::spawn(async move {
            this.set_status(&qid, QueryStatus::Running);
            let started = Instant::now();
            let run = async {
                let state = ctx.state();
                let physical = state.create_physical_plan(&plan).await?;
                let batches = collect(Arc::clone(&physical), ctx.task_ctx()).await?;
                Ok::<_, datafusion::error::DataFusionError>((physical, batches))
            };
            let outcome = tokio::time::timeout(this.timeout, run).await;
            let elapsed = started.elapsed();
            this.finish(&qid, outcome, elapsed);
            if let Some(target) = target {
                this.deliver(&qid, &target).await;
            }
        });
        running.insert(id.clone(), task.abort_handle());
        Ok(id)
    }

    /// Registers store `id`'s table (of `kind`) under its id, without the partition column.
    async fn register(
        &self,
        ctx: &SessionContext,
        id: &str,
        kind: TableKind,
    ) -> Result<(), LakeError> {
        let raw = format!("{id}__files");
        match self.lake.current_table(id).await? {
            Some(table) => {
                table
                    .update_datafusion_session(&ctx.state())
                    .map_err(|e| LakeError::Internal(e.to_string()))?;
                let provider = table
                    .table_provider()
                    .await
                    .map_err(|e| LakeError::Internal(e.to_string()))?;
                ctx.register_table(raw.as_str(), provider)
                    .map_err(|e| LakeError::Internal(e.to_string()))?;
            }
            None => {
                let empty = MemTable::try_new(kind.schema(), vec![vec![]])
                    .map_err(|e| LakeError::Internal(e.to_string()))?;
                ctx.register_table(raw.as_str(), Arc::new(empty))
                    .map_err(|e| LakeError::Internal(e.to_string()))?;
            }
        }
        let columns: Vec<String> = kind
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .filter(|n| n != PARTITION_COLUMN)
            .map(|n| {
                if n == "eventjson" && kind == TableKind::Events {
                    // Stored shredded; put together only when a query reads it.
                    let args: Vec<&str> = std::iter::once("\"eventjson\"")
                        .chain(eventjson::SHREDDED.iter().map(|(_, expr)| *expr))
                        .collect();
                    format!(
                        "{}({}) AS \"eventjson\"",
                        eventjson::ASSEMBLE,
                        args.join(", ")
                    )
                } else {
                    format!("\"{n}\"")
                }
            })
            .collect();
        let view = ctx
            .sql(&format!("SELECT {} FROM \"{raw}\"", columns.join(", ")))
            .await
            .map_err(|e| LakeError::Internal(e.to_string()))?
            .into_view();
        ctx.register_table(id, view)
            .map_err(|e| LakeError::Internal(e.to_string()))?;
        Ok(())
    }

    fn set_status(&self, id: &str, status: QueryStatus) {
        if let Ok(mut q) = self.queries.lock()
            && let Some(r) = q.get_mut(id)
            && r.status.active()
        {
            r.status = status;
        }
    }

    fn finish(
        &self,
        id: &str,
        outcome: Result<Executed, tokio::time::error::Elapsed>,
        elapsed: Duration,
    ) {
        if let Ok(mut r) = self.running.lock() {
            r.remove(id);
        }
        let Ok(mut queries) = self.queries.lock() else {
            return;
        };
        let Some(q) = queries.get_mut(id) else {
            return;
        };
        if !q.status.active() {
            return;
        }
        q.stats.execution_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
        match outcome {
            Ok(Ok((plan, batches))) => match to_rows(&plan.schema(), &batches) {
                Ok((columns, rows)) => {
                    q.stats = QueryStats {
                        execution_ms: q.stats.execution_ms,
                        ..measure(plan.as_ref())
                    };
                    q.columns = columns;
                    q.rows = rows;
                    q.status = QueryStatus::Finished;
                }
                Err(e) => {
                    q.status = QueryStatus::Failed;
                    q.error = Some(e);
                }
            },
            Ok(Err(e)) => {
                q.status = QueryStatus::Failed;
                q.error = Some(clean(&e.to_string()));
            }
            Err(_) => {
                q.status = QueryStatus::TimedOut;
                q.error = Some(format!(
                    "The query ran longer than {} seconds and was stopped.",
                    self.timeout.as_secs()
                ));
            }
        }
        let record = q.clone();
        drop(queries);
        self.persist(&record);
    }

    /// Delivers a finished query's results to `target` and records the `DeliveryStatus`;
    /// a query that did not finish delivers nothing (AWS: timed-out results are not delivered).
    async fn deliver(&self, id: &str, target: &Target) {
        let Some(delivery) = &self.delivery else {
            return;
        };
        let Some(q) = self.lock().ok().and_then(|q| q.get(id).cloned()) else {
            return;
        };
        let outcome = match q.status {
            QueryStatus::Finished => {
                delivery
                    .deliver(
                        target,
                        &Delivery {
                            account: &q.account,
                            region: &q.region,
                            query_id: &q.id,
                            created: q.created,
                            completed: Utc::now(),
                            columns: &q.columns,
                            rows: &q.rows,
                        },
                    )
                    .await
            }
            QueryStatus::Cancelled => results::status::CANCELLED,
            _ => results::status::FAILED,
        };
        let record = {
            let Ok(mut queries) = self.queries.lock() else {
                return;
            };
            let Some(q) = queries.get_mut(id) else {
                return;
            };
            q.delivery_status = Some(outcome.to_owned());
            q.clone()
        };
        self.persist(&record);
    }

    fn persist(&self, q: &QueryRecord) {
        let path = self.dir.join(format!("{}.json", q.id));
        let tmp = self.dir.join(format!("{}.json.tmp", q.id));
        let written = serde_json::to_vec(q)
            .map_err(std::io::Error::other)
            .and_then(|bytes| std::fs::write(&tmp, bytes))
            .and_then(|()| std::fs::rename(&tmp, &path));
        if let Err(e) = written {
            tracing::warn!(query = %q.id, error = %e, "query results could not be kept on disk");
        }
    }

    /// The query `id` of `account`.
    pub fn get(&self, account: &str, id: &str) -> Result<QueryRecord, LakeError> {
        self.lock()?
            .get(id)
            .filter(|q| q.account == account && q.created >= Utc::now() - RESULTS_KEPT)
            .cloned()
            .ok_or_else(|| LakeError::QueryIdNotFound(format!("The query ID {id} was not found.")))
    }

    /// CancelQuery: stops a queued or running query.
    pub fn cancel(&self, account: &str, id: &str) -> Result<QueryRecord, LakeError> {
        let q = self.get(account, id)?;
        if !q.status.active() {
            return Err(LakeError::InactiveQuery(format!(
                "The query {id} is {} and can no longer be cancelled.",
                q.status.as_str()
            )));
        }
        if let Ok(mut running) = self.running.lock()
            && let Some(h) = running.remove(id)
        {
            // Dropping the execution stops its work: DataFusion streams are cancel-safe.
            h.abort();
        }
        let record = {
            let mut queries = self.lock()?;
            let Some(q) = queries.get_mut(id) else {
                return Err(LakeError::QueryIdNotFound(format!(
                    "The query ID {id} was not found."
                )));
            };
            q.status = QueryStatus::Cancelled;
            if q.delivery_status.is_some() {
                q.delivery_status = Some(results::status::CANCELLED.to_owned());
            }
            q.clone()
        };
        self.persist(&record);
        Ok(record)
    }

    /// The queries of `account` that read store `store_id`, newest first.
    pub fn list(&self, account: &str, store_id: &str) -> Result<Vec<QueryRecord>, LakeError> {
        let cutoff = Utc::now() - RESULTS_KEPT;
        let mut out: Vec<QueryRecord> = self
            .lock()?
            .values()
            .filter(|q| {
                q.account == account
                    && q.created >= cutoff
                    && q.stores.iter().any(|s| s.eq_ignore_ascii_case(store_id))
            })
            .cloned()
            .collect();
        out.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| b.id.cmp(&a.id)));
        Ok(out)
    }
}

/// GetQueryResults' page of `q`: rows from the offset in `token` (if any), at most `max`.
pub fn results_page(q: &QueryRecord, max: usize, token: Option<&str>) -> Result<Value, LakeError> {
    let offset = match token {
        Some(t) => decode_token(t, &q.id)?,
        None => 0,
    };
    let finished = q.status == QueryStatus::Finished;
    let total = if finished { q.rows.len() } else { 0 };
    let end = (offset + max).min(total);
    let page: Vec<Value> = q
        .rows
        .get(offset..end)
        .unwrap_or_default()
        .iter()
        .map(|row| {
            Value::Array(
                q.columns
                    .iter()
                    .zip(row)
                    .map(|(c, v)| json!({ c: v }))
                    .collect(),
            )
        })
        .collect();
    let mut out = json!({
        "QueryStatus": q.status.as_str(),
        "QueryStatistics": {
            "ResultsCount": page.len(),
            "TotalResultsCount": total,
            "BytesScanned": q.stats.bytes_scanned,
        },
        "QueryResultRows": page,
    });
    if end < total {
        out["NextToken"] = Value::String(encode_token(end, &q.id));
    }
    if let Some(e) = &q.error {
        out["ErrorMessage"] = Value::String(e.clone());
    }
    Ok(out)
}

/// DescribeQuery's answer for `q`.
pub fn describe(q: &QueryRecord) -> Value {
    let mut out = json!({
        "QueryId": q.id,
        "QueryString": q.statement,
        "QueryStatus": q.status.as_str(),
        "QueryStatistics": {
            "EventsMatched": q.stats.events_matched,
            "EventsScanned": q.stats.events_scanned,
            "BytesScanned": q.stats.bytes_scanned,
            "ExecutionTimeInMillis": q.stats.execution_ms,
            "CreationTime": q.created.timestamp_millis() as f64 / 1000.0,
        },
    });
    if let Some(e) = &q.error {
        out["ErrorMessage"] = Value::String(e.clone());
    }
    if let Some(uri) = &q.delivery_s3_uri {
        out["DeliveryS3Uri"] = Value::String(uri.clone());
    }
    if let Some(s) = &q.delivery_status {
        out["DeliveryStatus"] = Value::String(s.clone());
    }
    out
}

fn encode_token(offset: usize, id: &str) -> String {
    B64.encode(format!("{offset}:{id}"))
}

fn decode_token(token: &str, id: &str) -> Result<usize, LakeError> {
    let bad = || LakeError::InvalidNextToken("The NextToken is not valid for this query.".into());
    let text = B64.decode(token).map_err(|_| bad())?;
    let text = String::from_utf8(text).map_err(|_| bad())?;
    let (offset, owner) = text.split_once(':').ok_or_else(bad)?;
    if owner != id {
        return Err(bad());
    }
    offset.parse().map_err(|_| bad())
}

/// DataFusion messages carry a prefix naming the stage ("Error during planning: "), and
/// the tables' internal names: the message talks about what the user wrote instead.
fn clean(message: &str) -> String {
    message.replace("__files", "")
}

static FIELD_ACCESS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:[A-Za-z0-9_-]+\.)?[a-z_][a-z0-9_]*(?:\[[A-Za-z_][A-Za-z0-9_]*\])+$")
        .expect("valid regex")
});

/// The result column's name as CloudTrail Lake (Trino) gives it: a struct field read
/// (`eventdata.eventname`, which DataFusion names `<store>.eventdata[eventname]`) is named
/// after the field, `eventname`; other names are kept.
fn column_label(name: &str) -> String {
    if FIELD_ACCESS.is_match(name)
        && let Some(field) = name.rsplit('[').next().and_then(|f| f.strip_suffix(']'))
    {
        return field.to_owned();
    }
    name.to_owned()
}

/// The batches as text rows (CloudTrail Lake's formats: timestamps as
/// `2023-01-22 00:00:00.000`).
fn to_rows(
    schema: &datafusion::arrow::datatypes::Schema,
    batches: &[RecordBatch],
) -> Result<(Vec<String>, Vec<Vec<String>>), String> {
    let options = FormatOptions::default()
        .with_null("")
        .with_timestamp_tz_format(Some("%Y-%m-%d %H:%M:%S%.3f"))
        .with_timestamp_format(Some("%Y-%m-%d %H:%M:%S%.3f"));
    // From the plan, not the batches: a result without rows still has its columns.
    let columns = schema
        .fields()
        .iter()
        .map(|f| column_label(f.name()))
        .collect();
    let mut rows = Vec::new();
    for b in batches {
        let formatters = b
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("formatting the results: {e}"))?;
        for i in 0..b.num_rows() {
            rows.push(formatters.iter().map(|f| f.value(i).to_string()).collect());
        }
    }
    Ok((columns, rows))
}

/// Statistics read from the executed plan: rows and bytes the scans produced and read, rows
/// the filters let through.
fn measure(plan: &dyn ExecutionPlan) -> QueryStats {
    let mut stats = QueryStats::default();
    let mut filtered = None::<u64>;
    fn walk(p: &dyn ExecutionPlan, stats: &mut QueryStats, filtered: &mut Option<u64>) {
        let metrics = p.metrics();
        if p.children().is_empty()
            && let Some(m) = &metrics
        {
            let sum = |name: &str| {
                m.sum_by_name(name)
                    .map(|v| v.as_usize() as u64)
                    .unwrap_or(0)
            };
            // Filters pushed into the Parquet scan drop rows inside it: those rows were
            // read too.
            let out = m.output_rows().unwrap_or(0) as u64;
            stats.events_scanned += out + sum("pushdown_rows_pruned");
            stats.events_matched += out;
            stats.bytes_scanned += sum("bytes_scanned");
        }
        if p.name() == "FilterExec"
            && let Some(m) = &metrics
        {
            *filtered.get_or_insert(0) += m.output_rows().unwrap_or(0) as u64;
        }
        for c in p.children() {
            walk(c.as_ref(), stats, filtered);
        }
    }
    walk(plan, &mut stats, &mut filtered);
    if let Some(f) = filtered {
        stats.events_matched = f;
    }
    stats
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn struct_field_columns_are_named_after_the_field() {
        let id = "5e2676f8-9fce-46ef-8142-3e36a94e6691";
        assert_eq!(
            column_label(&format!("{id}.eventdata[eventname]")),
            "eventname"
        );
        assert_eq!(
            column_label(&format!("{id}.eventdata[useridentity][principalid]")),
            "principalid"
        );
        assert_eq!(column_label("useridentity[arn]"), "arn");
        for kept in [
            "eventname",
            "count(*)",
            "calls",
            "requestparameters[Utf8(\"bucketName\")]",
            "resources[Int64(1)]",
        ] {
            assert_eq!(column_label(kept), kept);
        }
    }

    #[test]
    fn store_ids_are_quoted_outside_literals() {
        let (sql, ids) = quote_store_ids(
            "SELECT eventname, '5e2676f8-9fce-46ef-8142-3e36a94e6691' FROM 5E2676F8-9fce-46ef-8142-3e36a94e6691 a JOIN \"0e2676f8-9fce-46ef-8142-3e36a94e6691\" b ON a.eventid = b.eventid",
        );
        assert_eq!(
            sql,
            "SELECT eventname, '5e2676f8-9fce-46ef-8142-3e36a94e6691' FROM \"5e2676f8-9fce-46ef-8142-3e36a94e6691\" a JOIN \"0e2676f8-9fce-46ef-8142-3e36a94e6691\" b ON a.eventid = b.eventid"
        );
        assert_eq!(ids, vec!["5e2676f8-9fce-46ef-8142-3e36a94e6691".to_owned()]);
        let (sql, _) = quote_store_ids("SELECT resources[1].ARN, 'a[1].b' FROM t");
        assert_eq!(sql, "SELECT resources[1]['arn'], 'a[1].b' FROM t");
        let (sql, _) =
            quote_store_ids("SELECT element_at(resources, 1) . arn, 'f(x).y', t.c FROM t");
        assert_eq!(
            sql,
            "SELECT element_at(resources, 1)['arn'], 'f(x).y', t.c FROM t"
        );
    }

    #[test]
    fn only_a_single_select_is_accepted() {
        assert!(check_select("SELECT 1").is_ok());
        assert!(check_select("WITH a AS (SELECT 1) SELECT * FROM a UNION ALL SELECT 2").is_ok());
        for bad in [
            "DELETE FROM t",
            "DROP TABLE t",
            "INSERT INTO t VALUES (1)",
            "CREATE TABLE t (a int)",
            "SELECT 1; SELECT 2",
            "SELEC 1",
        ] {
            let e = check_select(bad).expect_err(bad);
            assert_eq!(e.code(), "InvalidQueryStatementException", "{bad}");
        }
    }

    #[test]
    fn tokens_belong_to_their_query() {
        let t = encode_token(50, "q1");
        assert_eq!(decode_token(&t, "q1").expect("valid"), 50);
        assert!(decode_token(&t, "q2").is_err());
        assert!(decode_token("not-a-token", "q1").is_err());
    }
}
