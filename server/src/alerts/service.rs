//! The alert inbox: scope, listing, acknowledgement.

use chrono::{DateTime, Utc};
use landpatrol_sync::Role;
use sea_orm::sea_query::Condition;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::AlertKind;
use crate::auth::{AuthUser, Scope};
use crate::db;
use crate::db::entities::alerts;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::towns::{TownCache, TownRef};

/// An alert as the inbox, the live stream, webhooks and sync show it.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "id": "01936f5e-8a2b-7c3d-9e4f-5a6b7c8d9e0f", "event_id": 4711, "kind": "case_new",
    "town_id": "5d2e1f0a-3b4c-5d6e-8f70-8192a3b4c5d6",
    "town": {"id": "5d2e1f0a-3b4c-5d6e-8f70-8192a3b4c5d6", "code": "120115001", "name": "海滨街道"},
    "case_id": "01936f5e-0000-7000-8000-000000000001", "tip_id": null,
    "title": "New patrol case BD-2017-00042: 未批先建 two-storey building on farmland",
    "detail": {"case_number": "BD-2017-00042", "source": "patrol", "location": {"lon": 117.30, "lat": 39.72, "crs": "wgs84"}},
    "created_at": "2017-06-01T08:00:00Z", "acked_at": null, "acked_by": null, "escalated_at": null, "rev": 1
}))]
pub struct AlertView {
    pub id: Uuid,
    /// Position of the alert in the live stream (`id:` of the Server-Sent Event,
    /// what `Last-Event-ID` resumes from); increases with every new alert.
    pub event_id: i64,
    pub kind: AlertKind,
    /// The town it is for; null: the bureau.
    pub town_id: Option<Uuid>,
    pub town: Option<TownRef>,
    pub case_id: Option<Uuid>,
    pub tip_id: Option<Uuid>,
    pub title: String,
    pub detail: Value,
    pub created_at: DateTime<Utc>,
    pub acked_at: Option<DateTime<Utc>>,
    pub acked_by: Option<Uuid>,
    /// When the bureau was alerted because nobody acknowledged this one.
    pub escalated_at: Option<DateTime<Utc>>,
    pub rev: i64,
}

/// The view of a stored alert.
pub fn view(m: &alerts::Model, towns: &TownCache) -> AlertView {
    AlertView {
        id: m.id,
        event_id: m.created_seq,
        kind: AlertKind::parse(&m.kind).unwrap_or(AlertKind::CaseNew),
        town_id: m.town_id,
        town: m.town_id.and_then(|t| towns.get(t)),
        case_id: m.case_id,
        tip_id: m.tip_id,
        title: m.title.clone(),
        detail: m.detail.clone(),
        created_at: m.created_at,
        acked_at: m.acked_at,
        acked_by: m.acked_by,
        escalated_at: m.escalated_at,
        rev: m.rev,
    }
}

/// Who reads alerts: town offices (their town's) and the bureau (all).
pub const READERS: &[Role] = &[Role::TownOfficer, Role::BureauAdmin];

/// The condition selecting the alerts `user` may see (after [`READERS`]).
pub fn scope_condition(user: &AuthUser) -> Condition {
    match user.scope() {
        Scope::District => Condition::all(),
        Scope::Towns(list) => Condition::all().add(alerts::Column::TownId.is_in(list)),
    }
}

/// Whether `user` may see an alert of `town` (None: the bureau's).
pub fn visible(user: &AuthUser, town: Option<Uuid>) -> bool {
    READERS.contains(&user.role) && user.scope().covers(town)
}

/// Inbox filters.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AlertQuery {
    /// Only alerts not yet acknowledged (`true`) or only acknowledged ones (`false`).
    pub unacked: Option<bool>,
    /// Only this kind, e.g. `case_new`.
    #[param(value_type = Option<crate::alerts::AlertKind>)]
    pub kind: Option<String>,
    /// Only alerts older than this `event_id` (the next page of a newest-first listing).
    pub before: Option<i64>,
    /// Only alerts newer than this `event_id`.
    pub after: Option<i64>,
    /// Page size (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u64>,
}

/// A page of the inbox, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertPage {
    pub alerts: Vec<AlertView>,
    /// Pass as `before` for the next (older) page; null at the end.
    pub next_before: Option<i64>,
}

