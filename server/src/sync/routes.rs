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
/// with flat rows (guides/watermelondb.md has the tables and columns). Takes
/// the query exactly as WatermelonDB's documented client code builds it
/// (`last_pulled_at=null`, `migration=null` on a first sync). A record the
/// device can not have comes under `created`, one it has under `updated`;
/// records that left the caller's scope come as `deleted`. `timestamp` is
/// opaque: pass it back as `last_pulled_at`.
#[utoipa::path(get, path = "/api/v1/sync/watermelon", tag = "sync", security(("bearer" = [])),
    params(super::watermelon::PullQuery),
    responses((status = 200, body = super::watermelon::WatermelonPull),
              (status = 400, description = "invalid_query: last_pulled_at, schema_version, migration or tables malformed", body = ErrorBody),
              (status = 401, description = "unauthenticated / invalid_token", body = ErrorBody)))]
pub async fn watermelon_pull(
    state: web::Data<AppState>,
    user: AuthUser,
    q: web::Query<super::watermelon::PullQuery>,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(super::watermelon::pull::pull(&state, &user, &q).await?))
}

/// WatermelonDB `pushChanges`. The body is the changes object as the
/// documented client code sends it (`JSON.stringify(changes)`, any or no
/// Content-Type; `{"changes": …, "lastPulledAt": n}` is read too). Each row
/// goes through the same rules as native ops (the `_changed` columns form the
/// patch, a create of an existing id is an update, a status change is a
/// transition from the server's current state, the row's `updated_at` is its
/// edit time). Refused created rows come back in `experimentalRejectedIds`
/// and stay on the phone; every refusal is in the device's pulled
/// `sync_rejections` table, and a refused update or delete is undone on the
/// phone by its next pull. Needs a session bound to a registered device.
#[utoipa::path(post, path = "/api/v1/sync/watermelon", tag = "sync", security(("bearer" = [])),
    params(super::watermelon::PushQuery),
    request_body(content = Object, description = "WatermelonDB's changes: `{table: {created: [rows], updated: [rows], deleted: [ids]}}`",
        content_type = "application/json",
        example = json!({"observations": {"created": [{"id": "a1B2c3D4e5F6g7H8", "inspection_id": "k9L8m7N6b5V4c3X2", "lon": 117.295129, "lat": 39.733503,
            "accuracy_m": 5, "crs": "wgs84", "note": "新建彩钢房", "photos": "[]", "observed_at": 1_495_238_591_000_i64,
            "created_at": 1_495_238_591_000_i64, "updated_at": 1_495_238_591_000_i64, "_status": "created", "_changed": ""}], "updated": [], "deleted": []},
            "cases": {"created": [], "updated": [{"id": "0193a4f2-7c1e-7d3a-9b1e-2f4c5d6e7fa0", "address": "北台村东200米", "updated_at": 1_495_238_600_000_i64,
            "_status": "updated", "_changed": "address,updated_at"}], "deleted": []}})),
    responses((status = 200, body = super::watermelon::WatermelonPushResult),
              (status = 400, description = "invalid_json / body_incomplete", body = ErrorBody),
              (status = 401, description = "unauthenticated / invalid_token", body = ErrorBody),
              (status = 413, description = "payload_too_large: larger than sync.max_watermelon_push_bytes", body = ErrorBody),
              (status = 422, description = "unknown_device (the session is not bound to a registered device) / unknown_table", body = ErrorBody)))]
pub async fn watermelon_push(
    state: web::Data<AppState>,
    user: AuthUser,
    q: web::Query<super::watermelon::PushQuery>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let pulled = q.last_pulled_at.as_deref().and_then(|s| s.trim().parse::<i64>().ok()).filter(|n| *n > 0);
    let body = crate::error::read_limited(payload, state.settings.sync.max_watermelon_push_bytes, "the push").await?;
    let changes = super::watermelon::parse_push_body(&body)?;
    Ok(HttpResponse::Ok().json(super::watermelon::push::push(&state, &user, &changes, pulled).await?))
}
