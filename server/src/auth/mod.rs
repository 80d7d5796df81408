//! Authentication (Argon2id passwords, JWT access tokens, rotating refresh
//! tokens bound to devices) and the caller's scope.

pub mod accounts;
pub mod feeds;
pub mod password;
pub mod routes;
pub mod service;
pub mod throttle;
pub mod token;

use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use futures_util::future::LocalBoxFuture;
use landpatrol_sync::{ErrorCode, Role};
use sea_orm::EntityTrait;
use uuid::Uuid;

use crate::db::entities::{devices, users};

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// The authenticated caller, taken from the bearer token.
#[derive(Clone, Debug)]
pub struct AuthUser {
    pub id: Uuid,
    pub username: String,
    pub role: Role,
    pub town: Option<Uuid>,
    pub patrol_towns: Vec<Uuid>,
    pub device: Option<Uuid>,
    /// When the access token expires (unix seconds); `None` for the server's own actors.
    pub expires_at: Option<i64>,
}

/// Which towns' data a caller may see and change.
#[derive(Clone, Debug, PartialEq)]
pub enum Scope {
    /// The bureau and the leadership group: everything, including the unassigned queue.
    District,
    /// The given towns only (a town officer's town, an inspector's patrol towns).
    Towns(Vec<Uuid>),
}

impl Scope {
    /// Whether a record of `town` (None: the unassigned queue) is in scope.
    pub fn covers(&self, town: Option<Uuid>) -> bool {
        match self {
            Scope::District => true,
            Scope::Towns(list) => town.is_some_and(|t| list.contains(&t)),
        }
    }
}

impl AuthUser {
    pub fn scope(&self) -> Scope {
        match self.role {
            Role::BureauAdmin | Role::Verifier => Scope::District,
            Role::TownOfficer => Scope::Towns(self.town.into_iter().collect()),
            Role::Inspector if self.patrol_towns.is_empty() => Scope::District,
            Role::Inspector => Scope::Towns(self.patrol_towns.clone()),
        }
    }

    /// Whether the caller sees an inspection or observation of `town` made by
    /// `creator`, as pull decides it: an inspector their own, others by town.
    pub fn sees_field_record(&self, town: Option<Uuid>, creator: Option<Uuid>) -> bool {
        match self.role {
            Role::Inspector => creator == Some(self.id),
            _ => self.scope().covers(town),
        }
    }

    /// Refuses unless the caller has one of `roles`.
    pub fn require(&self, roles: &[Role]) -> Result<(), ApiError> {
        if roles.contains(&self.role) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!("the role {} may not do this", self.role))
                .with_details(serde_json::json!({ "allowed_roles": roles })))
        }
    }

    /// Refuses unless `town` is in the caller's scope.
    pub fn require_town(&self, town: Option<Uuid>) -> Result<(), ApiError> {
        if self.scope().covers(town) { Ok(()) } else { Err(ApiError::out_of_scope()) }
    }
}

fn bearer(req: &HttpRequest) -> Result<&str, ApiError> {
    let header = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .ok_or_else(|| ApiError::new(ErrorCode::Unauthenticated, "send Authorization: Bearer <access token>"))?;
    let value =
        header.to_str().map_err(|_| ApiError::new(ErrorCode::InvalidToken, "malformed Authorization header"))?;
    value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::new(ErrorCode::InvalidToken, "expected a Bearer token"))
}

/// The caller named by a bearer token, as the account stands now: the token
/// proves who signed in, the database says whether the account still exists
/// and is active, its role and towns, and whether the session's device is
/// still allowed. Disabling a user, changing a role or a town, or revoking a
/// device takes effect on the next request, on every instance.
pub async fn user_from_token(state: &AppState, token: &str) -> Result<AuthUser, ApiError> {
    let claims = state.keys.verify(token).map_err(|e| {
        let msg = match e.kind() {
            jsonwebtoken::errors::ErrorKind::ExpiredSignature => "the access token has expired; refresh it",
            _ => "the access token is not valid",
        };
        ApiError::new(ErrorCode::InvalidToken, msg)
    })?;
    let account =
        users::Entity::find_by_id(claims.sub).one(&state.db).await?.filter(|u| u.active).ok_or_else(|| {
            ApiError::new(ErrorCode::InvalidToken, "the account of this token does not exist or is disabled")
        })?;
    if let Some(dev) = claims.dev {
        let device = devices::Entity::find_by_id(dev).one(&state.db).await?;
        if !device.is_some_and(|d| d.user_id == account.id && d.revoked_at.is_none()) {
            return Err(ApiError::new(ErrorCode::InvalidToken, "the device of this session was revoked"));
        }
    }
    AuthUser::of_account(account, claims.dev, Some(claims.exp))
}

impl AuthUser {
    /// The caller an account stands for now (its current role and towns).
    pub fn of_account(account: users::Model, device: Option<Uuid>, expires_at: Option<i64>) -> ApiResult<AuthUser> {
        Ok(AuthUser {
            id: account.id,
            role: service::parse_role(&account.role)?,
            town: account.town_id,
            patrol_towns: service::patrol_towns(&account),
            username: account.username,
            device,
            expires_at,
        })
    }
}

/// The caller named by the request's `Authorization: Bearer` header.
pub async fn user_from_request(req: &HttpRequest, state: &AppState) -> Result<AuthUser, ApiError> {
    user_from_token(state, bearer(req)?).await
}

/// The caller from the `Authorization` header, or, when there is none, from
/// an `access_token` query parameter: for what a browser opens by itself
/// (`EventSource`, a report link) and can not send headers with.
pub async fn user_from_request_or_query(
    req: &HttpRequest,
    state: &AppState,
    access_token: Option<&str>,
) -> Result<AuthUser, ApiError> {
    match access_token {
        Some(token) if !req.headers().contains_key(actix_web::http::header::AUTHORIZATION) => {
            user_from_token(state, token).await
        }
        _ => user_from_request(req, state).await,
    }
}

impl FromRequest for AuthUser {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = req
                .app_data::<web::Data<AppState>>()
                .ok_or_else(|| ApiError::new(ErrorCode::InternalError, "application state missing"))?;
            user_from_request(&req, state).await
        })
    }
}

/// An optional caller: anonymous when no Authorization header is sent, an
/// error when one is sent but is not valid.
pub struct MaybeAuthUser(pub Option<AuthUser>);

impl FromRequest for MaybeAuthUser {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        if req.headers().contains_key(actix_web::http::header::AUTHORIZATION) {
            let user = AuthUser::from_request(req, payload);
            Box::pin(async move { user.await.map(|u| MaybeAuthUser(Some(u))) })
        } else {
            Box::pin(async { Ok(MaybeAuthUser(None)) })
        }
    }
}
