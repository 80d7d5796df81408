//! The tus 1.0.0 resumable upload protocol at `/api/v1/uploads`: core,
//! creation (with upload), termination, checksum (sha1, sha256) and
//! expiration. A finished upload becomes a photo under its SHA-256. No login
//! is needed (photos of public tips): anonymous uploads are owned by
//! [`ANONYMOUS`] and rate limited per client address.
//!
//! Bytes are appended to a staging file and made durable before the offset is
//! recorded, so after a crash the file is cut back to the recorded offset and
//! the client resumes from there. A PATCH cut off by the network keeps what
//! arrived (unless it carried a checksum), so the phone resumes at that byte.
//!
//! With a shared store (S3, several instances) the PATCHes of one upload may
//! reach different instances: each PATCH's bytes become a part in the store,
//! `uploads/<id>/<offset:020>-<name>`, written before the row records it
//! (the part's name and the new offset in one UPDATE conditional on the old
//! offset, so a writer whose claim lapsed changes nothing). At completion the
//! parts are read back in order into a staging file, hashed and taken in as
//! a `PUT` would be, then removed.

use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use landpatrol_sync::ErrorCode;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use sha2::Digest;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use super::body::{self, Digests, Ended};
use super::service::{self, Incoming, check_hash};
use super::storage;
use crate::auth::MaybeAuthUser;
use crate::db::entities::uploads;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

mod bytes;

use bytes::{append, assemble, hash_file};

pub const TUS_VERSION: &str = "1.0.0";
pub const TUS_EXTENSIONS: &str = "creation,creation-with-upload,termination,checksum,expiration";
pub const OFFSET_OCTET_STREAM: &str = "application/offset+octet-stream";
/// The methods of `/uploads/{id}` (its `Allow`).
pub const UPLOAD_METHODS: &str = "OPTIONS, HEAD, PATCH, DELETE, POST";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/uploads").route(web::method(Method::OPTIONS).to(options)).route(web::post().to(create)),
    )
    .service(
        web::resource("/uploads/{id}")
            .route(web::method(Method::OPTIONS).to(options))
            .route(web::head().to(head))
            .route(web::patch().to(patch))
            .route(web::delete().to(terminate))
            // tus: `X-HTTP-Method-Override` names the method for clients that can only POST.
            .route(web::post().to(overridden)),
    );
}

/// Adds `Tus-Resumable` to every answer, errors included.
fn tus(result: ApiResult<HttpResponse>) -> HttpResponse {
    let mut res = match result {
        Ok(r) => r,
        Err(e) => {
            let mut r = e.error_response();
            if e.code == ErrorCode::TusVersionUnsupported {
                r.headers_mut()
                    .insert(header::HeaderName::from_static("tus-version"), HeaderValue::from_static(TUS_VERSION));
            }
            r
        }
    };
    res.headers_mut().insert(header::HeaderName::from_static("tus-resumable"), HeaderValue::from_static(TUS_VERSION));
    res
}

fn header_str<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok()).map(str::trim)
}

fn bad_header(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::InvalidUploadHeader, message)
}

fn check_version(h: &HeaderMap) -> ApiResult<()> {
    match header_str(h, "tus-resumable") {
        Some(TUS_VERSION) => Ok(()),
        _ => Err(ApiError::new(ErrorCode::TusVersionUnsupported, "send `Tus-Resumable: 1.0.0`")),
    }
}

fn parse_u64(h: &HeaderMap, name: &str) -> ApiResult<Option<u64>> {
    match header_str(h, name) {
        None => Ok(None),
        Some(v) if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) => {
            v.parse().map(Some).map_err(|_| bad_header(format!("{name} is too large")))
        }
        Some(_) => Err(bad_header(format!("{name} is a non-negative integer"))),
    }
}

