//! The reference client (feature `client`): a durable outbox and a local replica in
//! one SQLite file, and a [`Client::sync`] that pushes the outbox in order, then
//! pulls until the server has nothing more (SYNC.md).
//!
//! # Offline first
//!
//! [`Client::open`] needs no network. Edits ([`Client::create`], [`Client::update`],
//! [`Client::transition`], [`Client::delete`], [`Client::observe`]) are local: each
//! one, in **one SQLite transaction**, takes the next per-device `seq`, stamps the op
//! with the persisted hybrid logical clock (node = the device id), appends the op to
//! the outbox and updates the replica. The session (login, device registration)
//! is set up on the first [`Client::sync`].
//!
//! # Kill safety
//!
//! The process may die at any instant and nothing is lost or applied twice:
//!
//! - an edit is in the file, outbox and replica together, or not at all;
//! - an op leaves the outbox only in the transaction that records its result,
//!   so an op whose response was lost is sent again, with the same `op_id`, and
//!   the server answers `duplicate` (its effect happened once);
//! - a pull page's changes and the cursor after it are saved in one transaction,
//!   so an interrupted first sync resumes at its last page;
//! - a rotated refresh token is saved before the new access token is used; if
//!   the process dies between the server's rotation and that save, the old token
//!   is refused as reused and the client logs in again with its credentials.
//!
//! The file is in WAL mode with `synchronous = FULL`.
//!
//! # Replica
//!
//! Each replica row keeps the record as the server last confirmed it (`base`,
//! from a pull or an applied op) and what the app sees: `base` with the ops still
//! in the outbox applied. When an op is settled the visible record is recomputed,
//! so a `conflict` or `rejected` op no longer shows, and once the outbox is empty
//! and a pull has run, the replica equals the server's view.
//!
//! # Results
//!
//! `applied` and `duplicate` drop the op. `merged` drops it and logs it (the
//! `overridden` values are taken into the replica); `conflict` and `rejected` drop
//! it and log it, for the app to show ([`Client::results`], [`Client::acknowledge`]).
//! A status this client does not know is treated like `rejected`: the server stores
//! a result with the effect of every op it answers for, so sending the op again can
//! only give `duplicate`; it is dropped and logged with the status as sent.
//! An op the response has no result for stays in the outbox and is sent again.
//!
//! # Retries
//!
//! Network errors, 408, 429 and 5xx are retried with exponential backoff and full
//! jitter ([`RetryPolicy`]); a 401 refreshes the session (then logs in again) and
//! repeats the request. The sleep is injectable ([`Sleeper`]) and the jitter RNG
//! seedable, so tests run fast and deterministically. The transport is a trait
//! ([`Transport`]); [`FaultyTransport`] wraps one to drop requests or responses.

mod error;
mod faults;
mod retry;
pub mod store;
mod transport;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rand::rngs::StdRng;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use sqlx::SqlitePool;
use uuid::Uuid;

pub use error::ClientError;
pub use faults::{Fault, FaultStats, FaultyTransport};
pub use retry::{RecordingSleeper, RetryPolicy, Sleeper, TokioSleeper};
pub use transport::{BoxFuture, Method, Request, ReqwestTransport, Response, Transport, TransportError};

use crate::lifecycle::{self, CaseStatus, Role};
use crate::sync::{Op, OpKind, OpResult, Table};
use crate::{ErrorCode, GeoPoint, merge};
use store::{Base, Queued};

/// The largest push batch the protocol allows (the server may allow fewer).
pub const MAX_PUSH_BATCH: usize = 500;

/// Who the client logs in as.
#[derive(Clone)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl Credentials {
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Self { username: username.into(), password: password.into() }
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials").field("username", &self.username).finish_non_exhaustive()
    }
}

/// The physical clock, unix milliseconds.
pub type WallClock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// How a [`Client`] behaves; [`ClientOptions::default`] suits a phone.
#[derive(Clone)]
pub struct ClientOptions {
    pub retry: RetryPolicy,
    /// How to wait between attempts.
    pub sleeper: Arc<dyn Sleeper>,
    /// Ops per push, at most [`MAX_PUSH_BATCH`]; lowered on the fly when the
    /// server answers `batch_too_large`.
    pub push_batch: usize,
    /// Changes per pull page.
    pub pull_limit: u32,
    /// The physical clock for HLC stamps.
    pub wall_clock: WallClock,
    /// Sent when the device is registered.
    pub device_name: String,
    pub platform: String,
    pub app_version: String,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            retry: RetryPolicy::default(),
            sleeper: Arc::new(TokioSleeper),
            push_batch: MAX_PUSH_BATCH,
            pull_limit: 500,
            wall_clock: Arc::new(system_ms),
            device_name: "landpatrol reference client".into(),
            platform: std::env::consts::OS.into(),
            app_version: env!("CARGO_PKG_VERSION").into(),
        }
    }
}

