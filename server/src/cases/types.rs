//! The API shapes of cases, inspections and the ledger.

use chrono::{DateTime, NaiveDate, Utc};
use landpatrol_sync::{
    CaseSource, CaseStatus, Disposition, GeoPoint, InspectionKind, InspectionResult, LandClass, ViolationType,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::towns::TownRef;

/// 查事又查人: what was done about the people and the gains.
#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct Investigation {
    /// Confiscated illegal gains, in fen (0.01 yuan).
    pub confiscated_gains_fen: Option<i64>,
    /// Disciplinary actions taken (free text, one per entry).
    pub disciplinary_actions: Vec<String>,
    /// Referred to the judiciary.
    pub judicial_referral: bool,
    /// Publicised as a typical case.
    pub publicised: bool,
}

/// A case (图斑/案件) as the API shows it.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "id": "0193a4f2-7c1e-7d3a-9b1e-2f4c5d6e7fa0", "sync_id": "0193a4f2-7c1e-7d3a-9b1e-2f4c5d6e7fa0", "case_number": "BD-2017-00001", "source": "patrol", "status": "registered",
    "location": {"lon": 117.295129, "lat": 39.733503, "crs": "wgs84", "accuracy_m": 8.0}, "polygon": null, "area_m2": null,
    "town": {"id": "5d2e1f0a-3b4c-5d6e-8f70-8192a3b4c5d6", "code": "120115001", "name": "海滨街道"}, "near_boundary": false, "neighbour_town": null,
    "description": "新建彩钢房约200平方米", "address": "北台村东", "land_class": "outside_plan", "violation_type": "built_without_approval",
    "disposition": "demolish_self", "notice_served_at": null, "leadership_reported_at": null,
    "campaign_id": "0193a4f2-7c1e-7d3a-9b1e-2f4c5d6e7f90", "deadline": "2017-05-27", "overdue": true, "discovered_at": "2017-05-20T00:03:11Z",
    "investigation": {"confiscated_gains_fen": null, "disciplinary_actions": [], "judicial_referral": false, "publicised": false},
    "site_check_result": null, "dismiss_reason": null, "external_ref": null, "flags": [], "rev": 2,
    "created_by": "0193a4f2-7c1e-7d3a-9b1e-2f4c5d6e7f80", "created_at": "2017-05-20T00:05:00Z", "updated_at": "2017-05-20T02:00:00Z",
    "allowed_transitions": ["rectifying"]}))]
pub struct CaseView {
    pub id: Uuid,
    /// The id the sync protocols and phones use: the UUID, or the 16-character
    /// WatermelonDB id of a case made on a phone (whose `id` is the UUID with
    /// those 16 bytes). `GET /cases/{id}` takes either.
    pub sync_id: String,
    /// Readable and unique per year, e.g. `BD-2017-00042`.
    pub case_number: String,
    pub source: CaseSource,
    pub status: CaseStatus,
    /// WGS-84.
    pub location: GeoPoint,
    /// GeoJSON Polygon/MultiPolygon of the patch, WGS-84.
    #[schema(value_type = Option<Object>)]
    pub polygon: Option<Value>,
    /// Patch area in m².
    pub area_m2: Option<f64>,
    /// The responsible town; null: the bureau's unassigned queue.
    pub town: Option<TownRef>,
    pub near_boundary: bool,
    pub neighbour_town: Option<TownRef>,
    pub description: String,
    pub address: String,
    pub land_class: Option<LandClass>,
    pub violation_type: Option<ViolationType>,
    pub disposition: Option<Disposition>,
    /// When the legal notice (告知) was served.
    pub notice_served_at: Option<DateTime<Utc>>,
    /// When the leadership group was informed of a forced demolition.
    pub leadership_reported_at: Option<DateTime<Utc>>,
    pub campaign_id: Option<Uuid>,
    pub deadline: Option<NaiveDate>,
    /// Past its deadline with work still owed.
    pub overdue: bool,
    pub discovered_at: DateTime<Utc>,
    pub investigation: Investigation,
    /// The latest on-site check result.
    pub site_check_result: Option<InspectionResult>,
    pub dismiss_reason: Option<String>,
    /// The id of the patch in the file it was imported from.
    pub external_ref: Option<String>,
    /// Routing and evidence flags: `near_boundary`, `unassigned`, `low_accuracy`, `mock_location`, `no_campaign`.
    pub flags: Vec<String>,
    pub rev: i64,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The statuses the caller may move this case to now.
    pub allowed_transitions: Vec<CaseStatus>,
}