/// Parses `Upload-Metadata`: `key base64value` pairs separated by commas.
pub fn parse_metadata(raw: &str) -> ApiResult<Vec<(String, Option<String>)>> {
    let mut out = Vec::new();
    if raw.trim().is_empty() {
        return Ok(out);
    }
    for pair in raw.split(',') {
        let mut parts = pair.trim().split(' ');
        let key = parts.next().unwrap_or_default();
        if key.is_empty() || !key.is_ascii() {
            return Err(bad_header("Upload-Metadata keys are non-empty ASCII without spaces or commas"));
        }
        let value = match parts.next() {
            None | Some("") => None,
            Some(v) => {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(v)
                    .map_err(|_| bad_header(format!("Upload-Metadata value of {key} is not base64")))?;
                Some(String::from_utf8_lossy(&bytes).into_owned())
            }
        };
        if parts.next().is_some() {
            return Err(bad_header("Upload-Metadata pairs are `key value`"));
        }
        if out.iter().any(|(k, _)| k == key) {
            return Err(bad_header(format!("Upload-Metadata names {key} twice")));
        }
        out.push((key.to_owned(), value));
    }
    Ok(out)
}

/// `Upload-Checksum: <algorithm> <base64 digest>`.
enum Checksum {
    Sha1(Vec<u8>),
    Sha256(Vec<u8>),
}

fn parse_checksum(h: &HeaderMap) -> ApiResult<Option<Checksum>> {
    let Some(raw) = header_str(h, "upload-checksum") else { return Ok(None) };
    let (algo, digest) = raw.split_once(' ').ok_or_else(|| bad_header("Upload-Checksum is `<algorithm> <base64>`"))?;
    let digest = base64::engine::general_purpose::STANDARD
        .decode(digest.trim())
        .map_err(|_| bad_header("the Upload-Checksum digest is not base64"))?;
    match algo {
        "sha1" => Ok(Some(Checksum::Sha1(digest))),
        "sha256" => Ok(Some(Checksum::Sha256(digest))),
        other => Err(ApiError::new(
            ErrorCode::ChecksumAlgorithmUnsupported,
            format!("checksum algorithm {other} is not supported; use sha1 or sha256"),
        )),
    }
}

fn http_date(t: DateTime<Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

fn part_path(state: &AppState, id: &str) -> std::path::PathBuf {
    state.photos.store.staging_dir().join(format!("tus-{id}.part"))
}

fn expiry(state: &AppState) -> Duration {
    Duration::hours(i64::try_from(state.settings.photos.upload_expiry_hours).unwrap_or(24))
}

/// What the server supports.
#[utoipa::path(options, path = "/api/v1/uploads", tag = "uploads",
    responses((status = 204, description = "tus capabilities.",
        headers(("Tus-Resumable" = String, description = "`1.0.0`"), ("Tus-Version" = String, description = "`1.0.0`"),
            ("Tus-Extension" = String, description = "`creation,creation-with-upload,termination,checksum,expiration`"),
            ("Tus-Max-Size" = u64, description = "The largest upload in bytes (`photos.max_upload_bytes`)"),
            ("Tus-Checksum-Algorithm" = String, description = "`sha1,sha256`")))))]
pub async fn options(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::NoContent()
        .insert_header(("Tus-Resumable", TUS_VERSION))
        .insert_header(("Tus-Version", TUS_VERSION))
        .insert_header(("Tus-Extension", TUS_EXTENSIONS))
        .insert_header(("Tus-Max-Size", state.settings.photos.max_upload_bytes.to_string()))
        .insert_header(("Tus-Checksum-Algorithm", "sha1,sha256"))
        .finish()
}

