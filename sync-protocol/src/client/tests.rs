//! Unit tests against an in-memory fake server (no network, no sleeping).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::*;
use crate::Hlc;
use crate::sync::{Op, OpKind};

fn map(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        other => panic!("{other}"),
    }
}

#[derive(Clone, Debug)]
struct Rec {
    rev: u64,
    seq: u64,
    data: Map<String, Value>,
    deleted: bool,
    evicted: bool,
}

#[derive(Default)]
struct FakeState {
    seq: u64,
    records: BTreeMap<(String, String), Rec>,
    results: HashMap<String, Value>,
    effects: HashMap<String, u32>,
    access: HashSet<String>,
    refresh: HashMap<String, bool>,
    revoked: bool,
    tokens: u64,
    devices: HashSet<String>,
    max_batch: Option<usize>,
    requests: Vec<String>,
}

/// A small landpatrol server: auth with rotating refresh tokens, exactly-once
/// push, paged pull.
#[derive(Default)]
struct Fake {
    state: Mutex<FakeState>,
}

fn error(status: u16, code: &str) -> Response {
    Response::json(status, json!({"error": {"code": code, "message": code, "details": {}}}))
}

impl FakeState {
    fn pair(&mut self) -> Value {
        self.tokens += 1;
        let (access, refresh) = (format!("at{}", self.tokens), format!("rt{}", self.tokens));
        self.access.insert(access.clone());
        self.refresh.insert(refresh.clone(), false);
        json!({"access_token": access, "refresh_token": refresh, "user": {"id": "u1", "role": "inspector"}})
    }

