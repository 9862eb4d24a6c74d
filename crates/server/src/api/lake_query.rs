//! CloudTrail Lake queries: StartQuery, GetQueryResults, DescribeQuery, ListQueries and
//! CancelQuery over the lake crate's query service, scoped to the caller's account and region.

use opentrail_lake::LakeError;
use opentrail_lake::query::{self, QueryStatus, QueryableStore};
use opentrail_lake::stores::EventDataStoreStatus;
use opentrail_lake::tables::TableKind;
use opentrail_protocol::AwsError;
use serde::Deserialize;
use serde_json::{Value, json};

use super::ApiContext;
use super::lake_stores::{aws, parse, who};

/// GetQueryResults' page size when MaxQueryResults is not given.
const DEFAULT_PAGE: usize = 1000;

fn unsupported(operation: &str, what: &str) -> AwsError {
    AwsError::new(
        "UnsupportedOperationException",
        format!("opentrail does not support {what} in {operation} yet."),
    )
}

fn max_results(v: Option<i64>, default: usize, name: &str) -> Result<usize, AwsError> {
    match v {
        None => Ok(default),
        Some(n) if (1..=1000).contains(&n) => Ok(n as usize),
        Some(n) => Err(aws(LakeError::InvalidMaxResults(format!(
            "{name} must be from 1 to 1000; {n} was given."
        )))),
    }
}

/// The stores a statement of this caller may name: the account's stores of this region.
fn queryable(ctx: &ApiContext<'_>) -> Result<Vec<QueryableStore>, AwsError> {
    let (account, region) = who(ctx);
    Ok(ctx
        .state
        .event_data_stores
        .list_all()
        .map_err(aws)?
        .into_iter()
        .filter(|s| s.account == account && s.region == region)
        .map(|s| QueryableStore {
            active: s.status != EventDataStoreStatus::PendingDeletion,
            kind: TableKind::of(&s.advanced_event_selectors),
            id: s.id,
            arn: s.arn,
        })
        .collect())
}

/// Checks the (deprecated) `EventDataStore` member some operations still accept.
fn check_store(ctx: &ApiContext<'_>, store: Option<&str>) -> Result<(), AwsError> {
    if let Some(s) = store {
        let (account, region) = who(ctx);
        ctx.state
            .event_data_stores
            .resolve(account, region, s)
            .map_err(aws)?;
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct StartIn {
    query_statement: Option<String>,
    delivery_s3_uri: Option<String>,
    query_alias: Option<String>,
    query_parameters: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct QueryIn {
    query_id: Option<String>,
    event_data_store: Option<String>,
    max_query_results: Option<i64>,
    next_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListIn {
    event_data_store: String,
    max_results: Option<i64>,
    next_token: Option<String>,
    start_time: Option<f64>,
    end_time: Option<f64>,
    query_status: Option<String>,
}

fn query_id(id: Option<String>) -> Result<String, AwsError> {
    id.filter(|i| !i.is_empty()).ok_or_else(|| {
        aws(LakeError::InvalidParameter(
            "QueryId is required.".to_owned(),
        ))
    })
}

/// Runs a query operation.
pub async fn handle(
    ctx: &ApiContext<'_>,
    operation: &str,
    input: Value,
) -> Result<Value, AwsError> {
    let (account, region) = who(ctx);
    let queries = &ctx.state.queries;
    match operation {
        "StartQuery" => {
            let req: StartIn = parse(input)?;
            if req.query_alias.is_some() || req.query_parameters.is_some() {
                return Err(unsupported(
                    operation,
                    "dashboard queries (QueryAlias, QueryParameters)",
                ));
            }
            let statement = req.query_statement.ok_or_else(|| {
                aws(LakeError::InvalidParameter(
                    "QueryStatement is required.".to_owned(),
                ))
            })?;
            let stores = queryable(ctx)?;
            let id = queries
                .start(
                    account,
                    region,
                    &statement,
                    &stores,
                    req.delivery_s3_uri.as_deref(),
                )
                .await
                .map_err(aws)?;
            Ok(json!({ "QueryId": id }))
        }
        "GetQueryResults" => {
            let req: QueryIn = parse(input)?;
            check_store(ctx, req.event_data_store.as_deref())?;
            let max = max_results(req.max_query_results, DEFAULT_PAGE, "MaxQueryResults")?;
            let q = queries
                .get(account, &query_id(req.query_id)?)
                .map_err(aws)?;
            query::results_page(&q, max, req.next_token.as_deref()).map_err(aws)
        }
        "DescribeQuery" => {
            let req: QueryIn = parse(input)?;
            check_store(ctx, req.event_data_store.as_deref())?;
            let q = queries
                .get(account, &query_id(req.query_id)?)
                .map_err(aws)?;
            Ok(query::describe(&q))
        }
        "CancelQuery" => {
            let req: QueryIn = parse(input)?;
            check_store(ctx, req.event_data_store.as_deref())?;
            let q = queries
                .cancel(account, &query_id(req.query_id)?)
                .map_err(aws)?;
            Ok(json!({ "QueryId": q.id, "QueryStatus": q.status.as_str() }))
        }
        "ListQueries" => {
            let req: ListIn = parse(input)?;
            let store = ctx
                .state
                .event_data_stores
                .resolve(account, region, &req.event_data_store)
                .map_err(aws)?;
            let max = max_results(req.max_results, DEFAULT_PAGE, "MaxResults")?;
            let status = match req.query_status.as_deref() {
                None => None,
                Some(s) => Some(QueryStatus::parse(s).ok_or_else(|| {
                    aws(LakeError::InvalidQueryStatus(format!(
                        "{s} is not a query status; use QUEUED, RUNNING, FINISHED, FAILED, CANCELLED or TIMED_OUT."
                    )))
                })?),
            };
            if let (Some(a), Some(b)) = (req.start_time, req.end_time)
                && a > b
            {
                return Err(aws(LakeError::InvalidDateRange(
                    "StartTime must be before EndTime.".to_owned(),
                )));
            }
            let all: Vec<_> = queries
                .list(account, &store.id)
                .map_err(aws)?
                .into_iter()
                .filter(|q| status.is_none_or(|s| q.status == s))
                .filter(|q| {
                    let t = q.created.timestamp_millis() as f64 / 1000.0;
                    req.start_time.is_none_or(|a| t >= a) && req.end_time.is_none_or(|b| t <= b)
                })
                .collect();
            let offset = match &req.next_token {
                Some(t) => list_offset(t, &store.id)?,
                None => 0,
            };
            let end = (offset + max).min(all.len());
            let page: Vec<Value> = all
                .get(offset..end)
                .unwrap_or_default()
                .iter()
                .map(|q| {
                    json!({
                        "QueryId": q.id,
                        "QueryStatus": q.status.as_str(),
                        "CreationTime": q.created.timestamp_millis() as f64 / 1000.0,
                    })
                })
                .collect();
            let mut out = json!({ "Queries": page });
            if end < all.len() {
                out["NextToken"] = Value::String(format!("{}:{end}", store.id));
            }
            Ok(out)
        }
        other => Err(unsupported(other, "this operation")),
    }
}

fn list_offset(token: &str, store: &str) -> Result<usize, AwsError> {
    token
        .split_once(':')
        .filter(|(s, _)| *s == store)
        .and_then(|(_, n)| n.parse().ok())
        .ok_or_else(|| {
            aws(LakeError::InvalidNextToken(
                "The NextToken is not valid for this event data store.".to_owned(),
            ))
        })
}