/// Starts an upload (tus creation). `Upload-Length` is required; the optional
/// `Upload-Metadata` key `sha256` (base64 of the hex hash) is checked when the
/// upload completes. A body with `Content-Type: application/offset+octet-stream`
/// is the first chunk (creation-with-upload).
#[utoipa::path(post, path = "/api/v1/uploads", tag = "uploads", security((), ("bearer" = [])),
    params(
        ("Tus-Resumable" = String, Header, description = "The tus version: `1.0.0`", example = "1.0.0", pattern = "^1\\.0\\.0$"),
        ("Upload-Length" = u64, Header, description = "Total bytes of the photo, at most `Tus-Max-Size`", minimum = 1),
        ("Upload-Metadata" = Option<String>, Header, max_length = 4096,
            description = "Comma-separated `key base64value` pairs, e.g. `sha256 <base64 of the hex SHA-256>,filetype aW1hZ2UvanBlZw==`; the key `sha256` is checked when the upload completes"),
        ("Upload-Checksum" = Option<String>, Header, description = "With a first chunk: `sha256 <base64 digest of the body>` (or sha1)")),
    request_body(description = "Optional first chunk (creation-with-upload), sent with `Content-Type: application/offset+octet-stream`.",
        content((crate::openapi::Bytes = "application/offset+octet-stream"))),
    responses(
        (status = 201, description = "Created.",
            headers(("Location" = String, description = "The upload's URL"), ("Tus-Resumable" = String, description = "`1.0.0`"),
                ("Upload-Expires" = String, description = "When the unfinished upload lapses (HTTP date)"),
                ("Upload-Offset" = u64, description = "With a first chunk: the bytes stored"))),
        (status = 400, description = "`invalid_upload_header` (Upload-Length missing or not a number, Upload-Defer-Length, bad Upload-Metadata), `invalid_photo_hash` (metadata sha256), `checksum_algorithm_unsupported`, `body_incomplete`.", body = landpatrol_sync::error::ErrorBody),
        (status = 412, description = "`tus_version_unsupported`.", body = landpatrol_sync::error::ErrorBody,
            headers(("Tus-Version" = String, description = "`1.0.0`"))),
        (status = 413, description = "`payload_too_large`: Upload-Length beyond `Tus-Max-Size`, or a first chunk longer than Upload-Length.", body = landpatrol_sync::error::ErrorBody),
        (status = 415, description = "A first chunk completing the upload is not an accepted image (`photo_unrecognised`, `photo_format_unsupported`).", body = landpatrol_sync::error::ErrorBody),
        (status = 422, description = "`photo_empty` (Upload-Length 0); a first chunk completing the upload refused as a photo (`photo_hash_mismatch`, `photo_too_large`, `photo_corrupt`).", body = landpatrol_sync::error::ErrorBody),
        (status = 429, description = "`rate_limited` (anonymous uploads, per client address).", body = landpatrol_sync::error::ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait before retrying"))),
        (status = 460, description = "`checksum_mismatch`: the first chunk does not match Upload-Checksum (the upload is made, empty).", body = landpatrol_sync::error::ErrorBody)))]
pub async fn create(
    state: web::Data<AppState>,
    user: MaybeAuthUser,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    tus(create_upload(&state, &user, &req, payload).await)
}

/// The owner of an upload: the caller, or [`ANONYMOUS`].
fn owner(user: &MaybeAuthUser) -> uuid::Uuid {
    user.0.as_ref().map_or(ANONYMOUS, |u| u.id)
}

/// Owner of uploads started without a login (public tips). Their upload URL,
/// 128 random bits, is what lets them continue it.
pub const ANONYMOUS: uuid::Uuid = uuid::Uuid::nil();

