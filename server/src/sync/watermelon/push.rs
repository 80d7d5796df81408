//! `POST /sync/watermelon`: WatermelonDB's `pushChanges`.
//!
//! Every row becomes native ops and goes through the same rules as the
//! native push, in one transaction with what the device now holds:
//! - a `created` row is a create (of an existing id: an update, the retry of
//!   a push whose answer was lost);
//! - an `updated` row's `_changed` columns form the patch; a `status` change
//!   is a transition from the server's current state;
//! - each row is stamped with its `updated_at` (the phone's edit time,
//!   bounded by the clock-skew rule), so the later edit of a field wins
//!   whatever order the phones sync in;
//! - op ids are derived from the row, so a row pushed again unchanged is a
//!   `duplicate` and changes nothing.
//!
//! Refused rows are recorded in `sync_rejections` for the device. A refused
//! create stays on the phone (in `experimentalRejectedIds`: field data is
//! never lost); a refused update or delete is sent back in the next pull, so
//! the phone shows the server's state.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, TimeZone, Utc};
use landpatrol_sync::sync::{ChangeOp, Op, OpKind, OpResult, OpStatus, PushRequest, Table};
use landpatrol_sync::{CaseStatus, ErrorCode, Hlc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QuerySelect, TransactionTrait};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::marks::{self, Refusal};
use super::schema::{self, WmTable, Write};
use super::{WatermelonPushResult, WatermelonTableChanges, rows};
use crate::auth::AuthUser;
use crate::db::entities::{cases, devices, inspections, observations};
use crate::error::{ApiError, ApiResult};
use crate::ids;
use crate::state::AppState;
use crate::sync::pull::{Pulled, Sel, table_rows};

/// Namespace of the op ids made from pushed rows.
const OP_NS: Uuid = Uuid::from_u128(0x776d_6f70_732d_6c61_6e64_7061_7472_6f6c);

/// Case columns a native create does not take: sent as an update after it.
const CASE_AFTER_CREATE: [&str; 7] = [
    "disposition",
    "notice_served_at",
    "leadership_reported_at",
    "confiscated_gains_fen",
    "disciplinary_actions",
    "judicial_referral",
    "publicised",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RowKind {
    Created,
    Updated,
    Deleted,
}

impl RowKind {
    fn op(self) -> &'static str {
        match self {
            RowKind::Created => "create",
            RowKind::Updated => "update",
            RowKind::Deleted => "delete",
        }
    }
}

/// One pushed row and what became of it.
struct Planned<'a> {
    table: &'static WmTable,
    wire: String,
    id: Option<Uuid>,
    kind: RowKind,
    row: Option<&'a Map<String, Value>>,
    /// The columns of the change (for the rejection record).
    columns: Vec<String>,
    /// Indexes of its ops.
    ops: Vec<usize>,
    /// Why it was refused.
    refusal: Option<ApiError>,
    /// The record existed before this push (a create of it is an update).
    existed: bool,
    /// The row's stamp: its `updated_at` as the server accepts it.
    stamp: Hlc,
    restamped: bool,
}

fn refuse(code: ErrorCode, message: impl Into<String>) -> ApiError {
    ApiError::new(code, message)
}

fn changed(row: &Map<String, Value>) -> Vec<String> {
    row.get("_changed")
        .and_then(Value::as_str)
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The stamp of a row: the phone's `updated_at` (else `created_at`), bounded
/// by the clock-skew rule; the server's clock when the row has neither.
fn stamp_of(state: &AppState, device: Uuid, row: Option<&Map<String, Value>>) -> (Hlc, bool) {
    let ms = row
        .and_then(|r| r.get("updated_at").or_else(|| r.get("created_at")))
        .and_then(Value::as_f64)
        .filter(|n| n.is_finite() && *n > 0.0);
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    match ms.and_then(|n| Hlc::new(n as u64, 0, device.to_string()).ok()) {
        Some(remote) => state.hlc_observe(&remote),
        None => (state.hlc_now(), false),
    }
}

fn millis(h: &Hlc) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(i64::try_from(h.wall_ms()).unwrap_or(i64::MAX)).single().unwrap_or_else(Utc::now)
}