    fn bump(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    fn put(&mut self, table: &str, id: &str, data: Map<String, Value>) {
        let seq = self.bump();
        let key = (table.to_owned(), id.to_owned());
        let rev = self.records.get(&key).map_or(1, |r| r.rev + 1);
        self.records.insert(key, Rec { rev, seq, data, deleted: false, evicted: false });
    }

    fn apply(&mut self, op: &Op) -> Value {
        let id = op.op_id;
        *self.effects.entry(id.to_string()).or_default() += 1;
        let key = (op.kind.table().unwrap_or("").to_owned(), op.kind.id().unwrap_or("").to_owned());
        let seq = self.bump();
        match &op.kind {
            OpKind::Create { fields, .. } if fields.contains_key("future") => json!({"op_id": id, "status": "queued"}),
            OpKind::Create { fields, .. } => {
                let mut data = fields.clone();
                data.insert("id".into(), json!(key.1));
                data.insert("server_made".into(), json!(true));
                let rec = Rec { rev: 1, seq, data, deleted: false, evicted: false };
                self.records.insert(key, rec);
                json!({"op_id": id, "status": "applied", "rev": 1})
            }
            OpKind::Update { fields, .. } if fields.contains_key("poison") => {
                json!({"op_id": id, "status": "rejected", "error": {"code": "validation_failed", "message": "poison"}})
            }
            OpKind::Update { fields, .. } => match self.records.get_mut(&key) {
                Some(r) => {
                    r.data.extend(fields.clone());
                    r.rev += 1;
                    r.seq = seq;
                    json!({"op_id": id, "status": "applied", "rev": r.rev})
                }
                None => json!({"op_id": id, "status": "rejected", "error": {"code": "not_found", "message": "x"}}),
            },
            OpKind::Transition { from, to, .. } => match self.records.get_mut(&key) {
                Some(r) if r.data.get("status") == Some(&json!(from.as_str())) => {
                    r.data.insert("status".into(), json!(to.as_str()));
                    r.rev += 1;
                    r.seq = seq;
                    json!({"op_id": id, "status": "applied", "rev": r.rev})
                }
                Some(r) => json!({"op_id": id, "status": "conflict",
                    "server_record": {"id": key.1, "status": r.data["status"], "rev": r.rev}}),
                None => json!({"op_id": id, "status": "rejected", "error": {"code": "not_found", "message": "x"}}),
            },
            OpKind::Delete { .. } => match self.records.get_mut(&key) {
                Some(r) => {
                    r.deleted = true;
                    r.rev += 1;
                    r.seq = seq;
                    json!({"op_id": id, "status": "applied", "rev": r.rev})
                }
                None => json!({"op_id": id, "status": "rejected", "error": {"code": "not_found", "message": "x"}}),
            },
            _ => json!({"op_id": id, "status": "rejected", "error": {"code": "unknown_op", "message": "x"}}),
        }
    }

    fn handle(&mut self, req: &Request) -> Response {
        self.requests.push(req.path.clone());
        let body = req.body.clone().unwrap_or(Value::Null);
        let authed = req.bearer.as_ref().is_some_and(|t| self.access.contains(t));
        match req.path.as_str() {
            "/api/v1/auth/login" => {
                if body["password"] != "pw" {
                    return error(401, "invalid_credentials");
                }
                if let Some(d) = body["device_id"].as_str()
                    && !self.devices.contains(d)
                {
                    return error(422, "unknown_device");
                }
                Response::json(200, self.pair())
            }
            "/api/v1/auth/refresh" => {
                let token = body["refresh_token"].as_str().unwrap_or("").to_owned();
                match self.refresh.get(&token).copied() {
                    _ if self.revoked => error(401, "invalid_refresh_token"),
                    Some(false) => {
                        self.refresh.insert(token, true);
                        Response::json(200, self.pair())
                    }
                    Some(true) => {
                        self.revoked = true;
                        error(401, "refresh_token_reused")
                    }
                    None => error(401, "invalid_refresh_token"),
                }
            }
            _ if !authed => error(401, "invalid_token"),
            "/api/v1/devices" => {
                let new = self.devices.insert(body["device_id"].as_str().unwrap_or("").to_owned());
                Response::json(if new { 201 } else { 200 }, json!({"device_id": body["device_id"]}))
            }
            "/api/v1/sync/push" => {
                let ops: Vec<Op> = serde_json::from_value(body["ops"].clone()).unwrap();
                if let Some(max) = self.max_batch
                    && ops.len() > max
                {
                    let mut r = error(413, "batch_too_large");
                    r.body["error"]["details"] = json!({"max_batch": max});
                    return r;
                }
                let mut results = Vec::new();
                for op in &ops {
                    let key = op.op_id.to_string();
                    let result = match self.results.get(&key) {
                        Some(stored) if stored["status"] == "queued" => stored.clone(),
                        Some(stored) => {
                            let mut dup = stored.clone();
                            dup["status"] = json!("duplicate");
                            dup
                        }
                        None => {
                            let r = self.apply(op);
                            self.results.insert(key, r.clone());
                            r
                        }
                    };
                    results.push(result);
                }
                let last = ops.iter().map(|o| o.seq).max().unwrap_or(0);
                Response::json(
                    200,
                    json!({"results": results, "last_seq": last, "server_time": "2017-05-20T00:05:00Z"}),
                )
            }
            "/api/v1/sync/pull" => {
                let after: u64 = body["cursor"].as_str().map_or(0, |c| c.trim_start_matches('c').parse().unwrap());
                let limit = body["limit"].as_u64().unwrap() as usize;
                let mut rows: Vec<(&(String, String), &Rec)> =
                    self.records.iter().filter(|(_, r)| r.seq > after).collect();
                rows.sort_by_key(|(_, r)| r.seq);
                let has_more = rows.len() > limit;
                rows.truncate(limit);
                let cursor = rows.last().map_or(after, |(_, r)| r.seq);
                let changes: Vec<Value> = rows
                    .iter()
                    .map(|((t, id), r)| {
                        if r.evicted {
                            json!({"table": t, "id": id, "rev": 0, "op": "evict"})
                        } else if r.deleted {
                            json!({"table": t, "id": id, "rev": r.rev, "op": "delete"})
                        } else {
                            json!({"table": t, "id": id, "rev": r.rev, "op": "upsert", "record": r.data})
                        }
                    })
                    .collect();
                Response::json(
                    200,
                    json!({"changes": changes, "cursor": format!("c{cursor}"), "has_more": has_more,
                           "server_time": "2017-05-20T00:05:01Z"}),
                )
            }
            _ => error(404, "route_not_found"),
        }
    }
}

impl Fake {
    fn with<T>(&self, f: impl FnOnce(&mut FakeState) -> T) -> T {
        f(&mut self.state.lock().unwrap())
    }

