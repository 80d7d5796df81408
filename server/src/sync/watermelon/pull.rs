//! `GET /sync/watermelon`: WatermelonDB's `pullChanges`.
//!
//! The `timestamp` is a change-sequence position. A record comes under
//! `created` when the device can not have it (made after its last pull, or
//! out of its scope then, or a refused delete it dropped) and under
//! `updated` when it can; the device's own pushes come back only where the
//! server's state differs from what the device holds (see [`super::marks`]).

use std::collections::{BTreeMap, HashMap};

use landpatrol_sync::ErrorCode;
use landpatrol_sync::sync::{ChangeOp, Table};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, TransactionTrait};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::marks::{self, Mark};
use super::schema::{self, WmTable};
use super::{PullQuery, WatermelonPull, WatermelonTableChanges, rows};
use crate::auth::{AuthUser, Scope};
use crate::db::{self, entities::scope_events};
use crate::error::{ApiError, ApiResult};
use crate::ids;
use crate::state::AppState;
use crate::sync::pull::{Pulled, Sel, changes_after, table_rows};

fn bad(field: &str, message: &str) -> ApiError {
    ApiError::new(ErrorCode::InvalidQuery, message).with_details(serde_json::json!({ "field": field }))
}

/// `last_pulled_at` as WatermelonDB's documented `pullChanges` sends it:
/// absent, empty, `null` or `undefined` on the first sync, else a timestamp.
fn last_pulled_at(raw: Option<&str>) -> ApiResult<i64> {
    match raw.map(str::trim) {
        None | Some("" | "null" | "undefined" | "0") => Ok(0),
        Some(s) => s
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .ok_or_else(|| bad("last_pulled_at", "last_pulled_at must be a timestamp this server gave, or null")),
    }
}

/// A migration sync: tables the app's new schema added (sent whole, as
/// `created`) and tables that gained columns (sent whole, `updated` where
/// the device has the record).
#[derive(Debug, Default)]
struct Migration {
    new_tables: Vec<String>,
    new_columns: Vec<String>,
}

fn migration(raw: Option<&str>) -> ApiResult<Migration> {
    let Some(raw) = raw.map(str::trim).filter(|m| !m.is_empty() && *m != "null" && *m != "undefined") else {
        return Ok(Migration::default());
    };
    let v: Value = serde_json::from_str(raw)
        .map_err(|_| bad("migration", "migration must be WatermelonDB's migration JSON, or null"))?;
    if !v.is_object() {
        return Err(bad("migration", "migration must be WatermelonDB's migration JSON, or null"));
    }
    let names = |v: &Value| -> Vec<String> {
        v.as_array().into_iter().flatten().filter_map(|t| t.as_str().map(str::to_owned)).collect()
    };
    let new_tables = names(&v["tables"]);
    let new_columns =
        v["columns"].as_array().into_iter().flatten().filter_map(|c| c["table"].as_str().map(str::to_owned)).collect();
    Ok(Migration { new_tables, new_columns })
}

/// The tables `user` pulls (all of them, or those `tables=` names).
fn tables_for(user: &AuthUser, only: Option<&str>) -> Vec<&'static WmTable> {
    let pulls = |t: &WmTable| match t.native {
        Some(Table::Alerts) => crate::alerts::service::READERS.contains(&user.role),
        Some(Table::Parcels) => crate::parcels::service::PULLERS.contains(&user.role),
        Some(Table::Approvals) => crate::approvals::service::WRITERS.contains(&user.role),
        _ => true,
    };
    let mut out: Vec<&'static WmTable> = schema::TABLES.iter().copied().filter(|t| pulls(t)).collect();
    if let Some(list) = only.map(str::trim).filter(|s| !s.is_empty()) {
        // The app's own tables (local drafts, settings) are not the server's: ignored.
        let wanted: Vec<&str> = list.split(',').map(str::trim).collect();
        out.retain(|t| wanted.contains(&t.name));
    }
    out
}

/// Where a record goes in the answer.
enum Entry {
    Created(Map<String, Value>),
    Updated(Map<String, Value>),
    Deleted,
}

/// The answer being built: per table, one entry per record id.
#[derive(Default)]
struct Answer {
    tables: BTreeMap<&'static str, BTreeMap<String, Entry>>,
    /// The highest change position read.
    seen: i64,
}

impl Answer {
    fn put(&mut self, table: &'static str, id: String, entry: Entry) {
        self.tables.entry(table).or_default().insert(id, entry);
    }