/// The ids among `ids` that exist in `table`.
async fn existing(txn: &DatabaseTransaction, table: Table, ids: &[Uuid]) -> ApiResult<HashSet<Uuid>> {
    let mut out = HashSet::new();
    for chunk in ids.chunks(500) {
        let found: Vec<Uuid> = match table {
            Table::Cases => {
                cases::Entity::find()
                    .select_only()
                    .column(cases::Column::Id)
                    .filter(cases::Column::Id.is_in(chunk.to_vec()))
                    .into_tuple()
                    .all(txn)
                    .await?
            }
            Table::Inspections => {
                inspections::Entity::find()
                    .select_only()
                    .column(inspections::Column::Id)
                    .filter(inspections::Column::Id.is_in(chunk.to_vec()))
                    .into_tuple()
                    .all(txn)
                    .await?
            }
            Table::Observations => {
                observations::Entity::find()
                    .select_only()
                    .column(observations::Column::Id)
                    .filter(observations::Column::Id.is_in(chunk.to_vec()))
                    .into_tuple()
                    .all(txn)
                    .await?
            }
            _ => Vec::new(),
        };
        out.extend(found);
    }
    Ok(out)
}

async fn case_status(txn: &DatabaseTransaction, id: Uuid) -> ApiResult<Option<CaseStatus>> {
    let status: Option<String> =
        cases::Entity::find_by_id(id).select_only().column(cases::Column::Status).into_tuple().one(txn).await?;
    Ok(status.as_deref().and_then(CaseStatus::parse))
}

/// Builds the ops of the push.
struct Builder {
    device: Uuid,
    seq: u64,
    ops: Vec<Op>,
}

impl Builder {
    fn add(&mut self, p: &mut Planned<'_>, kind: OpKind) {
        self.seq += 1;
        let canonical = json!({ "kind": &kind, "stamp": p.stamp.to_string(), "n": p.ops.len() });
        let op_id = Uuid::new_v5(&OP_NS, format!("{}/{}/{}/{canonical}", self.device, p.table.name, p.wire).as_bytes());
        p.ops.push(self.ops.len());
        self.ops.push(Op { op_id, seq: self.seq, hlc: p.stamp.to_string(), kind });
    }

    /// The transition for a changed `status`, from the server's current state.
    async fn transition(
        &mut self,
        txn: &DatabaseTransaction,
        p: &mut Planned<'_>,
        row: &Map<String, Value>,
        id: Uuid,
    ) -> ApiResult<()> {
        let Some(raw) = row.get("status").and_then(Value::as_str) else { return Ok(()) };
        let Some(to) = CaseStatus::parse(raw) else {
            p.refusal = Some(ApiError::field("status", format!("{raw:?} is not a case status")));
            return Ok(());
        };
        let from = match case_status(txn, id).await? {
            Some(s) => s,
            None if p.kind == RowKind::Created => CaseStatus::Reported,
            None => {
                p.refusal = Some(ApiError::not_found("case"));
                return Ok(());
            }
        };
        if from != to {
            let note = row.get("transition_note").and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_owned);
            self.add(
                p,
                OpKind::Transition { table: "cases".into(), id: p.wire.clone(), from, to, note, photos: vec![] },
            );
        }
        Ok(())
    }

    /// The ops of an update of `columns`.
    async fn update(
        &mut self,
        txn: &DatabaseTransaction,
        p: &mut Planned<'_>,
        row: &Map<String, Value>,
        columns: &[String],
    ) -> ApiResult<()> {
        let table = p.table;
        let Some(id) = p.id else { return Ok(()) };
        let mut patch = Vec::new();
        let mut status = false;
        for c in columns {
            let Some(col) = table.column(c) else {
                // A column the server does not know (the app's own): kept on the phone.
                continue;
            };
            match col.write {
                Write::Stamp | Write::Client => {}
                Write::Edit if c == "status" => status = true,
                Write::Edit => patch.push(c.as_str()),
                Write::Server | Write::Create => {
                    let code = if table.writable() && !matches!(table.native, Some(Table::Cases)) {
                        ErrorCode::AppendOnly
                    } else {
                        ErrorCode::ImmutableField
                    };
                    p.refusal = Some(
                        refuse(code, format!("{}.{c} can not be changed by the app", table.name))
                            .with_details(json!({ "field": c })),
                    );
                    return Ok(());
                }
            }
        }
        if !patch.is_empty() {
            match rows::native_fields(table, row, &patch) {
                Ok(fields) => {
                    self.add(p, OpKind::Update { table: table.name.into(), id: p.wire.clone(), base_rev: None, fields })
                }
                Err(e) => {
                    p.refusal = Some(e);
                    return Ok(());
                }
            }
        }
        if status {
            self.transition(txn, p, row, id).await?;
        }
        Ok(())
    }

    async fn created(
        &mut self,
        txn: &DatabaseTransaction,
        p: &mut Planned<'_>,
        row: &Map<String, Value>,
    ) -> ApiResult<()> {
        let table = p.table;
        let columns: Vec<&str> = table
            .columns
            .iter()
            .filter(|c| matches!(c.write, Write::Create | Write::Edit | Write::Client))
            .map(|c| c.name)
            .filter(|c| row.contains_key(*c))
            .collect();
        p.columns = columns.iter().map(|c| (*c).to_owned()).collect();
        if p.existed && table.native == Some(Table::Cases) {
            // The retry of a create whose answer was lost (or a create of a
            // record made elsewhere): an update of what the app may edit.
            let edits: Vec<String> = columns
                .iter()
                .filter(|c| table.column(c).is_some_and(|k| k.write == Write::Edit))
                .map(|c| (*c).to_owned())
                .collect();
            return self.update(txn, p, row, &edits).await;
        }
        let mut fields = match rows::native_fields(table, row, &columns) {
            Ok(f) => f,
            Err(e) => {
                p.refusal = Some(e);
                return Ok(());
            }
        };
        if table.native == Some(Table::Observations)
            && let Some(kind) =
                fields.remove("propose_violation_type").filter(|v| v.as_str().is_some_and(|s| !s.is_empty()))
        {
            fields.insert("propose_case".into(), json!({ "violation_type": kind }));
        }
        let kind = OpKind::Create { table: table.name.into(), id: p.wire.clone(), fields };
        self.add(p, kind);
        if table.native == Some(Table::Cases) {
            let extra: Vec<String> = CASE_AFTER_CREATE
                .iter()
                .filter(|c| row.get(**c).is_some_and(|v| !rows::same(c, &Value::Null, v) && v.as_str() != Some("[]")))
                .map(|c| (*c).to_owned())
                .chain(
                    row.get("status")
                        .and_then(Value::as_str)
                        .filter(|s| *s != "reported" && !s.is_empty())
                        .map(|_| "status".to_owned()),
                )
                .collect();
            if !extra.is_empty() {
                self.update(txn, p, row, &extra).await?;
            }
        }
        Ok(())
    }
}