fn system_ms() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or(0)
}

/// A record of the local replica, as the app sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    pub table: String,
    pub id: String,
    /// The server's revision this record is based on; `None` while it exists only here.
    pub rev: Option<u64>,
    /// The record: the server's state with this device's pending ops applied.
    pub data: Map<String, Value>,
    /// Ops on this record wait in the outbox.
    pub pending: bool,
}

/// A result the app should show the user: `merged`, `conflict`, `rejected`, or a
/// status this client does not know.
#[derive(Clone, Debug, PartialEq)]
pub struct ReportedResult {
    pub op_id: Uuid,
    pub seq: u64,
    /// As the server sent it.
    pub status: String,
    pub op: Op,
    /// Parsed; its status is `Unknown` for a status this client does not know.
    pub result: OpResult,
    pub received_at: String,
}

/// What one [`Client::sync`] (or push, or pull) did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Ops settled by push results, by status.
    pub applied: u64,
    pub duplicate: u64,
    pub merged: u64,
    pub conflict: u64,
    pub rejected: u64,
    pub unknown: u64,
    /// Push requests that got an answer with results.
    pub push_batches: u64,
    /// Pull pages applied, and the changes in them.
    pub pull_pages: u64,
    pub pulled: u64,
    /// HTTP requests attempted (every retry counts), and retries after a failure.
    pub requests: u64,
    pub retries: u64,
    /// Sessions renewed with a refresh token, and password logins.
    pub refreshes: u64,
    pub logins: u64,
}

impl SyncReport {
    /// Ops that came back with a result.
    pub fn settled(&self) -> u64 {
        self.applied + self.duplicate + self.merged + self.conflict + self.rejected + self.unknown
    }
}

/// A token pair as login and refresh return it (the fields the client uses).
#[derive(Deserialize)]
struct TokenPair {
    access_token: String,
    refresh_token: String,
    #[serde(default)]
    user: Option<TokenUser>,
}

#[derive(Deserialize)]
struct TokenUser {
    id: Option<String>,
    role: Option<String>,
}

/// The reference client. See the [module documentation](self).
pub struct Client {
    db: SqlitePool,
    transport: Arc<dyn Transport>,
    credentials: Credentials,
    options: ClientOptions,
    device_id: Uuid,
    rng: Mutex<StdRng>,
    /// One sync at a time (edits may go on meanwhile).
    sync_lock: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("device_id", &self.device_id).finish_non_exhaustive()
    }
}

impl Client {
    /// Opens (or creates) the client database at `path`, talking to the server at
    /// `base_url` over HTTP with the default options. Needs no network.
    pub async fn open(path: impl AsRef<Path>, base_url: &str, credentials: Credentials) -> Result<Client, ClientError> {
        let transport = Arc::new(ReqwestTransport::new(base_url)?);
        Self::open_with(path, transport, credentials, ClientOptions::default()).await
    }

    /// Opens (or creates) the client database at `path` with a given transport and options.
    pub async fn open_with(
        path: impl AsRef<Path>,
        transport: Arc<dyn Transport>,
        credentials: Credentials,
        options: ClientOptions,
    ) -> Result<Client, ClientError> {
        let db = store::open(path.as_ref()).await?;
        let mut tx = db.begin_with("BEGIN IMMEDIATE").await?;
        store::init_state(&mut tx).await?;
        let state = store::state(&mut tx).await?;
        match state.username.as_deref() {
            Some(owner) if owner != credentials.username => {
                return Err(ClientError::invalid(
                    ErrorCode::Forbidden,
                    format!("this database belongs to user {owner:?}, not {:?}", credentials.username),
                ));
            }
            Some(_) => {}
            None => store::set_username(&mut tx, &credentials.username).await?,
        }
        tx.commit().await?;
        let device_id =
            Uuid::parse_str(&state.device_id).map_err(|e| ClientError::Protocol(format!("stored device id: {e}")))?;
        let rng = Mutex::new(options.retry.rng());
        Ok(Client { db, transport, credentials, options, device_id, rng, sync_lock: tokio::sync::Mutex::new(()) })
    }