    /// The server's records, visible ones only, as `(table, id) → (rev, data)`.
    fn view(&self) -> BTreeMap<(String, String), (u64, Map<String, Value>)> {
        self.with(|s| {
            s.records
                .iter()
                .filter(|(_, r)| !r.deleted && !r.evicted)
                .map(|(k, r)| (k.clone(), (r.rev, r.data.clone())))
                .collect()
        })
    }
}

impl Transport for Fake {
    fn send(&self, request: Request) -> BoxFuture<'_, Result<Response, TransportError>> {
        let response = self.with(|s| s.handle(&request));
        Box::pin(std::future::ready(Ok(response)))
    }
}

/// Forwards to `inner`, but the `n`-th request to `path` never returns after the
/// server processed it (the process is killed while waiting).
struct HangOn {
    inner: Arc<Fake>,
    path: &'static str,
    n: u64,
    seen: AtomicU64,
}

impl Transport for HangOn {
    fn send(&self, request: Request) -> BoxFuture<'_, Result<Response, TransportError>> {
        Box::pin(async move {
            let hang = request.path == self.path && self.seen.fetch_add(1, Ordering::SeqCst) + 1 == self.n;
            let response = self.inner.send(request).await;
            if hang {
                std::future::pending::<()>().await;
            }
            response
        })
    }
}

struct Env {
    dir: tempfile::TempDir,
    fake: Arc<Fake>,
    sleeper: Arc<RecordingSleeper>,
}

impl Env {
    fn new() -> Self {
        Self { dir: tempfile::tempdir().unwrap(), fake: Arc::new(Fake::default()), sleeper: Arc::default() }
    }

    fn options(&self) -> ClientOptions {
        ClientOptions {
            retry: RetryPolicy { max_attempts: 5, seed: Some(7), ..RetryPolicy::default() },
            sleeper: self.sleeper.clone(),
            ..ClientOptions::default()
        }
    }

    async fn open_via(&self, transport: Arc<dyn Transport>, options: ClientOptions) -> Client {
        let path = self.dir.path().join("client.sqlite");
        Client::open_with(path, transport, Credentials::new("inspector", "pw"), options).await.unwrap()
    }

    async fn open(&self) -> Client {
        self.open_via(self.fake.clone(), self.options()).await
    }

    /// Every op applied at most once, and these exactly once.
    fn assert_exactly_once(&self, ops: &[Op]) {
        self.fake.with(|s| {
            assert!(s.effects.values().all(|n| *n == 1), "{:?}", s.effects);
            for op in ops {
                assert_eq!(s.effects.get(&op.op_id.to_string()), Some(&1), "{op:?}");
            }
        });
    }
}

/// The client's replica as `(table, id) → (rev, data)`.
async fn replica(client: &Client) -> BTreeMap<(String, String), (u64, Map<String, Value>)> {
    let mut out = BTreeMap::new();
    for table in [Table::Cases, Table::Observations, Table::Inspections] {
        for r in client.records(table).await.unwrap() {
            assert!(!r.pending, "{r:?}");
            out.insert((r.table, r.id), (r.rev.unwrap(), r.data));
        }
    }
    out
}

fn point() -> GeoPoint {
    GeoPoint::wgs84(117.295129, 39.733503).unwrap()
}

fn seed_case(fake: &Fake, status: &str) -> Uuid {
    let id = Uuid::now_v7();
    fake.with(|s| s.put("cases", &id.to_string(), map(json!({"id": id, "status": status, "address": "old"}))));
    id
}

