//! The kms crate's error type, with the AWS KMS exception each failure answers as.

use thiserror::Error;

/// Key registry and encryption failures.
#[derive(Debug, Error)]
pub enum KmsError {
    /// No key or alias by that identifier.
    #[error("{0}")]
    NotFound(String),
    /// The key is disabled.
    #[error("{0}")]
    Disabled(String),
    /// A ciphertext that is damaged, or was not made by this registry.
    #[error("{0}")]
    InvalidCiphertext(String),
    /// A request value KMS refuses (alias names, key specs, sizes).
    #[error("{0}")]
    Validation(String),
    /// A key ARN or identifier that is not well formed.
    #[error("{0}")]
    InvalidArn(String),
    /// The alias already exists.
    #[error("{0}")]
    AlreadyExists(String),
    /// A feature of KMS the registry does not offer (asymmetric keys, custom key stores).
    #[error("{0}")]
    Unsupported(String),
    /// The master key is missing or does not open the stored key material.
    #[error("{0}")]
    MasterKey(String),
    /// A key file could not be read or written.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The cryptographic library refused an operation, or stored state is damaged.
    #[error("{0}")]
    Internal(String),
}

impl KmsError {
    /// The AWS KMS exception name.
    pub fn code(&self) -> &'static str {
        match self {
            KmsError::NotFound(_) => "NotFoundException",
            KmsError::Disabled(_) => "DisabledException",
            KmsError::InvalidCiphertext(_) => "InvalidCiphertextException",
            KmsError::Validation(_) => "ValidationException",
            KmsError::InvalidArn(_) => "InvalidArnException",
            KmsError::AlreadyExists(_) => "AlreadyExistsException",
            KmsError::Unsupported(_) => "UnsupportedOperationException",
            KmsError::MasterKey(_) | KmsError::Io { .. } | KmsError::Internal(_) => {
                "KMSInternalException"
            }
        }
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        KmsError::Io {
            context: context.into(),
            source,
        }
    }
}
