//! The AWS service models (from botocore, documentation stripped) and what the server does
//! with them: know every operation, check a request's JSON types and required members before
//! any handler sees it, and render request parameters the way CloudTrail records them.
//!
//! `scripts/gen-service-models.py` regenerates the embedded files from an installed botocore.

use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::ProtocolError;
use crate::awsjson::{AwsError, codes};

const CLOUDTRAIL_JSON: &str = include_str!("../model/cloudtrail-2013-11-01.json");
const CLOUDTRAIL_DATA_JSON: &str = include_str!("../model/cloudtrail-data-2021-08-11.json");
const KMS_JSON: &str = include_str!("../model/kms-2014-11-01.json");
const ORGANIZATIONS_JSON: &str = include_str!("../model/organizations-2016-11-28.json");

/// One service model.
#[derive(Debug, Deserialize)]
pub struct ServiceModel {
    /// Service metadata (`targetPrefix`, `signingName`, `protocol`, ...).
    pub metadata: Metadata,
    /// Operations by name.
    pub operations: BTreeMap<String, Operation>,
    shapes: HashMap<String, Shape>,
}

/// The parts of a model's metadata opentrail uses.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    /// e.g. `2013-11-01`.
    pub api_version: String,
    /// e.g. `json`, `rest-json`.
    pub protocol: String,
    /// JSON 1.x target prefix.
    #[serde(default)]
    pub target_prefix: Option<String>,
    /// SigV4 service name when it differs from the endpoint prefix.
    #[serde(default)]
    pub signing_name: Option<String>,
    /// Endpoint prefix, e.g. `cloudtrail`.
    pub endpoint_prefix: String,
}

/// One operation.
#[derive(Debug, Deserialize)]
pub struct Operation {
    /// Its name.
    pub name: String,
    /// Input shape.
    #[serde(default)]
    pub input: Option<ShapeRef>,
    /// Output shape.
    #[serde(default)]
    pub output: Option<ShapeRef>,
    /// Modelled errors.
    #[serde(default)]
    pub errors: Vec<ShapeRef>,
}

/// A reference to a shape by name.
#[derive(Debug, Deserialize)]
pub struct ShapeRef {
    /// The shape's name.
    pub shape: String,
    /// REST binding (`querystring`, `header`, ...), for REST protocols.
    #[serde(default)]
    pub location: Option<String>,
    /// Name on the wire when it differs from the member name.
    #[serde(default, rename = "locationName")]
    pub location_name: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Shape {
    #[serde(rename = "type")]
    ty: String,
    #[serde(default)]
    members: BTreeMap<String, ShapeRef>,
    #[serde(default)]
    required: Vec<String>,
    #[serde(default)]
    member: Option<ShapeRef>,
    #[serde(default)]
    value: Option<ShapeRef>,
    #[serde(default)]
    exception: bool,
}

static CLOUDTRAIL: OnceLock<ServiceModel> = OnceLock::new();
static CLOUDTRAIL_DATA: OnceLock<ServiceModel> = OnceLock::new();
static KMS: OnceLock<ServiceModel> = OnceLock::new();
static ORGANIZATIONS: OnceLock<ServiceModel> = OnceLock::new();

fn load(name: &'static str, text: &str) -> Result<ServiceModel, ProtocolError> {
    serde_json::from_str(text).map_err(|e| ProtocolError::Model {
        name,
        reason: e.to_string(),
    })
}

/// The CloudTrail control-plane model (`cloudtrail` 2013-11-01).
pub fn cloudtrail() -> &'static ServiceModel {
    CLOUDTRAIL.get_or_init(|| {
        // The file is embedded at build time and covered by tests, so it always parses.
        load("cloudtrail", CLOUDTRAIL_JSON).unwrap_or_else(|e| panic!("{e}"))
    })
}

/// The CloudTrail data-plane model (`cloudtrail-data` 2021-08-11).
pub fn cloudtrail_data() -> &'static ServiceModel {
    CLOUDTRAIL_DATA.get_or_init(|| {
        load("cloudtrail-data", CLOUDTRAIL_DATA_JSON).unwrap_or_else(|e| panic!("{e}"))
    })
}

