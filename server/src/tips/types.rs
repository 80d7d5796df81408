//! The tip API's shapes.

use chrono::{DateTime, Utc};
use landpatrol_sync::{GeoPoint, ViolationType};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::towns::TownRef;

/// How to reach the reporter; shown only to the office handling the tip.
#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    #[schema(max_length = 100)]
    pub name: Option<String>,
    #[schema(max_length = 40)]
    pub phone: Option<String>,
    #[schema(max_length = 254)]
    pub email: Option<String>,
}

/// A public tip (群众举报) as a reporter sends it. Unknown fields are refused.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"location": {"lon": 117.301546, "lat": 39.734765, "crs": "gcj02", "accuracy_m": 12.0},
    "description": "村东头耕地上正在盖两层砖房 (a two-storey brick house going up on farmland east of the village)",
    "address": "海滨街道北台村东", "violation_type": "farmland_occupation",
    "photos": ["724e74af3f1faa527dee17a38521a3cdc9165b73416785eacdfe5fcf32a48899"],
    "contact": {"name": "张先生", "phone": "13800000000"}}))]
pub struct NewTip {
    /// Where it is; any supported `crs`, stored as WGS-84.
    pub location: GeoPoint,
    /// What is happening, 1 to 4000 characters (not only spaces).
    #[schema(min_length = 1, max_length = 4000, pattern = "\\S")]
    pub description: String,
    /// Address or landmark in words (at most 500 characters).
    #[serde(default)]
    #[schema(max_length = 500)]
    pub address: Option<String>,
    /// What kind of violation the reporter thinks it is.
    #[serde(default)]
    pub violation_type: Option<ViolationType>,
    /// SHA-256 of photos uploaded before (`PUT /photos/{sha256}` or tus), at most `tips.max_photos` (10 unless configured).
    #[serde(default)]
    #[schema(value_type = Vec<crate::photos::types::PhotoHash>)]
    pub photos: Vec<String>,
    #[serde(default)]
    pub contact: Option<Contact>,
}

/// What the reporter keeps: the tip id and the token to look it up.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"id": "0193a4f2-7c1e-7d3a-9b1e-2f4c5d6e7fa0", "receipt_token": "lptr_q0cVd3E1cb1QmvXQ9h3m0kq2Yk5sT1VZbnV2b0d3c1k",
    "status": "received", "status_url": "/api/v1/tips/0193a4f2-7c1e-7d3a-9b1e-2f4c5d6e7fa0?receipt_token=lptr_q0cVd3E1cb1QmvXQ9h3m0kq2Yk5sT1VZbnV2b0d3c1k",
    "created_at": "2017-06-01T08:00:00Z"}))]
pub struct TipReceipt {
    pub id: Uuid,
    pub receipt_token: String,
    pub status: String,
    pub status_url: String,
    pub created_at: DateTime<Utc>,
}

/// What the reporter sees with the receipt token: nothing private.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"id": "0193a4f2-7c1e-7d3a-9b1e-2f4c5d6e7fa0", "status": "case_created", "public_status": "in_progress",
    "case_number": "BD-2017-00042", "created_at": "2017-06-01T08:00:00Z", "updated_at": "2017-06-02T01:30:00Z",
    "description": "村东头耕地上正在盖两层砖房", "location": {"lon": 117.295129, "lat": 39.733503, "crs": "wgs84"}}))]
pub struct PublicTipView {
    pub id: Uuid,
    /// `received`, `case_created`, `merged` or `rejected`.
    pub status: String,
    /// `received`, `in_progress` (a case is open) or `closed`.
    pub public_status: String,
    pub case_number: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub description: String,
    /// WGS-84.
    pub location: GeoPoint,
    /// The tip's photos as the public may see them: links (with this receipt's token) to
    /// copies without EXIF, XMP or GPS (1024-pixel JPEGs made from the photos); the
    /// originals stay byte for byte for the office. A photo still being processed is
    /// left out until its copy is ready.
    pub photos: Vec<String>,
}

/// An open case near a tip: perhaps the same thing reported again.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct DuplicateCandidate {
    pub case_id: Uuid,
    pub case_number: String,
    pub status: String,
    pub description: String,
    pub address: String,
    /// Metres from the tip.
    pub distance_m: f64,
    /// Where the case is (WGS-84), for a map of the tip and its candidates.
    pub location: landpatrol_sync::GeoPoint,
}

