//! Alert latency benchmark: an inspector's offline patrol discovery (an
//! observation proposing a case, pushed by sync) → the town's webhook and the
//! town officer's live stream, on loopback. The clock starts when the push is
//! sent and stops when the webhook request arrives / the event is read.
//!
//! `cargo run --release -p landpatrol-tests --bin alert-bench -- [--rounds 50]`
//! (PostgreSQL: set `LANDPATROL_TEST_POSTGRES=postgres://postgres@127.0.0.1:5432`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use landpatrol_tests::live::{Answer, Receiver, SseClient};
use serde_json::{Value, json};
use uuid::Uuid;

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn summary(name: &str, mut ms: Vec<f64>) {
    ms.sort_by(f64::total_cmp);
    let pick = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
    println!(
        "{name:<34} median {:>7.1} ms   p95 {:>7.1} ms   max {:>7.1} ms   (n = {})",
        pick(0.5),
        pick(0.95),
        ms[ms.len() - 1],
        ms.len()
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let rounds = arg("--rounds", 50);
    // Defaults otherwise: the outbox poll stays at its default, woken by commits.
    let (app, db) = landpatrol_tests::bench_app().await;

    let receiver = Receiver::start(|_| Answer::Status(204)).await;
    let officer = app.token("officer-120115001").await;
    let (status, hook) = app.post("/api/v1/webhooks", Some(&officer), json!({"url": receiver.url})).await;
    assert_eq!(status, 201, "{hook}");
    let mut stream = SseClient::connect(&app.url("/api/v1/alerts/stream"), &officer, None).await;
    let (token, device) = app.device_session("inspector").await;
    let client = reqwest::Client::new();
    let url = app.url("/api/v1/sync/push");

    let (mut to_hook, mut to_stream, mut push_ms) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..rounds {
        let seen = receiver.received().len();
        // Found offline an hour ago, synced now.
        let observed = chrono::Utc::now() - chrono::Duration::hours(1);
        let ms = u64::try_from(observed.timestamp_millis()).unwrap();
        let body = json!({"device_id": device, "ops": [{
            "op_id": Uuid::now_v7(), "seq": i + 1, "hlc": format!("{ms}-{:04x}-{device}", i + 1),
            "op": "create", "table": "observations", "id": Uuid::now_v7(), "fields": {
                "location": {"lon": 117.2951 + i as f64 * 1e-5, "lat": 39.7335, "crs": "wgs84", "accuracy_m": 5},
                "note": format!("bench discovery {i}: 新建彩钢房"), "observed_at": observed,
                "propose_case": {"violation_type": "built_without_approval"}}}]});
        let started = Instant::now();
        let resp = client.post(&url).bearer_auth(&token).json(&body).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        let pushed: Value = resp.json().await.unwrap();
        assert_eq!(pushed["results"][0]["status"], "applied", "{pushed}");
        push_ms.push(started.elapsed().as_secs_f64() * 1000.0);
        let ev = stream.next(Duration::from_secs(10)).await.expect("live event");
        let ev_at = Instant::now();
        assert_eq!(ev.json()["kind"], "case_new");
        let got = receiver
            .wait_for(Duration::from_secs(10), "the webhook", |r| {
                r.len() > seen && r[seen..].iter().any(|x| x.event == "case_new")
            })
            .await;
        let hook_at = got[seen..].iter().find(|x| x.event == "case_new").unwrap().at;
        to_stream.push(ev_at.duration_since(started).as_secs_f64() * 1000.0);
        to_hook.push(hook_at.duration_since(started).as_secs_f64() * 1000.0);
    }
    println!("alert-bench on {db}: {rounds} patrol discoveries synced one by one, loopback");
    summary("sync push answered", push_ms);
    summary("push sent → live stream event", to_stream);
    summary("push sent → webhook request arrives", to_hook);
}
