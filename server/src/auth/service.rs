//! Login, refresh-token rotation with reuse detection, logout, devices and users.

use chrono::{Duration, Utc};
use landpatrol_sync::{ErrorCode, Role};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, Set,
    TransactionTrait,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::token::{self, Claims, Keys};
use super::{AuthUser, password};
use crate::db::entities::{devices, refresh_tokens, towns, users};
use crate::error::{ApiError, ApiResult};

/// A user as the API shows it (never the password hash).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"id": "0193a4f2-7c1e-7d3a-9b1e-2f4c5d6e7f80", "username": "officer-120115001", "display_name": "海滨街道 town office", "role": "town_officer", "town_id": "5d2e1f0a-3b4c-5d6e-8f70-8192a3b4c5d6", "patrol_towns": [], "active": true}))]
pub struct UserView {
    pub id: Uuid,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub town_id: Option<Uuid>,
    pub patrol_towns: Vec<Uuid>,
    pub active: bool,
}

impl UserView {
    pub(crate) fn from_model(m: &users::Model) -> ApiResult<Self> {
        Ok(Self {
            id: m.id,
            username: m.username.clone(),
            display_name: m.display_name.clone(),
            role: parse_role(&m.role)?,
            town_id: m.town_id,
            patrol_towns: patrol_towns(m),
            active: m.active,
        })
    }
}

pub(crate) fn parse_role(s: &str) -> ApiResult<Role> {
    Role::parse(s).ok_or_else(|| ApiError::new(ErrorCode::InternalError, format!("stored role {s:?} is unknown")))
}

pub(crate) fn patrol_towns(m: &users::Model) -> Vec<Uuid> {
    serde_json::from_value(m.patrol_towns.clone()).unwrap_or_default()
}

/// The answer to a login or a refresh.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"access_token": "eyJhbGciOiJIUzI1NiJ9…", "token_type": "Bearer", "expires_in": 900, "refresh_token": "lprt_Qm9vdHN0cmFw…", "refresh_expires_at": "2017-06-19T08:00:00Z", "device_id": null, "user": {"id": "0193a4f2-7c1e-7d3a-9b1e-2f4c5d6e7f80", "username": "inspector", "display_name": "Inspector", "role": "inspector", "town_id": null, "patrol_towns": [], "active": true}}))]
pub struct TokenPair {
    pub access_token: String,
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    pub refresh_token: String,
    pub refresh_expires_at: chrono::DateTime<Utc>,
    /// The device the refresh token is bound to.
    pub device_id: Option<Uuid>,
    pub user: UserView,
}

/// Settings the auth service needs.
pub struct AuthContext<'a> {
    pub db: &'a DatabaseConnection,
    pub keys: &'a Keys,
    pub refresh_ttl_days: i64,
}

impl<'a> AuthContext<'a> {
    /// The auth settings of a running server.
    pub fn of(state: &'a crate::state::AppState) -> Self {
        AuthContext { db: &state.db, keys: &state.keys, refresh_ttl_days: state.refresh_ttl_days() }
    }
}

/// A login through the throttle ([`super::throttle`]): a locked username or
/// client address is answered `429` without the password being checked; a
/// wrong password counts against both. `POST /auth/login` and the console's
/// sign-in both log in through it.
pub async fn login_throttled(
    state: &crate::state::AppState,
    addr: Option<&str>,
    username: &str,
    password: &str,
    device: Option<Uuid>,
) -> ApiResult<TokenPair> {
    let cfg = &state.settings.auth;
    let throttle = &state.login_throttle;
    throttle.check(cfg, username, addr).await?;
    match login(&AuthContext::of(state), username, password, device).await {
        Ok(pair) => {
            throttle.succeeded(username).await?;
            Ok(pair)
        }
        Err(e) => {
            if e.code == ErrorCode::InvalidCredentials {
                throttle.failed(cfg, username, addr).await?;
            }
            Err(e)
        }
    }
}

fn issue_access(keys: &Keys, user: &users::Model, device: Option<Uuid>) -> ApiResult<String> {
    let now = Utc::now().timestamp();
    let claims = Claims {
        sub: user.id,
        name: user.username.clone(),
        role: parse_role(&user.role)?,
        town: user.town_id,
        towns: patrol_towns(user),
        dev: device,
        iss: keys.issuer.clone(),
        aud: keys.audience.clone(),
        iat: now,
        exp: now + keys.access_ttl_secs,
        jti: Uuid::now_v7(),
    };
    keys.sign(&claims).map_err(ApiError::internal)
}

