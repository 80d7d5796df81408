//! What land records (parcels, approvals) looked like before each change a
//! report reads, kept so that a past progress report is reproduced from
//! what was known at the end of its day, like cases from their ledger.
//!
//! Every change writes, in its own transaction, the fields it is about to
//! change (`before`). The fields a record had at an instant are its current
//! ones, overlaid with the `before` of the first change made after that
//! instant; a record created after it did not exist yet.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::db::entities::land_changes;
use crate::error::ApiResult;

/// Parcels (`parcels`).
pub const PARCEL: &str = "parcel";
/// Approvals (`approvals`).
pub const APPROVAL: &str = "approval";

/// Records the fields a change is about to overwrite, with their old values.
pub async fn remember(
    conn: &impl ConnectionTrait,
    record_type: &'static str,
    record_id: Uuid,
    action: &str,
    at: DateTime<Utc>,
    before: Value,
) -> ApiResult<()> {
    land_changes::ActiveModel {
        id: sea_orm::NotSet,
        record_type: Set(record_type.to_owned()),
        record_id: Set(record_id),
        at: Set(at),
        action: Set(action.to_owned()),
        before: Set(before),
    }
    .insert(conn)
    .await?;
    Ok(())
}

/// For each record of the type changed at or after `cutoff`, the fields as
/// they were at `cutoff`: the `before` of the first change after it, field by
/// field (a later change's `before` does not hide an earlier one's).
pub async fn as_of(
    conn: &impl ConnectionTrait,
    record_type: &'static str,
    cutoff: DateTime<Utc>,
) -> ApiResult<HashMap<Uuid, Map<String, Value>>> {
    let later = land_changes::Entity::find()
        .filter(land_changes::Column::RecordType.eq(record_type))
        .filter(land_changes::Column::At.gte(cutoff))
        .order_by_desc(land_changes::Column::Id)
        .all(conn)
        .await?;
    let mut out: HashMap<Uuid, Map<String, Value>> = HashMap::new();
    // Newest first: each earlier change overwrites, so the first after the cut-off wins.
    for change in later {
        if let Value::Object(fields) = change.before {
            out.entry(change.record_id).or_default().extend(fields);
        }
    }
    Ok(out)
}

/// A field as it was (`then`), else as it is.
pub fn field<T: serde::de::DeserializeOwned>(then: Option<&Map<String, Value>>, name: &str, now: T) -> T {
    match then.and_then(|m| m.get(name)) {
        Some(v) => serde_json::from_value(v.clone()).unwrap_or(now),
        None => now,
    }
}