    /// Closes the database (waits for its connection to finish).
    pub async fn close(self) {
        self.db.close().await;
    }

    /// This device's id (made on first open, registered on first sync).
    pub fn device_id(&self) -> Uuid {
        self.device_id
    }

    // ----- local edits -------------------------------------------------------

    /// Creates a record with a client-made id.
    pub async fn create(&self, table: Table, id: Uuid, fields: Map<String, Value>) -> Result<Op, ClientError> {
        if !table.is_writable() {
            return Err(ClientError::invalid(ErrorCode::UnknownTable, format!("{table} is read-only for clients")));
        }
        let kind = OpKind::Create { table: table.as_str().into(), id: id.to_string(), fields };
        self.enqueue(table, id, |_| Ok(kind)).await
    }

    /// Changes some fields of a record (a patch); `base_rev` is the replica's rev.
    pub async fn update(&self, table: Table, id: Uuid, fields: Map<String, Value>) -> Result<Op, ClientError> {
        merge::check_patch(table, &fields)
            .map_err(|(code, field)| ClientError::invalid(code, format!("{field} can not be changed by an update")))?;
        if table.is_append_only() {
            return Err(ClientError::invalid(
                ErrorCode::AppendOnly,
                format!("{table} records can be created, not changed"),
            ));
        }
        self.enqueue(table, id, |base| {
            Ok(OpKind::Update { table: table.as_str().into(), id: id.to_string(), base_rev: base.rev, fields })
        })
        .await
    }

    /// Moves a case from `from` to `to`. Checked here against the lifecycle table
    /// (and the role, once known from a login); the server checks the rest, and
    /// answers `conflict` when the case is no longer in `from`.
    pub async fn transition(
        &self,
        id: Uuid,
        from: CaseStatus,
        to: CaseStatus,
        note: Option<&str>,
    ) -> Result<Op, ClientError> {
        let Some(row) = lifecycle::transition(from, to) else {
            return Err(ClientError::invalid(
                ErrorCode::InvalidTransition,
                format!("no transition from {from} to {to}"),
            ));
        };
        let role = {
            let mut conn = self.db.acquire().await?;
            store::state(&mut conn).await?.role.as_deref().and_then(Role::parse)
        };
        if let Some(role) = role.filter(|r| !row.roles.contains(r)) {
            return Err(ClientError::invalid(
                ErrorCode::TransitionForbidden,
                format!("the role {role} may not move a case from {from} to {to}"),
            ));
        }
        if to == CaseStatus::Dismissed && note.is_none_or(|n| n.trim().is_empty()) {
            return Err(ClientError::invalid(ErrorCode::ReasonRequired, "dismissing a case needs a reason"));
        }
        let kind = OpKind::Transition {
            table: Table::Cases.as_str().into(),
            id: id.to_string(),
            from,
            to,
            note: note.map(str::to_owned),
            photos: Vec::new(),
        };
        self.enqueue(Table::Cases, id, |_| Ok(kind)).await
    }

    /// Tombstones a record (the server allows it for an own observation and an own
    /// case still `reported`).
    pub async fn delete(&self, table: Table, id: Uuid) -> Result<Op, ClientError> {
        if !table.is_writable() {
            return Err(ClientError::invalid(ErrorCode::UnknownTable, format!("{table} is read-only for clients")));
        }
        let kind = OpKind::Delete { table: table.as_str().into(), id: id.to_string() };
        self.enqueue(table, id, |_| Ok(kind)).await
    }

    /// Records an observation at `location` with a new id; `propose_case` (for
    /// example `{}` or `{"violation_type": "built_without_approval"}`) asks the
    /// server to open a case for it. Returns the observation's id and the op.
    pub async fn observe(
        &self,
        location: GeoPoint,
        note: &str,
        propose_case: Option<Map<String, Value>>,
    ) -> Result<(Uuid, Op), ClientError> {
        let location =
            location.validated().map_err(|e| ClientError::invalid(ErrorCode::CoordinateOutOfRange, e.to_string()))?;
        let id = Uuid::now_v7();
        let mut fields = Map::new();
        fields.insert("location".into(), serde_json::to_value(location)?);
        fields.insert("note".into(), Value::String(note.to_owned()));
        fields.insert("observed_at".into(), Value::String(chrono::Utc::now().to_rfc3339()));
        if let Some(p) = propose_case {
            fields.insert("propose_case".into(), Value::Object(p));
        }
        let op = self.create(Table::Observations, id, fields).await?;
        Ok((id, op))
    }

