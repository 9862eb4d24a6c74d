//! The KMS operations opentrail serves over its key registry: keys, aliases, enabling,
//! rotation, data keys, Encrypt and Decrypt. Trails name these keys in `KmsKeyId`, and the
//! embedded store seals objects with them.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use opentrail_kms::KmsError;
use opentrail_protocol::AwsError;
use serde::Deserialize;
use serde_json::{Value, json};

use super::ApiContext;

fn aws(e: KmsError) -> AwsError {
    if e.code() == "KMSInternalException" {
        tracing::error!(error = %e, "KMS operation failed");
    }
    AwsError::new(e.code(), e.to_string())
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct Input {
    key_id: Option<String>,
    description: Option<String>,
    key_usage: Option<String>,
    key_spec: Option<String>,
    customer_master_key_spec: Option<String>,
    origin: Option<String>,
    alias_name: Option<String>,
    target_key_id: Option<String>,
    rotation_period_in_days: Option<u32>,
    number_of_bytes: Option<u32>,
    plaintext: Option<String>,
    ciphertext_blob: Option<String>,
    limit: Option<usize>,
    marker: Option<String>,
}

fn required<'a>(v: &'a Option<String>, name: &str) -> Result<&'a str, AwsError> {
    v.as_deref()
        .ok_or_else(|| AwsError::new("ValidationException", format!("{name} is required.")))
}

fn blob(v: &Option<String>, name: &str) -> Result<Vec<u8>, AwsError> {
    B64.decode(required(v, name)?).map_err(|_| {
        AwsError::new(
            "SerializationException",
            format!("{name} is not valid base64."),
        )
    })
}

/// A page of `items` after `marker` (the index it encodes).
fn page<T>(
    items: Vec<T>,
    limit: Option<usize>,
    marker: Option<&str>,
) -> Result<(Vec<T>, Option<String>), AwsError> {
    let limit = limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(AwsError::new(
            "ValidationException",
            format!("Limit must be 1 to 1000; {limit} was given."),
        ));
    }
    let start = match marker {
        Some(m) => m
            .parse::<usize>()
            .map_err(|_| AwsError::new("InvalidMarkerException", "The Marker is not valid."))?,
        None => 0,
    };
    let total = items.len();
    let out: Vec<T> = items.into_iter().skip(start).take(limit).collect();
    let next = (start + out.len() < total).then(|| (start + out.len()).to_string());
    Ok((out, next))
}

/// Runs a KMS operation.
pub async fn dispatch(
    ctx: &ApiContext<'_>,
    operation: &str,
    input: Value,
) -> Result<Value, AwsError> {
    let i: Input = serde_json::from_value(input).map_err(|e| {
        AwsError::new(
            "SerializationException",
            format!("The request could not be read: {e}"),
        )
    })?;
    let reg = ctx.state.kms.clone();
    let region = ctx.caller.region.clone();
    let op = operation.to_owned();
    // Key material is sealed with AES-GCM and written with fsync: off the async threads.
    tokio::task::spawn_blocking(move || run(&reg, &region, &op, i))
        .await
        .map_err(|e| AwsError::internal(format!("KMS operation failed: {e}")))?
}