/// Writes the phone's times on a record it made or edited: `created_at` (a
/// create), `updated_at` (the edit time, never moved back past an edit made
/// elsewhere: `before` is the record's `updated_at` before this push), and
/// for a case made on the phone the field clock of its creation.
async fn stamp_times(txn: &DatabaseTransaction, p: &Planned<'_>, before: Option<DateTime<Utc>>) -> ApiResult<()> {
    let (Some(id), Some(row)) = (p.id, p.row) else { return Ok(()) };
    let edited = millis(&p.stamp);
    let updated = before.map_or(edited, |b| b.max(edited));
    let created_fresh = p.kind == RowKind::Created && !p.existed;
    let created = created_fresh
        .then(|| row.get("created_at").and_then(Value::as_f64).filter(|n| n.is_finite() && *n > 0.0))
        .flatten()
        .and_then(|n| {
            #[allow(clippy::cast_possible_truncation)]
            Utc.timestamp_millis_opt(n as i64).single()
        })
        .map(|t| t.min(updated));
    macro_rules! stamp {
        ($entity:ident) => {{
            let mut q = $entity::Entity::update_many()
                .filter($entity::Column::Id.eq(id))
                .col_expr($entity::Column::UpdatedAt, Expr::value(updated));
            if let Some(c) = created {
                q = q.col_expr($entity::Column::CreatedAt, Expr::value(c));
            }
            q.exec(txn).await?;
        }};
    }
    match p.table.native {
        Some(Table::Cases) => {
            stamp!(cases);
            if created_fresh {
                cases::Entity::update_many()
                    .filter(cases::Column::Id.eq(id))
                    .col_expr(cases::Column::FieldClock, Expr::value(json!({ "*": p.stamp.to_string() })))
                    .exec(txn)
                    .await?;
            }
        }
        Some(Table::Inspections) => stamp!(inspections),
        Some(Table::Observations) => stamp!(observations),
        _ => {}
    }
    Ok(())
}

