//! Wire types of `/approvals`.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::towns::TownRef;

/// An approval to register.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"code": "津宝批〔2017〕12号", "town": "120115001", "approved_on": "2017-03-15",
    "approved_area_m2": 20000.0, "note": "农用地转用"}))]
pub struct NewApproval {
    /// The approval document number (批文号), 1 to 100 characters, unique.
    #[schema(min_length = 1, max_length = 100, pattern = "\\S")]
    pub code: String,
    /// Town id or code.
    pub town: String,
    /// Not after today.
    pub approved_on: NaiveDate,
    /// Greater than 0.
    #[schema(exclusive_minimum = 0, maximum = 1000000000)]
    pub approved_area_m2: f64,
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub note: String,
}

/// A change to an approval (the town and code do not change).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"approved_area_m2": 24000.0}))]
pub struct ApprovalPatch {
    /// Not after today, nor after its first supply.
    pub approved_on: Option<NaiveDate>,
    /// Greater than 0 and not below the area already supplied.
    #[schema(exclusive_minimum = 0, maximum = 1000000000)]
    pub approved_area_m2: Option<f64>,
    #[schema(max_length = 2000)]
    pub note: Option<String>,
}

/// An approval with its supplied area.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": "01936f5e-8a2b-7c3d-9e4f-5a6b7c8d9e01", "code": "津宝批〔2017〕12号",
    "town_id": "5d2e1f0a-3b4c-5d6e-8f70-8192a3b4c5d6", "town": {"id": "5d2e1f0a-3b4c-5d6e-8f70-8192a3b4c5d6", "code": "120115001", "name": "海滨街道"},
    "approved_on": "2017-03-15", "approved_area_m2": 20000.0, "supplied_area_m2": 12500.0, "unsupplied_area_m2": 7500.0,
    "supply_rate": 0.625, "note": "农用地转用", "rev": 3, "created_at": "2017-03-16T02:00:00Z", "updated_at": "2017-06-01T08:00:00Z"}))]
pub struct ApprovalView {
    pub id: Uuid,
    pub code: String,
    pub town_id: Uuid,
    pub town: Option<TownRef>,
    pub approved_on: NaiveDate,
    pub approved_area_m2: f64,
    /// The sum of the supplies.
    pub supplied_area_m2: f64,
    pub unsupplied_area_m2: f64,
    /// supplied / approved.
    pub supply_rate: f64,
    pub note: String,
    /// +1 per change (a supply included).
    pub rev: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A page of approvals.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApprovalPage {
    pub items: Vec<ApprovalView>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// Approval list filters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ApprovalQuery {
    /// Town id or code (a town office: its own).
    pub town: Option<String>,
    /// Page size (default 100), oldest first.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u64>,
    /// `next_cursor` of the previous page (empty: the first page).
    #[param(pattern = "^(|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$")]
    pub cursor: Option<String>,
}

/// Land supplied under an approval.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"id": "01936f5e-9999-7000-8000-00000000a001", "supplied_on": "2017-06-01", "area_m2": 8000.0,
    "note": "出让 宝地挂〔2017〕3号"}))]
pub struct NewSupply {
    /// A client-made id (UUIDv7 recommended): sending the same supply again answers `200`
    /// with nothing new made.
    pub id: Option<Uuid>,
    /// Not before the approval, not after today.
    pub supplied_on: NaiveDate,
    /// Greater than 0; the supplies of an approval never exceed its approved area.
    #[schema(exclusive_minimum = 0, maximum = 1000000000)]
    pub area_m2: f64,
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub note: String,
}

/// A recorded supply.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": "01936f5e-9999-7000-8000-00000000a001", "approval_id": "01936f5e-8a2b-7c3d-9e4f-5a6b7c8d9e01",
    "supplied_on": "2017-06-01", "area_m2": 8000.0, "note": "出让 宝地挂〔2017〕3号", "recorded_by": "01936f5e-0000-7000-8000-000000000001",
    "created_at": "2017-06-01T08:00:00Z"}))]
pub struct SupplyView {
    pub id: Uuid,
    pub approval_id: Uuid,
    pub supplied_on: NaiveDate,
    pub area_m2: f64,
    pub note: String,
    pub recorded_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

/// The answer to a supply: the supply and the approval after it.
#[derive(Debug, Serialize, ToSchema)]
pub struct SupplyResult {
    pub supply: SupplyView,
    pub approval: ApprovalView,
}

/// What an import did.
#[derive(Debug, Default, Serialize, ToSchema)]
#[schema(example = json!({"rows": 3, "created": 2, "updated": 0, "unchanged": 1, "supplies": 2}))]
pub struct ImportReport {
    /// Data rows read.
    pub rows: usize,
    pub created: usize,
    pub updated: usize,
    /// Rows identical to what was there (a reimport).
    pub unchanged: usize,
    /// Supply rows made.
    pub supplies: usize,
}

pub use crate::csv::RowError;
