//! The CloudTrail Lake channel operations (create, get, list, update, delete) over the lake
//! crate's channel service. A change is handed to the lake's consumers before it is
//! answered, so events put through a channel right after it was created or pointed at a new
//! store are kept by that store.

use opentrail_lake::channels::{CreateChannel, UpdateChannel};
use opentrail_protocol::AwsError;
use serde::Deserialize;
use serde_json::{Value, json};

use super::ApiContext;
use super::lake_stores::{PageInput, aws, page_output, parse, who};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ChannelInput {
    channel: String,
}

/// Brings the lake's consumers up to date with the catalog. The change itself stands if
/// this fails; the lake's own poll catches up within a second.
pub(super) fn refresh_lake(ctx: &ApiContext<'_>) {
    let s = ctx.state;
    if let Err(e) = opentrail_lake::feed::refresh(&s.lake, &s.event_data_stores, &s.channels) {
        tracing::warn!(error = %e, "could not hand the lake the new configuration at once");
    }
}

/// Runs a channel operation.
pub async fn handle(
    ctx: &ApiContext<'_>,
    operation: &str,
    input: Value,
) -> Result<Value, AwsError> {
    let svc = &ctx.state.channels;
    let (account, region) = who(ctx);
    match operation {
        "CreateChannel" => {
            let req: CreateChannel = parse(input)?;
            let (c, tags) = svc.create(account, region, req).map_err(aws)?;
            refresh_lake(ctx);
            Ok(c.to_create_api(&tags))
        }
        "GetChannel" => {
            let req: ChannelInput = parse(input)?;
            let (c, status) = svc.get(account, region, &req.channel).map_err(aws)?;
            Ok(c.to_get_api(&status))
        }
        "ListChannels" => {
            let req: PageInput = parse(input)?;
            let page = svc
                .list(account, region, req.max_results, req.next_token.as_deref())
                .map_err(aws)?;
            let items = page.channels.iter().map(|c| c.to_list_item()).collect();
            Ok(page_output("Channels", items, page.next_token))
        }
        "UpdateChannel" => {
            let req: UpdateChannel = parse(input)?;
            let c = svc.update(account, region, req).map_err(aws)?;
            refresh_lake(ctx);
            Ok(c.to_update_api())
        }
        "DeleteChannel" => {
            let req: ChannelInput = parse(input)?;
            svc.delete(account, region, &req.channel).map_err(aws)?;
            refresh_lake(ctx);
            Ok(json!({}))
        }
        other => Err(AwsError::new(
            "UnsupportedOperationException",
            format!("opentrail does not implement {other} yet."),
        )),
    }
}
