//! The many-device simulator: reference clients against a real server.
//!
//! Devices go offline, make edits (observations, some proposing cases; patrol
//! inspections; field edits and transitions on shared cases), come back in a
//! seeded random order, over a network that drops requests and drops responses
//! after the server committed. At the end everyone syncs until quiet and the
//! SYNC.md guarantees are checked:
//! 1. convergence: every replica equals the server's view of its user's scope;
//! 2. no loss: every op a device made has a stored result (applied, merged,
//!    conflict or rejected) and every outbox is empty;
//! 3. idempotency: every op took effect once (one stored result per op, one
//!    observation per observe, one case per proposal).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use landpatrol_sync::client::{Client, ClientOptions, Credentials, FaultyTransport, ReqwestTransport, RetryPolicy};
use landpatrol_sync::sync::Table;
use landpatrol_sync::{CaseStatus, Crs, GeoPoint};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::{DEMO_PASSWORD, TestApp};

/// What to simulate.
#[derive(Clone, Debug)]
pub struct SimConfig {
    pub devices: usize,
    pub rounds: usize,
    pub edits_per_round: usize,
    pub seed: u64,
    /// Share of requests lost before reaching the server.
    pub drop_requests: f64,
    /// Share of responses lost after the server committed.
    pub drop_responses: f64,
    /// Share of devices offline in a round.
    pub offline_share: f64,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            devices: 50,
            rounds: 4,
            edits_per_round: 3,
            seed: 2017,
            drop_requests: 0.1,
            drop_responses: 0.1,
            offline_share: 0.3,
        }
    }
}

/// What happened.
#[derive(Clone, Debug, Default)]
pub struct SimReport {
    pub ops: usize,
    pub observations: usize,
    pub proposals: usize,
    pub statuses: BTreeMap<String, usize>,
    pub dropped_requests: u64,
    pub dropped_responses: u64,
    pub sync_failures: usize,
    pub elapsed: Duration,
    pub converge_elapsed: Duration,
    pub quiet_after_passes: usize,
}

struct Device {
    client: Client,
    net: Arc<FaultyTransport<ReqwestTransport>>,
    user: String,
    town_point: (f64, f64),
    ops: Vec<Uuid>,
}

/// Towns the devices work in, with a point inside each (real village positions).
const TOWNS: [(&str, (f64, f64)); 4] = [
    ("120115001", (117.295129, 39.733503)),
    ("120115006", (117.341136, 39.557182)),
    ("120115002", (117.2915, 39.7165)),
    ("120115003", (117.3028, 39.6980)),
];

/// One user per device: in each town, inspectors who patrol it and officers of it.
async fn make_user(app: &TestApp, admin: &str, i: usize, seed: u64) -> (String, (f64, f64)) {
    let (town, point) = TOWNS[i % TOWNS.len()];
    let username = format!("sim{seed}-{i}");
    let body = if (i / TOWNS.len()).is_multiple_of(2) {
        json!({"username": username, "password": DEMO_PASSWORD, "role": "inspector", "patrol_towns": [town]})
    } else {
        json!({"username": username, "password": DEMO_PASSWORD, "role": "town_officer", "town": town})
    };
    let (status, resp) = app.post("/api/v1/users", Some(admin), body).await;
    assert!(status == 201 || resp["error"]["code"] == "username_taken", "{resp}");
    (username, point)
}

fn tracing_progress(message: &str) {
    if std::env::var_os("SIM_PROGRESS").is_some() {
        eprintln!("[sim] {message}");
    }
}

fn fail(message: String) -> ! {
    panic!("simulation check failed: {message}")
}