    /// One edit: seq, stamp, outbox and replica in one transaction.
    async fn enqueue(
        &self,
        table: Table,
        id: Uuid,
        kind: impl FnOnce(&Base) -> Result<OpKind, ClientError>,
    ) -> Result<Op, ClientError> {
        let (table, id) = (table.as_str(), id.to_string());
        let mut tx = self.db.begin_with("BEGIN IMMEDIATE").await?;
        let base = store::base(&mut tx, table, &id).await?;
        let kind = kind(&base)?;
        let (seq, stamp) = store::next_op_slot(&mut tx, (self.options.wall_clock)()).await?;
        let op = Op { op_id: Uuid::now_v7(), seq, hlc: stamp.to_string(), kind };
        store::outbox_insert(&mut tx, &op, table, &id).await?;
        store::refresh_visible(&mut tx, table, &id).await?;
        tx.commit().await?;
        Ok(op)
    }

    // ----- reading the local state ---------------------------------------------

    /// A record of the replica, if the app can see it.
    pub async fn get(&self, table: Table, id: Uuid) -> Result<Option<Record>, ClientError> {
        let mut conn = self.db.acquire().await?;
        let id = id.to_string();
        Ok(store::visible(&mut conn, table.as_str(), &id).await?.map(|(rev, data, pending)| Record {
            table: table.as_str().into(),
            id,
            rev,
            data,
            pending,
        }))
    }

    /// Every visible record of a table, by id.
    pub async fn records(&self, table: Table) -> Result<Vec<Record>, ClientError> {
        let mut conn = self.db.acquire().await?;
        Ok(store::visible_all(&mut conn, table.as_str())
            .await?
            .into_iter()
            .map(|(id, rev, data, pending)| Record { table: table.as_str().into(), id, rev, data, pending })
            .collect())
    }

    /// The ops waiting to be pushed, in `seq` order.
    pub async fn outbox(&self) -> Result<Vec<Op>, ClientError> {
        let mut conn = self.db.acquire().await?;
        let batch = store::outbox_batch(&mut conn, usize::MAX).await?;
        batch.iter().map(|q| Ok(serde_json::from_str(&q.op)?)).collect()
    }

    /// How many ops wait to be pushed.
    pub async fn outbox_len(&self) -> Result<u64, ClientError> {
        let mut conn = self.db.acquire().await?;
        store::outbox_len(&mut conn).await
    }

    /// The pull cursor (`None` before the first pull).
    pub async fn cursor(&self) -> Result<Option<String>, ClientError> {
        let mut conn = self.db.acquire().await?;
        Ok(store::state(&mut conn).await?.pull_cursor)
    }

    /// Results not yet acknowledged that the user should see, in `seq` order.
    pub async fn results(&self) -> Result<Vec<ReportedResult>, ClientError> {
        let mut conn = self.db.acquire().await?;
        store::logged_results(&mut conn)
            .await?
            .into_iter()
            .map(|(op_id, seq, status, op, result, received_at)| {
                Ok(ReportedResult {
                    op_id: Uuid::parse_str(&op_id).map_err(|e| ClientError::Protocol(e.to_string()))?,
                    seq: u64::try_from(seq).unwrap_or(0),
                    status,
                    op: serde_json::from_str(&op)?,
                    result: serde_json::from_str(&result)?,
                    received_at,
                })
            })
            .collect()
    }

    /// Marks a result as shown; returns whether there was one.
    pub async fn acknowledge(&self, op_id: Uuid) -> Result<bool, ClientError> {
        let mut conn = self.db.acquire().await?;
        store::acknowledge(&mut conn, &op_id.to_string()).await
    }

    // ----- sync ----------------------------------------------------------------

    /// Pushes the outbox in `seq` order, then pulls until `has_more` is false.
    ///
    /// On an error the work done so far stays done (settled ops, saved pages);
    /// calling again continues.
    pub async fn sync(&self) -> Result<SyncReport, ClientError> {
        let _one = self.sync_lock.lock().await;
        let mut report = SyncReport::default();
        self.push_outbox(&mut report).await?;
        self.pull_changes(&mut report).await?;
        Ok(report)
    }