/// Whether the device's row equals the server's row on every column both have.
fn echoes(table: &WmTable, server: &Map<String, Value>, pushed: &Map<String, Value>) -> bool {
    table.columns.iter().filter(|c| c.write != Write::Client).all(|c| match (server.get(c.name), pushed.get(c.name)) {
        (Some(s), Some(p)) => rows::same(c.name, s, p),
        _ => true,
    })
}

/// Applies one WatermelonDB push.
pub async fn push(
    state: &AppState,
    user: &AuthUser,
    changes: &BTreeMap<String, WatermelonTableChanges>,
    pulled: Option<i64>,
) -> ApiResult<WatermelonPushResult> {
    let device = user.device.ok_or_else(|| {
        ApiError::new(ErrorCode::UnknownDevice, "log in with a registered device_id before syncing")
            .with_details(json!({ "field": "device_id" }))
    })?;
    let txn = state.db.begin().await?;
    let last_seq: Option<i64> = devices::Entity::find_by_id(device)
        .filter(devices::Column::UserId.eq(user.id))
        .select_only()
        .column(devices::Column::LastSeq)
        .into_tuple()
        .one(&txn)
        .await?;
    let Some(last_seq) = last_seq else {
        return Err(ApiError::new(ErrorCode::UnknownDevice, "register the device first (POST /api/v1/devices)")
            .with_details(json!({ "field": "device_id" })));
    };
    let mut b = Builder { device, seq: u64::try_from(last_seq).unwrap_or(0), ops: Vec::new() };
    let mut plan: Vec<Planned> = Vec::new();

    for (name, t) in changes {
        if schema::table(name).is_none() && !(t.created.is_empty() && t.updated.is_empty() && t.deleted.is_empty()) {
            return Err(ApiError::new(ErrorCode::UnknownTable, format!("no WatermelonDB table is called {name:?}"))
                .with_details(json!({ "field": name })));
        }
    }
    for table in schema::TABLES {
        let Some(t) = changes.get(table.name) else { continue };
        let native = table.native.filter(|n| matches!(n, Table::Cases | Table::Inspections | Table::Observations));
        let created_ids: Vec<Uuid> =
            t.created.iter().filter_map(|r| r.get("id").and_then(Value::as_str).and_then(ids::parse)).collect();
        let existed = match native {
            Some(n) => existing(&txn, n, &created_ids).await?,
            None => HashSet::new(),
        };
        let rows =
            t.created.iter().map(|r| (RowKind::Created, r)).chain(t.updated.iter().map(|r| (RowKind::Updated, r)));
        for (kind, row) in rows {
            let wire = row.get("id").and_then(Value::as_str).unwrap_or_default().to_owned();
            let id = ids::parse(&wire);
            let (stamp, restamped) = stamp_of(state, device, Some(row));
            let mut p = Planned {
                table,
                wire: wire.clone(),
                id,
                kind,
                row: Some(row),
                columns: Vec::new(),
                ops: Vec::new(),
                refusal: None,
                existed: id.is_some_and(|i| existed.contains(&i)),
                stamp,
                restamped,
            };
            if id.is_none() {
                p.refusal = Some(refuse(
                    ErrorCode::MalformedOp,
                    format!("id {wire:?} is neither a UUID nor a WatermelonDB id"),
                ));
            } else if table.native == Some(Table::Alerts) && kind == RowKind::Updated {
                p.columns = changed(row);
                // Acknowledging is the one change the app makes to an alert.
                if let Some(c) = p
                    .columns
                    .iter()
                    .find(|c| *c != "acked_at" && table.column(c).is_some_and(|k| k.write != Write::Stamp))
                {
                    p.refusal = Some(
                        refuse(ErrorCode::ImmutableField, format!("alerts.{c} can not be changed by the app"))
                            .with_details(json!({ "field": c })),
                    );
                }
            } else if native.is_none() {
                p.refusal = Some(refuse(ErrorCode::UnknownTable, format!("{} is read-only", table.name)));
            } else if kind == RowKind::Created {
                b.created(&txn, &mut p, row).await?;
            } else {
                p.columns = changed(row);
                let columns = p.columns.clone();
                b.update(&txn, &mut p, row, &columns).await?;
            }
            plan.push(p);
        }
        for wire in &t.deleted {
            let id = ids::parse(wire);
            let (stamp, restamped) = stamp_of(state, device, None);
            let mut p = Planned {
                table,
                wire: wire.clone(),
                id,
                kind: RowKind::Deleted,
                row: None,
                columns: Vec::new(),
                ops: Vec::new(),
                refusal: None,
                existed: false,
                stamp,
                restamped,
            };
            match (id, table.native) {
                // An id the server never knew: nothing to delete.
                (None, _) => continue,
                (Some(_), Some(Table::Cases | Table::Observations)) => {
                    b.add(&mut p, OpKind::Delete { table: table.name.into(), id: wire.clone() })
                }
                (Some(_), _) => {
                    p.refusal = Some(refuse(
                        ErrorCode::DeleteForbidden,
                        format!("{} records can not be deleted by the app", table.name),
                    ))
                }
            }
            plan.push(p);
        }
    }

    // Revisions before, to tell which rows this push wrote.
    let touched = touched_ids(&plan);
    let before = current_rows(&txn, state, user, &touched).await?;

    let mut results: Vec<Option<OpResult>> = vec![None; b.ops.len()];
    let ops = std::mem::take(&mut b.ops);
    let mut start = 0;
    for chunk in ops.chunks(state.settings.sync.max_batch.max(1)) {
        let resp =
            crate::sync::push::apply_in(&txn, state, user, PushRequest { device_id: device, ops: chunk.to_vec() })
                .await?;
        for (i, r) in resp.results.into_iter().enumerate() {
            results[start + i] = Some(r);
        }
        start += chunk.len();
    }

    // Acknowledgements.
    for p in plan.iter_mut().filter(|p| p.table.native == Some(Table::Alerts) && p.refusal.is_none()) {
        let acked = p.row.and_then(|r| r.get("acked_at")).is_some_and(|v| !v.is_null() && v.as_f64() != Some(0.0));
        if let (Some(id), true) = (p.id, acked) {
            let savepoint = txn.begin().await?;
            match crate::alerts::service::ack_in(&savepoint, user, id).await {
                Ok(_) => savepoint.commit().await?,
                Err(e) if matches!(e.code, ErrorCode::InternalError | ErrorCode::ServiceUnavailable) => return Err(e),
                Err(e) => {
                    savepoint.rollback().await?;
                    p.refusal = Some(e);
                }
            }
        }
    }

    // Each row's outcome: the first refused op refuses the row.
    for p in &mut plan {
        if p.refusal.is_some() {
            continue;
        }
        for i in &p.ops {
            let Some(r) = results.get(*i).and_then(Option::as_ref) else { continue };
            if matches!(r.status, OpStatus::Rejected | OpStatus::Conflict) {
                let (code, message) = match &r.error {
                    Some(e) => (e.code, e.message.clone()),
                    None => (ErrorCode::TransitionConflict, "the case changed meanwhile".to_owned()),
                };
                p.refusal = Some(ApiError::new(code, message));
                break;
            }
        }
        if p.restamped && p.refusal.is_none() {
            tracing::info!(table = p.table.name, "a pushed row was re-stamped: the device clock is ahead");
        }
    }
    for p in &plan {
        if p.refusal.is_some() || p.kind == RowKind::Deleted {
            continue;
        }
        let Some(id) = p.id else { continue };
        match before.get(&(p.table.name, id)) {
            // Written by this push: its revision moved.
            Some(b) if current_rev(&txn, p).await? != Some(b.rev) => stamp_times(&txn, p, b.updated_at).await?,
            Some(_) => {}
            None => stamp_times(&txn, p, None).await?,
        }
    }

    // What the device holds now.
    let after = current_rows(&txn, state, user, &touched).await?;
    let mut rejected: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut resent = 0usize;
    for p in &plan {
        let Some(id) = p.id else {
            if let Some(e) = &p.refusal {
                record_refusal(&txn, device, user, p, e).await?;
                rejected.entry(p.table.name.to_owned()).or_default().push(p.wire.clone());
            }
            continue;
        };
        let now = after.get(&(p.table.name, id));
        if let Some(e) = &p.refusal {
            record_refusal(&txn, device, user, p, e).await?;
        } else {
            marks::clear(&txn, device, p.table.name, &p.wire).await?;
        }
        match p.kind {
            // A refused create of a record the server does not have stays on
            // the phone, to be fixed or withdrawn there.
            RowKind::Created if p.refusal.is_some() && now.is_none() && !p.existed => {
                rejected.entry(p.table.name.to_owned()).or_default().push(p.wire.clone());
            }
            RowKind::Deleted if p.refusal.is_none() => {}
            RowKind::Deleted => {
                marks::set(&txn, device, (p.table.name, id), false, None, pulled).await?;
                resent += 1;
            }
            _ => {
                let server = now.filter(|n| n.op == ChangeOp::Upsert).and_then(|n| n.row.as_ref());
                match (server, p.row) {
                    (Some(s), Some(row)) if echoes(p.table, s, row) => {
                        let seq = now.map_or(0, |n| n.seq);
                        marks::set(&txn, device, (p.table.name, id), true, Some(seq), pulled).await?;
                    }
                    _ => {
                        marks::set(&txn, device, (p.table.name, id), true, None, pulled).await?;
                        resent += 1;
                    }
                }
            }
        }
    }
    txn.commit().await?;
    state.alerts.wake();
    Ok(WatermelonPushResult { experimental_rejected_ids: rejected, resent })
}

