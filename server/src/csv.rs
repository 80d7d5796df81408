//! Reading CSV imports (parcels, approvals): RFC 4180 fields, a byte-order
//! mark and CRLF or LF line ends, each record with the line it starts on so
//! that row errors can name it.

use actix_web::{HttpRequest, web};
use landpatrol_sync::ErrorCode;

use crate::error::{ApiError, ApiResult};

/// One refused row of an import, listed in the `422`'s `details.errors`.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct RowError {
    /// The line as a spreadsheet numbers it: the header is row 1, the first record row 2.
    pub row: usize,
    pub field: String,
    pub message: String,
}

/// An import refused as a whole: `422 validation_failed` listing every row error.
pub fn import_failed(errors: Vec<RowError>) -> ApiError {
    ApiError::new(ErrorCode::ValidationFailed, format!("{} row error(s); nothing was imported", errors.len()))
        .with_details(serde_json::json!({ "field": "csv", "errors": errors }))
}

/// Ends an all-or-nothing import: commits when no row was refused; else
/// rolls everything back and answers every row error.
pub async fn finish<T>(txn: sea_orm::DatabaseTransaction, errors: Vec<RowError>, report: T) -> ApiResult<T> {
    if !errors.is_empty() {
        txn.rollback().await?;
        return Err(import_failed(errors));
    }
    txn.commit().await?;
    Ok(report)
}

/// A CSV record: the line it starts on and its fields.
pub type Record = (usize, Vec<String>);

/// Largest CSV file an import reads.
pub const MAX_BYTES: usize = 8 * 1024 * 1024;

/// Reads an import's body: `Content-Type: text/csv` (else `415`), at most
/// [`MAX_BYTES`] (else `413`, as JSON, before the rest is read).
pub async fn read_body(req: &HttpRequest, payload: web::Payload) -> ApiResult<Vec<u8>> {
    let ct = req.headers().get(actix_web::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !ct.trim().to_ascii_lowercase().starts_with("text/csv") {
        return Err(ApiError::new(ErrorCode::UnsupportedMediaType, "expected Content-Type: text/csv"));
    }
    crate::error::read_limited(payload, MAX_BYTES, "the file").await
}

/// The body as text: UTF-8, a byte-order mark (Excel's "CSV UTF-8") dropped;
/// anything else is `422` naming `field`.
pub fn text<'a>(body: &'a [u8], field: &str) -> ApiResult<&'a str> {
    let text = std::str::from_utf8(body).map_err(|e| {
        ApiError::field(field, format!("the file is not UTF-8 (byte {}); save it as CSV UTF-8", e.valid_up_to()))
    })?;
    Ok(text.strip_prefix('\u{feff}').unwrap_or(text))
}

/// Splits CSV text (RFC 4180: quoted fields may hold commas, quotes doubled,
/// line breaks) into records with the line each starts on.
pub fn read(text: &str) -> Result<Vec<Record>, (usize, String)> {
    let mut records = Vec::new();
    let mut field = String::new();
    let mut record: Vec<String> = Vec::new();
    let mut chars = text.chars().peekable();
    let (mut line, mut start) = (1usize, 1usize);
    let mut quoted = false;
    let mut at_field_start = true;
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => {
                    quoted = false;
                    if !matches!(chars.peek(), None | Some(',' | '\r' | '\n')) {
                        return Err((line, "text after a closing quote".into()));
                    }
                }
                '\n' => {
                    line += 1;
                    field.push(c);
                }
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' if at_field_start => {
                quoted = true;
                at_field_start = false;
            }
            ',' => {
                record.push(std::mem::take(&mut field));
                at_field_start = true;
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' | '\r' => {
                record.push(std::mem::take(&mut field));
                let r = std::mem::take(&mut record);
                if !(r.len() == 1 && r[0].trim().is_empty()) {
                    records.push((start, r));
                }
                line += 1;
                start = line;
                at_field_start = true;
            }
            _ => {
                field.push(c);
                at_field_start = false;
            }
        }
    }
    if quoted {
        return Err((start, "a quoted field is not closed".into()));
    }
    if !field.is_empty() || !record.is_empty() {
        record.push(field);
        if !(record.len() == 1 && record[0].trim().is_empty()) {
            records.push((start, record));
        }
    }
    Ok(records)
}
