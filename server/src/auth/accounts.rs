//! Stopping accounts and devices: the bureau disables a user or changes a
//! role or town, a user (or the bureau) revokes a lost phone. Every change
//! takes effect on the next request (the bearer's account is read on each
//! request, see [`super::user_from_token`]); disabling and revoking also end the
//! refresh tokens, so no new access token is issued.

use chrono::Utc;
use landpatrol_sync::Role;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set, TransactionTrait};
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use super::AuthUser;
use super::service::{DeviceView, UserView, device_view, resolve_town};
use crate::db::entities::{devices, refresh_tokens, users};
use crate::error::{ApiError, ApiResult};

/// A change to a user account (bureau admin). Fields left out stay.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"active": false}))]
pub struct UserPatch {
    /// `false` disables the account: its tokens stop working on their next request.
    pub active: Option<bool>,
    /// A new role; a town officer needs a town (given here or already set),
    /// other roles lose theirs, non-inspectors lose their patrol towns.
    pub role: Option<Role>,
    /// Town code or id of a town officer.
    pub town: Option<String>,
    /// An inspector's patrol towns (codes or ids); empty: the whole district.
    pub patrol_towns: Option<Vec<String>>,
    #[schema(min_length = 1, max_length = 200)]
    pub display_name: Option<String>,
}

/// Ends every refresh token matching `filter` that is still valid.
async fn revoke_refresh(conn: &impl ConnectionTrait, filter: impl sea_orm::sea_query::IntoCondition) -> ApiResult<()> {
    refresh_tokens::Entity::update_many()
        .col_expr(refresh_tokens::Column::RevokedAt, Expr::value(Utc::now()))
        .filter(filter)
        .filter(refresh_tokens::Column::RevokedAt.is_null())
        .exec(conn)
        .await?;
    Ok(())
}

/// Changes a user (bureau admin). The admin can not disable or demote themselves,
/// so an installation is never left without a bureau account by mistake.
pub async fn update_user(
    db: &sea_orm::DatabaseConnection,
    admin: &AuthUser,
    id: Uuid,
    req: UserPatch,
) -> ApiResult<UserView> {
    admin.require(&[Role::BureauAdmin])?;
    let txn = db.begin().await?;
    let cur = users::Entity::find_by_id(id).one(&txn).await?.ok_or_else(|| ApiError::not_found("user"))?;
    let role = req.role.unwrap_or(Role::parse(&cur.role).unwrap_or(Role::Inspector));
    if id == admin.id && (req.active == Some(false) || role != Role::BureauAdmin) {
        return Err(ApiError::field("active", "an admin can not disable or demote their own account"));
    }
    let town = match (&req.town, role) {
        (Some(t), Role::TownOfficer) => Some(resolve_town(&txn, t.trim()).await?.id),
        (None, Role::TownOfficer) => {
            Some(cur.town_id.ok_or_else(|| ApiError::field("town", "a town officer needs a town"))?)
        }
        (Some(_), _) => return Err(ApiError::field("town", "only a town officer is bound to a town")),
        (None, _) => None,
    };
    let patrol = match (&req.patrol_towns, role) {
        (Some(list), Role::Inspector) => {
            let mut ids = Vec::with_capacity(list.len());
            for t in list {
                ids.push(resolve_town(&txn, t.trim()).await?.id);
            }
            json!(ids)
        }
        (None, Role::Inspector) => cur.patrol_towns.clone(),
        (Some(list), _) if !list.is_empty() => {
            return Err(ApiError::field("patrol_towns", "only inspectors have patrol towns"));
        }
        _ => json!([]),
    };
    if let Some(name) = &req.display_name
        && (name.trim().is_empty() || name.chars().count() > 200)
    {
        return Err(ApiError::field("display_name", "display_name must be 1 to 200 characters"));
    }
    let active = req.active.unwrap_or(cur.active);
    let mut row: users::ActiveModel = cur.clone().into();
    row.role = Set(role.as_str().to_owned());
    row.town_id = Set(town);
    row.patrol_towns = Set(patrol);
    row.active = Set(active);
    if let Some(name) = req.display_name {
        row.display_name = Set(name.trim().to_owned());
    }
    row.updated_at = Set(Utc::now());
    let model = row.update(&txn).await?;
    if !active {
        revoke_refresh(&txn, refresh_tokens::Column::UserId.eq(id)).await?;
    }
    txn.commit().await?;
    tracing::info!(user = %id, by = %admin.id, active, role = role.as_str(), "user changed");
    UserView::from_model(&model)
}

/// Revokes a device: its sessions end on their next request and it can not
/// log in again. The owner or the bureau may; revoking twice is a no-op.
pub async fn revoke_device(db: &sea_orm::DatabaseConnection, user: &AuthUser, id: Uuid) -> ApiResult<DeviceView> {
    let txn = db.begin().await?;
    let d = devices::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .filter(|d| d.user_id == user.id || user.role == Role::BureauAdmin)
        .ok_or_else(|| ApiError::not_found("device"))?;
    if d.revoked_at.is_some() {
        return Ok(device_view(d));
    }
    let mut row: devices::ActiveModel = d.into();
    row.revoked_at = Set(Some(Utc::now()));
    let model = row.update(&txn).await?;
    revoke_refresh(&txn, refresh_tokens::Column::DeviceId.eq(id)).await?;
    txn.commit().await?;
    tracing::info!(device = %id, by = %user.id, "device revoked");
    Ok(device_view(model))
}
