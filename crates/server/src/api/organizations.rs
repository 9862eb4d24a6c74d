//! The one Organizations operation opentrail serves: DescribeOrganization, which
//! `aws cloudtrail validate-logs` calls to find the organization id in an organization trail's
//! log file paths. It describes the `[organization]` of the configuration.

use opentrail_protocol::AwsError;
use serde_json::{Value, json};

use super::ApiContext;

/// Runs an Organizations operation.
pub fn dispatch(ctx: &ApiContext<'_>, operation: &str) -> Result<Value, AwsError> {
    match operation {
        "DescribeOrganization" => {
            let Some(o) = &ctx.state.config.organization else {
                return Err(AwsError::new(
                    "AWSOrganizationsNotInUseException",
                    "Your account is not a member of an organization. Declare one under [organization] in the opentrail configuration.",
                ));
            };
            let m = &o.management_account;
            Ok(json!({"Organization": {
                "Id": o.id,
                "Arn": format!("arn:aws:organizations::{m}:organization/{}", o.id),
                "FeatureSet": "ALL",
                "MasterAccountArn": format!("arn:aws:organizations::{m}:account/{}/{m}", o.id),
                "MasterAccountId": m,
                "AvailablePolicyTypes": [],
            }}))
        }
        _ => Err(AwsError::new(
            opentrail_protocol::awsjson::codes::UNSUPPORTED_OPERATION,
            format!(
                "opentrail serves only DescribeOrganization of Organizations, not {operation}."
            ),
        )),
    }
}
