//! WatermelonDB compatibility at the protocol level: the query and body
//! forms of WatermelonDB's documented client code, rows fitted to the
//! declared schema, phone-made ids in relation columns, nullable columns,
//! `created` vs `updated`, refusals that converge, alerts. The real
//! `@nozbe/watermelondb` package is driven against the binary by
//! `tests/clients/watermelondb` (see its README).

use landpatrol_server::sync::watermelon::{rows, schema};
use landpatrol_tests::TestApp;
use serde_json::{Value, json};

async fn pull(app: &TestApp, token: &str, last: Option<i64>) -> Value {
    let last = last.map_or_else(|| "null".to_owned(), |n| n.to_string());
    let (status, body) = app
        .get(&format!("/api/v1/sync/watermelon?last_pulled_at={last}&schema_version=1&migration=null"), Some(token))
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

/// A push as the documented `pushChanges` sends it: the bare changes, no JSON content type.
async fn push(app: &TestApp, token: &str, last: i64, changes: Value) -> Value {
    let (status, body) = app
        .raw(
            "POST",
            &format!("/api/v1/sync/watermelon?last_pulled_at={last}"),
            Some(token),
            "text/plain;charset=UTF-8",
            changes.to_string().into_bytes(),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

fn rows_of<'a>(p: &'a Value, table: &str, kind: &str) -> Vec<&'a Value> {
    p["changes"][table][kind].as_array().unwrap_or_else(|| panic!("{table}.{kind} in {p}")).iter().collect()
}

fn find<'a>(p: &'a Value, table: &str, kind: &str, id: &str) -> Option<&'a Value> {
    rows_of(p, table, kind).into_iter().find(|r| r["id"] == id || r.as_str() == Some(id))
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[tokio::test]
async fn the_documented_first_pull_gives_rows_of_the_declared_schema() {
    let app = TestApp::spawn_demo().await;
    let (officer, _) = app.device_session("officer-120115001").await;
    let first = pull(&app, &officer, None).await;
    let ts = first["timestamp"].as_i64().unwrap();
    assert!(ts > 0);
    for t in schema::TABLES {
        let changes = &first["changes"][t.name];
        assert!(changes["updated"].as_array().unwrap().is_empty(), "a first pull is all `created`: {}", t.name);
        assert!(changes["deleted"].as_array().unwrap().is_empty());
        for row in changes["created"].as_array().unwrap() {
            let mut keys: Vec<&str> = row.as_object().unwrap().keys().map(String::as_str).collect();
            keys.sort_unstable();
            let mut want: Vec<&str> =
                t.columns.iter().filter(|c| c.write != schema::Write::Client).map(|c| c.name).chain(["id"]).collect();
            want.sort_unstable();
            assert_eq!(keys, want, "{}: {row}", t.name);
            assert!(row.get("_status").is_none() && row.get("_changed").is_none());
        }
    }
    assert_eq!(rows_of(&first, "towns", "created").len(), 23);
    let cases = rows_of(&first, "cases", "created");
    let (rest_status, rest) = app.get("/api/v1/cases?limit=500", Some(&officer)).await;
    assert_eq!(rest_status, 200);
    assert_eq!(cases.len(), rest["items"].as_array().unwrap().len(), "the same cases as the REST API");
    let case = cases[0];
    assert!(case["lon"].is_f64() && case["crs"] == "wgs84" && case["discovered_at"].is_i64(), "{case}");
    assert!(case["flags"].is_string() && case["disciplinary_actions"].is_string());
    assert!(!rows_of(&first, "alerts", "created").is_empty(), "officers get their alerts");

    // Every field of every native record is carried or deliberately left out.
    for t in schema::TABLES.iter().filter(|t| t.native.is_some()) {
        let page = app.pull_table(&officer, t.native.unwrap().as_str(), None).await;
        for c in page["changes"].as_array().unwrap() {
            if let Some(record) = c.get("record") {
                assert_eq!(rows::unmapped(t, record), Vec::<String>::new(), "{}: {record}", t.name);
            }
        }
    }

    // Nothing changed: a second pull is empty, with the same timestamp.
    let again = pull(&app, &officer, Some(ts)).await;
    for t in schema::TABLES {
        for kind in ["created", "updated", "deleted"] {
            assert!(rows_of(&again, t.name, kind).is_empty(), "{}.{kind}: {again}", t.name);
        }
    }
    assert_eq!(again["timestamp"], ts);

    // An inspector pulls neither alerts nor land records.
    let inspector = app.token("inspector").await;
    let p = pull(&app, &inspector, None).await;
    assert!(p["changes"].get("alerts").is_none() && p["changes"].get("parcels").is_none(), "{}", p["changes"]);
    let only = app.get("/api/v1/sync/watermelon?last_pulled_at=null&tables=towns,drafts", Some(&inspector)).await.1;
    assert_eq!(only["changes"].as_object().unwrap().keys().collect::<Vec<_>>(), ["towns"]);
}

