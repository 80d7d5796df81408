//! Enforcement campaigns and the deadlines they set.

pub mod routes;
pub mod targets;

use chrono::{Duration, NaiveDate, Utc};
use landpatrol_sync::{CaseSource, Role};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, Set,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::db::{self, entities::campaigns};
use crate::error::{ApiError, ApiResult};

/// A campaign and its deadlines.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"id": "0193a4f2-7c1e-7d3a-9b1e-2f4c5d6e7f90", "name": "2017 违法违规用地治理年", "year": 2017, "starts_on": "2017-03-01", "ends_on": "2017-12-31",
    "satellite_deadline": "2017-05-31", "legacy_deadline": "2017-08-15", "idle_land_deadline": "2017-10-31", "patrol_days": 7, "tip_days": 15, "rev": 1}))]
pub struct CampaignView {
    pub id: Uuid,
    pub name: String,
    pub year: i32,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    pub satellite_deadline: NaiveDate,
    pub legacy_deadline: NaiveDate,
    pub idle_land_deadline: NaiveDate,
    /// Days a patrol discovery has ("find one, fix one").
    pub patrol_days: i32,
    /// Days a case from a public tip has.
    pub tip_days: i32,
    /// What the campaign measures (the standard 2017 targets when it names none).
    pub targets: Vec<targets::Target>,
    pub rev: i64,
}

/// A new campaign.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[schema(example = json!({"name": "2017 违法违规用地治理年", "starts_on": "2017-03-01", "ends_on": "2017-12-31",
    "satellite_deadline": "2017-05-31", "legacy_deadline": "2017-08-15", "idle_land_deadline": "2017-10-31", "patrol_days": 7, "tip_days": 15}))]
pub struct NewCampaign {
    pub id: Option<Uuid>,
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    pub satellite_deadline: NaiveDate,
    pub legacy_deadline: NaiveDate,
    pub idle_land_deadline: NaiveDate,
    #[schema(minimum = 1, maximum = 365)]
    pub patrol_days: Option<i32>,
    #[schema(minimum = 1, maximum = 365)]
    pub tip_days: Option<i32>,
    /// The targets; left out: the standard targets of the 2017 plan.
    #[schema(max_items = 50)]
    pub targets: Option<Vec<targets::Target>>,
}

impl From<campaigns::Model> for CampaignView {
    fn from(m: campaigns::Model) -> Self {
        view(m)
    }
}

fn view(m: campaigns::Model) -> CampaignView {
    CampaignView {
        id: m.id,
        name: m.name,
        year: m.year,
        starts_on: m.starts_on,
        ends_on: m.ends_on,
        satellite_deadline: m.satellite_deadline,
        legacy_deadline: m.legacy_deadline,
        idle_land_deadline: m.idle_land_deadline,
        patrol_days: m.patrol_days,
        tip_days: m.tip_days,
        targets: targets_of(&m.targets),
        rev: m.rev,
    }
}

/// A stored campaign's targets (the standard ones when it names none).
pub fn targets_of(stored: &Option<serde_json::Value>) -> Vec<targets::Target> {
    stored.as_ref().and_then(|v| serde_json::from_value(v.clone()).ok()).unwrap_or_else(targets::standard)
}

/// Creates a campaign; a retry with the same id returns the existing one.
pub async fn create(
    db: &DatabaseConnection,
    req: NewCampaign,
    defaults: (i64, i64),
    actor: Option<Uuid>,
) -> ApiResult<CampaignView> {
    if req.name.trim().is_empty() || req.name.chars().count() > 200 {
        return Err(ApiError::field("name", "name must be 1 to 200 characters"));
    }
    if req.ends_on < req.starts_on {
        return Err(ApiError::field("ends_on", "ends_on is before starts_on"));
    }
    let patrol_days = req.patrol_days.unwrap_or(i32::try_from(defaults.0).unwrap_or(7));
    let tip_days = req.tip_days.unwrap_or(i32::try_from(defaults.1).unwrap_or(15));
    if !(1..=365).contains(&patrol_days) || !(1..=365).contains(&tip_days) {
        return Err(ApiError::field("patrol_days", "patrol_days and tip_days must be 1 to 365"));
    }
    if let Some(t) = &req.targets {
        targets::check(t)?;
    }
    let id = req.id.unwrap_or_else(Uuid::now_v7);
    if let Some(existing) = campaigns::Entity::find_by_id(id).one(db).await? {
        return Ok(view(existing));
    }
    let now = Utc::now();
    let seq = db::next_seq(db).await?;
    let m = campaigns::ActiveModel {
        id: Set(id),
        name: Set(req.name.trim().to_owned()),
        year: Set(chrono::Datelike::year(&req.starts_on)),
        starts_on: Set(req.starts_on),
        ends_on: Set(req.ends_on),
        satellite_deadline: Set(req.satellite_deadline),
        legacy_deadline: Set(req.legacy_deadline),
        idle_land_deadline: Set(req.idle_land_deadline),
        patrol_days: Set(patrol_days),
        tip_days: Set(tip_days),
        targets: Set(req.targets.map(|t| json!(t))),
        rev: Set(1),
        seq: Set(seq),
        created_seq: Set(seq),
        deleted: Set(false),
        field_clock: Set(json!({})),
        created_by: Set(actor),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?;
    Ok(view(m))
}

/// Every campaign, newest first.
pub async fn list(db: &DatabaseConnection) -> ApiResult<Vec<CampaignView>> {
    let rows = campaigns::Entity::find()
        .filter(campaigns::Column::Deleted.eq(false))
        .order_by_desc(campaigns::Column::StartsOn)
        .all(db)
        .await?;
    Ok(rows.into_iter().map(view).collect())
}

/// The campaign covering `day`, the most recently started if several do.
pub async fn covering(conn: &impl ConnectionTrait, day: NaiveDate) -> ApiResult<Option<campaigns::Model>> {
    Ok(campaigns::Entity::find()
        .filter(campaigns::Column::Deleted.eq(false))
        .filter(campaigns::Column::StartsOn.lte(day))
        .filter(campaigns::Column::EndsOn.gte(day))
        .order_by_desc(campaigns::Column::StartsOn)
        .one(conn)
        .await?)
}

/// The deadline a campaign sets for a case of `source` discovered on `day`.
pub fn deadline(c: &campaigns::Model, source: CaseSource, day: NaiveDate) -> NaiveDate {
    match source {
        CaseSource::Satellite => c.satellite_deadline,
        CaseSource::Legacy => c.legacy_deadline,
        CaseSource::IdleLand => c.idle_land_deadline,
        CaseSource::Patrol => day + Duration::days(i64::from(c.patrol_days)),
        CaseSource::Tip => day + Duration::days(i64::from(c.tip_days)),
    }
}

/// Who may create campaigns.
pub const MANAGERS: &[Role] = &[Role::BureauAdmin];