/// Makes one random edit; `false` when the client refused it locally (a step
/// the role may not make, no open case), so the caller draws again.
async fn edit(d: &mut Device, rng: &mut StdRng, n: usize, report: &mut SimReport) -> bool {
    let roll: f64 = rng.r#gen();
    let jitter = |rng: &mut StdRng| (rng.gen_range(-0.004..0.004), rng.gen_range(-0.004..0.004));
    let result = if roll < 0.4 {
        let (dx, dy) = jitter(rng);
        let point = GeoPoint {
            lon: d.town_point.0 + dx,
            lat: d.town_point.1 + dy,
            crs: Crs::Wgs84,
            accuracy_m: Some(6.0),
            mock: false,
        };
        let propose = rng.gen_bool(0.2);
        let r = d
            .client
            .observe(
                point,
                &format!("sim observation {n}"),
                propose.then(|| {
                    serde_json::from_value(json!({"violation_type": "built_without_approval"})).unwrap_or_default()
                }),
            )
            .await
            .map(|(_, op)| op);
        if r.is_ok() {
            report.observations += 1;
            if propose {
                report.proposals += 1;
            }
        }
        r
    } else if roll < 0.55 {
        let (dx, dy) = jitter(rng);
        let fields: Map<String, Value> = serde_json::from_value(json!({
            "kind": "patrol", "note": format!("sim patrol {n}"),
            "location": {"lon": d.town_point.0 + dx, "lat": d.town_point.1 + dy}}))
        .unwrap_or_default();
        d.client.create(Table::Inspections, Uuid::now_v7(), fields).await
    } else {
        let cases = d.client.records(Table::Cases).await.unwrap_or_default();
        let open: Vec<_> = cases
            .into_iter()
            .filter(|c| {
                matches!(c.data.get("status").and_then(Value::as_str), Some("reported" | "registered" | "rectifying"))
            })
            .collect();
        let Some(case) = open.choose(rng).cloned() else { return false };
        let Ok(id) = Uuid::parse_str(&case.id) else { return false };
        if roll < 0.85 {
            let field = ["description", "address"][rng.gen_range(0..2)];
            let mut fields = Map::new();
            fields.insert(field.into(), json!(format!("{} edit {n}", d.user)));
            d.client.update(Table::Cases, id, fields).await
        } else {
            let status = case.data.get("status").and_then(Value::as_str).and_then(CaseStatus::parse);
            let step = match status {
                Some(CaseStatus::Reported) if case.data.get("source") != Some(&json!("satellite")) => {
                    Some(CaseStatus::Registered)
                }
                Some(CaseStatus::Registered) => Some(CaseStatus::Rectifying),
                Some(CaseStatus::Rectifying) => Some(CaseStatus::Rectified),
                _ => None,
            };
            let (Some(from), Some(to)) = (status, step) else { return false };
            d.client.transition(id, from, to, Some("sim")).await
        }
    };
    // Edits the client refuses locally (role, lifecycle) are never queued.
    match result {
        Ok(op) => {
            d.ops.push(op.op_id);
            report.ops += 1;
            true
        }
        Err(_) => false,
    }
}

async fn full_server_view(app: &TestApp, user: &str) -> BTreeMap<(String, String), (u64, Value)> {
    let token = app.token(user).await;
    let mut cursor: Option<String> = None;
    let mut view = BTreeMap::new();
    loop {
        let (status, page) =
            app.post("/api/v1/sync/pull", Some(&token), json!({"cursor": cursor, "limit": 5000})).await;
        assert_eq!(status, 200, "{page}");
        for c in page["changes"].as_array().into_iter().flatten() {
            let key = (c["table"].as_str().unwrap_or("").to_owned(), c["id"].as_str().unwrap_or("").to_owned());
            match c["op"].as_str() {
                Some("upsert") => {
                    view.insert(key, (c["rev"].as_u64().unwrap_or(0), c["record"].clone()));
                }
                _ => {
                    view.remove(&key);
                }
            }
        }
        cursor = page["cursor"].as_str().map(str::to_owned);
        if page["has_more"] != json!(true) {
            return view;
        }
    }
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    let db = &app.state.db;
    let row = db.query_one_raw(Statement::from_string(db.get_database_backend(), sql.to_owned())).await.ok().flatten();
    row.and_then(|r| r.try_get_by_index::<i64>(0).ok()).unwrap_or(-1)
}

