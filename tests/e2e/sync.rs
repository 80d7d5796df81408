//! Sync push and pull over HTTP (SYNC.md): exactly-once, field-level merge,
//! conflicts, per-op rejections, scoped and resumable pull, evictions.

use landpatrol_tests::{TestApp, assert_error};
use serde_json::{Value, json};
use uuid::Uuid;

const HAIBIN: (f64, f64) = (117.295129, 39.733503); // 120115001
const ZHOULIANG: (f64, f64) = (117.341136, 39.557182); // 120115006

/// A stamp as a device makes them: one per op, increasing with `seq`.
fn hlc(ms: u64, seq: u64, device: &str) -> String {
    format!("{ms}-{:04x}-{device}", seq & 0xffff)
}

fn now_ms() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap()
}

fn op(seq: u64, ms: u64, device: &str, body: Value) -> Value {
    let mut o = json!({"op_id": Uuid::now_v7(), "seq": seq, "hlc": hlc(ms, seq, device)});
    o.as_object_mut().unwrap().extend(body.as_object().unwrap().clone());
    o
}

async fn push(app: &TestApp, token: &str, device: &str, ops: Vec<Value>) -> Value {
    let (status, body) = app.post("/api/v1/sync/push", Some(token), json!({"device_id": device, "ops": ops})).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// Pulls from `cursor` until done; returns the changes and the final cursor.
async fn pull_all(app: &TestApp, token: &str, cursor: Option<String>, limit: u32) -> (Vec<Value>, String) {
    let mut cursor = cursor;
    let mut all = Vec::new();
    loop {
        let (status, page) =
            app.post("/api/v1/sync/pull", Some(token), json!({"cursor": cursor, "limit": limit})).await;
        assert_eq!(status, 200, "{page}");
        let changes = page["changes"].as_array().unwrap();
        assert!(changes.len() <= limit as usize);
        all.extend(changes.iter().cloned());
        cursor = Some(page["cursor"].as_str().unwrap().to_owned());
        if !page["has_more"].as_bool().unwrap() {
            return (all, cursor.unwrap());
        }
    }
}

#[tokio::test]
async fn an_observation_proposing_a_violation_creates_a_routed_case_exactly_once() {
    let app = TestApp::spawn_demo().await;
    let (token, device) = app.device_session("inspector").await;
    let obs_id = Uuid::now_v7();
    let ops = vec![op(
        1,
        now_ms(),
        &device,
        json!({"op": "create", "table": "observations", "id": obs_id, "fields": {
            "location": {"lon": 117.301546, "lat": 39.734765, "crs": "gcj02", "accuracy_m": 6},
            "note": "新建彩钢房约200平方米", "photos": ["9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"],
            "observed_at": "2017-05-20T08:03:11+08:00",
            "propose_case": {"violation_type": "built_without_approval"}}}),
    )];
    let first = push(&app, &token, &device, ops.clone()).await;
    assert_eq!(first["results"][0]["status"], "applied", "{first}");
    assert_eq!(first["results"][0]["rev"], 1);
    assert_eq!(first["last_seq"], 1);
    let before = app.fingerprint().await;

    // The response was lost: the phone sends the same batch again.
    let again = push(&app, &token, &device, ops).await;
    assert_eq!(again["results"][0]["status"], "duplicate");
    assert_eq!(again["results"][0]["rev"], 1);
    assert_eq!(app.fingerprint().await, before, "a replay changes nothing");

    let admin = app.token("admin").await;
    let (_, cases) = app.get("/api/v1/cases?source=patrol&town=120115001&limit=500", Some(&admin)).await;
    let made: Vec<&Value> =
        cases["items"].as_array().unwrap().iter().filter(|c| c["description"] == "新建彩钢房约200平方米").collect();
    assert_eq!(made.len(), 1, "one case, routed to 海滨街道");
    assert_eq!(made[0]["deadline"], "2017-05-27");
    let id = made[0]["id"].as_str().unwrap();
    // The push answer named the case it opened, and its replay names it again.
    assert_eq!(first["results"][0]["case"], json!({"id": id, "case_number": made[0]["case_number"]}), "{first}");
    assert_eq!(again["results"][0]["case"], first["results"][0]["case"]);
    let (_, history) = app.get(&format!("/api/v1/cases/{id}/history"), Some(&admin)).await;
    assert_eq!(history[0]["device_id"], device, "the ledger names the device");
}

#[tokio::test]
async fn two_crews_editing_different_fields_offline_both_keep_their_change() {
    let app = TestApp::spawn_demo().await;
    let (a, dev_a) = app.device_session("inspector").await;
    let (b, dev_b) = app.device_session("officer-120115001").await;
    let admin = app.token("admin").await;
    let (_, case) = app
        .post(
            "/api/v1/cases",
            Some(&admin),
            json!({"source": "legacy", "location": {"lon": HAIBIN.0, "lat": HAIBIN.1}}),
        )
        .await;
    let id = case["id"].as_str().unwrap().to_owned();
    let t0 = now_ms();
    // Both edited rev 1 offline; B synced later but edited earlier.
    let ra = push(&app, &a, &dev_a, vec![op(1, t0 + 2000, &dev_a, json!({"op": "update", "table": "cases", "id": id, "base_rev": 1, "fields": {"address": "北台村东", "description": "A's description"}}))]).await;
    assert_eq!(ra["results"][0]["status"], "applied", "{ra}");
    let rb = push(&app, &b, &dev_b, vec![op(1, t0 + 1000, &dev_b, json!({"op": "update", "table": "cases", "id": id, "base_rev": 1, "fields": {"land_class": "outside_plan", "description": "B's description"}}))]).await;
    assert_eq!(rb["results"][0]["status"], "merged", "{rb}");
    assert_eq!(rb["results"][0]["overridden"], json!({"description": "A's description"}));
    let (_, now) = app.get(&format!("/api/v1/cases/{id}"), Some(&admin)).await;
    assert_eq!(now["address"], "北台村东");
    assert_eq!(now["land_class"], "outside_plan", "B's other field is kept");
    assert_eq!(now["description"], "A's description", "the later write wins the shared field");
    assert_eq!(now["rev"], 3);
}

#[tokio::test]
async fn transitions_conflict_when_the_premise_no_longer_holds() {
    let app = TestApp::spawn_demo().await;
    let (officer, dev) = app.device_session("officer-120115001").await;
    let admin = app.token("admin").await;
    let (_, case) = app
        .post(
            "/api/v1/cases",
            Some(&admin),
            json!({"source": "legacy", "location": {"lon": HAIBIN.0, "lat": HAIBIN.1}}),
        )
        .await;
    let id = case["id"].as_str().unwrap().to_owned();
    let t = |seq: u64, from: &str, to: &str| {
        op(
            seq,
            now_ms(),
            &dev,
            json!({"op": "transition", "table": "cases", "id": id, "from": from, "to": to, "note": "x"}),
        )
    };
    let r = push(
        &app,
        &officer,
        &dev,
        vec![t(1, "reported", "registered"), t(2, "reported", "registered"), t(3, "registered", "closed")],
    )
    .await;
    assert_eq!(r["results"][0]["status"], "applied");
    assert_eq!(r["results"][1]["status"], "conflict");
    assert_eq!(r["results"][1]["server_record"]["status"], "registered");
    assert_eq!(r["results"][2]["status"], "rejected");
    assert_eq!(r["results"][2]["error"]["code"], "invalid_transition");
    assert_eq!(r["last_seq"], 3);
}

#[tokio::test]
async fn bad_ops_are_rejected_one_by_one_and_the_rest_applies() {
    let app = TestApp::spawn_demo().await;
    let (officer, dev) = app.device_session("officer-120115001").await;
    let admin = app.token("admin").await;
    let (_, own) = app
        .post(
            "/api/v1/cases",
            Some(&admin),
            json!({"source": "legacy", "location": {"lon": HAIBIN.0, "lat": HAIBIN.1}}),
        )
        .await;
    let (_, other) = app
        .post(
            "/api/v1/cases",
            Some(&admin),
            json!({"source": "legacy", "location": {"lon": ZHOULIANG.0, "lat": ZHOULIANG.1}}),
        )
        .await;
    let own = own["id"].as_str().unwrap().to_owned();
    let other = other["id"].as_str().unwrap().to_owned();
    let ms = now_ms();
    let dup = op(9, ms, &dev, json!({"op": "update", "table": "cases", "id": own, "fields": {"address": "dup"}}));
    let ops = vec![
        op(1, ms, &dev, json!({"op": "update", "table": "cases", "id": own, "fields": {"description": "fine"}})),
        op(2, ms, &dev, json!({"op": "create", "table": "parcels", "id": Uuid::now_v7(), "fields": {}})),
        op(3, ms, &dev, json!({"op": "update", "table": "cases", "id": own, "fields": {"case_number": "X"}})),
        op(4, ms, &dev, json!({"op": "update", "table": "cases", "id": own, "fields": {"status": "closed"}})),
        json!({"op_id": Uuid::now_v7(), "seq": 5, "hlc": "yesterday", "op": "update", "table": "cases", "id": own, "fields": {"address": "x"}}),
        op(6, ms, &dev, json!({"op": "teleport", "table": "cases", "id": own})),
        op(7, ms, &dev, json!({"op": "update", "table": "cases", "id": other, "fields": {"address": "not mine"}})),
        op(8, ms, &dev, json!({"op": "update", "table": "towns", "id": Uuid::now_v7(), "fields": {"name": "x"}})),
        dup.clone(),
        dup,
        op(
            10,
            ms,
            &dev,
            json!({"op": "update", "table": "inspections", "id": Uuid::now_v7(), "fields": {"note": "x"}}),
        ),
        op(11, ms, &dev, json!({"op": "create", "table": "cases", "id": "not-a-uuid", "fields": {"source": "patrol"}})),
        op(12, ms, &dev, json!({"op": "update", "table": "cases", "id": own, "fields": {"address": "北台村东"}})),
    ];
    let r = push(&app, &officer, &dev, ops).await;
    let codes: Vec<(String, String)> = r["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| (x["status"].as_str().unwrap().to_owned(), x["error"]["code"].as_str().unwrap_or("").to_owned()))
        .collect();
    let expected = [
        ("applied", ""),
        ("rejected", "unknown_table"),
        ("rejected", "immutable_field"),
        ("rejected", "status_via_transition"),
        ("rejected", "invalid_hlc"),
        ("rejected", "unknown_op"),
        ("rejected", "not_found"),
        ("rejected", "unknown_table"),
        ("applied", ""),
        ("rejected", "duplicate_op_in_batch"),
        ("rejected", "append_only"),
        ("rejected", "malformed_op"),
        ("applied", ""),
    ];
    for (i, (got, want)) in codes.iter().zip(expected).enumerate() {
        assert_eq!((got.0.as_str(), got.1.as_str()), want, "op {i}: {}", r["results"][i]);
    }
    let (_, case) = app.get(&format!("/api/v1/cases/{own}"), Some(&officer)).await;
    assert_eq!(case["description"], "fine");
    assert_eq!(case["address"], "北台村东");
    let (_, untouched) = app.get(&format!("/api/v1/cases/{other}"), Some(&admin)).await;
    assert_eq!(untouched["address"], "");

    // A batch over the limit is refused whole; an unregistered device too.
    let many: Vec<Value> = (1..=501)
        .map(|i| op(i, ms, &dev, json!({"op": "update", "table": "cases", "id": own, "fields": {"address": "x"}})))
        .collect();
    let before = app.fingerprint().await;
    assert_error(
        &app.post("/api/v1/sync/push", Some(&officer), json!({"device_id": dev, "ops": many})).await,
        413,
        "batch_too_large",
    );
    assert_error(
        &app.post("/api/v1/sync/push", Some(&officer), json!({"device_id": Uuid::now_v7(), "ops": []})).await,
        422,
        "unknown_device",
    );
    assert_error(
        &app.post("/api/v1/sync/push", Some(&officer), json!({"device_id": dev, "ops": [{"seq": 1}]})).await,
        400,
        "invalid_json",
    );
    assert_eq!(app.fingerprint().await, before);
}

#[tokio::test]
async fn skewed_clocks_are_restamped_and_flagged_not_refused() {
    let app = TestApp::spawn_demo().await;
    let (token, dev) = app.device_session("inspector").await;
    let future = now_ms() + 86_400_000;
    let r = push(&app, &token, &dev, vec![op(1, future, &dev, json!({"op": "create", "table": "observations", "id": Uuid::now_v7(), "fields": {"location": {"lon": HAIBIN.0, "lat": HAIBIN.1}, "note": "wrong clock"}}))]).await;
    assert_eq!(r["results"][0]["status"], "applied");
    assert_eq!(r["results"][0]["flags"], json!(["clock_skew"]));
}

#[tokio::test]
async fn pull_pages_once_per_record_resumes_and_evicts() {
    let app = TestApp::spawn_demo().await;
    let officer = app.token("officer-120115001").await;
    let admin = app.token("admin").await;

    // First sync in small pages: every record once.
    let (first, cursor) = pull_all(&app, &officer, None, 5).await;
    let mut keys: Vec<String> = first.iter().map(|c| format!("{}/{}", c["table"], c["id"])).collect();
    let n = keys.len();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), n, "each record once");
    assert_eq!(first.iter().filter(|c| c["table"] == "towns").count(), 23);
    assert_eq!(first.iter().filter(|c| c["table"] == "campaigns").count(), 1);
    let lifecycle: Vec<&Value> = first.iter().filter(|c| c["table"] == "lifecycle").collect();
    assert_eq!(lifecycle.len(), 1, "the lifecycle table comes with the first sync");
    assert!(
        lifecycle[0]["record"]["transitions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["from"] == "rectified" && t["to"] == "accepted" && t["roles"] == json!(["verifier"]))
    );
    let cases: Vec<&Value> = first.iter().filter(|c| c["table"] == "cases").collect();
    assert!(!cases.is_empty());
    assert!(cases.iter().all(|c| c["record"]["town"]["code"] == "120115001"), "only the officer's town");

    // An interrupted first sync resumes from its last cursor.
    let (_, page) = app.post("/api/v1/sync/pull", Some(&officer), json!({"cursor": null, "limit": 7})).await;
    let (rest, _) = pull_all(&app, &officer, Some(page["cursor"].as_str().unwrap().to_owned()), 7).await;
    assert_eq!(page["changes"].as_array().unwrap().len() + rest.len(), n);

    // Nothing new: an empty page with the same position.
    let (status, empty) = app.post("/api/v1/sync/pull", Some(&officer), json!({"cursor": cursor, "limit": 50})).await;
    assert_eq!(status, 200);
    assert_eq!(empty["changes"], json!([]));
    assert_eq!(empty["has_more"], false);

    // A case changed three times comes once, with its latest state; one moved away is evicted.
    let id = cases[0]["id"].as_str().unwrap().to_owned();
    for addr in ["a", "b", "c"] {
        let (s, _) =
            app.patch(&format!("/api/v1/cases/{id}"), Some(&admin), json!({"fields": {"address": addr}})).await;
        assert_eq!(s, 200);
    }
    let moving = cases[1]["id"].as_str().unwrap().to_owned();
    let (s, _) = app
        .post(
            &format!("/api/v1/cases/{moving}/reassign"),
            Some(&admin),
            json!({"town": "120115002", "note": "boundary"}),
        )
        .await;
    assert_eq!(s, 200);
    // Moved by a new location rather than a reassignment: evicted the same way.
    let relocated = cases[2]["id"].as_str().unwrap().to_owned();
    let (s, moved) = app
        .patch(
            &format!("/api/v1/cases/{relocated}"),
            Some(&admin),
            json!({"fields": {"location": {"lon": ZHOULIANG.0, "lat": ZHOULIANG.1}}}),
        )
        .await;
    assert_eq!(s, 200, "{moved}");
    assert_eq!(moved["town"]["code"], "120115006");
    let (changes, _) = pull_all(&app, &officer, Some(cursor.clone()), 50).await;
    let relocated_changes: Vec<&Value> = changes.iter().filter(|c| c["id"] == relocated.as_str()).collect();
    assert_eq!(relocated_changes.len(), 1);
    assert_eq!(relocated_changes[0]["op"], "evict");
    let for_id: Vec<&Value> = changes.iter().filter(|c| c["id"] == id.as_str()).collect();
    assert_eq!(for_id.len(), 1);
    assert_eq!(for_id[0]["record"]["address"], "c");
    assert_eq!(for_id[0]["op"], "upsert");
    let evicted: Vec<&Value> = changes.iter().filter(|c| c["id"] == moving.as_str()).collect();
    assert_eq!(evicted.len(), 1);
    assert_eq!(evicted[0]["op"], "evict");
    // The new town's officer gets it as an upsert.
    let baoping = app.token("officer-120115002").await;
    let (theirs, _) = pull_all(&app, &baoping, None, 100).await;
    assert!(theirs.iter().any(|c| c["id"] == moving.as_str() && c["op"] == "upsert"));

    assert_error(
        &app.post("/api/v1/sync/pull", Some(&officer), json!({"cursor": "forged", "limit": 5})).await,
        400,
        "invalid_cursor",
    );
    assert_error(
        &app.post("/api/v1/sync/pull", Some(&officer), json!({"cursor": null, "limit": 0})).await,
        422,
        "validation_failed",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_devices_offline_and_flaky_converge_without_loss_or_duplicates() {
    let app = TestApp::spawn_demo().await;
    let report = landpatrol_tests::sim::run(&app, &landpatrol_tests::sim::SimConfig::default()).await;
    eprintln!("{report:?}");
    assert!(report.ops >= 300, "{report:?}");
    assert!(report.dropped_requests > 0 && report.dropped_responses > 0, "the network really was flaky: {report:?}");
}

#[tokio::test]
async fn the_same_record_created_twice_in_one_batch_exists_once() {
    let app = TestApp::spawn_demo().await;
    let (token, dev) = app.device_session("inspector").await;
    let id = Uuid::now_v7();
    let create = |seq: u64| {
        op(
            seq,
            now_ms(),
            &dev,
            json!({"op": "create", "table": "observations", "id": id, "fields": {"location": {"lon": HAIBIN.0, "lat": HAIBIN.1}, "note": "twice"}}),
        )
    };
    let before = app.fingerprint().await;
    let r = push(&app, &token, &dev, vec![create(1), create(2)]).await;
    assert_eq!(r["results"][0]["status"], "applied", "{r}");
    assert_eq!(r["results"][1]["status"], "applied", "a create of an existing id by its author returns it: {r}");
    let after = app.fingerprint().await;
    let count = |f: &Vec<(String, i64)>| f.iter().find(|(k, _)| k == "observations").unwrap().1;
    assert_eq!(count(&after), count(&before) + 1);
}
