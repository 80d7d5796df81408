//! `POST /sync/push`: ops applied in order, each atomically (a savepoint),
//! its result stored with its effect; one transaction per batch.

use std::collections::{HashMap, HashSet};

use chrono::Utc;
use landpatrol_sync::merge::{FieldClock, check_patch, merge_patch};
use landpatrol_sync::sync::{FLAG_OUT_OF_SCOPE, Op, OpKind, OpResult, PushRequest, PushResponse, Table};
use landpatrol_sync::{CaseStatus, ErrorCode, Hlc, Role};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter, QuerySelect, Set,
    TransactionTrait,
};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::observations::{self, NewObservation};
use crate::auth::AuthUser;
use crate::cases::service::{
    apply_patch, check_disposition, check_editable, create_in, load_in_scope, record_inspection, save_stamped,
    transition_in,
};
use crate::cases::store::{self, Actor, Event};
use crate::cases::types::{NewCase, NewInspection, TransitionRequest};
use crate::db::{self, entities::cases, entities::devices, entities::observations as obs, entities::sync_ops};
use crate::error::{ApiError, ApiResult};
use crate::photos::evidence::{self, LinkTarget};
use crate::state::AppState;

/// Applies a push from one device.
pub async fn push(state: &AppState, user: &AuthUser, req: PushRequest) -> ApiResult<PushResponse> {
    let txn = state.db.begin().await?;
    let response = apply_in(&txn, state, user, req).await?;
    txn.commit().await?;
    state.alerts.wake();
    Ok(response)
}

/// Applies a push from one device inside the caller's transaction (which
/// must be committed for the push to take effect).
pub async fn apply_in(
    txn: &DatabaseTransaction,
    state: &AppState,
    user: &AuthUser,
    req: PushRequest,
) -> ApiResult<PushResponse> {
    let max = state.settings.sync.max_batch;
    if req.ops.len() > max {
        return Err(ApiError::new(ErrorCode::BatchTooLarge, format!("at most {max} ops in one push"))
            .with_details(json!({ "max_batch": max, "ops": req.ops.len() })));
    }
    if user.device.is_some_and(|d| d != req.device_id) {
        return Err(ApiError::new(ErrorCode::UnknownDevice, "the session is bound to another device")
            .with_details(json!({ "field": "device_id" })));
    }
    let actor = AuthUser { device: Some(req.device_id), ..user.clone() };
    // Locks the device row: pushes of one device are applied one after the other.
    let touched = devices::Entity::update_many()
        .col_expr(devices::Column::LastSeenAt, Expr::value(Utc::now()))
        .filter(devices::Column::Id.eq(req.device_id))
        .filter(devices::Column::UserId.eq(user.id))
        .exec(txn)
        .await?;
    if touched.rows_affected != 1 {
        return Err(ApiError::new(ErrorCode::UnknownDevice, "register the device first (POST /api/v1/devices)")
            .with_details(json!({ "field": "device_id" })));
    }
    let device =
        devices::Entity::find_by_id(req.device_id).one(txn).await?.ok_or_else(|| ApiError::not_found("device"))?;
    let ids: Vec<Uuid> = req.ops.iter().map(|o| o.op_id).collect();
    let mut stored: HashMap<Uuid, sync_ops::Model> = HashMap::new();
    for chunk in ids.chunks(200) {
        for row in sync_ops::Entity::find().filter(sync_ops::Column::OpId.is_in(chunk.to_vec())).all(txn).await? {
            stored.insert(row.op_id, row);
        }
    }
    let existing_obs = existing_observations(txn, &req.ops).await?;
    let mut batch = Batch::default();
    let mut seen = HashSet::new();
    let mut results = Vec::with_capacity(req.ops.len());
    let mut last_seq = device.last_seq;
    for op in &req.ops {
        if !seen.insert(op.op_id) {
            results.push(OpResult::rejected(
                op.op_id,
                ErrorCode::DuplicateOpInBatch,
                "this op_id appears earlier in the batch",
            ));
            continue;
        }
        if let Some(prev) = stored.get(&op.op_id) {
            let result = if prev.device_id == req.device_id {
                let stored = serde_json::from_value::<OpResult>(prev.result.clone()).map_err(ApiError::internal)?;
                replayed(txn, user, op, stored.into_duplicate()).await?
            } else {
                OpResult::rejected(op.op_id, ErrorCode::DuplicateRecord, "this op_id belongs to another device")
            };
            results.push(result);
            continue;
        }
        let result = match fast_observation(state, &actor, op, &existing_obs, &batch) {
            Some(Ok((id, model, result))) => {
                batch.add_observation(id, model);
                result
            }
            Some(Err(result)) => result,
            None => {
                batch.flush_observations(txn, state, user.id).await?;
                apply_one(txn, state, &actor, op).await?
            }
        };
        batch.sync_ops.push(sync_ops::ActiveModel {
            op_id: Set(op.op_id),
            device_id: Set(req.device_id),
            user_id: Set(user.id),
            op_seq: Set(i64::try_from(op.seq).unwrap_or(i64::MAX)),
            status: Set(serde_json::to_value(result.status)
                .map_err(ApiError::internal)?
                .as_str()
                .unwrap_or("")
                .to_owned()),
            result: Set(serde_json::to_value(&result).map_err(ApiError::internal)?),
            created_at: Set(Utc::now()),
        });
        last_seq = last_seq.max(i64::try_from(op.seq).unwrap_or(i64::MAX));
        results.push(result);
    }
    batch.flush_observations(txn, state, user.id).await?;
    batch.flush_results(txn).await?;
    if last_seq != device.last_seq {
        devices::Entity::update_many()
            .col_expr(devices::Column::LastSeq, Expr::value(last_seq))
            .filter(devices::Column::Id.eq(req.device_id))
            .exec(txn)
            .await?;
    }
    Ok(PushResponse { results, last_seq: u64::try_from(last_seq).unwrap_or(0), server_time: Utc::now() })
}

