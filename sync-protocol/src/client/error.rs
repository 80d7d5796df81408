//! What can go wrong in the client.

use serde_json::Value;

use super::transport::TransportError;
use crate::ErrorCode;

/// An error of the reference client.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The local SQLite database failed.
    #[error("local database: {0}")]
    Db(#[from] sqlx::Error),
    /// The server answered with an error that retrying does not fix.
    #[error("the server answered {status} {code}: {message}")]
    Api { status: u16, code: ErrorCode, message: String, details: Value },
    /// Every attempt failed with a retryable error (network, 5xx, 429).
    #[error("gave up after {attempts} attempts: {last}")]
    RetriesExhausted { attempts: u32, last: String },
    /// A local edit that the rules refuse before it is queued (the server would
    /// reject it with the same code).
    #[error("{code}: {message}")]
    Invalid { code: ErrorCode, message: String },
    /// The server's answer does not follow the protocol.
    #[error("protocol: {0}")]
    Protocol(String),
    /// A transport could not be built.
    #[error("transport: {0}")]
    Transport(#[from] TransportError),
    /// Stored or received JSON does not parse.
    #[error("JSON: {0}")]
    Json(#[from] serde_json::Error),
}

impl ClientError {
    pub(crate) fn invalid(code: ErrorCode, message: impl Into<String>) -> Self {
        ClientError::Invalid { code, message: message.into() }
    }

    /// The stable code of an API or local refusal.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            ClientError::Api { code, .. } | ClientError::Invalid { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// Whether calling again later may succeed (the network or server was down).
    pub fn is_retryable(&self) -> bool {
        matches!(self, ClientError::RetriesExhausted { .. })
    }
}
