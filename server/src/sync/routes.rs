//! HTTP handlers for `/sync`.

use actix_web::{HttpResponse, web};
use landpatrol_sync::error::ErrorBody;
use landpatrol_sync::sync::{PullRequest, PullResponse, PushRequest, PushResponse};

use crate::auth::AuthUser;
use crate::error::ApiResult;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/sync/push").post(push))
        .service(web::resource("/sync/pull").post(pull))
        .service(web::resource("/sync/watermelon").get(watermelon_pull).post(watermelon_push));
}

/// Pushes a device's ops (SYNC.md). Ops are applied in order, each atomically
/// with its result stored: a retried op returns its stored result with status
/// `duplicate` and changes nothing. Per-op refusals are `rejected` results with
/// a stable code; the rest of the batch is unaffected.
#[utoipa::path(post, path = "/api/v1/sync/push", tag = "sync", security(("bearer" = [])), request_body = PushRequest,
    responses((status = 200, body = PushResponse),
              (status = 413, description = "`batch_too_large`: more ops than `sync.max_batch`", body = ErrorBody),
              (status = 422, description = "`unknown_device`: not the caller's registered device, or not the device of the session", body = ErrorBody)))]
pub async fn push(state: web::Data<AppState>, user: AuthUser, body: web::Json<PushRequest>) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(super::push::push(&state, &user, body.into_inner()).await?))
}

/// Pulls the changes in the caller's scope after a cursor (null: from the
/// start), paged; each record once with its latest state; `evict` when a
/// record left the caller's scope.
#[utoipa::path(post, path = "/api/v1/sync/pull", tag = "sync", security(("bearer" = [])), request_body = PullRequest,
    responses((status = 200, body = PullResponse), (status = 400, description = "`invalid_cursor`", body = ErrorBody),
              (status = 422, description = "`validation_failed`: limit outside 1 to `sync.max_pull_limit`", body = ErrorBody)))]
pub async fn pull(state: web::Data<AppState>, user: AuthUser, body: web::Json<PullRequest>) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(super::pull::pull(&state, &user, body.into_inner()).await?))
}

/// WatermelonDB `pullChanges`: `{changes: {table: {created, updated, deleted}}, timestamp}`
/// with flat rows; records that left the caller's scope come as `deleted`.
/// `timestamp` is opaque: pass it back as `last_pulled_at`.
#[utoipa::path(get, path = "/api/v1/sync/watermelon", tag = "sync", security(("bearer" = [])), params(super::watermelon::PullQuery),
    responses((status = 200, body = super::watermelon::PullResponse), (status = 400, body = ErrorBody)))]
pub async fn watermelon_pull(
    state: web::Data<AppState>,
    user: AuthUser,
    q: web::Query<super::watermelon::PullQuery>,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(super::watermelon::pull(&state, &user, &q).await?))
}

/// WatermelonDB `pushChanges`: each row goes through the same rules as native
/// ops (the `_changed` columns form the patch, a create of an existing id is an
/// update, a status change is a transition from the server's current state);
/// refused rows come back in `experimentalRejectedIds`. Needs a session bound
/// to a registered device.
#[utoipa::path(post, path = "/api/v1/sync/watermelon", tag = "sync", security(("bearer" = [])),
    request_body = super::watermelon::PushBody,
    responses((status = 200, body = super::watermelon::PushResponse), (status = 422, description = "unknown_device", body = ErrorBody)))]
pub async fn watermelon_push(
    state: web::Data<AppState>,
    user: AuthUser,
    body: web::Json<super::watermelon::PushBody>,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(super::watermelon::push(&state, &user, body.into_inner()).await?))
}