/// Rows collected for multi-row inserts: plain observation creates (the bulk of
/// what phones push) and every op's stored result.
#[derive(Default)]
struct Batch {
    observations: Vec<obs::ActiveModel>,
    /// Ids of `observations`, to see a second create of one in the same batch.
    pending_ids: HashSet<Uuid>,
    /// The photos `observations` name, linked once they are inserted.
    links: Vec<(LinkTarget, Vec<String>)>,
    sync_ops: Vec<sync_ops::ActiveModel>,
}

const INSERT_CHUNK: usize = 500;

impl Batch {
    fn add_observation(&mut self, id: Uuid, model: obs::ActiveModel) {
        self.pending_ids.insert(id);
        if let Some(link) = observations::pending_link(&model) {
            self.links.push(link);
        }
        self.observations.push(model);
    }

    /// Inserts the pending observations with consecutive change positions.
    async fn flush_observations(&mut self, txn: &DatabaseTransaction, state: &AppState, by: Uuid) -> ApiResult<()> {
        if self.observations.is_empty() {
            return Ok(());
        }
        let rows = std::mem::take(&mut self.observations);
        self.pending_ids.clear();
        let first = db::reserve_seqs(txn, i64::try_from(rows.len()).unwrap_or(i64::MAX)).await?;
        let mut rows: Vec<obs::ActiveModel> = rows
            .into_iter()
            .enumerate()
            .map(|(i, mut m)| {
                let seq = first + i64::try_from(i).unwrap_or(0);
                m.seq = Set(seq);
                m.created_seq = Set(seq);
                m
            })
            .collect();
        while !rows.is_empty() {
            let rest = rows.split_off(rows.len().min(INSERT_CHUNK));
            obs::Entity::insert_many(rows).exec_without_returning(txn).await?;
            rows = rest;
        }
        let links = std::mem::take(&mut self.links);
        evidence::link(txn, &state.settings.photos, Some(by), &links).await
    }