async fn create_upload(
    state: &AppState,
    user: &MaybeAuthUser,
    req: &HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let h = req.headers();
    check_version(h)?;
    if user.0.is_none() {
        let cfg = &state.settings.tips;
        state.tip_limits.photo(cfg, crate::tips::ratelimit::client_addr(req, cfg).as_deref()).await?;
    }
    if h.contains_key("upload-defer-length") {
        return Err(bad_header("Upload-Defer-Length is not supported: send Upload-Length"));
    }
    let length = parse_u64(h, "upload-length")?.ok_or_else(|| bad_header("Upload-Length is required"))?;
    let limit = state.settings.photos.max_upload_bytes;
    if length > limit {
        return Err(super::routes::too_large(limit));
    }
    if length == 0 {
        return Err(ApiError::new(ErrorCode::PhotoEmpty, "a photo has at least one byte"));
    }
    let raw_metadata = header_str(h, "upload-metadata").unwrap_or_default();
    if raw_metadata.len() > 4096 {
        return Err(bad_header("Upload-Metadata is longer than 4096 characters"));
    }
    let metadata = parse_metadata(raw_metadata)?;
    let declared = match metadata.iter().find(|(k, _)| k == "sha256") {
        Some((_, Some(v))) => Some(check_hash(v)?),
        Some((_, None)) => return Err(ApiError::new(ErrorCode::InvalidPhotoHash, "metadata sha256 has no value")),
        None => None,
    };
    let id = uuid::Uuid::new_v4().simple().to_string();
    let shared = state.photos.store.shared();
    if !shared {
        tokio::fs::File::create(part_path(state, &id)).await.map_err(ApiError::internal)?;
    }
    let now = Utc::now();
    let row = uploads::ActiveModel {
        id: Set(id.clone()),
        length: Set(i64::try_from(length).unwrap_or(i64::MAX)),
        upload_offset: Set(0),
        metadata: Set(raw_metadata.to_owned()),
        declared_sha256: Set(declared),
        sha256: Set(None),
        status: Set("active".into()),
        created_by: Set(owner(user)),
        created_at: Set(now),
        expires_at: Set(now + expiry(state)),
        writer: Set(None),
        lease_until: Set(None),
        parts: Set(shared.then(|| "[]".to_owned())),
    }
    .insert(&state.db)
    .await?;
    let location = {
        let info = req.connection_info();
        format!("{}://{}/api/v1/uploads/{id}", info.scheme(), info.host())
    };
    let with_body = header_str(h, "content-type").is_some_and(|c| c.starts_with(OFFSET_OCTET_STREAM))
        && parse_u64(h, "content-length")?.unwrap_or(1) > 0;
    let mut res = if with_body {
        let claim = state.photos.claim_upload(&state.db, &id).await?.ok_or_else(busy)?;
        let written = append(state, row, 0, h, payload).await;
        claim.release().await;
        written?
    } else {
        HttpResponse::Created().insert_header(("Upload-Expires", http_date(row.expires_at))).finish()
    };
    *res.status_mut() = StatusCode::CREATED;
    res.headers_mut().insert(header::LOCATION, HeaderValue::from_str(&location).map_err(ApiError::internal)?);
    Ok(res)
}

fn busy() -> ApiError {
    ApiError::new(ErrorCode::UploadInProgress, "another request is writing to this upload")
}

/// The caller's upload; an expired one is removed and answers `upload_expired`.
async fn load(state: &AppState, user: &MaybeAuthUser, id: &str) -> ApiResult<uploads::Model> {
    if id.contains('\0') {
        // Names no upload (and PostgreSQL could not even compare it).
        return Err(ApiError::not_found("upload"));
    }
    let row = uploads::Entity::find_by_id(id.to_owned())
        .one(&state.db)
        .await?
        .filter(|u| u.created_by == owner(user))
        .ok_or_else(|| ApiError::not_found("upload"))?;
    if row.status == "active" && row.expires_at < Utc::now() {
        remove(state, &row).await?;
        return Err(ApiError::new(ErrorCode::UploadExpired, "the upload expired; start a new one"));
    }
    Ok(row)
}

async fn remove(state: &AppState, row: &uploads::Model) -> ApiResult<()> {
    if state.photos.store.shared() {
        state.photos.store.delete_prefix(&storage::upload_prefix(&row.id)).await.map_err(ApiError::internal)?;
    } else {
        service::discard(&part_path(state, &row.id)).await;
    }
    uploads::Entity::delete_by_id(row.id.clone()).exec(&state.db).await?;
    Ok(())
}

fn offset_of(row: &uploads::Model) -> u64 {
    u64::try_from(row.upload_offset).unwrap_or(0)
}

fn length_of(row: &uploads::Model) -> u64 {
    u64::try_from(row.length).unwrap_or(0)
}

fn progress(row: &uploads::Model, status: StatusCode) -> HttpResponse {
    let mut res = HttpResponse::build(status);
    res.insert_header(("Upload-Offset", row.upload_offset.to_string()))
        .insert_header(("Upload-Expires", http_date(row.expires_at)))
        .insert_header((header::CACHE_CONTROL, "no-store"));
    if let Some(sha) = &row.sha256 {
        res.insert_header(("Landpatrol-Photo-Sha256", sha.clone()))
            .insert_header(("Landpatrol-Photo-Location", format!("/api/v1/photos/{sha}")));
    }
    res.finish()
}

