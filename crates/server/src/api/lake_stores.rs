//! The CloudTrail Lake event data store operations (create, get, list, update, delete,
//! restore, start and stop ingestion) over the lake crate's service, and the tag operations,
//! which go to the lake for event data store and channel ARNs and to the trails otherwise.

use opentrail_catalog::Tag;
use opentrail_lake::LakeError;
use opentrail_lake::channels::is_channel_arn;
use opentrail_lake::stores::{
    CreateEventDataStore, ResponseShape, UpdateEventDataStore, is_event_data_store_arn,
};
use opentrail_protocol::AwsError;
use opentrail_trails::TrailError;
use serde::Deserialize;
use serde_json::{Value, json};

use super::ApiContext;

/// ListTags takes at most this many resources.
const MAX_LIST_TAGS_RESOURCES: usize = 20;

pub(super) fn aws(e: LakeError) -> AwsError {
    if e.is_internal() {
        tracing::error!(error = %e, "event data store operation failed");
        return AwsError::internal(format!(
            "The event data store operation failed on the server: {e}"
        ));
    }
    AwsError::new(e.code(), e.to_string())
}

fn trail_aws(e: TrailError) -> AwsError {
    match e.code() {
        "InternalFailure" => {
            tracing::error!(error = %e, "trail tag operation failed");
            AwsError::internal(format!("The tag operation failed on the server: {e}"))
        }
        code => AwsError::new(code, e.to_string()),
    }
}

/// The paging members of a List request.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct PageInput {
    #[serde(default)]
    pub max_results: Option<i64>,
    #[serde(default)]
    pub next_token: Option<String>,
}

/// A List answer: `items` under `key`, and `NextToken` when there is more.
pub(super) fn page_output(key: &str, items: Vec<Value>, next_token: Option<String>) -> Value {
    let mut out = json!({ key: items });
    if let Some(t) = next_token {
        out["NextToken"] = json!(t);
    }
    out
}

pub(super) fn parse<T: serde::de::DeserializeOwned>(input: Value) -> Result<T, AwsError> {
    serde_json::from_value(input).map_err(|e| {
        AwsError::new(
            "SerializationException",
            format!("The request could not be read: {e}"),
        )
    })
}

pub(super) fn who<'a>(ctx: &'a ApiContext<'_>) -> (&'a str, &'a str) {
    let account = ctx
        .caller
        .identity
        .account_id
        .as_deref()
        .unwrap_or(&ctx.state.config.account_id);
    (account, &ctx.caller.region)
}