/// Runs the simulation against `app` (with the demo data loaded) and checks the
/// guarantees; panics with the first violation.
pub async fn run(app: &TestApp, cfg: &SimConfig) -> SimReport {
    let started = Instant::now();
    let mut rng = StdRng::seed_from_u64(cfg.seed);
    let dir = tempfile::tempdir().expect("temp dir");
    let mut report = SimReport::default();
    let mut devices = Vec::with_capacity(cfg.devices);
    let admin = app.token("admin").await;
    for i in 0..cfg.devices {
        let (user, town_point) = make_user(app, &admin, i, cfg.seed).await;
        let transport = ReqwestTransport::new(&app.base).expect("transport");
        let net = Arc::new(
            FaultyTransport::new(transport, cfg.seed.wrapping_add(i as u64))
                .drop_requests(cfg.drop_requests)
                .drop_responses(cfg.drop_responses),
        );
        let options = ClientOptions {
            retry: RetryPolicy {
                max_attempts: 40,
                base_delay: Duration::from_millis(1),
                max_delay: Duration::from_millis(20),
                max_elapsed: Duration::from_secs(30),
                seed: Some(cfg.seed ^ (i as u64)),
            },
            push_batch: 50,
            pull_limit: 200,
            device_name: format!("sim-{i}"),
            ..ClientOptions::default()
        };
        let client = Client::open_with(
            dir.path().join(format!("device-{i}.db")),
            net.clone(),
            Credentials::new(user.clone(), DEMO_PASSWORD),
            options,
        )
        .await
        .expect("client opens");
        devices.push(Device { client, net, user, town_point, ops: Vec::new() });
    }
    let mut order: Vec<usize> = (0..devices.len()).collect();
    for i in &order {
        if devices[*i].client.sync().await.is_err() {
            report.sync_failures += 1;
        }
    }
    let mut n = 0;
    tracing_progress(&format!(
        "{} devices opened and synced in {:.1} s",
        devices.len(),
        started.elapsed().as_secs_f64()
    ));
    for round in 0..cfg.rounds {
        for d in devices.iter_mut() {
            d.net.set_offline(rng.gen_bool(cfg.offline_share));
            for _ in 0..cfg.edits_per_round {
                for _ in 0..20 {
                    n += 1;
                    if edit(d, &mut rng, n, &mut report).await {
                        break;
                    }
                }
            }
        }
        order.shuffle(&mut rng);
        for i in &order {
            // Offline devices fail fast after their retries; their outbox waits.
            if devices[*i].client.sync().await.is_err() {
                report.sync_failures += 1;
            }
        }
        tracing_progress(&format!(
            "round {} done at {:.1} s ({} ops so far)",
            round + 1,
            started.elapsed().as_secs_f64(),
            report.ops
        ));
    }

    // Everyone back online; sync until quiet.
    let converge = Instant::now();
    for d in &devices {
        d.net.set_offline(false);
    }
    let mut quiet = 0;
    for pass in 1..=10 {
        order.shuffle(&mut rng);
        let mut moved = 0u64;
        for i in &order {
            let d = &devices[*i];
            match d.client.sync().await {
                Ok(r) => moved += r.settled() + r.pulled,
                Err(_) => {
                    report.sync_failures += 1;
                    moved += 1;
                }
            }
        }
        if moved == 0 {
            quiet = pass;
            break;
        }
    }
    report.converge_elapsed = converge.elapsed();
    report.quiet_after_passes = quiet;
    if quiet == 0 {
        fail("the devices did not become quiet within 10 passes".into());
    }

    // 2. No loss: every outbox empty, every op has a stored result.
    let mut all_ops = BTreeSet::new();
    for (i, d) in devices.iter().enumerate() {
        let left = d.client.outbox_len().await.unwrap_or(u64::MAX);
        if left != 0 {
            fail(format!("device {i} still has {left} ops in its outbox"));
        }
        all_ops.extend(d.ops.iter().copied());
    }
    let stored = count(app, "SELECT COUNT(*) FROM sync_ops").await;
    if usize::try_from(stored).unwrap_or(0) != all_ops.len() {
        fail(format!("{} ops were made but the server stored {stored} results", all_ops.len()));
    }
    for row in app
        .state
        .db
        .query_all_raw(Statement::from_string(
            app.state.db.get_database_backend(),
            "SELECT status, COUNT(*) FROM sync_ops GROUP BY status".to_owned(),
        ))
        .await
        .unwrap_or_default()
    {
        let status: String = row.try_get_by_index(0).unwrap_or_default();
        let n: i64 = row.try_get_by_index(1).unwrap_or(0);
        report.statuses.insert(status, usize::try_from(n).unwrap_or(0));
    }
    // 3. Idempotency: one observation per observe, one case per proposal.
    let observations = count(app, "SELECT COUNT(*) FROM observations WHERE note LIKE 'sim observation %'").await;
    if usize::try_from(observations).unwrap_or(0) != report.observations {
        fail(format!("{} observations made, {observations} on the server", report.observations));
    }
    let proposed = count(
        app,
        "SELECT COUNT(*) FROM observations WHERE note LIKE 'sim observation %' AND proposed_case_id IS NOT NULL",
    )
    .await;
    let proposed_cases = count(
        app,
        "SELECT COUNT(*) FROM cases WHERE id IN (SELECT proposed_case_id FROM observations WHERE note LIKE 'sim observation %')",
    )
    .await;
    if proposed != proposed_cases || usize::try_from(proposed).unwrap_or(0) != report.proposals {
        fail(format!("{} proposals, {proposed} linked, {proposed_cases} cases", report.proposals));
    }

    // 1. Convergence: every replica equals its user's view.
    let mut views = BTreeMap::new();
    for (i, d) in devices.iter().enumerate() {
        if !views.contains_key(&d.user) {
            views.insert(d.user.clone(), full_server_view(app, &d.user).await);
        }
        let view: BTreeMap<_, _> =
            views[&d.user].iter().filter(|((t, _), _)| t != "lifecycle").map(|(k, v)| (k.clone(), v.clone())).collect();
        let view = &view;
        let mut replica = BTreeMap::new();
        for table in [
            Table::Cases,
            Table::Inspections,
            Table::Observations,
            Table::Towns,
            Table::Campaigns,
            Table::Alerts,
            Table::Parcels,
            Table::Approvals,
        ] {
            for r in d.client.records(table).await.unwrap_or_default() {
                if r.pending {
                    fail(format!("device {i}: {} {} still pending", r.table, r.id));
                }
                replica.insert((r.table.clone(), r.id.clone()), (r.rev.unwrap_or(0), Value::Object(r.data)));
            }
        }
        if replica.len() != view.len() {
            let a: BTreeSet<_> = replica.keys().collect();
            let b: BTreeSet<_> = view.keys().collect();
            fail(format!(
                "device {i} ({}): {} records, server view {}; only on device: {:?}; only on server: {:?}",
                d.user,
                replica.len(),
                view.len(),
                a.difference(&b).take(3).collect::<Vec<_>>(),
                b.difference(&a).take(3).collect::<Vec<_>>()
            ));
        }
        for (key, (rev, record)) in view {
            match replica.get(key) {
                Some((r, data)) if r == rev && data == record => {}
                Some((r, data)) => {
                    fail(format!("device {i}: {key:?} rev {r} vs server {rev}\n device {data}\n server {record}"))
                }
                None => fail(format!("device {i}: {key:?} missing")),
            }
        }
    }
    for d in &devices {
        let s = d.net.stats();
        report.dropped_requests += s.dropped_requests;
        report.dropped_responses += s.dropped_responses;
    }
    report.elapsed = started.elapsed();
    report
}
