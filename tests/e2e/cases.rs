//! Cases: creation, deadlines, numbers, the lifecycle with its rules, field
//! patches, the ledger, filters, GeoJSON export and patch import.

use landpatrol_tests::{TestApp, assert_error};
use serde_json::{Value, json};

/// A point in 海滨街道 (北台村).
const HAIBIN: (f64, f64) = (117.295129, 39.733503);
/// A point in 周良街道 (尹家铺村).
const ZHOULIANG: (f64, f64) = (117.341136, 39.557182);

async fn create(app: &TestApp, token: &str, body: Value) -> Value {
    let (status, case) = app.post("/api/v1/cases", Some(token), body).await;
    assert_eq!(status, 201, "{case}");
    case
}

async fn step(app: &TestApp, token: &str, id: &str, from: &str, to: &str) -> (reqwest::StatusCode, Value) {
    app.post(&format!("/api/v1/cases/{id}/transitions"), Some(token), json!({"from": from, "to": to, "note": "step"}))
        .await
}

fn patrol_at(p: (f64, f64)) -> Value {
    json!({"source": "patrol", "location": {"lon": p.0, "lat": p.1, "crs": "wgs84", "accuracy_m": 5}, "description": "新建彩钢房", "discovered_at": "2017-05-20T00:03:11Z"})
}

#[tokio::test]
async fn creation_sets_number_deadline_and_first_ledger_entry() {
    let app = TestApp::spawn_demo().await;
    let inspector = app.token("inspector").await;
    let admin = app.token("admin").await;
    let case = create(&app, &inspector, patrol_at(HAIBIN)).await;
    assert_eq!(case["status"], "reported");
    assert_eq!(case["source"], "patrol");
    assert_eq!(case["deadline"], "2017-05-27", "patrol: discovery + 7 days (configurable)");
    assert_eq!(case["overdue"], true);
    let number = case["case_number"].as_str().unwrap();
    assert!(number.starts_with("BD-2017-"), "{number}");

    let sat = create(
        &app,
        &admin,
        json!({"source": "satellite", "location": {"lon": ZHOULIANG.0, "lat": ZHOULIANG.1}, "discovered_at": "2017-03-01T00:00:00Z"}),
    )
    .await;
    assert_eq!(sat["deadline"], "2017-05-31");
    let legacy =
        create(&app, &admin, json!({"source": "legacy", "location": {"lon": ZHOULIANG.0, "lat": ZHOULIANG.1}, "discovered_at": "2017-03-01T00:00:00Z"})).await;
    assert_eq!(legacy["deadline"], "2017-08-15");
    let idle = create(&app, &admin, json!({"source": "idle_land", "location": {"lon": ZHOULIANG.0, "lat": ZHOULIANG.1}, "discovered_at": "2017-03-01T00:00:00Z"})).await;
    assert_eq!(idle["deadline"], "2017-10-31");
    // Outside any campaign: accepted, flagged, no deadline.
    let late = create(&app, &admin, json!({"source": "legacy", "location": {"lon": ZHOULIANG.0, "lat": ZHOULIANG.1}, "discovered_at": "2019-03-01T00:00:00Z"})).await;
    assert_eq!(late["deadline"], Value::Null);
    assert!(late["flags"].as_array().unwrap().contains(&json!("no_campaign")));
    assert!(late["case_number"].as_str().unwrap().starts_with("BD-2019-00001"), "numbers restart each year");

    // Numbers are unique.
    let (_, page) = app.get("/api/v1/cases?limit=500", Some(&admin)).await;
    let mut numbers: Vec<&str> =
        page["items"].as_array().unwrap().iter().map(|c| c["case_number"].as_str().unwrap()).collect();
    let n = numbers.len();
    numbers.sort();
    numbers.dedup();
    assert_eq!(numbers.len(), n);

    let (status, detail) = app.get(&format!("/api/v1/cases/{}", case["id"].as_str().unwrap()), Some(&inspector)).await;
    assert_eq!(status, 200);
    assert_eq!(detail["history"].as_array().unwrap().len(), 1);
    assert_eq!(detail["history"][0]["action"], "created");
    assert_eq!(detail["history"][0]["actor_name"], "inspector");
    assert_eq!(detail["history"][0]["to_status"], "reported");
}

