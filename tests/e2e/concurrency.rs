//! No skipped change: concurrent pushers on two server instances sharing one
//! database, and pullers reading at the same time; the pulled set must equal
//! the committed set. (On PostgreSQL writers really commit concurrently.)

use std::collections::BTreeSet;

use landpatrol_tests::TestApp;
use serde_json::json;
use uuid::Uuid;

const PUSHERS: usize = 4;
const BATCHES: usize = 8;
const BATCH: usize = 15;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pulls_never_skip_a_change_committed_out_of_order() {
    let a = TestApp::spawn_demo().await;
    let b = a.second_instance().await;
    let (admin_token, _) = (a.token("admin").await, ());
    // Start pulling from "now": only the observations pushed below count.
    let (_, start) = a.post("/api/v1/sync/pull", Some(&admin_token), json!({"cursor": null, "limit": 5000})).await;
    assert_eq!(start["has_more"], false);
    let start_cursor = start["cursor"].as_str().unwrap().to_owned();

    let mut pushers = Vec::new();
    for p in 0..PUSHERS {
        let (token, device) = a.device_session("inspector").await;
        let bases = [a.base.clone(), b.base.clone()];
        pushers.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut committed = Vec::new();
            let mut seq = 0u64;
            for batch in 0..BATCHES {
                let mut ops = Vec::new();
                for i in 0..BATCH {
                    seq += 1;
                    let id = Uuid::now_v7();
                    ops.push(json!({"op_id": Uuid::now_v7(), "seq": seq,
                        "hlc": format!("{}-{:04x}-{device}", chrono::Utc::now().timestamp_millis(), seq),
                        "op": "create", "table": "observations", "id": id,
                        "fields": {"location": {"lon": 117.295129 + (i as f64) * 1e-5, "lat": 39.733503}, "note": format!("p{p} b{batch} i{i}")}}));
                    committed.push(id.to_string());
                }
                let base = &bases[(p + batch) % 2];
                let resp = client
                    .post(format!("{base}/api/v1/sync/push"))
                    .bearer_auth(&token)
                    .json(&json!({"device_id": device, "ops": ops}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(resp.status(), 200);
                let body: serde_json::Value = resp.json().await.unwrap();
                assert!(body["results"].as_array().unwrap().iter().all(|r| r["status"] == "applied"), "{body}");
            }
            committed
        }));
    }

    // Pullers follow the stream while the pushers write, alternating instances.
    let mut pullers = Vec::new();
    for p in 0..2 {
        let bases = [a.base.clone(), b.base.clone()];
        let token = admin_token.clone();
        let cursor0 = start_cursor.clone();
        pullers.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut cursor = cursor0;
            let mut seen = BTreeSet::new();
            let mut quiet_rounds = 0;
            let mut round = 0usize;
            while quiet_rounds < 3 || seen.len() < PUSHERS * BATCHES * BATCH {
                round += 1;
                assert!(round < 10_000, "pull never caught up: {} of {}", seen.len(), PUSHERS * BATCHES * BATCH);
                let base = &bases[(p + round) % 2];
                let page: serde_json::Value = client
                    .post(format!("{base}/api/v1/sync/pull"))
                    .bearer_auth(&token)
                    .json(&json!({"cursor": cursor, "limit": 7, "tables": ["observations"]}))
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                let changes = page["changes"].as_array().unwrap();
                for c in changes {
                    seen.insert(c["id"].as_str().unwrap().to_owned());
                }
                cursor = page["cursor"].as_str().unwrap().to_owned();
                if changes.is_empty() {
                    quiet_rounds += 1
                } else {
                    quiet_rounds = 0
                }
                tokio::task::yield_now().await;
            }
            seen
        }));
    }
    let mut committed = BTreeSet::new();
    for p in pushers {
        committed.extend(p.await.unwrap());
    }
    assert_eq!(committed.len(), PUSHERS * BATCHES * BATCH);
    for p in pullers {
        let seen = p.await.unwrap();
        assert_eq!(seen, committed, "a puller's set differs from the committed set");
    }
}
