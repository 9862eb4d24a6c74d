//! The trail operations (trails, status, logging, event and insight selectors, tags) over the
//! trails crate's service.

use opentrail_catalog::Tag;
use opentrail_model::selectors::{AdvancedEventSelector, EventSelector, Selectors};
use opentrail_protocol::AwsError;
use opentrail_trails::{CreateTrail, InsightSelector, TrailConfig, TrailError};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::ApiContext;

fn aws(e: TrailError) -> AwsError {
    match e.code() {
        "InternalFailure" => {
            tracing::error!(error = %e, "trail operation failed");
            AwsError::internal(format!("The trail operation failed on the server: {e}"))
        }
        code => AwsError::new(code, e.to_string()),
    }
}

fn parse<T: serde::de::DeserializeOwned>(input: Value) -> Result<T, AwsError> {
    serde_json::from_value(input).map_err(|e| {
        AwsError::new(
            "SerializationException",
            format!("The request could not be read: {e}"),
        )
    })
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct TrailInput {
    name: String,
    #[serde(default)]
    s3_bucket_name: Option<String>,
    #[serde(default)]
    s3_key_prefix: Option<String>,
    #[serde(default)]
    sns_topic_name: Option<String>,
    #[serde(default)]
    include_global_service_events: Option<bool>,
    #[serde(default)]
    is_multi_region_trail: Option<bool>,
    #[serde(default)]
    enable_log_file_validation: Option<bool>,
    #[serde(default)]
    cloud_watch_logs_log_group_arn: Option<String>,
    #[serde(default)]
    cloud_watch_logs_role_arn: Option<String>,
    #[serde(default)]
    kms_key_id: Option<String>,
    #[serde(default)]
    is_organization_trail: Option<bool>,
    #[serde(default)]
    recursive_logging: Option<bool>,
    #[serde(default)]
    tags_list: Vec<Tag>,
}

impl TrailInput {
    fn into_request(self) -> CreateTrail {
        CreateTrail {
            name: self.name,
            s3_bucket: self.s3_bucket_name.unwrap_or_default(),
            s3_key_prefix: self.s3_key_prefix,
            sns_topic_name: self.sns_topic_name,
            include_global_service_events: self.include_global_service_events,
            is_multi_region: self.is_multi_region_trail,
            enable_log_file_validation: self.enable_log_file_validation,
            cloudwatch_logs_log_group_arn: self.cloud_watch_logs_log_group_arn,
            cloudwatch_logs_role_arn: self.cloud_watch_logs_role_arn,
            kms_key_id: self.kms_key_id,
            is_organization: self.is_organization_trail,
            recursive_logging: self.recursive_logging,
            tags: self.tags_list,
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct NameInput {
    name: String,
}

fn who<'a>(ctx: &'a ApiContext<'_>) -> (&'a str, &'a str) {
    let account = ctx
        .caller
        .identity
        .account_id
        .as_deref()
        .unwrap_or(&ctx.state.config.account_id);
    (account, &ctx.caller.region)
}

fn selectors_json(t: &TrailConfig) -> Value {
    let mut out = Map::new();
    out.insert("TrailARN".into(), json!(t.arn));
    match &t.selectors {
        Selectors::Basic(b) => out.insert("EventSelectors".into(), json!(b)),
        Selectors::Advanced(a) => out.insert("AdvancedEventSelectors".into(), json!(a)),
    };
    Value::Object(out)
}

fn iso(t: Option<f64>) -> Value {
    json!(
        t.and_then(|s| chrono::DateTime::from_timestamp_millis((s * 1000.0) as i64))
            .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
            .unwrap_or_default()
    )
}

/// With `storage.auto_create_buckets` (the demo), a missing embedded bucket is created.
fn auto_create_bucket(ctx: &ApiContext<'_>, bucket: Option<&str>) {
    let cfg = &ctx.state.config.storage;
    if let Some(b) = bucket
        && cfg.auto_create_buckets
        && cfg.kind == crate::config::StorageKind::Embedded
        && opentrail_store::bucket_name_problem(b).is_none()
        && let Err(e) = ctx.state.local_store.create_bucket(b, "")
    {
        tracing::warn!(bucket = b, error = %e, "could not create the bucket");
    }
}

/// Runs a trail operation.
pub async fn handle(
    ctx: &ApiContext<'_>,
    operation: &str,
    input: Value,
) -> Result<Value, AwsError> {
    let svc = &ctx.state.trails;
    let (account, region) = who(ctx);
    match operation {
        "CreateTrail" => {
            let req: TrailInput = parse(input)?;
            auto_create_bucket(ctx, req.s3_bucket_name.as_deref());
            let t = svc
                .create(account, region, req.into_request())
                .await
                .map_err(aws)?;
            Ok(t.to_write_response())
        }
        "UpdateTrail" => {
            let req: TrailInput = parse(input)?;
            auto_create_bucket(ctx, req.s3_bucket_name.as_deref());
            let t = svc
                .update(account, region, req.into_request())
                .await
                .map_err(aws)?;
            Ok(t.to_write_response())
        }
        "DeleteTrail" => {
            let req: NameInput = parse(input)?;
            svc.delete(account, region, &req.name).await.map_err(aws)?;
            Ok(json!({}))
        }
        "GetTrail" => {
            let req: NameInput = parse(input)?;
            let t = svc.get(account, region, &req.name).map_err(aws)?;
            Ok(json!({"Trail": t.to_api()}))
        }
        "DescribeTrails" => {
            #[derive(Deserialize)]
            struct In {
                #[serde(rename = "trailNameList", default)]
                names: Vec<String>,
                #[serde(rename = "includeShadowTrails", default)]
                include_shadow: Option<bool>,
            }
            let req: In = parse(input)?;
            let trails = svc
                .describe(
                    account,
                    region,
                    &req.names,
                    req.include_shadow.unwrap_or(true),
                )
                .map_err(aws)?;
            Ok(json!({"trailList": trails.iter().map(TrailConfig::to_api).collect::<Vec<_>>()}))
        }
        "ListTrails" => {
            let trails = svc.list(account).map_err(aws)?;
            Ok(
                json!({"Trails": trails.iter().map(|t| json!({"TrailARN": t.arn, "Name": t.name, "HomeRegion": t.home_region})).collect::<Vec<_>>()}),
            )
        }
        "GetTrailStatus" => {
            let req: NameInput = parse(input)?;
            let (t, s) = svc.status(account, region, &req.name).map_err(aws)?;
            let mut out = Map::new();
            let mut put = |k: &str, v: Value| {
                if !v.is_null() {
                    out.insert(k.into(), v);
                }
            };
            put("IsLogging", json!(t.logging));
            put("LatestDeliveryError", json!(s.latest_delivery_error));
            put(
                "LatestNotificationError",
                json!(s.latest_notification_error),
            );
            put("LatestDeliveryTime", json!(s.latest_delivery_time));
            put("LatestNotificationTime", json!(s.latest_notification_time));
            put("StartLoggingTime", json!(t.start_logging_time));
            put("StopLoggingTime", json!(t.stop_logging_time));
            put(
                "LatestDigestDeliveryTime",
                json!(s.latest_digest_delivery_time),
            );
            put(
                "LatestDigestDeliveryError",
                json!(s.latest_digest_delivery_error),
            );
            put(
                "LatestDeliveryAttemptTime",
                iso(s.latest_delivery_attempt_time),
            );
            put(
                "LatestNotificationAttemptTime",
                iso(s.latest_notification_attempt_time),
            );
            put(
                "LatestNotificationAttemptSucceeded",
                iso(s
                    .latest_notification_attempt_succeeded
                    .filter(|x| *x)
                    .and(s.latest_notification_attempt_time)),
            );
            put(
                "LatestDeliveryAttemptSucceeded",
                iso(s
                    .latest_delivery_attempt_succeeded
                    .filter(|x| *x)
                    .and(s.latest_delivery_attempt_time)),
            );
            put("TimeLoggingStarted", iso(t.start_logging_time));
            put("TimeLoggingStopped", iso(t.stop_logging_time));
            Ok(Value::Object(out))
        }
        "StartLogging" | "StopLogging" => {
            let req: NameInput = parse(input)?;
            svc.set_logging(account, region, &req.name, operation == "StartLogging")
                .map_err(aws)?;
            Ok(json!({}))
        }
        "PutEventSelectors" => {
            #[derive(Deserialize)]
            #[serde(rename_all = "PascalCase")]
            struct In {
                trail_name: String,
                #[serde(default)]
                event_selectors: Option<Vec<EventSelector>>,
                #[serde(default)]
                advanced_event_selectors: Option<Vec<AdvancedEventSelector>>,
            }
            let req: In = serde_json::from_value(input).map_err(|e| {
                AwsError::new(
                    "InvalidEventSelectorsException",
                    format!("The event selectors are not valid: {e}"),
                )
            })?;
            let t = svc
                .put_event_selectors(
                    account,
                    region,
                    &req.trail_name,
                    req.event_selectors,
                    req.advanced_event_selectors,
                )
                .map_err(aws)?;
            Ok(selectors_json(&t))
        }
        "GetEventSelectors" => {
            #[derive(Deserialize)]
            #[serde(rename_all = "PascalCase")]
            struct In {
                trail_name: String,
            }
            let req: In = parse(input)?;
            let t = svc.get(account, region, &req.trail_name).map_err(aws)?;
            Ok(selectors_json(&t))
        }
        "PutInsightSelectors" | "GetInsightSelectors" => {
            #[derive(Deserialize)]
            #[serde(rename_all = "PascalCase")]
            struct In {
                #[serde(default)]
                trail_name: Option<String>,
                #[serde(default)]
                event_data_store: Option<String>,
                #[serde(default)]
                insights_destination: Option<String>,
                #[serde(default)]
                insight_selectors: Option<Vec<InsightSelector>>,
            }
            let req: In = parse(input)?;
            let name = match (&req.trail_name, &req.event_data_store) {
                (Some(n), None) if req.insights_destination.is_none() => n.clone(),
                (None, Some(_)) => {
                    return Err(AwsError::new(
                        "UnsupportedOperationException",
                        "Insights on event data stores belong to CloudTrail Lake, which this server version does not include.",
                    ));
                }
                _ => {
                    return Err(AwsError::new(
                        "InvalidParameterCombinationException",
                        "Specify either TrailName, or EventDataStore with InsightsDestination.",
                    ));
                }
            };
            let t = if operation == "PutInsightSelectors" {
                svc.put_insight_selectors(
                    account,
                    region,
                    &name,
                    req.insight_selectors.unwrap_or_default(),
                )
                .map_err(aws)?
            } else {
                svc.get_insight_selectors(account, region, &name)
                    .map_err(aws)?
            };
            Ok(
                json!({"TrailARN": t.arn, "InsightSelectors": t.insight_selectors.unwrap_or_default()}),
            )
        }
        "AddTags" | "RemoveTags" => {
            #[derive(Deserialize)]
            #[serde(rename_all = "PascalCase")]
            struct In {
                resource_id: String,
                tags_list: Vec<Tag>,
            }
            let req: In = parse(input)?;
            if operation == "AddTags" {
                svc.add_tags(account, region, &req.resource_id, &req.tags_list)
                    .map_err(aws)?;
            } else {
                svc.remove_tags(account, region, &req.resource_id, &req.tags_list)
                    .map_err(aws)?;
            }
            Ok(json!({}))
        }
        "ListTags" => {
            #[derive(Deserialize)]
            #[serde(rename_all = "PascalCase")]
            struct In {
                resource_id_list: Vec<String>,
            }
            let req: In = parse(input)?;
            let tags = svc
                .list_tags(account, region, &req.resource_id_list)
                .map_err(aws)?;
            Ok(
                json!({"ResourceTagList": tags.into_iter().map(|(id, t)| json!({"ResourceId": id, "TagsList": t})).collect::<Vec<_>>()}),
            )
        }
        other => Err(AwsError::new(
            "UnsupportedOperationException",
            format!("opentrail does not implement {other} yet."),
        )),
    }
}