#[tokio::test]
async fn a_retried_create_returns_the_same_case() {
    let app = TestApp::spawn_demo().await;
    let inspector = app.token("inspector").await;
    let id = uuid::Uuid::now_v7().to_string();
    let mut body = patrol_at(HAIBIN);
    body["id"] = json!(id);
    let first = create(&app, &inspector, body.clone()).await;
    let before = app.fingerprint().await;
    let (status, second) = app.post("/api/v1/cases", Some(&inspector), body.clone()).await;
    assert_eq!(status, 200);
    assert_eq!(second["case_number"], first["case_number"]);
    assert_eq!(app.fingerprint().await, before, "the retry changed nothing");
    let admin = app.token("admin").await;
    assert_error(&app.post("/api/v1/cases", Some(&admin), body).await, 409, "duplicate_record");
}

#[tokio::test]
async fn full_lifecycle_with_roles_and_ledger() {
    let app = TestApp::spawn_demo().await;
    let inspector = app.token("inspector").await;
    let officer = app.token("officer-120115001").await;
    let verifier = app.token("verifier").await;
    let admin = app.token("admin").await;
    let case = create(&app, &inspector, patrol_at(HAIBIN)).await;
    let id = case["id"].as_str().unwrap();
    assert_eq!(case["allowed_transitions"], json!([]), "an inspector can not register");

    assert_error(&step(&app, &inspector, id, "reported", "registered").await, 403, "transition_forbidden");
    assert_error(&step(&app, &verifier, id, "reported", "registered").await, 403, "transition_forbidden");
    assert_error(&step(&app, &officer, id, "reported", "closed").await, 422, "invalid_transition");
    let (status, c) = step(&app, &officer, id, "reported", "registered").await;
    assert_eq!(status, 200, "{c}");
    assert_eq!(c["status"], "registered");
    assert_eq!(c["rev"], 2);
    // A stale `from` is a conflict, never a silent overwrite.
    let stale = step(&app, &officer, id, "reported", "registered").await;
    assert_error(&stale, 409, "transition_conflict");
    assert_eq!(stale.1["error"]["details"]["current"], "registered");

    assert_eq!(step(&app, &officer, id, "registered", "rectifying").await.0, 200);
    assert_eq!(step(&app, &inspector, id, "rectifying", "rectified").await.0, 200);
    assert_error(&step(&app, &officer, id, "rectified", "accepted").await, 403, "transition_forbidden");
    // Failed acceptance goes back to rectifying.
    assert_eq!(step(&app, &verifier, id, "rectified", "rectifying").await.0, 200);
    assert_eq!(step(&app, &officer, id, "rectifying", "rectified").await.0, 200);
    assert_eq!(step(&app, &verifier, id, "rectified", "accepted").await.0, 200);
    assert_error(&step(&app, &officer, id, "accepted", "closed").await, 403, "transition_forbidden");
    let (status, closed) = step(&app, &admin, id, "accepted", "closed").await;
    assert_eq!(status, 200);
    assert_eq!(closed["status"], "closed");
    assert_eq!(closed["overdue"], false);

    let (_, history) = app.get(&format!("/api/v1/cases/{id}/history"), Some(&admin)).await;
    let steps: Vec<(String, String, String)> = history
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["action"] == "transition")
        .map(|h| {
            (
                h["from_status"].as_str().unwrap().into(),
                h["to_status"].as_str().unwrap().into(),
                h["actor_name"].as_str().unwrap().into(),
            )
        })
        .collect();
    let expected = [
        ("reported", "registered", "officer-120115001"),
        ("registered", "rectifying", "officer-120115001"),
        ("rectifying", "rectified", "inspector"),
        ("rectified", "rectifying", "verifier"),
        ("rectifying", "rectified", "officer-120115001"),
        ("rectified", "accepted", "verifier"),
        ("accepted", "closed", "admin"),
    ];
    assert_eq!(steps.len(), expected.len());
    for (got, want) in steps.iter().zip(expected) {
        assert_eq!((got.0.as_str(), got.1.as_str(), got.2.as_str()), want);
    }
    // A closed case is off limits for edits.
    assert_error(
        &app.patch(&format!("/api/v1/cases/{id}"), Some(&admin), json!({"fields": {"description": "x"}})).await,
        422,
        "validation_failed",
    );
}