async fn store_refresh(
    conn: &impl ConnectionTrait,
    user: Uuid,
    device: Option<Uuid>,
    family: Uuid,
    ttl_days: i64,
) -> ApiResult<(String, chrono::DateTime<Utc>)> {
    let token = token::new_refresh_token();
    let now = Utc::now();
    let expires_at = now + Duration::days(ttl_days);
    refresh_tokens::ActiveModel {
        id: Set(Uuid::now_v7()),
        family_id: Set(family),
        user_id: Set(user),
        device_id: Set(device),
        token_hash: Set(token::hash_refresh_token(&token)),
        expires_at: Set(expires_at),
        created_at: Set(now),
        used_at: Set(None),
        revoked_at: Set(None),
    }
    .insert(conn)
    .await?;
    Ok((token, expires_at))
}

fn invalid_credentials() -> ApiError {
    ApiError::new(ErrorCode::InvalidCredentials, "unknown username or wrong password")
}

/// Checks a password and opens a session (optionally bound to a device).
pub async fn login(ctx: &AuthContext<'_>, username: &str, pass: &str, device: Option<Uuid>) -> ApiResult<TokenPair> {
    let user = users::Entity::find().filter(users::Column::Username.eq(username)).one(ctx.db).await?;
    let hash = user.as_ref().map_or_else(|| password::DUMMY_HASH.to_owned(), |u| u.password_hash.clone());
    let given = pass.to_owned();
    let ok = tokio::task::spawn_blocking(move || password::verify(&given, &hash)).await.map_err(ApiError::internal)?;
    let user = match user {
        Some(u) if ok && u.active => u,
        _ => return Err(invalid_credentials()),
    };
    if let Some(dev) = device {
        let found = devices::Entity::find_by_id(dev).one(ctx.db).await?;
        match found {
            Some(d) if d.user_id == user.id && d.revoked_at.is_some() => {
                return Err(ApiError::new(ErrorCode::DeviceRevoked, "this device was revoked; register a new one")
                    .with_details(serde_json::json!({ "field": "device_id" })));
            }
            Some(d) if d.user_id == user.id => {}
            _ => {
                return Err(ApiError::new(ErrorCode::UnknownDevice, "this device is not registered to this user")
                    .with_details(serde_json::json!({ "field": "device_id" })));
            }
        }
    }
    let (refresh_token, refresh_expires_at) =
        store_refresh(ctx.db, user.id, device, Uuid::now_v7(), ctx.refresh_ttl_days).await?;
    Ok(TokenPair {
        access_token: issue_access(ctx.keys, &user, device)?,
        token_type: "Bearer".into(),
        expires_in: ctx.keys.access_ttl_secs,
        refresh_token,
        refresh_expires_at,
        device_id: device,
        user: UserView::from_model(&user)?,
    })
}

async fn revoke_family(conn: &impl ConnectionTrait, family: Uuid) -> ApiResult<()> {
    refresh_tokens::Entity::update_many()
        .col_expr(refresh_tokens::Column::RevokedAt, sea_orm::sea_query::Expr::value(Utc::now()))
        .filter(refresh_tokens::Column::FamilyId.eq(family))
        .filter(refresh_tokens::Column::RevokedAt.is_null())
        .exec(conn)
        .await?;
    Ok(())
}

/// Rotates a refresh token. A token presented twice revokes its whole family.
pub async fn refresh(ctx: &AuthContext<'_>, presented: &str) -> ApiResult<TokenPair> {
    let invalid = || ApiError::new(ErrorCode::InvalidRefreshToken, "the refresh token is not valid; log in again");
    let hash = token::hash_refresh_token(presented);
    let txn = ctx.db.begin().await?;
    let Some(row) = refresh_tokens::Entity::find().filter(refresh_tokens::Column::TokenHash.eq(hash)).one(&txn).await?
    else {
        return Err(invalid());
    };
    let now = Utc::now();
    if row.revoked_at.is_some() || row.expires_at <= now {
        return Err(invalid());
    }
    // Spend it: only one caller can win this conditional update.
    let spent = refresh_tokens::Entity::update_many()
        .col_expr(refresh_tokens::Column::UsedAt, sea_orm::sea_query::Expr::value(now))
        .filter(refresh_tokens::Column::Id.eq(row.id))
        .filter(refresh_tokens::Column::UsedAt.is_null())
        .exec(&txn)
        .await?;
    if spent.rows_affected != 1 {
        revoke_family(&txn, row.family_id).await?;
        txn.commit().await?;
        tracing::warn!(family = %row.family_id, "refresh token reused; family revoked");
        return Err(ApiError::new(
            ErrorCode::RefreshTokenReused,
            "this refresh token was already used; every session of its family is revoked, log in again",
        ));
    }
    let user = users::Entity::find_by_id(row.user_id).one(&txn).await?.filter(|u| u.active).ok_or_else(invalid)?;
    let (refresh_token, refresh_expires_at) =
        store_refresh(&txn, user.id, row.device_id, row.family_id, ctx.refresh_ttl_days).await?;
    txn.commit().await?;
    Ok(TokenPair {
        access_token: issue_access(ctx.keys, &user, row.device_id)?,
        token_type: "Bearer".into(),
        expires_in: ctx.keys.access_ttl_secs,
        refresh_token,
        refresh_expires_at,
        device_id: row.device_id,
        user: UserView::from_model(&user)?,
    })
}

