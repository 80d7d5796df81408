//! The photo API's shapes.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// A photo named by the SHA-256 of its bytes: 64 hexadecimal characters
/// (the document's name for it; the wire value is a plain string).
#[derive(Clone, Debug, ToSchema)]
#[schema(value_type = String, pattern = "^[0-9a-fA-F]{64}$",
    example = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")]
pub struct PhotoHash(pub String);

/// A GPS fix read from EXIF (WGS-84).
#[derive(Clone, Copy, Debug, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct ExifGps {
    pub lat: f64,
    pub lon: f64,
    pub altitude_m: Option<f64>,
}

/// What the photo's EXIF says, cleaned (text trimmed, values of the wrong type dropped,
/// a 0,0 or NaN position treated as no fix).
#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct ExifView {
    /// `found`, `absent` or `unreadable`; `withheld` in the answer to an anonymous upload.
    pub status: String,
    /// Why the EXIF block could not be read, when `unreadable`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub make: Option<String>,
    pub model: Option<String>,
    /// 1 to 8; thumbnails are already turned upright by it.
    pub orientation: Option<u16>,
    /// The camera's wall clock (DateTimeOriginal).
    #[schema(value_type = Option<String>, example = "2017-05-20T10:03:11")]
    pub captured_at_local: Option<NaiveDateTime>,
    /// OffsetTimeOriginal, minutes east of UTC.
    pub offset_minutes: Option<i32>,
    /// The capture instant: from the EXIF offset, else the GPS clock, else the configured camera offset.
    pub captured_at: Option<DateTime<Utc>>,
    /// `exif_offset`, `gps_time` or `assumed_offset`.
    pub captured_at_basis: Option<String>,
    pub gps: Option<ExifGps>,
}

/// A record that names the photo, with the evidence checks.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema, PartialEq)]
#[schema(example = json!({"sha256": "724e74af3f1faa527dee17a38521a3cdc9165b73416785eacdfe5fcf32a48899", "record_kind": "observation",
    "record_id": "0190f1e2-7a4b-7c3d-9e8f-0a1b2c3d4e5f", "case_id": null, "status": "checked", "thumbnail": "ready",
    "flags": ["far_from_report"], "distance_m": 812.4, "time_diff_secs": -95, "reported_at": "2017-05-20T02:05:00Z"}))]
pub struct PhotoLinkView {
    pub sha256: String,
    /// `case`, `observation`, `inspection` or `transition`.
    pub record_kind: String,
    pub record_id: Uuid,
    pub case_id: Option<Uuid>,
    /// `pending` until the photo's bytes arrive, then `checked`.
    pub status: String,
    /// The photo's thumbnail state: `pending`, `ready`, `unavailable`, `failed`; `missing` before upload.
    pub thumbnail: String,
    /// Evidence flags: `no_exif`, `no_gps`, `no_capture_time`, `far_from_report`,
    /// `time_mismatch`, `reused_elsewhere`.
    pub flags: Vec<String>,
    /// Metres between the EXIF position and the position the record reports.
    pub distance_m: Option<f64>,
    /// Capture time minus the record's time, in seconds.
    pub time_diff_secs: Option<i64>,
    pub reported_at: DateTime<Utc>,
}

/// A stored photo: facts, EXIF, thumbnail state and the records (in the caller's scope) naming it.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"sha256": "724e74af3f1faa527dee17a38521a3cdc9165b73416785eacdfe5fcf32a48899", "size_bytes": 338025,
    "media_type": "image/jpeg", "width": 1296, "height": 968, "uploaded_at": "2017-05-20T02:06:00Z",
    "exif": {"status": "found", "make": "Apple", "model": "iPhone 4", "orientation": 1, "captured_at_local": "2011-01-13T14:33:39",
        "offset_minutes": null, "captured_at": "2011-01-13T06:33:39Z", "captured_at_basis": "assumed_offset",
        "gps": {"lat": 41.853, "lon": 12.488833, "altitude_m": 17.0}},
    "thumbnail": "ready", "thumbnail_error": null, "links": [], "evidence_flags": []}))]
pub struct PhotoView {
    pub sha256: String,
    pub size_bytes: i64,
    pub media_type: String,
    /// Stored (not oriented) size, when the header gives it.
    pub width: Option<i32>,
    pub height: Option<i32>,
    pub uploaded_at: DateTime<Utc>,
    pub exif: ExifView,
    /// `pending`, `ready`, `unavailable` (a format that can not be decoded here: HEIC) or `failed` (damaged pixels).
    pub thumbnail: String,
    pub thumbnail_error: Option<String>,
    pub links: Vec<PhotoLinkView>,
    /// Every flag of the links, once each.
    pub evidence_flags: Vec<String>,
}
