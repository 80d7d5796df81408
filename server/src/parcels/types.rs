//! The parcel API's shapes.

use chrono::{DateTime, NaiveDate, Utc};
use landpatrol_sync::GeoPoint;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::towns::TownRef;

/// Parcel statuses.
pub const ACTIVE: &str = "active";
pub const IDLE: &str = "idle";
pub const DISPOSED: &str = "disposed";
pub const STATUSES: &[&str] = &[ACTIVE, IDLE, DISPOSED];

/// How an idle parcel was dealt with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DisposalKind {
    /// Construction started (动工开发); also sets the parcel's `actual_start`.
    ConstructionStarted,
    /// The idle-land fee (闲置费) was collected; `fee_fen` says how much.
    FeeCollected,
    /// The land was taken back without compensation (无偿收回).
    Repossessed,
    /// Anything else; say what in `note`.
    Other,
}

impl DisposalKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DisposalKind::ConstructionStarted => "construction_started",
            DisposalKind::FeeCollected => "fee_collected",
            DisposalKind::Repossessed => "repossessed",
            DisposalKind::Other => "other",
        }
    }
}

/// A parcel as an office or the bureau enters it. Unknown fields are refused.
/// Give `location`, `polygon` or both; without `town` the parcel is routed
/// to the town containing it.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"code": "津宝出让(2016)012号", "holder": "天津宝坻某某置业有限公司", "area_m2": 12500.5,
    "agreed_start": "2016-03-01", "actual_start": null,
    "location": {"lon": 117.295129, "lat": 39.733503, "crs": "wgs84"}}))]
pub struct NewParcel {
    /// Contract or allocation number (出让合同 / 划拨决定书编号), unique, 1 to 100 characters; never changes.
    #[schema(min_length = 1, max_length = 100, pattern = "\\S")]
    pub code: String,
    /// Who holds the land use right, 1 to 200 characters.
    #[schema(min_length = 1, max_length = 200, pattern = "\\S")]
    pub holder: String,
    /// Area in square metres, > 0.
    #[schema(exclusive_minimum = 0, maximum = 1000000000)]
    pub area_m2: f64,
    /// Agreed construction start, `YYYY-MM-DD` (years 1949 to 2200).
    #[schema(value_type = String, format = Date)]
    pub agreed_start: String,
    /// Actual construction start, `YYYY-MM-DD`; not after today, not more than 5 years before `agreed_start`.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Date)]
    pub actual_start: Option<String>,
    /// A point of the parcel (any supported `crs`, stored as WGS-84).
    #[serde(default)]
    pub location: Option<GeoPoint>,
    /// The parcel's outline as a GeoJSON Polygon or MultiPolygon (WGS-84).
    #[serde(default)]
    pub polygon: Option<Value>,
    /// The town (id or code); routed from the geometry when absent.
    #[serde(default)]
    pub town: Option<String>,
}

/// Changes to a parcel. `code` never changes (`immutable_field`); the dates
/// change only while the parcel is `active` (an idle one is closed by a disposal).
#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"holder": "天津宝坻某某置业有限公司 (renamed)", "actual_start": "2016-12-20"}))]
pub struct ParcelPatch {
    /// Refused: the contract number is the parcel's identity.
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    #[schema(min_length = 1, max_length = 200, pattern = "\\S")]
    pub holder: Option<String>,
    #[serde(default)]
    #[schema(exclusive_minimum = 0, maximum = 1000000000)]
    pub area_m2: Option<f64>,
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Date)]
    pub agreed_start: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Date)]
    pub actual_start: Option<String>,
}

/// A parcel.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"id": "0193a4f2-7c1e-7d3a-9b1e-2f4c5d6e7fb0", "code": "津宝出让(2016)012号",
    "holder": "天津宝坻某某置业有限公司", "area_m2": 12500.5, "agreed_start": "2016-03-01", "actual_start": null,
    "town": {"id": "5d2e1f0a-3b4c-5d6e-8f70-8192a3b4c5d6", "code": "120115001", "name": "海滨街道"},
    "location": {"lon": 117.295129, "lat": 39.733503, "crs": "wgs84"}, "polygon": null,
    "status": "idle", "idle_since": "2017-03-01", "idle_case_id": "0193a4f2-0000-7000-8000-000000000009",
    "disposed_on": null, "disposal": null, "rev": 2,
    "created_at": "2016-02-20T02:00:00Z", "updated_at": "2017-03-01T16:00:05Z"}))]