/// Where an upload stands.
#[utoipa::path(head, path = "/api/v1/uploads/{id}", tag = "uploads", security((), ("bearer" = [])),
    params(("id" = String, Path, description = "The upload id from `Location`"),
        ("Tus-Resumable" = String, Header, description = "The tus version: `1.0.0`", example = "1.0.0", pattern = "^1\\.0\\.0$")),
    responses(
        (status = 200, description = "Where the upload stands.",
            headers(("Upload-Offset" = u64, description = "Bytes stored: resume from there"), ("Upload-Length" = u64),
                ("Upload-Metadata" = String, description = "As sent at creation"), ("Upload-Expires" = String, description = "HTTP date"),
                ("Tus-Resumable" = String, description = "`1.0.0`"), ("Cache-Control" = String, description = "`no-store`"),
                ("Landpatrol-Photo-Sha256" = String, description = "Once complete: the photo's SHA-256"),
                ("Landpatrol-Photo-Location" = String, description = "Once complete: the photo's path"))),
        (status = 404, description = "`not_found`: no such upload (or another user's)."),
        (status = 410, description = "`upload_expired`."),
        (status = 412, description = "`tus_version_unsupported`.", headers(("Tus-Version" = String, description = "`1.0.0`"))),
        (status = 415, description = "Every byte had arrived and the photo is refused now (`photo_unrecognised`, `photo_format_unsupported`)."),
        (status = 422, description = "Every byte had arrived and the photo is refused now (`photo_hash_mismatch`, `photo_too_large`, `photo_corrupt`)."),
        (status = 423, description = "`upload_in_progress`.")))]
pub async fn head(
    state: web::Data<AppState>,
    user: MaybeAuthUser,
    req: HttpRequest,
    id: web::Path<String>,
) -> HttpResponse {
    tus(async {
        check_version(req.headers())?;
        let mut row = load(&state, &user, &id).await?;
        if row.status == "active" && offset_of(&row) == length_of(&row) {
            // Every byte arrived but the server stopped before it was taken in.
            let claim = state.photos.claim_upload(&state.db, &row.id).await?.ok_or_else(busy)?;
            let finished = finish(&state, row).await;
            claim.release().await;
            row = finished?;
        }
        let mut res = progress(&row, StatusCode::OK);
        res.headers_mut().insert(header::HeaderName::from_static("upload-length"), HeaderValue::from(row.length));
        if !row.metadata.is_empty()
            && let Ok(v) = HeaderValue::from_str(&row.metadata)
        {
            res.headers_mut().insert(header::HeaderName::from_static("upload-metadata"), v);
        }
        Ok(res)
    }
    .await)
}

