//! WatermelonDB compatibility: `pullChanges`/`pushChanges` shapes, 16-character
//! ids, `_changed` patches, status changes as transitions, rejected ids.

use landpatrol_tests::TestApp;
use serde_json::{Value, json};

async fn bound(app: &TestApp, user: &str) -> String {
    app.device_session(user).await.0
}

fn ids(changes: &Value, table: &str, kind: &str) -> Vec<String> {
    changes[table][kind]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().map_or_else(|| r["id"].as_str().unwrap().to_owned(), str::to_owned))
        .collect()
}

#[tokio::test]
async fn watermelon_pull_push_round_trip() {
    let app = TestApp::spawn_demo().await;
    let officer = bound(&app, "officer-120115001").await;

    // First pull: everything in scope as `created`, flat rows.
    let (status, first) = app.get("/api/v1/sync/watermelon?schema_version=1", Some(&officer)).await;
    assert_eq!(status, 200, "{first}");
    let ts = first["timestamp"].as_i64().unwrap();
    assert!(ts > 0);
    let cases = first["changes"]["cases"]["created"].as_array().unwrap();
    assert!(!cases.is_empty());
    let case = cases.iter().find(|c| c["status"] == "reported" && c["source"] != "satellite").unwrap().clone();
    assert!(case["lon"].is_f64() && case["lat"].is_f64(), "{case}");
    assert!(case["discovered_at"].is_i64(), "times are milliseconds: {case}");
    assert!(case["flags"].is_string(), "lists are JSON strings");
    assert!(case.get("_status").is_none() && case.get("location").is_none());
    assert_eq!(first["changes"]["towns"]["created"].as_array().unwrap().len(), 23);
    for t in ["cases", "inspections", "observations", "towns", "campaigns"] {
        assert!(first["changes"][t]["deleted"].is_array());
    }

    // Push: a new observation with a WatermelonDB id proposing a case, an edit with a status
    // change, and an edit of an immutable column.
    let case_id = case["id"].as_str().unwrap();
    let wm_id = "a1B2c3D4e5F6g7H8";
    let body = json!({"changes": {
        "observations": {"created": [{"id": wm_id, "lon": 117.2953, "lat": 39.7336, "accuracy_m": 5, "note": "新建彩钢房",
            "photos": "[]", "observed_at": 1_495_238_591_000_i64, "propose_violation_type": "built_without_approval", "_status": "created", "_changed": ""}],
            "updated": [], "deleted": []},
        "cases": {"created": [], "updated": [
            {"id": case_id, "address": "北台村东200米", "status": "registered", "_status": "updated", "_changed": "address,status"},
            {"id": cases.iter().find(|c| c["id"] != case_id).unwrap()["id"], "case_number": "X", "_status": "updated", "_changed": "case_number"}
        ], "deleted": []}
    }, "lastPulledAt": ts});
    let (status, resp) =
        app.post(&format!("/api/v1/sync/watermelon?last_pulled_at={ts}"), Some(&officer), body.clone()).await;
    assert_eq!(status, 200, "{resp}");
    let rejected = &resp["experimentalRejectedIds"];
    assert_eq!(rejected["cases"].as_array().unwrap().len(), 1, "{resp}");
    assert!(rejected.get("observations").is_none());

    // The same push again (lost response): nothing doubles.
    let before = app.fingerprint().await;
    let (status, _) = app.post(&format!("/api/v1/sync/watermelon?last_pulled_at={ts}"), Some(&officer), body).await;
    assert_eq!(status, 200);
    let after = app.fingerprint().await;
    assert_eq!(after.iter().find(|(k, _)| k == "cases"), before.iter().find(|(k, _)| k == "cases"));
    assert_eq!(after.iter().find(|(k, _)| k == "observations"), before.iter().find(|(k, _)| k == "observations"));

    // Pull since: the observation under its own id, the case with its new state.
    let (_, next) =
        app.get(&format!("/api/v1/sync/watermelon?last_pulled_at={ts}&schema_version=1"), Some(&officer)).await;
    assert!(ids(&next["changes"], "observations", "created").contains(&wm_id.to_owned()), "{next}");
    let updated: Vec<&Value> =
        next["changes"]["cases"]["updated"].as_array().unwrap().iter().filter(|c| c["id"] == case_id).collect();
    assert_eq!(updated.len(), 1, "{next}");
    assert_eq!(updated[0]["address"], "北台村东200米");
    assert_eq!(updated[0]["status"], "registered");
    let proposed: Vec<&Value> =
        next["changes"]["cases"]["created"].as_array().unwrap().iter().filter(|c| c["source"] == "patrol").collect();
    assert_eq!(proposed.len(), 1, "the observation's proposed case: {next}");

    // A schema migration that added a table asks for it whole.
    let ts2 = next["timestamp"].as_i64().unwrap();
    let migration = r#"{"from":1,"tables":["campaigns"],"columns":[]}"#;
    let (_, migrated) = app
        .get(
            &format!(
                "/api/v1/sync/watermelon?last_pulled_at={ts2}&schema_version=2&migration={}",
                urlencode(migration)
            ),
            Some(&officer),
        )
        .await;
    assert_eq!(migrated["changes"]["campaigns"]["created"].as_array().unwrap().len(), 1, "{migrated}");
    assert!(migrated["changes"]["cases"]["updated"].as_array().unwrap().is_empty());

    // A case leaving the town comes as deleted.
    let admin = app.token("admin").await;
    app.post(&format!("/api/v1/cases/{case_id}/reassign"), Some(&admin), json!({"town": "120115002", "note": "x"}))
        .await;
    let (_, gone) = app.get(&format!("/api/v1/sync/watermelon?last_pulled_at={ts2}"), Some(&officer)).await;
    assert!(ids(&gone["changes"], "cases", "deleted").contains(&case_id.to_owned()), "{gone}");
}

#[tokio::test]
async fn watermelon_bad_queries_are_refused() {
    let app = TestApp::spawn_demo().await;
    let token = app.token("inspector").await;
    landpatrol_tests::assert_error(
        &app.get("/api/v1/sync/watermelon?last_pulled_at=yesterday", Some(&token)).await,
        400,
        "invalid_query",
    );
    landpatrol_tests::assert_error(
        &app.get(
            &format!("/api/v1/sync/watermelon?last_pulled_at=5&migration={}", urlencode("{not json")),
            Some(&token),
        )
        .await,
        400,
        "invalid_query",
    );
    landpatrol_tests::assert_error(&app.get("/api/v1/sync/watermelon", None).await, 401, "unauthenticated");
}

#[tokio::test]
async fn watermelon_push_needs_a_device_bound_session() {
    let app = TestApp::spawn_demo().await;
    let token = app.token("inspector").await;
    let resp = app.post("/api/v1/sync/watermelon", Some(&token), json!({"changes": {}})).await;
    landpatrol_tests::assert_error(&resp, 422, "unknown_device");
}

fn urlencode(s: &str) -> String {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}