/// Ends the session a refresh token belongs to (its whole family). Unknown
/// tokens are ignored, so logout is idempotent.
pub async fn logout(db: &DatabaseConnection, presented: &str) -> ApiResult<()> {
    let hash = token::hash_refresh_token(presented);
    if let Some(row) = refresh_tokens::Entity::find().filter(refresh_tokens::Column::TokenHash.eq(hash)).one(db).await?
    {
        revoke_family(db, row.family_id).await?;
    }
    Ok(())
}

/// A device registration request.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[schema(example = json!({"name": "Inspector Li's phone", "platform": "android", "app_version": "1.4.2"}))]
pub struct NewDevice {
    /// A client-made id makes a retried registration return the same device.
    pub device_id: Option<Uuid>,
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    #[schema(min_length = 1, max_length = 50)]
    pub platform: String,
    #[schema(min_length = 1, max_length = 50)]
    pub app_version: String,
}

/// A registered device.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"device_id": "0193a4f2-7c1e-7d3a-9b1e-2f4c5d6e7f81", "name": "Inspector Li's phone", "platform": "android", "app_version": "1.4.2", "created_at": "2017-05-20T08:00:00Z", "revoked_at": null}))]
pub struct DeviceView {
    pub device_id: Uuid,
    pub name: String,
    pub platform: String,
    pub app_version: String,
    pub created_at: chrono::DateTime<Utc>,
    /// When the device was revoked; its sessions ended then.
    pub revoked_at: Option<chrono::DateTime<Utc>>,
}

pub(crate) fn device_view(d: devices::Model) -> DeviceView {
    DeviceView {
        device_id: d.id,
        name: d.name,
        platform: d.platform,
        app_version: d.app_version,
        created_at: d.created_at,
        revoked_at: d.revoked_at,
    }
}

fn check_text(field: &str, value: &str, max: usize) -> ApiResult<()> {
    if value.trim().is_empty() || value.chars().count() > max {
        return Err(ApiError::field(field, format!("{field} must be 1 to {max} characters")));
    }
    Ok(())
}

/// Registers a device for the caller; a retry with the same `device_id` returns it.
pub async fn register_device(
    db: &DatabaseConnection,
    user: &AuthUser,
    req: NewDevice,
) -> ApiResult<(bool, DeviceView)> {
    check_text("name", &req.name, 200)?;
    check_text("platform", &req.platform, 50)?;
    check_text("app_version", &req.app_version, 50)?;
    let id = req.device_id.unwrap_or_else(Uuid::now_v7);
    if let Some(existing) = devices::Entity::find_by_id(id).one(db).await? {
        if existing.user_id != user.id {
            return Err(ApiError::new(ErrorCode::DuplicateRecord, "this device id is taken"));
        }
        return Ok((false, device_view(existing)));
    }
    let now = Utc::now();
    let model = devices::ActiveModel {
        id: Set(id),
        user_id: Set(user.id),
        name: Set(req.name.trim().to_owned()),
        platform: Set(req.platform.trim().to_owned()),
        app_version: Set(req.app_version.trim().to_owned()),
        created_at: Set(now),
        last_seen_at: Set(now),
        last_seq: Set(0),
        revoked_at: Set(None),
    }
    .insert(db)
    .await?;
    Ok((true, device_view(model)))
}

/// The caller's devices.
pub async fn list_devices(db: &DatabaseConnection, user: &AuthUser) -> ApiResult<Vec<DeviceView>> {
    let rows = devices::Entity::find()
        .filter(devices::Column::UserId.eq(user.id))
        .order_by_asc(devices::Column::CreatedAt)
        .all(db)
        .await?;
    Ok(rows.into_iter().map(device_view).collect())
}

/// A new user account.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[schema(example = json!({"username": "officer-120115002", "password": "a long passphrase", "role": "town_officer", "town": "120115002", "display_name": "宝平街道 office"}))]
pub struct NewUser {
    /// 1 to 64 of a-z, A-Z, 0-9, `-`, `_`, `.` (surrounding spaces are trimmed).
    #[schema(pattern = "^\\s*[A-Za-z0-9._-]{1,64}\\s*$")]
    pub username: String,
    /// 8 to 1024 characters.
    #[schema(min_length = 8, max_length = 1024)]
    pub password: String,
    pub role: Role,
    /// Town code or id; required for a town officer.
    pub town: Option<String>,
    /// Patrol towns of an inspector (codes or ids); empty: the whole district.
    #[serde(default)]
    pub patrol_towns: Vec<String>,
    pub display_name: Option<String>,
}

