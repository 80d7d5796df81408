//! WatermelonDB compatibility (SYNC.md): an app on `@nozbe/watermelondb`
//! syncs with the `synchronize()` code of WatermelonDB's own documentation
//! (`mobile-api-docs/guides/watermelondb.md` has the exact code and the
//! schema). Pull and push go through the same scope and rules as the native
//! protocol.

pub mod marks;
pub mod pull;
pub mod push;
pub mod rows;
pub mod schema;

use std::collections::BTreeMap;

use landpatrol_sync::ErrorCode;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, ApiResult};

/// Query of `GET /sync/watermelon`, as WatermelonDB's documented
/// `pullChanges` builds it (`last_pulled_at=null&schema_version=1&migration=null`
/// on a first sync).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PullQuery {
    /// The `timestamp` of the last pull; absent, empty, `null` or `undefined` on the first.
    #[param(example = "1042")]
    pub last_pulled_at: Option<String>,
    /// The app's schema version (a whole number; `null` accepted).
    #[param(example = "1")]
    pub schema_version: Option<String>,
    /// WatermelonDB's migration info as JSON, or `null`:
    /// `{"from": 1, "tables": [...], "columns": [{"table": ..., "columns": [...]}]}`.
    #[param(example = "null")]
    pub migration: Option<String>,
    /// Only these tables, comma-separated (default: every table the role pulls); names the
    /// server does not have (the app's own tables) are ignored.
    #[param(example = "cases,inspections,observations")]
    pub tables: Option<String>,
}

/// Query of `POST /sync/watermelon`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PushQuery {
    /// The `timestamp` of the pull just before this push, as the documented
    /// `pushChanges` sends it: a retried push then changes nothing at all.
    #[param(example = "1042")]
    pub last_pulled_at: Option<String>,
}

/// One table's changes.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct WatermelonTableChanges {
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub created: Vec<Map<String, Value>>,
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub updated: Vec<Map<String, Value>>,
    #[serde(default)]
    pub deleted: Vec<String>,
}

/// `{"changes": {table: {created, updated, deleted}}, "timestamp": n}`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"changes": {"cases": {"created": [{"id": "0193a4f2-7c1e-7d3a-9b1e-2f4c5d6e7fa0", "case_number": "BD-2017-00001", "status": "reported", "lon": 117.295129, "lat": 39.733503, "crs": "wgs84"}], "updated": [], "deleted": []}}, "timestamp": 1042}))]
pub struct WatermelonPull {
    pub changes: BTreeMap<String, WatermelonTableChanges>,
    /// Opaque; pass it back as `last_pulled_at`.
    pub timestamp: i64,
}

/// The answer to a push.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"experimentalRejectedIds": {"observations": ["a1B2c3D4e5F6g7H8"]}, "resent": 1}))]
pub struct WatermelonPushResult {
    /// Created rows the server refused, by table: they stay unsynced on the
    /// phone (the reason is in the pulled `sync_rejections` table).
    #[serde(rename = "experimentalRejectedIds")]
    pub experimental_rejected_ids: BTreeMap<String, Vec<String>>,
    /// Records whose server state differs from what the phone pushed (a new
    /// case numbered, a field kept at a newer edit, a refused change): the
    /// next pull brings them; sync again now to show them.
    pub resent: usize,
}

/// The body of `POST /sync/watermelon`: WatermelonDB's changes as the
/// documented `pushChanges` sends them (`JSON.stringify(changes)`, with any
/// or no Content-Type), or `{"changes": …, "lastPulledAt": n}`.
pub fn parse_push_body(bytes: &[u8]) -> ApiResult<BTreeMap<String, WatermelonTableChanges>> {
    let invalid = |m: String| ApiError::new(ErrorCode::InvalidJson, m);
    let v: Value = serde_json::from_slice(bytes).map_err(|e| invalid(format!("the body is not JSON: {e}")))?;
    let Value::Object(mut obj) = v else { return Err(invalid("the body must be a JSON object of tables".into())) };
    let wrapped = obj.get("changes").is_some_and(Value::is_object)
        && obj.keys().all(|k| matches!(k.as_str(), "changes" | "lastPulledAt" | "last_pulled_at"));
    let changes = if wrapped { obj.remove("changes").unwrap_or(Value::Null) } else { Value::Object(obj) };
    serde_json::from_value(changes).map_err(|e| {
        invalid(format!("each table is {{\"created\": [rows], \"updated\": [rows], \"deleted\": [ids]}}: {e}"))
            .with_details(json!({ "field": "changes" }))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_push_forms_are_read() {
        let bare = br#"{"cases": {"created": [], "updated": [{"id": "a1B2c3D4e5F6g7H8"}], "deleted": []}}"#;
        assert_eq!(parse_push_body(bare).unwrap()["cases"].updated.len(), 1);
        let wrapped = br#"{"changes": {"cases": {"created": [], "updated": [], "deleted": ["x"]}}, "lastPulledAt": 5}"#;
        assert_eq!(parse_push_body(wrapped).unwrap()["cases"].deleted, ["x"]);
        assert!(parse_push_body(b"[1]").is_err());
        assert!(parse_push_body(b"{not json").is_err());
        assert!(parse_push_body(br#"{"cases": {"created": 5}}"#).is_err());
    }
}
