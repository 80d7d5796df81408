//! The console's sign-in. The access token lives only in the page's memory;
//! the refresh token lives in an `HttpOnly`, `SameSite=Strict` cookie scoped
//! to `/console/session`, so page script never reads it and no token is ever
//! put in a URL. A reload or a new tab gets a fresh access token from the
//! cookie (`POST /console/session/refresh`), rotating it.
//!
//! CSRF: the cookie is only sent to these three endpoints, only by same-site
//! requests (`SameSite=Strict`), and each endpoint also requires the header
//! `X-Landpatrol-Console: 1` (a cross-origin page can not send a custom
//! header without a CORS preflight, which this server never grants) and, when
//! the browser sends `Origin`, an origin equal to the server's own. Every other
//! endpoint takes the bearer token only, which a foreign page can not know.
//! A second cookie, `lp_console=1` (no secret), tells the page a session
//! exists, so a page opened signed out does not ask for a refresh.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use landpatrol_sync::ErrorCode;
use landpatrol_sync::error::ErrorBody;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::service::{self, AuthContext, TokenPair, UserView};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// The refresh cookie's name.
pub const COOKIE: &str = "lp_console_refresh";
/// The header every session request carries.
pub const HEADER: &str = "X-Landpatrol-Console";
const PATH: &str = "/console/session";

/// A console sign-in.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"username": "officer-120115001", "password": "landpatrol-demo"}))]
pub struct SignIn {
    pub username: String,
    pub password: String,
}

/// A console session: the access token for the page's memory (the refresh
/// token is in the cookie, never in the body).
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"access_token": "eyJhbGciOiJIUzI1NiJ9…", "expires_in": 900,
    "user": {"id": "0193a4f2-7c1e-7d3a-9b1e-2f4c5d6e7f80", "username": "officer-120115001", "display_name": "海滨街道 office",
             "role": "town_officer", "town_id": "0286c0a4-5f1e-4c8a-9d2b-3e4f5a6b7c8d", "patrol_towns": [], "active": true}}))]
pub struct ConsoleSession {
    pub access_token: String,
    /// Seconds until the access token expires; refresh a little before.
    pub expires_in: i64,
    pub user: UserView,
}

/// Refuses a session request that is not the console's own (see the module docs).
fn same_origin(req: &HttpRequest) -> ApiResult<()> {
    let refused = |why: &str| ApiError::new(ErrorCode::CsrfRefused, why.to_owned());
    if req.headers().get(HEADER).and_then(|v| v.to_str().ok()) != Some("1") {
        return Err(refused("console session requests carry X-Landpatrol-Console: 1"));
    }
    if let Some(origin) = req.headers().get(actix_web::http::header::ORIGIN) {
        let info = req.connection_info();
        let own = format!("{}://{}", info.scheme(), info.host());
        if origin.to_str().ok() != Some(own.as_str()) {
            return Err(refused("console session requests come from the console's own origin"));
        }
    }
    Ok(())
}

/// The marker cookie: no secret, readable by the page, so a page opened
/// without a session does not ask for a refresh it can not get.
pub const MARKER: &str = "lp_console";

/// The `Set-Cookie` values carrying `value` for `max_age` seconds (0: remove),
/// and the marker beside it.
fn set_cookies(req: &HttpRequest, value: &str, max_age: i64) -> [(actix_web::http::header::HeaderName, String); 2] {
    let secure = if req.connection_info().scheme() == "https" { "; Secure" } else { "" };
    let name = actix_web::http::header::SET_COOKIE;
    [
        (name.clone(), format!("{COOKIE}={value}; Path={PATH}; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}")),
        (
            name,
            format!("{MARKER}={}; Path=/console; SameSite=Strict; Max-Age={max_age}{secure}", u8::from(max_age > 0)),
        ),
    ]
}

/// The refresh cookie the browser sent, if any.
fn presented(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get_all(actix_web::http::header::COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, v)| *k == COOKIE && !v.is_empty())
        .map(|(_, v)| v.to_owned())
}

fn answer(req: &HttpRequest, pair: TokenPair) -> HttpResponse {
    let left = (pair.refresh_expires_at - Utc::now()).num_seconds().max(0);
    let mut res = HttpResponse::Ok();
    res.insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"));
    for c in set_cookies(req, &pair.refresh_token, left) {
        res.append_header(c);
    }
    res.json(ConsoleSession { access_token: pair.access_token, expires_in: pair.expires_in, user: pair.user })
}

/// Signs in to the console: the access token in the body, the refresh token
/// in an `HttpOnly` cookie. Throttled like `POST /auth/login`.
#[utoipa::path(post, path = "/console/session", tag = "console", request_body = SignIn,
    params(("X-Landpatrol-Console" = String, Header, description = "Must be `1` (CSRF defence)", example = "1")),
    responses((status = 200, body = ConsoleSession,
                   headers(("Set-Cookie" = String, description = "`lp_console_refresh=…; HttpOnly; SameSite=Strict; Path=/console/session`"))),
              (status = 401, description = "`invalid_credentials`", body = ErrorBody),
              (status = 403, description = "`csrf_refused`: the header is missing or the request came from another origin", body = ErrorBody),
              (status = 429, description = "`rate_limited`: too many failed logins", body = ErrorBody,
                   headers(("Retry-After" = u64, description = "Seconds until a login is checked again")))))]
pub async fn sign_in(state: web::Data<AppState>, req: HttpRequest, body: web::Json<SignIn>) -> ApiResult<HttpResponse> {
    same_origin(&req)?;
    let addr = crate::net::client_addr(&req, state.settings.tips.trust_forwarded_for);
    let pair = service::login_throttled(&state, addr.as_deref(), &body.username, &body.password, None).await?;
    Ok(answer(&req, pair))
}

/// A fresh access token from the refresh cookie (which rotates). A spent
/// cookie revokes its whole family, like `POST /auth/refresh`.
#[utoipa::path(post, path = "/console/session/refresh", tag = "console",
    params(("X-Landpatrol-Console" = String, Header, description = "Must be `1` (CSRF defence)", example = "1")),
    responses((status = 200, body = ConsoleSession),
              (status = 401, description = "`invalid_refresh_token` (no cookie, expired, signed out) or `refresh_token_reused`", body = ErrorBody),
              (status = 403, description = "`csrf_refused`", body = ErrorBody)))]
pub async fn refresh(state: web::Data<AppState>, req: HttpRequest) -> ApiResult<HttpResponse> {
    same_origin(&req)?;
    let Some(token) = presented(&req) else {
        return Err(ApiError::new(ErrorCode::InvalidRefreshToken, "not signed in"));
    };
    let pair = service::refresh(&AuthContext::of(&state), &token).await?;
    Ok(answer(&req, pair))
}

/// Signs out: the refresh token is revoked and the cookie cleared (also
/// when there was none).
#[utoipa::path(post, path = "/console/session/logout", tag = "console",
    params(("X-Landpatrol-Console" = String, Header, description = "Must be `1` (CSRF defence)", example = "1")),
    responses((status = 204, description = "Signed out; the cookie is cleared"),
              (status = 403, description = "`csrf_refused`", body = ErrorBody)))]
pub async fn logout(state: web::Data<AppState>, req: HttpRequest) -> ApiResult<HttpResponse> {
    same_origin(&req)?;
    if let Some(token) = presented(&req) {
        service::logout(&state.db, &token).await?;
    }
    let mut res = HttpResponse::NoContent();
    for c in set_cookies(&req, "", 0) {
        res.append_header(c);
    }
    Ok(res.finish())
}
