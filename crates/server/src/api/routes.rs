//! Which API group serves each CloudTrail operation, and the dispatch to its handler.

use opentrail_protocol::AwsError;
use opentrail_protocol::awsjson::codes;
use serde_json::Value;

use super::ApiContext;

/// The capability an operation belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    /// Trails, their status, event and insight selectors.
    Trails,
    /// LookupEvents.
    History,
    /// ListPublicKeys.
    Integrity,
    /// Event data stores, queries, imports, federation, channels.
    Lake,
    /// CloudTrail Lake dashboards.
    Dashboards,
    /// AddTags, RemoveTags, ListTags.
    Tags,
    /// Resource policies on stores, channels and dashboards.
    ResourcePolicies,
    /// ListInsightsData, ListInsightsMetricData.
    Insights,
    /// Organization delegated administrators.
    Organizations,
}

impl Group {
    fn describe(self) -> &'static str {
        match self {
            Group::Trails => "trails",
            Group::History => "event history",
            Group::Integrity => "log file integrity validation",
            Group::Lake => "CloudTrail Lake",
            Group::Dashboards => "CloudTrail Lake dashboards",
            Group::Tags => "resource tags",
            Group::ResourcePolicies => "resource policies",
            Group::Insights => "CloudTrail Insights",
            Group::Organizations => "AWS Organizations integration",
        }
    }
}

/// The group serving `operation` (which must be one of the model's 60 operations).
pub fn group(operation: &str) -> Group {
    match operation {
        "CreateTrail"
        | "UpdateTrail"
        | "DeleteTrail"
        | "GetTrail"
        | "DescribeTrails"
        | "ListTrails"
        | "GetTrailStatus"
        | "StartLogging"
        | "StopLogging"
        | "PutEventSelectors"
        | "GetEventSelectors"
        | "PutInsightSelectors"
        | "GetInsightSelectors"
        | "PutEventConfiguration"
        | "GetEventConfiguration" => Group::Trails,
        "LookupEvents" => Group::History,
        "ListPublicKeys" => Group::Integrity,
        "CreateDashboard"
        | "UpdateDashboard"
        | "DeleteDashboard"
        | "GetDashboard"
        | "ListDashboards"
        | "StartDashboardRefresh" => Group::Dashboards,
        "AddTags" | "RemoveTags" | "ListTags" => Group::Tags,
        "PutResourcePolicy" | "GetResourcePolicy" | "DeleteResourcePolicy" => {
            Group::ResourcePolicies
        }
        "ListInsightsData" | "ListInsightsMetricData" => Group::Insights,
        "RegisterOrganizationDelegatedAdmin" | "DeregisterOrganizationDelegatedAdmin" => {
            Group::Organizations
        }
        _ => Group::Lake,
    }
}

/// Runs the handler of `operation`.
pub async fn dispatch(
    ctx: &ApiContext<'_>,
    operation: &str,
    input: Value,
) -> Result<Value, AwsError> {
    match operation {
        "LookupEvents" => super::history::lookup_events(ctx, input).await,
        "ListPublicKeys" => super::integrity::list_public_keys(ctx, input).await,
        "PutEventConfiguration" | "GetEventConfiguration" => {
            Err(not_implemented(operation, Group::Trails))
        }
        "AddTags" | "RemoveTags" | "ListTags" => {
            super::lake_stores::tags(ctx, operation, input).await
        }
        "CreateEventDataStore"
        | "GetEventDataStore"
        | "ListEventDataStores"
        | "UpdateEventDataStore"
        | "DeleteEventDataStore"
        | "RestoreEventDataStore"
        | "StartEventDataStoreIngestion"
        | "StopEventDataStoreIngestion" => super::lake_stores::handle(ctx, operation, input).await,
        "StartQuery" | "GetQueryResults" | "DescribeQuery" | "ListQueries" | "CancelQuery" => {
            super::lake_query::handle(ctx, operation, input).await
        }
        "CreateChannel" | "GetChannel" | "ListChannels" | "UpdateChannel" | "DeleteChannel" => {
            super::lake_channels::handle(ctx, operation, input).await
        }
        "StartImport" | "GetImport" | "ListImports" | "StopImport" | "ListImportFailures" => {
            super::lake_import::handle(ctx, operation, input).await
        }
        _ if group(operation) == Group::Trails => {
            super::trails::handle(ctx, operation, input).await
        }
        _ => Err(not_implemented(operation, group(operation))),
    }
}

fn not_implemented(operation: &str, group: Group) -> AwsError {
    AwsError::new(
        codes::UNSUPPORTED_OPERATION,
        format!(
            "opentrail does not implement {operation} yet: it belongs to {}, which this server version does not include.",
            group.describe()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_model_operation_has_a_group() {
        let ops: Vec<&String> = opentrail_protocol::model::cloudtrail()
            .operations
            .keys()
            .collect();
        assert_eq!(ops.len(), 60);
        let lake: Vec<&&String> = ops.iter().filter(|o| group(o) == Group::Lake).collect();
        // The fallback arm must only catch Lake operations.
        for op in lake {
            assert!(
                [
                    "EventDataStore",
                    "Query",
                    "Queries",
                    "Import",
                    "Federation",
                    "Channel"
                ]
                .iter()
                .any(|k| op.contains(k)),
                "{op} fell through to Lake"
            );
        }
    }
}
