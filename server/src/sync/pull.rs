//! `POST /sync/pull`: every record in the caller's scope whose latest change
//! is after the cursor, once, in change-sequence order; `evict` for records
//! that left the scope.

use base64::Engine;
use std::collections::HashMap;

use chrono::Utc;
use landpatrol_sync::sync::{ChangeOp, PullRequest, Table};
use landpatrol_sync::{ErrorCode, Role};
use sea_orm::sea_query::Condition;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};
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

/// Notes that a record left a town, at the change-sequence position of the
/// change that moved it: pulls of that town get an `evict`.
pub async fn record_departure(
    conn: &impl ConnectionTrait,
    table: &str,
    id: Uuid,
    left: Option<Uuid>,
    seq: i64,
) -> ApiResult<()> {
    scope_events::ActiveModel {
        table_name: Set(table.to_owned()),
        record_id: Set(id),
        left_town_id: Set(left),
        seq: Set(seq),
        at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    Ok(())
}

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

/// The changes in the caller's scope after position `after`, at most `limit`.
pub async fn changes_after(
    state: &AppState,
    user: &AuthUser,
    after: i64,
    tables: &Option<Vec<String>>,
    limit: u32,
) -> ApiResult<Page> {
    let take = u64::from(limit) + 1;
    let db = &state.db;
    let scope = user.scope();
    let mut changes: Vec<(i64, Pulled)> = Vec::new();

    if wants(tables, Table::Cases) {
        let mut q = cases::Entity::find().filter(cases::Column::Seq.gt(after));
        if let Scope::Towns(list) = &scope {
            q = q.filter(cases::Column::TownId.is_in(list.clone()));
        }
        for m in q.order_by_asc(cases::Column::Seq).limit(take).all(db).await? {
            let change = if m.deleted {
                Pulled {
                    table: "cases",
                    id: super::ids::wire(m.id),
                    rev: rev(m.rev),
                    op: ChangeOp::Delete,
                    record: None,
                }
            } else {
                let record = raw(&store::view(&m, &state.towns, user)?)?;
                Pulled { table: "cases", id: super::ids::wire(m.id), rev: rev(m.rev), op: ChangeOp::Upsert, record }
            };
            changes.push((m.seq, change));
        }
        if let Scope::Towns(list) = &scope {
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
            for e in events {
                let now_in_scope = now.get(&e.record_id).is_some_and(|town| scope.covers(*town));
                if !now_in_scope {
                    let change = Pulled {
                        table: "cases",
                        id: super::ids::wire(e.record_id),
                        rev: 0,
                        op: ChangeOp::Evict,
                        record: None,
                    };
                    changes.push((e.seq, change));
                }
            }
        }
    }
    if wants(tables, Table::Inspections) {
        let mut q = inspections::Entity::find().filter(inspections::Column::Seq.gt(after));
        if let Some(c) = field_records_scope(user, inspections::Column::TownId, inspections::Column::CreatedBy) {
            q = q.filter(c);
        }
        for m in q.order_by_asc(inspections::Column::Seq).limit(take).all(db).await? {
            let (op, record) = if m.deleted {
                (ChangeOp::Delete, None)
            } else {
                (ChangeOp::Upsert, raw(&store::inspection_view(&m)?)?)
            };
            changes.push((
                m.seq,
                Pulled { table: "inspections", id: super::ids::wire(m.id), rev: rev(m.rev), op, record },
            ));
        }
    }
    if wants(tables, Table::Observations) {
        let mut q = obs::Entity::find().filter(obs::Column::Seq.gt(after));
        if let Some(c) = field_records_scope(user, obs::Column::TownId, obs::Column::CreatedBy) {
            q = q.filter(c);
        }
        let rows = q
            .select_only()
            .columns(observations::PULL_COLUMNS)
            .order_by_asc(obs::Column::Seq)
            .limit(take)
            .into_model::<observations::PullRow>()
            .all(db)
            .await?;
        for m in rows {
            let (seq, id, r) = (m.seq, m.id, m.rev);
            let (op, record) =
                if m.deleted { (ChangeOp::Delete, None) } else { (ChangeOp::Upsert, raw(&observations::view_row(m))?) };
            changes.push((seq, Pulled { table: "observations", id: super::ids::wire(id), rev: rev(r), op, record }));
        }
    }
    if wants(tables, Table::Towns) {
        let rows = towns::Entity::find()
            .filter(towns::Column::Seq.gt(after))
            .order_by_asc(towns::Column::Seq)
            .limit(take)
            .all(db)
            .await?;
        for m in rows {
            let op = if m.deleted { ChangeOp::Delete } else { ChangeOp::Upsert };
            let record = if m.deleted { None } else { raw(&crate::towns::service::detail(&m))? };
            changes.push((m.seq, Pulled { table: "towns", id: super::ids::wire(m.id), rev: rev(m.rev), op, record }));
        }
    }
    if wants(tables, Table::Campaigns) {
        let rows = campaigns::Entity::find()
            .filter(campaigns::Column::Seq.gt(after))
            .order_by_asc(campaigns::Column::Seq)
            .limit(take)
            .all(db)
            .await?;
        for m in rows {
            let (seq, id, r, deleted) = (m.seq, m.id, m.rev, m.deleted);
            let view = CampaignView::from(m);
            let record = if deleted { None } else { raw(&view)? };
            let op = if deleted { ChangeOp::Delete } else { ChangeOp::Upsert };
            changes.push((seq, Pulled { table: "campaigns", id: id.to_string(), rev: rev(r), op, record }));
        }
    }
    if wants(tables, Table::Alerts) && crate::alerts::service::READERS.contains(&user.role) {
        let rows = alerts::Entity::find()
            .filter(alerts::Column::Seq.gt(after))
            .filter(crate::alerts::service::scope_condition(user))
            .order_by_asc(alerts::Column::Seq)
            .limit(take)
            .all(db)
            .await?;
        for m in rows {
            let record = raw(&crate::alerts::service::view(&m, &state.towns))?;
            let id = super::ids::wire(m.id);
            changes.push((m.seq, Pulled { table: "alerts", id, rev: rev(m.rev), op: ChangeOp::Upsert, record }));
        }
    }
    if wants(tables, Table::Parcels) && crate::parcels::service::PULLERS.contains(&user.role) {
        let mut q = parcels::Entity::find().filter(parcels::Column::Seq.gt(after));
        if let Scope::Towns(list) = &scope {
            q = q.filter(parcels::Column::TownId.is_in(list.clone()));
        }
        for m in q.order_by_asc(parcels::Column::Seq).limit(take).all(db).await? {
            let (op, record) = if m.deleted {
                (ChangeOp::Delete, None)
            } else {
                (ChangeOp::Upsert, raw(&crate::parcels::service::view(&m, state))?)
            };
            changes.push((m.seq, Pulled { table: "parcels", id: super::ids::wire(m.id), rev: rev(m.rev), op, record }));
        }
    }

    if wants(tables, Table::Approvals) && crate::approvals::service::WRITERS.contains(&user.role) {
        let rows = approvals::Entity::find()
            .filter(approvals::Column::Seq.gt(after))
            .filter(crate::approvals::service::scope_condition(user))
            .order_by_asc(approvals::Column::Seq)
            .limit(take)
            .all(db)
            .await?;
        for m in rows {
            let (op, record) = if m.deleted {
                (ChangeOp::Delete, None)
            } else {
                (ChangeOp::Upsert, raw(&crate::approvals::service::view(&state.towns, &m))?)
            };
            let id = super::ids::wire(m.id);
            changes.push((m.seq, Pulled { table: "approvals", id, rev: rev(m.rev), op, record }));
        }
    }

    // The lifecycle table is reference data of this server version: sent with
    // every first sync (it changes only with a server upgrade).
    if after == 0 && tables.as_ref().is_none_or(|list| list.iter().any(|n| n == "lifecycle")) {
        let record = json!({ "version": 1, "transitions": landpatrol_sync::lifecycle::TRANSITIONS });
        changes.push((
            0,
            Pulled { table: "lifecycle", id: "v1".into(), rev: 1, op: ChangeOp::Upsert, record: raw(&record)? },
        ));
    }
    changes.sort_by_key(|(seq, _)| *seq);
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let has_more = changes.len() > limit;
    changes.truncate(limit);
    let last = changes.last().map_or(after, |(seq, _)| *seq);
    Ok(Page { changes: changes.into_iter().map(|(_, c)| c).collect(), last, has_more })
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
