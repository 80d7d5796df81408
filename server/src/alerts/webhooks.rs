//! Webhook registration per town and the delivery log.

use chrono::{DateTime, Utc};
use landpatrol_sync::{ErrorCode, Role};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::egress::BadUrl;
use super::outbox::{DEAD, DELIVERED, PENDING};
use crate::auth::AuthUser;
use crate::db::entities::{webhook_attempts, webhook_deliveries, webhooks};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::towns::TownRef;

/// Who manages webhooks: a town office (its town's) and the bureau (any).
pub const MANAGERS: &[Role] = &[Role::TownOfficer, Role::BureauAdmin];

/// A webhook to register.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"url": "https://zhoukou.example.gov.cn/landpatrol/hook", "town": "120115001",
    "description": "town office duty system"}))]
pub struct NewWebhook {
    /// Absolute `http` or `https` URL the alerts are POSTed to, without credentials.
    #[schema(max_length = 2000, example = "https://zhoukou.example.gov.cn/landpatrol/hook")]
    pub url: String,
    /// Town id or code. A town officer may leave it out (their own town);
    /// the bureau leaves it out for a district-wide webhook that receives every alert.
    pub town: Option<String>,
    /// The signing secret, 16 to 200 characters; generated (and shown once) when left out.
    #[schema(min_length = 16, max_length = 200)]
    pub secret: Option<String>,
    #[serde(default)]
    #[schema(max_length = 500)]
    pub description: String,
}

/// A change to a webhook.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"active": false}))]
pub struct WebhookPatch {
    #[schema(max_length = 2000)]
    pub url: Option<String>,
    pub active: Option<bool>,
    #[schema(max_length = 500)]
    pub description: Option<String>,
    /// A new signing secret (rotation), 16 to 200 characters.
    #[schema(min_length = 16, max_length = 200)]
    pub secret: Option<String>,
}

/// A registered webhook (the secret only in the answer to its creation).
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": "01936f5e-8a2b-7c3d-9e4f-5a6b7c8d9e0f", "url": "https://zhoukou.example.gov.cn/landpatrol/hook",
    "town_id": "5d2e1f0a-3b4c-5d6e-8f70-8192a3b4c5d6", "town": null, "description": "town office duty system", "active": true,
    "secret": "whsec_3q2+7w…", "created_at": "2017-06-01T08:00:00Z", "updated_at": "2017-06-01T08:00:00Z"}))]
pub struct WebhookView {
    pub id: Uuid,
    pub url: String,
    /// Null: district-wide.
    pub town_id: Option<Uuid>,
    pub town: Option<TownRef>,
    pub description: String,
    pub active: bool,
    /// Only when the webhook is created or its secret is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn view(state: &AppState, m: &webhooks::Model, with_secret: bool) -> WebhookView {
    WebhookView {
        id: m.id,
        url: m.url.clone(),
        town_id: m.town_id,
        town: m.town_id.and_then(|t| state.towns.get(t)),
        description: m.description.clone(),
        active: m.active,
        secret: with_secret.then(|| m.secret.clone()),
        created_at: m.created_at,
        updated_at: m.updated_at,
    }
}

/// Refuses URLs a webhook can not be: not http(s), no host, credentials, too
/// long, and (unless `webhooks.allow_private_networks`) any internal address,
/// in whatever spelling, or a name that resolves to one (see [`super::egress`]).
pub async fn check_url(state: &AppState, url: &str) -> ApiResult<()> {
    let bad = |code: ErrorCode, why: &str| {
        ApiError::new(code, format!("webhook url: {why}")).with_details(json!({ "field": "url" }))
    };
    if url.len() > 2000 {
        return Err(bad(ErrorCode::WebhookUrlInvalid, "longer than 2000 characters"));
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad(ErrorCode::WebhookUrlInvalid, "must not contain spaces"));
    }
    let allow = state.settings.webhooks.allow_private_networks;
    let parsed = super::egress::check(url, allow).map_err(|e| match e {
        BadUrl::Invalid(why) => bad(ErrorCode::WebhookUrlInvalid, &why),
        BadUrl::Internal(why) => bad(ErrorCode::WebhookUrlForbidden, &why),
    })?;
    if !allow {
        super::egress::check_resolved(&parsed, RESOLVE_TIMEOUT)
            .await
            .map_err(|why| bad(ErrorCode::WebhookUrlForbidden, &why))?;
    }
    Ok(())
}

/// How long registration waits for DNS before leaving the check to delivery.
const RESOLVE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// Refuses a webhook beyond `webhooks.max_per_town` for its town.
async fn check_room(state: &AppState, town: Option<Uuid>) -> ApiResult<()> {
    use sea_orm::PaginatorTrait;
    let max = state.settings.webhooks.max_per_town;
    let q = match town {
        Some(t) => webhooks::Entity::find().filter(webhooks::Column::TownId.eq(t)),
        None => webhooks::Entity::find().filter(webhooks::Column::TownId.is_null()),
    };
    let have = q.count(&state.db).await?;
    if have >= max {
        return Err(ApiError::new(
            ErrorCode::WebhookLimitReached,
            format!(
                "this town has {have} webhooks, the most allowed (webhooks.max_per_town = {max}); remove one first"
            ),
        )
        .with_details(json!({ "limit": max })));
    }
    Ok(())
}

