//! HTTP handlers for `/tips`.

use actix_web::{HttpRequest, HttpResponse, web};
use landpatrol_sync::error::ErrorBody;
use uuid::Uuid;

use super::ratelimit::client_addr;
use super::service;
use super::types::*;
use crate::auth::{AuthUser, MaybeAuthUser};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Largest tip body: a 4000-character description, ten photo hashes and a
/// contact fit many times over.
pub const MAX_TIP_BYTES: usize = 64 * 1024;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/tips")
            .app_data(web::JsonConfig::default().limit(MAX_TIP_BYTES).error_handler(crate::error::json_error))
            .get(list)
            .post(submit),
    )
    .service(web::resource("/tips/{id}").get(get))
    .service(web::resource("/tips/{id}/photos/{sha256}").get(public_photo))
    .service(web::resource("/tips/{id}/triage").post(triage));
}

fn header<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.headers().get(name).map(|v| v.to_str().unwrap_or("\u{0}"))
}

/// Reports a suspected land-use violation. Anyone may report, without a
/// login. Send photos first (`PUT /photos/{sha256}`, no login needed) and
/// name them by hash. Keep the answer's `receipt_token`: with it
/// `status_url` shows how the report stands. An `Idempotency-Key` makes a
/// resubmission after a lost answer safe: the same key and body answer `200`
/// with the same tip; the same key with another body is `409`.
#[utoipa::path(post, path = "/api/v1/tips", tag = "tips", security((), ("bearer" = [])), request_body = NewTip,
    params(
        ("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]{1,200}$",
            description = "1 to 200 visible ASCII characters, e.g. a UUID made once per tip"),
        ("X-Device-Id" = Option<String>, Header, pattern = "^[!-~]{1,100}$",
            description = "A stable id of the reporting app installation, 1 to 100 visible ASCII characters (rate limited per device)")),
    responses(
        (status = 201, description = "Received", body = TipReceipt),
        (status = 200, description = "A replay of an earlier submission with the same Idempotency-Key and body: nothing new was made", body = TipReceipt),
        (status = 400, description = "`invalid_json` (also unknown fields, wrong types)", body = ErrorBody),
        (status = 409, description = "`idempotency_conflict`: the key was used for a different tip, or by another submitter (a signed-in user and an anonymous one, or two users, never share a receipt)", body = ErrorBody),
        (status = 413, description = "`payload_too_large`: a body over 64 KiB", body = ErrorBody),
        (status = 422, description = "`coordinate_out_of_range` / `validation_failed` (description 1..4000 characters, too many photos, a bad photo hash, a bad header)", body = ErrorBody),
        (status = 429, description = "`rate_limited` per client address or device", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait before retrying")))))]
pub async fn submit(
    state: web::Data<AppState>,
    user: MaybeAuthUser,
    req: HttpRequest,
    body: web::Json<NewTip>,
) -> ApiResult<HttpResponse> {
    let sub = service::native(
        &state,
        user.0.as_ref(),
        body.into_inner(),
        client_addr(&req, &state.settings.tips),
        header(&req, "x-device-id"),
        header(&req, "idempotency-key"),
    )?;
    let (created, tip) = service::submit(&state, sub).await?;
    let receipt = service::receipt(&state, &tip);
    Ok(crate::error::created_or_ok(created, &receipt))
}

/// How a tip stands. With `receipt_token` (no login): the reporter's view,
/// nothing private; a wrong token is `404`, as for a tip that does not
/// exist. Without a token, a staff login (the office of the tip's town, or
/// the bureau) sees everything, including the reporter's contact and the
/// open cases within `tips.duplicate_radius_m` (nearest first).
#[utoipa::path(get, path = "/api/v1/tips/{id}", tag = "tips", security((), ("bearer" = [])),
    params(("id" = Uuid, Path, description = "tip id"), ReceiptQuery),
    responses(
        (status = 200, description = "With `receipt_token` (no login): the reporter's view, nothing private. Without it, with a staff login: everything.",
            body = inline(crate::openapi::TipAnswer)),
        (status = 403, description = "`forbidden`: inspectors and verifiers do not handle tips", body = ErrorBody),
        (status = 404, description = "`not_found`: no such tip, a wrong receipt token, no token and no login, or another town's tip", body = ErrorBody)))]