/// The KMS model (`kms` 2014-11-01), trimmed to the key registry operations opentrail serves.
pub fn kms() -> &'static ServiceModel {
    KMS.get_or_init(|| load("kms", KMS_JSON).unwrap_or_else(|e| panic!("{e}")))
}

/// The Organizations model, trimmed to DescribeOrganization (which `validate-logs` calls for
/// organization trails).
pub fn organizations() -> &'static ServiceModel {
    ORGANIZATIONS
        .get_or_init(|| load("organizations", ORGANIZATIONS_JSON).unwrap_or_else(|e| panic!("{e}")))
}

/// Whether an operation only reads (AWS records `readOnly: true` for these).
pub fn is_read_only(operation: &str) -> bool {
    ["Get", "List", "Describe", "Lookup", "Search"]
        .iter()
        .any(|p| operation.starts_with(p))
}

impl ServiceModel {
    /// The operation named `name`, if the service has it.
    pub fn operation(&self, name: &str) -> Option<&Operation> {
        self.operations.get(name)
    }

    /// Whether `name` is one of the service's exception shapes.
    pub fn is_exception(&self, name: &str) -> bool {
        self.shapes.get(name).is_some_and(|s| s.exception)
    }

    /// Every exception shape name.
    pub fn exceptions(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self
            .shapes
            .iter()
            .filter(|(_, s)| s.exception)
            .map(|(n, _)| n.as_str())
            .collect();
        v.sort_unstable();
        v
    }

    /// Checks a JSON 1.1 request body against the operation's input shape: JSON types
    /// (`SerializationException`) and required members (`ValidationException`, with every
    /// violation listed as AWS does). Value constraints (lengths, ranges, enums) carry
    /// operation-specific exceptions in CloudTrail and are checked by each handler.
    pub fn check_input(&self, operation: &str, body: &Value) -> Result<(), AwsError> {
        let Some(op) = self.operation(operation) else {
            return Err(AwsError::new(
                codes::UNKNOWN_OPERATION,
                format!("Unknown operation {operation}"),
            ));
        };
        if !body.is_object() {
            return Err(AwsError::new(
                codes::SERIALIZATION,
                "The request body must be a JSON object",
            ));
        }
        let Some(input) = &op.input else {
            return Ok(());
        };
        let mut missing = Vec::new();
        self.check_value(&input.shape, body, "", &mut missing)?;
        if missing.is_empty() {
            return Ok(());
        }
        let n = missing.len();
        let detail: Vec<String> = missing
            .iter()
            .map(|p| {
                format!("Value null at '{p}' failed to satisfy constraint: Member must not be null")
            })
            .collect();
        Err(AwsError::new(
            codes::VALIDATION,
            format!(
                "{n} validation error{} detected: {}",
                if n == 1 { "" } else { "s" },
                detail.join("; ")
            ),
        ))
    }