fn check_secret(secret: &str) -> ApiResult<()> {
    if !(16..=200).contains(&secret.chars().count()) {
        return Err(ApiError::field("secret", "the secret must be 16 to 200 characters"));
    }
    Ok(())
}

fn new_secret() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 24];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("whsec_{}", hex::encode(bytes))
}

/// Registers a webhook.
pub async fn create(state: &AppState, user: &AuthUser, req: NewWebhook) -> ApiResult<WebhookView> {
    user.require(MANAGERS)?;
    let url = req.url.trim().to_owned();
    check_url(state, &url).await?;
    if req.description.chars().count() > 500 {
        return Err(ApiError::field("description", "at most 500 characters"));
    }
    let town = match req.town.as_deref() {
        Some(key) => Some(crate::auth::service::resolve_town(&state.db, key).await?.id),
        None if user.role == Role::TownOfficer => user.town,
        None => None,
    };
    user.require_town(town)?;
    check_room(state, town).await?;
    let secret = match req.secret {
        Some(s) => {
            check_secret(&s)?;
            s
        }
        None => new_secret(),
    };
    let now = Utc::now();
    let m = webhooks::ActiveModel {
        id: Set(Uuid::now_v7()),
        town_id: Set(town),
        url: Set(url),
        secret: Set(secret),
        description: Set(req.description.trim().to_owned()),
        active: Set(true),
        created_by: Set(Some(user.id)),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&state.db)
    .await?;
    Ok(view(state, &m, true))
}

async fn load(state: &AppState, user: &AuthUser, id: Uuid) -> ApiResult<webhooks::Model> {
    user.require(MANAGERS)?;
    let m = webhooks::Entity::find_by_id(id).one(&state.db).await?.ok_or_else(|| ApiError::not_found("webhook"))?;
    if !user.scope().covers(m.town_id) {
        return Err(ApiError::not_found("webhook"));
    }
    Ok(m)
}

/// The webhooks the caller manages.
pub async fn list(state: &AppState, user: &AuthUser) -> ApiResult<Vec<WebhookView>> {
    user.require(MANAGERS)?;
    let mut q = webhooks::Entity::find();
    if let crate::auth::Scope::Towns(list) = user.scope() {
        q = q.filter(webhooks::Column::TownId.is_in(list));
    }
    let rows = q.order_by_asc(webhooks::Column::CreatedAt).all(&state.db).await?;
    Ok(rows.iter().map(|m| view(state, m, false)).collect())
}

/// One webhook.
pub async fn get(state: &AppState, user: &AuthUser, id: Uuid) -> ApiResult<WebhookView> {
    Ok(view(state, &load(state, user, id).await?, false))
}

/// Changes a webhook (URL, active, description, secret rotation).
pub async fn update(state: &AppState, user: &AuthUser, id: Uuid, req: WebhookPatch) -> ApiResult<WebhookView> {
    let cur = load(state, user, id).await?;
    let mut m: webhooks::ActiveModel = cur.into();
    if let Some(url) = req.url {
        check_url(state, url.trim()).await?;
        m.url = Set(url.trim().to_owned());
    }
    if let Some(a) = req.active {
        m.active = Set(a);
    }
    if let Some(d) = req.description {
        if d.chars().count() > 500 {
            return Err(ApiError::field("description", "at most 500 characters"));
        }
        m.description = Set(d.trim().to_owned());
    }
    let rotated = req.secret.is_some();
    if let Some(s) = req.secret {
        check_secret(&s)?;
        m.secret = Set(s);
    }
    m.updated_at = Set(Utc::now());
    let model = m.update(&state.db).await?;
    // A resumed webhook has deliveries waiting.
    state.alerts.wake();
    Ok(view(state, &model, rotated))
}

/// Removes a webhook; deliveries still owed to it are dead-lettered.
pub async fn delete(state: &AppState, user: &AuthUser, id: Uuid) -> ApiResult<()> {
    let cur = load(state, user, id).await?;
    webhook_deliveries::Entity::update_many()
        .col_expr(webhook_deliveries::Column::Status, sea_orm::sea_query::Expr::value(DEAD))
        .col_expr(webhook_deliveries::Column::LastError, sea_orm::sea_query::Expr::value("the webhook was removed"))
        .filter(webhook_deliveries::Column::WebhookId.eq(cur.id))
        .filter(webhook_deliveries::Column::Status.eq(PENDING))
        .exec(&state.db)
        .await?;
    webhooks::Entity::delete_by_id(cur.id).exec(&state.db).await?;
    Ok(())
}

/// One try of a delivery.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttemptView {
    pub attempt: i32,
    pub at: DateTime<Utc>,
    /// The receiver's HTTP status; null when no answer came (refused, timed out).
    pub status_code: Option<i32>,
    pub error: Option<String>,
    pub duration_ms: i64,
}

