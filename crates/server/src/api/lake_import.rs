//! Imports of trail log files into event data stores: StartImport, GetImport, ListImports,
//! StopImport and ListImportFailures over the lake crate's import service, scoped to the
//! caller's account and region.

use opentrail_lake::import::{ImportShape, ListImports, StartImport};
use opentrail_protocol::AwsError;
use serde::Deserialize;
use serde_json::{Value, json};

use super::ApiContext;
use super::lake_stores::{aws, parse, who};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct IdIn {
    import_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListIn {
    max_results: Option<i64>,
    destination: Option<String>,
    import_status: Option<String>,
    next_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct FailuresIn {
    import_id: String,
    max_results: Option<i64>,
    next_token: Option<String>,
}

/// Runs an import operation.
pub async fn handle(
    ctx: &ApiContext<'_>,
    operation: &str,
    input: Value,
) -> Result<Value, AwsError> {
    let svc = &ctx.state.imports;
    let (account, region) = who(ctx);
    match operation {
        "StartImport" => {
            let req: StartImport = parse(input)?;
            let imp = svc.start(account, region, req).await.map_err(aws)?;
            Ok(imp.to_api(ImportShape::Start))
        }
        "GetImport" => {
            let req: IdIn = parse(input)?;
            let imp = svc.get(account, region, &req.import_id).map_err(aws)?;
            Ok(imp.to_api(ImportShape::Full))
        }
        "StopImport" => {
            let req: IdIn = parse(input)?;
            let imp = svc.stop(account, region, &req.import_id).map_err(aws)?;
            Ok(imp.to_api(ImportShape::Full))
        }
        "ListImports" => {
            let req: ListIn = parse(input)?;
            let (page, token) = svc
                .list(
                    account,
                    region,
                    &ListImports {
                        max_results: req.max_results,
                        destination: req.destination,
                        import_status: req.import_status,
                        next_token: req.next_token,
                    },
                )
                .map_err(aws)?;
            let mut out = json!({
                "Imports": page.iter().map(|i| i.to_list_item()).collect::<Vec<_>>()
            });
            if let Some(t) = token {
                out["NextToken"] = json!(t);
            }
            Ok(out)
        }
        "ListImportFailures" => {
            let req: FailuresIn = parse(input)?;
            let (page, token) = svc
                .failures(
                    account,
                    region,
                    &req.import_id,
                    req.max_results,
                    req.next_token.as_deref(),
                )
                .map_err(aws)?;
            let failures: Vec<Value> = page
                .iter()
                .map(|f| {
                    json!({
                        "Location": f.location,
                        "Status": "FAILED",
                        "ErrorType": f.error_type,
                        "ErrorMessage": f.error_message,
                        "LastUpdatedTime": f.last_updated.timestamp_millis() as f64 / 1000.0,
                    })
                })
                .collect();
            let mut out = json!({ "Failures": failures });
            if let Some(t) = token {
                out["NextToken"] = json!(t);
            }
            Ok(out)
        }
        other => Err(AwsError::new(
            "UnsupportedOperationException",
            format!("opentrail does not implement {other} yet."),
        )),
    }
}
