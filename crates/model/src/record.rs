//! The CloudTrail event record (management, data, network activity and insight events).
//!
//! Member names and their irregular capitalisation (`requestID`, `eventID`,
//! `sourceIPAddress`, `recipientAccountId`) are exactly those of AWS log files.

use serde_json::Value;

use crate::identity::UserIdentity;

/// The `eventVersion` opentrail writes on the records it creates.
pub const EVENT_VERSION: &str = "1.11";

lenient_struct! {
    /// One CloudTrail event, as it appears in a log file's `Records` array.
    ///
    /// Every member is optional because records of different types and versions carry
    /// different members; [`crate::validate_incoming`] says which are required on ingest.
    pub struct Record {
        /// `major.minor`, e.g. `1.11`.
        "eventVersion" => event_version: String,
        /// Who made the request. Absent on insight events.
        "userIdentity" => user_identity: UserIdentity,
        /// Completion time, `YYYY-MM-DDTHH:MM:SSZ`.
        "eventTime" => event_time: String,
        /// The service, e.g. `s3.amazonaws.com`.
        "eventSource" => event_source: String,
        /// The API action, e.g. `PutObject`.
        "eventName" => event_name: String,
        /// The region the request went to.
        "awsRegion" => aws_region: String,
        /// The caller's address, or a service name for service-originated calls.
        "sourceIPAddress" => source_ip_address: String,
        /// The caller's user agent (truncated by AWS at 1 KB).
        "userAgent" => user_agent: String,
        /// Present only on failed calls.
        "errorCode" => error_code: String,
        /// Present only on failed calls.
        "errorMessage" => error_message: String,
        /// The request's parameters (object or `null`).
        "requestParameters" => request_parameters: Value,
        /// The response (object or `null`; `null` for read-only and failed calls).
        "responseElements" => response_elements: Value,
        /// Service-specific extra data.
        "additionalEventData" => additional_event_data: Value,
        /// The request id the service returned.
        "requestID" => request_id: String,
        /// A GUID per event.
        "eventID" => event_id: String,
        /// Whether the call only read.
        "readOnly" => read_only: bool,
        /// Resources the call touched.
        "resources" => resources: Vec<Resource>,
        /// `AwsApiCall`, `AwsServiceEvent`, `AwsConsoleAction`, `AwsConsoleSignIn`, ...
        "eventType" => event_type: String,
        /// API version, for some `AwsApiCall` events.
        "apiVersion" => api_version: String,
        /// Whether this is a management event.
        "managementEvent" => management_event: bool,
        /// The account that received the event.
        "recipientAccountId" => recipient_account_id: String,
        /// Payload of an `AwsServiceEvent`.
        "serviceEventDetails" => service_event_details: Value,
        /// GUID shared by the copies of one action delivered to several accounts.
        "sharedEventID" => shared_event_id: String,
        /// VPC endpoint the request came through.
        "vpcEndpointId" => vpc_endpoint_id: String,
        /// Owner of that VPC endpoint.
        "vpcEndpointAccountId" => vpc_endpoint_account_id: String,
        /// `Management`, `Data`, `NetworkActivity`, `Insight`, ...
        "eventCategory" => event_category: String,
        /// Why a record was delivered late or changed.
        "addendum" => addendum: Addendum,
        /// `"true"` when the session credentials came from the console.
        "sessionCredentialFromConsole" => session_credential_from_console: String,
        /// S3 on Outposts and similar edge details.
        "edgeDeviceDetails" => edge_device_details: Value,
        /// TLS version and cipher of the connection.
        "tlsDetails" => tls_details: TlsDetails,
        /// The content of an insight event.
        "insightDetails" => insight_details: InsightDetails,
        /// Enrichment from context key selectors.
        "eventContext" => event_context: Value,
    }
}

lenient_struct! {
    /// One element of a record's `resources` array.
    pub struct Resource {
        /// The resource's ARN.
        "ARN" => arn: String,
        /// Owning account.
        "accountId" => account_id: String,
        /// CloudFormation-style type, e.g. `AWS::S3::Bucket`.
        "type" => resource_type: String,
        /// ARN prefix, used by some data events instead of `ARN`.
        "ARNPrefix" => arn_prefix: String,
    }
}

lenient_struct! {
    /// The `tlsDetails` member.
    pub struct TlsDetails {
        /// e.g. `TLSv1.3`.
        "tlsVersion" => tls_version: String,
        /// e.g. `TLS_AES_128_GCM_SHA256`.
        "cipherSuite" => cipher_suite: String,
        /// The Host header the client sent.
        "clientProvidedHostHeader" => client_provided_host_header: String,
    }
}

