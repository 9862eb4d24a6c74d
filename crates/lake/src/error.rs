//! The lake crate's one error type: every variant is one AWS exception (or an internal
//! failure), so the server answers with the exception AWS would name.
//!
//! To add a failure, add a variant and its arm in [`LakeError::code`]; the compiler points at
//! the match when one is missing.

use thiserror::Error;

/// Why a CloudTrail Lake operation failed. The message is what the client sees.
#[derive(Debug, Error)]
pub enum LakeError {
    /// `EventDataStoreNotFoundException`.
    #[error("{0}")]
    EventDataStoreNotFound(String),
    /// `EventDataStoreARNInvalidException`.
    #[error("{0}")]
    EventDataStoreArnInvalid(String),
    /// `EventDataStoreAlreadyExistsException`.
    #[error("{0}")]
    EventDataStoreAlreadyExists(String),
    /// `EventDataStoreMaxLimitExceededException`.
    #[error("{0}")]
    EventDataStoreMaxLimitExceeded(String),
    /// `EventDataStoreTerminationProtectedException`.
    #[error("{0}")]
    EventDataStoreTerminationProtected(String),
    /// `InvalidEventDataStoreStatusException`: the store is not in a state that allows the
    /// operation.
    #[error("{0}")]
    InvalidEventDataStoreStatus(String),
    /// `InvalidEventDataStoreCategoryException`: the store's event category does not allow the
    /// operation.
    #[error("{0}")]
    InvalidEventDataStoreCategory(String),
    /// `InactiveEventDataStoreException`: the store is pending deletion.
    #[error("{0}")]
    InactiveEventDataStore(String),
    /// `InvalidEventSelectorsException`.
    #[error("{0}")]
    InvalidEventSelectors(String),
    /// `InvalidParameterException`.
    #[error("{0}")]
    InvalidParameter(String),
    /// `InvalidParameterCombinationException`.
    #[error("{0}")]
    InvalidParameterCombination(String),
    /// `InvalidMaxResultsException`.
    #[error("{0}")]
    InvalidMaxResults(String),
    /// `InvalidNextTokenException`.
    #[error("{0}")]
    InvalidNextToken(String),
    /// `InvalidTagParameterException`.
    #[error("{0}")]
    InvalidTagParameter(String),
    /// `TagsLimitExceededException`.
    #[error("{0}")]
    TagsLimitExceeded(String),
    /// `InvalidKmsKeyIdException`.
    #[error("{0}")]
    InvalidKmsKeyId(String),
    /// `KmsKeyNotFoundException`.
    #[error("{0}")]
    KmsKeyNotFound(String),
    /// `KmsException`: the key exists but cannot be used (disabled), or KMS failed.
    #[error("{0}")]
    Kms(String),
    /// `OrganizationsNotInUseException`.
    #[error("{0}")]
    OrganizationsNotInUse(String),
    /// `NotOrganizationMasterAccountException`.
    #[error("{0}")]
    NotOrganizationMasterAccount(String),
    /// `InvalidQueryStatementException`: not a SELECT, or it does not parse or plan.
    #[error("{0}")]
    InvalidQueryStatement(String),
    /// `QueryIdNotFoundException`.
    #[error("{0}")]
    QueryIdNotFound(String),
    /// `InactiveQueryException`: the query has already ended.
    #[error("{0}")]
    InactiveQuery(String),
    /// `MaxConcurrentQueriesException`.
    #[error("{0}")]
    MaxConcurrentQueries(String),
    /// `InvalidDateRangeException`.
    #[error("{0}")]
    InvalidDateRange(String),
    /// `InvalidQueryStatusException`.
    #[error("{0}")]
    InvalidQueryStatus(String),
    /// `InvalidS3BucketNameException`: DeliveryS3Uri names no valid bucket.
    #[error("{0}")]
    InvalidS3BucketName(String),
    /// `InvalidS3PrefixException`.
    #[error("{0}")]
    InvalidS3Prefix(String),
    /// `S3BucketDoesNotExistException`.
    #[error("{0}")]
    S3BucketDoesNotExist(String),
    /// `InsufficientS3BucketPolicyException`: the bucket policy does not let CloudTrail write
    /// the results.
    #[error("{0}")]
    InsufficientS3BucketPolicy(String),
    /// `ChannelNotFoundException` (data plane: `ChannelNotFound`).
    #[error("{0}")]
    ChannelNotFound(String),
    /// `ChannelARNInvalidException` (data plane: `InvalidChannelARN`).
    #[error("{0}")]
    ChannelArnInvalid(String),
    /// `ChannelAlreadyExistsException`: the name, or the partner source, has a channel.
    #[error("{0}")]
    ChannelAlreadyExists(String),
    /// `ChannelMaxLimitExceededException`.
    #[error("{0}")]
    ChannelMaxLimitExceeded(String),
    /// `ChannelExistsForEDSException`: the store is a channel's destination.
    #[error("{0}")]
    ChannelExistsForEds(String),
    /// `InvalidSourceException`.
    #[error("{0}")]
    InvalidSource(String),
    /// `ResourceNotFoundException`.
    #[error("{0}")]
    ResourceNotFound(String),
    /// `ChannelInsufficientPermission` (data plane): the caller does not own the channel.
    #[error("{0}")]
    ChannelInsufficientPermission(String),
    /// `AccountHasOngoingImportException`: the account already runs an import.
    #[error("{0}")]
    AccountHasOngoingImport(String),
    /// `ImportNotFoundException`.
    #[error("{0}")]
    ImportNotFound(String),
    /// `InvalidImportSourceException`: the import's source cannot be read as trail logs.
    #[error("{0}")]
    InvalidImportSource(String),
    /// `EventDataStoreHasOngoingImportException`: the store is the destination of a running
    /// import.
    #[error("{0}")]
    EventDataStoreHasOngoingImport(String),
    /// The catalog failed.
    #[error(transparent)]
    Catalog(#[from] opentrail_catalog::CatalogError),
    /// Anything else that is the server's fault, not the caller's.
    #[error("{0}")]
    Internal(String),
}

impl LakeError {
    /// The AWS exception name (`__type`).
    pub fn code(&self) -> &'static str {
        use LakeError::*;
        match self {
            EventDataStoreNotFound(_) => "EventDataStoreNotFoundException",
            EventDataStoreArnInvalid(_) => "EventDataStoreARNInvalidException",
            EventDataStoreAlreadyExists(_) => "EventDataStoreAlreadyExistsException",
            EventDataStoreMaxLimitExceeded(_) => "EventDataStoreMaxLimitExceededException",
            EventDataStoreTerminationProtected(_) => "EventDataStoreTerminationProtectedException",
            InvalidEventDataStoreStatus(_) => "InvalidEventDataStoreStatusException",
            InvalidEventDataStoreCategory(_) => "InvalidEventDataStoreCategoryException",
            InactiveEventDataStore(_) => "InactiveEventDataStoreException",
            InvalidEventSelectors(_) => "InvalidEventSelectorsException",
            InvalidParameter(_) => "InvalidParameterException",
            InvalidParameterCombination(_) => "InvalidParameterCombinationException",
            InvalidMaxResults(_) => "InvalidMaxResultsException",
            InvalidNextToken(_) => "InvalidNextTokenException",
            InvalidTagParameter(_) => "InvalidTagParameterException",
            TagsLimitExceeded(_) => "TagsLimitExceededException",
            InvalidKmsKeyId(_) => "InvalidKmsKeyIdException",
            KmsKeyNotFound(_) => "KmsKeyNotFoundException",
            Kms(_) => "KmsException",
            OrganizationsNotInUse(_) => "OrganizationsNotInUseException",
            NotOrganizationMasterAccount(_) => "NotOrganizationMasterAccountException",
            InvalidQueryStatement(_) => "InvalidQueryStatementException",
            QueryIdNotFound(_) => "QueryIdNotFoundException",
            InactiveQuery(_) => "InactiveQueryException",
            MaxConcurrentQueries(_) => "MaxConcurrentQueriesException",
            InvalidDateRange(_) => "InvalidDateRangeException",
            InvalidQueryStatus(_) => "InvalidQueryStatusException",
            InvalidS3BucketName(_) => "InvalidS3BucketNameException",
            InvalidS3Prefix(_) => "InvalidS3PrefixException",
            S3BucketDoesNotExist(_) => "S3BucketDoesNotExistException",
            InsufficientS3BucketPolicy(_) => "InsufficientS3BucketPolicyException",
            ChannelNotFound(_) => "ChannelNotFoundException",
            ChannelArnInvalid(_) => "ChannelARNInvalidException",
            ChannelAlreadyExists(_) => "ChannelAlreadyExistsException",
            ChannelMaxLimitExceeded(_) => "ChannelMaxLimitExceededException",
            ChannelExistsForEds(_) => "ChannelExistsForEDSException",
            InvalidSource(_) => "InvalidSourceException",
            ResourceNotFound(_) => "ResourceNotFoundException",
            ChannelInsufficientPermission(_) => "ChannelInsufficientPermission",
            AccountHasOngoingImport(_) => "AccountHasOngoingImportException",
            ImportNotFound(_) => "ImportNotFoundException",
            InvalidImportSource(_) => "InvalidImportSourceException",
            EventDataStoreHasOngoingImport(_) => "EventDataStoreHasOngoingImportException",
            Catalog(_) | Internal(_) => "InternalFailure",
        }
    }

