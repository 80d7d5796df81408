//! `HEAD/PUT/GET /photos/{sha256}`, `/original`, `/thumb`.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::stream;
use landpatrol_sync::ErrorCode;
use sea_orm::EntityTrait;
use serde::Deserialize;
use sha2::Digest;
use tokio::io::AsyncReadExt;
use utoipa::IntoParams;

use super::body::{self, Digests, Ended};
use super::service::{self, Incoming, check_hash};
use super::types::PhotoView;
use crate::auth::{AuthUser, MaybeAuthUser};
use crate::db::entities::photos;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/photos/{sha256}")
            .route(web::head().to(exists))
            .route(web::get().to(get))
            .route(web::put().to(put)),
    )
    .route("/photos/{sha256}/original", web::get().to(original))
    .route("/photos/{sha256}/thumb", web::get().to(thumb))
    .configure(super::tus::configure);
}

/// Whether the photo's bytes are stored: a client asks before sending them.
#[utoipa::path(head, path = "/api/v1/photos/{sha256}", tag = "photos", security(("bearer" = [])),
    params(("sha256" = String, Path, description = "SHA-256 of the photo's bytes, 64 hex characters", pattern = "^[0-9a-fA-F]{64}$")),
    responses(
        (status = 200, description = "Stored: do not send it again.",
            headers(("Landpatrol-Photo-Size" = u64, description = "The photo's size in bytes"))),
        (status = 404, description = "Not stored: send it with `PUT` or a tus upload."),
        (status = 400, description = "`invalid_photo_hash`: not a SHA-256.")))]
pub async fn exists(state: web::Data<AppState>, _user: AuthUser, sha: web::Path<String>) -> ApiResult<HttpResponse> {
    let sha = check_hash(&sha)?;
    Ok(match photos::Entity::find_by_id(sha).one(&state.db).await? {
        Some(p) => HttpResponse::Ok()
            .insert_header(("Landpatrol-Photo-Size", p.size_bytes.to_string()))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish(),
        None => HttpResponse::NotFound().insert_header((header::CACHE_CONTROL, "no-store")).finish(),
    })
}