#[tokio::test]
async fn edits_are_durable_ordered_and_stamped_and_sync_exactly_once() {
    let env = Env::new();
    let case = seed_case(&env.fake, "rectifying");
    let client = env.open().await;
    client.sync().await.unwrap();
    let device = client.device_id();
    let (obs, _) = client.observe(point(), "彩钢房", Some(Map::new())).await.unwrap();
    client.update(Table::Cases, case, map(json!({"address": "北台村东"}))).await.unwrap();
    client.transition(case, CaseStatus::Rectifying, CaseStatus::Rectified, Some("done")).await.unwrap();
    let seen = client.get(Table::Cases, case).await.unwrap().unwrap();
    assert_eq!((seen.data["address"].as_str(), seen.data["status"].as_str()), (Some("北台村东"), Some("rectified")));
    assert!(seen.pending);
    assert_eq!(seen.rev, Some(1), "the local edit does not change the server's rev");
    drop(client); // killed before syncing

    let client = env.open().await;
    assert_eq!(client.device_id(), device, "the device id is kept");
    let ops = client.outbox().await.unwrap();
    assert_eq!(ops.iter().map(|o| o.seq).collect::<Vec<_>>(), [1, 2, 3]);
    let stamps: Vec<Hlc> = ops.iter().map(|o| o.parse_hlc().unwrap()).collect();
    assert!(stamps.windows(2).all(|w| w[0] < w[1]), "{stamps:?}");
    assert!(stamps.iter().all(|s| s.node() == device.to_string()));
    let OpKind::Update { base_rev, .. } = &ops[1].kind else { panic!("{:?}", ops[1]) };
    assert_eq!(*base_rev, Some(1));
    assert!(client.get(Table::Observations, obs).await.unwrap().is_some());

    let report = client.sync().await.unwrap();
    assert_eq!((report.applied, report.settled()), (3, 3), "{report:?}");
    assert_eq!(client.outbox_len().await.unwrap(), 0);
    env.assert_exactly_once(&ops);
    assert_eq!(replica(&client).await, env.fake.view(), "the replica converged to the server");
    let obs = client.get(Table::Observations, obs).await.unwrap().unwrap();
    assert_eq!(obs.data["server_made"], true, "the pull brought the server's state");
    // The next op's stamp is after everything, and seq goes on.
    let next = client.update(Table::Cases, case, map(json!({"address": "x"}))).await.unwrap();
    assert_eq!(next.seq, 4);
    assert!(next.parse_hlc().unwrap() > stamps[2]);
}

#[tokio::test]
async fn lost_responses_are_resent_with_the_same_op_ids_and_answered_duplicate() {
    let env = Env::new();
    let faulty = Arc::new(FaultyTransport::new(env.fake.clone(), 1).only_paths(&["/api/v1/sync/push"]));
    faulty.script([Some(Fault::DropResponse), Some(Fault::DropResponse)]);
    let client = env.open_via(faulty.clone(), env.options()).await;
    let mut ops = Vec::new();
    for i in 0..3 {
        ops.push(client.observe(point(), &format!("obs {i}"), None).await.unwrap().1);
    }
    let report = client.sync().await.unwrap();
    assert_eq!(faulty.stats().dropped_responses, 2);
    assert_eq!((report.duplicate, report.applied), (3, 0), "{report:?}");
    assert_eq!(report.retries, 2);
    assert_eq!(client.outbox_len().await.unwrap(), 0);
    env.assert_exactly_once(&ops);
    assert_eq!(replica(&client).await, env.fake.view());
}

#[tokio::test]
async fn a_sync_killed_mid_flight_loses_nothing_and_applies_nothing_twice() {
    for (path, n) in [("/api/v1/sync/push", 1), ("/api/v1/sync/push", 2), ("/api/v1/sync/pull", 2)] {
        let env = Env::new();
        for _ in 0..4 {
            seed_case(&env.fake, "reported");
        }
        let hang = Arc::new(HangOn { inner: env.fake.clone(), path, n, seen: AtomicU64::new(0) });
        let options = ClientOptions { push_batch: 2, pull_limit: 2, ..env.options() };
        let client = env.open_via(hang, options.clone()).await;
        let mut ops = Vec::new();
        for i in 0..5 {
            ops.push(client.observe(point(), &format!("obs {i}"), None).await.unwrap().1);
        }
        let cut = tokio::time::timeout(Duration::from_millis(300), client.sync()).await;
        assert!(cut.is_err(), "the sync hung on {path} #{n}");
        drop(client); // the process dies

        let client = env.open_via(env.fake.clone(), options).await;
        client.sync().await.unwrap();
        assert_eq!(client.outbox_len().await.unwrap(), 0);
        env.assert_exactly_once(&ops);
        assert_eq!(replica(&client).await, env.fake.view(), "{path} #{n}");
    }
}

