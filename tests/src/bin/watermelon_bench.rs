//! WatermelonDB first-sync benchmark: a district of `--cases` cases pulled by
//! the bureau on a new phone, three ways, interleaved run by run:
//! - the native first-sync pull (`POST /sync/pull`, pages of 5,000, cases only);
//! - the WatermelonDB pull over HTTP (`GET /sync/watermelon?last_pulled_at=null`, cases only);
//! - the real `@nozbe/watermelondb` client (`tests/clients/watermelondb/bench.js`:
//!   the guide's `sync()` into a fresh LokiJS database, every table of the bureau).
//!
//! ```sh
//! (cd tests/clients/watermelondb && npm ci)
//! cargo run --release -p landpatrol-tests --bin watermelon-bench -- [--cases 10000] [--runs 3]
//! ```
//! (PostgreSQL: set `LANDPATROL_TEST_POSTGRES=postgres://postgres@127.0.0.1:5432`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use landpatrol_tests::ledger;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use uuid::Uuid;

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n = arg("--cases", 10_000);
    let runs = arg("--runs", 3);
    let (app, db) = landpatrol_tests::bench_app().await;
    let admin = app.token("admin").await;
    let (_, towns) = app.get("/api/v1/towns", Some(&admin)).await;
    let towns: Vec<Uuid> =
        towns.as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap().parse().unwrap()).collect();
    let (_, campaigns) = app.get("/api/v1/campaigns", Some(&admin)).await;
    let campaign: Uuid = campaigns[0]["id"].as_str().unwrap().parse().unwrap();

    // Cases as a district holds them: every source and status, a description and address each.
    let mut rng = rand::rngs::StdRng::seed_from_u64(2017);
    let first = {
        use sea_orm::TransactionTrait;
        let txn = app.state.db.begin().await.unwrap();
        let first = landpatrol_server::db::reserve_seqs(&txn, i64::try_from(n).unwrap()).await.unwrap();
        txn.commit().await.unwrap();
        first
    };
    let statuses = ["reported", "registered", "rectifying", "rectified", "accepted", "closed"];
    let sources = ["satellite", "legacy", "patrol", "tip"];
    let rows: Vec<_> = (0..n)
        .map(|i| {
            let created = ledger::local("2017-03-01", 9) + chrono::Duration::hours(rng.gen_range(0..24 * 200));
            let mut row = ledger::case(
                Uuid::now_v7(),
                &format!("BD-2017-{:05}", i + 100),
                sources[i % sources.len()],
                statuses[rng.gen_range(0..statuses.len())],
                Some(towns[rng.gen_range(0..towns.len())]),
                campaign,
                Some(created.date_naive() + chrono::Duration::days(rng.gen_range(7..120))),
                created,
            );
            row.lon = 117.2 + rng.gen_range(0.0..0.4);
            row.lat = 39.5 + rng.gen_range(0.0..0.3);
            row.description = format!("新建彩钢房约{}平方米，未办理用地手续", rng.gen_range(50..900));
            row.address = format!("第{}村东{}米", rng.gen_range(1..300), rng.gen_range(10..500));
            row.seq = first + i64::try_from(i).unwrap();
            row.created_seq = row.seq;
            row
        })
        .collect();
    ledger::insert(&app.state.db, rows, Vec::new()).await;

    let client = reqwest::Client::new();
    let (mut native, mut wm_http, mut wm_client) = (Vec::new(), Vec::new(), Vec::new());
    let mut client_records = 0;
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("clients/watermelondb/bench.js");
    println!("watermelon-bench on {db}: {n} cases seeded, {runs} runs each, interleaved");
    for run in 1..=runs {
        // Native first sync, cases only.
        let t = Instant::now();
        let mut cursor: Option<String> = None;
        let mut records = 0;
        loop {
            let body = serde_json::json!({"cursor": cursor, "limit": 5000, "tables": ["cases"]});
            let resp = client.post(app.url("/api/v1/sync/pull")).bearer_auth(&admin).json(&body).send().await.unwrap();
            let page: Value = serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap();
            records += page["changes"].as_array().unwrap().len();
            cursor = page["cursor"].as_str().map(str::to_owned);
            if page["has_more"] != true {
                break;
            }
        }
        let s = t.elapsed().as_secs_f64();
        native.push(records as f64 / s);
        println!("run {run}: native pull: {records} cases in {s:.3} s = {:.0} records/s", records as f64 / s);

        // The WatermelonDB pull over HTTP, cases only.
        let t = Instant::now();
        let resp = client
            .get(app.url("/api/v1/sync/watermelon?last_pulled_at=null&schema_version=1&migration=null&tables=cases"))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap();
        let bytes = resp.bytes().await.unwrap();
        let body: Value = serde_json::from_slice(&bytes).unwrap();
        let records = body["changes"]["cases"]["created"].as_array().unwrap().len();
        let s = t.elapsed().as_secs_f64();
        wm_http.push(records as f64 / s);
        println!(
            "run {run}: WatermelonDB pull (HTTP): {records} cases, {} KB, in {s:.3} s = {:.0} records/s",
            bytes.len() / 1024,
            records as f64 / s
        );

        // The real client into LokiJS.
        let (script, base) = (script.clone(), app.base.clone());
        let out = tokio::task::spawn_blocking(move || {
            std::process::Command::new("node").arg(&script).env("LP_BASE_URL", &base).output()
        })
        .await
        .unwrap()
        .expect("node runs (npm ci in tests/clients/watermelondb first)");
        assert!(
            out.status.success(),
            "bench.js failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let line: Value =
            serde_json::from_slice(out.stdout.rsplit(|b| *b == b'\n').find(|l| !l.is_empty()).unwrap()).unwrap();
        let (records, s) = (line["records"].as_u64().unwrap(), line["seconds"].as_f64().unwrap());
        client_records = records;
        wm_client.push(records as f64 / s);
        println!(
            "run {run}: @nozbe/watermelondb synchronize() into LokiJS: {records} records ({} cases) in {s:.2} s = {:.0} records/s",
            line["cases"],
            records as f64 / s
        );
    }
    println!(
        "medians: native pull {:.0} records/s; WatermelonDB pull over HTTP {:.0} records/s; real client into LokiJS {:.0} records/s ({client_records} records)",
        median(native),
        median(wm_http),
        median(wm_client)
    );
    app.stop().await;
}
