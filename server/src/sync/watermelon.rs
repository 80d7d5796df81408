//! WatermelonDB compatibility (SYNC.md): an app on `@nozbe/watermelondb`
//! syncs with no custom server code. Pull and push go through the same scope
//! and rules as the native protocol; the "timestamp" is the change-sequence
//! position. Rows are flat: points as `lon`/`lat`/`accuracy_m`, times as
//! milliseconds, lists and objects as JSON strings.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use landpatrol_sync::sync::{ChangeOp, Op, OpKind, OpStatus, PushRequest};
use landpatrol_sync::{CaseStatus, ErrorCode};
use sea_orm::EntityTrait;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::pull::changes_after;
use crate::auth::AuthUser;
use crate::db::entities::{cases, devices};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Tables in push order (cases before the records that point at them).
const TABLES: [&str; 5] = ["cases", "inspections", "observations", "towns", "campaigns"];

/// Query of `GET /sync/watermelon`.
#[derive(Debug, Deserialize, IntoParams)]
pub struct PullQuery {
    /// The `timestamp` of the last pull; absent or null on the first.
    pub last_pulled_at: Option<i64>,
    pub schema_version: Option<u32>,
    /// WatermelonDB's migration info as JSON: `{"from": 1, "tables": [...], "columns": [{"table": ..., "columns": [...]}]}`.
    pub migration: Option<String>,
}

/// One table's changes.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct TableChanges {
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
#[schema(example = json!({"changes": {"cases": {"created": [{"id": "0193a4f2-7c1e-7d3a-9b1e-2f4c5d6e7fa0", "case_number": "BD-2017-00001", "status": "reported", "lon": 117.295129, "lat": 39.733503}], "updated": [], "deleted": []}}, "timestamp": 1042}))]
pub struct PullResponse {
    pub changes: BTreeMap<String, TableChanges>,
    pub timestamp: i64,
}

/// Body of `POST /sync/watermelon`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"changes": {"observations": {"created": [{"id": "a1B2c3D4e5F6g7H8", "lon": 117.295129, "lat": 39.733503, "note": "新建彩钢房", "photos": "[]", "observed_at": 1_495_238_591_000_i64, "_status": "created", "_changed": ""}], "updated": [], "deleted": []}}, "lastPulledAt": 1042}))]
pub struct PushBody {
    pub changes: BTreeMap<String, TableChanges>,
    #[serde(rename = "lastPulledAt")]
    pub last_pulled_at: Option<i64>,
}

/// What a push refused, by table.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct PushResponse {
    #[serde(rename = "experimentalRejectedIds", skip_serializing_if = "BTreeMap::is_empty")]
    pub experimental_rejected_ids: BTreeMap<String, Vec<String>>,
}

fn ms(v: &Value) -> Option<Value> {
    let s = v.as_str()?;
    let t = DateTime::parse_from_rfc3339(s).ok()?;
    Some(json!(t.timestamp_millis()))
}

/// A native record as a flat WatermelonDB row.
fn flatten(native: &Value) -> Map<String, Value> {
    let mut row = Map::new();
    let Some(obj) = native.as_object() else { return row };
    for (k, v) in obj {
        match (k.as_str(), v) {
            ("location", Value::Object(p)) => {
                for c in ["lon", "lat", "accuracy_m"] {
                    row.insert(c.into(), p.get(c).cloned().unwrap_or(Value::Null));
                }
            }
            ("town" | "neighbour_town", Value::Object(t)) => {
                row.insert(format!("{k}_id"), t.get("id").cloned().unwrap_or(Value::Null));
            }
            ("town" | "neighbour_town", Value::Null) => {
                row.insert(format!("{k}_id"), Value::Null);
            }
            ("investigation", Value::Object(inv)) => {
                for (ik, iv) in inv {
                    row.insert(ik.clone(), if iv.is_array() { json!(iv.to_string()) } else { iv.clone() });
                }
            }
            ("id", Value::String(s)) => {
                let id = Uuid::parse_str(s).map(super::ids::wire).unwrap_or_else(|_| s.clone());
                row.insert("id".into(), json!(id));
            }
            (_, Value::Array(_) | Value::Object(_)) => {
                row.insert(k.clone(), json!(v.to_string()));
            }
            (key, Value::String(_)) if key.ends_with("_at") => {
                row.insert(k.clone(), ms(v).unwrap_or_else(|| v.clone()));
            }
            (key, Value::String(s)) if key.ends_with("_id") => {
                let id = Uuid::parse_str(s).map(super::ids::wire).unwrap_or_else(|_| s.clone());
                row.insert(k.clone(), json!(id));
            }
            _ => {
                row.insert(k.clone(), v.clone());
            }
        }
    }
    row
}

