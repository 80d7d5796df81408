//! The reference client against the real server binary (feature `client`).
//!
//! Runs `landpatrol serve --demo` from `LANDPATROL_BIN`, by default
//! `<workspace>/target/debug/landpatrol` (build it with
//! `cargo build -p landpatrol-server`); without the binary the tests are skipped
//! with a message.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use landpatrol_sync::client::{
    Client, ClientError, ClientOptions, Credentials, FaultyTransport, RecordingSleeper, ReqwestTransport, RetryPolicy,
    Transport,
};
use landpatrol_sync::{CaseStatus, GeoPoint, Table};
use serde_json::{Map, Value, json};

const PASSWORD: &str = "landpatrol-demo";
/// A point in 海滨街道 (120115001), WGS-84.
const HAIBIN: (f64, f64) = (117.295129, 39.733503);

struct Server {
    child: Child,
    base_url: String,
    _data: tempfile::TempDir,
}

impl Server {
    /// Starts the server on a free port with the demo data, or `None` (after saying
    /// why) when there is no binary.
    fn start() -> Option<Server> {
        let bin = std::env::var_os("LANDPATROL_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/debug/landpatrol"));
        if !bin.is_file() {
            eprintln!(
                "SKIPPED: no server binary at {} (run `cargo build -p landpatrol-server` or set LANDPATROL_BIN)",
                bin.display()
            );
            return None;
        }
        let data = tempfile::tempdir().unwrap();
        let mut child = Command::new(&bin)
            .args(["serve", "--demo", "--addr", "127.0.0.1:0", "--data-dir"])
            .arg(data.path())
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut base_url = None;
        let mut line = String::new();
        while stdout.read_line(&mut line).unwrap() > 0 {
            if let Some(rest) = line.trim().strip_prefix("landpatrol listening on ") {
                let url = rest.split_whitespace().next().unwrap();
                base_url = Some(url.trim_end_matches('/').to_owned());
                break;
            }
            line.clear();
        }
        let Some(base_url) = base_url else {
            let _ = child.kill();
            panic!("the server exited before listening: {:?}", child.wait());
        };
        // Keep draining its output so that it never blocks on a full pipe.
        std::thread::spawn(move || std::io::copy(&mut stdout.into_inner().take(u64::MAX), &mut std::io::sink()));
        Some(Server { child, base_url, _data: data })
    }

    fn transport(&self) -> ReqwestTransport {
        ReqwestTransport::new(self.base_url.clone()).unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn options() -> ClientOptions {
    ClientOptions {
        retry: RetryPolicy { max_attempts: 3, seed: Some(5), ..RetryPolicy::default() },
        sleeper: Arc::new(RecordingSleeper::default()),
        ..ClientOptions::default()
    }
}

async fn open(
    dir: &tempfile::TempDir,
    file: &str,
    user: &str,
    transport: Arc<dyn Transport>,
    o: ClientOptions,
) -> Client {
    Client::open_with(dir.path().join(file), transport, Credentials::new(user, PASSWORD), o).await.unwrap()
}

fn haibin() -> GeoPoint {
    GeoPoint::wgs84(HAIBIN.0, HAIBIN.1).unwrap()
}

fn map(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        other => panic!("{other}"),
    }
}

/// How many visible records of `table` have `field == value`.
async fn count(client: &Client, table: Table, field: &str, value: &str) -> usize {
    client.records(table).await.unwrap().iter().filter(|r| r.data.get(field) == Some(&json!(value))).count()
}

