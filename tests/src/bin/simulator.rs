//! Runs the many-device simulator against a fresh server and prints its report.
//!
//! `cargo run --release -p landpatrol-tests --bin simulator -- [--devices 200] [--rounds 4]
//! [--edits 50] [--seed 2017]`; PostgreSQL with `LANDPATROL_TEST_POSTGRES=postgres://…`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use landpatrol_tests::sim::{SimConfig, run};

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let cfg = SimConfig {
        devices: usize::try_from(arg("--devices", 200)).unwrap(),
        rounds: usize::try_from(arg("--rounds", 4)).unwrap(),
        edits_per_round: usize::try_from(arg("--edits", 50)).unwrap(),
        seed: arg("--seed", 2017),
        ..SimConfig::default()
    };
    let (app, db) = landpatrol_tests::bench_app().await;
    let report = run(&app, &cfg).await;
    println!("database: {db}; {cfg:?}");
    println!(
        "{} devices x {} ops = {} ops ({} observations, {} proposing cases); stored results: {:?}",
        cfg.devices,
        report.ops / cfg.devices.max(1),
        report.ops,
        report.observations,
        report.proposals,
        report.statuses
    );
    println!(
        "network: {} requests and {} responses dropped; {} syncs gave up and were retried later",
        report.dropped_requests, report.dropped_responses, report.sync_failures
    );
    println!(
        "converged: quiet after {} passes, {:.2} s to converge; whole run {:.2} s; all checks passed",
        report.quiet_after_passes,
        report.converge_elapsed.as_secs_f64(),
        report.elapsed.as_secs_f64()
    );
}