/// Tables that a schema migration asks to send whole.
fn migrated_tables(migration: Option<&str>) -> ApiResult<Vec<String>> {
    let Some(raw) = migration.filter(|m| !m.is_empty() && *m != "null") else { return Ok(Vec::new()) };
    let v: Value = serde_json::from_str(raw)
        .map_err(|_| ApiError::new(ErrorCode::InvalidQuery, "migration must be WatermelonDB's migration JSON"))?;
    let mut out: Vec<String> =
        v["tables"].as_array().into_iter().flatten().filter_map(|t| t.as_str().map(str::to_owned)).collect();
    for c in v["columns"].as_array().into_iter().flatten() {
        if let Some(t) = c["table"].as_str() {
            out.push(t.to_owned());
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

async fn collect(
    state: &AppState,
    user: &AuthUser,
    after: i64,
    tables: &Option<Vec<String>>,
    first_sync: bool,
    out: &mut BTreeMap<String, TableChanges>,
) -> ApiResult<i64> {
    let mut after = after;
    loop {
        let page = changes_after(state, user, after, tables, state.settings.sync.max_pull_limit).await?;
        for c in page.changes {
            let entry = out.entry(c.table.to_owned()).or_default();
            entry.created.retain(|r| r.get("id") != Some(&json!(c.id)));
            entry.updated.retain(|r| r.get("id") != Some(&json!(c.id)));
            match (c.op, c.record) {
                (ChangeOp::Upsert, Some(record)) => {
                    let record: Value = serde_json::from_str(record.get()).map_err(ApiError::internal)?;
                    let row = flatten(&record);
                    if first_sync || c.rev <= 1 { entry.created.push(row) } else { entry.updated.push(row) }
                }
                (ChangeOp::Delete | ChangeOp::Evict, _) => entry.deleted.push(c.id),
                _ => {}
            }
        }
        after = page.last;
        if !page.has_more {
            return Ok(after);
        }
    }
}

/// Pull for WatermelonDB's `pullChanges`.
pub async fn pull(state: &AppState, user: &AuthUser, q: &PullQuery) -> ApiResult<PullResponse> {
    let after = q.last_pulled_at.unwrap_or(0).max(0);
    let mut changes = BTreeMap::new();
    // The five synced tables only (not the lifecycle reference record: a
    // WatermelonDB app has no table for it).
    let synced = Some(TABLES.iter().map(|t| (*t).to_owned()).collect());
    let timestamp = collect(state, user, after, &synced, after == 0, &mut changes).await?;
    let whole = migrated_tables(q.migration.as_deref())?;
    if after > 0 && !whole.is_empty() {
        let mut fresh = BTreeMap::new();
        collect(state, user, 0, &Some(whole), true, &mut fresh).await?;
        for (table, t) in fresh {
            let entry: &mut TableChanges = changes.entry(table).or_default();
            let ids: Vec<Value> = t.created.iter().filter_map(|r| r.get("id").cloned()).collect();
            entry.created.retain(|r| !r.get("id").is_some_and(|i| ids.contains(i)));
            entry.updated.retain(|r| !r.get("id").is_some_and(|i| ids.contains(i)));
            entry.created.extend(t.created);
        }
    }
    for t in TABLES {
        changes.entry(t.to_owned()).or_default();
    }
    Ok(PullResponse { changes, timestamp })
}

fn to_rfc3339(v: &Value) -> Value {
    match v.as_i64().and_then(|n| Utc.timestamp_millis_opt(n).single()) {
        Some(t) => json!(t.to_rfc3339()),
        None => v.clone(),
    }
}

/// Row columns as native op fields: the inverse of [`flatten`].
fn unflatten(row: &Map<String, Value>, only: Option<&[&str]>) -> Map<String, Value> {
    let wanted = |c: &str| only.is_none_or(|list| list.contains(&c));
    let mut fields = Map::new();
    if ["lon", "lat", "accuracy_m"].iter().any(|c| wanted(c) && row.contains_key(*c)) {
        let mut p = Map::new();
        for c in ["lon", "lat", "accuracy_m"] {
            if let Some(v) = row.get(c).filter(|v| !v.is_null()) {
                p.insert(c.into(), v.clone());
            }
        }
        p.insert("crs".into(), row.get("crs").cloned().filter(|v| v.is_string()).unwrap_or(json!("wgs84")));
        fields.insert("location".into(), Value::Object(p));
    }
    for (k, v) in row {
        if !wanted(k)
            || k.starts_with('_')
            || matches!(k.as_str(), "id" | "lon" | "lat" | "accuracy_m" | "crs" | "rev" | "created_at" | "updated_at")
        {
            continue;
        }
        let value = match (k.as_str(), v) {
            ("photos" | "disciplinary_actions" | "polygon" | "flags", Value::String(s)) => {
                serde_json::from_str(s).unwrap_or(Value::Null)
            }
            (key, Value::Number(_)) if key.ends_with("_at") => to_rfc3339(v),
            _ => v.clone(),
        };
        if k == "propose_violation_type" {
            if value.as_str().is_some_and(|s| !s.is_empty()) {
                fields.insert("propose_case".into(), json!({ "violation_type": value }));
            }
            continue;
        }
        fields.insert(k.clone(), value);
    }
    fields
}

/// Push for WatermelonDB's `pushChanges`: every row goes through the native
/// rules; refused rows come back in `experimentalRejectedIds`.
pub async fn push(state: &AppState, user: &AuthUser, body: PushBody) -> ApiResult<PushResponse> {
    let device_id = user.device.ok_or_else(|| {
        ApiError::new(ErrorCode::UnknownDevice, "log in with a registered device_id before syncing")
            .with_details(json!({ "field": "device_id" }))
    })?;
    let device =
        devices::Entity::find_by_id(device_id).one(&state.db).await?.ok_or_else(|| ApiError::not_found("device"))?;
    let mut seq = u64::try_from(device.last_seq).unwrap_or(0);
    let mut ops: Vec<(String, String, Op)> = Vec::new();
    let mut stamp = || {
        seq += 1;
        let h = state.hlc_now();
        (seq, format!("{}-{:04x}-{device_id}", h.wall_ms(), h.counter()))
    };
    let mut rejected: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for table in TABLES {
        let Some(t) = body.changes.get(table) else { continue };
        for row in &t.created {
            let id = row.get("id").and_then(Value::as_str).unwrap_or_default().to_owned();
            let (s, hlc) = stamp();
            let kind = OpKind::Create { table: table.into(), id: id.clone(), fields: unflatten(row, None) };
            ops.push((table.into(), id, Op { op_id: Uuid::new_v4(), seq: s, hlc, kind }));
        }
        for row in &t.updated {
            let id = row.get("id").and_then(Value::as_str).unwrap_or_default().to_owned();
            let changed: Vec<&str> = row
                .get("_changed")
                .and_then(Value::as_str)
                .unwrap_or("")
                .split(',')
                .filter(|c| !c.is_empty())
                .collect();
            let mut fields = unflatten(row, Some(&changed));
            let new_status = fields.remove("status").and_then(|v| v.as_str().and_then(CaseStatus::parse));
            if !fields.is_empty() {
                let (s, hlc) = stamp();
                let kind = OpKind::Update { table: table.into(), id: id.clone(), base_rev: None, fields };
                ops.push((table.into(), id.clone(), Op { op_id: Uuid::new_v4(), seq: s, hlc, kind }));
            }
            if let Some(to) = new_status {
                // A status change is a transition from the server's current state.
                let current = super::ids::parse(&id).map(|u| cases::Entity::find_by_id(u).one(&state.db));
                let from = match current {
                    Some(q) => q.await?.and_then(|c| CaseStatus::parse(&c.status)),
                    None => None,
                };
                match from {
                    Some(from) if from != to => {
                        let (s, hlc) = stamp();
                        let note = row.get("transition_note").and_then(Value::as_str).map(str::to_owned);
                        let kind =
                            OpKind::Transition { table: table.into(), id: id.clone(), from, to, note, photos: vec![] };
                        ops.push((table.into(), id, Op { op_id: Uuid::new_v4(), seq: s, hlc, kind }));
                    }
                    Some(_) => {}
                    None => rejected.entry(table.into()).or_default().push(id),
                }
            }
        }
        for id in &t.deleted {
            let (s, hlc) = stamp();
            let kind = OpKind::Delete { table: table.into(), id: id.clone() };
            ops.push((table.into(), id.clone(), Op { op_id: Uuid::new_v4(), seq: s, hlc, kind }));
        }
    }
    for chunk in ops.chunks(state.settings.sync.max_batch.max(1)) {
        let req = PushRequest { device_id, ops: chunk.iter().map(|(_, _, op)| op.clone()).collect() };
        let resp = super::push::push(state, user, req).await?;
        for ((table, id, _), result) in chunk.iter().zip(resp.results) {
            if matches!(result.status, OpStatus::Rejected | OpStatus::Conflict) {
                let list = rejected.entry(table.clone()).or_default();
                if !list.contains(id) {
                    list.push(id.clone());
                }
            }
        }
    }
    Ok(PushResponse { experimental_rejected_ids: rejected })
}