/// Sends the next bytes of an upload at `Upload-Offset`.
#[utoipa::path(patch, path = "/api/v1/uploads/{id}", tag = "uploads", security((), ("bearer" = [])),
    params(
        ("id" = String, Path, description = "The upload id from `Location`"),
        ("Tus-Resumable" = String, Header, description = "The tus version: `1.0.0`", example = "1.0.0", pattern = "^1\\.0\\.0$"),
        ("Upload-Offset" = u64, Header, description = "Where these bytes start; must be the upload's offset"),
        ("Upload-Checksum" = Option<String>, Header, description = "`sha256 <base64 digest of this request's body>` (or sha1)")),
    request_body(content((crate::openapi::Bytes = "application/offset+octet-stream"))),
    responses(
        (status = 204, description = "Stored.",
            headers(("Upload-Offset" = u64, description = "The new offset"), ("Upload-Expires" = String, description = "HTTP date"),
                ("Tus-Resumable" = String, description = "`1.0.0`"),
                ("Landpatrol-Photo-Sha256" = String, description = "With the last chunk: the photo's SHA-256"),
                ("Landpatrol-Photo-Location" = String, description = "With the last chunk: the photo's path"))),
        (status = 400, description = "`invalid_upload_header` (Upload-Offset missing or not a number, bad Upload-Checksum), `checksum_algorithm_unsupported`, `body_incomplete` (what arrived is kept, `details.offset`).", body = landpatrol_sync::error::ErrorBody),
        (status = 404, description = "`not_found`: no such upload (or another user's).", body = landpatrol_sync::error::ErrorBody),
        (status = 409, description = "`upload_offset_mismatch`: HEAD and resume.", body = landpatrol_sync::error::ErrorBody),
        (status = 410, description = "`upload_expired`.", body = landpatrol_sync::error::ErrorBody),
        (status = 412, description = "`tus_version_unsupported`.", body = landpatrol_sync::error::ErrorBody,
            headers(("Tus-Version" = String, description = "`1.0.0`"))),
        (status = 413, description = "`payload_too_large`: more bytes than Upload-Length.", body = landpatrol_sync::error::ErrorBody),
        (status = 415, description = "`unsupported_media_type`: Content-Type is not application/offset+octet-stream; or the finished bytes are not an accepted image (`photo_unrecognised`, `photo_format_unsupported`).", body = landpatrol_sync::error::ErrorBody),
        (status = 422, description = "The finished bytes were refused as a photo (`photo_hash_mismatch`, `photo_too_large`, `photo_corrupt`); the upload is gone.", body = landpatrol_sync::error::ErrorBody),
        (status = 423, description = "`upload_in_progress`: another request is writing.", body = landpatrol_sync::error::ErrorBody),
        (status = 460, description = "`checksum_mismatch`: the chunk was discarded.", body = landpatrol_sync::error::ErrorBody)))]
pub async fn patch(
    state: web::Data<AppState>,
    user: MaybeAuthUser,
    req: HttpRequest,
    id: web::Path<String>,
    payload: web::Payload,
) -> HttpResponse {
    tus(async {
        let h = req.headers();
        check_version(h)?;
        if !header_str(h, "content-type").is_some_and(|c| c.starts_with(OFFSET_OCTET_STREAM)) {
            return Err(ApiError::new(
                ErrorCode::UnsupportedMediaType,
                "a PATCH body has Content-Type: application/offset+octet-stream",
            ));
        }
        let offset = parse_u64(h, "upload-offset")?.ok_or_else(|| bad_header("Upload-Offset is required"))?;
        let row = load(&state, &user, &id).await?;
        if row.status == "complete" {
            return if offset == length_of(&row) {
                Ok(progress(&row, StatusCode::NO_CONTENT))
            } else {
                Err(mismatch(&row))
            };
        }
        let claim = state.photos.claim_upload(&state.db, &row.id).await?.ok_or_else(busy)?;
        let res = append(&state, row, offset, h, payload).await;
        claim.release().await;
        res
    }
    .await)
}

fn mismatch(row: &uploads::Model) -> ApiError {
    ApiError::new(ErrorCode::UploadOffsetMismatch, "Upload-Offset is not the upload's offset")
        .with_details(serde_json::json!({ "offset": row.upload_offset }))
}

/// Takes a fully received upload in as a photo.
async fn finish(state: &AppState, row: uploads::Model) -> ApiResult<uploads::Model> {
    let shared = state.photos.store.shared();
    let incoming = if shared {
        assemble(state, &row).await?
    } else {
        let path = part_path(state, &row.id);
        if !tokio::fs::try_exists(&path).await.map_err(ApiError::internal)? {
            return Err(ApiError::not_found("upload"));
        }
        let sha256 = hash_file(path.clone()).await?;
        Incoming { path, len: length_of(&row), sha256 }
    };
    let taken = service::ingest(
        state,
        Some(row.created_by).filter(|u| *u != ANONYMOUS),
        incoming,
        row.declared_sha256.as_deref(),
    )
    .await;
    if shared {
        // Kept as an original, or refused: the parts are not needed either way.
        if let Err(e) = state.photos.store.delete_prefix(&storage::upload_prefix(&row.id)).await {
            tracing::warn!(error = %e, "could not remove the parts of a finished upload");
        }
    }
    match taken {
        Ok((_, photo)) => {
            let mut m: uploads::ActiveModel = row.into();
            m.status = Set("complete".into());
            m.sha256 = Set(Some(photo.sha256));
            Ok(m.update(&state.db).await?)
        }
        Err(e) => {
            // The bytes were refused and removed: the upload is over.
            uploads::Entity::delete_by_id(row.id).exec(&state.db).await?;
            Err(e)
        }
    }
}