/// A case with its ledger, for `GET /cases/{id}`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct CaseDetail {
    #[serde(flatten)]
    pub case: CaseView,
    pub history: Vec<HistoryEntry>,
    /// The photos of the case's observations, inspections and transitions, with
    /// their evidence checks (`pending` until the bytes arrive).
    pub photos: Vec<crate::photos::types::PhotoLinkView>,
}

/// A new case entered by an office, the bureau or an inspector.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[schema(example = json!({"source": "patrol", "location": {"lon": 117.301546, "lat": 39.734765, "crs": "gcj02", "accuracy_m": 6.0},
    "description": "新建彩钢房约200平方米", "address": "北台村东", "violation_type": "built_without_approval"}))]
pub struct NewCase {
    /// A client-made id (UUIDv7 recommended): retrying the same create returns the same case.
    pub id: Option<Uuid>,
    pub source: CaseSource,
    pub location: GeoPoint,
    /// Optional patch outline, GeoJSON Polygon/MultiPolygon in WGS-84.
    #[schema(value_type = Option<Object>)]
    pub polygon: Option<Value>,
    #[serde(default)]
    #[schema(max_length = 4000)]
    pub description: String,
    #[serde(default)]
    #[schema(max_length = 500)]
    pub address: String,
    pub land_class: Option<LandClass>,
    pub violation_type: Option<ViolationType>,
    /// When it was found; defaults to now.
    pub discovered_at: Option<DateTime<Utc>>,
    #[schema(max_length = 100)]
    pub external_ref: Option<String>,
    /// SHA-256 hashes (64 hex characters) of photos of the case; the bytes may follow later.
    #[serde(default)]
    #[schema(value_type = Vec<crate::photos::types::PhotoHash>, max_items = 100)]
    pub photos: Vec<String>,
}

/// A field patch: `{"base_rev": 3, "fields": {"land_class": "outside_plan"}}`.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[schema(example = json!({"base_rev": 2, "fields": {"land_class": "outside_plan", "disposition": "demolish_forced", "notice_served_at": "2017-06-01T02:00:00Z"}}))]
pub struct CasePatch {
    /// When given, the patch is refused with `stale_revision` unless it is the current revision.
    pub base_rev: Option<i64>,
    /// Fields to change; absent fields are untouched. Mutable: location, polygon, description, address,
    /// land_class, violation_type, disposition, notice_served_at, leadership_reported_at,
    /// confiscated_gains_fen, disciplinary_actions, judicial_referral, publicised.
    #[schema(value_type = Object)]
    pub fields: serde_json::Map<String, Value>,
}

/// A lifecycle step.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[schema(example = json!({"from": "registered", "to": "rectifying", "note": "已下达整改通知", "photos": []}))]
pub struct TransitionRequest {
    /// The state the caller believes the case is in; a stale one is a `transition_conflict`.
    pub from: CaseStatus,
    pub to: CaseStatus,
    #[schema(max_length = 4000)]
    pub note: Option<String>,
    /// SHA-256 hashes of evidence photos.
    #[serde(default)]
    #[schema(value_type = Vec<crate::photos::types::PhotoHash>, max_items = 100)]
    pub photos: Vec<String>,
}