#[tokio::test]
async fn a_satellite_lead_needs_an_illegal_site_check_before_registration() {
    let app = TestApp::spawn_demo().await;
    let admin = app.token("admin").await;
    let officer = app.token("officer-120115006").await;
    let inspector = app.token("inspector").await;
    let lead =
        create(&app, &admin, json!({"source": "satellite", "location": {"lon": ZHOULIANG.0, "lat": ZHOULIANG.1}}))
            .await;
    let id = lead["id"].as_str().unwrap();
    assert_eq!(lead["town"]["code"], "120115006");
    assert_error(&step(&app, &officer, id, "reported", "registered").await, 422, "site_check_required");

    let check = |result: &str| json!({"kind": "site_check", "result": result, "note": "现场核查", "photos": ["9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08"]});
    let (status, insp) =
        app.post(&format!("/api/v1/cases/{id}/inspections"), Some(&inspector), check("false_change")).await;
    assert_eq!(status, 201, "{insp}");
    assert_eq!(insp["photos"][0], "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");
    assert_error(&step(&app, &officer, id, "reported", "registered").await, 422, "site_check_required");

    let (status, _) = app.post(&format!("/api/v1/cases/{id}/inspections"), Some(&inspector), check("illegal")).await;
    assert_eq!(status, 201);
    let (status, c) = step(&app, &officer, id, "reported", "registered").await;
    assert_eq!(status, 200, "{c}");
    assert_eq!(c["site_check_result"], "illegal");

    let (_, list) = app.get(&format!("/api/v1/cases/{id}/inspections"), Some(&officer)).await;
    assert_eq!(list.as_array().unwrap().len(), 2);
    // Results must fit the kind; acceptance is the verifier's.
    assert_error(
        &app.post(
            &format!("/api/v1/cases/{id}/inspections"),
            Some(&inspector),
            json!({"kind": "site_check", "result": "passed"}),
        )
        .await,
        422,
        "validation_failed",
    );
    assert_error(
        &app.post(
            &format!("/api/v1/cases/{id}/inspections"),
            Some(&inspector),
            json!({"kind": "acceptance", "result": "passed"}),
        )
        .await,
        403,
        "forbidden",
    );
    assert_error(
        &app.post(
            &format!("/api/v1/cases/{id}/inspections"),
            Some(&inspector),
            json!({"kind": "patrol", "photos": ["abc"]}),
        )
        .await,
        422,
        "validation_failed",
    );
}

#[tokio::test]
async fn forced_demolition_needs_notice_and_leadership_report() {
    let app = TestApp::spawn_demo().await;
    let officer = app.token("officer-120115001").await;
    let case =
        create(&app, &officer, json!({"source": "legacy", "location": {"lon": HAIBIN.0, "lat": HAIBIN.1}})).await;
    let id = case["id"].as_str().unwrap();
    assert_eq!(step(&app, &officer, id, "reported", "registered").await.0, 200);
    let (status, c) = app
        .patch(
            &format!("/api/v1/cases/{id}"),
            Some(&officer),
            json!({"fields": {"land_class": "basic_farmland", "disposition": "demolish_forced"}}),
        )
        .await;
    assert_eq!(status, 200, "{c}");
    assert_eq!(step(&app, &officer, id, "registered", "rectifying").await.0, 200);
    assert_error(&step(&app, &officer, id, "rectifying", "rectified").await, 422, "forced_demolition_unprepared");
    app.patch(
        &format!("/api/v1/cases/{id}"),
        Some(&officer),
        json!({"fields": {"notice_served_at": "2017-06-01T02:00:00Z"}}),
    )
    .await;
    assert_error(&step(&app, &officer, id, "rectifying", "rectified").await, 422, "forced_demolition_unprepared");
    app.patch(
        &format!("/api/v1/cases/{id}"),
        Some(&officer),
        json!({"fields": {"leadership_reported_at": "2017-06-02T02:00:00Z"}}),
    )
    .await;
    assert_eq!(step(&app, &officer, id, "rectifying", "rectified").await.0, 200);
    // Legalisation only fits land inside the plan.
    assert_error(
        &app.patch(
            &format!("/api/v1/cases/{id}"),
            Some(&officer),
            json!({"fields": {"disposition": "legalise_after_penalty"}}),
        )
        .await,
        422,
        "validation_failed",
    );
}