#[tokio::test]
async fn phone_made_records_link_by_their_own_ids_and_may_leave_columns_null() {
    let app = TestApp::spawn_demo().await;
    let (inspector, _) = app.device_session("inspector").await;
    let first = pull(&app, &inspector, None).await;
    let ts = first["timestamp"].as_i64().unwrap();
    let t = now_ms();
    let (case_id, insp_id, obs_id) = ("caseAAAAAAAAAAA1", "inspBBBBBBBBBBB1", "obsvCCCCCCCCCCC1");
    let changes = json!({
        "cases": {"created": [{"id": case_id, "source": "patrol", "status": "reported", "lon": 117.2953, "lat": 39.7336,
            "accuracy_m": 6, "crs": "wgs84", "description": "新建彩钢房", "address": "北台村东", "land_class": null,
            "violation_type": "built_without_approval", "discovered_at": t, "disciplinary_actions": "[]",
            "judicial_referral": false, "publicised": false, "case_number": "", "flags": "", "photos": null,
            "created_at": t, "updated_at": t, "_status": "created", "_changed": ""}], "updated": [], "deleted": []},
        "inspections": {"created": [{"id": insp_id, "case_id": case_id, "kind": "rectification_check", "result": "failed",
            "note": "no GPS fix in the shed", "lon": null, "lat": null, "accuracy_m": null, "crs": null, "photos": null,
            "inspected_at": t, "created_at": t, "updated_at": t, "_status": "created", "_changed": ""}], "updated": [], "deleted": []},
        "observations": {"created": [{"id": obs_id, "inspection_id": insp_id, "case_id": case_id, "lon": 117.2954,
            "lat": 39.7337, "accuracy_m": null, "note": "东侧新增围墙", "photos": null, "observed_at": t,
            "propose_violation_type": "", "created_at": t, "updated_at": t, "_status": "created", "_changed": ""}], "updated": [], "deleted": []}
    });
    let resp = push(&app, &inspector, ts, changes.clone()).await;
    assert_eq!(resp["experimentalRejectedIds"], json!({}), "{resp}");

    // Reachable through REST by the ids the phone knows.
    let (status, case) = app.get(&format!("/api/v1/cases/{case_id}"), Some(&inspector)).await;
    assert_eq!(status, 200, "{case}");
    assert_eq!(case["case_number"].as_str().unwrap().len(), "BD-2026-00001".len());
    assert_eq!(
        case["created_at"],
        chrono::DateTime::from_timestamp_millis(t)
            .unwrap()
            .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
            .replace("+00:00", "Z")
    );
    let (_, inspections) = app.get(&format!("/api/v1/cases/{case_id}/inspections"), Some(&inspector)).await;
    assert_eq!(inspections.as_array().unwrap().len(), 1, "{inspections}");
    assert!(inspections[0]["location"].is_null());

    // The next pull brings the server-made fields of the new case, under
    // `updated` (the phone has it), with the phone's ids in every relation.
    let next = pull(&app, &inspector, Some(ts)).await;
    let c = find(&next, "cases", "updated", case_id).unwrap_or_else(|| panic!("{next}"));
    assert_eq!(c["case_number"], case["case_number"]);
    assert!(find(&next, "cases", "created", case_id).is_none());
    for table in ["inspections", "observations"] {
        for kind in ["created", "updated"] {
            assert!(rows_of(&next, table, kind).is_empty(), "pushed as the server has them: not sent back: {next}");
        }
    }
    // Another phone of the inspector gets them with the phone-made ids in every relation.
    let (other, _) = app.device_session("inspector").await;
    let fresh = pull(&app, &other, None).await;
    let o = find(&fresh, "observations", "created", obs_id).unwrap_or_else(|| panic!("{fresh}"));
    assert_eq!(o["inspection_id"], insp_id);
    assert_eq!(o["case_id"], case_id);
    assert_eq!(o["photos"], "[]");
    assert_eq!(o["created_at"], t);
    let i = find(&fresh, "inspections", "created", insp_id).unwrap();
    assert_eq!(i["case_id"], case_id);
    assert!(i["lon"].is_null() && i["lat"].is_null() && i["crs"].is_null(), "{i}");

    // The same push again (its answer was lost): nothing changes.
    let before = app.fingerprint().await;
    let again = push(&app, &inspector, ts, changes).await;
    assert_eq!(again["experimentalRejectedIds"], json!({}));
    assert_eq!(app.fingerprint().await, before);
}

