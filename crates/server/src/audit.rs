//! Self-auditing: every call the server handles becomes a CloudTrail record, exactly as AWS
//! CloudTrail records calls to its own API (`eventSource` `cloudtrail.amazonaws.com`,
//! `eventType` `AwsApiCall`).

use opentrail_model::{EVENT_VERSION, Record, TlsDetails, UserIdentity, time};
use serde_json::Value;

use crate::request::RequestMeta;

/// `eventSource` of CloudTrail's own API.
pub const CLOUDTRAIL_SOURCE: &str = "cloudtrail.amazonaws.com";
/// `eventSource` of opentrail's native endpoints (ingest, journal reads).
pub const OPENTRAIL_SOURCE: &str = "opentrail.amazonaws.com";

/// Everything an audit record says about one call.
#[derive(Debug, Clone)]
pub struct CallRecord<'a> {
    /// The request.
    pub meta: &'a RequestMeta,
    /// Who called (or claimed to).
    pub identity: UserIdentity,
    /// Region from the credential scope (or the server default when unreadable).
    pub region: String,
    /// The account that receives the record.
    pub account_id: String,
    /// `eventSource`.
    pub event_source: &'static str,
    /// `eventName`: the operation.
    pub event_name: String,
    /// Whether the operation only reads.
    pub read_only: bool,
    /// Management (control plane) or data event.
    pub management: bool,
    /// `requestParameters`.
    pub request_parameters: Value,
    /// `responseElements` (`null` for reads and failures).
    pub response_elements: Value,
    /// `errorCode` and `errorMessage` of a failed call.
    pub error: Option<(String, String)>,
}

impl<'a> CallRecord<'a> {
    /// A call to one of opentrail's native endpoints (ingest, journal reads, exports), before
    /// its caller is known: the server's own account and default region.
    pub fn native(
        meta: &'a RequestMeta,
        config: &crate::config::Config,
        event_name: &str,
        read_only: bool,
    ) -> Self {
        CallRecord {
            meta,
            identity: UserIdentity::unknown(None),
            region: config.region.clone(),
            account_id: config.account_id.clone(),
            event_source: OPENTRAIL_SOURCE,
            event_name: event_name.into(),
            read_only,
            management: false,
            request_parameters: Value::Null,
            response_elements: Value::Null,
            error: None,
        }
    }

    /// The CloudTrail record of this call.
    pub fn to_record(&self) -> Record {
        let failed = self.error.is_some();
        Record {
            event_version: Some(EVENT_VERSION.into()),
            user_identity: Some(self.identity.clone()),
            event_time: Some(time::format_event_time(self.meta.received)),
            event_source: Some(self.event_source.into()),
            event_name: Some(self.event_name.clone()),
            aws_region: Some(self.region.clone()),
            source_ip_address: Some(self.meta.source_ip.clone()),
            user_agent: self.meta.user_agent.clone(),
            error_code: self.error.as_ref().map(|e| e.0.clone()),
            error_message: self.error.as_ref().map(|e| e.1.clone()),
            request_parameters: Some(self.request_parameters.clone()),
            response_elements: Some(if failed || self.read_only {
                Value::Null
            } else {
                self.response_elements.clone()
            }),
            request_id: Some(self.meta.request_id.clone()),
            event_id: Some(opentrail_model::ids::new_guid()),
            read_only: Some(self.read_only),
            event_type: Some("AwsApiCall".into()),
            management_event: Some(self.management),
            recipient_account_id: Some(self.account_id.clone()),
            event_category: Some(
                if self.management {
                    "Management"
                } else {
                    "Data"
                }
                .into(),
            ),
            tls_details: self.meta.host.as_ref().map(|h| TlsDetails {
                client_provided_host_header: Some(h.clone()),
                ..TlsDetails::default()
            }),
            ..Record::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn records_have_the_aws_self_audit_shape() {
        let meta = RequestMeta {
            request_id: "req-1".into(),
            received: chrono::DateTime::from_timestamp(1_764_000_000, 0).expect("time"),
            source_ip: "203.0.113.4".into(),
            user_agent: Some("aws-cli/1.46.3".into()),
            host: Some("127.0.0.1:4599".into()),
        };
        let call = CallRecord {
            meta: &meta,
            identity: UserIdentity::root("123456789012", "AKIAROOT"),
            region: "eu-west-1".into(),
            account_id: "123456789012".into(),
            event_source: CLOUDTRAIL_SOURCE,
            event_name: "CreateTrail".into(),
            read_only: false,
            management: true,
            request_parameters: json!({"name": "t"}),
            response_elements: json!({"name": "t"}),
            error: Some(("TrailAlreadyExistsException".into(), "exists".into())),
        };
        let v = serde_json::to_value(call.to_record()).expect("json");
        assert_eq!(v["eventSource"], "cloudtrail.amazonaws.com");
        assert_eq!(v["eventTime"], "2025-11-24T16:00:00Z");
        assert_eq!(v["requestID"], "req-1");
        assert_eq!(v["awsRegion"], "eu-west-1");
        assert_eq!(v["errorCode"], "TrailAlreadyExistsException");
        assert_eq!(
            v["responseElements"],
            Value::Null,
            "failed calls have null responseElements"
        );
        assert_eq!(v["requestParameters"], json!({"name": "t"}));
        assert_eq!(v["eventCategory"], "Management");
        assert_eq!(v["managementEvent"], true);
        assert_eq!(v["readOnly"], false);
        assert_eq!(v["userIdentity"]["type"], "Root");
        assert_eq!(
            v["tlsDetails"],
            json!({"clientProvidedHostHeader": "127.0.0.1:4599"})
        );
        let text = v.to_string();
        opentrail_model::validate_incoming(&text).expect("a self-audit record is a valid record");
    }
}