/// For clients that can only `POST`: `X-HTTP-Method-Override: PATCH`, `HEAD` or
/// `DELETE` makes this request that method (tus core).
#[utoipa::path(post, path = "/api/v1/uploads/{id}", tag = "uploads", security((), ("bearer" = [])),
    params(
        ("id" = String, Path, description = "The upload id from `Location`"),
        ("Tus-Resumable" = String, Header, description = "The tus version: `1.0.0`", example = "1.0.0", pattern = "^1\\.0\\.0$"),
        ("X-HTTP-Method-Override" = String, Header, pattern = "^(PATCH|HEAD|DELETE|patch|head|delete)$",
            description = "`PATCH`, `HEAD` or `DELETE`: the request is answered as that method"),
        ("Upload-Offset" = Option<u64>, Header, description = "As for PATCH"),
        ("Upload-Checksum" = Option<String>, Header, description = "As for PATCH")),
    request_body(description = "As for PATCH (with `X-HTTP-Method-Override: PATCH`).",
        content((crate::openapi::Bytes = "application/offset+octet-stream"))),
    responses(
        (status = 204, description = "As the overridden PATCH or DELETE.",
            headers(("Upload-Offset" = u64), ("Upload-Expires" = String), ("Tus-Resumable" = String, description = "`1.0.0`"))),
        (status = 200, description = "As the overridden HEAD.",
            headers(("Upload-Offset" = u64), ("Upload-Length" = u64), ("Upload-Expires" = String), ("Tus-Resumable" = String, description = "`1.0.0`"))),
        (status = 400, description = "`invalid_upload_header`: no X-HTTP-Method-Override; and as for PATCH.", body = landpatrol_sync::error::ErrorBody),
        (status = 404, description = "`not_found`: no such upload (or another user's).", body = landpatrol_sync::error::ErrorBody),
        (status = 405, description = "`method_not_allowed`: X-HTTP-Method-Override names another method.", body = landpatrol_sync::error::ErrorBody,
            headers(("Allow" = String, description = "`OPTIONS, HEAD, PATCH, DELETE, POST`"))),
        (status = 409, description = "`upload_offset_mismatch` (PATCH).", body = landpatrol_sync::error::ErrorBody),
        (status = 410, description = "`upload_expired`.", body = landpatrol_sync::error::ErrorBody),
        (status = 412, description = "`tus_version_unsupported`.", body = landpatrol_sync::error::ErrorBody,
            headers(("Tus-Version" = String, description = "`1.0.0`"))),
        (status = 413, description = "`payload_too_large` (PATCH).", body = landpatrol_sync::error::ErrorBody),
        (status = 415, description = "As for PATCH.", body = landpatrol_sync::error::ErrorBody),
        (status = 422, description = "As for PATCH.", body = landpatrol_sync::error::ErrorBody),
        (status = 423, description = "`upload_in_progress`.", body = landpatrol_sync::error::ErrorBody),
        (status = 460, description = "`checksum_mismatch` (PATCH).", body = landpatrol_sync::error::ErrorBody)))]
pub async fn overridden(
    state: web::Data<AppState>,
    user: MaybeAuthUser,
    req: HttpRequest,
    id: web::Path<String>,
    payload: web::Payload,
) -> HttpResponse {
    match header_str(req.headers(), "x-http-method-override").map(str::to_ascii_uppercase).as_deref() {
        Some("PATCH") => patch(state, user, req, id, payload).await,
        Some("HEAD") => head(state, user, req, id).await,
        Some("DELETE") => terminate(state, user, req, id).await,
        None => tus(Err(bad_header("POST to an upload needs X-HTTP-Method-Override: PATCH, HEAD or DELETE"))),
        Some(_) => {
            let mut res = tus(Err(ApiError::new(
                ErrorCode::MethodNotAllowed,
                "X-HTTP-Method-Override names PATCH, HEAD or DELETE",
            )));
            res.headers_mut().insert(header::ALLOW, HeaderValue::from_static(UPLOAD_METHODS));
            res
        }
    }
}

