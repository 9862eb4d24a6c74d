//! The trails crate's error type; each variant is one AWS exception.

use thiserror::Error;

/// Why a trail operation failed. The server maps each variant to the AWS exception named in
/// its documentation, with this message.
#[derive(Debug, Error)]
pub enum TrailError {
    /// `TrailNotFoundException`.
    #[error("Unknown trail: {arn} for the user: {account}")]
    NotFound {
        /// The trail ARN as understood.
        arn: String,
        /// The caller's account.
        account: String,
    },
    /// `TrailAlreadyExistsException`.
    #[error("Trail {name} already exists for customer: {account}")]
    AlreadyExists {
        /// Trail name.
        name: String,
        /// Account.
        account: String,
    },
    /// `MaximumNumberOfTrailsExceededException`.
    #[error("User: {account} already has 5 trails in {region}.")]
    MaxTrails {
        /// Account.
        account: String,
        /// Region.
        region: String,
    },
    /// `InvalidTrailNameException`.
    #[error("{0}")]
    InvalidName(String),
    /// `InvalidS3BucketNameException`.
    #[error("{0}")]
    InvalidBucketName(String),
    /// `S3BucketDoesNotExistException`.
    #[error("S3 bucket {0} does not exist.")]
    BucketDoesNotExist(String),
    /// `InsufficientS3BucketPolicyException`.
    #[error("Incorrect S3 bucket policy is detected for bucket: {0}")]
    InsufficientBucketPolicy(String),
    /// `InvalidS3PrefixException`.
    #[error("{0}")]
    InvalidPrefix(String),
    /// `InvalidSnsTopicNameException`.
    #[error("{0}")]
    InvalidSnsTopicName(String),
    /// `InsufficientSnsTopicPolicyException`.
    #[error("{0}")]
    InsufficientSnsTopicPolicy(String),
    /// `InvalidKmsKeyIdException`.
    #[error("{0}")]
    InvalidKmsKeyId(String),
    /// `KmsException`: the key exists but cannot be used (disabled), or KMS failed.
    #[error("{0}")]
    Kms(String),
    /// `KmsKeyNotFoundException`.
    #[error("{0}")]
    KmsKeyNotFound(String),
    /// `InvalidCloudWatchLogsLogGroupArnException`.
    #[error("{0}")]
    InvalidLogGroupArn(String),
    /// `InvalidCloudWatchLogsRoleArnException`.
    #[error("{0}")]
    InvalidLogsRoleArn(String),
    /// `CloudWatchLogsDeliveryUnavailableException`.
    #[error("{0}")]
    CloudWatchLogsUnavailable(String),
    /// `InvalidParameterCombinationException`.
    #[error("{0}")]
    InvalidParameterCombination(String),
    /// `InvalidHomeRegionException`.
    #[error("This operation must be called from the trail's home region, {0}.")]
    InvalidHomeRegion(String),
    /// `CloudTrailARNInvalidException`.
    #[error("{0}")]
    ArnInvalid(String),
    /// `InvalidEventSelectorsException`.
    #[error("{0}")]
    InvalidEventSelectors(String),
    /// `InvalidInsightSelectorsException`.
    #[error("{0}")]
    InvalidInsightSelectors(String),
    /// `InsightNotEnabledException`.
    #[error("Trail {0} does not have Insights enabled.")]
    InsightNotEnabled(String),
    /// `OrganizationsNotInUseException`.
    #[error(
        "This account is not part of an organization: declare one under [organization] in the configuration to create organization trails."
    )]
    OrganizationsNotInUse,
    /// `NotOrganizationMasterAccountException`.
    #[error(
        "The account {0} is not the management account of the organization; only the management account can create or update organization trails."
    )]
    NotOrganizationMasterAccount(String),
    /// `InvalidTagParameterException`.
    #[error("{0}")]
    InvalidTagParameter(String),
    /// `TagsLimitExceededException`.
    #[error("{0}")]
    TagsLimitExceeded(String),
    /// `ResourceNotFoundException`.
    #[error("{0}")]
    ResourceNotFound(String),
    /// `UnsupportedOperationException`.
    #[error("{0}")]
    Unsupported(String),
    /// The catalog failed.
    #[error(transparent)]
    Catalog(#[from] opentrail_catalog::CatalogError),
    /// Storage failed while checking a bucket.
    #[error(transparent)]
    Store(#[from] opentrail_store::StoreError),
    /// The journal failed.
    #[error(transparent)]
    Journal(#[from] opentrail_journal::JournalError),
    /// A notification topic of the configuration cannot be used.
    #[error("SNS topic {topic}: {reason}")]
    Topic {
        /// The topic.
        topic: String,
        /// What is wrong.
        reason: String,
    },
    /// A file of the delivery state failed.
    #[error("trail delivery state {path}: {source}")]
    State {
        /// The file.
        path: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

impl TrailError {
    /// The AWS exception name.
    pub fn code(&self) -> &'static str {
        use TrailError::*;
        match self {
            NotFound { .. } => "TrailNotFoundException",
            AlreadyExists { .. } => "TrailAlreadyExistsException",
            MaxTrails { .. } => "MaximumNumberOfTrailsExceededException",
            InvalidName(_) => "InvalidTrailNameException",
            InvalidBucketName(_) => "InvalidS3BucketNameException",
            BucketDoesNotExist(_) => "S3BucketDoesNotExistException",
            InsufficientBucketPolicy(_) => "InsufficientS3BucketPolicyException",
            InvalidPrefix(_) => "InvalidS3PrefixException",
            InvalidSnsTopicName(_) => "InvalidSnsTopicNameException",
            InsufficientSnsTopicPolicy(_) => "InsufficientSnsTopicPolicyException",
            InvalidKmsKeyId(_) => "InvalidKmsKeyIdException",
            KmsKeyNotFound(_) => "KmsKeyNotFoundException",
            Kms(_) => "KmsException",
            InvalidLogGroupArn(_) => "InvalidCloudWatchLogsLogGroupArnException",
            InvalidLogsRoleArn(_) => "InvalidCloudWatchLogsRoleArnException",
            CloudWatchLogsUnavailable(_) => "CloudWatchLogsDeliveryUnavailableException",
            InvalidParameterCombination(_) => "InvalidParameterCombinationException",
            InvalidHomeRegion(_) => "InvalidHomeRegionException",
            ArnInvalid(_) => "CloudTrailARNInvalidException",
            InvalidEventSelectors(_) => "InvalidEventSelectorsException",
            InvalidInsightSelectors(_) => "InvalidInsightSelectorsException",
            InsightNotEnabled(_) => "InsightNotEnabledException",
            OrganizationsNotInUse => "OrganizationsNotInUseException",
            NotOrganizationMasterAccount(_) => "NotOrganizationMasterAccountException",
            InvalidTagParameter(_) => "InvalidTagParameterException",
            TagsLimitExceeded(_) => "TagsLimitExceededException",
            ResourceNotFound(_) => "ResourceNotFoundException",
            Unsupported(_) => "UnsupportedOperationException",
            Catalog(_) | Store(_) | Journal(_) | State { .. } | Topic { .. } => "InternalFailure",
        }
    }
}
