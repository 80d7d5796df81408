//! Persistence helpers for cases: conversion to the API view and the ledger.

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use landpatrol_sync::{
    CaseSource, CaseStatus, Crs, Disposition, ErrorCode, GeoPoint, InspectionKind, InspectionResult, LandClass,
    ViolationType,
};
use sea_orm::{ActiveModelTrait, ConnectionTrait, Set};
use serde_json::Value;
use uuid::Uuid;

use super::types::{CaseView, HistoryEntry, InspectionView, Investigation};
use crate::auth::AuthUser;
use crate::db::entities::{case_events, cases, inspections, scope_events};
use crate::error::{ApiError, ApiResult};
use crate::towns::TownCache;

/// Baodi's local time: deadlines are calendar days there.
pub fn local_today() -> NaiveDate {
    local_date(Utc::now())
}

/// The local (UTC+8) calendar day of an instant.
pub fn local_date(at: DateTime<Utc>) -> NaiveDate {
    match FixedOffset::east_opt(8 * 3600) {
        Some(offset) => at.with_timezone(&offset).date_naive(),
        None => at.date_naive(),
    }
}

/// Notes that a case moved out of a town (`left`; None: the unassigned queue)
/// at the change-sequence position of the change that moved it. Sync reads
/// these: the town it left gets an `evict` in its next pull, and a WatermelonDB
/// pull tells from them whether a device had the case at its last pull.
pub async fn record_departure(conn: &impl ConnectionTrait, id: Uuid, left: Option<Uuid>, seq: i64) -> ApiResult<()> {
    scope_events::ActiveModel {
        table_name: Set("cases".to_owned()),
        record_id: Set(id),
        left_town_id: Set(left),
        seq: Set(seq),
        at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    Ok(())
}

/// A server clock stamp for `field_clock`, in the HLC wire form.
pub fn server_stamp() -> String {
    format!("{:013}-0000-server", Utc::now().timestamp_millis())
}

fn stored<T>(value: Option<&str>, parse: fn(&str) -> Option<T>, what: &str) -> ApiResult<Option<T>> {
    match value {
        None => Ok(None),
        Some(s) => parse(s)
            .map(Some)
            .ok_or_else(|| ApiError::new(ErrorCode::InternalError, format!("stored {what} {s:?} is unknown"))),
    }
}

/// Whether the case is past its deadline with work still owed.
pub fn is_overdue(status: CaseStatus, deadline: Option<NaiveDate>, today: NaiveDate) -> bool {
    status.is_open() && deadline.is_some_and(|d| d < today)
}

/// The API view of a stored case, for `user`.
pub fn view(m: &cases::Model, towns: &TownCache, user: &AuthUser) -> ApiResult<CaseView> {
    let status = stored(Some(&m.status), CaseStatus::parse, "status")?.unwrap_or(CaseStatus::Reported);
    let source = stored(Some(&m.source), CaseSource::parse, "source")?.unwrap_or(CaseSource::Patrol);
    let allowed = if user.scope().covers(m.town_id) || user.role == landpatrol_sync::Role::Verifier {
        landpatrol_sync::lifecycle::allowed_targets(status, user.role)
    } else {
        Vec::new()
    };
    Ok(CaseView {
        id: m.id,
        sync_id: crate::ids::wire(m.id),
        case_number: m.case_number.clone(),
        source,
        status,
        location: GeoPoint { lon: m.lon, lat: m.lat, crs: Crs::Wgs84, accuracy_m: m.accuracy_m, mock: false },
        polygon: m.polygon.clone(),
        area_m2: m.area_m2,
        town: m.town_id.and_then(|t| towns.get(t)),
        near_boundary: m.near_boundary,
        neighbour_town: m.neighbour_town_id.and_then(|t| towns.get(t)),
        description: m.description.clone(),
        address: m.address.clone(),
        land_class: stored(m.land_class.as_deref(), LandClass::parse, "land_class")?,
        violation_type: stored(m.violation_type.as_deref(), ViolationType::parse, "violation_type")?,
        disposition: stored(m.disposition.as_deref(), Disposition::parse, "disposition")?,
        notice_served_at: m.notice_served_at,
        leadership_reported_at: m.leadership_reported_at,
        campaign_id: m.campaign_id,
        deadline: m.deadline,
        overdue: is_overdue(status, m.deadline, local_today()),
        discovered_at: m.discovered_at,
        investigation: Investigation {
            confiscated_gains_fen: m.confiscated_gains_fen,
            disciplinary_actions: serde_json::from_value(m.disciplinary_actions.clone()).unwrap_or_default(),
            judicial_referral: m.judicial_referral,
            publicised: m.publicised,
        },
        site_check_result: stored(m.site_check_result.as_deref(), InspectionResult::parse, "site_check_result")?,
        dismiss_reason: m.dismiss_reason.clone(),
        external_ref: m.external_ref.clone(),
        flags: serde_json::from_value(m.flags.clone()).unwrap_or_default(),
        rev: m.rev,
        created_by: m.created_by,
        created_at: m.created_at,
        updated_at: m.updated_at,
        allowed_transitions: allowed,
    })
}

/// The API view of an inspection.
pub fn inspection_view(m: &inspections::Model) -> ApiResult<InspectionView> {
    let kind = stored(Some(&m.kind), InspectionKind::parse, "kind")?.unwrap_or(InspectionKind::Patrol);
    let location = match (m.lon, m.lat) {
        (Some(lon), Some(lat)) => Some(GeoPoint { lon, lat, crs: Crs::Wgs84, accuracy_m: m.accuracy_m, mock: false }),
        _ => None,
    };
    Ok(InspectionView {
        id: m.id,
        case_id: m.case_id,
        kind,
        result: stored(m.result.as_deref(), InspectionResult::parse, "result")?,
        note: m.note.clone(),
        location,
        photos: serde_json::from_value(m.photos.clone()).unwrap_or_default(),
        inspected_at: m.inspected_at,
        inspector_id: m.inspector_id,
        device_id: m.device_id,
        rev: m.rev,
        created_at: m.created_at,
        updated_at: m.updated_at,
    })
}

/// A ledger entry to append.
pub struct Event<'a> {
    pub case_id: Uuid,
    pub action: &'a str,
    pub from_status: Option<CaseStatus>,
    pub to_status: Option<CaseStatus>,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub note: Option<String>,
}

