//! The idle-land sweep: every `active` parcel without an actual start whose
//! agreed start is a year past becomes `idle` and gets one `idle_land` case
//! (which alerts its town). Each parcel is claimed with a conditional
//! `UPDATE … WHERE status = 'active'` inside its own transaction, so running
//! the sweep twice, or on two instances at once, opens each case once.

use chrono::{DateTime, Months, NaiveDate, Utc};
use landpatrol_sync::{CaseSource, Crs, GeoPoint, ViolationType};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait};
use serde_json::{Value, json};
use uuid::Uuid;

use super::service::{idle_from, report_fields};
use super::types::{ACTIVE, IDLE};
use crate::cases::service::{CaseDraft, insert_case, route};
use crate::cases::store::{Actor, local_today, server_stamp};
use crate::db::{self, entities::parcels, land_history};
use crate::error::ApiResult;
use crate::state::AppState;
use crate::towns::geo;

/// Finds the parcels idle on `today` and opens their cases; returns how many
/// parcels became idle in this run.
pub async fn run_once(state: &AppState, today: NaiveDate) -> ApiResult<usize> {
    // agreed_start + 1 year <= today; one day of slack for 29 February, checked exactly below.
    let latest_start = today.checked_sub_months(Months::new(12)).map_or(today, |d| d.succ_opt().unwrap_or(d));
    let mut after: Option<Uuid> = None;
    let mut made = 0;
    loop {
        let mut q = parcels::Entity::find()
            .filter(parcels::Column::Status.eq(ACTIVE))
            .filter(parcels::Column::ActualStart.is_null())
            .filter(parcels::Column::Deleted.eq(false))
            .filter(parcels::Column::AgreedStart.lte(latest_start))
            .order_by_asc(parcels::Column::Id)
            .limit(200);
        if let Some(id) = after {
            q = q.filter(parcels::Column::Id.gt(id));
        }
        let page = q.all(&state.db).await?;
        let Some(last) = page.last().map(|p| p.id) else { break };
        after = Some(last);
        for p in page.into_iter().filter(|p| idle_from(p.agreed_start) <= today) {
            if make_idle(state, &p, today).await? {
                made += 1;
            }
        }
    }
    if made > 0 {
        state.alerts.wake();
        tracing::info!(parcels = made, "idle land found");
    }
    Ok(made)
}

/// Claims one parcel and opens its case, in one transaction; `false` when
/// another run claimed it first (or it changed meanwhile).
async fn make_idle(state: &AppState, p: &parcels::Model, today: NaiveDate) -> ApiResult<bool> {
    let idle_since = idle_from(p.agreed_start);
    let txn = state.db.begin().await?;
    let claimed = parcels::Entity::update_many()
        .col_expr(parcels::Column::Status, Expr::value(IDLE))
        .col_expr(parcels::Column::IdleSince, Expr::value(idle_since))
        .filter(parcels::Column::Id.eq(p.id))
        .filter(parcels::Column::Status.eq(ACTIVE))
        .filter(parcels::Column::ActualStart.is_null())
        .filter(parcels::Column::Deleted.eq(false))
        .exec(&txn)
        .await?;
    if claimed.rows_affected != 1 {
        txn.rollback().await?;
        return Ok(false);
    }
    let claimed_at = discovered_at(today);
    if let Some(now) = parcels::Entity::find_by_id(p.id).one(&txn).await? {
        // Before the claim it was active and not idle; the rest as it is.
        let mut before = report_fields(&now);
        before["status"] = json!(ACTIVE);
        before["idle_since"] = Value::Null;
        land_history::remember(&txn, land_history::PARCEL, p.id, "idle", claimed_at, before).await?;
    }
    let point = GeoPoint::wgs84(p.lon, p.lat)?;
    let polygon = p.polygon.as_ref().and_then(|v| geo::parse_geometry(v).ok());
    let mut routed = route(state, &point, polygon.as_ref());
    if p.town_id.is_some() && routed.town != p.town_id {
        // The parcel's town was given explicitly: it is responsible.
        routed.town = p.town_id;
        routed.near_boundary = false;
        routed.neighbour = None;
    }
    let draft = CaseDraft {
        id: Uuid::now_v7(),
        source: CaseSource::IdleLand,
        point,
        input_crs: Crs::Wgs84,
        polygon,
        description: format!(
            "闲置土地 idle land: {} ({}), {:.1} m², agreed construction start {}, no construction by {}",
            p.holder, p.code, p.area_m2, p.agreed_start, idle_since
        ),
        address: String::new(),
        land_class: None,
        violation_type: Some(ViolationType::IdleLand),
        discovered_at: claimed_at,
        external_ref: Some(format!("parcel:{}", p.id)),
    };
    let case = insert_case(&txn, state, &Actor::system("idle-land sweep"), draft, routed, "idle_land_detected").await?;
    let seq = db::next_seq(&txn).await?;
    parcels::Entity::update_many()
        .col_expr(parcels::Column::IdleCaseId, Expr::value(case.id))
        .col_expr(parcels::Column::Seq, Expr::value(seq))
        .col_expr(parcels::Column::Rev, Expr::col(parcels::Column::Rev).add(1))
        .col_expr(parcels::Column::FieldClock, Expr::value(json!({ "*": server_stamp() })))
        .col_expr(parcels::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(parcels::Column::Id.eq(p.id))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(true)
}

/// When a sweep for `today` finds a parcel idle: now; a sweep for another
/// day (tests, catching up): the start of that day in Baodi.
fn discovered_at(today: NaiveDate) -> DateTime<Utc> {
    if today == local_today() { Utc::now() } else { crate::reports::service::start_of_day(today) }
}

/// The periodic task: the first run shortly after start, then every
/// `parcels.sweep_interval_secs`.
pub async fn run(state: AppState) {
    let every = std::time::Duration::from_secs(Ord::max(state.settings.parcels.sweep_interval_secs, 1));
    let first = tokio::time::Instant::now() + every.min(std::time::Duration::from_secs(3600));
    let mut tick = tokio::time::interval_at(first, every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = run_once(&state, local_today()).await {
            tracing::warn!(error = %e, "idle-land sweep failed");
        }
    }
}