/// Sends a whole photo under its hash. The body streams to disk (never held in
/// memory) up to `photos.max_upload_bytes`; the hash is verified and a
/// mismatch keeps nothing. Sending a stored photo again is a no-op (`200`).
/// No login is needed (photos of public tips): anonymous uploads are rate
/// limited per client address (`tips.photo_uploads_per_address_per_hour`,
/// `429` with `Retry-After`) and answer without EXIF or links.
#[utoipa::path(put, path = "/api/v1/photos/{sha256}", tag = "photos", security((), ("bearer" = [])),
    params(("sha256" = String, Path, description = "SHA-256 of the body, 64 hex characters", pattern = "^[0-9a-fA-F]{64}$")),
    request_body(description = "The photo's original bytes, unchanged (JPEG, PNG, WebP or HEIC; the Content-Type is not read).",
        content(
            (crate::openapi::Bytes = "image/jpeg"), (crate::openapi::Bytes = "image/png"), (crate::openapi::Bytes = "image/webp"),
            (crate::openapi::Bytes = "image/heic"), (crate::openapi::Bytes = "application/octet-stream"))),
    responses(
        (status = 201, description = "Stored now; thumbnails follow off the request path.", body = PhotoView),
        (status = 200, description = "Already stored (a retry, or another phone sent it): nothing changed. The body is not read, so a caller who may not see the photo (anonymous, or neither its uploader nor in scope of a record naming it) gets it without EXIF or links.", body = PhotoView),
        (status = 400, description = "`invalid_photo_hash`: not a SHA-256; `body_incomplete`: the body broke off.", body = landpatrol_sync::error::ErrorBody),
        (status = 413, description = "`payload_too_large`: larger than `photos.max_upload_bytes`.", body = landpatrol_sync::error::ErrorBody),
        (status = 415, description = "Not an accepted image (`photo_unrecognised`, `photo_format_unsupported`).", body = landpatrol_sync::error::ErrorBody),
        (status = 422, description = "`photo_hash_mismatch`, `photo_empty`, `photo_too_large` (decompression bomb), `photo_corrupt`.", body = landpatrol_sync::error::ErrorBody),
        (status = 429, description = "`rate_limited` (anonymous uploads, per client address).", body = landpatrol_sync::error::ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait before retrying")))))]
pub async fn put(
    state: web::Data<AppState>,
    user: MaybeAuthUser,
    sha: web::Path<String>,
    req: HttpRequest,
    mut payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let sha = check_hash(&sha)?;
    let limit = state.settings.photos.max_upload_bytes;
    if let Some(len) = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
        && len > limit
    {
        return Err(too_large(limit));
    }
    let user = user.0;
    if user.is_none() {
        // Anonymous (a public tip's photo): counted per client address.
        let cfg = &state.settings.tips;
        state.tip_limits.photo(cfg, crate::tips::ratelimit::client_addr(&req, cfg).as_deref()).await?;
    }
    if let Some(p) = photos::Entity::find_by_id(sha.clone()).one(&state.db).await? {
        // Stored already: the body is not needed (a retry after a lost response).
        return Ok(HttpResponse::Ok().json(view_for(&state, user.as_ref(), p).await?));
    }
    let path = state.photos.store.staging_dir().join(format!("put-{}", uuid::Uuid::new_v4().simple()));
    let mut file = tokio::fs::File::create(&path).await.map_err(ApiError::internal)?;
    let mut digests = Digests::default();
    let received = body::receive(&mut payload, &mut file, limit, &mut digests).await;
    let received = match received {
        Ok(r) => r,
        Err(e) => {
            service::discard(&path).await;
            return Err(ApiError::internal(e));
        }
    };
    match received.ended {
        Ended::Complete => {}
        Ended::TooLarge => {
            service::discard(&path).await;
            return Err(too_large(limit));
        }
        Ended::Interrupted(why) => {
            service::discard(&path).await;
            return Err(ApiError::new(ErrorCode::BodyIncomplete, format!("the body broke off: {why}")));
        }
    }
    if let Err(e) = file.sync_all().await {
        service::discard(&path).await;
        return Err(ApiError::internal(e));
    }
    drop(file);
    let incoming = Incoming { path, len: received.bytes, sha256: hex::encode(digests.sha256.finalize()) };
    let (created, photo) = service::ingest(&state, user.as_ref().map(|u| u.id), incoming, Some(&sha)).await?;
    let view = view_for(&state, user.as_ref(), photo).await?;
    Ok(crate::error::created_or_ok(created, &view))
}

/// The photo as the caller may see it. A retry answers before the body is
/// read, so it proves nothing but the hash: an anonymous uploader, or a user
/// who may not see the photo (not its uploader, no record naming it in scope),
/// learns only that it is stored, never its EXIF or the records naming it.
async fn view_for(state: &AppState, user: Option<&AuthUser>, photo: photos::Model) -> ApiResult<PhotoView> {
    let visible = match user {
        Some(u) => service::can_view(&state.db, u, &photo).await?,
        None => false,
    };
    match user {
        Some(u) if visible => service::view(state, u, photo).await,
        _ => Ok(PhotoView {
            media_type: landpatrol_photo::Format::from_name(&photo.format).media_type().to_owned(),
            sha256: photo.sha256,
            size_bytes: photo.size_bytes,
            width: None,
            height: None,
            uploaded_at: photo.uploaded_at,
            exif: super::types::ExifView { status: "withheld".into(), ..Default::default() },
            thumbnail: photo.thumbnail_status,
            thumbnail_error: None,
            links: Vec::new(),
            evidence_flags: Vec::new(),
        }),
    }
}

pub fn too_large(limit: u64) -> ApiError {
    ApiError::new(ErrorCode::PayloadTooLarge, format!("a photo may have at most {limit} bytes"))
        .with_details(serde_json::json!({ "limit": limit }))
}

/// A photo's facts, EXIF, thumbnail state and evidence checks.
#[utoipa::path(get, path = "/api/v1/photos/{sha256}", tag = "photos", security(("bearer" = [])),
    params(("sha256" = String, Path, description = "SHA-256 of the photo", pattern = "^[0-9a-fA-F]{64}$")),
    responses(
        (status = 200, body = PhotoView),
        (status = 400, description = "`invalid_photo_hash`: not a SHA-256.", body = landpatrol_sync::error::ErrorBody),
        (status = 404, description = "`photo_not_uploaded` (records may name it, the bytes have not arrived) or `not_found` (out of the caller's scope).", body = landpatrol_sync::error::ErrorBody)))]
pub async fn get(state: web::Data<AppState>, user: AuthUser, sha: web::Path<String>) -> ApiResult<HttpResponse> {
    let photo = service::load_visible(&state, &user, &sha).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(service::view(&state, &user, photo).await?))
}