/// A page size given as `limit` (1 to 500), or `default`.
pub fn page_limit(limit: Option<u64>, default: u64) -> ApiResult<u64> {
    let limit = limit.unwrap_or(default);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::new(landpatrol_sync::ErrorCode::InvalidQuery, "limit must be 1 to 500")
            .with_details(serde_json::json!({ "field": "limit" })));
    }
    Ok(limit)
}

/// The caller's inbox.
pub async fn list(state: &AppState, user: &AuthUser, q: &AlertQuery) -> ApiResult<AlertPage> {
    user.require(READERS)?;
    let limit = page_limit(q.limit, 50)?;
    let mut find = alerts::Entity::find().filter(scope_condition(user));
    if let Some(k) = &q.kind {
        let kind = AlertKind::parse(k).ok_or_else(|| {
            ApiError::new(landpatrol_sync::ErrorCode::InvalidQuery, format!("unknown alert kind {k:?}"))
                .with_details(serde_json::json!({ "field": "kind", "allowed": AlertKind::ALL }))
        })?;
        find = find.filter(alerts::Column::Kind.eq(kind.as_str()));
    }
    match q.unacked {
        Some(true) => find = find.filter(alerts::Column::AckedAt.is_null()),
        Some(false) => find = find.filter(alerts::Column::AckedAt.is_not_null()),
        None => {}
    }
    if let Some(b) = q.before {
        find = find.filter(alerts::Column::CreatedSeq.lt(b));
    }
    if let Some(a) = q.after {
        find = find.filter(alerts::Column::CreatedSeq.gt(a));
    }
    let rows = find.order_by_desc(alerts::Column::CreatedSeq).limit(limit + 1).all(&state.db).await?;
    let more = rows.len() as u64 > limit;
    let alerts: Vec<AlertView> = rows.iter().take(limit as usize).map(|m| view(m, &state.towns)).collect();
    let next_before = if more { alerts.last().map(|a| a.event_id) } else { None };
    Ok(AlertPage { alerts, next_before })
}

async fn load(conn: &impl ConnectionTrait, user: &AuthUser, id: Uuid) -> ApiResult<alerts::Model> {
    user.require(READERS)?;
    let m = alerts::Entity::find_by_id(id).one(conn).await?.ok_or_else(|| ApiError::not_found("alert"))?;
    if !visible(user, m.town_id) {
        return Err(ApiError::not_found("alert"));
    }
    Ok(m)
}

/// One alert.
pub async fn get(state: &AppState, user: &AuthUser, id: Uuid) -> ApiResult<AlertView> {
    Ok(view(&load(&state.db, user, id).await?, &state.towns))
}

/// Acknowledges an alert (who, when). Acknowledging again changes nothing
/// and answers with the first acknowledgement.
pub async fn ack(state: &AppState, user: &AuthUser, id: Uuid) -> ApiResult<AlertView> {
    use sea_orm::TransactionTrait;
    let txn = state.db.begin().await?;
    let model = ack_in(&txn, user, id).await?;
    txn.commit().await?;
    Ok(view(&model, &state.towns))
}

/// [`ack`] inside the caller's transaction.
pub async fn ack_in(conn: &impl ConnectionTrait, user: &AuthUser, id: Uuid) -> ApiResult<alerts::Model> {
    let cur = load(conn, user, id).await?;
    if cur.acked_at.is_some() {
        return Ok(cur);
    }
    let mut m: alerts::ActiveModel = cur.clone().into();
    let now = Utc::now();
    m.acked_at = Set(Some(now));
    m.acked_by = Set(Some(user.id));
    m.rev = Set(cur.rev + 1);
    m.seq = Set(db::next_seq(conn).await?);
    m.updated_at = Set(now);
    Ok(m.update(conn).await?)
}

/// Alerts visible to `user` after stream position `after`, oldest first.
pub async fn since(
    conn: &impl ConnectionTrait,
    user: &AuthUser,
    after: i64,
    limit: u64,
) -> ApiResult<Vec<alerts::Model>> {
    Ok(alerts::Entity::find()
        .filter(scope_condition(user))
        .filter(alerts::Column::CreatedSeq.gt(after))
        .order_by_asc(alerts::Column::CreatedSeq)
        .limit(limit)
        .all(conn)
        .await?)
}