    async fn flush_results(&mut self, txn: &DatabaseTransaction) -> ApiResult<()> {
        let mut rows = std::mem::take(&mut self.sync_ops);
        while !rows.is_empty() {
            let rest = rows.split_off(rows.len().min(INSERT_CHUNK));
            sync_ops::Entity::insert_many(rows).exec_without_returning(txn).await?;
            rows = rest;
        }
        Ok(())
    }
}

/// Ids of observations that the batch's create ops name and that exist already.
async fn existing_observations(txn: &DatabaseTransaction, ops: &[Op]) -> ApiResult<HashSet<Uuid>> {
    let ids: Vec<Uuid> = ops
        .iter()
        .filter_map(|o| match &o.kind {
            OpKind::Create { table, id, .. } if table == "observations" => crate::ids::parse(id),
            _ => None,
        })
        .collect();
    let mut found = HashSet::new();
    for chunk in ids.chunks(INSERT_CHUNK) {
        let rows =
            obs::Entity::find().select_only().column(obs::Column::Id).filter(obs::Column::Id.is_in(chunk.to_vec()));
        for id in rows.into_tuple::<Uuid>().all(txn).await? {
            found.insert(id);
        }
    }
    Ok(found)
}

/// A stored result shown again. A conflict's `server_record` and a merge's
/// `overridden` values (the case as it was), and the case an op opened, are
/// shown only while the caller still sees that case; otherwise they are
/// withheld with the `out_of_scope` flag.
async fn replayed(txn: &DatabaseTransaction, user: &AuthUser, op: &Op, result: OpResult) -> ApiResult<OpResult> {
    if let Some(opened) = &result.case {
        // The case an observation opened is shown again only while the caller sees it.
        let seen = cases::Entity::find_by_id(opened.id)
            .one(txn)
            .await?
            .is_some_and(|c| !c.deleted && user.scope().covers(c.town_id));
        if !seen {
            return Ok(OpResult { case: None, ..result }.with_flag(FLAG_OUT_OF_SCOPE));
        }
    }
    if result.server_record.is_none() && result.overridden.is_none() {
        return Ok(result);
    }
    let target = match &op.kind {
        OpKind::Create { table, id, .. }
        | OpKind::Update { table, id, .. }
        | OpKind::Transition { table, id, .. }
        | OpKind::Delete { table, id } => Some((table.as_str(), id.as_str())),
        _ => None,
    };
    let case_id = target.filter(|(t, _)| *t == Table::Cases.as_str()).and_then(|(_, id)| crate::ids::parse(id));
    let visible = match case_id {
        Some(id) => {
            cases::Entity::find_by_id(id).one(txn).await?.is_some_and(|c| !c.deleted && user.scope().covers(c.town_id))
        }
        None => false,
    };
    if visible {
        return Ok(result);
    }
    Ok(OpResult { server_record: None, overridden: None, ..result }.with_flag(FLAG_OUT_OF_SCOPE))
}

/// The fast path of a plain observation create (no case link, no proposed
/// case, new id): checked in memory and inserted with the batch. `None` when
/// the op needs the general path.
fn fast_observation(
    state: &AppState,
    user: &AuthUser,
    op: &Op,
    existing: &HashSet<Uuid>,
    batch: &Batch,
) -> Option<Result<(Uuid, obs::ActiveModel, OpResult), OpResult>> {
    let OpKind::Create { table, id, fields } = &op.kind else { return None };
    if table != "observations"
        || fields.contains_key("propose_case")
        || fields.get("case_id").is_some_and(|v| !v.is_null())
    {
        return None;
    }
    let id = crate::ids::parse(id)?;
    if existing.contains(&id) || batch.pending_ids.contains(&id) {
        return None;
    }
    let remote = op.parse_hlc().ok()?;
    let req: NewObservation = serde_json::from_value(Value::Object(fields.clone())).ok()?;
    let (stamp, restamped) = state.hlc_observe(&remote);
    let flag = |r: OpResult| if restamped { r.with_flag("clock_skew") } else { r };
    Some(match observations::prepare(state, user, id, &req, &stamp.to_string()) {
        Ok(model) => Ok((id, model, flag(OpResult::applied(op.op_id, 1)))),
        Err(e) => Err(flag(OpResult::rejected(op.op_id, e.code, e.message))),
    })
}

