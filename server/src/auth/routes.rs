//! HTTP handlers for `/auth`, `/devices` and `/users`.

use actix_web::{HttpResponse, web};
use landpatrol_sync::Role;
use landpatrol_sync::error::ErrorBody;
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::AuthUser;
use super::accounts::{self, UserPatch};
use super::service::{self, AuthContext, DeviceView, NewDevice, NewUser, TokenPair, UserView};
use crate::error::ApiResult;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/auth/login").post(login))
        .service(web::resource("/auth/refresh").post(refresh))
        .service(web::resource("/auth/logout").post(logout))
        .service(web::resource("/auth/me").get(me))
        .service(web::resource("/devices").post(register_device).get(list_devices))
        .service(web::resource("/devices/{id}").delete(revoke_device))
        .service(web::resource("/users").post(create_user).get(list_users))
        .service(web::resource("/users/{id}").patch(update_user))
        .configure(super::feeds::configure);
}

fn ctx(state: &AppState) -> AuthContext<'_> {
    AuthContext::of(state)
}

/// Login request.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"username": "inspector", "password": "landpatrol-demo", "device_id": "0193a4f2-7c1e-7d3a-9b1e-2f4c5d6e7f81"}))]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
    /// Binds the session to a registered device (`POST /devices`).
    pub device_id: Option<Uuid>,
}

/// A refresh token, for `/auth/refresh` and `/auth/logout`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"refresh_token": "lprt_Qm9vdHN0cmFw…"}))]
pub struct RefreshRequest {
    pub refresh_token: String,
}

/// Logs in with username and password.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = TokenPair), (status = 401, description = "`invalid_credentials`", body = ErrorBody),
              (status = 403, description = "`device_revoked`: `device_id` was revoked; register a new device", body = ErrorBody),
              (status = 422, description = "`unknown_device`: `device_id` is not registered to this user", body = ErrorBody),
              (status = 429, description = "`rate_limited`: too many failed logins for this username or from this address (`auth.login_failures_per_user`, `auth.login_failures_per_address`); the lockout doubles with each further failure", body = ErrorBody,
                  headers(("Retry-After" = u64, description = "Seconds until a login is checked again")))))]
pub async fn login(
    state: web::Data<AppState>,
    req: actix_web::HttpRequest,
    body: web::Json<LoginRequest>,
) -> ApiResult<HttpResponse> {
    let addr = crate::net::client_addr(&req, state.settings.tips.trust_forwarded_for);
    let pair =
        service::login_throttled(&state, addr.as_deref(), &body.username, &body.password, body.device_id).await?;
    Ok(HttpResponse::Ok().json(pair))
}

/// Exchanges a refresh token for a new pair. Each refresh token works once;
/// presenting a spent one revokes every token of its family.
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = TokenPair),
              (status = 401, description = "`invalid_refresh_token` or `refresh_token_reused`", body = ErrorBody)))]
pub async fn refresh(state: web::Data<AppState>, body: web::Json<RefreshRequest>) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(service::refresh(&ctx(&state), &body.refresh_token).await?))
}

/// Ends the session of a refresh token (idempotent).
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", request_body = RefreshRequest,
    responses((status = 204, description = "session ended (also for a token that was not valid)")))]
pub async fn logout(state: web::Data<AppState>, body: web::Json<RefreshRequest>) -> ApiResult<HttpResponse> {
    service::logout(&state.db, &body.refresh_token).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The caller's account.
#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = UserView), (status = 404, description = "`not_found`: the account is gone", body = ErrorBody)))]
pub async fn me(state: web::Data<AppState>, user: AuthUser) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(service::me(&state.db, &user).await?))
}

/// Registers the caller's device. Retrying with the same `device_id` returns
/// the same device (200) instead of creating another (201).
#[utoipa::path(post, path = "/api/v1/devices", tag = "auth", security(("bearer" = [])), request_body = NewDevice,
    responses((status = 201, body = DeviceView), (status = 200, description = "already registered", body = DeviceView),
              (status = 409, description = "`duplicate_record`: another user's device has this `device_id`", body = ErrorBody),
              (status = 422, description = "`validation_failed`: name, platform or app_version empty or too long", body = ErrorBody)))]
pub async fn register_device(
    state: web::Data<AppState>,
    user: AuthUser,
    body: web::Json<NewDevice>,
) -> ApiResult<HttpResponse> {
    let (created, device) = service::register_device(&state.db, &user, body.into_inner()).await?;
    Ok(crate::error::created_or_ok(created, &device))
}

/// The caller's registered devices.
#[utoipa::path(get, path = "/api/v1/devices", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = [DeviceView])))]
pub async fn list_devices(state: web::Data<AppState>, user: AuthUser) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(service::list_devices(&state.db, &user).await?))
}

/// Creates a user (bureau admin).
#[utoipa::path(post, path = "/api/v1/users", tag = "auth", security(("bearer" = [])), request_body = NewUser,
    responses((status = 201, body = UserView), (status = 403, description = "`forbidden`: only the bureau admin", body = ErrorBody),
              (status = 409, description = "`username_taken`", body = ErrorBody),
              (status = 422, description = "`validation_failed` (username, password, town, patrol_towns) / `unknown_town`", body = ErrorBody)))]
pub async fn create_user(
    state: web::Data<AppState>,
    user: AuthUser,
    body: web::Json<NewUser>,
) -> ApiResult<HttpResponse> {
    user.require(&[Role::BureauAdmin])?;
    Ok(HttpResponse::Created().json(service::create_user(&state.db, body.into_inner()).await?))
}

/// Lists users (bureau admin).
#[utoipa::path(get, path = "/api/v1/users", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = [UserView]), (status = 403, description = "`forbidden`: only the bureau admin", body = ErrorBody)))]
pub async fn list_users(state: web::Data<AppState>, user: AuthUser) -> ApiResult<HttpResponse> {
    user.require(&[Role::BureauAdmin])?;
    Ok(HttpResponse::Ok().json(service::list_users(&state.db).await?))
}

/// Revokes a device (lost, stolen, handed on): its sessions end on their next
/// request, its refresh tokens are void and it can not log in again
/// (`device_revoked`). The owner or the bureau admin may; revoking again
/// answers the device as it is.
#[utoipa::path(delete, path = "/api/v1/devices/{id}", tag = "auth", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The device id")),
    responses((status = 200, description = "revoked (now or before)", body = DeviceView),
              (status = 404, description = "`not_found`: no such device, or another user's (unless the caller is the bureau admin)", body = ErrorBody)))]
pub async fn revoke_device(state: web::Data<AppState>, user: AuthUser, id: web::Path<Uuid>) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(accounts::revoke_device(&state.db, &user, id.into_inner()).await?))
}

/// Changes a user (bureau admin): disable (`active: false`), role, town, patrol
/// towns, display name. Effective on the user's next request; disabling also
/// voids the refresh tokens.
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "auth", security(("bearer" = [])), request_body = UserPatch,
    params(("id" = Uuid, Path, description = "The user id")),
    responses((status = 200, body = UserView), (status = 403, description = "`forbidden`: only the bureau admin", body = ErrorBody),
              (status = 404, description = "`not_found`: no such user", body = ErrorBody),
              (status = 422, description = "`validation_failed` (a town officer without a town, a town or patrol towns for a role that has none, the admin's own account) / `unknown_town`", body = ErrorBody)))]
pub async fn update_user(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
    body: web::Json<UserPatch>,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(accounts::update_user(&state.db, &user, id.into_inner(), body.into_inner()).await?))
}
