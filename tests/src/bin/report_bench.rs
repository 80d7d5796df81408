//! Progress-report benchmark: a district report over 100,000 cases and
//! 1,000,000 ledger entries, for today (from the cases) and for a past day
//! (reconstructed from the ledger), through HTTP on loopback.
//!
//! `cargo run --release -p landpatrol-tests --bin report-bench -- [--cases 100000] [--entries-per-case 10] [--runs 5] [--verbose]`
//!
//! The ledger: every case's status changes (1 to 6 of them) and, for the rest
//! of its entries, edits — one in ten an investigation outcome, the others
//! descriptive fields. `--verbose` logs the time of each step of the report.
//! (PostgreSQL: set `LANDPATROL_TEST_POSTGRES=postgres://postgres@127.0.0.1:5432`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use landpatrol_tests::ledger::{self, change, local, step};
use rand::{Rng, SeedableRng};
use serde_json::json;
use uuid::Uuid;

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(default)
}

const PATH: [&str; 6] = ["reported", "registered", "rectifying", "rectified", "accepted", "closed"];
const SOURCES: [&str; 4] = ["satellite", "legacy", "patrol", "tip"];

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n = arg("--cases", 100_000);
    let per_case = arg("--entries-per-case", 10).max(6);
    let runs = arg("--runs", 5);
    if std::env::args().any(|a| a == "--verbose") {
        landpatrol_server::telemetry::init(&landpatrol_server::config::LogSettings {
            format: "text".into(),
            level: "landpatrol_server::reports=debug,warn".into(),
        });
    }
    let (app, db) = landpatrol_tests::bench_app().await;
    let admin = app.token("admin").await;
    let (status, c) = app
        .post(
            "/api/v1/campaigns",
            Some(&admin),
            json!({"name": "2016 bench", "starts_on": "2016-01-01", "ends_on": "2016-12-31",
                   "satellite_deadline": "2016-05-31", "legacy_deadline": "2016-08-15", "idle_land_deadline": "2016-10-31"}),
        )
        .await;
    assert_eq!(status, 201, "{c}");
    let campaign: Uuid = c["id"].as_str().unwrap().parse().unwrap();
    let (_, towns) = app.get("/api/v1/towns", Some(&admin)).await;
    let towns: Vec<Uuid> =
        towns.as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap().parse().unwrap()).collect();

    eprintln!("seeding {n} cases with {per_case} ledger entries each…");
    let started = Instant::now();
    let mut rng = rand::rngs::StdRng::seed_from_u64(2016);
    let mut rows = Vec::with_capacity(n);
    let mut entries = Vec::with_capacity(n * per_case);
    for i in 0..n {
        let id = Uuid::now_v7();
        let source = SOURCES[i % SOURCES.len()];
        let town = towns[rng.gen_range(0..towns.len())];
        let day = rng.gen_range(0..300);
        let created = local("2016-01-01", 9) + chrono::Duration::days(day);
        let deadline = created.date_naive() + chrono::Duration::days(rng.gen_range(7..120));
        let steps = rng.gen_range(1..=PATH.len());
        let mut at = created;
        for (k, to) in PATH.iter().take(steps).enumerate() {
            let from = if k == 0 { None } else { Some(PATH[k - 1]) };
            entries.push(step(id, at, from, to));
            at += chrono::Duration::hours(rng.gen_range(6..24 * 20));
        }
        // The rest of the case's entries: edits; one in ten records an
        // investigation outcome, the others change descriptive fields.
        for k in 0..per_case - steps {
            let (before, after) = if rng.gen_ratio(1, 10) {
                (json!({"confiscated_gains_fen": null}), json!({"confiscated_gains_fen": 1000 * k}))
            } else {
                (json!({"address": format!("old {k}")}), json!({"address": format!("new {k}")}))
            };
            entries.push(change(id, at, "updated", before, after));
            at += chrono::Duration::hours(rng.gen_range(1..24 * 5));
        }
        let mut row = ledger::case(
            id,
            &format!("B-{i:06}"),
            source,
            PATH[steps - 1],
            Some(town),
            campaign,
            Some(deadline),
            created,
        );
        row.confiscated_gains_fen = Some(1000 * i64::try_from(per_case - steps).unwrap());
        rows.push(row);
    }
    let total_entries = entries.len();
    ledger::insert(&app.state.db, rows, entries).await;
    eprintln!("seeded {n} cases, {total_entries} entries in {:.1} s", started.elapsed().as_secs_f64());

    let client = reqwest::Client::new();
    let measure = |query: String| {
        let (client, url, admin) =
            (client.clone(), app.url(&format!("/api/v1/reports/progress?{query}")), admin.clone());
        async move {
            let mut ms = Vec::new();
            let mut size = 0;
            for _ in 0..runs {
                let t = Instant::now();
                let resp = client.get(&url).bearer_auth(&admin).send().await.unwrap();
                assert_eq!(resp.status(), 200);
                size = resp.bytes().await.unwrap().len();
                ms.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            ms.sort_by(f64::total_cmp);
            (ms, size)
        }
    };
    println!("report-bench on {db}: district report, {n} cases, {total_entries} ledger entries, {runs} runs each");
    for (name, query) in [
        ("today (from the cases)", format!("campaign={campaign}")),
        ("as_of 2016-06-30 (from the ledger)", format!("campaign={campaign}&as_of=2016-06-30")),
        ("as_of 2016-06-30, CSV", format!("campaign={campaign}&as_of=2016-06-30&format=csv")),
    ] {
        let (ms, size) = measure(query).await;
        println!(
            "{name:<36} median {:>7.0} ms   min {:>7.0} ms   max {:>7.0} ms   ({} KiB)",
            ms[ms.len() / 2],
            ms[0],
            ms[ms.len() - 1],
            size / 1024
        );
    }
}