/// The original bytes exactly as uploaded (the evidence; EXIF included).
#[utoipa::path(get, path = "/api/v1/photos/{sha256}/original", tag = "photos", security(("bearer" = [])),
    params(("sha256" = String, Path, description = "SHA-256 of the photo", pattern = "^[0-9a-fA-F]{64}$"),
        ("If-None-Match" = Option<String>, Header, description = "The `ETag` of a copy the client has")),
    responses(
        (status = 200, description = "The bytes as uploaded, with the photo's media type.",
            content((crate::openapi::Bytes = "image/jpeg"), (crate::openapi::Bytes = "image/png"), (crate::openapi::Bytes = "image/webp"),
                (crate::openapi::Bytes = "image/heic")),
            headers(("ETag" = String, description = "The SHA-256 in quotes"))),
        (status = 304, description = "`If-None-Match` names this photo: the client's copy is it.", headers(("ETag" = String))),
        (status = 400, description = "`invalid_photo_hash`: not a SHA-256.", body = landpatrol_sync::error::ErrorBody),
        (status = 404, description = "`photo_not_uploaded` or `not_found` (out of the caller's scope).", body = landpatrol_sync::error::ErrorBody)))]
pub async fn original(
    state: web::Data<AppState>,
    user: AuthUser,
    sha: web::Path<String>,
    req: HttpRequest,
) -> ApiResult<HttpResponse> {
    let photo = service::load_visible(&state, &user, &sha).await?;
    let etag = format!("\"{}\"", photo.sha256);
    if not_modified(&req, &etag) {
        return Ok(HttpResponse::NotModified().insert_header((header::ETAG, etag)).finish());
    }
    let blob = service::original(&state, &photo).await?;
    let media_type = super::service::media_type(&photo);
    let chunks = stream::unfold(blob.reader, |mut reader| async move {
        let mut buf = vec![0u8; 64 * 1024];
        match reader.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<_, std::io::Error>(web::Bytes::from(buf)), reader))
            }
            Err(e) => Some((Err(e), reader)),
        }
    });
    Ok(HttpResponse::Ok()
        .content_type(media_type)
        .insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, "private, max-age=31536000, immutable"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .no_chunking(blob.len)
        .streaming(chunks))
}

fn not_modified(req: &HttpRequest, etag: &str) -> bool {
    req.headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ThumbQuery {
    /// 256 or 1024 (the box the thumbnail fits in); 1024 when absent.
    #[param(schema_with = crate::openapi::thumb_size_schema)]
    pub size: Option<u32>,
}

/// An upright JPEG thumbnail without any metadata.
#[utoipa::path(get, path = "/api/v1/photos/{sha256}/thumb", tag = "photos", security(("bearer" = [])),
    params(("sha256" = String, Path, description = "SHA-256 of the photo", pattern = "^[0-9a-fA-F]{64}$"), ThumbQuery,
        ("If-None-Match" = Option<String>, Header, description = "The `ETag` of a copy the client has")),
    responses(
        (status = 200, description = "JPEG, no EXIF.", content_type = "image/jpeg", body = inline(crate::openapi::Bytes),
            headers(("ETag" = String, description = "The SHA-256 and the size, in quotes"))),
        (status = 304, description = "`If-None-Match` names this thumbnail.", headers(("ETag" = String))),
        (status = 400, description = "`invalid_query`: a size other than 256 or 1024; `invalid_photo_hash`.", body = landpatrol_sync::error::ErrorBody),
        (status = 404, description = "`thumbnail_unavailable` (HEIC or damaged pixels), `photo_not_uploaded`, `not_found`.", body = landpatrol_sync::error::ErrorBody),
        (status = 409, description = "`thumbnail_pending`.", body = landpatrol_sync::error::ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait before retrying")))))]
pub async fn thumb(
    state: web::Data<AppState>,
    user: AuthUser,
    sha: web::Path<String>,
    q: web::Query<ThumbQuery>,
    req: HttpRequest,
) -> ApiResult<HttpResponse> {
    let size = q.size.unwrap_or(1024);
    if !landpatrol_photo::THUMBNAIL_SIZES.contains(&size) {
        return Err(ApiError::new(ErrorCode::InvalidQuery, "size is 256 or 1024"));
    }
    let photo = service::load_visible(&state, &user, &sha).await?;
    let etag = format!("\"{}-{size}\"", photo.sha256);
    if photo.thumbnail_status == "ready" && not_modified(&req, &etag) {
        return Ok(HttpResponse::NotModified().insert_header((header::ETAG, etag)).finish());
    }
    match service::thumbnail(&state, &photo, size).await {
        Ok(bytes) => Ok(HttpResponse::Ok()
            .content_type("image/jpeg")
            .insert_header((header::ETAG, etag))
            .insert_header((header::CACHE_CONTROL, "private, max-age=31536000, immutable"))
            .insert_header(("X-Content-Type-Options", "nosniff"))
            .body(bytes)),
        Err(e) if e.code == ErrorCode::ThumbnailPending => {
            let mut res = actix_web::ResponseError::error_response(&e);
            res.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
            Ok(res)
        }
        Err(e) => Err(e),
    }
}