#[tokio::test]
async fn created_and_edited_since_the_last_pull_is_created_for_another_device() {
    let app = TestApp::spawn_demo().await;
    let (a, _) = app.device_session("officer-120115001").await;
    let (b, _) = app.device_session("officer-120115001").await;
    let ts_b = pull(&app, &b, None).await["timestamp"].as_i64().unwrap();
    let made = patrol_case(&app, &a).await;
    let id = made["id"].as_str().unwrap();
    let (status, _) =
        app.patch(&format!("/api/v1/cases/{id}"), Some(&a), json!({"fields": {"address": "北台村"}})).await;
    assert_eq!(status, 200);
    let p = pull(&app, &b, Some(ts_b)).await;
    assert!(find(&p, "cases", "created", id).is_some(), "{p}");
    assert!(find(&p, "cases", "updated", id).is_none());
}

#[tokio::test]
async fn a_refused_transition_is_undone_on_the_phone_and_explained() {
    let app = TestApp::spawn_demo().await;
    let (inspector, _) = app.device_session("inspector").await;
    let first = pull(&app, &inspector, None).await;
    let ts = first["timestamp"].as_i64().unwrap();
    let case = rows_of(&first, "cases", "created")
        .into_iter()
        .find(|c| c["status"] == "reported" && c["source"] == "patrol")
        .unwrap()
        .clone();
    let id = case["id"].as_str().unwrap();
    let mut row = case.as_object().unwrap().clone();
    row.insert("status".into(), json!("registered"));
    row.insert("address".into(), json!("村委会北侧"));
    row.insert("updated_at".into(), json!(now_ms()));
    row.insert("_status".into(), json!("updated"));
    row.insert("_changed".into(), json!("status,address,updated_at"));
    let resp = push(&app, &inspector, ts, json!({"cases": {"created": [], "updated": [row], "deleted": []}})).await;
    assert_eq!(resp["experimentalRejectedIds"], json!({}), "an update is not kept unsynced: {resp}");
    assert_eq!(resp["resent"], 1);

    let next = pull(&app, &inspector, Some(ts)).await;
    let back = find(&next, "cases", "updated", id).unwrap_or_else(|| panic!("{next}"));
    assert_eq!(back["status"], "reported", "the server's state comes back");
    assert_eq!(back["address"], "村委会北侧", "the allowed part of the change was applied");
    let rejection = rows_of(&next, "sync_rejections", "created");
    assert_eq!(rejection.len(), 1, "{next}");
    assert_eq!(rejection[0]["record_id"], id);
    assert_eq!(rejection[0]["code"], "transition_forbidden");
    assert_eq!(rejection[0]["table_name"], "cases");

    // Nothing left to do.
    let ts2 = next["timestamp"].as_i64().unwrap();
    let idle = pull(&app, &inspector, Some(ts2)).await;
    assert!(
        rows_of(&idle, "cases", "updated").is_empty() && rows_of(&idle, "sync_rejections", "created").is_empty(),
        "{idle}"
    );
}

#[tokio::test]
async fn officers_acknowledge_alerts_through_the_push() {
    let app = TestApp::spawn_demo().await;
    let (officer, _) = app.device_session("officer-120115001").await;
    let first = pull(&app, &officer, None).await;
    let ts = first["timestamp"].as_i64().unwrap();
    let alert = rows_of(&first, "alerts", "created").into_iter().find(|a| a["acked_at"].is_null()).unwrap().clone();
    let id = alert["id"].as_str().unwrap();
    let mut row = alert.as_object().unwrap().clone();
    row.insert("acked_at".into(), json!(now_ms()));
    row.insert("_status".into(), json!("updated"));
    row.insert("_changed".into(), json!("acked_at"));
    push(&app, &officer, ts, json!({"alerts": {"created": [], "updated": [row], "deleted": []}})).await;
    let (_, rest) = app.get(&format!("/api/v1/alerts/{id}"), Some(&officer)).await;
    assert!(rest["acked_at"].is_string(), "{rest}");
    let next = pull(&app, &officer, Some(ts)).await;
    assert!(find(&next, "alerts", "updated", id).is_some_and(|a| a["acked_by"].is_string()), "{next}");
}