/// Applies one op inside its own savepoint. A refusal becomes a `rejected` (or
/// `conflict`) result and undoes the op's partial effects; a failure of the
/// database itself fails the whole push so that the client retries it.
async fn apply_one(txn: &DatabaseTransaction, state: &AppState, user: &AuthUser, op: &Op) -> ApiResult<OpResult> {
    let remote = match op.parse_hlc() {
        Ok(h) => h,
        Err(e) => return Ok(OpResult::rejected(op.op_id, ErrorCode::InvalidHlc, format!("hlc: {e}"))),
    };
    let (stamp, restamped) = state.hlc_observe(&remote);
    let savepoint = txn.begin().await?;
    let outcome = dispatch(&savepoint, state, user, op, &stamp).await;
    let result = match outcome {
        Ok(r) => {
            savepoint.commit().await?;
            r
        }
        Err(e) => {
            savepoint.rollback().await?;
            if matches!(e.code, ErrorCode::InternalError | ErrorCode::ServiceUnavailable) {
                return Err(e);
            }
            if e.code == ErrorCode::TransitionConflict
                && let Some(id) = op.kind.id().and_then(crate::ids::parse)
                && let Ok(case) = load_in_scope(txn, user, id).await
            {
                OpResult::conflict(op.op_id, json!({ "id": case.id, "status": case.status, "rev": case.rev }))
            } else {
                OpResult::rejected(op.op_id, e.code, e.message)
            }
        }
    };
    Ok(if restamped { result.with_flag("clock_skew") } else { result })
}

fn malformed(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::MalformedOp, message)
}

fn record_id(id: &str) -> ApiResult<Uuid> {
    crate::ids::parse(id).ok_or_else(|| malformed(format!("record id {id:?} is neither a UUID nor a WatermelonDB id")))
}

fn parse_fields<T: serde::de::DeserializeOwned>(fields: &Map<String, Value>) -> ApiResult<T> {
    serde_json::from_value(Value::Object(fields.clone())).map_err(|e| malformed(format!("fields: {e}")))
}

