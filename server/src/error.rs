//! One error type for the whole API: a stable code (from the shared table),
//! a message, structured details, and the cause chain for the logs.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use landpatrol_sync::ErrorCode;
use landpatrol_sync::error::{ErrorBody, ErrorDetail};
use serde_json::{Value, json};

/// An API error. Its body is `{"error": {"code", "message", "details"}}`; a 5xx
/// says `internal_error` and nothing more, the cause goes to the log once.
#[derive(Debug)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    pub details: Value,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

/// The result type of services and handlers.
pub type ApiResult<T> = Result<T, ApiError>;

/// The answer to a request that makes a record once: `201` when this request
/// made it, `200` when it was made before (a retry, a replay) and nothing new was.
pub fn created_or_ok<T: serde::Serialize>(created: bool, body: &T) -> HttpResponse {
    if created { HttpResponse::Created().json(body) } else { HttpResponse::Ok().json(body) }
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), details: json!({}), source: None }
    }

    /// Adds structured details.
    pub fn with_details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }

    /// A `validation_failed` error naming the field.
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        Self::new(ErrorCode::ValidationFailed, message).with_details(json!({ "field": field }))
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(ErrorCode::NotFound, format!("{what} not found"))
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, message)
    }

    pub fn out_of_scope() -> Self {
        Self::new(ErrorCode::OutOfScope, "that town's data is outside your scope")
    }

    /// An unexpected failure; the cause is logged, never shown.
    pub fn internal(cause: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self {
            code: ErrorCode::InternalError,
            message: "internal error".into(),
            details: json!({}),
            source: Some(Box::new(cause)),
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)?;
        let mut cause = self.source.as_deref().map(|e| e as &(dyn std::error::Error + 'static));
        while let Some(c) = cause {
            write!(f, "\n  caused by: {c}")?;
            cause = c.source();
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if status.is_server_error() {
            // Logged once, here at the edge, with the cause chain.
            tracing::error!(error = %self, "request failed");
        }
        let body = if self.code == ErrorCode::InternalError {
            ErrorBody { error: ErrorDetail { code: self.code, message: "internal error".into(), details: json!({}) } }
        } else {
            ErrorBody {
                error: ErrorDetail { code: self.code, message: self.message.clone(), details: self.details.clone() },
            }
        };
        let mut resp = HttpResponse::build(status);
        if matches!(status.as_u16(), 429 | 503) {
            let secs = self.details.get("retry_after_secs").and_then(Value::as_u64).unwrap_or(5);
            resp.insert_header(("Retry-After", secs.to_string()));
        }
        resp.json(body)
    }
}

/// Whether PostgreSQL refused text it can not hold: a U+0000 character in a
/// string a client sent (SQLSTATE 22021 `character_not_in_repertoire`, 22P05
/// `untranslatable_character`). SQLite stores such text.
fn unstorable_text(e: &sea_orm::DbErr) -> bool {
    use sea_orm::{DbErr, RuntimeErr};
    match e {
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => match &**e {
            sea_orm::sqlx::Error::Database(d) => matches!(d.code().as_deref(), Some("22021" | "22P05")),
            _ => false,
        },
        _ => false,
    }
}

impl From<sea_orm::DbErr> for ApiError {
    fn from(e: sea_orm::DbErr) -> Self {
        if unstorable_text(&e) {
            return Self::new(ErrorCode::ValidationFailed, "text may not contain the character U+0000")
                .with_details(json!({ "reason": "nul_character" }));
        }
        match e.sql_err() {
            Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => {
                Self::new(ErrorCode::DuplicateRecord, "a record with this key already exists")
            }
            _ if matches!(e, sea_orm::DbErr::ConnectionAcquire(_) | sea_orm::DbErr::Conn(_)) => Self {
                code: ErrorCode::ServiceUnavailable,
                message: "the database is unreachable".into(),
                details: json!({}),
                source: Some(Box::new(e)),
            },
            _ => Self::internal(e),
        }
    }
}

impl From<landpatrol_sync::GeoPointError> for ApiError {
    fn from(e: landpatrol_sync::GeoPointError) -> Self {
        Self::new(ErrorCode::CoordinateOutOfRange, e.to_string())
    }
}

impl From<landpatrol_sync::TransitionDenied> for ApiError {
    fn from(e: landpatrol_sync::TransitionDenied) -> Self {
        let details = match e {
            landpatrol_sync::TransitionDenied::Conflict { current, .. } => json!({ "current": current }),
            _ => json!({}),
        };
        Self::new(e.code(), e.to_string()).with_details(details)
    }
}

/// Maps actix's JSON extractor failures to the shared codes.
pub fn json_error(err: actix_web::error::JsonPayloadError, _req: &actix_web::HttpRequest) -> actix_web::Error {
    use actix_web::error::JsonPayloadError as J;
    let api = match &err {
        J::Overflow { limit } | J::OverflowKnownLength { limit, .. } => {
            ApiError::new(ErrorCode::PayloadTooLarge, format!("the body is larger than {limit} bytes"))
                .with_details(json!({ "limit": limit }))
        }
        J::ContentType => ApiError::new(ErrorCode::UnsupportedMediaType, "expected Content-Type: application/json"),
        J::Deserialize(e) => ApiError::new(ErrorCode::InvalidJson, format!("invalid JSON body: {e}"))
            .with_details(json!({ "line": e.line(), "column": e.column() })),
        other => ApiError::new(ErrorCode::InvalidJson, format!("invalid JSON body: {other}")),
    };
    api.into()
}

/// Maps query-string extractor failures.
pub fn query_error(err: actix_web::error::QueryPayloadError, _req: &actix_web::HttpRequest) -> actix_web::Error {
    ApiError::new(ErrorCode::InvalidQuery, format!("invalid query string: {err}")).into()
}

/// Maps path extractor failures.
pub fn path_error(err: actix_web::error::PathError, _req: &actix_web::HttpRequest) -> actix_web::Error {
    ApiError::new(ErrorCode::InvalidPath, format!("invalid path parameter: {err}")).into()
}

/// The fallback for unknown routes.
pub async fn route_not_found() -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::new(ErrorCode::RouteNotFound, "no such endpoint"))
}

/// Reads a whole body of at most `limit` bytes (`413 payload_too_large` as
/// JSON as soon as it is larger, before the rest is read; `400
/// body_incomplete` when it breaks off). `what` names it in the message.
pub async fn read_limited(mut payload: actix_web::web::Payload, limit: usize, what: &str) -> ApiResult<Vec<u8>> {
    use futures_util::StreamExt;
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::new(ErrorCode::BodyIncomplete, format!("the body broke off: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::new(ErrorCode::PayloadTooLarge, format!("{what} is larger than {limit} bytes"))
                .with_details(json!({ "limit": limit })));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
