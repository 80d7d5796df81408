//! Observations: what an inspector saw at one place (append-only). One that
//! proposes a new violation creates a case routed to its town, in the same
//! transaction.

use chrono::{DateTime, Utc};
use landpatrol_sync::{CaseSource, GeoPoint, LandClass, Role, ViolationType};
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, Set};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::cases::service::{check_photos, create_in, load_in_scope, position_flags, route};
use crate::cases::types::NewCase;
use crate::db::{self, entities::observations};
use crate::error::{ApiError, ApiResult};
use crate::photos::evidence::{self, LinkTarget};
use crate::state::AppState;

/// The fields of an observation `create` op.
#[derive(Clone, Debug, Deserialize, ToSchema)]
pub struct NewObservation {
    pub inspection_id: Option<Uuid>,
    pub case_id: Option<Uuid>,
    pub location: GeoPoint,
    #[serde(default)]
    pub note: String,
    #[serde(default)]
    pub photos: Vec<String>,
    pub observed_at: Option<DateTime<Utc>>,
    /// A new violation seen here: the server makes a `patrol` case of it.
    pub propose_case: Option<ProposedCase>,
}

/// A new violation proposed by an observation.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
pub struct ProposedCase {
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub address: String,
    pub violation_type: Option<ViolationType>,
    pub land_class: Option<LandClass>,
}

/// An observation as pull sends it.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ObservationView {
    pub id: Uuid,
    pub inspection_id: Option<Uuid>,
    pub case_id: Option<Uuid>,
    pub town_id: Option<Uuid>,
    pub location: GeoPoint,
    pub note: String,
    pub photos: Vec<String>,
    pub observed_at: DateTime<Utc>,
    pub proposed_case_id: Option<Uuid>,
    pub flags: Vec<String>,
    pub rev: i64,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The columns pull needs (not the field clock), for a lighter read.