/// Hand a case to another town (or the unassigned queue).
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[schema(example = json!({"town": "120115002", "note": "across the road, 宝平街道's side"}))]
pub struct ReassignRequest {
    /// Town code or id; null moves the case to the bureau's unassigned queue.
    pub town: Option<String>,
    /// Why (required).
    #[schema(min_length = 1, max_length = 4000)]
    pub note: String,
}

/// One ledger entry.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"id": 7, "at": "2017-05-21T01:00:00Z", "actor_id": "0193a4f2-7c1e-7d3a-9b1e-2f4c5d6e7f80", "actor_name": "officer-120115001",
    "device_id": null, "action": "transition", "from_status": "registered", "to_status": "rectifying", "before": {"status": "registered"},
    "after": {"status": "rectifying"}, "note": "已下达整改通知"}))]
pub struct HistoryEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor_id: Option<Uuid>,
    pub actor_name: String,
    pub device_id: Option<Uuid>,
    /// `created`, `imported`, `updated`, `transition`, `reassigned`, `inspection_recorded`.
    pub action: String,
    pub from_status: Option<String>,
    pub to_status: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub before: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub after: Option<Value>,
    pub note: Option<String>,
}

/// An inspection recorded on a case.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[schema(example = json!({"kind": "site_check", "result": "illegal", "note": "现场确认为新建厂房", "location": {"lon": 117.2951, "lat": 39.7335, "crs": "wgs84", "accuracy_m": 5.0},
    "photos": ["9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"], "inspected_at": "2017-04-02T02:30:00Z"}))]
pub struct NewInspection {
    /// A client-made id: a retried request returns the same inspection.
    pub id: Option<Uuid>,
    pub kind: InspectionKind,
    pub result: Option<InspectionResult>,
    #[serde(default)]
    #[schema(max_length = 4000)]
    pub note: String,
    pub location: Option<GeoPoint>,
    /// SHA-256 hashes (64 hex characters) of photos.
    #[serde(default)]
    #[schema(value_type = Vec<crate::photos::types::PhotoHash>, max_items = 100)]
    pub photos: Vec<String>,
    pub inspected_at: Option<DateTime<Utc>>,
}

/// An inspection.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct InspectionView {
    pub id: Uuid,
    pub case_id: Option<Uuid>,
    pub kind: InspectionKind,
    pub result: Option<InspectionResult>,
    pub note: String,
    pub location: Option<GeoPoint>,
    pub photos: Vec<String>,
    pub inspected_at: DateTime<Utc>,
    pub inspector_id: Uuid,
    pub device_id: Option<Uuid>,
    pub rev: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Filters of `GET /cases` and `GET /cases.geojson`.
#[derive(Clone, Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CaseFilter {
    /// Town code or id, or `unassigned` for the bureau's queue.
    pub town: Option<String>,
    /// One status or several, comma-separated.
    #[param(
        example = "registered,rectifying",
        pattern = "^\\s*(reported|registered|rectifying|rectified|accepted|closed|dismissed)?\\s*(,\\s*(reported|registered|rectifying|rectified|accepted|closed|dismissed)?\\s*)*$"
    )]
    pub status: Option<String>,
    /// One source or several, comma-separated.
    #[param(
        example = "patrol,tip",
        pattern = "^\\s*(satellite|legacy|patrol|idle_land|tip)?\\s*(,\\s*(satellite|legacy|patrol|idle_land|tip)?\\s*)*$"
    )]
    pub source: Option<String>,
    /// Only cases past their deadline with work owed (true) or not (false).
    pub overdue: Option<bool>,
    /// `min_lon,min_lat,max_lon,max_lat` in WGS-84.
    #[param(example = "117.2,39.6,117.4,39.8")]
    pub bbox: Option<String>,
    /// Only the cases of this campaign (id; empty: all).
    #[param(pattern = "^(|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$")]
    pub campaign: Option<String>,
    /// Page size (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u64>,
    /// `next_cursor` of the previous page.
    #[param(value_type = Option<Uuid>)]
    pub cursor: Option<String>,
}

