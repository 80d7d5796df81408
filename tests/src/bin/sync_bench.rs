//! Sync benchmark: push ingest and first-sync pull over HTTP on loopback.
//!
//! `cargo run --release -p landpatrol-tests --bin sync-bench -- [--ops N] [--batch N] [--photos N]`
//! (SQLite), and with `LANDPATROL_TEST_POSTGRES=postgres://postgres@127.0.0.1:5432` for
//! PostgreSQL. Batches of 500 create ops of about 500 bytes each, every batch one durable
//! transaction, idempotency on (every op's result stored with its effect).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use landpatrol_tests::DEMO_PASSWORD;
use serde_json::{Value, json};
use uuid::Uuid;

#[derive(serde::Deserialize)]
struct PageLite {
    changes: Vec<serde::de::IgnoredAny>,
    cursor: String,
    has_more: bool,
}

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// One create op naming `photos` photos of its own (by hash; the bytes are not sent).
fn op(seq: u64, device: &str, i: usize, photos: usize) -> Value {
    let photos: Vec<String> = (0..photos).map(|p| format!("{:056x}{p:08x}", i)).collect();
    json!({"op_id": Uuid::now_v7(), "seq": seq,
        "hlc": format!("{}-{:04x}-{device}", chrono::Utc::now().timestamp_millis(), seq & 0xffff),
        "op": "create", "table": "observations", "id": Uuid::now_v7(),
        "fields": {
            "location": {"lon": 117.2 + (i % 1000) as f64 * 1e-4, "lat": 39.6 + (i % 700) as f64 * 1e-4, "crs": "gcj02", "accuracy_m": 6.5},
            "note": "巡查发现新建彩钢房一处, 约200平方米, 已拍照取证, 现场无施工人员, 已告知村委会。",
            "photos": photos,
            "observed_at": "2017-05-20T08:03:11+08:00"}})
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let total = arg("--ops", 20_000);
    let batch = arg("--batch", 500);
    let photos = arg("--photos", 1);
    let (app, db) = landpatrol_tests::bench_app().await;
    let token = app.token("inspector").await;
    let device = Uuid::now_v7().to_string();
    app.post(
        "/api/v1/devices",
        Some(&token),
        json!({"device_id": device, "name": "bench", "platform": "x", "app_version": "1"}),
    )
    .await;
    let (_, pair) = app.login("inspector", DEMO_PASSWORD, Some(&device)).await;
    let token = pair["access_token"].as_str().unwrap().to_owned();

    // Prepare every body first so that only the server is measured.
    let mut bodies = Vec::new();
    let mut seq = 0u64;
    let mut bytes = 0usize;
    for b in 0..total.div_ceil(batch) {
        let ops: Vec<Value> = (0..batch.min(total - b * batch))
            .map(|i| {
                seq += 1;
                op(seq, &device, b * batch + i, photos)
            })
            .collect();
        let body = serde_json::to_vec(&json!({"device_id": device, "ops": ops})).unwrap();
        bytes += body.len();
        bodies.push(body);
    }
    let op_bytes = bytes / total;
    let client = reqwest::Client::new();
    let url = app.url("/api/v1/sync/push");
    let started = Instant::now();
    for body in &bodies {
        let resp = client
            .post(&url)
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let v: Value = resp.json().await.unwrap();
        assert!(v["results"].as_array().unwrap().iter().all(|r| r["status"] == "applied"), "{v}");
    }
    let push_secs = started.elapsed().as_secs_f64();

    // Replaying the first batch: every op answers duplicate.
    let started_dup = Instant::now();
    let resp: Value = client
        .post(&url)
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(bodies[0].clone())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(resp["results"].as_array().unwrap().iter().all(|r| r["status"] == "duplicate"));
    let dup_secs = started_dup.elapsed().as_secs_f64();

    // First sync of everything, pages of 5000.
    let admin = app.token("admin").await;
    let pull_url = app.url("/api/v1/sync/pull");
    let started = Instant::now();
    let mut cursor: Option<String> = None;
    let mut records = 0usize;
    loop {
        let bytes = client
            .post(&pull_url)
            .bearer_auth(&admin)
            .json(&json!({"cursor": cursor, "limit": 5000}))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        // The client tokenises the whole page but keeps only what paging needs.
        let page: PageLite = serde_json::from_slice(&bytes).unwrap();
        records += page.changes.len();
        cursor = Some(page.cursor);
        if !page.has_more {
            break;
        }
    }
    let pull_secs = started.elapsed().as_secs_f64();
    println!("database: {db}; {photos} photo hash(es) named per op");
    println!(
        "push: {total} ops in batches of {batch} (~{op_bytes} bytes/op): {push_secs:.2} s = {:.0} ops/s",
        total as f64 / push_secs
    );
    println!("replay of one batch ({} ops, all duplicate): {:.3} s", batch.min(total), dup_secs);
    println!("first-sync pull: {records} records: {pull_secs:.2} s = {:.0} records/s", records as f64 / pull_secs);
}
