//! Feed tokens: long-lived, revocable, read-only keys for GIS tools (QGIS adds
//! `GET /api/v1/cases.geojson?feed_token=…` as a vector layer, which can not
//! refresh a 15-minute access token). A feed reads as the user who made it,
//! with that user's rights as they are at each request (a disabled account or
//! a moved town officer's feed follows), and opens nothing but the cases
//! feed. Only the token's SHA-256 is stored; the token is shown once.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use landpatrol_sync::error::ErrorBody;
use landpatrol_sync::{ErrorCode, Role};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Set};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use uuid::Uuid;

use super::AuthUser;
use crate::db::entities::{feed_tokens, users};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Who may make feeds: those who read cases at a desk.
const MAKERS: &[Role] = &[Role::TownOfficer, Role::BureauAdmin, Role::Verifier];
/// Most live feeds per user.
const MOST: u64 = 20;
const PREFIX: &str = "lpft_";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/feed-tokens").post(create).get(list))
        .service(web::resource("/feed-tokens/{id}").delete(revoke));
}

/// A feed token to make.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"label": "QGIS at the 海滨 office"}))]
pub struct NewFeedToken {
    /// What it is for, 1 to 100 characters.
    #[schema(min_length = 1, max_length = 100)]
    pub label: String,
}

/// A feed token (the token itself only in the answer to its creation).
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": "01a23d60-0000-7000-8000-000000000001", "label": "QGIS at the 海滨 office",
    "token": "lpft_3q2-7wQ…", "feed_url": "/api/v1/cases.geojson?feed_token=lpft_3q2-7wQ…",
    "created_at": "2017-06-01T08:00:00Z", "last_used_at": null, "revoked_at": null}))]
pub struct FeedTokenView {
    pub id: Uuid,
    pub label: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// The cases feed with this token (add any `GET /cases.geojson` filter).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub feed_url: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

fn view(m: feed_tokens::Model, token: Option<String>) -> FeedTokenView {
    FeedTokenView {
        id: m.id,
        label: m.label,
        feed_url: token.as_ref().map(|t| format!("/api/v1/cases.geojson?feed_token={t}")),
        token,
        created_at: m.created_at,
        last_used_at: m.last_used_at,
        revoked_at: m.revoked_at,
    }
}

fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Makes a feed token for the caller; the answer carries the token, once.
#[utoipa::path(post, path = "/api/v1/feed-tokens", tag = "auth", security(("bearer" = [])), request_body = NewFeedToken,
    responses((status = 201, body = FeedTokenView),
              (status = 403, description = "`forbidden`: inspectors (their phones sync instead)", body = ErrorBody),
              (status = 409, description = "`duplicate_record`: 20 live feed tokens already; revoke one", body = ErrorBody),
              (status = 422, description = "`validation_failed`: the label", body = ErrorBody)))]
pub async fn create(
    state: web::Data<AppState>,
    user: AuthUser,
    body: web::Json<NewFeedToken>,
) -> ApiResult<HttpResponse> {
    user.require(MAKERS)?;
    let label = body.label.trim();
    if label.is_empty() || label.chars().count() > 100 {
        return Err(ApiError::field("label", "the label is 1 to 100 characters"));
    }
    let live = feed_tokens::Entity::find()
        .filter(feed_tokens::Column::UserId.eq(user.id))
        .filter(feed_tokens::Column::RevokedAt.is_null())
        .count(&state.db)
        .await?;
    if live >= MOST {
        return Err(ApiError::new(ErrorCode::DuplicateRecord, "20 live feed tokens already; revoke one first"));
    }
    let token = format!("{PREFIX}{}", super::token::random_secret());
    let m = feed_tokens::ActiveModel {
        id: Set(Uuid::now_v7()),
        user_id: Set(user.id),
        token_hash: Set(hash(&token)),
        label: Set(label.to_owned()),
        created_at: Set(Utc::now()),
        last_used_at: Set(None),
        revoked_at: Set(None),
    }
    .insert(&state.db)
    .await?;
    Ok(HttpResponse::Created().json(view(m, Some(token))))
}

/// The caller's feed tokens (without the tokens).
#[utoipa::path(get, path = "/api/v1/feed-tokens", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = [FeedTokenView])))]
pub async fn list(state: web::Data<AppState>, user: AuthUser) -> ApiResult<HttpResponse> {
    let rows = feed_tokens::Entity::find()
        .filter(feed_tokens::Column::UserId.eq(user.id))
        .order_by_asc(feed_tokens::Column::CreatedAt)
        .all(&state.db)
        .await?;
    Ok(HttpResponse::Ok().json(rows.into_iter().map(|m| view(m, None)).collect::<Vec<_>>()))
}

/// Revokes a feed token (its owner, or the bureau): the feed answers `401` from now on.
#[utoipa::path(delete, path = "/api/v1/feed-tokens/{id}", tag = "auth", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 204, description = "Revoked (also when it was already)"),
              (status = 404, description = "`not_found`: no such feed token, or another user's", body = ErrorBody)))]
pub async fn revoke(state: web::Data<AppState>, user: AuthUser, id: web::Path<Uuid>) -> ApiResult<HttpResponse> {
    let m = feed_tokens::Entity::find_by_id(*id)
        .one(&state.db)
        .await?
        .filter(|m| m.user_id == user.id || user.role == Role::BureauAdmin)
        .ok_or_else(|| ApiError::not_found("feed token"))?;
    if m.revoked_at.is_none() {
        let mut a: feed_tokens::ActiveModel = m.into();
        a.revoked_at = Set(Some(Utc::now()));
        a.update(&state.db).await?;
    }
    Ok(HttpResponse::NoContent().finish())
}

/// The reader a feed token stands for: its user as the account is now.
pub async fn user_from_feed(state: &AppState, token: &str) -> ApiResult<AuthUser> {
    let refused =
        || ApiError::new(ErrorCode::InvalidToken, "the feed token is not valid (revoked, or its account disabled)");
    if !token.starts_with(PREFIX) || token.len() > 200 {
        return Err(refused());
    }
    let feed = feed_tokens::Entity::find()
        .filter(feed_tokens::Column::TokenHash.eq(hash(token)))
        .one(&state.db)
        .await?
        .filter(|f| f.revoked_at.is_none())
        .ok_or_else(refused)?;
    let account =
        users::Entity::find_by_id(feed.user_id).one(&state.db).await?.filter(|u| u.active).ok_or_else(refused)?;
    let mut a: feed_tokens::ActiveModel = feed.into();
    a.last_used_at = Set(Some(Utc::now()));
    a.update(&state.db).await?;
    AuthUser::of_account(account, None, None)
}
