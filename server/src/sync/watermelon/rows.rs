//! Native records as flat WatermelonDB rows, and pushed rows as native op
//! fields. Points are `lon`/`lat`/`accuracy_m`/`crs`, times milliseconds,
//! lists and objects JSON strings, record ids (and every `*_id` naming a
//! record) in their wire form: a phone-made 16-character id stays one.

use chrono::{DateTime, TimeZone, Utc};
use landpatrol_sync::ErrorCode;
use serde_json::{Map, Value, json};

use super::schema::{Kind, WmTable, Write};
use crate::error::ApiError;
use crate::ids;

/// Columns holding JSON as a string.
const JSON_COLUMNS: [&str; 10] = [
    "photos",
    "disciplinary_actions",
    "polygon",
    "flags",
    "allowed_transitions",
    "bbox",
    "boundary",
    "targets",
    "detail",
    "columns",
];

/// The point columns, pushed together as one `location`.
pub const POINT: [&str; 4] = ["lon", "lat", "accuracy_m", "crs"];

fn ms(v: &Value) -> Option<Value> {
    let t = DateTime::parse_from_rfc3339(v.as_str()?).ok()?;
    Some(json!(t.timestamp_millis()))
}

fn wire_id(v: &Value) -> Value {
    match v.as_str().and_then(|s| uuid::Uuid::parse_str(s).ok()) {
        Some(u) => json!(ids::wire(u)),
        None => v.clone(),
    }
}

/// A native record flattened, before it is fitted to the table's columns.
fn flatten(native: &Value) -> Map<String, Value> {
    let mut row = Map::new();
    let Some(obj) = native.as_object() else { return row };
    for (k, v) in obj {
        match (k.as_str(), v) {
            ("location", Value::Object(p)) => {
                for c in ["lon", "lat", "accuracy_m"] {
                    row.insert(c.into(), p.get(c).cloned().unwrap_or(Value::Null));
                }
                row.insert("crs".into(), json!("wgs84"));
            }
            ("location", Value::Null) => {
                for c in POINT {
                    row.insert(c.into(), Value::Null);
                }
            }
            ("town" | "neighbour_town", t) => {
                let key = format!("{k}_id");
                if !row.contains_key(&key) && !obj.contains_key(&key) {
                    row.insert(key, t.get("id").map_or(Value::Null, wire_id));
                }
            }
            ("investigation", Value::Object(inv)) => {
                for (ik, iv) in inv {
                    row.insert(ik.clone(), if iv.is_array() { json!(iv.to_string()) } else { iv.clone() });
                }
            }
            ("id", _) => {
                row.insert("id".into(), wire_id(v));
            }
            (_, Value::Array(_) | Value::Object(_)) => {
                row.insert(k.clone(), json!(v.to_string()));
            }
            (key, Value::String(_)) if key.ends_with("_at") => {
                row.insert(k.clone(), ms(v).unwrap_or_else(|| v.clone()));
            }
            (key, Value::String(_)) if key.ends_with("_id") => {
                row.insert(k.clone(), wire_id(v));
            }
            _ => {
                row.insert(k.clone(), v.clone());
            }
        }
    }
    row
}

/// A native record as the row of `table`: exactly the table's pulled columns
/// (absent ones null) and `id`.
pub fn to_row(table: &WmTable, native: &Value) -> Map<String, Value> {
    let mut flat = flatten(native);
    let mut row = Map::new();
    row.insert("id".into(), flat.remove("id").unwrap_or(Value::Null));
    for c in table.columns.iter().filter(|c| c.write != Write::Client) {
        row.insert(c.name.into(), flat.remove(c.name).unwrap_or(Value::Null));
    }
    row
}

/// Keys of a native record that `table` neither carries nor lists as
/// dropped: a view gained a field the WatermelonDB schema does not know.
pub fn unmapped(table: &WmTable, native: &Value) -> Vec<String> {
    let flat = flatten(native);
    let mut extra: Vec<String> = flat
        .keys()
        .filter(|k| k.as_str() != "id" && table.column(k).is_none())
        .filter(|k| !table.dropped.iter().any(|(d, _)| d == k))
        .cloned()
        .collect();
    // Keys flattened away (location, town, investigation) are listed as dropped.
    if let Some(obj) = native.as_object() {
        for k in obj.keys() {
            if !flat.contains_key(k) && !table.dropped.iter().any(|(d, _)| d == k) {
                extra.push(k.clone());
            }
        }
    }
    extra
}

/// Whether a pushed value of `column` equals the server's: WatermelonDB
/// stores a null of a column that is not optional as its type's default,
/// numbers may come back with another float spelling, JSON strings with
/// other spacing.
pub fn same(column: &str, server: &Value, pushed: &Value) -> bool {
    match (server, pushed) {
        (Value::Null, Value::Null) => true,
        // An empty list may be left null or empty by the app.
        (Value::String(list), Value::Null) if list == "[]" => JSON_COLUMNS.contains(&column),
        (Value::String(list), Value::String(s)) if list == "[]" && s.is_empty() => JSON_COLUMNS.contains(&column),
        (Value::Null, Value::String(s)) => s.is_empty(),
        (Value::Null, Value::Bool(b)) => !b,
        (Value::Null, Value::Number(n)) => n.as_f64() == Some(0.0),
        (Value::Number(a), Value::Number(b)) => match (a.as_f64(), b.as_f64()) {
            (Some(x), Some(y)) => x == y || (x - y).abs() <= 1e-9 * x.abs().max(y.abs()),
            _ => false,
        },
        (Value::String(a), Value::String(b)) if JSON_COLUMNS.contains(&column) => {
            a == b
                || matches!((serde_json::from_str::<Value>(a), serde_json::from_str::<Value>(b)), (Ok(x), Ok(y)) if x == y)
        }
        _ => server == pushed,
    }
}