    fn check_value(
        &self,
        shape_name: &str,
        v: &Value,
        path: &str,
        missing: &mut Vec<String>,
    ) -> Result<(), AwsError> {
        let Some(shape) = self.shapes.get(shape_name) else {
            return Ok(());
        };
        let wrong = |expected: &str| {
            let found = match v {
                Value::Null => "null",
                Value::Bool(_) => "a boolean",
                Value::Number(_) => "a number",
                Value::String(_) => "a string",
                Value::Array(_) => "a list",
                Value::Object(_) => "an object",
            };
            let at = if path.is_empty() {
                "the request".to_owned()
            } else {
                format!("'{path}'")
            };
            Err(AwsError::new(
                codes::SERIALIZATION,
                format!("Expected {expected} at {at}, but found {found}"),
            ))
        };
        match shape.ty.as_str() {
            "structure" => {
                let Value::Object(obj) = v else {
                    return wrong("an object");
                };
                for req in &shape.required {
                    if obj.get(req).is_none_or(Value::is_null) {
                        missing.push(join(path, &lower_camel(req)));
                    }
                }
                for (name, member) in &shape.members {
                    if let Some(mv) = obj.get(name).filter(|mv| !mv.is_null()) {
                        self.check_value(
                            &member.shape,
                            mv,
                            &join(path, &lower_camel(name)),
                            missing,
                        )?;
                    }
                }
                Ok(())
            }
            "list" => {
                let Value::Array(items) = v else {
                    return wrong("a list");
                };
                if let Some(m) = &shape.member {
                    for (i, item) in items.iter().enumerate() {
                        if item.is_null() {
                            return wrong("a list element");
                        }
                        self.check_value(
                            &m.shape,
                            item,
                            &format!("{path}.{}.member", i + 1),
                            missing,
                        )?;
                    }
                }
                Ok(())
            }
            "map" => {
                let Value::Object(obj) = v else {
                    return wrong("an object");
                };
                if let Some(val) = &shape.value {
                    for (k, item) in obj {
                        self.check_value(&val.shape, item, &format!("{path}.{k}"), missing)?;
                    }
                }
                Ok(())
            }
            "string" | "blob" => match v {
                Value::String(_) => Ok(()),
                _ => wrong("a string"),
            },
            "boolean" => match v {
                Value::Bool(_) => Ok(()),
                _ => wrong("a boolean"),
            },
            "integer" | "long" => match v {
                Value::Number(n) if n.is_i64() || n.is_u64() => Ok(()),
                Value::Number(n) if n.as_f64().is_some_and(|f| f.fract() == 0.0) => Ok(()),
                _ => wrong("an integer"),
            },
            "double" | "float" => match v {
                Value::Number(_) => Ok(()),
                _ => wrong("a number"),
            },
            "timestamp" => match v {
                Value::Number(_) => Ok(()),
                _ => wrong("a timestamp (epoch seconds as a number)"),
            },
            _ => Ok(()),
        }
    }

    /// The request as CloudTrail writes it in a record's `requestParameters`: modelled members
    /// only, names in lowerCamel case, timestamps in AWS's `MMM d, yyyy, h:mm:ss a` form,
    /// `null` when nothing was sent.
    pub fn request_parameters(&self, operation: &str, body: &Value) -> Value {
        let shape = self
            .operation(operation)
            .and_then(|op| op.input.as_ref())
            .map(|i| i.shape.as_str());
        match shape {
            Some(s) => match self.render(s, body) {
                Value::Object(m) if m.is_empty() => Value::Null,
                v => v,
            },
            None => Value::Null,
        }
    }

    /// The response as CloudTrail writes it in `responseElements` (same rules).
    pub fn response_elements(&self, operation: &str, body: &Value) -> Value {
        let shape = self
            .operation(operation)
            .and_then(|op| op.output.as_ref())
            .map(|i| i.shape.as_str());
        match shape {
            Some(s) => match self.render(s, body) {
                Value::Object(m) if m.is_empty() => Value::Null,
                v => v,
            },
            None => Value::Null,
        }
    }