/// Finds a town by code or id.
pub async fn resolve_town(conn: &impl ConnectionTrait, key: &str) -> ApiResult<towns::Model> {
    let by_id = Uuid::parse_str(key).ok();
    let found = match by_id {
        Some(id) => towns::Entity::find_by_id(id).one(conn).await?,
        None => towns::Entity::find().filter(towns::Column::Code.eq(key)).one(conn).await?,
    };
    found.filter(|t| !t.deleted).ok_or_else(|| unknown_town(key))
}

pub(crate) fn unknown_town(key: &str) -> ApiError {
    ApiError::new(ErrorCode::UnknownTown, format!("no town {key:?}")).with_details(serde_json::json!({ "town": key }))
}

/// [`resolve_town`] remembering its answers, for an import that names the
/// same few towns on thousands of rows.
#[derive(Default)]
pub struct TownLookup(std::collections::HashMap<String, Option<towns::Model>>);

impl TownLookup {
    pub async fn get(&mut self, conn: &impl ConnectionTrait, key: &str) -> ApiResult<towns::Model> {
        let found = match self.0.get(key) {
            Some(known) => known.clone(),
            None => {
                let found = match resolve_town(conn, key).await {
                    Ok(t) => Some(t),
                    Err(e) if e.code == ErrorCode::UnknownTown => None,
                    Err(e) => return Err(e),
                };
                self.0.insert(key.to_owned(), found.clone());
                found
            }
        };
        found.ok_or_else(|| unknown_town(key))
    }
}

/// Creates a user (admin CLI, demo loader and `POST /users`).
pub async fn create_user(db: &DatabaseConnection, req: NewUser) -> ApiResult<UserView> {
    let username = req.username.trim().to_owned();
    if username.is_empty()
        || username.len() > 64
        || !username.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(ApiError::field("username", "username must be 1 to 64 of a-z, 0-9, '-', '_', '.'"));
    }
    if req.password.chars().count() < 8 || req.password.len() > 1024 {
        return Err(ApiError::field("password", "password must be 8 to 1024 characters"));
    }
    let town_id = match (&req.role, &req.town) {
        (Role::TownOfficer, Some(t)) => Some(resolve_town(db, t).await?.id),
        (Role::TownOfficer, None) => return Err(ApiError::field("town", "a town officer needs a town")),
        (_, Some(_)) => return Err(ApiError::field("town", "only a town officer is bound to a town")),
        (_, None) => None,
    };
    let mut patrol = Vec::new();
    for t in &req.patrol_towns {
        if req.role != Role::Inspector {
            return Err(ApiError::field("patrol_towns", "only inspectors have patrol towns"));
        }
        patrol.push(resolve_town(db, t).await?.id);
    }
    if users::Entity::find().filter(users::Column::Username.eq(&username)).one(db).await?.is_some() {
        return Err(ApiError::new(ErrorCode::UsernameTaken, format!("username {username:?} is taken")));
    }
    let pass = req.password.clone();
    let hash = tokio::task::spawn_blocking(move || password::hash(&pass))
        .await
        .map_err(ApiError::internal)?
        .map_err(|e| ApiError::new(ErrorCode::InternalError, e.to_string()))?;
    let now = Utc::now();
    let model = users::ActiveModel {
        id: Set(Uuid::now_v7()),
        username: Set(username.clone()),
        display_name: Set(req.display_name.unwrap_or_else(|| username.clone())),
        password_hash: Set(hash),
        role: Set(req.role.as_str().to_owned()),
        town_id: Set(town_id),
        patrol_towns: Set(serde_json::json!(patrol)),
        active: Set(true),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await
    .map_err(|e| match ApiError::from(e) {
        err if err.code == ErrorCode::DuplicateRecord => {
            ApiError::new(ErrorCode::UsernameTaken, format!("username {username:?} is taken"))
        }
        err => err,
    })?;
    UserView::from_model(&model)
}

/// Every user (bureau admin).
pub async fn list_users(db: &DatabaseConnection) -> ApiResult<Vec<UserView>> {
    let rows = users::Entity::find().order_by_asc(users::Column::Username).all(db).await?;
    rows.iter().map(UserView::from_model).collect()
}

/// The caller's own account.
pub async fn me(db: &DatabaseConnection, user: &AuthUser) -> ApiResult<UserView> {
    let m = users::Entity::find_by_id(user.id).one(db).await?.ok_or_else(|| ApiError::not_found("user"))?;
    UserView::from_model(&m)
}