/// Abandons an upload and removes its bytes (tus termination).
#[utoipa::path(delete, path = "/api/v1/uploads/{id}", tag = "uploads", security((), ("bearer" = [])),
    params(("id" = String, Path, description = "The upload id"),
        ("Tus-Resumable" = String, Header, description = "The tus version: `1.0.0`", example = "1.0.0", pattern = "^1\\.0\\.0$")),
    responses((status = 204, description = "Removed.", headers(("Tus-Resumable" = String, description = "`1.0.0`"))),
        (status = 404, description = "`not_found`: no such upload (or another user's).", body = landpatrol_sync::error::ErrorBody),
        (status = 410, description = "`upload_expired`.", body = landpatrol_sync::error::ErrorBody),
        (status = 412, description = "`tus_version_unsupported`.", body = landpatrol_sync::error::ErrorBody,
            headers(("Tus-Version" = String, description = "`1.0.0`"))),
        (status = 423, description = "`upload_in_progress`.", body = landpatrol_sync::error::ErrorBody)))]
pub async fn terminate(
    state: web::Data<AppState>,
    user: MaybeAuthUser,
    req: HttpRequest,
    id: web::Path<String>,
) -> HttpResponse {
    tus(async {
        check_version(req.headers())?;
        let row = load(&state, &user, &id).await?;
        let claim = state.photos.claim_upload(&state.db, &row.id).await?.ok_or_else(busy)?;
        let removed = remove(&state, &row).await;
        claim.release().await;
        removed?;
        Ok(HttpResponse::NoContent().finish())
    }
    .await)
}

/// Removes expired unfinished uploads (their parts too), finished ones past
/// their expiry, and staging files left by broken requests. Returns how many uploads went.
pub async fn sweep(state: &AppState) -> ApiResult<usize> {
    let now = Utc::now();
    let expired = uploads::Entity::find().filter(uploads::Column::ExpiresAt.lt(now)).all(&state.db).await?;
    let n = expired.len();
    for row in expired {
        if let Some(claim) = state.photos.claim_upload(&state.db, &row.id).await? {
            let removed = remove(state, &row).await;
            claim.release().await;
            removed?;
        }
    }
    let dir = state.photos.store.staging_dir().to_owned();
    let cutoff = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    let mut entries = tokio::fs::read_dir(&dir).await.map_err(ApiError::internal)?;
    while let Some(entry) = entries.next_entry().await.map_err(ApiError::internal)? {
        let name = entry.file_name();
        let old = entry.metadata().await.ok().and_then(|m| m.modified().ok()).is_some_and(|t| t < cutoff);
        let name = name.to_string_lossy();
        // `put-`: a broken PUT; `chunk-` and `.whole`: a PATCH or a completion
        // (shared stores) cut off by a crash.
        if old && (name.starts_with("put-") || name.starts_with("chunk-") || name.ends_with(".whole")) {
            service::discard(&entry.path()).await;
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_parses_like_tus_clients_send_it() {
        let m = parse_metadata("filename d29ybGRfZG9taW5hdGlvbl9wbGFuLnBkZg==,is_confidential,sha256 YWJj").unwrap();
        assert_eq!(m[0], ("filename".into(), Some("world_domination_plan.pdf".into())));
        assert_eq!(m[1], ("is_confidential".into(), None));
        assert_eq!(m[2], ("sha256".into(), Some("abc".into())));
        assert!(parse_metadata("").unwrap().is_empty());
        assert!(parse_metadata("a !!!").is_err());
        assert!(parse_metadata("a YQ==,a YQ==").is_err());
        assert!(parse_metadata("a YQ== b").is_err());
    }

    #[test]
    fn dates_are_http_dates() {
        let t: DateTime<Utc> = "2017-05-20T02:03:04Z".parse().unwrap();
        assert_eq!(http_date(t), "Sat, 20 May 2017 02:03:04 GMT");
    }
}