pub async fn get(
    state: web::Data<AppState>,
    user: MaybeAuthUser,
    id: web::Path<Uuid>,
    q: web::Query<ReceiptQuery>,
) -> ApiResult<HttpResponse> {
    if let Some(token) = &q.receipt_token {
        return Ok(HttpResponse::Ok().json(service::public_view(&state, *id, token).await?));
    }
    match user.0 {
        Some(u) => Ok(HttpResponse::Ok().json(service::get(&state, &u, *id).await?)),
        None => Err(ApiError::not_found("tip")),
    }
}

/// A tip's photo as the public sees it, for the holder of the tip's receipt:
/// a copy without EXIF, XMP or GPS (the 1024-pixel JPEG made from it), so a
/// status page shows the photo without where or when exactly it was taken, or
/// with what. The original stays byte for byte for the office
/// (`GET /photos/{sha256}/original`).
#[utoipa::path(get, path = "/api/v1/tips/{id}/photos/{sha256}", tag = "tips", security(()),
    params(("id" = Uuid, Path, description = "tip id"),
        ("sha256" = String, Path, description = "SHA-256 of a photo the tip names", pattern = "^[0-9a-fA-F]{64}$"),
        ("receipt_token" = String, Query, description = "The tip's receipt token")),
    responses(
        (status = 200, description = "A JPEG without any metadata", content_type = "image/jpeg", body = crate::openapi::Bytes),
        (status = 400, description = "`invalid_photo_hash`", body = ErrorBody),
        (status = 404, description = "`not_found`: no such tip, a wrong receipt token, a photo the tip does not name; `thumbnail_unavailable`: no copy can be made of it (HEIC)", body = ErrorBody),
        (status = 409, description = "`thumbnail_pending`: the copy is being made", body = ErrorBody)))]
pub async fn public_photo(
    state: web::Data<AppState>,
    path: web::Path<(Uuid, String)>,
    q: web::Query<ReceiptQuery>,
) -> ApiResult<HttpResponse> {
    let (id, sha) = path.into_inner();
    let token = q.receipt_token.as_deref().unwrap_or_default();
    let bytes = service::public_photo(&state, id, &sha, token).await?;
    Ok(HttpResponse::Ok()
        .content_type("image/jpeg")
        .insert_header(("Cache-Control", "private, max-age=3600"))
        .insert_header(("Referrer-Policy", "no-referrer"))
        .body(bytes))
}

/// The tips in the caller's scope (a town office: its town's; the bureau:
/// all, including tips outside every town), newest first.
#[utoipa::path(get, path = "/api/v1/tips", tag = "tips", security(("bearer" = [])), params(TipFilter),
    responses((status = 200, body = TipPage), (status = 400, description = "`invalid_query`: an unknown status, a bad limit or cursor", body = ErrorBody),
              (status = 403, description = "`forbidden`: inspectors and verifiers", body = ErrorBody)))]
pub async fn list(state: web::Data<AppState>, user: AuthUser, q: web::Query<TipFilter>) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(service::list(&state, &user, &q).await?))
}

/// Decides about a tip (the office of its town, or the bureau):
/// `create_case` makes a case with source `tip` from it (its photos become
/// the case's); `merge` adds it to an open case in scope (a `tip_merged`
/// ledger entry, photos linked); `reject` needs a `note`. Only once.
#[utoipa::path(post, path = "/api/v1/tips/{id}/triage", tag = "tips", security(("bearer" = [])), request_body = TriageRequest,
    params(("id" = Uuid, Path, description = "tip id")),
    responses(
        (status = 200, description = "The tip after the decision", body = TipView),
        (status = 403, description = "`forbidden`: inspectors and verifiers", body = ErrorBody),
        (status = 404, description = "`not_found`: no such tip or case, or another town's", body = ErrorBody),
        (status = 409, description = "`tip_already_triaged`, with details.status and details.case_id", body = ErrorBody),
        (status = 422, description = "`reason_required` (reject without note) / `validation_failed` (merge into a closed case)", body = ErrorBody)))]
pub async fn triage(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
    body: web::Json<TriageRequest>,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(service::triage(&state, &user, *id, body.into_inner()).await?))
}