/// The filters of `GET /cases.geojson`, as [`CaseFilter`] with up to 50000
/// features (the document only: the handler reads a [`CaseFilter`]).
#[derive(Clone, Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct CaseExportFilter {
    /// Town code or id, or `unassigned` for the bureau's queue.
    pub town: Option<String>,
    /// One status or several, comma-separated.
    #[param(
        example = "registered,rectifying",
        pattern = "^\\s*(reported|registered|rectifying|rectified|accepted|closed|dismissed)?\\s*(,\\s*(reported|registered|rectifying|rectified|accepted|closed|dismissed)?\\s*)*$"
    )]
    pub status: Option<String>,
    /// One source or several, comma-separated.
    #[param(
        example = "patrol,tip",
        pattern = "^\\s*(satellite|legacy|patrol|idle_land|tip)?\\s*(,\\s*(satellite|legacy|patrol|idle_land|tip)?\\s*)*$"
    )]
    pub source: Option<String>,
    /// Only cases past their deadline with work owed (true) or not (false).
    pub overdue: Option<bool>,
    /// `min_lon,min_lat,max_lon,max_lat` in WGS-84.
    #[param(example = "117.2,39.6,117.4,39.8")]
    pub bbox: Option<String>,
    /// Only the cases of this campaign (id; empty: all).
    #[param(pattern = "^(|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$")]
    pub campaign: Option<String>,
    /// Most features (default 50000).
    #[param(minimum = 1, maximum = 50000)]
    pub limit: Option<u64>,
}

/// A page of cases.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct CasePage {
    pub items: Vec<CaseView>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// What a patch import did.
#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"created": 2, "existing": 0, "unassigned": 0, "cases": [{"external_ref": "WP-2017-001", "case_id": "0193a4f2-7c1e-7d3a-9b1e-2f4c5d6e7fa0", "case_number": "BD-2017-00001", "town_code": "120115001", "created": true}]}))]
pub struct PatchImportReport {
    pub created: usize,
    /// Patches already imported (same source and external ref): left unchanged.
    pub existing: usize,
    /// Patches outside every town, now in the unassigned queue.
    pub unassigned: usize,
    pub cases: Vec<ImportedPatch>,
    /// How a shapefile was read (absent for GeoJSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<PatchFileInfo>,
}

/// One imported patch.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ImportedPatch {
    pub external_ref: String,
    pub case_id: Uuid,
    pub case_number: String,
    pub town_code: Option<String>,
    pub created: bool,
    /// The polygon's area as the server computes it, m².
    #[serde(default)]
    pub area_m2: Option<f64>,
    /// The area the file states (a shapefile's `JCMJ`, `TBMJ`, …), as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reported_area: Option<f64>,
    /// The shapefile record the patch came from, from 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub row: Option<usize>,
}

/// A zip archive holding one ESRI shapefile, as bytes (the request body of a
/// shapefile import).
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary, content_media_type = "application/zip")]
pub struct ShapefileZip(pub Vec<u8>);

/// How a patch shapefile was read.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"name": "WP2017_4527", "crs": "CGCS2000_3_Degree_GK_Zone_39 (Gauss-Krüger, central meridian 117°E, false easting 39500000 m), .prj",
    "encoding": "GBK (language driver 0x4D)", "columns": {"patch_id": "TBBH", "reported_area": "JCMJ", "change_type": "BHLX", "town": "XZQMC", "discovered_at": "JCSJ", "description": "BZ"}, "notes": []}))]
pub struct PatchFileInfo {
    /// The shapefile's name (its `.shp` without the extension).
    pub name: String,
    /// The coordinate system and where it came from (`.prj`, given, assumed).
    pub crs: String,
    /// The `.dbf` text encoding and where it came from.
    pub encoding: String,
    /// The column each attribute was read from.
    pub columns: std::collections::BTreeMap<String, String>,
    /// What the reader did that you should know (a zone prefix removed, deleted records skipped).
    pub notes: Vec<String>,
}