/// A delivery with its attempts.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": "01936f5e-9999-7000-8000-000000000001", "webhook_id": "01936f5e-8a2b-7c3d-9e4f-5a6b7c8d9e0f",
    "alert_id": "01936f5e-8a2b-7c3d-9e4f-000000000042", "status": "delivered", "attempts": 2, "next_attempt_at": "2017-06-01T08:00:05Z",
    "last_status": 200, "last_error": null, "created_at": "2017-06-01T08:00:00Z", "delivered_at": "2017-06-01T08:00:05Z",
    "attempt_log": [{"attempt": 1, "at": "2017-06-01T08:00:00Z", "status_code": 503, "error": "HTTP 503", "duration_ms": 12},
                    {"attempt": 2, "at": "2017-06-01T08:00:05Z", "status_code": 200, "error": null, "duration_ms": 9}]}))]
pub struct DeliveryView {
    /// Sent as `X-Landpatrol-Delivery` with every attempt.
    pub id: Uuid,
    pub webhook_id: Uuid,
    pub alert_id: Uuid,
    /// `pending`, `delivered` or `dead`.
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub attempt_log: Vec<AttemptView>,
}

/// Delivery log filters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryQuery {
    /// `pending`, `delivered` or `dead`.
    #[param(schema_with = crate::openapi::delivery_status_schema)]
    pub status: Option<String>,
    /// Page size (default 100), newest first.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u64>,
}

async fn deliveries_where(state: &AppState, webhook: Option<Uuid>, q: &DeliveryQuery) -> ApiResult<Vec<DeliveryView>> {
    let limit = super::service::page_limit(q.limit, 100)?;
    let mut find = webhook_deliveries::Entity::find();
    if let Some(w) = webhook {
        find = find.filter(webhook_deliveries::Column::WebhookId.eq(w));
    }
    if let Some(s) = &q.status {
        if ![PENDING, DELIVERED, DEAD].contains(&s.as_str()) {
            return Err(ApiError::new(ErrorCode::InvalidQuery, "status is pending, delivered or dead")
                .with_details(json!({ "field": "status" })));
        }
        find = find.filter(webhook_deliveries::Column::Status.eq(s.as_str()));
    }
    let rows = find.order_by_desc(webhook_deliveries::Column::CreatedAt).limit(limit).all(&state.db).await?;
    let ids: Vec<Uuid> = rows.iter().map(|d| d.id).collect();
    let mut attempts = webhook_attempts::Entity::find()
        .filter(webhook_attempts::Column::DeliveryId.is_in(ids))
        .order_by_asc(webhook_attempts::Column::Attempt)
        .all(&state.db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|d| {
            let (mine, rest): (Vec<_>, Vec<_>) = attempts.drain(..).partition(|a| a.delivery_id == d.id);
            attempts = rest;
            DeliveryView {
                id: d.id,
                webhook_id: d.webhook_id,
                alert_id: d.alert_id,
                status: d.status,
                attempts: d.attempts,
                next_attempt_at: d.next_attempt_at,
                last_status: d.last_status,
                last_error: d.last_error,
                created_at: d.created_at,
                delivered_at: d.delivered_at,
                attempt_log: mine
                    .into_iter()
                    .map(|a| AttemptView {
                        attempt: a.attempt,
                        at: a.at,
                        status_code: a.status_code,
                        error: a.error,
                        duration_ms: a.duration_ms,
                    })
                    .collect(),
            }
        })
        .collect())
}

/// The delivery log of one webhook.
pub async fn deliveries(
    state: &AppState,
    user: &AuthUser,
    id: Uuid,
    q: &DeliveryQuery,
) -> ApiResult<Vec<DeliveryView>> {
    let hook = load(state, user, id).await?;
    deliveries_where(state, Some(hook.id), q).await
}

/// Deliveries of every webhook (the bureau's view; `status=dead` is the dead-letter queue).
pub async fn all_deliveries(state: &AppState, user: &AuthUser, q: &DeliveryQuery) -> ApiResult<Vec<DeliveryView>> {
    user.require(&[Role::BureauAdmin])?;
    deliveries_where(state, None, q).await
}

/// Sends a dead-lettered delivery again (same delivery id): back to pending, due now.
pub async fn retry(state: &AppState, user: &AuthUser, id: Uuid) -> ApiResult<()> {
    user.require(MANAGERS)?;
    let d = webhook_deliveries::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::not_found("delivery"))?;
    let hook = load(state, user, d.webhook_id).await.map_err(|_| ApiError::not_found("delivery"))?;
    if !hook.active {
        return Err(ApiError::field("webhook", "the webhook is not active; activate it first"));
    }
    if d.status != DEAD {
        return Ok(());
    }
    let now = Utc::now();
    let mut m: webhook_deliveries::ActiveModel = d.into();
    m.status = Set(PENDING.to_owned());
    m.next_attempt_at = Set(now);
    // A fresh retry window from now.
    m.created_at = Set(now);
    m.locked_until = Set(None);
    m.updated_at = Set(now);
    m.update(&state.db).await?;
    state.alerts.wake();
    Ok(())
}