#[tokio::test]
async fn dismissal_needs_a_reason() {
    let app = TestApp::spawn_demo().await;
    let officer = app.token("officer-120115001").await;
    let case =
        create(&app, &officer, json!({"source": "patrol", "location": {"lon": HAIBIN.0, "lat": HAIBIN.1}})).await;
    let id = case["id"].as_str().unwrap();
    let resp = app
        .post(
            &format!("/api/v1/cases/{id}/transitions"),
            Some(&officer),
            json!({"from": "reported", "to": "dismissed"}),
        )
        .await;
    assert_error(&resp, 422, "reason_required");
    let (status, c) = app
        .post(
            &format!("/api/v1/cases/{id}/transitions"),
            Some(&officer),
            json!({"from": "reported", "to": "dismissed", "note": "合法用地"}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(c["dismiss_reason"], "合法用地");
}

#[tokio::test]
async fn patches_change_only_named_fields_and_are_ledgered() {
    let app = TestApp::spawn_demo().await;
    let officer = app.token("officer-120115001").await;
    let case = create(&app, &officer, patrol_at(HAIBIN)).await;
    let id = case["id"].as_str().unwrap();
    let path = format!("/api/v1/cases/{id}");

    let (status, c) = app
        .patch(
            &path,
            Some(&officer),
            json!({"base_rev": 1, "fields": {"address": "北台村东200米", "confiscated_gains_fen": 1250000, "disciplinary_actions": ["村支书诫勉谈话"], "judicial_referral": true}}),
        )
        .await;
    assert_eq!(status, 200, "{c}");
    assert_eq!(c["rev"], 2);
    assert_eq!(c["address"], "北台村东200米");
    assert_eq!(c["description"], "新建彩钢房", "unnamed fields untouched");
    assert_eq!(c["investigation"]["confiscated_gains_fen"], 1250000);
    assert_eq!(c["investigation"]["disciplinary_actions"], json!(["村支书诫勉谈话"]));
    assert_eq!(c["investigation"]["judicial_referral"], true);

    let resp = app.patch(&path, Some(&officer), json!({"base_rev": 1, "fields": {"address": "x"}})).await;
    assert_error(&resp, 409, "stale_revision");
    assert_eq!(resp.1["error"]["details"]["current_rev"], 2);
    for field in ["id", "source", "case_number", "created_by", "town_id", "deadline", "rev"] {
        let resp = app.patch(&path, Some(&officer), json!({"fields": {field: "x"}})).await;
        assert_error(&resp, 422, "immutable_field");
        assert_eq!(resp.1["error"]["details"]["field"], field);
    }
    assert_error(
        &app.patch(&path, Some(&officer), json!({"fields": {"status": "closed"}})).await,
        422,
        "status_via_transition",
    );
    assert_error(
        &app.patch(&path, Some(&officer), json!({"fields": {"colour": "red"}})).await,
        422,
        "validation_failed",
    );
    assert_error(
        &app.patch(&path, Some(&officer), json!({"fields": {"land_class": "moon"}})).await,
        422,
        "validation_failed",
    );
    assert_error(
        &app.patch(&path, Some(&officer), json!({"fields": {"confiscated_gains_fen": -5}})).await,
        422,
        "validation_failed",
    );
    assert_error(&app.patch(&path, Some(&officer), json!({"fields": {}})).await, 422, "validation_failed");
    let verifier = app.token("verifier").await;
    assert_error(&app.patch(&path, Some(&verifier), json!({"fields": {"address": "y"}})).await, 403, "forbidden");

    // The ledger has before and after of exactly what changed.
    let (_, history) = app.get(&format!("{path}/history"), Some(&officer)).await;
    let h = history.as_array().unwrap();
    assert_eq!(h.len(), 2, "{history}");
    assert_eq!(h[1]["action"], "updated");
    assert_eq!(h[1]["before"]["address"], "");
    assert_eq!(h[1]["after"]["address"], "北台村东200米");
    assert!(h[1]["after"].get("description").is_none());

    // A patch that changes nothing is not a revision.
    let (_, same) = app.patch(&path, Some(&officer), json!({"fields": {"address": "北台村东200米"}})).await;
    assert_eq!(same["rev"], 2);
}

#[tokio::test]
async fn reassignment_is_recorded_and_moves_scope() {
    let app = TestApp::spawn_demo().await;
    let haibin = app.token("officer-120115001").await;
    let baoping = app.token("officer-120115002").await;
    let case = create(&app, &haibin, patrol_at(HAIBIN)).await;
    let id = case["id"].as_str().unwrap();
    assert_error(
        &app.post(&format!("/api/v1/cases/{id}/reassign"), Some(&haibin), json!({"town": "120115002", "note": ""}))
            .await,
        422,
        "reason_required",
    );
    assert_error(
        &app.post(&format!("/api/v1/cases/{id}/reassign"), Some(&haibin), json!({"town": "999", "note": "x"})).await,
        422,
        "unknown_town",
    );
    let (status, c) = app
        .post(
            &format!("/api/v1/cases/{id}/reassign"),
            Some(&haibin),
            json!({"town": "120115002", "note": "路西属宝平"}),
        )
        .await;
    assert_eq!(status, 200, "{c}");
    assert_eq!(c["town"]["code"], "120115002");
    assert_error(&app.get(&format!("/api/v1/cases/{id}"), Some(&haibin)).await, 404, "not_found");
    let (status, detail) = app.get(&format!("/api/v1/cases/{id}"), Some(&baoping)).await;
    assert_eq!(status, 200);
    let last = detail["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["action"], "reassigned");
    assert_eq!(last["before"]["town_id"], landpatrol_tests::town_id("120115001"));
    assert_eq!(last["after"]["town_id"], landpatrol_tests::town_id("120115002"));
    assert_eq!(last["note"], "路西属宝平");
}

#[tokio::test]
async fn filters_bbox_overdue_and_paging() {
    let app = TestApp::spawn_demo().await;
    let admin = app.token("admin").await;
    let (_, all) = app.get("/api/v1/cases?limit=500", Some(&admin)).await;
    let total = all["items"].as_array().unwrap().len();
    assert_eq!(total, 16, "the demo's dozen cases and the four its 2017 idle-land sweeps opened");

    let count = |v: &Value| v["items"].as_array().unwrap().len();
    let (_, sat) = app.get("/api/v1/cases?source=satellite", Some(&admin)).await;
    assert!(sat["items"].as_array().unwrap().iter().all(|c| c["source"] == "satellite"));
    assert_eq!(count(&sat), 3);
    let (_, two) = app.get("/api/v1/cases?status=reported,closed", Some(&admin)).await;
    assert!(two["items"].as_array().unwrap().iter().all(|c| c["status"] == "reported" || c["status"] == "closed"));
    let (_, town) = app.get("/api/v1/cases?town=120115006", Some(&admin)).await;
    assert!(town["items"].as_array().unwrap().iter().all(|c| c["town"]["code"] == "120115006"));
    assert!(count(&town) >= 3);
    let (_, overdue) = app.get("/api/v1/cases?overdue=true", Some(&admin)).await;
    let (_, not_overdue) = app.get("/api/v1/cases?overdue=false", Some(&admin)).await;
    assert!(overdue["items"].as_array().unwrap().iter().all(|c| c["overdue"] == true));
    assert!(not_overdue["items"].as_array().unwrap().iter().all(|c| c["overdue"] == false));
    assert_eq!(count(&overdue) + count(&not_overdue), total);
    assert!(count(&overdue) > 0 && count(&not_overdue) > 0);
    let (_, boxed) = app.get("/api/v1/cases?bbox=117.28,39.72,117.32,39.75", Some(&admin)).await;
    for c in boxed["items"].as_array().unwrap() {
        let (lon, lat) = (c["location"]["lon"].as_f64().unwrap(), c["location"]["lat"].as_f64().unwrap());
        assert!((117.28..=117.32).contains(&lon) && (39.72..=39.75).contains(&lat));
    }
    assert!(count(&boxed) >= 2);

    // Paging walks every case once.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/cases?limit=5&cursor={c}"),
            None => "/api/v1/cases?limit=5".to_owned(),
        };
        let (status, page) = app.get(&path, Some(&admin)).await;
        assert_eq!(status, 200);
        seen.extend(page["items"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap().to_owned()));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), total);
    seen.dedup();
    assert_eq!(seen.len(), total);
}