    /// Only the push half of [`Client::sync`].
    pub async fn push(&self) -> Result<SyncReport, ClientError> {
        let _one = self.sync_lock.lock().await;
        let mut report = SyncReport::default();
        self.push_outbox(&mut report).await?;
        Ok(report)
    }

    /// Only the pull half of [`Client::sync`].
    pub async fn pull(&self) -> Result<SyncReport, ClientError> {
        let _one = self.sync_lock.lock().await;
        let mut report = SyncReport::default();
        self.pull_changes(&mut report).await?;
        Ok(report)
    }

    async fn push_outbox(&self, report: &mut SyncReport) -> Result<(), ClientError> {
        let mut batch_size = self.options.push_batch.clamp(1, MAX_PUSH_BATCH);
        loop {
            let batch = {
                let mut conn = self.db.acquire().await?;
                store::outbox_batch(&mut conn, batch_size).await?
            };
            if batch.is_empty() {
                return Ok(());
            }
            let ops = batch.iter().map(|q| serde_json::from_str(&q.op)).collect::<Result<Vec<Value>, _>>()?;
            let body = json!({"device_id": self.device_id, "ops": ops});
            let response = match self.call("/api/v1/sync/push", body, report).await {
                Err(ClientError::Api { status: 413, details, .. }) if batch_size > 1 => {
                    let max = details.get("max_batch").and_then(Value::as_u64).and_then(|m| usize::try_from(m).ok());
                    batch_size = max.filter(|m| (1..batch_size).contains(m)).unwrap_or(batch_size / 2);
                    continue;
                }
                other => other?,
            };
            report.push_batches += 1;
            if self.settle(&batch, &response, report).await? == 0 {
                return Err(ClientError::Protocol("the push response has a result for none of the ops sent".into()));
            }
        }
    }

    /// Applies a push response: one transaction for the whole batch.
    async fn settle(&self, batch: &[Queued], response: &Value, report: &mut SyncReport) -> Result<usize, ClientError> {
        let results = response
            .get("results")
            .and_then(Value::as_array)
            .ok_or_else(|| ClientError::Protocol("the push response has no results".into()))?;
        let by_id: HashMap<&str, &Queued> = batch.iter().map(|q| (q.op_id.as_str(), q)).collect();
        let mut settled = 0;
        let mut tx = self.db.begin_with("BEGIN IMMEDIATE").await?;
        for raw in results {
            let Some(queued) = raw.get("op_id").and_then(Value::as_str).and_then(|id| by_id.get(id)) else {
                continue;
            };
            let status = raw.get("status").and_then(Value::as_str).unwrap_or("").to_owned();
            let result: OpResult = serde_json::from_value(raw.clone())?;
            let op: Op = serde_json::from_str(&queued.op)?;
            store::outbox_remove(&mut tx, &queued.op_id).await?;
            let mut base = store::base(&mut tx, &queued.table, &queued.record_id).await?;
            match status.as_str() {
                "applied" | "duplicate" | "merged" => {
                    // The op's effect is on the server: fold it into the confirmed state.
                    let mut record = store::apply_op(base.record.take(), &op.kind);
                    if let (Some(r), Some(overridden)) = (record.as_mut(), result.overridden.as_ref()) {
                        r.extend(overridden.clone());
                    }
                    base.record = record;
                    if let Some(rev) = result.rev {
                        base.rev = Some(base.rev.map_or(rev, |old| old.max(rev)));
                    }
                    if status == "merged" {
                        store::log_result(&mut tx, queued, &status, raw).await?;
                    }
                }
                "conflict" => {
                    // The server's word on the record (status, rev) is newer than ours.
                    if let (Some(r), Some(Value::Object(server))) =
                        (base.record.as_mut(), result.server_record.as_ref())
                    {
                        r.extend(
                            server.iter().filter(|(k, _)| k.as_str() != "rev").map(|(k, v)| (k.clone(), v.clone())),
                        );
                        if let Some(rev) = server.get("rev").and_then(Value::as_u64) {
                            base.rev = Some(rev);
                        }
                    }
                    store::log_result(&mut tx, queued, &status, raw).await?;
                }
                _ => store::log_result(&mut tx, queued, &status, raw).await?,
            }
            store::set_base(&mut tx, &queued.table, &queued.record_id, &base).await?;
            match status.as_str() {
                "applied" => report.applied += 1,
                "duplicate" => report.duplicate += 1,
                "merged" => report.merged += 1,
                "conflict" => report.conflict += 1,
                "rejected" => report.rejected += 1,
                _ => report.unknown += 1,
            }
            settled += 1;
        }
        if let Some(ms) = server_ms(response) {
            store::observe_server_time(&mut tx, ms, (self.options.wall_clock)()).await?;
        }
        tx.commit().await?;
        Ok(settled)
    }