fn run(reg: &opentrail_kms::Registry, region: &str, op: &str, i: Input) -> Result<Value, AwsError> {
    let key = || required(&i.key_id, "KeyId");
    match op {
        "CreateKey" => {
            let symmetric = i
                .key_spec
                .as_deref()
                .or(i.customer_master_key_spec.as_deref())
                .is_none_or(|s| s == "SYMMETRIC_DEFAULT");
            if !symmetric
                || i.key_usage
                    .as_deref()
                    .is_some_and(|u| u != "ENCRYPT_DECRYPT")
                || i.origin.as_deref().is_some_and(|o| o != "AWS_KMS")
            {
                return Err(AwsError::new(
                    "UnsupportedOperationException",
                    "opentrail's key registry makes symmetric ENCRYPT_DECRYPT keys (SYMMETRIC_DEFAULT, origin AWS_KMS) only.",
                ));
            }
            let meta = reg
                .create_key(region, i.description.as_deref().unwrap_or_default())
                .map_err(aws)?;
            Ok(json!({"KeyMetadata": meta.to_json()}))
        }
        "DescribeKey" => {
            Ok(json!({"KeyMetadata": reg.describe(region, key()?).map_err(aws)?.to_json()}))
        }
        "ListKeys" => {
            let keys = reg.list_keys(region).map_err(aws)?;
            let (keys, next) = page(keys, i.limit, i.marker.as_deref())?;
            let mut out = json!({
                "Keys": keys.iter().map(|k| json!({"KeyId": k.key_id, "KeyArn": k.arn})).collect::<Vec<_>>(),
                "Truncated": next.is_some(),
            });
            if let Some(n) = next {
                out["NextMarker"] = json!(n);
            }
            Ok(out)
        }
        "EnableKey" | "DisableKey" => {
            reg.set_enabled(region, key()?, op == "EnableKey")
                .map_err(aws)?;
            Ok(json!({}))
        }
        "CreateAlias" => {
            reg.create_alias(
                region,
                required(&i.alias_name, "AliasName")?,
                required(&i.target_key_id, "TargetKeyId")?,
            )
            .map_err(aws)?;
            Ok(json!({}))
        }
        "UpdateAlias" => {
            reg.update_alias(
                region,
                required(&i.alias_name, "AliasName")?,
                required(&i.target_key_id, "TargetKeyId")?,
            )
            .map_err(aws)?;
            Ok(json!({}))
        }
        "DeleteAlias" => {
            reg.delete_alias(region, required(&i.alias_name, "AliasName")?)
                .map_err(aws)?;
            Ok(json!({}))
        }
        "ListAliases" => {
            let aliases = reg.list_aliases(region, i.key_id.as_deref()).map_err(aws)?;
            let (aliases, next) = page(aliases, i.limit, i.marker.as_deref())?;
            let mut out = json!({
                "Aliases": aliases.iter().map(|a| json!({
                    "AliasName": a.name,
                    "AliasArn": reg.alias_arn(&a.region, &a.name),
                    "TargetKeyId": a.target_key_id,
                    "CreationDate": a.created,
                    "LastUpdatedDate": a.updated,
                })).collect::<Vec<_>>(),
                "Truncated": next.is_some(),
            });
            if let Some(n) = next {
                out["NextMarker"] = json!(n);
            }
            Ok(out)
        }
        "EnableKeyRotation" | "DisableKeyRotation" => {
            reg.set_rotation(
                region,
                key()?,
                op == "EnableKeyRotation",
                i.rotation_period_in_days,
            )
            .map_err(aws)?;
            Ok(json!({}))
        }
        "GetKeyRotationStatus" => {
            let m = reg.describe(region, key()?).map_err(aws)?;
            let mut out = json!({
                "KeyId": m.arn,
                "KeyRotationEnabled": m.rotation_enabled,
            });
            if m.rotation_enabled {
                out["RotationPeriodInDays"] = json!(m.rotation_period_days);
                out["NextRotationDate"] =
                    json!(m.last_rotated + i64::from(m.rotation_period_days) * 86_400);
            }
            Ok(out)
        }
        "RotateKeyOnDemand" => {
            let m = reg.rotate(region, key()?).map_err(aws)?;
            Ok(json!({"KeyId": m.key_id}))
        }
        "GenerateDataKey" => {
            let size_ok = match (i.key_spec.as_deref(), i.number_of_bytes) {
                (Some("AES_256"), None) | (None, Some(32)) => true,
                (None, None) => {
                    return Err(AwsError::new(
                        "ValidationException",
                        "Specify KeySpec or NumberOfBytes.",
                    ));
                }
                _ => false,
            };
            if !size_ok {
                return Err(AwsError::new(
                    "ValidationException",
                    "opentrail makes 256-bit data keys: KeySpec AES_256 or NumberOfBytes 32.",
                ));
            }
            let (plain, blob, arn) = reg.generate_data_key(region, key()?).map_err(aws)?;
            Ok(
                json!({"CiphertextBlob": B64.encode(blob), "Plaintext": B64.encode(plain), "KeyId": arn}),
            )
        }
        "Encrypt" => {
            let (blob, arn) = reg
                .encrypt(region, key()?, &blob(&i.plaintext, "Plaintext")?)
                .map_err(aws)?;
            Ok(
                json!({"CiphertextBlob": B64.encode(blob), "KeyId": arn, "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}),
            )
        }
        "Decrypt" => {
            let (plain, arn) = reg
                .decrypt(&blob(&i.ciphertext_blob, "CiphertextBlob")?)
                .map_err(aws)?;
            if let Some(k) = &i.key_id {
                let named = reg.describe(region, k).map_err(aws)?;
                if named.arn != arn {
                    return Err(AwsError::new(
                        "IncorrectKeyException",
                        format!(
                            "The ciphertext was encrypted under {arn}, not {}.",
                            named.arn
                        ),
                    ));
                }
            }
            Ok(
                json!({"Plaintext": B64.encode(plain), "KeyId": arn, "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}),
            )
        }
        _ => Err(AwsError::new(
            opentrail_protocol::awsjson::codes::UNSUPPORTED_OPERATION,
            format!("opentrail's key registry does not serve KMS {op}."),
        )),
    }
}