fn invalid(column: &str, message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::ValidationFailed, message).with_details(json!({ "field": column }))
}

fn time(v: &Value) -> Option<Value> {
    let n = v.as_f64().filter(|n| n.is_finite() && *n > 0.0)?;
    #[allow(clippy::cast_possible_truncation)]
    let t = Utc.timestamp_millis_opt(n as i64).single()?;
    Some(json!(t.to_rfc3339()))
}

/// One pushed column as a native field value.
fn native_value(table: &WmTable, column: &str, v: &Value) -> Result<Value, ApiError> {
    let Some(c) = table.column(column) else { return Ok(v.clone()) };
    let blank = v.is_null() || v.as_str().is_some_and(str::is_empty);
    if JSON_COLUMNS.contains(&column) {
        return match v {
            _ if blank => Ok(if column == "polygon" { Value::Null } else { json!([]) }),
            Value::String(s) => {
                serde_json::from_str(s).map_err(|_| invalid(column, format!("{column} must be a JSON string")))
            }
            Value::Array(_) | Value::Object(_) => Ok(v.clone()),
            _ => Err(invalid(column, format!("{column} must be a JSON string"))),
        };
    }
    match c.kind {
        Kind::Str if column.ends_with("_id") => {
            if blank {
                return Ok(Value::Null);
            }
            let s = v.as_str().ok_or_else(|| invalid(column, format!("{column} must be a string id")))?;
            ids::parse(s)
                .map(|u| json!(u.to_string()))
                .ok_or_else(|| invalid(column, format!("{column} {s:?} is neither a UUID nor a WatermelonDB id")))
        }
        Kind::Str if c.optional && blank => Ok(Value::Null),
        Kind::Str if !v.is_string() && !v.is_null() => Err(invalid(column, format!("{column} must be a string"))),
        Kind::Num if column.ends_with("_at") => {
            if v.is_null() || v.as_f64() == Some(0.0) {
                return Ok(Value::Null);
            }
            time(v).ok_or_else(|| invalid(column, format!("{column} must be a time in milliseconds")))
        }
        Kind::Num if !v.is_number() && !v.is_null() => Err(invalid(column, format!("{column} must be a number"))),
        Kind::Bool if !v.is_boolean() => Err(invalid(column, format!("{column} must be true or false"))),
        _ => Ok(v.clone()),
    }
}

/// The point of a pushed row as a native `location` (None when the row
/// names no point column; `Some(Null)` for a row without a GPS fix).
fn location(row: &Map<String, Value>) -> Result<Option<Value>, ApiError> {
    if !POINT.iter().any(|c| row.contains_key(*c)) {
        return Ok(None);
    }
    let num = |c: &str| row.get(c).filter(|v| !v.is_null());
    match (num("lon"), num("lat")) {
        (None, None) => Ok(Some(Value::Null)),
        (Some(lon), Some(lat)) => {
            let mut p = Map::new();
            p.insert("lon".into(), lon.clone());
            p.insert("lat".into(), lat.clone());
            if let Some(a) = num("accuracy_m") {
                p.insert("accuracy_m".into(), a.clone());
            }
            let crs = row.get("crs").and_then(Value::as_str).filter(|s| !s.is_empty()).unwrap_or("wgs84");
            p.insert("crs".into(), json!(crs));
            Ok(Some(Value::Object(p)))
        }
        (None, _) => Err(invalid("lon", "lon and lat are given together, or both null")),
        (_, None) => Err(invalid("lat", "lon and lat are given together, or both null")),
    }
}

/// The native fields of a pushed row: `columns` of it (the app-written
/// ones), converted. Point columns become one `location`.
pub fn native_fields(
    table: &WmTable,
    row: &Map<String, Value>,
    columns: &[&str],
) -> Result<Map<String, Value>, ApiError> {
    let mut fields = Map::new();
    let point: Map<String, Value> = row
        .iter()
        .filter(|(k, _)| POINT.contains(&k.as_str()) && columns.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if !point.is_empty() {
        // A moved point is sent whole: the columns the app did not change
        // keep their current values.
        let whole: Map<String, Value> =
            row.iter().filter(|(k, _)| POINT.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect();
        if let Some(loc) = location(&whole)? {
            fields.insert("location".into(), loc);
        }
    }
    for column in columns {
        if POINT.contains(column) {
            continue;
        }
        let Some(v) = row.get(*column) else { continue };
        fields.insert((*column).to_owned(), native_value(table, column, v)?);
    }
    Ok(fields)
}