    async fn pull_changes(&self, report: &mut SyncReport) -> Result<(), ClientError> {
        let mut reset = false;
        loop {
            let cursor = {
                let mut conn = self.db.acquire().await?;
                store::state(&mut conn).await?.pull_cursor
            };
            let body = json!({"cursor": cursor, "limit": self.options.pull_limit});
            let page = match self.call("/api/v1/sync/pull", body, report).await {
                Err(ClientError::Api { code: ErrorCode::InvalidCursor, .. }) if !reset && cursor.is_some() => {
                    // The server does not know our cursor (its data was reset): pull everything again.
                    reset = true;
                    let mut tx = self.db.begin_with("BEGIN IMMEDIATE").await?;
                    store::set_cursor(&mut tx, None).await?;
                    store::reset_bases(&mut tx).await?;
                    tx.commit().await?;
                    continue;
                }
                other => other?,
            };
            let page: crate::sync::PullResponse = serde_json::from_value(page)?;
            let mut tx = self.db.begin_with("BEGIN IMMEDIATE").await?;
            for change in &page.changes {
                let current = store::base(&mut tx, &change.table, &change.id).await?;
                let base = match change.op {
                    crate::sync::ChangeOp::Upsert => {
                        if current.rev.is_some_and(|r| r > change.rev) {
                            continue;
                        }
                        let Some(Value::Object(record)) = change.record.clone() else {
                            return Err(ClientError::Protocol(format!(
                                "upsert of {}/{} without a record",
                                change.table, change.id
                            )));
                        };
                        Base { rev: Some(change.rev), record: Some(record) }
                    }
                    crate::sync::ChangeOp::Delete | crate::sync::ChangeOp::Evict => Base::default(),
                    crate::sync::ChangeOp::Unknown => continue,
                };
                store::set_base(&mut tx, &change.table, &change.id, &base).await?;
                report.pulled += 1;
            }
            store::set_cursor(&mut tx, Some(&page.cursor)).await?;
            if let Ok(ms) = u64::try_from(page.server_time.timestamp_millis()) {
                store::observe_server_time(&mut tx, ms, (self.options.wall_clock)()).await?;
            }
            tx.commit().await?;
            report.pull_pages += 1;
            if !page.has_more {
                return Ok(());
            }
            if page.changes.is_empty() && cursor.as_deref() == Some(page.cursor.as_str()) {
                return Err(ClientError::Protocol("the pull has more but its cursor does not move".into()));
            }
        }
    }

    // ----- HTTP, sessions and retries ----------------------------------------------

    fn rng(&self) -> MutexGuard<'_, StdRng> {
        self.rng.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Sends a request, retrying network errors, 408, 429 and 5xx with backoff.
    /// Returns the first response that is not retried.
    async fn send(&self, request: Request, report: &mut SyncReport) -> Result<Response, ClientError> {
        let policy = &self.options.retry;
        let mut slept = Duration::ZERO;
        let mut attempt: u32 = 0;
        loop {
            report.requests += 1;
            attempt += 1;
            let (retry_after, last) = match self.transport.send(request.clone()).await {
                Ok(r) if retryable_status(r.status) => {
                    (r.retry_after, format!("HTTP {} {}", r.status, r.error_code().map(|c| c.as_str()).unwrap_or("")))
                }
                Ok(r) => return Ok(r),
                Err(e) => (None, e.to_string()),
            };
            if attempt >= policy.max_attempts.max(1) {
                return Err(ClientError::RetriesExhausted { attempts: attempt, last });
            }
            let delay = policy.delay(&mut *self.rng(), attempt - 1, retry_after);
            if slept + delay > policy.max_elapsed {
                return Err(ClientError::RetriesExhausted { attempts: attempt, last });
            }
            slept += delay;
            report.retries += 1;
            self.options.sleeper.sleep(delay).await;
        }
    }