#[tokio::test]
async fn conflicts_and_rejections_are_dropped_logged_and_undone_locally() {
    let env = Env::new();
    let case = seed_case(&env.fake, "rectifying");
    let client = env.open().await;
    client.sync().await.unwrap();
    // Meanwhile someone else finished the case.
    env.fake.with(|s| {
        let r = s.records.get_mut(&("cases".to_owned(), case.to_string())).unwrap();
        r.data.insert("status".into(), json!("rectified"));
        r.rev += 1;
    });
    let t = client.transition(case, CaseStatus::Rectifying, CaseStatus::Rectified, None).await.unwrap();
    let u = client.update(Table::Cases, case, map(json!({"poison": 1}))).await.unwrap();
    let ok = client.update(Table::Cases, case, map(json!({"address": "new"}))).await.unwrap();
    let report = client.sync().await.unwrap();
    assert_eq!((report.conflict, report.rejected, report.applied), (1, 1, 1), "{report:?}");
    let results = client.results().await.unwrap();
    assert_eq!(
        results.iter().map(|r| (r.op_id, r.status.as_str())).collect::<Vec<_>>(),
        [(t.op_id, "conflict"), (u.op_id, "rejected")]
    );
    assert_eq!(results[1].result.error.as_ref().unwrap().code, ErrorCode::ValidationFailed);
    assert_eq!(results[0].op, t);
    assert!(!results.iter().any(|r| r.op_id == ok.op_id));
    let seen = client.get(Table::Cases, case).await.unwrap().unwrap();
    assert!(!seen.data.contains_key("poison"), "the rejected patch no longer shows");
    assert_eq!(replica(&client).await, env.fake.view());
    assert!(client.acknowledge(t.op_id).await.unwrap());
    assert_eq!(client.results().await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_status_this_client_does_not_know_is_logged_not_resent() {
    let env = Env::new();
    let client = env.open().await;
    let op = client.create(Table::Observations, Uuid::now_v7(), map(json!({"future": true}))).await.unwrap();
    let report = client.sync().await.unwrap();
    assert_eq!(report.unknown, 1);
    assert_eq!(client.outbox_len().await.unwrap(), 0);
    let results = client.results().await.unwrap();
    assert_eq!((results[0].op_id, results[0].status.as_str()), (op.op_id, "queued"));
    assert_eq!(results[0].result.status, crate::sync::OpStatus::Unknown);
    assert!(client.records(Table::Observations).await.unwrap().is_empty(), "the server has no such record");
}

#[tokio::test]
async fn an_expired_access_token_is_refreshed_and_the_rotated_token_saved() {
    let env = Env::new();
    let client = env.open().await;
    let first = client.sync().await.unwrap();
    assert_eq!(first.logins, 2, "one login to register the device, one bound to it");
    env.fake.with(|s| s.access.clear());
    client.observe(point(), "a", None).await.unwrap();
    let report = client.sync().await.unwrap();
    assert_eq!((report.refreshes, report.logins, report.applied), (1, 0, 1), "{report:?}");
    drop(client);
    // The saved pair is the rotated one: it works after a restart, and so does its refresh.
    env.fake.with(|s| s.access.clear());
    let client = env.open().await;
    let report = client.sync().await.unwrap();
    assert_eq!((report.refreshes, report.logins), (1, 0), "{report:?}");
    assert_eq!(env.fake.with(|s| s.devices.len()), 1);
}

#[tokio::test]
async fn a_lost_refresh_response_ends_in_a_fresh_login_not_a_failure() {
    let env = Env::new();
    let faulty = Arc::new(FaultyTransport::new(env.fake.clone(), 1).only_paths(&["/api/v1/auth/refresh"]));
    let client = env.open_via(faulty.clone(), env.options()).await;
    client.sync().await.unwrap();
    env.fake.with(|s| s.access.clear());
    // The server rotates the token, the answer is lost: the retry presents a spent token.
    faulty.script([Some(Fault::DropResponse)]);
    let op = client.observe(point(), "a", None).await.unwrap().1;
    let report = client.sync().await.unwrap();
    assert!(env.fake.with(|s| s.revoked), "the reuse revoked the family");
    assert_eq!((report.refreshes, report.logins, report.applied), (0, 1, 1), "{report:?}");
    env.assert_exactly_once(&[op]);
}

#[tokio::test]
async fn offline_sync_backs_off_with_full_jitter_then_gives_up_keeping_the_outbox() {
    let env = Env::new();
    let faulty = Arc::new(FaultyTransport::new(env.fake.clone(), 1));
    faulty.set_offline(true);
    let client = env.open_via(faulty.clone(), env.options()).await;
    client.observe(point(), "a", None).await.unwrap();
    let err = client.sync().await.unwrap_err();
    assert!(matches!(err, ClientError::RetriesExhausted { attempts: 5, .. }), "{err}");
    assert!(err.is_retryable());
    let delays = env.sleeper.delays();
    assert_eq!(delays.len(), 4);
    for (n, d) in delays.iter().enumerate() {
        assert!(*d <= Duration::from_millis(250) * 2u32.pow(n as u32), "{n}: {d:?}");
    }
    assert_eq!(client.outbox_len().await.unwrap(), 1);
    faulty.set_offline(false);
    assert_eq!(client.sync().await.unwrap().applied, 1);

    // The delays add up to at most max_elapsed.
    let options = ClientOptions {
        retry: RetryPolicy {
            max_attempts: 1000,
            max_elapsed: Duration::from_secs(5),
            seed: Some(3),
            ..RetryPolicy::default()
        },
        ..env.options()
    };
    let sleeper = Arc::new(RecordingSleeper::default());
    let client = env.open_via(faulty.clone(), ClientOptions { sleeper: sleeper.clone(), ..options }).await;
    faulty.set_offline(true);
    client.observe(point(), "b", None).await.unwrap();
    assert!(client.sync().await.is_err());
    assert!(sleeper.delays().iter().sum::<Duration>() <= Duration::from_secs(5));
}

#[tokio::test]
async fn server_errors_are_retried_and_a_too_large_batch_is_split() {
    let env = Env::new();
    env.fake.with(|s| s.max_batch = Some(2));
    let faulty = Arc::new(FaultyTransport::new(env.fake.clone(), 9).server_errors(0.3));
    let client = env
        .open_via(
            faulty.clone(),
            ClientOptions {
                retry: RetryPolicy { max_attempts: 20, seed: Some(1), ..RetryPolicy::default() },
                ..env.options()
            },
        )
        .await;
    let mut ops = Vec::new();
    for i in 0..5 {
        ops.push(client.observe(point(), &format!("{i}"), None).await.unwrap().1);
    }
    let report = client.sync().await.unwrap();
    assert!(faulty.stats().injected_statuses > 0);
    assert_eq!(report.applied, 5);
    assert_eq!(report.push_batches, 3, "{report:?}");
    env.assert_exactly_once(&ops);
    let pushed = env.fake.with(|s| s.requests.iter().filter(|p| p.ends_with("push")).count());
    assert_eq!(pushed, 4, "one refused batch of 5, then 2 + 2 + 1");
}

#[tokio::test]
async fn pull_is_paged_resumes_from_its_cursor_and_applies_deletes_and_evictions() {
    let env = Env::new();
    let ids: Vec<Uuid> = (0..7).map(|_| seed_case(&env.fake, "registered")).collect();
    let faulty = Arc::new(FaultyTransport::new(env.fake.clone(), 1).only_paths(&["/api/v1/sync/pull"]));
    faulty.script([None, None, Some(Fault::DropRequest)]);
    let options =
        ClientOptions { pull_limit: 3, retry: RetryPolicy { max_attempts: 1, ..env.options().retry }, ..env.options() };
    let client = env.open_via(faulty.clone(), options.clone()).await;
    assert!(client.sync().await.is_err(), "the third page failed");
    assert_eq!(client.records(Table::Cases).await.unwrap().len(), 6, "two pages kept");
    let cursor = client.cursor().await.unwrap();
    drop(client);
    let client = env.open_via(faulty, options).await;
    assert_eq!(client.cursor().await.unwrap(), cursor);
    let report = client.sync().await.unwrap();
    assert_eq!((report.pulled, report.pull_pages), (1, 1), "resumed after the saved pages");
    env.fake.with(|s| {
        let seq = s.bump();
        let r = s.records.get_mut(&("cases".to_owned(), ids[0].to_string())).unwrap();
        (r.deleted, r.seq) = (true, seq);
        let seq = s.bump();
        let r = s.records.get_mut(&("cases".to_owned(), ids[1].to_string())).unwrap();
        (r.evicted, r.seq) = (true, seq);
    });
    client.sync().await.unwrap();
    assert!(client.get(Table::Cases, ids[0]).await.unwrap().is_none());
    assert!(client.get(Table::Cases, ids[1]).await.unwrap().is_none());
    assert_eq!(replica(&client).await, env.fake.view());
}

#[tokio::test]
async fn pending_edits_stay_visible_over_pulled_state() {
    let env = Env::new();
    let case = seed_case(&env.fake, "registered");
    let client = env.open().await;
    client.sync().await.unwrap();
    client.update(Table::Cases, case, map(json!({"address": "mine"}))).await.unwrap();
    env.fake.with(|s| {
        let mut data = s.records[&("cases".to_owned(), case.to_string())].data.clone();
        data.insert("description".into(), json!("theirs"));
        s.put("cases", &case.to_string(), data);
    });
    client.pull().await.unwrap();
    let seen = client.get(Table::Cases, case).await.unwrap().unwrap();
    assert_eq!((seen.rev, seen.pending), (Some(2), true));
    assert_eq!((seen.data["address"].as_str(), seen.data["description"].as_str()), (Some("mine"), Some("theirs")));
    client.sync().await.unwrap();
    assert_eq!(replica(&client).await, env.fake.view());
}

#[tokio::test]
async fn local_rules_refuse_what_the_server_would_reject() {
    let env = Env::new();
    let client = env.open().await;
    let id = Uuid::now_v7();
    let code = |r: Result<Op, ClientError>| r.unwrap_err().code();
    assert_eq!(
        code(client.update(Table::Cases, id, map(json!({"status": "closed"}))).await),
        Some(ErrorCode::StatusViaTransition)
    );
    assert_eq!(
        code(client.update(Table::Cases, id, map(json!({"case_number": "X"}))).await),
        Some(ErrorCode::ImmutableField)
    );
    assert_eq!(code(client.update(Table::Observations, id, Map::new()).await), Some(ErrorCode::AppendOnly));
    assert_eq!(code(client.create(Table::Towns, id, Map::new()).await), Some(ErrorCode::UnknownTable));
    assert_eq!(
        code(client.transition(id, CaseStatus::Closed, CaseStatus::Rectifying, None).await),
        Some(ErrorCode::InvalidTransition)
    );
    client.sync().await.unwrap(); // learns the role: inspector
    assert_eq!(
        code(client.transition(id, CaseStatus::Reported, CaseStatus::Registered, None).await),
        Some(ErrorCode::TransitionForbidden)
    );
    assert_eq!(client.outbox_len().await.unwrap(), 0, "nothing was queued");
    // Another user can not take over this device's file.
    let path = env.dir.path().join("client.sqlite");
    let err =
        Client::open_with(path, env.fake.clone(), Credentials::new("admin", "pw"), env.options()).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::Forbidden));
}

#[tokio::test]
async fn wrong_credentials_are_an_api_error_not_retried() {
    let env = Env::new();
    let path = env.dir.path().join("c.sqlite");
    let client =
        Client::open_with(path, env.fake.clone(), Credentials::new("inspector", "nope"), env.options()).await.unwrap();
    let err = client.sync().await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::InvalidCredentials));
    assert!(!err.is_retryable());
    assert!(env.sleeper.delays().is_empty());
}