/// `EventDataStoreHasOngoingImportException` while an import writes into the store.
fn refuse_during_import(
    ctx: &ApiContext<'_>,
    store: &str,
    operation: &str,
) -> Result<(), AwsError> {
    let (account, region) = who(ctx);
    // A store that does not resolve is refused by the operation itself, with its own error.
    let Ok(s) = ctx.state.event_data_stores.resolve(account, region, store) else {
        return Ok(());
    };
    if ctx.state.imports.has_ongoing_import(&s.id).map_err(aws)? {
        return Err(aws(LakeError::EventDataStoreHasOngoingImport(format!(
            "An import into the event data store {} is running; {operation} waits until it ends or is stopped (StopImport).",
            s.arn
        ))));
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct StoreInput {
    event_data_store: String,
}

/// Runs an event data store operation.
pub async fn handle(
    ctx: &ApiContext<'_>,
    operation: &str,
    input: Value,
) -> Result<Value, AwsError> {
    let svc = &ctx.state.event_data_stores;
    let (account, region) = who(ctx);
    match operation {
        "CreateEventDataStore" => {
            let req: CreateEventDataStore = parse(input)?;
            let (s, tags) = svc.create(account, region, req).map_err(aws)?;
            Ok(s.to_api(ResponseShape::Create, &tags))
        }
        "GetEventDataStore" => {
            let req: StoreInput = parse(input)?;
            let s = svc
                .get(account, region, &req.event_data_store)
                .map_err(aws)?;
            Ok(s.to_api(ResponseShape::Get, &[]))
        }
        "ListEventDataStores" => {
            let req: PageInput = parse(input)?;
            let page = svc
                .list(account, region, req.max_results, req.next_token.as_deref())
                .map_err(aws)?;
            let items = page.stores.iter().map(|s| s.to_list_item()).collect();
            Ok(page_output("EventDataStores", items, page.next_token))
        }
        "UpdateEventDataStore" => {
            let req: UpdateEventDataStore = parse(input)?;
            refuse_during_import(ctx, &req.event_data_store, operation)?;
            let s = svc.update(account, region, req).map_err(aws)?;
            Ok(s.to_api(ResponseShape::Update, &[]))
        }
        "DeleteEventDataStore" => {
            let req: StoreInput = parse(input)?;
            refuse_during_import(ctx, &req.event_data_store, operation)?;
            svc.delete(account, region, &req.event_data_store)
                .map_err(aws)?;
            Ok(json!({}))
        }
        "RestoreEventDataStore" => {
            let req: StoreInput = parse(input)?;
            let s = svc
                .restore(account, region, &req.event_data_store)
                .map_err(aws)?;
            Ok(s.to_api(ResponseShape::Restore, &[]))
        }
        "StartEventDataStoreIngestion" | "StopEventDataStoreIngestion" => {
            let req: StoreInput = parse(input)?;
            svc.set_ingestion(
                account,
                region,
                &req.event_data_store,
                operation == "StartEventDataStoreIngestion",
            )
            .map_err(aws)?;
            Ok(json!({}))
        }
        other => Err(AwsError::new(
            "UnsupportedOperationException",
            format!("opentrail does not implement {other} yet."),
        )),
    }
}

/// Which service keeps a resource's tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TagOwner {
    EventDataStore,
    Channel,
    /// Trails, and the errors for every other kind of resource.
    Trails,
}

fn tag_owner(resource: &str) -> TagOwner {
    if is_event_data_store_arn(resource) {
        TagOwner::EventDataStore
    } else if is_channel_arn(resource) {
        TagOwner::Channel
    } else {
        TagOwner::Trails
    }
}

/// AddTags, RemoveTags and ListTags: event data store and channel ARNs are the lake's, every
/// other resource is left to the trails handler (which names the error for other kinds).
pub async fn tags(ctx: &ApiContext<'_>, operation: &str, input: Value) -> Result<Value, AwsError> {
    let stores = &ctx.state.event_data_stores;
    let channels = &ctx.state.channels;
    let (account, region) = who(ctx);
    match operation {
        "AddTags" | "RemoveTags" => {
            #[derive(Deserialize)]
            #[serde(rename_all = "PascalCase")]
            struct In {
                resource_id: String,
                tags_list: Vec<Tag>,
            }
            let req: In = parse(input.clone())?;
            let (r, t) = (req.resource_id.as_str(), req.tags_list.as_slice());
            match (tag_owner(r), operation == "AddTags") {
                (TagOwner::Trails, _) => return super::trails::handle(ctx, operation, input).await,
                (TagOwner::EventDataStore, true) => stores.add_tags(account, region, r, t),
                (TagOwner::EventDataStore, false) => stores.remove_tags(account, region, r, t),
                (TagOwner::Channel, true) => channels.add_tags(account, region, r, t),
                (TagOwner::Channel, false) => channels.remove_tags(account, region, r, t),
            }
            .map_err(aws)?;
            Ok(json!({}))
        }
        "ListTags" => {
            #[derive(Deserialize)]
            #[serde(rename_all = "PascalCase")]
            struct In {
                resource_id_list: Vec<String>,
            }
            let req: In = parse(input.clone())?;
            if req
                .resource_id_list
                .iter()
                .all(|r| tag_owner(r) == TagOwner::Trails)
            {
                return super::trails::handle(ctx, operation, input).await;
            }
            if req.resource_id_list.len() > MAX_LIST_TAGS_RESOURCES {
                return Err(AwsError::new(
                    "InvalidParameterCombinationException",
                    format!(
                        "ListTags takes at most {MAX_LIST_TAGS_RESOURCES} resource ARNs; {} were given.",
                        req.resource_id_list.len()
                    ),
                ));
            }
            let mut out = Vec::new();
            for r in &req.resource_id_list {
                let tags = match tag_owner(r) {
                    TagOwner::EventDataStore => {
                        stores.list_tags(account, region, r).map_err(aws)?
                    }
                    TagOwner::Channel => channels.list_tags(account, region, r).map_err(aws)?,
                    TagOwner::Trails => ctx
                        .state
                        .trails
                        .list_tags(account, region, std::slice::from_ref(r))
                        .map_err(trail_aws)?
                        .into_iter()
                        .flat_map(|(_, t)| t)
                        .collect(),
                };
                out.push(json!({"ResourceId": r, "TagsList": tags}));
            }
            Ok(json!({"ResourceTagList": out}))
        }
        other => Err(AwsError::new(
            "UnsupportedOperationException",
            format!("opentrail does not implement {other} yet."),
        )),
    }
}