fn rev(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

async fn dispatch(
    conn: &DatabaseTransaction,
    state: &AppState,
    user: &AuthUser,
    op: &Op,
    stamp: &Hlc,
) -> ApiResult<OpResult> {
    let table = |name: &str| {
        Table::parse(name)
            .filter(|t| t.is_writable())
            .ok_or_else(|| ApiError::new(ErrorCode::UnknownTable, format!("clients can not write table {name:?}")))
    };
    match &op.kind {
        OpKind::Create { table: t, id, fields } => {
            let id = record_id(id)?;
            match table(t)? {
                Table::Cases => {
                    let mut req: NewCase = parse_fields(fields)?;
                    req.id = Some(id);
                    if cases::Entity::find_by_id(id).one(conn).await?.is_some() {
                        // A create of an existing id under a new op_id: an update.
                        let mut patch = fields.clone();
                        patch.remove("source");
                        patch.remove("id");
                        return update_case(conn, state, user, op, id, &patch, stamp).await;
                    }
                    let (_, case) = create_in(conn, state, user, req).await?;
                    Ok(OpResult::applied(op.op_id, rev(case.rev)).with_case(case.id, case.case_number))
                }
                Table::Inspections => {
                    let mut req: NewInspection = parse_fields(fields)?;
                    req.id = Some(id);
                    let case_id = match fields.get("case_id") {
                        None | Some(Value::Null) => None,
                        Some(v) => Some(
                            serde_json::from_value::<Uuid>(v.clone())
                                .map_err(|_| malformed("case_id is not a UUID"))?,
                        ),
                    };
                    let town = req
                        .location
                        .and_then(|p| p.to_wgs84().ok())
                        .and_then(|p| state.towns.locate(p.lon, p.lat).town)
                        .map(|t| t.id);
                    let (_, m) = record_inspection(conn, &state.settings.photos, user, case_id, town, req).await?;
                    Ok(OpResult::applied(op.op_id, rev(m.rev)))
                }
                Table::Observations => {
                    let req: NewObservation = parse_fields(fields)?;
                    let (_, m) = observations::record(conn, state, user, id, req, &stamp.to_string()).await?;
                    let applied = OpResult::applied(op.op_id, rev(m.rev));
                    Ok(match m.proposed_case_id {
                        Some(c) => match cases::Entity::find_by_id(c).one(conn).await? {
                            Some(case) => applied.with_case(case.id, case.case_number),
                            None => applied,
                        },
                        None => applied,
                    })
                }
                Table::Towns | Table::Campaigns | Table::Alerts | Table::Parcels | Table::Approvals => {
                    Err(ApiError::new(ErrorCode::UnknownTable, "reference data is read-only"))
                }
            }
        }
        OpKind::Update { table: t, id, fields, .. } => match table(t)? {
            Table::Cases => update_case(conn, state, user, op, record_id(id)?, fields, stamp).await,
            _ => Err(ApiError::new(ErrorCode::AppendOnly, format!("{t} records can be created, not changed"))),
        },
        OpKind::Transition { table: t, id, from, to, note, photos } => {
            if table(t)? != Table::Cases {
                return Err(ApiError::new(ErrorCode::UnknownTable, "only cases have a lifecycle"));
            }
            let req = TransitionRequest { from: *from, to: *to, note: note.clone(), photos: photos.clone() };
            let case = transition_in(conn, &state.settings.photos, user, record_id(id)?, req).await?;
            Ok(OpResult::applied(op.op_id, rev(case.rev)))
        }
        OpKind::Delete { table: t, id } => {
            delete(conn, user, table(t)?, record_id(id)?).await.map(|r| OpResult::applied(op.op_id, rev(r)))
        }
        OpKind::Unknown(_) => Err(ApiError::new(
            ErrorCode::UnknownOp,
            format!("op kind {:?} is not known to this server", op.kind.name().unwrap_or("")),
        )),
        OpKind::Malformed(m) => Err(malformed(m.reason.clone())),
    }
}

/// The current values of a case's mutable fields, in patch form.
fn current_fields(c: &cases::Model) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("description".into(), json!(c.description));
    m.insert("address".into(), json!(c.address));
    m.insert("land_class".into(), json!(c.land_class));
    m.insert("violation_type".into(), json!(c.violation_type));
    m.insert("disposition".into(), json!(c.disposition));
    m.insert("notice_served_at".into(), json!(c.notice_served_at));
    m.insert("leadership_reported_at".into(), json!(c.leadership_reported_at));
    m.insert("confiscated_gains_fen".into(), json!(c.confiscated_gains_fen));
    m.insert("disciplinary_actions".into(), c.disciplinary_actions.clone());
    m.insert("judicial_referral".into(), json!(c.judicial_referral));
    m.insert("publicised".into(), json!(c.publicised));
    m.insert("location".into(), json!({ "lon": c.lon, "lat": c.lat, "crs": "wgs84", "accuracy_m": c.accuracy_m }));
    m.insert("polygon".into(), json!(c.polygon));
    m
}

fn field_clock(c: &cases::Model) -> FieldClock {
    let mut clock = FieldClock::default();
    if let Some(obj) = c.field_clock.as_object() {
        for (k, v) in obj {
            if let Some(h) = v.as_str().and_then(|s| s.parse::<Hlc>().ok()) {
                clock.0.insert(k.clone(), h);
            }
        }
    }
    clock
}