/// Who made a change, for the ledger.
#[derive(Clone, Debug)]
pub struct Actor {
    pub id: Option<Uuid>,
    pub name: String,
    pub device: Option<Uuid>,
}

impl From<&AuthUser> for Actor {
    fn from(u: &AuthUser) -> Self {
        Actor { id: Some(u.id), name: u.username.clone(), device: u.device }
    }
}

impl Actor {
    /// The server itself (imports run from the command line, demo data).
    pub fn system(name: &str) -> Self {
        Actor { id: None, name: name.to_owned(), device: None }
    }
}

/// Appends one entry to the ledger, inside the caller's transaction.
pub async fn append_event(conn: &impl ConnectionTrait, actor: &Actor, e: Event<'_>) -> ApiResult<()> {
    case_events::ActiveModel {
        case_id: Set(e.case_id),
        at: Set(Utc::now()),
        actor_id: Set(actor.id),
        actor_name: Set(actor.name.clone()),
        device_id: Set(actor.device),
        action: Set(e.action.to_owned()),
        from_status: Set(e.from_status.map(|s| s.as_str().to_owned())),
        to_status: Set(e.to_status.map(|s| s.as_str().to_owned())),
        before: Set(e.before),
        after: Set(e.after),
        note: Set(e.note),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    Ok(())
}

/// The API view of a ledger row.
pub fn history_entry(m: case_events::Model) -> HistoryEntry {
    HistoryEntry {
        id: m.id,
        at: m.at,
        actor_id: m.actor_id,
        actor_name: m.actor_name,
        device_id: m.device_id,
        action: m.action,
        from_status: m.from_status,
        to_status: m.to_status,
        before: m.before,
        after: m.after,
        note: m.note,
    }
}