    fn finish(self, tables: &[&'static WmTable], timestamp: i64) -> WatermelonPull {
        let mut changes = BTreeMap::new();
        let mut by_table = self.tables;
        for t in tables {
            let mut out = WatermelonTableChanges::default();
            for (id, e) in by_table.remove(t.name).unwrap_or_default() {
                match e {
                    Entry::Created(r) => out.created.push(r),
                    Entry::Updated(r) => out.updated.push(r),
                    Entry::Deleted => out.deleted.push(id),
                }
            }
            changes.insert(t.name.to_owned(), out);
        }
        WatermelonPull { changes, timestamp }
    }
}

/// What decides `created` against `updated` for one device and last pull.
struct Holdings {
    after: i64,
    /// The device's marks, by table and record.
    marks: HashMap<(&'static str, Uuid), Mark>,
    /// For town-scoped users: the town each case was in at `after`, for the
    /// cases that moved since (the town of their first move after it).
    town_then: HashMap<Uuid, Option<Uuid>>,
    scope: Scope,
}

impl Holdings {
    /// Whether the device holds the record of this change (the change is not
    /// new to it only when it had the record at its last pull or pushed it).
    fn has(&self, p: &Pulled, id: Uuid) -> bool {
        if let Some(m) = self.marks.get(&(p.table, id)) {
            return m.has;
        }
        if self.after == 0 || p.created_seq > self.after {
            return false;
        }
        match self.town_then.get(&id) {
            Some(town) => self.scope.covers(*town),
            None => true,
        }
    }