/// Field-level merge of a case patch: each field is written when the op's
/// clock is newer than that field's last accepted write.
async fn update_case(
    conn: &DatabaseTransaction,
    state: &AppState,
    user: &AuthUser,
    op: &Op,
    id: Uuid,
    fields: &Map<String, Value>,
    stamp: &Hlc,
) -> ApiResult<OpResult> {
    check_patch(Table::Cases, fields).map_err(|(code, field)| {
        ApiError::new(code, format!("{field} can not be changed by an update")).with_details(json!({ "field": field }))
    })?;
    user.require(&[Role::Inspector, Role::TownOfficer, Role::BureauAdmin])?;
    let cur = load_in_scope(conn, user, id).await?;
    check_editable(&cur)?;
    let outcome = merge_patch(&current_fields(&cur), &field_clock(&cur), fields, stamp);
    if outcome.write.is_empty() {
        return Ok(OpResult::merged(op.op_id, rev(cur.rev), outcome.overridden));
    }
    let mut m: cases::ActiveModel = cur.clone().into();
    let (before, after) = apply_patch(state, user, &mut m, &cur, &outcome.write)?;
    check_disposition(&m)?;
    let mut model_rev = cur.rev;
    if !after.is_empty() {
        let written: Vec<&str> = outcome.write.keys().map(String::as_str).collect();
        let model = save_stamped(conn, m, &cur, written, &stamp.to_string()).await?;
        model_rev = model.rev;
        store::append_event(
            conn,
            &Actor::from(user),
            Event {
                case_id: id,
                action: if after.contains_key("town_id") { "relocated" } else { "updated" },
                from_status: None,
                to_status: None,
                before: Some(Value::Object(before)),
                after: Some(Value::Object(after)),
                note: Some(format!("sync op {}", op.op_id)),
            },
        )
        .await?;
    }
    Ok(if outcome.overridden.is_empty() {
        OpResult::applied(op.op_id, rev(model_rev))
    } else {
        OpResult::merged(op.op_id, rev(model_rev), outcome.overridden)
    })
}

/// Tombstones an own observation, or a case still `reported` that the user made.
async fn delete(conn: &impl ConnectionTrait, user: &AuthUser, table: Table, id: Uuid) -> ApiResult<i64> {
    let forbidden = || {
        ApiError::new(
            ErrorCode::DeleteForbidden,
            "only an own observation or an own case still reported may be deleted",
        )
    };
    match table {
        Table::Observations => {
            let m = obs::Entity::find_by_id(id).one(conn).await?.ok_or_else(|| ApiError::not_found("observation"))?;
            if m.created_by != Some(user.id) {
                return Err(forbidden());
            }
            if m.deleted {
                return Ok(m.rev);
            }
            let rev = m.rev + 1;
            let mut a: obs::ActiveModel = m.into();
            a.deleted = Set(true);
            a.rev = Set(rev);
            a.seq = Set(db::next_seq(conn).await?);
            a.updated_at = Set(Utc::now());
            a.update(conn).await?;
            Ok(rev)
        }
        Table::Cases => {
            let m = load_in_scope(conn, user, id).await?;
            if m.created_by != Some(user.id) || m.status != CaseStatus::Reported.as_str() {
                return Err(forbidden());
            }
            let rev = m.rev + 1;
            let mut a: cases::ActiveModel = m.clone().into();
            a.deleted = Set(true);
            a.rev = Set(rev);
            a.seq = Set(db::next_seq(conn).await?);
            a.updated_at = Set(Utc::now());
            a.update(conn).await?;
            store::append_event(
                conn,
                &Actor::from(user),
                Event {
                    case_id: id,
                    action: "withdrawn",
                    from_status: None,
                    to_status: None,
                    before: Some(json!({ "deleted": false })),
                    after: Some(json!({ "deleted": true })),
                    note: Some("withdrawn by its reporter before registration".into()),
                },
            )
            .await?;
            Ok(rev)
        }
        _ => Err(forbidden()),
    }
}