    /// An authenticated `POST`; a 401 renews the session and repeats the request.
    async fn call(&self, path: &str, body: Value, report: &mut SyncReport) -> Result<Value, ClientError> {
        let mut renewals = 0;
        loop {
            let token = self.session(report).await?;
            let response = self.send(Request::post(path, body.clone()).with_bearer(token), report).await?;
            if response.is_success() {
                return Ok(response.body);
            }
            if response.status == 401 && renewals < 2 {
                renewals += 1;
                // First a refresh; if that is not enough, a password login.
                self.renew_session(renewals > 1, report).await?;
                continue;
            }
            if response.error_code() == Some(ErrorCode::UnknownDevice) && renewals < 2 {
                // The server does not know the device (its data was reset): register it again.
                renewals += 2;
                let mut conn = self.db.acquire().await?;
                store::set_device_registered(&mut conn, false).await?;
                store::clear_session(&mut conn).await?;
                continue;
            }
            return Err(api_error(response));
        }
    }

    /// The access token, logging in (and registering the device) when there is none.
    async fn session(&self, report: &mut SyncReport) -> Result<String, ClientError> {
        let state = {
            let mut conn = self.db.acquire().await?;
            store::state(&mut conn).await?
        };
        if let (true, Some(token)) = (state.device_registered, state.access_token) {
            return Ok(token);
        }
        if !state.device_registered {
            let pair = self.password_login(None, report).await?;
            let body = json!({
                "device_id": self.device_id,
                "name": self.options.device_name,
                "platform": self.options.platform,
                "app_version": self.options.app_version,
            });
            let response =
                self.send(Request::post("/api/v1/devices", body).with_bearer(pair.access_token), report).await?;
            if !response.is_success() {
                return Err(api_error(response));
            }
            let mut conn = self.db.acquire().await?;
            store::set_device_registered(&mut conn, true).await?;
        }
        let pair = self.password_login(Some(self.device_id), report).await?;
        let mut conn = self.db.acquire().await?;
        let user = pair.user.as_ref();
        store::save_session(
            &mut conn,
            &pair.access_token,
            &pair.refresh_token,
            user.and_then(|u| u.id.as_deref()),
            user.and_then(|u| u.role.as_deref()),
        )
        .await?;
        Ok(pair.access_token)
    }

    async fn password_login(&self, device: Option<Uuid>, report: &mut SyncReport) -> Result<TokenPair, ClientError> {
        let body = json!({
            "username": self.credentials.username,
            "password": self.credentials.password,
            "device_id": device,
        });
        let response = self.send(Request::post("/api/v1/auth/login", body), report).await?;
        if !response.is_success() {
            return Err(api_error(response));
        }
        report.logins += 1;
        Ok(serde_json::from_value(response.body)?)
    }

    /// Rotates the refresh token; the new pair is saved before it is used. When
    /// the refresh is refused (expired, revoked, reused) or `full` is asked, the
    /// tokens are dropped so that the next request logs in with the password.
    async fn renew_session(&self, full: bool, report: &mut SyncReport) -> Result<(), ClientError> {
        let refresh = {
            let mut conn = self.db.acquire().await?;
            store::state(&mut conn).await?.refresh_token
        };
        if let Some(refresh) = refresh.filter(|_| !full) {
            let response =
                self.send(Request::post("/api/v1/auth/refresh", json!({"refresh_token": refresh})), report).await?;
            if response.is_success() {
                let pair: TokenPair = serde_json::from_value(response.body)?;
                let mut conn = self.db.acquire().await?;
                store::save_session(&mut conn, &pair.access_token, &pair.refresh_token, None, None).await?;
                report.refreshes += 1;
                return Ok(());
            }
            if response.status != 401 {
                return Err(api_error(response));
            }
        }
        let mut conn = self.db.acquire().await?;
        store::clear_session(&mut conn).await
    }
}

fn retryable_status(status: u16) -> bool {
    status == 408 || status == 429 || (500..600).contains(&status)
}

fn api_error(response: Response) -> ClientError {
    let detail = response.body.get("error");
    ClientError::Api {
        status: response.status,
        code: response.error_code().unwrap_or(ErrorCode::Unknown),
        message: detail.and_then(|d| d.get("message")).and_then(Value::as_str).unwrap_or("").to_owned(),
        details: detail.and_then(|d| d.get("details")).cloned().unwrap_or(Value::Null),
    }
}

fn server_ms(response: &Value) -> Option<u64> {
    let time = response.get("server_time")?.as_str()?;
    let parsed = chrono::DateTime::parse_from_rfc3339(time).ok()?;
    u64::try_from(parsed.timestamp_millis()).ok()
}