    /// Whether the change is the device's own push, unchanged since.
    fn echo(&self, p: &Pulled, id: Uuid) -> bool {
        self.marks.get(&(p.table, id)).is_some_and(|m| m.echo && m.seq == p.seq)
    }
}

fn row_of(table: &WmTable, p: &Pulled) -> ApiResult<Option<Map<String, Value>>> {
    let Some(raw) = &p.record else { return Ok(None) };
    let native: Value = serde_json::from_str(raw.get()).map_err(ApiError::internal)?;
    Ok(Some(rows::to_row(table, &native)))
}

/// Every change after `after` of the native tables behind `tables`.
async fn all_changes(state: &AppState, user: &AuthUser, after: i64, tables: &[&WmTable]) -> ApiResult<Vec<Pulled>> {
    let names: Vec<String> = tables.iter().filter_map(|t| t.native.map(|n| n.as_str().to_owned())).collect();
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let names = Some(names);
    let mut out = Vec::new();
    let mut cursor = after;
    loop {
        let page = changes_after(state, user, cursor, &names, state.settings.sync.max_pull_limit).await?;
        out.extend(page.changes);
        cursor = page.last;
        if !page.has_more {
            return Ok(out);
        }
    }
}

async fn holdings(state: &AppState, user: &AuthUser, after: i64, changes: &[Pulled]) -> ApiResult<Holdings> {
    let mut h = Holdings { after, marks: HashMap::new(), town_then: HashMap::new(), scope: user.scope() };
    if after == 0 {
        return Ok(h);
    }
    let mut by_table: BTreeMap<&'static str, Vec<Uuid>> = BTreeMap::new();
    for p in changes.iter().filter(|p| p.op == ChangeOp::Upsert) {
        if let Some(id) = ids::parse(&p.id) {
            by_table.entry(p.table).or_default().push(id);
        }
    }
    if let Some(device) = user.device {
        for (table, list) in &by_table {
            for (id, m) in marks::of(&state.db, device, table, list).await? {
                h.marks.insert((table, id), m);
            }
        }
    }
    if matches!(h.scope, Scope::Towns(_)) {
        let moved: Vec<Uuid> = changes
            .iter()
            .filter(|p| p.table == "cases" && p.op == ChangeOp::Upsert && p.created_seq <= after)
            .filter_map(|p| ids::parse(&p.id))
            .collect();
        for chunk in moved.chunks(500) {
            let events = scope_events::Entity::find()
                .filter(scope_events::Column::TableName.eq("cases"))
                .filter(scope_events::Column::Seq.gt(after))
                .filter(scope_events::Column::RecordId.is_in(chunk.to_vec()))
                .order_by_asc(scope_events::Column::Seq)
                .all(&state.db)
                .await?;
            for e in events {
                h.town_then.entry(e.record_id).or_insert(e.left_town_id);
            }
        }
    }
    Ok(h)
}

/// Puts the changes into the answer as the device must see them.
fn place(answer: &mut Answer, h: &Holdings, changes: &[Pulled], first_sync: bool) -> ApiResult<()> {
    for p in changes {
        answer.seen = answer.seen.max(p.seq);
        let Some(table) = schema::table(p.table) else { continue };
        match p.op {
            ChangeOp::Upsert => {
                let Some(id) = ids::parse(&p.id) else { continue };
                if !first_sync && h.echo(p, id) {
                    continue;
                }
                let Some(row) = row_of(table, p)? else { continue };
                let entry = if !first_sync && h.has(p, id) { Entry::Updated(row) } else { Entry::Created(row) };
                answer.put(table.name, p.id.clone(), entry);
            }
            ChangeOp::Delete | ChangeOp::Evict if !first_sync => answer.put(table.name, p.id.clone(), Entry::Deleted),
            _ => {}
        }
    }
    Ok(())
}

/// Records to send again to this device (refused or overridden changes,
/// server-made fields of its new records).
async fn resend(
    state: &AppState,
    user: &AuthUser,
    device: Uuid,
    answer: &mut Answer,
    after: i64,
    tables: &[&WmTable],
) -> ApiResult<()> {
    let mut by_table: BTreeMap<String, Vec<(Uuid, Mark)>> = BTreeMap::new();
    for (table, id, m) in marks::resends(&state.db, device, after).await? {
        answer.seen = answer.seen.max(m.seq);
        by_table.entry(table).or_default().push((id, m));
    }
    for (name, list) in by_table {
        let Some(table) = tables.iter().copied().find(|t| t.name == name) else { continue };
        let Some(native) = table.native else { continue };
        let ids_now: Vec<Uuid> = list.iter().map(|(id, _)| *id).collect();
        let found: HashMap<String, Pulled> = table_rows(&state.db, state, user, native, Sel::Ids(&ids_now))
            .await?
            .into_iter()
            .map(|p| (p.id.clone(), p))
            .collect();
        for (id, m) in list {
            let wire = ids::wire(id);
            match found.get(&wire).map(|p| row_of(table, p)).transpose()?.flatten() {
                Some(row) => {
                    answer.put(table.name, wire, if m.has { Entry::Updated(row) } else { Entry::Created(row) })
                }
                None if m.has => answer.put(table.name, wire, Entry::Deleted),
                None => {}
            }
        }
    }
    Ok(())
}

async fn rejections(state: &AppState, device: Uuid, answer: &mut Answer, after: i64) -> ApiResult<()> {
    for (seq, created_seq, id, row) in marks::rejections_after(&state.db, device, after).await? {
        answer.seen = answer.seen.max(seq);
        let entry = match row {
            Some(r) if after == 0 || created_seq > after => Entry::Created(r),
            Some(r) => Entry::Updated(r),
            None if after == 0 => continue,
            None => Entry::Deleted,
        };
        answer.put(schema::SYNC_REJECTIONS.name, id, entry);
    }
    Ok(())
}

/// Pull for WatermelonDB's `pullChanges`.
pub async fn pull(state: &AppState, user: &AuthUser, q: &PullQuery) -> ApiResult<WatermelonPull> {
    let after = last_pulled_at(q.last_pulled_at.as_deref())?;
    if let Some(v) = q.schema_version.as_deref().map(str::trim).filter(|v| !v.is_empty() && *v != "null") {
        v.parse::<u32>().map_err(|_| bad("schema_version", "schema_version must be a whole number"))?;
    }
    let migration = migration(q.migration.as_deref())?;
    let tables = tables_for(user, q.tables.as_deref());
    let mut answer = Answer { seen: after, ..Answer::default() };

    let changes = all_changes(state, user, after, &tables).await?;
    let h = holdings(state, user, after, &changes).await?;
    place(&mut answer, &h, &changes, after == 0)?;

    if after > 0 {
        if let Some(device) = user.device {
            resend(state, user, device, &mut answer, after, &tables).await?;
        }
        // A migration sync: the tables of the app's new schema, whole.
        let whole: Vec<&WmTable> = tables
            .iter()
            .copied()
            .filter(|t| migration.new_tables.iter().chain(&migration.new_columns).any(|n| n == t.name))
            .collect();
        if !whole.is_empty() {
            let all = all_changes(state, user, 0, &whole).await?;
            let mut hw = holdings(state, user, after, &all).await?;
            // Records of a table the app did not have are all new to it.
            hw.marks.retain(|(t, _), _| !migration.new_tables.iter().any(|n| n == t));
            for p in all.iter().filter(|p| p.op == ChangeOp::Upsert) {
                let (Some(table), Some(id)) = (schema::table(p.table), ids::parse(&p.id)) else { continue };
                let Some(row) = row_of(table, p)? else { continue };
                let new_table = migration.new_tables.iter().any(|n| n == table.name);
                let entry = if !new_table && hw.has(p, id) { Entry::Updated(row) } else { Entry::Created(row) };
                answer.put(table.name, p.id.clone(), entry);
            }
        }
    }
    if let Some(device) = user.device
        && tables.iter().any(|t| t.name == schema::SYNC_REJECTIONS.name)
    {
        rejections(state, device, &mut answer, after).await?;
    }

    let mut timestamp = answer.seen.max(after);
    if timestamp == 0 {
        // Nothing was ever written: WatermelonDB needs a timestamp above 0,
        // and every later change must come after it.
        let txn = state.db.begin().await?;
        timestamp = db::next_seq(&txn).await?;
        txn.commit().await?;
    }
    Ok(answer.finish(&tables, timestamp))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_pull_as_the_documented_client_code_sends_it() {
        for first in [None, Some(""), Some("null"), Some("undefined"), Some("0")] {
            assert_eq!(last_pulled_at(first).unwrap(), 0, "{first:?}");
        }
        assert_eq!(last_pulled_at(Some("1042")).unwrap(), 1042);
        assert!(last_pulled_at(Some("yesterday")).is_err());
        assert!(last_pulled_at(Some("-3")).is_err());
        assert!(migration(Some("null")).unwrap().new_tables.is_empty());
        let m =
            migration(Some(r#"{"from":1,"tables":["alerts"],"columns":[{"table":"cases","columns":["x"]}]}"#)).unwrap();
        assert_eq!(m.new_tables, ["alerts"]);
        assert_eq!(m.new_columns, ["cases"]);
        assert!(migration(Some("{not json")).is_err());
        assert!(migration(Some("[1]")).is_err());
    }
}
