//! `userIdentity`: who made a request, in the shapes AWS writes for each identity type.

use crate::arn;

lenient_struct! {
    /// The `userIdentity` member of a record.
    pub struct UserIdentity {
        /// `Root`, `IAMUser`, `AssumedRole`, `Role`, `FederatedUser`, `AWSService`, `Unknown`, ...
        "type" => identity_type: String,
        /// Unique id of the principal (`AIDA...` for users, `AROA...:session` for roles).
        "principalId" => principal_id: String,
        /// ARN of the principal.
        "arn" => arn: String,
        /// Account that owns the principal.
        "accountId" => account_id: String,
        /// Access key used to sign the request (may be empty).
        "accessKeyId" => access_key_id: String,
        /// Friendly name of the user (IAM users, root with an alias).
        "userName" => user_name: String,
        /// The service that made the request on the principal's behalf.
        "invokedBy" => invoked_by: String,
        /// SAML or web identity provider.
        "identityProvider" => identity_provider: String,
        /// IAM Identity Center credential id.
        "credentialId" => credential_id: String,
        /// Details of temporary credentials.
        "sessionContext" => session_context: SessionContext,
        /// IAM Identity Center user the call was made for.
        "onBehalfOf" => on_behalf_of: serde_json::Value,
    }
}

lenient_struct! {
    /// `userIdentity.sessionContext`.
    pub struct SessionContext {
        /// Session creation time and MFA state.
        "attributes" => attributes: SessionAttributes,
        /// The role or user the temporary credentials were issued from.
        "sessionIssuer" => session_issuer: SessionIssuer,
        /// Web identity federation details.
        "webIdFederationData" => web_id_federation_data: serde_json::Value,
        /// Source identity set on the session.
        "sourceIdentity" => source_identity: String,
        /// IMDS version for EC2 role credentials.
        "ec2RoleDelivery" => ec2_role_delivery: String,
        /// VPC id when EC2 credentials were issued in a VPC.
        "ec2IssuedInVPC" => ec2_issued_in_vpc: String,
        /// Whether the session is an assumed root session.
        "assumedRoot" => assumed_root: String,
    }
}

lenient_struct! {
    /// `sessionContext.attributes`.
    pub struct SessionAttributes {
        /// ISO time the credentials were issued.
        "creationDate" => creation_date: String,
        /// `"true"` or `"false"`.
        "mfaAuthenticated" => mfa_authenticated: String,
    }
}

lenient_struct! {
    /// `sessionContext.sessionIssuer`.
    pub struct SessionIssuer {
        /// `Role`, `IAMUser`, `Root`.
        "type" => issuer_type: String,
        /// Id of the issuer.
        "principalId" => principal_id: String,
        /// ARN of the issuer.
        "arn" => arn: String,
        /// Owning account.
        "accountId" => account_id: String,
        /// Friendly name of the issuer.
        "userName" => user_name: String,
    }
}

impl UserIdentity {
    /// The account root user, signing with `access_key_id`.
    pub fn root(account_id: &str, access_key_id: &str) -> Self {
        UserIdentity {
            identity_type: Some("Root".into()),
            principal_id: Some(account_id.into()),
            arn: Some(arn::root(account_id)),
            account_id: Some(account_id.into()),
            access_key_id: Some(access_key_id.into()),
            ..Default::default()
        }
    }

    /// An IAM user with a long-term access key.
    pub fn iam_user(account_id: &str, user_name: &str, access_key_id: &str) -> Self {
        UserIdentity {
            identity_type: Some("IAMUser".into()),
            principal_id: Some(crate::ids::principal_id("AIDA", account_id, user_name)),
            arn: Some(arn::iam_user(account_id, user_name)),
            account_id: Some(account_id.into()),
            access_key_id: Some(access_key_id.into()),
            user_name: Some(user_name.into()),
            ..Default::default()
        }
    }

    /// A caller whose credentials could not be attributed to any principal.
    pub fn unknown(access_key_id: Option<&str>) -> Self {
        UserIdentity {
            identity_type: Some("Unknown".into()),
            principal_id: Some(String::new()),
            access_key_id: access_key_id.map(str::to_owned),
            ..Default::default()
        }
    }

    /// The name event history shows in its `Username` column.
    ///
    /// AWS derives it from the identity type: the IAM user name, the role session name of an
    /// assumed role, `root` for the root user (or its alias when logged), the federated user's
    /// name, and the invoking service for service calls.
    pub fn username(&self) -> Option<String> {
        username_of(
            self.identity_type.as_deref()?,
            self.user_name.as_deref(),
            self.arn.as_deref(),
            self.invoked_by.as_deref(),
        )
    }
}

/// [`UserIdentity::username`] from borrowed parts, for readers that do not build a
/// [`UserIdentity`] (the history index parses records through a borrowed view).
pub fn username_of(
    identity_type: &str,
    user_name: Option<&str>,
    arn: Option<&str>,
    invoked_by: Option<&str>,
) -> Option<String> {
    let tail = || arn.and_then(|a| a.rsplit('/').next()).map(str::to_owned);
    match identity_type {
        "IAMUser" | "Root" | "IdentityCenterUser" | "Directory" | "SAMLUser"
        | "WebIdentityUser"
            if user_name.is_some() =>
        {
            user_name.map(str::to_owned)
        }
        "Root" => Some("root".into()),
        "AssumedRole" | "FederatedUser" | "IAMUser" => tail(),
        "AWSService" => invoked_by.map(str::to_owned),
        _ => user_name.map(str::to_owned).or_else(tail),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constructors_produce_aws_shapes() {
        let root = UserIdentity::root("123456789012", "AKIAROOT");
        let v = serde_json::to_value(&root).expect("json");
        assert_eq!(
            v,
            serde_json::json!({"type":"Root","principalId":"123456789012",
                "arn":"arn:aws:iam::123456789012:root","accountId":"123456789012",
                "accessKeyId":"AKIAROOT"})
        );
        let user = UserIdentity::iam_user("123456789012", "alice", "AKIAALICE");
        assert_eq!(
            user.arn.as_deref(),
            Some("arn:aws:iam::123456789012:user/alice")
        );
        assert!(
            user.principal_id
                .as_deref()
                .is_some_and(|p| p.starts_with("AIDA") && p.len() == 21)
        );
    }

    #[test]
    fn usernames_follow_the_identity_type() {
        assert_eq!(
            UserIdentity::root("1", "k").username().as_deref(),
            Some("root")
        );
        assert_eq!(
            UserIdentity::iam_user("123456789012", "bob", "k")
                .username()
                .as_deref(),
            Some("bob")
        );
        let role = UserIdentity {
            identity_type: Some("AssumedRole".into()),
            arn: Some("arn:aws:sts::123456789012:assumed-role/Admin/jane".into()),
            ..Default::default()
        };
        assert_eq!(role.username().as_deref(), Some("jane"));
        let svc = UserIdentity {
            identity_type: Some("AWSService".into()),
            invoked_by: Some("lambda.amazonaws.com".into()),
            ..Default::default()
        };
        assert_eq!(svc.username().as_deref(), Some("lambda.amazonaws.com"));
    }
}