#[derive(Debug, sea_orm::FromQueryResult)]
pub struct PullRow {
    pub id: Uuid,
    pub inspection_id: Option<Uuid>,
    pub case_id: Option<Uuid>,
    pub town_id: Option<Uuid>,
    pub lon: f64,
    pub lat: f64,
    pub accuracy_m: Option<f64>,
    pub note: String,
    pub photos: serde_json::Value,
    pub observed_at: DateTime<Utc>,
    pub proposed_case_id: Option<Uuid>,
    pub flags: serde_json::Value,
    pub rev: i64,
    pub seq: i64,
    pub created_seq: i64,
    pub deleted: bool,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The columns of [`PullRow`].
pub const PULL_COLUMNS: [observations::Column; 19] = [
    observations::Column::Id,
    observations::Column::InspectionId,
    observations::Column::CaseId,
    observations::Column::TownId,
    observations::Column::Lon,
    observations::Column::Lat,
    observations::Column::AccuracyM,
    observations::Column::Note,
    observations::Column::Photos,
    observations::Column::ObservedAt,
    observations::Column::ProposedCaseId,
    observations::Column::Flags,
    observations::Column::Rev,
    observations::Column::Seq,
    observations::Column::CreatedSeq,
    observations::Column::Deleted,
    observations::Column::CreatedBy,
    observations::Column::CreatedAt,
    observations::Column::UpdatedAt,
];

/// The pull view of a pulled row, taking its values.
pub fn view_row(m: PullRow) -> ObservationView {
    ObservationView {
        id: m.id,
        inspection_id: m.inspection_id,
        case_id: m.case_id,
        town_id: m.town_id,
        location: GeoPoint {
            lon: m.lon,
            lat: m.lat,
            crs: landpatrol_sync::Crs::Wgs84,
            accuracy_m: m.accuracy_m,
            mock: false,
        },
        note: m.note,
        photos: serde_json::from_value(m.photos).unwrap_or_default(),
        observed_at: m.observed_at,
        proposed_case_id: m.proposed_case_id,
        flags: serde_json::from_value(m.flags).unwrap_or_default(),
        rev: m.rev,
        created_by: m.created_by,
        created_at: m.created_at,
        updated_at: m.updated_at,
    }
}

/// Namespace of the ids of cases proposed by observations: replaying the same
/// observation always names the same case.
const PROPOSED_CASE_NS: Uuid = Uuid::from_u128(0x6c70_6f62_7365_7276_6174_696f_6e2d_6361);

/// Checks an observation and builds its row, without touching the database:
/// `seq` is left for the caller to set. The proposed case, if any, is not made.
pub fn prepare(
    state: &AppState,
    user: &AuthUser,
    id: Uuid,
    req: &NewObservation,
    stamp: &str,
) -> ApiResult<observations::ActiveModel> {
    user.require(&[Role::Inspector, Role::TownOfficer, Role::BureauAdmin])?;
    if req.note.chars().count() > 4000 {
        return Err(ApiError::field("note", "note is longer than 4000 characters"));
    }
    let photos = check_photos(&req.photos)?;
    let point = req.location.to_wgs84()?;
    let routed = route(state, &point, None);
    let flags = position_flags(state, &point);
    let now = Utc::now();
    Ok(observations::ActiveModel {
        id: Set(id),
        inspection_id: Set(req.inspection_id),
        case_id: Set(req.case_id),
        town_id: Set(routed.town),
        lon: Set(point.lon),
        lat: Set(point.lat),
        accuracy_m: Set(point.accuracy_m),
        note: Set(req.note.trim().to_owned()),
        photos: Set(json!(photos)),
        observed_at: Set(req.observed_at.unwrap_or(now)),
        proposed_case_id: Set(None),
        flags: Set(json!(flags)),
        device_id: Set(user.device),
        rev: Set(1),
        seq: sea_orm::ActiveValue::NotSet,
        created_seq: sea_orm::ActiveValue::NotSet,
        deleted: Set(false),
        field_clock: Set(json!({ "*": stamp })),
        created_by: Set(Some(user.id)),
        created_at: Set(now),
        updated_at: Set(now),
    })
}

/// Records an observation (and the case it proposes) inside the caller's
/// transaction. The same user sending the same id again gets the stored one.
pub async fn record(
    conn: &impl ConnectionTrait,
    state: &AppState,
    user: &AuthUser,
    id: Uuid,
    req: NewObservation,
    stamp: &str,
) -> ApiResult<(bool, observations::Model)> {
    let mut model = prepare(state, user, id, &req, stamp)?;
    if let Some(existing) = observations::Entity::find_by_id(id).one(conn).await? {
        if existing.created_by == Some(user.id) {
            if existing.deleted || !user.sees_field_record(existing.town_id, existing.created_by) {
                return Err(ApiError::not_found("observation"));
            }
            return Ok((false, existing));
        }
        return Err(ApiError::new(landpatrol_sync::ErrorCode::DuplicateRecord, "an observation with this id exists"));
    }
    if let Some(case_id) = req.case_id {
        load_in_scope(conn, user, case_id).await?;
    }
    if let Some(p) = req.propose_case {
        let case_id = Uuid::new_v5(&PROPOSED_CASE_NS, id.as_bytes());
        let new_case = NewCase {
            id: Some(case_id),
            source: CaseSource::Patrol,
            location: req.location,
            polygon: None,
            description: if p.description.is_empty() { req.note.clone() } else { p.description },
            address: p.address,
            land_class: p.land_class,
            violation_type: p.violation_type,
            discovered_at: req.observed_at.or(Some(Utc::now())),
            external_ref: None,
            photos: vec![],
        };
        let (_, case) = create_in(conn, state, user, new_case).await?;
        model.proposed_case_id = Set(Some(case.id));
        if req.case_id.is_none() {
            model.case_id = Set(Some(case.id));
        }
    }
    let seq = db::next_seq(conn).await?;
    model.seq = Set(seq);
    model.created_seq = Set(seq);
    let model = model.insert(conn).await?;
    let photos = photo_hashes(&model);
    if !photos.is_empty() {
        evidence::link(conn, &state.settings.photos, Some(user.id), &[(link_target(&model), photos)]).await?;
    }
    Ok((true, model))
}

/// The photo hashes an observation names.
pub fn photo_hashes(m: &observations::Model) -> Vec<String> {
    serde_json::from_value(m.photos.clone()).unwrap_or_default()
}

/// An observation as a record naming photos.
pub fn link_target(m: &observations::Model) -> LinkTarget {
    LinkTarget {
        kind: "observation",
        record_id: m.id,
        case_id: m.case_id,
        town_id: m.town_id,
        point: Some((m.lon, m.lat)),
        at: m.observed_at,
    }
}

/// The photo link of an observation row not yet inserted (the push fast path).
pub fn pending_link(m: &observations::ActiveModel) -> Option<(LinkTarget, Vec<String>)> {
    let photos: Vec<String> = serde_json::from_value(m.photos.try_as_ref()?.clone()).unwrap_or_default();
    if photos.is_empty() {
        return None;
    }
    let target = LinkTarget {
        kind: "observation",
        record_id: *m.id.try_as_ref()?,
        case_id: m.case_id.try_as_ref().copied().flatten(),
        town_id: m.town_id.try_as_ref().copied().flatten(),
        point: Some((*m.lon.try_as_ref()?, *m.lat.try_as_ref()?)),
        at: *m.observed_at.try_as_ref()?,
    };
    Some((target, photos))
}