    fn render(&self, shape_name: &str, v: &Value) -> Value {
        let Some(shape) = self.shapes.get(shape_name) else {
            return v.clone();
        };
        match (shape.ty.as_str(), v) {
            ("structure", Value::Object(obj)) => {
                let mut out = Map::new();
                for (name, member) in &shape.members {
                    if let Some(mv) = obj.get(name).filter(|mv| !mv.is_null()) {
                        out.insert(lower_camel(name), self.render(&member.shape, mv));
                    }
                }
                Value::Object(out)
            }
            ("list", Value::Array(items)) => match &shape.member {
                Some(m) => Value::Array(items.iter().map(|i| self.render(&m.shape, i)).collect()),
                None => v.clone(),
            },
            ("map", Value::Object(obj)) => match &shape.value {
                Some(val) => Value::Object(
                    obj.iter()
                        .map(|(k, i)| (k.clone(), self.render(&val.shape, i)))
                        .collect(),
                ),
                None => v.clone(),
            },
            ("timestamp", Value::Number(n)) => n
                .as_f64()
                .and_then(|secs| chrono::DateTime::from_timestamp_millis((secs * 1000.0) as i64))
                .map(|t| Value::String(t.format("%b %-d, %Y, %-I:%M:%S %p").to_string()))
                .unwrap_or_else(|| v.clone()),
            _ => v.clone(),
        }
    }
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

/// `S3BucketName` → `s3BucketName`: how AWS writes API member names in records.
pub fn lower_camel(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn both_models_load_with_every_operation() {
        let ct = cloudtrail();
        assert_eq!(ct.operations.len(), 60);
        assert_eq!(
            ct.metadata.target_prefix.as_deref(),
            Some(crate::awsjson::CLOUDTRAIL_TARGET_PREFIX)
        );
        assert!(ct.is_exception("TrailNotFoundException"));
        assert!(!ct.is_exception("Trail"));
        assert!(ct.exceptions().len() >= 80);
        let data = cloudtrail_data();
        assert!(data.operation("PutAuditEvents").is_some());
        assert_eq!(
            data.metadata.signing_name.as_deref(),
            Some("cloudtrail-data")
        );
        let kms = kms();
        assert_eq!(kms.metadata.target_prefix.as_deref(), Some("TrentService"));
        assert!(
            kms.operation("GenerateDataKey").is_some() && kms.is_exception("NotFoundException")
        );
        let orgs = organizations();
        assert_eq!(
            orgs.metadata.target_prefix.as_deref(),
            Some("AWSOrganizationsV20161128")
        );
        assert!(orgs.is_exception("AWSOrganizationsNotInUseException"));
    }

    #[test]
    fn wrong_member_types_are_serialization_errors_naming_the_member() {
        let ct = cloudtrail();
        let err = ct
            .check_input("LookupEvents", &json!({"MaxResults": "5"}))
            .expect_err("type");
        assert_eq!(err.code, codes::SERIALIZATION);
        assert!(err.message.contains("'maxResults'"), "{}", err.message);
        let err = ct
            .check_input(
                "LookupEvents",
                &json!({"LookupAttributes": [{"AttributeKey": 1, "AttributeValue": "x"}]}),
            )
            .expect_err("type");
        assert!(
            err.message
                .contains("lookupAttributes.1.member.attributeKey"),
            "{}",
            err.message
        );
        let err = ct
            .check_input("LookupEvents", &json!({"StartTime": "2024-01-01"}))
            .expect_err("time");
        assert!(err.message.contains("timestamp"), "{}", err.message);
        assert_eq!(
            ct.check_input("ListTrails", &json!([1]))
                .expect_err("array")
                .code,
            codes::SERIALIZATION
        );
        ct.check_input(
            "LookupEvents",
            &json!({"StartTime": 1704067200.5, "MaxResults": 5, "Unknown": 1}),
        )
        .expect("valid");
    }

    #[test]
    fn missing_required_members_are_listed_like_aws() {
        let err = cloudtrail()
            .check_input("CreateTrail", &json!({"Name": null}))
            .expect_err("missing");
        assert_eq!(err.code, codes::VALIDATION);
        assert_eq!(
            err.message,
            "2 validation errors detected: Value null at 'name' failed to satisfy constraint: \
             Member must not be null; Value null at 's3BucketName' failed to satisfy constraint: \
             Member must not be null"
        );
    }

    #[test]
    fn request_parameters_use_lower_camel_names_and_aws_dates() {
        let ct = cloudtrail();
        let rp = ct.request_parameters(
            "LookupEvents",
            &json!({"LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": "X"}],
                    "StartTime": 1704067200.5, "MaxResults": 5, "NotModelled": true}),
        );
        assert_eq!(
            rp,
            json!({"lookupAttributes": [{"attributeKey": "EventName", "attributeValue": "X"}],
                   "startTime": "Jan 1, 2024, 12:00:00 AM", "maxResults": 5})
        );
        assert_eq!(ct.request_parameters("ListTrails", &json!({})), Value::Null);
        let dt = ct.request_parameters("DescribeTrails", &json!({"trailNameList": ["a"]}));
        assert_eq!(dt, json!({"trailNameList": ["a"]}));
    }

    #[test]
    fn read_only_operations_are_recognised() {
        for op in [
            "LookupEvents",
            "DescribeTrails",
            "GetTrail",
            "ListTags",
            "SearchSampleQueries",
        ] {
            assert!(is_read_only(op), "{op}");
        }
        for op in [
            "CreateTrail",
            "StartLogging",
            "PutEventSelectors",
            "AddTags",
            "StartQuery",
        ] {
            assert!(!is_read_only(op), "{op}");
        }
    }
}
