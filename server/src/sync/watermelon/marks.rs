//! What each WatermelonDB device holds (`wm_marks`) and what the server
//! refused of its pushes (`sync_rejections`).
//!
//! After a push, every record it named is compared with what the device
//! holds now. When the two are equal the record is an *echo*: the device's
//! next pull leaves it out unless it changes again. When they differ (the
//! server numbered a new case, routed it, kept a newer edit of a field, or
//! refused the change), the record is *resent*: it gets a change-sequence
//! position of its own for that device, so the next pull carries it even
//! though nothing changed for anybody else, and the device, having marked
//! its copy synced, takes the server's state.

use std::collections::HashMap;

use chrono::Utc;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::db::{self, entities::sync_rejections, entities::wm_marks};
use crate::error::ApiResult;

/// What a device holds of one record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mark {
    pub seq: i64,
    pub has: bool,
    pub echo: bool,
}

/// The marks of `device` for records of `table`, by record id.
pub async fn of(
    conn: &impl ConnectionTrait,
    device: Uuid,
    table: &str,
    ids: &[Uuid],
) -> ApiResult<HashMap<Uuid, Mark>> {
    let mut out = HashMap::new();
    for chunk in ids.chunks(500) {
        let rows = wm_marks::Entity::find()
            .filter(wm_marks::Column::DeviceId.eq(device))
            .filter(wm_marks::Column::TableName.eq(table))
            .filter(wm_marks::Column::RecordId.is_in(chunk.to_vec()))
            .all(conn)
            .await?;
        for m in rows {
            out.insert(m.record_id, Mark { seq: m.seq, has: m.has, echo: m.echo });
        }
    }
    Ok(out)
}

/// Records of `device` to send again after position `after`, by table.
pub async fn resends(conn: &impl ConnectionTrait, device: Uuid, after: i64) -> ApiResult<Vec<(String, Uuid, Mark)>> {
    Ok(wm_marks::Entity::find()
        .filter(wm_marks::Column::DeviceId.eq(device))
        .filter(wm_marks::Column::Seq.gt(after))
        .filter(wm_marks::Column::Echo.eq(false))
        .all(conn)
        .await?
        .into_iter()
        .map(|m| (m.table_name, m.record_id, Mark { seq: m.seq, has: m.has, echo: false }))
        .collect())
}

/// Sets what `device` holds of a record: `echo` at the record's position
/// `seq`, or a resend (a fresh position is taken, unless a resend after
/// `pulled` — the device's last pull — is pending already: a retried push).
pub async fn set(
    conn: &impl ConnectionTrait,
    device: Uuid,
    (table, id): (&str, Uuid),
    has: bool,
    echo_at: Option<i64>,
    pulled: Option<i64>,
) -> ApiResult<()> {
    let seq = match echo_at {
        Some(seq) => seq,
        None => {
            let pending = match pulled {
                Some(after) => wm_marks::Entity::find_by_id((device, table.to_owned(), id))
                    .one(conn)
                    .await?
                    .filter(|m| !m.echo && m.has == has && m.seq > after),
                None => None,
            };
            if pending.is_some() {
                return Ok(());
            }
            db::next_seq(conn).await?
        }
    };
    let row = wm_marks::ActiveModel {
        device_id: Set(device),
        table_name: Set(table.to_owned()),
        record_id: Set(id),
        seq: Set(seq),
        has: Set(has),
        echo: Set(echo_at.is_some()),
    };
    wm_marks::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([wm_marks::Column::DeviceId, wm_marks::Column::TableName, wm_marks::Column::RecordId])
                .update_columns([wm_marks::Column::Seq, wm_marks::Column::Has, wm_marks::Column::Echo])
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

/// Namespace of rejection ids: one per device, table and record.
const REJECTION_NS: Uuid = Uuid::from_u128(0x776d_7265_6a65_6374_696f_6e73_2d6c_7031);

fn rejection_id(device: Uuid, table: &str, record: &str) -> Uuid {
    Uuid::new_v5(&REJECTION_NS, format!("{device}/{table}/{record}").as_bytes())
}

/// A refusal to record.
pub struct Refusal<'a> {
    pub table: &'a str,
    pub record: &'a str,
    pub op: &'a str,
    pub code: &'a str,
    pub message: &'a str,
    pub columns: Vec<String>,
    pub row: Value,
}