/// A tip as the office handling it sees it.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"id": "0193a4f2-7c1e-7d3a-9b1e-2f4c5d6e7fa0", "status": "received", "public_status": "received",
    "channel": "api", "town": {"id": "5d2e1f0a-3b4c-5d6e-8f70-8192a3b4c5d6", "code": "120115001", "name": "海滨街道"},
    "location": {"lon": 117.295129, "lat": 39.733503, "crs": "wgs84", "accuracy_m": 12.0}, "input_crs": "gcj02",
    "address": "海滨街道北台村东", "description": "村东头耕地上正在盖两层砖房", "violation_type": "farmland_occupation",
    "attributes": {}, "media_url": null, "contact": {"name": "张先生", "phone": "13800000000", "email": null},
    "client_addr": "203.0.113.7", "device_id": null, "photos": ["724e74af3f1faa527dee17a38521a3cdc9165b73416785eacdfe5fcf32a48899"],
    "case_id": null, "case_number": null, "triage_note": null, "triaged_by": null, "triaged_at": null,
    "created_at": "2017-06-01T08:00:00Z", "updated_at": "2017-06-01T08:00:00Z",
    "duplicates": [{"case_id": "0193a4f2-0000-7000-8000-000000000001", "case_number": "BD-2017-00007", "status": "registered",
        "description": "新建彩钢房", "address": "北台村", "distance_m": 41.7,
        "location": {"lon": 117.295533, "lat": 39.733651, "crs": "wgs84", "accuracy_m": null}}]}))]
pub struct TipView {
    pub id: Uuid,
    pub status: String,
    pub public_status: String,
    /// `api` or `open311`.
    pub channel: String,
    pub town: Option<TownRef>,
    /// WGS-84.
    pub location: GeoPoint,
    /// The system the reporter sent the point in.
    pub input_crs: String,
    pub address: String,
    pub description: String,
    /// The violation type (Open311 service code) the reporter chose.
    pub violation_type: Option<String>,
    /// Open311 `attribute[...]` answers.
    pub attributes: Value,
    pub media_url: Option<String>,
    pub contact: Option<Contact>,
    pub client_addr: Option<String>,
    pub device_id: Option<String>,
    /// SHA-256 of the photos the tip names.
    pub photos: Vec<String>,
    pub case_id: Option<Uuid>,
    pub case_number: Option<String>,
    pub triage_note: Option<String>,
    pub triaged_by: Option<Uuid>,
    pub triaged_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Open cases within `tips.duplicate_radius_m`, nearest first (one tip only, not in lists).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duplicates: Option<Vec<DuplicateCandidate>>,
}

/// A page of tips, newest first.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct TipPage {
    pub items: Vec<TipView>,
    /// Pass as `cursor` for the next (older) page; null on the last page.
    pub next_cursor: Option<String>,
}

/// Filters of `GET /tips`.
#[derive(Clone, Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TipFilter {
    /// One status or several, comma-separated: `received`, `case_created`, `merged`, `rejected`.
    #[param(
        example = "received",
        pattern = "^\\s*(received|case_created|merged|rejected)?\\s*(,\\s*(received|case_created|merged|rejected)?\\s*)*$"
    )]
    pub status: Option<String>,
    /// Page size (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u64>,
    /// `next_cursor` of the previous page.
    #[param(value_type = Option<Uuid>)]
    pub cursor: Option<String>,
}

/// `GET /tips/{id}` parameters.
#[derive(Clone, Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReceiptQuery {
    /// The receipt token from the submission; without it a staff login is needed.
    pub receipt_token: Option<String>,
}

/// What an office decides about a tip.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(tag = "action", rename_all = "snake_case")]
#[schema(example = json!({"action": "merge", "case_id": "0193a4f2-0000-7000-8000-000000000001", "note": "same building as BD-2017-00007"}))]
pub enum TriageRequest {
    /// A new case with source `tip`, made from the tip.
    CreateCase {
        #[serde(default)]
        violation_type: Option<ViolationType>,
        #[serde(default)]
        note: Option<String>,
    },
    /// The tip joins an existing open case in the caller's scope.
    Merge {
        case_id: Uuid,
        #[serde(default)]
        note: Option<String>,
    },
    /// Not taken up; `note` says why (required).
    Reject { note: String },
}

/// Tip statuses.
pub const RECEIVED: &str = "received";
pub const CASE_CREATED: &str = "case_created";
pub const MERGED: &str = "merged";
pub const REJECTED: &str = "rejected";
pub const STATUSES: &[&str] = &[RECEIVED, CASE_CREATED, MERGED, REJECTED];