#[tokio::test]
async fn geojson_export_for_gis() {
    let app = TestApp::spawn_demo().await;
    let officer = app.token("officer-120115006").await;
    let resp = app.client.get(app.url("/api/v1/cases.geojson")).bearer_auth(&officer).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/geo+json");
    let doc: Value = resp.json().await.unwrap();
    assert_eq!(doc["type"], "FeatureCollection");
    let features = doc["features"].as_array().unwrap();
    assert!(!features.is_empty());
    for f in features {
        assert_eq!(f["properties"]["town_code"], "120115006", "only the officer's town");
        let kind = f["geometry"]["type"].as_str().unwrap();
        assert!(kind == "Point" || kind == "Polygon");
        assert!(f["properties"]["case_number"].is_string());
    }
    assert!(features.iter().any(|f| f["geometry"]["type"] == "Polygon"), "patches export their polygon");
}

#[tokio::test]
async fn patch_import_routes_by_majority_area_and_is_idempotent() {
    let app = TestApp::spawn_demo().await;
    let admin = app.token("admin").await;
    // A ~100 m square at 北台村 (海滨街道), one straddling nothing far away, and a MultiPolygon at 尹家铺村.
    let (a, b) = HAIBIN;
    let (c, d) = ZHOULIANG;
    let h = 0.00045;
    let doc = json!({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"patch_id": "WP-2017-001", "description": "新增建设用地"},
         "geometry": {"type": "Polygon", "coordinates": [[[a - h, b - h], [a + h, b - h], [a + h, b + h], [a - h, b + h], [a - h, b - h]]]}},
        {"type": "Feature", "properties": {"patch_id": "WP-2017-002"},
         "geometry": {"type": "MultiPolygon", "coordinates": [[[[c - h, d - h], [c + h, d - h], [c + h, d + h], [c - h, d + h], [c - h, d - h]]]]}},
        {"type": "Feature", "id": "WP-2017-003", "properties": {},
         "geometry": {"type": "Polygon", "coordinates": [[[116.0, 39.0], [116.001, 39.0], [116.001, 39.001], [116.0, 39.0]]]}}
    ]});
    let (status, report) = app.post("/api/v1/cases/import", Some(&admin), doc.clone()).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["created"], 3);
    assert_eq!(report["unassigned"], 1);
    assert_eq!(report["cases"][0]["town_code"], "120115001");
    assert_eq!(report["cases"][1]["town_code"], "120115006");
    let id = report["cases"][0]["case_id"].as_str().unwrap();
    let (_, case) = app.get(&format!("/api/v1/cases/{id}"), Some(&admin)).await;
    assert_eq!(case["source"], "satellite");
    assert_eq!(case["external_ref"], "WP-2017-001");
    assert_eq!(case["deadline"], Value::Null, "imported now, outside the 2017 campaign");
    let area = case["area_m2"].as_f64().unwrap();
    // 0.0009° × 0.0009° at 39.73°N ≈ 100.2 m × 77.1 m.
    assert!((area - 7_720.0).abs() < 120.0, "area {area}");
    assert_eq!(case["polygon"]["type"], "Polygon");
    assert_eq!(case["history"][0]["action"], "imported");

    let before = app.fingerprint().await;
    let (status, again) = app.post("/api/v1/cases/import", Some(&admin), doc).await;
    assert_eq!(status, 200);
    assert_eq!(again["created"], 0);
    assert_eq!(again["existing"], 3);
    assert_eq!(app.fingerprint().await, before, "re-importing changes nothing");

    // One bad feature refuses the whole file.
    let bad = json!({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"patch_id": "OK-1"}, "geometry": {"type": "Polygon", "coordinates": [[[a, b], [a + h, b], [a + h, b + h], [a, b]]]}},
        {"type": "Feature", "properties": {"patch_id": "BAD-1"}, "geometry": {"type": "Polygon", "coordinates": [[[a, 95.0], [a + h, b], [a, b]]]}}
    ]});
    let resp = app.post("/api/v1/cases/import", Some(&admin), bad).await;
    assert_error(&resp, 422, "invalid_geometry");
    assert_eq!(resp.1["error"]["details"]["feature"], 1);
    assert_eq!(app.fingerprint().await, before);
}