async fn record_refusal(
    txn: &DatabaseTransaction,
    device: Uuid,
    user: &AuthUser,
    p: &Planned<'_>,
    e: &ApiError,
) -> ApiResult<()> {
    let mut message = e.message.clone();
    if let Some(field) = e.details.get("field").and_then(Value::as_str) {
        message = format!("{message} ({field})");
    }
    let columns = if p.columns.is_empty() { Vec::new() } else { p.columns.clone() };
    marks::reject(
        txn,
        device,
        user.id,
        Refusal {
            table: p.table.name,
            record: &p.wire,
            op: p.kind.op(),
            code: e.code.as_str(),
            message: &message,
            columns,
            row: p.row.map_or(Value::Null, |r| Value::Object(r.clone())),
        },
    )
    .await
}

/// A record as the device would pull it now.
struct Current {
    op: ChangeOp,
    seq: i64,
    rev: u64,
    updated_at: Option<DateTime<Utc>>,
    row: Option<Map<String, Value>>,
}

fn touched_ids(plan: &[Planned<'_>]) -> BTreeMap<&'static str, Vec<Uuid>> {
    let mut out: BTreeMap<&'static str, Vec<Uuid>> = BTreeMap::new();
    for p in plan {
        if let (Some(id), Some(_)) = (p.id, p.table.native) {
            out.entry(p.table.name).or_default().push(id);
        }
    }
    out
}

async fn current_rows(
    txn: &DatabaseTransaction,
    state: &AppState,
    user: &AuthUser,
    touched: &BTreeMap<&'static str, Vec<Uuid>>,
) -> ApiResult<HashMap<(&'static str, Uuid), Current>> {
    let mut out = HashMap::new();
    for (name, list) in touched {
        let Some(table) = schema::table(name) else { continue };
        let Some(native) = table.native else { continue };
        for chunk in list.chunks(500) {
            for p in table_rows(txn, state, user, native, Sel::Ids(chunk)).await? {
                let Some(id) = ids::parse(&p.id) else { continue };
                out.insert((table.name, id), current(table, p)?);
            }
        }
    }
    Ok(out)
}

fn current(table: &WmTable, p: Pulled) -> ApiResult<Current> {
    let row = match &p.record {
        Some(raw) => {
            let native: Value = serde_json::from_str(raw.get()).map_err(ApiError::internal)?;
            Some(rows::to_row(table, &native))
        }
        None => None,
    };
    let updated_at = row
        .as_ref()
        .and_then(|r| r.get("updated_at"))
        .and_then(Value::as_i64)
        .and_then(|ms| Utc.timestamp_millis_opt(ms).single());
    Ok(Current { op: p.op, seq: p.seq, rev: p.rev, updated_at, row })
}

async fn current_rev(txn: &DatabaseTransaction, p: &Planned<'_>) -> ApiResult<Option<u64>> {
    let Some(id) = p.id else { return Ok(None) };
    let rev: Option<i64> = match p.table.native {
        Some(Table::Cases) => {
            cases::Entity::find_by_id(id).select_only().column(cases::Column::Rev).into_tuple().one(txn).await?
        }
        Some(Table::Inspections) => {
            inspections::Entity::find_by_id(id)
                .select_only()
                .column(inspections::Column::Rev)
                .into_tuple()
                .one(txn)
                .await?
        }
        Some(Table::Observations) => {
            observations::Entity::find_by_id(id)
                .select_only()
                .column(observations::Column::Rev)
                .into_tuple()
                .one(txn)
                .await?
        }
        _ => None,
    };
    Ok(rev.and_then(|r| u64::try_from(r).ok()))
}