#[tokio::test]
async fn bad_watermelon_requests_are_refused_and_change_nothing() {
    let app = TestApp::spawn_demo().await;
    let (token, _) = app.device_session("inspector").await;
    for q in ["last_pulled_at=yesterday", "last_pulled_at=-1", "last_pulled_at=5&migration=%7Bnot", "schema_version=x"]
    {
        landpatrol_tests::assert_error(
            &app.get(&format!("/api/v1/sync/watermelon?{q}"), Some(&token)).await,
            400,
            "invalid_query",
        );
    }
    landpatrol_tests::assert_error(&app.get("/api/v1/sync/watermelon", None).await, 401, "unauthenticated");
    let before = app.fingerprint().await;
    let post =
        |body: &'static [u8]| app.raw("POST", "/api/v1/sync/watermelon", Some(&token), "text/plain", body.to_vec());
    landpatrol_tests::assert_error(&post(b"{not json").await, 400, "invalid_json");
    landpatrol_tests::assert_error(&post(b"[]").await, 400, "invalid_json");
    landpatrol_tests::assert_error(&post(br#"{"cases": {"created": 5}}"#).await, 400, "invalid_json");
    landpatrol_tests::assert_error(&post(br#"{"nope": {"created": [{"id": "x"}]}}"#).await, 422, "unknown_table");
    // A row the rules refuse is refused alone: the towns table is read-only.
    let (status, body) = post(
        br#"{"towns": {"created": [], "updated": [{"id": "x", "name": "y", "_changed": "name"}], "deleted": []}}"#,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(app.fingerprint().await.iter().find(|(t, _)| t == "cases"), before.iter().find(|(t, _)| t == "cases"));
    let plain = app.token("inspector").await;
    landpatrol_tests::assert_error(
        &app.raw("POST", "/api/v1/sync/watermelon", Some(&plain), "text/plain", b"{}".to_vec()).await,
        422,
        "unknown_device",
    );
}

#[test]
fn the_guide_prints_the_schema_the_server_declares() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../mobile-api-docs/guides/watermelondb.md");
    let committed = std::fs::read_to_string(&path).unwrap();
    let fresh = schema::guide(&committed);
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &fresh).unwrap();
    }
    assert!(
        committed == fresh,
        "mobile-api-docs/guides/watermelondb.md is stale: run `UPDATE_OPENAPI=1 cargo test -p landpatrol-tests the_guide_prints` or `landpatrol openapi`"
    );
}

#[tokio::test]
async fn the_later_edit_wins_and_a_clock_far_ahead_does_not() {
    let app = TestApp::spawn_demo().await;
    let (a, _) = app.device_session("officer-120115001").await;
    let (b, _) = app.device_session("officer-120115001").await;
    let made = patrol_case(&app, &a).await;
    let id = made["sync_id"].as_str().unwrap().to_owned();
    let ts_a = pull(&app, &a, None).await["timestamp"].as_i64().unwrap();
    let first = pull(&app, &b, None).await;
    let ts_b = first["timestamp"].as_i64().unwrap();
    let case = find(&first, "cases", "created", &id).unwrap().clone();
    let edit = |address: &str, at: i64| {
        let mut row = case.as_object().unwrap().clone();
        row.insert("address".into(), json!(address));
        row.insert("updated_at".into(), json!(at));
        row.insert("_status".into(), json!("updated"));
        row.insert("_changed".into(), json!("address,updated_at"));
        json!({"cases": {"created": [], "updated": [row], "deleted": []}})
    };
    let address = || async { app.get(&format!("/api/v1/cases/{id}"), Some(&a)).await.1["address"].clone() };

    // Both edited offline after the case was made, b after a; b syncs first and a's
    // older edit is kept out.
    let t = now_ms();
    push(&app, &b, ts_b, edit("乙", t + 2)).await;
    let resp = push(&app, &a, ts_a, edit("甲", t + 1)).await;
    assert_eq!(address().await, "乙");
    assert_eq!(resp["resent"], 1, "a's phone gets the winning value back: {resp}");
    let back = pull(&app, &a, Some(ts_a)).await;
    assert_eq!(find(&back, "cases", "updated", &id).unwrap()["address"], "乙", "{back}");

    // A phone whose clock is a day ahead is taken at the server's time: its edit is
    // applied, but an edit made after it on a phone with a right clock still wins.
    let ts_a = back["timestamp"].as_i64().unwrap();
    push(&app, &a, ts_a, edit("甲, clock a day ahead", now_ms() + 86_400_000)).await;
    assert_eq!(address().await, "甲, clock a day ahead");
    let (_, rest) = app.get(&format!("/api/v1/cases/{id}"), Some(&a)).await;
    let updated =
        chrono::DateTime::parse_from_rfc3339(rest["updated_at"].as_str().unwrap()).unwrap().timestamp_millis();
    assert!(updated <= now_ms(), "updated_at is not taken from the future: {rest}");
    let ts_b = pull(&app, &b, Some(ts_b)).await["timestamp"].as_i64().unwrap();
    push(&app, &b, ts_b, edit("乙, later, right clock", now_ms() + 1)).await;
    assert_eq!(address().await, "乙, later, right clock");
}

/// A patrol case made through REST by `token` at a point of town 120115001.
async fn patrol_case(app: &TestApp, token: &str) -> Value {
    let (status, made) = app
        .post(
            "/api/v1/cases",
            Some(token),
            json!({"source": "patrol", "location": {"lon": 117.2953, "lat": 39.7336, "crs": "wgs84"}, "description": "x"}),
        )
        .await;
    assert_eq!(status, 201, "{made}");
    made
}