lenient_struct! {
    /// The `addendum` member of late or updated records.
    pub struct Addendum {
        /// `DELIVERY_DELAY`, `UPDATED_DATA` or `SERVICE_OUTAGE`.
        "reason" => reason: String,
        /// Comma-separated list of updated fields.
        "updatedFields" => updated_fields: String,
        /// Request id of the original record.
        "originalRequestID" => original_request_id: String,
        /// Event id of the original record.
        "originalEventID" => original_event_id: String,
    }
}

lenient_struct! {
    /// The `insightDetails` member of an `AwsCloudTrailInsight` record.
    pub struct InsightDetails {
        /// `Start` or `End`.
        "state" => state: String,
        /// The service whose API rate was unusual.
        "eventSource" => event_source: String,
        /// The API whose rate was unusual.
        "eventName" => event_name: String,
        /// `ApiCallRateInsight` or `ApiErrorRateInsight`.
        "insightType" => insight_type: String,
        /// The error code, for error-rate insights.
        "errorCode" => error_code: String,
        /// `Management` or `Data`.
        "sourceEventCategory" => source_event_category: String,
        /// Statistics and attributions.
        "insightContext" => insight_context: Value,
    }
}

/// The values of `eventCategory`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventCategory {
    /// Control-plane calls.
    Management,
    /// Data-plane calls (S3 objects, Lambda invokes, ...).
    Data,
    /// VPC endpoint network activity.
    NetworkActivity,
    /// Insight events.
    Insight,
    /// AWS Config configuration items (Lake only).
    ConfigurationItem,
    /// Audit Manager evidence (Lake only).
    Evidence,
    /// Events from integrations (Lake only).
    ActivityAuditLog,
}

impl EventCategory {
    /// Every category, in documentation order.
    pub const ALL: [EventCategory; 7] = [
        EventCategory::Management,
        EventCategory::Data,
        EventCategory::NetworkActivity,
        EventCategory::Insight,
        EventCategory::ConfigurationItem,
        EventCategory::Evidence,
        EventCategory::ActivityAuditLog,
    ];

    /// The name as it appears in records.
    pub fn as_str(self) -> &'static str {
        match self {
            EventCategory::Management => "Management",
            EventCategory::Data => "Data",
            EventCategory::NetworkActivity => "NetworkActivity",
            EventCategory::Insight => "Insight",
            EventCategory::ConfigurationItem => "ConfigurationItem",
            EventCategory::Evidence => "Evidence",
            EventCategory::ActivityAuditLog => "ActivityAuditLog",
        }
    }

    /// Parses the record spelling.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// The values of `eventType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    /// An API call.
    AwsApiCall,
    /// An event the service generated itself.
    AwsServiceEvent,
    /// A console action that is not an API call.
    AwsConsoleAction,
    /// A console sign-in.
    AwsConsoleSignIn,
    /// A VPC endpoint event (network activity).
    AwsVpceEvent,
    /// An insight event.
    AwsCloudTrailInsight,
    /// A configuration item (Lake only).
    AwsConfigurationItem,
    /// Audit Manager evidence (Lake only).
    AwsAuditManagerEvidence,
    /// An integration event (Lake only).
    ActivityLog,
}

impl EventType {
    /// Every type.
    pub const ALL: [EventType; 9] = [
        EventType::AwsApiCall,
        EventType::AwsServiceEvent,
        EventType::AwsConsoleAction,
        EventType::AwsConsoleSignIn,
        EventType::AwsVpceEvent,
        EventType::AwsCloudTrailInsight,
        EventType::AwsConfigurationItem,
        EventType::AwsAuditManagerEvidence,
        EventType::ActivityLog,
    ];

    /// The name as it appears in records.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::AwsApiCall => "AwsApiCall",
            EventType::AwsServiceEvent => "AwsServiceEvent",
            EventType::AwsConsoleAction => "AwsConsoleAction",
            EventType::AwsConsoleSignIn => "AwsConsoleSignIn",
            EventType::AwsVpceEvent => "AwsVpceEvent",
            EventType::AwsCloudTrailInsight => "AwsCloudTrailInsight",
            EventType::AwsConfigurationItem => "AwsConfigurationItem",
            EventType::AwsAuditManagerEvidence => "AwsAuditManagerEvidence",
            EventType::ActivityLog => "ActivityLog",
        }
    }

    /// Parses the record spelling.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

