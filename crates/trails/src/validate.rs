//! Input rules of the trail API, with AWS's messages.

use crate::TrailError;

/// Trail name rules: 3-128 characters of letters, digits, `.`, `_`, `-`; starting and ending
/// with a letter or digit; no adjacent `.`, `_`, `-`; not an IP address.
pub fn validate_trail_name(name: &str) -> Result<(), TrailError> {
    let bad = |m: String| Err(TrailError::InvalidName(m));
    let n = name.chars().count();
    if n < 3 {
        return bad(format!(
            "Trail name too short. Minimum allowed length: 3 characters. Specified name length: {n} characters."
        ));
    }
    if n > 128 {
        return bad(format!(
            "Trail name too long. Maximum allowed length: 128 characters. Specified name length: {n} characters."
        ));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        return bad("Trail name or ARN can only contain uppercase letters, lowercase letters, numbers, periods (.), hyphens (-), and underscores (_).".into());
    }
    let b = name.as_bytes();
    if !b[0].is_ascii_alphanumeric() {
        return bad("Trail name must starts with a letter or number.".into());
    }
    if !b[b.len() - 1].is_ascii_alphanumeric() {
        return bad("Trail name must ends with a letter or number.".into());
    }
    if b.windows(2)
        .any(|w| !w[0].is_ascii_alphanumeric() && !w[1].is_ascii_alphanumeric())
    {
        return bad(
            "Trail name cannot have adjacent periods (.), hyphens (-) or underscores (_).".into(),
        );
    }
    if name.parse::<std::net::Ipv4Addr>().is_ok() {
        return bad("Trail name cannot be formatted as an IP address.".into());
    }
    Ok(())
}

/// `S3KeyPrefix`: at most 200 characters.
pub fn validate_prefix(prefix: &str) -> Result<(), TrailError> {
    if prefix.chars().count() > 200 {
        return Err(TrailError::InvalidPrefix(format!(
            "Prefix is too long: {} characters; the maximum is 200.",
            prefix.chars().count()
        )));
    }
    Ok(())
}

/// `KmsKeyId`: a key ARN, alias ARN, key id or alias name. Returns the full ARN form.
pub fn validate_kms_key_id(id: &str, region: &str, account: &str) -> Result<String, TrailError> {
    opentrail_kms::key_id_to_arn(id, region, account).ok_or_else(|| {
        TrailError::InvalidKmsKeyId(format!(
            "KMS key {id:?} is not a valid key ARN, alias ARN, key id or alias name."
        ))
    })
}

/// Checks CloudWatch Logs settings. opentrail does not deliver to CloudWatch Logs, so valid
/// settings are refused as unavailable rather than stored and silently ignored.
pub fn validate_cloudwatch(group: Option<&str>, role: Option<&str>) -> Result<(), TrailError> {
    match (group, role) {
        (None, None) => Ok(()),
        (None, Some(_)) => Err(TrailError::InvalidParameterCombination(
            "You must specify a log group and a role ARN together.".into(),
        )),
        (Some(g), r) => {
            let group_ok =
                g.starts_with("arn:") && g.contains(":logs:") && g.contains(":log-group:");
            if !group_ok {
                return Err(TrailError::InvalidLogGroupArn(format!(
                    "CloudWatch Logs log group ARN {g:?} is not valid."
                )));
            }
            let Some(r) = r else {
                return Err(TrailError::InvalidParameterCombination(
                    "You must specify a log group and a role ARN together.".into(),
                ));
            };
            if !(r.starts_with("arn:") && r.contains(":iam::") && r.contains(":role/")) {
                return Err(TrailError::InvalidLogsRoleArn(format!(
                    "CloudWatch Logs role ARN {r:?} is not valid."
                )));
            }
            Err(TrailError::CloudWatchLogsUnavailable(
                "opentrail does not deliver to CloudWatch Logs; route events with an SNS topic or read the log files instead.".into(),
            ))
        }
    }
}

/// SNS topic name rules: 1-256 of letters, digits, `-`, `_` (or an SNS topic ARN).
pub fn sns_topic_name(name_or_arn: &str) -> Result<String, TrailError> {
    let name = if name_or_arn.starts_with("arn:") {
        let parts: Vec<&str> = name_or_arn.splitn(6, ':').collect();
        if parts.len() != 6 || parts[2] != "sns" {
            return Err(TrailError::InvalidSnsTopicName(format!(
                "{name_or_arn:?} is not a valid SNS topic ARN."
            )));
        }
        parts[5]
    } else {
        name_or_arn
    };
    if name.is_empty()
        || name.len() > 256
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(TrailError::InvalidSnsTopicName(format!(
            "SNS topic name {name:?} is not valid: use 1 to 256 letters, digits, hyphens and underscores."
        )));
    }
    Ok(name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trail_names_follow_aws_rules() {
        for ok in ["abc", "my-trail_1.prod", "A1", "x".repeat(128).as_str()] {
            if ok.len() >= 3 {
                validate_trail_name(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
            }
        }
        let msg = |n: &str| validate_trail_name(n).expect_err(n).to_string();
        assert!(msg("ab").contains("too short"));
        assert!(msg(&"x".repeat(129)).contains("too long"));
        assert!(msg("bad name").contains("can only contain"));
        assert!(msg("-abc").contains("starts with"));
        assert!(msg("abc_").contains("ends with"));
        assert!(msg("a..b").contains("adjacent"));
        assert!(msg("a-_b").contains("adjacent"));
        assert!(msg("10.0.0.1").contains("IP address"));
    }

    #[test]
    fn kms_ids_normalise_to_arns() {
        assert_eq!(
            validate_kms_key_id("alias/logs", "eu-west-1", "1").expect("ok"),
            "arn:aws:kms:eu-west-1:1:alias/logs"
        );
        let id = "12345678-1234-1234-1234-123456789012";
        assert_eq!(
            validate_kms_key_id(id, "r", "1").expect("ok"),
            format!("arn:aws:kms:r:1:key/{id}")
        );
        for bad in ["", "alias/aws/s3", "arn:aws:s3:::b", "nope", "alias/"] {
            assert!(validate_kms_key_id(bad, "r", "1").is_err(), "{bad}");
        }
    }

    #[test]
    fn cloudwatch_and_sns_settings_are_checked() {
        validate_cloudwatch(None, None).expect("none");
        assert!(matches!(
            validate_cloudwatch(None, Some("arn:aws:iam::1:role/r")),
            Err(TrailError::InvalidParameterCombination(_))
        ));
        assert!(matches!(
            validate_cloudwatch(Some("group"), Some("arn:aws:iam::1:role/r")),
            Err(TrailError::InvalidLogGroupArn(_))
        ));
        assert!(matches!(
            validate_cloudwatch(Some("arn:aws:logs:us-east-1:1:log-group:g:*"), Some("role")),
            Err(TrailError::InvalidLogsRoleArn(_))
        ));
        assert!(matches!(
            validate_cloudwatch(
                Some("arn:aws:logs:us-east-1:1:log-group:g:*"),
                Some("arn:aws:iam::1:role/r")
            ),
            Err(TrailError::CloudWatchLogsUnavailable(_))
        ));
        assert_eq!(
            sns_topic_name("arn:aws:sns:us-east-1:1:alerts").expect("arn"),
            "alerts"
        );
        assert!(sns_topic_name("bad topic").is_err());
        validate_prefix(&"p".repeat(200)).expect("200 is fine");
        assert!(validate_prefix(&"p".repeat(201)).is_err());
    }
}