/// Records (or updates) the rejection of a device's row. The same refusal
/// again changes nothing, so a refused create the app keeps re-pushing does
/// not come back in every pull.
pub async fn reject(conn: &impl ConnectionTrait, device: Uuid, user: Uuid, r: Refusal<'_>) -> ApiResult<()> {
    let id = rejection_id(device, r.table, r.record);
    let now = Utc::now();
    let cur = sync_rejections::Entity::find_by_id(id).one(conn).await?;
    if let Some(c) = &cur
        && !c.deleted
        && c.code == r.code
        && c.op == r.op
        && c.columns == json!(r.columns)
    {
        return Ok(());
    }
    let seq = db::next_seq(conn).await?;
    match cur {
        Some(c) => {
            let rev = c.rev + 1;
            let mut m: sync_rejections::ActiveModel = c.into();
            m.op = Set(r.op.to_owned());
            m.code = Set(r.code.to_owned());
            m.message = Set(r.message.to_owned());
            m.columns = Set(json!(r.columns));
            m.row = Set(r.row);
            m.deleted = Set(false);
            m.rev = Set(rev);
            m.seq = Set(seq);
            m.updated_at = Set(now);
            m.update(conn).await?;
        }
        None => {
            sync_rejections::ActiveModel {
                id: Set(id),
                device_id: Set(device),
                user_id: Set(user),
                table_name: Set(r.table.to_owned()),
                record_id: Set(r.record.to_owned()),
                op: Set(r.op.to_owned()),
                code: Set(r.code.to_owned()),
                message: Set(r.message.to_owned()),
                columns: Set(json!(r.columns)),
                row: Set(r.row),
                rev: Set(1),
                seq: Set(seq),
                created_seq: Set(seq),
                deleted: Set(false),
                field_clock: Set(json!({})),
                created_by: Set(Some(user)),
                created_at: Set(now),
                updated_at: Set(now),
            }
            .insert(conn)
            .await?;
        }
    }
    Ok(())
}

/// Clears the rejection of a record that has now synced (a pulled deletion).
pub async fn clear(conn: &impl ConnectionTrait, device: Uuid, table: &str, record: &str) -> ApiResult<()> {
    let id = rejection_id(device, table, record);
    let Some(c) = sync_rejections::Entity::find_by_id(id).one(conn).await? else { return Ok(()) };
    if c.deleted {
        return Ok(());
    }
    let rev = c.rev + 1;
    let mut m: sync_rejections::ActiveModel = c.into();
    m.deleted = Set(true);
    m.rev = Set(rev);
    m.seq = Set(db::next_seq(conn).await?);
    m.updated_at = Set(Utc::now());
    m.update(conn).await?;
    Ok(())
}

/// The rejection rows of `device` changed after `after`: (seq, created_seq,
/// id, row or None for a cleared one).
pub async fn rejections_after(
    conn: &impl ConnectionTrait,
    device: Uuid,
    after: i64,
) -> ApiResult<Vec<(i64, i64, String, Option<Map<String, Value>>)>> {
    let rows = sync_rejections::Entity::find()
        .filter(sync_rejections::Column::DeviceId.eq(device))
        .filter(sync_rejections::Column::Seq.gt(after))
        .all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|m| {
            let id = m.id.to_string();
            let row = (!m.deleted).then(|| {
                let mut r = Map::new();
                r.insert("id".into(), json!(id));
                r.insert("table_name".into(), json!(m.table_name));
                r.insert("record_id".into(), json!(m.record_id));
                r.insert("op".into(), json!(m.op));
                r.insert("code".into(), json!(m.code));
                r.insert("message".into(), json!(m.message));
                r.insert("columns".into(), json!(m.columns.to_string()));
                r.insert("rejected_at".into(), json!(m.updated_at.timestamp_millis()));
                r
            });
            (m.seq, m.created_seq, id, row)
        })
        .collect())
}