impl Record {
    /// The record as compact JSON bytes, as written to journals and log files.
    pub fn to_json_vec(&self) -> Vec<u8> {
        // Serialising a tree of strings, numbers and maps cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// The record's category, when it names a known one.
    pub fn category(&self) -> Option<EventCategory> {
        self.event_category
            .as_deref()
            .and_then(EventCategory::parse)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A record shaped like a real AWS AssumeRole event, with members this crate does not model.
    fn real_world() -> Value {
        json!({
            "eventVersion": "1.08",
            "userIdentity": {
                "type": "AssumedRole",
                "principalId": "AROAEXAMPLE:session",
                "arn": "arn:aws:sts::123456789012:assumed-role/Admin/session",
                "accountId": "123456789012",
                "accessKeyId": "ASIAEXAMPLE",
                "sessionContext": {
                    "sessionIssuer": {"type": "Role", "principalId": "AROAEXAMPLE",
                        "arn": "arn:aws:iam::123456789012:role/Admin", "accountId": "123456789012",
                        "userName": "Admin"},
                    "webIdFederationData": {},
                    "attributes": {"creationDate": "2021-02-21T23:46:28Z", "mfaAuthenticated": "false"},
                    "futureMember": [1, 2.5, null]
                }
            },
            "eventTime": "2021-02-22T00:01:02Z",
            "eventSource": "sts.amazonaws.com",
            "eventName": "AssumeRole",
            "awsRegion": "us-east-1",
            "sourceIPAddress": "203.0.113.7",
            "userAgent": "aws-cli/2.1.0",
            "requestParameters": {"roleArn": "arn:aws:iam::123456789012:role/Admin", "durationSeconds": 3600},
            "responseElements": null,
            "additionalEventData": {"x": 1},
            "requestID": "9c4a...",
            "eventID": "4b1f...",
            "readOnly": true,
            "resources": [{"ARN": "arn:aws:iam::123456789012:role/Admin", "accountId": "123456789012",
                "type": "AWS::IAM::Role"}],
            "eventType": "AwsApiCall",
            "managementEvent": true,
            "recipientAccountId": "123456789012",
            "eventCategory": "Management",
            "tlsDetails": {"tlsVersion": "TLSv1.2", "cipherSuite": "ECDHE-RSA-AES128-GCM-SHA256",
                "clientProvidedHostHeader": "sts.amazonaws.com"},
            "sessionCredentialFromConsole": "true",
            "someNewTopLevelMember": {"deep": [true]}
        })
    }

    #[test]
    fn real_record_round_trips_as_the_same_json_value() {
        let original = real_world();
        let record: Record = serde_json::from_value(original.clone()).expect("parses");
        assert_eq!(record.event_name.as_deref(), Some("AssumeRole"));
        assert_eq!(record.response_elements, Some(Value::Null));
        assert!(record.extra.contains_key("someNewTopLevelMember"));
        let back: Value = serde_json::from_slice(&record.to_json_vec()).expect("json");
        assert_eq!(back, original);
    }

    #[test]
    fn a_member_with_an_unexpected_type_is_kept_verbatim() {
        let original = json!({"eventVersion": "1.05", "readOnly": "true", "errorCode": null,
            "resources": [{"ARN": 7}]});
        let record: Record = serde_json::from_value(original.clone()).expect("parses");
        assert_eq!(record.read_only, None);
        assert_eq!(record.extra.get("readOnly"), Some(&json!("true")));
        let back: Value = serde_json::from_slice(&record.to_json_vec()).expect("json");
        assert_eq!(back, original);
    }

    #[test]
    fn members_serialise_in_aws_order() {
        let record = Record {
            event_version: Some(EVENT_VERSION.into()),
            event_time: Some("2026-01-01T00:00:00Z".into()),
            event_id: Some("e".into()),
            request_id: Some("r".into()),
            ..Default::default()
        };
        let text = String::from_utf8(record.to_json_vec()).expect("utf8");
        assert_eq!(
            text,
            r#"{"eventVersion":"1.11","eventTime":"2026-01-01T00:00:00Z","requestID":"r","eventID":"e"}"#
        );
    }

    #[test]
    fn categories_and_types_parse_their_own_names() {
        for c in EventCategory::ALL {
            assert_eq!(EventCategory::parse(c.as_str()), Some(c));
        }
        for t in EventType::ALL {
            assert_eq!(EventType::parse(t.as_str()), Some(t));
        }
        assert_eq!(EventCategory::parse("management"), None);
    }
}