    /// The exception name on the `cloudtrail-data` plane (PutAuditEvents), whose model spells
    /// the channel failures without the `Exception` suffix.
    pub fn data_plane_code(&self) -> &'static str {
        match self {
            LakeError::ChannelNotFound(_) => "ChannelNotFound",
            LakeError::ChannelArnInvalid(_) => "InvalidChannelARN",
            other => other.code(),
        }
    }

    /// Whether the failure is the server's (logged, answered as `InternalFailure`) rather than
    /// the caller's.
    pub fn is_internal(&self) -> bool {
        self.code() == "InternalFailure"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_model_exception_names() {
        let e = LakeError::EventDataStoreArnInvalid("x".into());
        assert_eq!(e.code(), "EventDataStoreARNInvalidException");
        assert_eq!(e.to_string(), "x");
        assert!(LakeError::Internal("boom".into()).is_internal());
        assert!(!LakeError::InvalidParameter("p".into()).is_internal());
        let missing = LakeError::ChannelNotFound("c".into());
        assert_eq!(missing.code(), "ChannelNotFoundException");
        assert_eq!(missing.data_plane_code(), "ChannelNotFound");
        assert_eq!(
            LakeError::ChannelArnInvalid("c".into()).data_plane_code(),
            "InvalidChannelARN"
        );
        assert_eq!(
            LakeError::ChannelExistsForEds("c".into()).data_plane_code(),
            "ChannelExistsForEDSException"
        );
    }
}