pub struct ParcelView {
    pub id: Uuid,
    pub code: String,
    pub holder: String,
    pub area_m2: f64,
    pub agreed_start: NaiveDate,
    pub actual_start: Option<NaiveDate>,
    pub town: Option<TownRef>,
    /// WGS-84: the point given, or the polygon's representative point.
    pub location: GeoPoint,
    pub polygon: Option<Value>,
    /// `active`, `idle` or `disposed`.
    pub status: String,
    /// One year after `agreed_start`, set by the sweep.
    pub idle_since: Option<NaiveDate>,
    /// The `idle_land` case the sweep opened.
    pub idle_case_id: Option<Uuid>,
    pub disposed_on: Option<NaiveDate>,
    /// The kind of the disposal that closed it.
    pub disposal: Option<String>,
    pub rev: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A page of parcels, newest first.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ParcelPage {
    pub items: Vec<ParcelView>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// Filters of `GET /parcels`.
#[derive(Clone, Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ParcelFilter {
    /// One status or several, comma-separated: `active`, `idle`, `disposed`.
    #[param(example = "idle", pattern = "^\\s*(active|idle|disposed)?\\s*(,\\s*(active|idle|disposed)?\\s*)*$")]
    pub status: Option<String>,
    /// A town id or code (within the caller's scope).
    pub town: Option<String>,
    /// Page size (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u64>,
    /// `next_cursor` of the previous page.
    #[param(value_type = Option<Uuid>)]
    pub cursor: Option<String>,
}

/// A disposal to record.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"kind": "fee_collected", "disposed_on": "2017-06-15", "fee_fen": 250000000,
    "note": "按土地出让价款20%征收闲置费"}))]
pub struct NewDisposal {
    /// A client-made id (UUIDv7 recommended): sending the same disposal again
    /// (a retry after a lost answer) returns the one recorded, `200`.
    #[serde(default)]
    pub id: Option<Uuid>,
    pub kind: DisposalKind,
    /// `YYYY-MM-DD`: not after today, not before the parcel's `agreed_start`.
    #[schema(value_type = String, format = Date)]
    pub disposed_on: String,
    /// The fee in fen (1/100 yuan), > 0; required for `fee_collected`, refused for the other kinds.
    #[serde(default)]
    pub fee_fen: Option<i64>,
    /// At most 2000 characters.
    #[serde(default)]
    pub note: Option<String>,
}

/// A recorded disposal.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"id": "0193a4f2-9000-7000-8000-0000000000d1", "parcel_id": "0193a4f2-7c1e-7d3a-9b1e-2f4c5d6e7fb0",
    "kind": "fee_collected", "disposed_on": "2017-06-15", "fee_fen": 250000000, "note": "按土地出让价款20%征收闲置费",
    "recorded_by": "0193a4f2-0000-7000-8000-0000000000a0", "created_at": "2017-06-15T03:00:00Z"}))]
pub struct DisposalView {
    pub id: Uuid,
    pub parcel_id: Uuid,
    pub kind: String,
    pub disposed_on: NaiveDate,
    pub fee_fen: Option<i64>,
    pub note: String,
    pub recorded_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

/// The answer to a disposal: the record and the parcel it closed.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct DisposalRecorded {
    pub disposal: DisposalView,
    pub parcel: ParcelView,
}

/// What an import did.
#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"rows": 3, "created": 2, "updated": 1, "unchanged": 0}))]
pub struct ParcelImportReport {
    /// Data rows read (the header not counted).
    pub rows: usize,
    pub created: usize,
    pub updated: usize,
    /// Rows identical to the stored parcel.
    pub unchanged: usize,
}

pub use crate::csv::RowError;
