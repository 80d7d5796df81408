//! Town alerts: written in the transaction of the change that causes them,
//! kept in an inbox with acknowledgement, streamed live (Server-Sent Events),
//! delivered to each town's webhooks from a database outbox, escalated to the
//! bureau when nobody acknowledges them.

pub mod egress;
pub mod hub;
pub mod outbox;
pub mod routes;
pub mod service;
pub mod sweeps;
pub mod webhooks;

use chrono::Utc;
use landpatrol_sync::CaseStatus;
use sea_orm::sea_query::{Condition, OnConflict};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QuerySelect, Set, Statement,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use uuid::Uuid;

pub use hub::AlertHub;

use crate::db;
use crate::db::entities::{alerts, cases, webhook_deliveries, webhooks as hooks};
use crate::error::ApiResult;

/// The PostgreSQL channel every instance listens on for new alerts.
pub const NOTIFY_CHANNEL: &str = "landpatrol_alerts";

/// What an alert is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// A new case in the town (patrol sync, satellite import, office entry, a tip made a case).
    CaseNew,
    /// A case was routed (reassigned, relocated) into the town.
    CaseRoutedIn,
    /// A case was routed out of the town.
    CaseRoutedOut,
    /// A public tip located in the town.
    TipReceived,
    /// A case's deadline is 7 days ahead.
    #[serde(rename = "deadline_7d")]
    Deadline7d,
    /// A case's deadline is 1 day ahead.
    #[serde(rename = "deadline_1d")]
    Deadline1d,
    /// A case's deadline has passed with work still owed.
    DeadlinePassed,
    /// A rectified case failed on-site acceptance.
    AcceptanceFailed,
    /// A town alert nobody acknowledged in time (for the bureau).
    Escalation,
}

impl AlertKind {
    pub const ALL: &'static [AlertKind] = &[
        AlertKind::CaseNew,
        AlertKind::CaseRoutedIn,
        AlertKind::CaseRoutedOut,
        AlertKind::TipReceived,
        AlertKind::Deadline7d,
        AlertKind::Deadline1d,
        AlertKind::DeadlinePassed,
        AlertKind::AcceptanceFailed,
        AlertKind::Escalation,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::CaseNew => "case_new",
            AlertKind::CaseRoutedIn => "case_routed_in",
            AlertKind::CaseRoutedOut => "case_routed_out",
            AlertKind::TipReceived => "tip_received",
            AlertKind::Deadline7d => "deadline_7d",
            AlertKind::Deadline1d => "deadline_1d",
            AlertKind::DeadlinePassed => "deadline_passed",
            AlertKind::AcceptanceFailed => "acceptance_failed",
            AlertKind::Escalation => "escalation",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|k| k.as_str() == s)
    }
}

/// An alert to record.
#[derive(Clone, Debug)]
pub struct NewAlert {
    /// The town it is for; `None`: the bureau.
    pub town_id: Option<Uuid>,
    pub kind: AlertKind,
    pub case_id: Option<Uuid>,
    pub tip_id: Option<Uuid>,
    /// One line a person reads.
    pub title: String,
    /// What a machine reads (case number, source, position, deadline…).
    pub detail: Value,
    /// Sweeps name each alert so that running them twice records it once.
    pub dedupe_key: Option<String>,
}

/// Records an alert inside the caller's transaction and queues it for every
/// webhook of its town (and the district-wide ones). Returns `None`
/// when an alert with the same `dedupe_key` exists.
pub async fn record(conn: &impl ConnectionTrait, alert: NewAlert) -> ApiResult<Option<alerts::Model>> {
    if let Some(key) = &alert.dedupe_key
        && alerts::Entity::find().filter(alerts::Column::DedupeKey.eq(key.as_str())).one(conn).await?.is_some()
    {
        return Ok(None);
    }
    let seq = db::next_seq(conn).await?;
    let now = Utc::now();
    let model = alerts::Model {
        id: Uuid::now_v7(),
        created_seq: seq,
        town_id: alert.town_id,
        kind: alert.kind.as_str().to_owned(),
        case_id: alert.case_id,
        tip_id: alert.tip_id,
        title: alert.title,
        detail: alert.detail,
        dedupe_key: alert.dedupe_key,
        acked_at: None,
        acked_by: None,
        escalated_at: None,
        rev: 1,
        seq,
        created_at: now,
        updated_at: now,
    };
    // Another instance's sweep may have recorded the same key meanwhile.
    let inserted = alerts::Entity::insert(alerts::ActiveModel::from(model.clone()).reset_all())
        .on_conflict(OnConflict::column(alerts::Column::DedupeKey).do_nothing().to_owned())
        .exec_without_returning(conn)
        .await?;
    if inserted == 0 {
        return Ok(None);
    }
    enqueue(conn, &model).await?;
    if conn.get_database_backend() == DbBackend::Postgres {
        // Delivered to every listening instance when the transaction commits.
        conn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_notify($1, $2)",
            [NOTIFY_CHANNEL.into(), seq.to_string().into()],
        ))
        .await?;
    }
    Ok(Some(model))
}

