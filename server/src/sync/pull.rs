//! `POST /sync/pull`: every record in the caller's scope whose latest change
//! is after the cursor, once, in change-sequence order; `evict` for records
//! that left the scope.

use base64::Engine;
use std::collections::HashMap;

use chrono::Utc;
use landpatrol_sync::sync::{ChangeOp, PullRequest, Table};
use landpatrol_sync::{ErrorCode, Role};
use sea_orm::sea_query::{Condition, SimpleExpr};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::Serialize;
use serde_json::json;
use serde_json::value::RawValue;
use uuid::Uuid;

use super::observations;
use crate::auth::{AuthUser, Scope};
use crate::campaigns::CampaignView;
use crate::cases::store;
use crate::db::entities::{
    alerts, approvals, campaigns, cases, inspections, observations as obs, parcels, scope_events, towns,
};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

const CURSOR_PREFIX: &str = "lp1.";

fn encode_cursor(seq: i64) -> String {
    format!("{CURSOR_PREFIX}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(seq.to_string()))
}

fn decode_cursor(cursor: Option<&str>) -> ApiResult<i64> {
    let Some(c) = cursor.filter(|c| !c.is_empty()) else { return Ok(0) };
    let invalid = || ApiError::new(ErrorCode::InvalidCursor, "the cursor is not one this server gave; start with null");
    let body = c.strip_prefix(CURSOR_PREFIX).ok_or_else(invalid)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(body).map_err(|_| invalid())?;
    let seq: i64 = std::str::from_utf8(&bytes).ok().and_then(|s| s.parse().ok()).ok_or_else(invalid)?;
    if seq < 0 {
        return Err(invalid());
    }
    Ok(seq)
}

/// Which inspections and observations a caller pulls.
fn field_records_scope(
    user: &AuthUser,
    town_col: impl ColumnTrait,
    creator_col: impl ColumnTrait,
) -> Option<Condition> {
    match (user.role, user.scope()) {
        (Role::Inspector, _) => Some(Condition::all().add(creator_col.eq(user.id))),
        (_, Scope::District) => None,
        (_, Scope::Towns(list)) => Some(Condition::all().add(town_col.is_in(list))),
    }
}

fn wants(tables: &Option<Vec<String>>, t: Table) -> bool {
    tables.as_ref().is_none_or(|list| list.iter().any(|n| n == t.as_str()))
}

fn rev(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// One change as pull sends it: the record is serialised once, straight from
/// its view, never through a JSON tree.
#[derive(Debug, Serialize)]
pub struct Pulled {
    pub table: &'static str,
    pub id: String,
    pub rev: u64,
    pub op: ChangeOp,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<Box<RawValue>>,
    /// The change's position in the global sequence.
    #[serde(skip)]
    pub seq: i64,
    /// The position at which the record was made (0 for an `evict`).
    #[serde(skip)]
    pub created_seq: i64,
}

impl Pulled {
    fn upsert_or_delete(
        table: &'static str,
        id: Uuid,
        (r, seq, created_seq): (i64, i64, i64),
        record: Option<Box<RawValue>>,
    ) -> Pulled {
        let op = if record.is_some() { ChangeOp::Upsert } else { ChangeOp::Delete };
        Pulled { table, id: crate::ids::wire(id), rev: rev(r), op, record, seq, created_seq }
    }
}

/// The pull answer (the wire shape of `landpatrol_sync::sync::PullResponse`).
#[derive(Debug, Serialize)]
pub struct PullOut {
    pub changes: Vec<Pulled>,
    pub cursor: String,
    pub has_more: bool,
    pub server_time: chrono::DateTime<Utc>,
}

fn raw<T: Serialize>(v: &T) -> ApiResult<Option<Box<RawValue>>> {
    serde_json::value::to_raw_value(v).map(Some).map_err(ApiError::internal)
}

/// One page of changes after the cursor.
pub async fn pull(state: &AppState, user: &AuthUser, req: PullRequest) -> ApiResult<PullOut> {
    let after = decode_cursor(req.cursor.as_deref())?;
    let max = state.settings.sync.max_pull_limit;
    let limit = req.limit.unwrap_or(500);
    if limit == 0 || limit > max {
        return Err(ApiError::field("limit", format!("limit must be 1 to {max}")));
    }
    let page = changes_after(state, user, after, &req.tables, limit).await?;
    Ok(PullOut {
        changes: page.changes,
        cursor: encode_cursor(page.last),
        has_more: page.has_more,
        server_time: Utc::now(),
    })
}

/// A page of changes.
pub struct Page {
    pub changes: Vec<Pulled>,
    /// The change-sequence position the page reaches.
    pub last: i64,
    pub has_more: bool,
}

/// Which rows of a table to read: those changed after a position (at most
/// `take`, in sequence order), or the given records as they are now.
#[derive(Clone, Copy)]
pub enum Sel<'a> {
    After { seq: i64, take: u64 },
    Ids(&'a [Uuid]),
}

impl Sel<'_> {
    fn filter<E: EntityTrait>(
        self,
        q: sea_orm::Select<E>,
        seq: impl ColumnTrait,
        id: impl ColumnTrait,
    ) -> sea_orm::Select<E> {
        match self {
            Sel::After { seq: after, take } => q.filter(seq.gt(after)).order_by_asc(seq).limit(take),
            Sel::Ids(ids) => q.filter(id.is_in(ids.to_vec())),
        }
    }
}

fn town_filter(scope: &Scope, col: impl ColumnTrait) -> Option<SimpleExpr> {
    match scope {
        Scope::Towns(list) => Some(col.is_in(list.clone())),
        Scope::District => None,
    }
}

/// The records of one table in the caller's scope that `sel` picks, as pull
/// sends them (deleted ones as `delete`). Tables the caller's role does not
/// pull give nothing.
pub async fn table_rows(
    db: &impl ConnectionTrait,
    state: &AppState,
    user: &AuthUser,
    table: Table,
    sel: Sel<'_>,
) -> ApiResult<Vec<Pulled>> {
    let scope = user.scope();
    let mut out = Vec::new();
    match table {
        Table::Cases => {
            let mut q = sel.filter(cases::Entity::find(), cases::Column::Seq, cases::Column::Id);
            if let Some(f) = town_filter(&scope, cases::Column::TownId) {
                q = q.filter(f);
            }
            for m in q.all(db).await? {
                let record = if m.deleted { None } else { raw(&store::view(&m, &state.towns, user)?)? };
                out.push(Pulled::upsert_or_delete("cases", m.id, (m.rev, m.seq, m.created_seq), record));
            }
        }
        Table::Inspections => {
            let mut q = sel.filter(inspections::Entity::find(), inspections::Column::Seq, inspections::Column::Id);
            if let Some(c) = field_records_scope(user, inspections::Column::TownId, inspections::Column::CreatedBy) {
                q = q.filter(c);
            }
            for m in q.all(db).await? {
                let record = if m.deleted { None } else { raw(&store::inspection_view(&m)?)? };
                out.push(Pulled::upsert_or_delete("inspections", m.id, (m.rev, m.seq, m.created_seq), record));
            }
        }
        Table::Observations => {
            let mut q = sel.filter(obs::Entity::find(), obs::Column::Seq, obs::Column::Id);
            if let Some(c) = field_records_scope(user, obs::Column::TownId, obs::Column::CreatedBy) {
                q = q.filter(c);
            }
            let rows = q
                .select_only()
                .columns(observations::PULL_COLUMNS)
                .into_model::<observations::PullRow>()
                .all(db)
                .await?;
            for m in rows {
                let (id, key) = (m.id, (m.rev, m.seq, m.created_seq));
                let record = if m.deleted { None } else { raw(&observations::view_row(m))? };
                out.push(Pulled::upsert_or_delete("observations", id, key, record));
            }
        }
        Table::Towns => {
            for m in sel.filter(towns::Entity::find(), towns::Column::Seq, towns::Column::Id).all(db).await? {
                let record = if m.deleted { None } else { raw(&crate::towns::service::detail(&m))? };
                out.push(Pulled::upsert_or_delete("towns", m.id, (m.rev, m.seq, m.created_seq), record));
            }
        }
        Table::Campaigns => {
            for m in
                sel.filter(campaigns::Entity::find(), campaigns::Column::Seq, campaigns::Column::Id).all(db).await?
            {
                let (id, key, deleted) = (m.id, (m.rev, m.seq, m.created_seq), m.deleted);
                let record = if deleted { None } else { raw(&CampaignView::from(m))? };
                let mut p = Pulled::upsert_or_delete("campaigns", id, key, record);
                p.id = id.to_string();
                out.push(p);
            }
        }
        Table::Alerts if crate::alerts::service::READERS.contains(&user.role) => {
            let q = sel
                .filter(alerts::Entity::find(), alerts::Column::Seq, alerts::Column::Id)
                .filter(crate::alerts::service::scope_condition(user));
            for m in q.all(db).await? {
                let record = raw(&crate::alerts::service::view(&m, &state.towns))?;
                out.push(Pulled::upsert_or_delete("alerts", m.id, (m.rev, m.seq, m.created_seq), record));
            }
        }
        Table::Parcels if crate::parcels::service::PULLERS.contains(&user.role) => {
            let mut q = sel.filter(parcels::Entity::find(), parcels::Column::Seq, parcels::Column::Id);
            if let Some(f) = town_filter(&scope, parcels::Column::TownId) {
                q = q.filter(f);
            }
            for m in q.all(db).await? {
                let record = if m.deleted { None } else { raw(&crate::parcels::service::view(&m, state))? };
                out.push(Pulled::upsert_or_delete("parcels", m.id, (m.rev, m.seq, m.created_seq), record));
            }
        }
        Table::Approvals if crate::approvals::service::WRITERS.contains(&user.role) => {
            let q = sel
                .filter(approvals::Entity::find(), approvals::Column::Seq, approvals::Column::Id)
                .filter(crate::approvals::service::scope_condition(user));
            for m in q.all(db).await? {
                let record = if m.deleted { None } else { raw(&crate::approvals::service::view(&state.towns, &m))? };
                out.push(Pulled::upsert_or_delete("approvals", m.id, (m.rev, m.seq, m.created_seq), record));
            }
        }
        Table::Alerts | Table::Parcels | Table::Approvals => {}
    }
    Ok(out)
}

/// `evict`s after `after` for a town-scoped caller: cases that left one of
/// its towns and are not back in its scope now.
async fn evictions(state: &AppState, scope: &Scope, after: i64, take: u64) -> ApiResult<Vec<Pulled>> {
    let Scope::Towns(list) = scope else { return Ok(Vec::new()) };
    let db = &state.db;
    let events = scope_events::Entity::find()
        .filter(scope_events::Column::Seq.gt(after))
        .filter(scope_events::Column::TableName.eq("cases"))
        .filter(scope_events::Column::LeftTownId.is_in(list.clone()))
        .order_by_asc(scope_events::Column::Seq)
        .limit(take)
        .all(db)
        .await?;
    // Where those cases are now, in one query.
    let ids: Vec<Uuid> = events.iter().map(|e| e.record_id).collect();
    let now: HashMap<Uuid, Option<Uuid>> = cases::Entity::find()
        .select_only()
        .columns([cases::Column::Id, cases::Column::TownId])
        .filter(cases::Column::Id.is_in(ids))
        .into_tuple::<(Uuid, Option<Uuid>)>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    Ok(events
        .into_iter()
        .filter(|e| !now.get(&e.record_id).is_some_and(|town| scope.covers(*town)))
        .map(|e| Pulled {
            table: "cases",
            id: crate::ids::wire(e.record_id),
            rev: 0,
            op: ChangeOp::Evict,
            record: None,
            seq: e.seq,
            created_seq: 0,
        })
        .collect())
}

/// The tables a pull of `tables` (None: all) reads, in a fixed order.
const PULLED: [Table; 8] = [
    Table::Cases,
    Table::Inspections,
    Table::Observations,
    Table::Towns,
    Table::Campaigns,
    Table::Alerts,
    Table::Parcels,
    Table::Approvals,
];

/// The changes in the caller's scope after position `after`, at most `limit`.
pub async fn changes_after(
    state: &AppState,
    user: &AuthUser,
    after: i64,
    tables: &Option<Vec<String>>,
    limit: u32,
) -> ApiResult<Page> {
    let take = u64::from(limit) + 1;
    let sel = Sel::After { seq: after, take };
    let mut changes: Vec<Pulled> = Vec::new();
    for table in PULLED {
        if wants(tables, table) {
            changes.extend(table_rows(&state.db, state, user, table, sel).await?);
        }
    }
    if wants(tables, Table::Cases) {
        changes.extend(evictions(state, &user.scope(), after, take).await?);
    }
    // The lifecycle table is reference data of this server version: sent with
    // every first sync (it changes only with a server upgrade).
    if after == 0 && tables.as_ref().is_none_or(|list| list.iter().any(|n| n == "lifecycle")) {
        let record = json!({ "version": 1, "transitions": landpatrol_sync::lifecycle::TRANSITIONS });
        changes.push(Pulled {
            table: "lifecycle",
            id: "v1".into(),
            rev: 1,
            op: ChangeOp::Upsert,
            record: raw(&record)?,
            seq: 0,
            created_seq: 0,
        });
    }
    changes.sort_by_key(|c| c.seq);
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let has_more = changes.len() > limit;
    changes.truncate(limit);
    let last = changes.last().map_or(after, |c| c.seq);
    Ok(Page { changes, last, has_more })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_forgeries() {
        assert_eq!(decode_cursor(None).unwrap(), 0);
        assert_eq!(decode_cursor(Some(&encode_cursor(42))).unwrap(), 42);
        assert!(decode_cursor(Some("42")).is_err());
        assert!(decode_cursor(Some("lp1.!!")).is_err());
        assert!(
            decode_cursor(Some(&format!("lp1.{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("-1"))))
                .is_err()
        );
    }
}
