//! Village projects and their five-in-place (五到位) steps: scope, roles,
//! steps once (idempotent replays, conflicts), photo evidence, bad input
//! that changes nothing, and the gaps by hand for several dates.

use chrono::NaiveDate;
use landpatrol_server::projects::service::{ProjectGap, five_in_place_gaps};
use landpatrol_tests::{TestApp, assert_error, town_id};
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

/// 宝平街道: no demo projects.
const BAOPING: &str = "120115002";
const HAIBIN: (f64, f64) = (117.295129, 39.733503);

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

async fn project(app: &TestApp, token: &str, name: &str, start: &str, end: &str) -> String {
    let (status, body) = app
        .post(
            "/api/v1/projects",
            Some(token),
            json!({"name": name, "village": "大刘庄村", "town": BAOPING,
                   "location": {"lon": HAIBIN.0, "lat": HAIBIN.1}, "planned_start": start, "planned_end": end}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body["id"].as_str().unwrap().to_owned()
}

async fn step(app: &TestApp, token: &str, id: &str, step: &str, on: &str) -> Value {
    let (status, body) = app
        .post(
            &format!("/api/v1/projects/{id}/steps"),
            Some(token),
            json!({"step": step, "done_on": on, "person": "李四"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body
}

fn gaps_in(gaps: &[ProjectGap], town: &str) -> Vec<(String, Vec<String>)> {
    let id = town_id(town);
    gaps.iter().filter(|g| g.town_id.to_string() == id).map(|g| (g.name.clone(), g.missing.clone())).collect()
}

fn gap(name: &str, missing: &[&str]) -> (String, Vec<String>) {
    (name.to_owned(), missing.iter().map(|s| (*s).to_owned()).collect())
}

#[tokio::test]
async fn projects_steps_scope_and_roles() {
    let app = TestApp::spawn_demo().await;
    let officer = app.token("officer-120115002").await;
    let other = app.token("officer-120115003").await;
    let inspector = app.token("inspector").await;
    let verifier = app.token("verifier").await;

    let id = project(&app, &officer, "大刘庄村村委会", "2017-04-01", "2017-09-30").await;
    let (status, p) = app.get(&format!("/api/v1/projects/{id}"), Some(&officer)).await;
    assert_eq!(status, 200);
    assert_eq!(p["town"]["code"], BAOPING);
    assert_eq!(p["steps"], json!([]));
    // Long past: every step is missing today.
    assert_eq!(
        p["missing"],
        json!(["site_selection", "approval", "staking", "construction_supervision", "completion_acceptance"])
    );

    // Another town: creating there is out of scope, the project is not found.
    let before = app.fingerprint().await;
    let resp = app
        .post(
            "/api/v1/projects",
            Some(&officer),
            json!({"name": "x", "village": "y", "town": "120115003", "location": {"lon": HAIBIN.0, "lat": HAIBIN.1},
                   "planned_start": "2017-04-01", "planned_end": "2017-04-02"}),
        )
        .await;
    assert_error(&resp, 403, "out_of_scope");
    assert_error(&app.get(&format!("/api/v1/projects/{id}"), Some(&other)).await, 404, "not_found");
    let resp = app
        .post(
            &format!("/api/v1/projects/{id}/steps"),
            Some(&other),
            json!({"step": "staking", "done_on": "2017-03-01", "person": "x"}),
        )
        .await;
    assert_error(&resp, 404, "not_found");
    assert_error(&app.get("/api/v1/projects?town=120115002", Some(&other)).await, 403, "out_of_scope");
    assert_eq!(app.get("/api/v1/projects", Some(&other)).await.1["items"], json!([]));
    // The leadership group reads only.
    let resp = app
        .post(
            &format!("/api/v1/projects/{id}/steps"),
            Some(&verifier),
            json!({"step": "staking", "done_on": "2017-03-01", "person": "x"}),
        )
        .await;
    assert_error(&resp, 403, "forbidden");
    assert_eq!(app.get(&format!("/api/v1/projects/{id}"), Some(&verifier)).await.0, 200);
    assert_eq!(app.fingerprint().await, before);

    // An inspector records a step with photo evidence.
    let sha = "9f2c4e1d8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e";
    let body = json!({"step": "site_selection", "done_on": "2017-03-10", "person": "王建国", "note": "不占基本农田",
                      "photos": [sha.to_uppercase()]});
    let (status, after) = app.post(&format!("/api/v1/projects/{id}/steps"), Some(&inspector), body.clone()).await;
    assert_eq!(status, 201, "{after}");
    assert_eq!(after["steps"][0]["step"], "site_selection");
    assert_eq!(after["steps"][0]["photos"], json!([sha]));
    assert_eq!(after["missing"].as_array().unwrap().len(), 4);
    let row = app
        .state
        .db
        .query_one_raw(sea_orm::Statement::from_string(
            app.state.db.get_database_backend(),
            format!("SELECT COUNT(*) FROM photo_links WHERE record_kind = 'project_step' AND sha256 = '{sha}'"),
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.try_get_by_index::<i64>(0).unwrap(), 1);

    // The same step again: 200 and nothing new; with other content: 409.
    let before = app.fingerprint().await;
    let (status, replay) = app.post(&format!("/api/v1/projects/{id}/steps"), Some(&officer), body).await;
    assert_eq!(status, 200, "{replay}");
    assert_eq!(replay["steps"].as_array().unwrap().len(), 1);
    let resp = app
        .post(
            &format!("/api/v1/projects/{id}/steps"),
            Some(&officer),
            json!({"step": "site_selection", "done_on": "2017-03-11", "person": "王建国"}),
        )
        .await;
    assert_error(&resp, 409, "duplicate_record");
    assert_eq!(resp.1["error"]["details"]["existing"]["done_on"], "2017-03-10");
    assert_eq!(app.fingerprint().await, before);

    let (_, list) = app.get("/api/v1/projects?town=120115002", Some(&officer)).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(list["items"][0]["steps"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn bad_project_and_step_input_changes_nothing() {
    let app = TestApp::spawn_demo().await;
    let admin = app.token("admin").await;
    let id = project(&app, &admin, "P", "2017-04-01", "2017-09-30").await;
    let before = app.fingerprint().await;

    let base = json!({"name": "x", "village": "y", "town": BAOPING, "location": {"lon": HAIBIN.0, "lat": HAIBIN.1},
                      "planned_start": "2017-04-01", "planned_end": "2017-09-30"});
    let with = |k: &str, v: Value| {
        let mut b = base.clone();
        b[k] = v;
        b
    };
    let resp = app.post("/api/v1/projects", Some(&admin), with("planned_end", json!("2017-03-31"))).await;
    assert_error(&resp, 422, "validation_failed");
    assert_eq!(resp.1["error"]["details"]["field"], "planned_end");
    // Days no land record is about (a far-off year once overflowed the due-date arithmetic).
    for (field, day) in [("planned_start", "1900-01-01"), ("planned_end", "+262142-12-31")] {
        let resp = app.post("/api/v1/projects", Some(&admin), with(field, json!(day))).await;
        assert_error(&resp, 422, "validation_failed");
        assert_eq!(resp.1["error"]["details"]["field"], field);
    }
    let resp = app.post("/api/v1/projects", Some(&admin), with("name", json!(""))).await;
    assert_error(&resp, 422, "validation_failed");
    assert_error(
        &app.post("/api/v1/projects", Some(&admin), with("town", json!("nowhere"))).await,
        422,
        "unknown_town",
    );
    assert_error(
        &app.post("/api/v1/projects", Some(&admin), with("location", json!({"lon": 500.0, "lat": 39.0}))).await,
        422,
        "coordinate_out_of_range",
    );
    assert_error(&app.post("/api/v1/projects", Some(&admin), with("colour", json!("red"))).await, 400, "invalid_json");
    assert_error(
        &app.raw("POST", "/api/v1/projects", Some(&admin), "application/json", b"{\"name\": [".to_vec()).await,
        400,
        "invalid_json",
    );
    // Outside every town without a town named.
    let mut far = with("location", json!({"lon": 100.0, "lat": 30.0}));
    far.as_object_mut().unwrap().remove("town");
    let resp = app.post("/api/v1/projects", Some(&admin), far).await;
    assert_error(&resp, 422, "validation_failed");
    assert_eq!(resp.1["error"]["details"]["field"], "town");

    let path = format!("/api/v1/projects/{id}/steps");
    for (body, field) in [
        (json!({"step": "demolition", "done_on": "2017-03-01", "person": "x"}), "step"),
        (json!({"step": "staking", "done_on": "2999-03-01", "person": "x"}), "done_on"),
        (json!({"step": "staking", "done_on": "1800-03-01", "person": "x"}), "done_on"),
        (json!({"step": "staking", "done_on": "2017-03-01", "person": " "}), "person"),
        (json!({"step": "staking", "done_on": "2017-03-01", "person": "x", "photos": ["abc"]}), "photos"),
    ] {
        let resp = app.post(&path, Some(&admin), body).await;
        assert_error(&resp, 422, "validation_failed");
        assert_eq!(resp.1["error"]["details"]["field"], field, "{}", resp.1);
    }
    assert_error(
        &app.post(&path, Some(&admin), json!({"step": "staking", "done_on": "2017-03-01", "person": "x", "by": 1}))
            .await,
        400,
        "invalid_json",
    );
    assert_error(
        &app.post(
            &format!("/api/v1/projects/{}/steps", uuid::Uuid::now_v7()),
            Some(&admin),
            json!({"step": "staking", "done_on": "2017-03-01", "person": "x"}),
        )
        .await,
        404,
        "not_found",
    );
    assert_eq!(app.fingerprint().await, before);
}

#[tokio::test]
async fn gaps_by_hand_for_past_dates() {
    let app = TestApp::spawn_demo().await;
    let admin = app.token("admin").await;
    // P1: 04-01..09-30; done: site 03-01, approval 03-15, staking 04-10 (late), supervision 05-20; no acceptance.
    let p1 = project(&app, &admin, "P1", "2017-04-01", "2017-09-30").await;
    for (s, on) in [
        ("site_selection", "2017-03-01"),
        ("approval", "2017-03-15"),
        ("staking", "2017-04-10"),
        ("construction_supervision", "2017-05-20"),
    ] {
        step(&app, &admin, &p1, s, on).await;
    }
    // P2: 06-01..12-31; done: site 05-01 only.
    let p2 = project(&app, &admin, "P2", "2017-06-01", "2017-12-31").await;
    step(&app, &admin, &p2, "site_selection", "2017-05-01").await;
    // P3: 2018-03-01..2018-10-01; nothing done.
    project(&app, &admin, "P3", "2018-03-01", "2018-10-01").await;

    let db = &app.state.db;
    let at = |s: &'static str| async move { gaps_in(&five_in_place_gaps(db, d(s), None).await.unwrap(), BAOPING) };
    assert_eq!(at("2017-03-31").await, []);
    assert_eq!(at("2017-04-01").await, [gap("P1", &["staking"])]);
    assert_eq!(at("2017-05-01").await, []);
    assert_eq!(at("2017-05-02").await, [gap("P1", &["construction_supervision"])]);
    assert_eq!(at("2017-06-01").await, [gap("P2", &["approval", "staking"])]);
    assert_eq!(at("2017-09-30").await, [gap("P2", &["approval", "staking", "construction_supervision"])]);
    assert_eq!(
        at("2017-10-01").await,
        [gap("P1", &["completion_acceptance"]), gap("P2", &["approval", "staking", "construction_supervision"])]
    );
    assert_eq!(
        at("2018-03-01").await,
        [
            gap("P1", &["completion_acceptance"]),
            gap("P2", &["approval", "staking", "construction_supervision", "completion_acceptance"]),
            gap("P3", &["site_selection", "approval", "staking"]),
        ]
    );

    // The demo: the clinic in 周良 (start 04-01, site 04-06, approval 04-25) lacks staking, supervision, acceptance;
    // the culture centre in 海滨 is complete.
    let end = five_in_place_gaps(db, d("2017-12-31"), None).await.unwrap();
    assert_eq!(gaps_in(&end, "120115001"), []);
    let zl = gaps_in(&end, "120115006");
    assert_eq!(zl.len(), 1);
    assert_eq!(zl[0].1, ["staking", "construction_supervision", "completion_acceptance"]);
    // On 04-10 only the site survey (04-06) was done: approval and staking are missing.
    assert_eq!(
        gaps_in(&five_in_place_gaps(db, d("2017-04-10"), None).await.unwrap(), "120115006")[0].1,
        ["approval", "staking"]
    );

    // The project view today: P1 misses only the acceptance.
    let (_, v) = app.get(&format!("/api/v1/projects/{p1}"), Some(&admin)).await;
    assert_eq!(v["missing"], json!(["completion_acceptance"]));
    let steps: Vec<&str> = v["steps"].as_array().unwrap().iter().map(|s| s["step"].as_str().unwrap()).collect();
    assert_eq!(steps, ["site_selection", "approval", "staking", "construction_supervision"]);
}