#[tokio::test]
async fn offline_edits_survive_kills_and_arrive_exactly_once_and_a_second_device_sees_them() {
    let Some(server) = Server::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let net = Arc::new(FaultyTransport::new(server.transport(), 11));

    // Online once: the inspector's device registers and pulls the district.
    let inspector = open(&dir, "inspector.sqlite", "inspector", net.clone(), options()).await;
    let first = inspector.sync().await.unwrap();
    assert!(first.pulled > 0, "{first:?}");
    let case = inspector
        .records(Table::Cases)
        .await
        .unwrap()
        .into_iter()
        .find(|r| {
            r.data.get("town").and_then(|t| t.get("code")) == Some(&json!("120115001"))
                && !matches!(r.data["status"].as_str(), Some("closed" | "dismissed"))
        })
        .expect("a demo case in 120115001 that can be edited");
    let case_id: uuid::Uuid = case.id.parse().unwrap();
    let rev_before = case.rev.unwrap();

    // Offline: three observations (one proposing a case) and a case update.
    net.set_offline(true);
    let (obs_a, _) = inspector.observe(haibin(), "client-e2e 彩钢房 A", Some(Map::new())).await.unwrap();
    let (obs_b, _) = inspector.observe(haibin(), "client-e2e 堆土 B", None).await.unwrap();
    inspector.update(Table::Cases, case_id, map(json!({"address": "client-e2e 北台村东"}))).await.unwrap();
    let err = inspector.sync().await.unwrap_err();
    assert!(matches!(err, ClientError::RetriesExhausted { .. }), "{err}");
    drop(inspector); // killed while offline

    // Back online, but killed again after the server committed the push and
    // before its answer arrived.
    net.set_offline(false);
    let lossy =
        Arc::new(FaultyTransport::new(server.transport(), 12).only_paths(&["/api/v1/sync/push"]).drop_responses(1.0));
    let inspector = open(&dir, "inspector.sqlite", "inspector", lossy.clone(), options()).await;
    let (obs_c, _) = inspector.observe(haibin(), "client-e2e 围墙 C", None).await.unwrap();
    assert_eq!(inspector.outbox_len().await.unwrap(), 4);
    assert!(inspector.sync().await.is_err());
    assert!(lossy.stats().dropped_responses >= 1, "the server processed the push");
    assert_eq!(inspector.outbox_len().await.unwrap(), 4, "nothing settled without an answer");
    drop(inspector);

    // Reopened from the same file with the plain HTTP client: everything arrives once.
    let inspector =
        Client::open(dir.path().join("inspector.sqlite"), &server.base_url, Credentials::new("inspector", PASSWORD))
            .await
            .unwrap();
    let report = inspector.sync().await.unwrap();
    assert_eq!(report.duplicate, 4, "the server had applied them all: {report:?}");
    assert_eq!(inspector.outbox_len().await.unwrap(), 0);
    assert!(inspector.results().await.unwrap().is_empty(), "nothing to show the user");
    for obs in [obs_a, obs_b, obs_c] {
        let r = inspector.get(Table::Observations, obs).await.unwrap().expect("own observation pulled");
        assert!(!r.pending && r.rev.is_some(), "{r:?}");
    }
    let updated = inspector.get(Table::Cases, case_id).await.unwrap().unwrap();
    assert_eq!(updated.data["address"], "client-e2e 北台村东");
    assert!(updated.rev.unwrap() > rev_before && !updated.pending);
    let proposed = inspector.get(Table::Observations, obs_a).await.unwrap().unwrap().data["proposed_case_id"].clone();
    let proposed: uuid::Uuid = serde_json::from_value(proposed).expect("observation A proposed a case");
    assert_eq!(count(&inspector, Table::Cases, "description", "client-e2e 彩钢房 A").await, 1);

    // A second device: the town office pulls and sees the case, once, and the edit.
    let officer = open(&dir, "officer.sqlite", "officer-120115001", Arc::new(server.transport()), options()).await;
    officer.sync().await.unwrap();
    let seen = officer.get(Table::Cases, proposed).await.unwrap().expect("the officer sees the proposed case");
    assert_eq!(seen.data["status"], "reported");
    assert_eq!(seen.data["town"]["code"], "120115001");
    assert_eq!(count(&officer, Table::Cases, "description", "client-e2e 彩钢房 A").await, 1);
    assert_eq!(officer.get(Table::Cases, case_id).await.unwrap().unwrap().data["address"], "client-e2e 北台村东");
    for note in ["client-e2e 彩钢房 A", "client-e2e 堆土 B", "client-e2e 围墙 C"] {
        assert_eq!(count(&officer, Table::Observations, "note", note).await, 1, "{note}");
    }

    // The officer registers it; the same transition queued twice is a conflict the second time.
    officer.transition(proposed, CaseStatus::Reported, CaseStatus::Registered, Some("核实")).await.unwrap();
    let again = officer.transition(proposed, CaseStatus::Reported, CaseStatus::Registered, None).await.unwrap();
    let report = officer.sync().await.unwrap();
    assert_eq!((report.applied, report.conflict), (1, 1), "{report:?}");
    let results = officer.results().await.unwrap();
    assert_eq!(results.len(), 1);
    assert_eq!((results[0].op_id, results[0].status.as_str()), (again.op_id, "conflict"));
    assert_eq!(officer.get(Table::Cases, proposed).await.unwrap().unwrap().data["status"], "registered");

    // And the inspector's next sync brings the new status.
    inspector.sync().await.unwrap();
    assert_eq!(inspector.get(Table::Cases, proposed).await.unwrap().unwrap().data["status"], "registered");
}

#[tokio::test]
async fn responses_dropped_after_the_server_committed_leave_no_duplicates_and_an_empty_outbox() {
    let Some(server) = Server::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let lossy =
        Arc::new(FaultyTransport::new(server.transport(), 2024).only_paths(&["/api/v1/sync/"]).drop_responses(0.5));
    let o = ClientOptions {
        push_batch: 3,
        pull_limit: 50,
        retry: RetryPolicy { max_attempts: 40, seed: Some(9), ..RetryPolicy::default() },
        ..options()
    };
    let inspector = open(&dir, "inspector.sqlite", "inspector", lossy.clone(), o).await;
    let notes: Vec<String> = (0..10).map(|i| format!("client-lossy {i}")).collect();
    for (i, note) in notes.iter().enumerate() {
        let propose = (i % 3 == 0).then(Map::new);
        inspector.observe(haibin(), note, propose).await.unwrap();
    }
    let report = inspector.sync().await.unwrap();
    let stats = lossy.stats();
    assert!(stats.dropped_responses > 0, "{stats:?}");
    assert!(report.duplicate > 0, "some ops came back as duplicates: {report:?}");
    assert_eq!(report.applied + report.duplicate, 10, "{report:?}");
    assert_eq!(inspector.outbox_len().await.unwrap(), 0);
    for note in &notes {
        assert_eq!(count(&inspector, Table::Observations, "note", note).await, 1, "{note}");
    }

    let officer = open(&dir, "officer.sqlite", "officer-120115001", Arc::new(server.transport()), options()).await;
    officer.sync().await.unwrap();
    for (i, note) in notes.iter().enumerate() {
        assert_eq!(count(&officer, Table::Observations, "note", note).await, 1, "{note}");
        let cases = count(&officer, Table::Cases, "description", note).await;
        assert_eq!(cases, usize::from(i % 3 == 0), "{note}: one proposed case, exactly once");
    }
}