/// Queues an alert for the webhooks that want it (a paused one too: its
/// deliveries wait until it is resumed).
async fn enqueue(conn: &impl ConnectionTrait, alert: &alerts::Model) -> ApiResult<()> {
    let town = match alert.town_id {
        Some(t) => Condition::any().add(hooks::Column::TownId.eq(t)).add(hooks::Column::TownId.is_null()),
        None => Condition::all().add(hooks::Column::TownId.is_null()),
    };
    let hooks: Vec<Uuid> =
        hooks::Entity::find().select_only().column(hooks::Column::Id).filter(town).into_tuple().all(conn).await?;
    if hooks.is_empty() {
        return Ok(());
    }
    let rows = hooks.into_iter().map(|webhook_id| webhook_deliveries::ActiveModel {
        id: Set(Uuid::now_v7()),
        webhook_id: Set(webhook_id),
        alert_id: Set(alert.id),
        status: Set(outbox::PENDING.to_owned()),
        attempts: Set(0),
        next_attempt_at: Set(alert.created_at),
        locked_until: Set(None),
        last_status: Set(None),
        last_error: Set(None),
        created_at: Set(alert.created_at),
        delivered_at: Set(None),
        updated_at: Set(alert.created_at),
    });
    webhook_deliveries::Entity::insert_many(rows).exec_without_returning(conn).await?;
    Ok(())
}

/// What alerts say of a case.
pub fn case_detail(c: &cases::Model) -> Value {
    json!({
        "case_id": c.id,
        "case_number": c.case_number,
        "source": c.source,
        "status": c.status,
        "town_id": c.town_id,
        "location": { "lon": c.lon, "lat": c.lat, "crs": "wgs84" },
        "address": c.address,
        "violation_type": c.violation_type,
        "deadline": c.deadline,
        "discovered_at": c.discovered_at,
    })
}

/// The alert a new case raises in its town (the bureau's queue when unrouted).
pub async fn case_created(conn: &impl ConnectionTrait, c: &cases::Model) -> ApiResult<()> {
    let title = format!("New {} case {}: {}", c.source, c.case_number, short(&c.description, &c.address));
    record(
        conn,
        NewAlert {
            town_id: c.town_id,
            kind: AlertKind::CaseNew,
            case_id: Some(c.id),
            tip_id: None,
            title,
            detail: case_detail(c),
            // A case is inserted once: nothing to deduplicate.
            dedupe_key: None,
        },
    )
    .await?;
    Ok(())
}

/// The alerts a case moving between towns raises: one for the town it
/// entered, one for the town it left.
pub async fn case_moved(conn: &impl ConnectionTrait, before: Option<Uuid>, c: &cases::Model) -> ApiResult<()> {
    if before == c.town_id {
        return Ok(());
    }
    let mut detail = case_detail(c);
    detail["from_town_id"] = json!(before);
    detail["to_town_id"] = json!(c.town_id);
    record(
        conn,
        NewAlert {
            town_id: c.town_id,
            kind: AlertKind::CaseRoutedIn,
            case_id: Some(c.id),
            tip_id: None,
            title: format!("Case {} was routed to your town", c.case_number),
            detail: detail.clone(),
            dedupe_key: None,
        },
    )
    .await?;
    if before.is_some() {
        record(
            conn,
            NewAlert {
                town_id: before,
                kind: AlertKind::CaseRoutedOut,
                case_id: Some(c.id),
                tip_id: None,
                title: format!("Case {} was routed out of your town", c.case_number),
                detail,
                dedupe_key: None,
            },
        )
        .await?;
    }
    Ok(())
}

/// The alert a failed on-site acceptance raises.
pub async fn acceptance_failed(conn: &impl ConnectionTrait, c: &cases::Model, note: Option<&str>) -> ApiResult<()> {
    let mut detail = case_detail(c);
    detail["note"] = json!(note);
    record(
        conn,
        NewAlert {
            town_id: c.town_id,
            kind: AlertKind::AcceptanceFailed,
            case_id: Some(c.id),
            tip_id: None,
            title: format!("Case {} failed on-site acceptance: back to rectification", c.case_number),
            detail,
            dedupe_key: None,
        },
    )
    .await?;
    Ok(())
}

/// Whether a transition is a failed acceptance.
pub fn is_failed_acceptance(from: CaseStatus, to: CaseStatus) -> bool {
    from == CaseStatus::Rectified && to == CaseStatus::Rectifying
}

fn short(description: &str, address: &str) -> String {
    let text = if description.trim().is_empty() { address } else { description };
    let mut out: String = text.trim().chars().take(80).collect();
    if text.trim().chars().count() > 80 {
        out.push('…');
    }
    out
}
