//! Approved-but-unsupplied land (批而未供): approvals and supplies, scope,
//! bad input that changes nothing, the CSV import (all or nothing, BOM,
//! Chinese, idempotent), supply rates by hand, and the officers' pull.

use chrono::NaiveDate;
use landpatrol_server::approvals::service::{SupplyRate, supply_rates};
use landpatrol_tests::{TestApp, assert_error, town_id};
use serde_json::{Value, json};

/// 宝平街道 and 潮阳街道: towns without demo approvals.
const BAOPING: &str = "120115002";
const CHAOYANG: &str = "120115007";

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

async fn approval(app: &TestApp, token: &str, code: &str, town: &str, on: &str, area: f64) -> Value {
    let (status, body) = app
        .post(
            "/api/v1/approvals",
            Some(token),
            json!({"code": code, "town": town, "approved_on": on, "approved_area_m2": area}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body
}

async fn supply(app: &TestApp, token: &str, id: &str, on: &str, area: f64) -> Value {
    let (status, body) = app
        .post(&format!("/api/v1/approvals/{id}/supplies"), Some(token), json!({"supplied_on": on, "area_m2": area}))
        .await;
    assert_eq!(status, 201, "{body}");
    body
}

fn rate_of(rates: &[SupplyRate], town: &str) -> Option<SupplyRate> {
    let id = town_id(town);
    rates.iter().find(|r| r.town_id.to_string() == id).cloned()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[tokio::test]
async fn crud_scope_and_roles() {
    let app = TestApp::spawn_demo().await;
    let officer = app.token("officer-120115002").await;
    let other = app.token("officer-120115003").await;
    let verifier = app.token("verifier").await;
    let inspector = app.token("inspector").await;

    let a = approval(&app, &officer, "宝批〔2017〕1号", BAOPING, "2017-03-01", 12000.0).await;
    let id = a["id"].as_str().unwrap().to_owned();
    assert_eq!(a["town"]["code"], BAOPING);
    assert_eq!(a["supplied_area_m2"], 0.0);
    assert_eq!(a["rev"], 1);

    // The same approval again: 200, nothing new; the number with other content: 409.
    let before = app.fingerprint().await;
    let (status, again) = app
        .post(
            "/api/v1/approvals",
            Some(&officer),
            json!({"code": "宝批〔2017〕1号", "town": BAOPING, "approved_on": "2017-03-01", "approved_area_m2": 12000.0}),
        )
        .await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["id"], a["id"]);
    let dup = app
        .post(
            "/api/v1/approvals",
            Some(&officer),
            json!({"code": "宝批〔2017〕1号", "town": BAOPING, "approved_on": "2017-03-02", "approved_area_m2": 12000.0}),
        )
        .await;
    assert_error(&dup, 409, "duplicate_record");
    assert_eq!(app.fingerprint().await, before);

    // Another town's office: creating there is out of scope, reading is 404, asking for it is out of scope.
    let resp = app
        .post(
            "/api/v1/approvals",
            Some(&officer),
            json!({"code": "X-1", "town": "120115003", "approved_on": "2017-03-01", "approved_area_m2": 10.0}),
        )
        .await;
    assert_error(&resp, 403, "out_of_scope");
    assert_error(&app.get(&format!("/api/v1/approvals/{id}"), Some(&other)).await, 404, "not_found");
    assert_error(
        &app.patch(&format!("/api/v1/approvals/{id}"), Some(&other), json!({"note": "x"})).await,
        404,
        "not_found",
    );
    assert_error(
        &app.post(
            &format!("/api/v1/approvals/{id}/supplies"),
            Some(&other),
            json!({"supplied_on": "2017-04-01", "area_m2": 1.0}),
        )
        .await,
        404,
        "not_found",
    );
    assert_error(&app.get("/api/v1/approvals?town=120115002", Some(&other)).await, 403, "out_of_scope");
    let (_, list) = app.get("/api/v1/approvals", Some(&other)).await;
    assert_eq!(list["items"], json!([]));
    assert_eq!(app.fingerprint().await, before);

    // Roles: inspectors do not see approvals; the leadership group reads only.
    assert_error(&app.get("/api/v1/approvals", Some(&inspector)).await, 403, "forbidden");
    let (status, seen) = app.get(&format!("/api/v1/approvals/{id}"), Some(&verifier)).await;
    assert_eq!(status, 200);
    assert_eq!(seen["code"], "宝批〔2017〕1号");
    let resp = app
        .post(
            "/api/v1/approvals",
            Some(&verifier),
            json!({"code": "V-1", "town": BAOPING, "approved_on": "2017-03-01", "approved_area_m2": 10.0}),
        )
        .await;
    assert_error(&resp, 403, "forbidden");

    // The office changes its approval: a new revision.
    let (status, patched) = app
        .patch(&format!("/api/v1/approvals/{id}"), Some(&officer), json!({"approved_area_m2": 15000.0, "note": "扩大"}))
        .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["approved_area_m2"], 15000.0);
    assert_eq!(patched["note"], "扩大");
    assert_eq!(patched["rev"], 2);

    // Its own list holds it, filtered by town code too.
    let (_, list) = app.get("/api/v1/approvals?town=120115002", Some(&officer)).await;
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], a["id"]);
    // The bureau sees every town (the demo's three as well), page by page.
    let admin = app.token("admin").await;
    let (_, page) = app.get("/api/v1/approvals?limit=2", Some(&admin)).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let cursor = page["next_cursor"].as_str().unwrap();
    let (_, rest) = app.get(&format!("/api/v1/approvals?limit=2&cursor={cursor}"), Some(&admin)).await;
    assert_eq!(rest["items"].as_array().unwrap().len(), 2);
    assert_eq!(rest["next_cursor"], Value::Null);
}

#[tokio::test]
async fn bad_input_gets_clear_codes_and_changes_nothing() {
    let app = TestApp::spawn_demo().await;
    let admin = app.token("admin").await;
    let a = approval(&app, &admin, "宝批〔2017〕2号", BAOPING, "2017-03-01", 1000.0).await;
    let id = a["id"].as_str().unwrap().to_owned();
    supply(&app, &admin, &id, "2017-04-01", 600.0).await;
    let before = app.fingerprint().await;

    let base = json!({"code": "B-1", "town": BAOPING, "approved_on": "2017-03-01", "approved_area_m2": 10.0});
    let with = |k: &str, v: Value| {
        let mut b = base.clone();
        b[k] = v;
        b
    };
    for (body, field) in [
        (with("approved_area_m2", json!(-5.0)), "approved_area_m2"),
        (with("approved_area_m2", json!(0)), "approved_area_m2"),
        (with("approved_on", json!("2999-01-01")), "approved_on"),
        (with("approved_on", json!("1900-01-01")), "approved_on"),
        (with("code", json!("  ")), "code"),
    ] {
        let resp = app.post("/api/v1/approvals", Some(&admin), body).await;
        assert_error(&resp, 422, "validation_failed");
        assert_eq!(resp.1["error"]["details"]["field"], field);
    }
    assert_error(
        &app.post("/api/v1/approvals", Some(&admin), with("town", json!("999999999"))).await,
        422,
        "unknown_town",
    );
    for body in
        [with("approved_area_m2", json!("NaN")), with("extra", json!(1)), with("approved_on", json!("2017-13-01"))]
    {
        assert_error(&app.post("/api/v1/approvals", Some(&admin), body).await, 400, "invalid_json");
    }
    // NaN is not JSON; a truncated body is not either.
    let nan = br#"{"code": "B-1", "town": "120115002", "approved_on": "2017-03-01", "approved_area_m2": NaN}"#;
    assert_error(
        &app.raw("POST", "/api/v1/approvals", Some(&admin), "application/json", nan.to_vec()).await,
        400,
        "invalid_json",
    );
    assert_error(
        &app.raw("POST", "/api/v1/approvals", Some(&admin), "application/json", b"{\"code\": ".to_vec()).await,
        400,
        "invalid_json",
    );

    // Supplies: beyond the approved area, before the approval, in the future, not positive.
    let path = format!("/api/v1/approvals/{id}/supplies");
    for (body, field) in [
        (json!({"supplied_on": "2017-05-01", "area_m2": 400.5}), "area_m2"),
        (json!({"supplied_on": "2017-02-28", "area_m2": 10.0}), "supplied_on"),
        (json!({"supplied_on": "2999-02-28", "area_m2": 10.0}), "supplied_on"),
        (json!({"supplied_on": "2017-05-01", "area_m2": -1.0}), "area_m2"),
        (json!({"supplied_on": "2017-05-01", "area_m2": 0.0}), "area_m2"),
    ] {
        let resp = app.post(&path, Some(&admin), body).await;
        assert_error(&resp, 422, "validation_failed");
        assert_eq!(resp.1["error"]["details"]["field"], field, "{}", resp.1);
    }
    assert_error(
        &app.post(&path, Some(&admin), json!({"supplied_on": "2017-05-01", "area_m2": 1, "x": 1})).await,
        400,
        "invalid_json",
    );
    // Changes that would contradict the supplies.
    let one = format!("/api/v1/approvals/{id}");
    let resp = app.patch(&one, Some(&admin), json!({"approved_area_m2": 500.0})).await;
    assert_error(&resp, 422, "validation_failed");
    let resp = app.patch(&one, Some(&admin), json!({"approved_on": "2017-04-02"})).await;
    assert_error(&resp, 422, "validation_failed");
    assert_eq!(resp.1["error"]["details"]["field"], "approved_on");
    assert_error(&app.get("/api/v1/approvals/not-a-uuid", Some(&admin)).await, 400, "invalid_path");
    assert_error(
        &app.get(&format!("/api/v1/approvals/{}", uuid::Uuid::now_v7()), Some(&admin)).await,
        404,
        "not_found",
    );
    assert_eq!(app.fingerprint().await, before);

    // Exactly up to the approved area is fine.
    let done = supply(&app, &admin, &id, "2017-05-01", 400.0).await;
    assert_eq!(done["approval"]["supplied_area_m2"], 1000.0);
    assert_eq!(done["approval"]["supply_rate"], 1.0);
}

#[tokio::test]
async fn supplies_revise_the_approval_and_rates_reconstruct_past_dates() {
    let app = TestApp::spawn_demo().await;
    let admin = app.token("admin").await;
    let a = approval(&app, &admin, "A", BAOPING, "2017-01-10", 10000.0).await;
    let b = approval(&app, &admin, "B", BAOPING, "2017-06-01", 20000.0).await;
    approval(&app, &admin, "C", CHAOYANG, "2017-02-01", 5000.0).await;
    approval(&app, &admin, "D", CHAOYANG, "2018-01-01", 1000.0).await;
    let a_id = a["id"].as_str().unwrap().to_owned();
    supply(&app, &admin, &a_id, "2017-03-01", 3000.0).await;
    let sid = uuid::Uuid::now_v7().to_string();
    let body = json!({"id": sid, "supplied_on": "2017-07-01", "area_m2": 5000.0, "note": "出让"});
    let (status, second) = app.post(&format!("/api/v1/approvals/{a_id}/supplies"), Some(&admin), body.clone()).await;
    assert_eq!(status, 201, "{second}");
    assert_eq!(second["supply"]["id"], sid.as_str());
    assert_eq!(second["approval"]["supplied_area_m2"], 8000.0);
    assert_eq!(second["approval"]["unsupplied_area_m2"], 2000.0);
    assert_eq!(second["approval"]["rev"], 3);
    // The same supply again (a retry): 200 and nothing new.
    let before = app.fingerprint().await;
    let (status, replay) = app.post(&format!("/api/v1/approvals/{a_id}/supplies"), Some(&admin), body).await;
    assert_eq!(status, 200, "{replay}");
    assert_eq!(replay["approval"]["rev"], 3);
    assert_eq!(app.fingerprint().await, before);
    let reused = json!({"id": sid, "supplied_on": "2017-07-01", "area_m2": 50.0});
    assert_error(
        &app.post(&format!("/api/v1/approvals/{a_id}/supplies"), Some(&admin), reused).await,
        409,
        "duplicate_record",
    );
    supply(&app, &admin, b["id"].as_str().unwrap(), "2017-08-01", 2000.0).await;

    let (_, list) = app.get(&format!("/api/v1/approvals/{a_id}/supplies"), Some(&admin)).await;
    let dates: Vec<&str> = list.as_array().unwrap().iter().map(|s| s["supplied_on"].as_str().unwrap()).collect();
    assert_eq!(dates, ["2017-03-01", "2017-07-01"]);

    // By hand: 宝平 A 10,000 (3,000 on 03-01 + 5,000 on 07-01), B 20,000 from 06-01 (2,000 on 08-01);
    // 潮阳 C 5,000 from 02-01 (nothing), D 1,000 from 2018-01-01.
    let db = &app.state.db;
    let end = supply_rates(db, d("2017-01-01"), d("2017-12-31"), None).await.unwrap();
    let bp = rate_of(&end, BAOPING).unwrap();
    assert_eq!(bp.approvals, 2);
    assert!(close(bp.approved_area_m2, 30000.0) && close(bp.supplied_area_m2, 10000.0), "{bp:?}");
    assert!(close(bp.rate.unwrap(), 1.0 / 3.0));
    let cy = rate_of(&end, CHAOYANG).unwrap();
    assert_eq!((cy.approvals, cy.approved_area_m2, cy.supplied_area_m2, cy.rate), (1, 5000.0, 0.0, Some(0.0)));

    let may = supply_rates(db, d("2017-01-01"), d("2017-05-01"), None).await.unwrap();
    let bp = rate_of(&may, BAOPING).unwrap();
    assert_eq!((bp.approvals, bp.approved_area_m2, bp.supplied_area_m2), (1, 10000.0, 3000.0));
    assert!(close(bp.rate.unwrap(), 0.3));
    // The supply of 03-01 counts from that day, not the day before.
    let feb = supply_rates(db, d("2017-01-01"), d("2017-02-28"), None).await.unwrap();
    assert_eq!(rate_of(&feb, BAOPING).unwrap().supplied_area_m2, 0.0);
    let mar = supply_rates(db, d("2017-01-01"), d("2017-03-01"), None).await.unwrap();
    assert_eq!(rate_of(&mar, BAOPING).unwrap().supplied_area_m2, 3000.0);

    let next = supply_rates(db, d("2018-01-01"), d("2018-06-01"), None).await.unwrap();
    let cy = rate_of(&next, CHAOYANG).unwrap();
    assert_eq!((cy.approvals, cy.approved_area_m2), (2, 6000.0));
    // The 2018 rate: of the 5,000 m² unsupplied at the start plus 1,000 approved in 2018, nothing supplied.
    assert_eq!((cy.stock_at_start_m2, cy.approved_in_period_m2, cy.rate), (5000.0, 1000.0, Some(0.0)));
    // 宝平 starts 2018 with 20,000 m² unsupplied; the cumulative rate stays at a third.
    let bp = rate_of(&next, BAOPING).unwrap();
    assert_eq!((bp.stock_at_start_m2, bp.supplied_in_period_m2, bp.rate), (20000.0, 0.0, Some(0.0)));
    assert!(close(bp.cumulative_rate.unwrap(), 1.0 / 3.0));
    let before_all = supply_rates(db, d("2016-01-01"), d("2016-12-31"), None).await.unwrap();
    assert!(before_all.is_empty(), "{before_all:?}");

    // The demo: 海滨 (30,000 + 10,000 approved; 21,000 + 4,000 supplied in 2017), 周良 10,000 of 25,000.
    let hb = rate_of(&end, "120115001").unwrap();
    assert_eq!((hb.approvals, hb.approved_area_m2, hb.supplied_area_m2), (2, 40000.0, 25000.0));
    assert!(close(hb.rate.unwrap(), 0.625));
    let zl = rate_of(&end, "120115006").unwrap();
    assert_eq!((zl.approvals, zl.approved_area_m2, zl.supplied_area_m2), (1, 25000.0, 10000.0));
    let zl_sep =
        rate_of(&supply_rates(db, d("2017-01-01"), d("2017-09-30"), None).await.unwrap(), "120115006").unwrap();
    assert_eq!(zl_sep.supplied_area_m2, 0.0);
}

async fn import(app: &TestApp, token: &str, body: &[u8]) -> (reqwest::StatusCode, Value) {
    app.raw("POST", "/api/v1/approvals/import", Some(token), "text/csv; charset=utf-8", body.to_vec()).await
}

#[tokio::test]
async fn csv_import_is_all_or_nothing_idempotent_and_reads_bom_and_chinese() {
    let app = TestApp::spawn_demo().await;
    let admin = app.token("admin").await;
    let officer = app.token("officer-120115002").await;
    let mut csv =
        "\u{feff}code,town,approved_on,approved_area_m2,supplied_area_m2,supplied_on,note\r\n".as_bytes().to_vec();
    csv.extend_from_slice(
        "宝批〔2017〕21号,120115002,2017-02-01,8000,5000,2017-06-30,\"农用地转用, 一批次\"\r\n\
         宝批〔2017〕22号,宝平街道-not-a-code,2017-02-01,1,,,\r\n"
            .as_bytes(),
    );
    // A town given by name is not a town: the whole file is refused.
    let before = app.fingerprint().await;
    let resp = import(&app, &admin, &csv).await;
    assert_error(&resp, 422, "validation_failed");
    assert_eq!(
        resp.1["error"]["details"]["errors"],
        json!([{"row": 3, "field": "town", "message": resp.1["error"]["details"]["errors"][0]["message"]}])
    );
    assert_eq!(app.fingerprint().await, before);

    let good = "\u{feff}code,town,approved_on,approved_area_m2,supplied_area_m2,supplied_on,note\r\n\
                宝批〔2017〕21号,120115002,2017-02-01,8000,5000,2017-06-30,\"农用地转用, 一批次\"\r\n\
                宝批〔2017〕22号,120115007,2017-03-05,1200.5,,,\r\n";
    let (status, report) = import(&app, &admin, good.as_bytes()).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report, json!({"rows": 2, "created": 2, "updated": 0, "unchanged": 0, "supplies": 1}));
    let (_, list) = app.get("/api/v1/approvals?town=120115002", Some(&admin)).await;
    let a = &list["items"][0];
    assert_eq!(a["code"], "宝批〔2017〕21号");
    assert_eq!(a["note"], "农用地转用, 一批次");
    assert_eq!(a["approved_area_m2"], 8000.0);
    assert_eq!(a["supplied_area_m2"], 5000.0);

    // Again: nothing changes.
    let before = app.fingerprint().await;
    let (status, report) = import(&app, &admin, good.as_bytes()).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report, json!({"rows": 2, "created": 0, "updated": 0, "unchanged": 2, "supplies": 0}));
    assert_eq!(app.fingerprint().await, before);

    // Bad rows: every error reported, nothing imported (not even the good row).
    let bad = "code,town,approved_on,approved_area_m2\n\
               宝批〔2017〕30号,120115002,2017-02-01,100\n\
               宝批〔2017〕31号,120115002,2017-02-01,-5\n\
               宝批〔2017〕32号,120115002,2017-02-30,NaN\n\
               宝批〔2017〕33号,120115002,2017-02-01\n";
    let resp = import(&app, &admin, bad.as_bytes()).await;
    assert_error(&resp, 422, "validation_failed");
    let errors: Vec<(u64, String)> = resp.1["error"]["details"]["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["row"].as_u64().unwrap(), e["field"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(
        errors,
        [
            (3, "approved_area_m2".to_owned()),
            (4, "approved_on".to_owned()),
            (4, "approved_area_m2".to_owned()),
            (5, "csv".to_owned())
        ]
    );
    assert_eq!(app.fingerprint().await, before);
    // A supply beyond the approval and a supply before it: refused per row.
    let bad = "code,town,approved_on,approved_area_m2,supplied_area_m2,supplied_on\n\
               宝批〔2017〕40号,120115002,2017-02-01,100,100.5,2017-03-01\n\
               宝批〔2017〕41号,120115002,2017-02-01,100,10,2017-01-01\n";
    let resp = import(&app, &admin, bad.as_bytes()).await;
    let fields: Vec<&str> =
        resp.1["error"]["details"]["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["supplied_area_m2", "supplied_on"], "{}", resp.1);
    // A town office imports only its own town.
    let resp =
        import(&app, &officer, "code,town,approved_on,approved_area_m2\nZ-1,120115003,2017-02-01,100\n".as_bytes())
            .await;
    assert_error(&resp, 422, "validation_failed");
    assert_eq!(resp.1["error"]["details"]["errors"][0]["field"], "town");
    // Not CSV, not UTF-8, no header.
    assert_error(
        &app.raw("POST", "/api/v1/approvals/import", Some(&admin), "application/json", b"{}".to_vec()).await,
        415,
        "unsupported_media_type",
    );
    assert_error(&import(&app, &admin, b"code,town\xff\xfe").await, 422, "validation_failed");
    assert_error(&import(&app, &admin, b"").await, 422, "validation_failed");
    let mut huge = b"code,town,approved_on,approved_area_m2\n".to_vec();
    huge.resize(8 * 1024 * 1024 + 1, b' ');
    assert_error(&import(&app, &admin, &huge).await, 413, "payload_too_large");
    assert_error(&import(&app, &admin, b"code,town,when\n").await, 422, "validation_failed");
    assert_eq!(app.fingerprint().await, before);
}

#[tokio::test]
async fn officers_pull_their_towns_approvals_with_areas() {
    let app = TestApp::spawn_demo().await;
    let officer = app.token("officer-120115001").await;
    let admin = app.token("admin").await;
    let pull = |cursor: Value, token: String| {
        let app = &app;
        async move {
            let (status, page) = app
                .post(
                    "/api/v1/sync/pull",
                    Some(&token),
                    json!({"cursor": cursor, "limit": 500, "tables": ["approvals"]}),
                )
                .await;
            assert_eq!(status, 200, "{page}");
            page
        }
    };
    let page = pull(Value::Null, officer.clone()).await;
    let changes = page["changes"].as_array().unwrap();
    let haibin = town_id("120115001");
    assert_eq!(changes.len(), 2, "{page}");
    for c in changes {
        assert_eq!(c["table"], "approvals");
        assert_eq!(c["record"]["town_id"], haibin.as_str());
    }
    let first = changes.iter().find(|c| c["record"]["code"] == "津宝批〔2017〕3号").unwrap();
    assert_eq!(first["record"]["approved_area_m2"], 30000.0);
    assert_eq!(first["record"]["supplied_area_m2"], 21000.0);
    assert_eq!(first["rev"], 3);
    // The bureau pulls all three.
    assert_eq!(pull(Value::Null, admin.clone()).await["changes"].as_array().unwrap().len(), 3);
    // Inspectors pull none.
    let inspector = app.token("inspector").await;
    assert_eq!(pull(Value::Null, inspector).await["changes"], json!([]));

    // A supply is a change: it comes again, with a new revision; another town's change does not.
    let cursor = page["cursor"].clone();
    let id = first["record"]["id"].as_str().unwrap();
    supply(&app, &admin, id, "2017-11-01", 1000.0).await;
    let zl = app.get("/api/v1/approvals?town=120115006", Some(&admin)).await.1["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    supply(&app, &admin, &zl, "2017-11-01", 1000.0).await;
    let next = pull(cursor, officer).await;
    let changes = next["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "{next}");
    assert_eq!(changes[0]["rev"], 4);
    assert_eq!(changes[0]["record"]["supplied_area_m2"], 22000.0);
}

/// An approval entered by mistake is deleted while nothing was supplied under
/// it: gone from the list and the rates, a deletion in the officer's pull,
/// deleting again changes nothing; one with supplies stays on record.
#[tokio::test]
async fn an_approval_entered_by_mistake_is_deleted_while_unsupplied() {
    let app = TestApp::spawn_demo().await;
    let admin = app.token("admin").await;
    let officer = app.token("officer-120115002").await;
    let a = approval(&app, &officer, "MISTAKE-A", BAOPING, "2017-03-01", 5000.0).await;
    let id = a["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/approvals/{id}");
    let cursor = app.pull_table(&officer, "approvals", None).await["cursor"].as_str().unwrap().to_owned();
    let (inspector, other) = (app.token("inspector").await, app.token("officer-120115001").await);
    let before = app.fingerprint().await;
    assert_error(&app.delete(&path, Some(&inspector)).await, 403, "forbidden");
    assert_error(&app.delete(&path, Some(&other)).await, 404, "not_found");
    assert_eq!(app.fingerprint().await, before);

    let known_before = chrono::Utc::now();
    assert_eq!(app.delete(&path, Some(&officer)).await.0, 204);
    assert_error(&app.get(&path, Some(&officer)).await, 404, "not_found");
    // As known before the deletion (a report for an earlier day), it was there.
    let then = supply_rates(&app.state.db, d("2017-01-01"), d("2017-12-31"), Some(known_before)).await.unwrap();
    assert_eq!(rate_of(&then, BAOPING).map(|r| r.approved_area_m2), Some(5000.0));
    let (_, list) = app.get("/api/v1/approvals?limit=500", Some(&admin)).await;
    assert!(list["items"].as_array().unwrap().iter().all(|x| x["id"] != id.as_str()));
    let rates = supply_rates(&app.state.db, d("2017-01-01"), d("2017-12-31"), None).await.unwrap();
    assert!(rate_of(&rates, BAOPING).is_none(), "{rates:?}");
    let after = app.pull_table(&officer, "approvals", Some(&cursor)).await;
    let changes = after["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "{after}");
    assert_eq!((changes[0]["id"].as_str(), changes[0]["op"].as_str()), (Some(id.as_str()), Some("delete")));
    let gone = app.fingerprint().await;
    assert_eq!(app.delete(&path, Some(&officer)).await.0, 204, "again: nothing changes");
    assert_eq!(app.fingerprint().await, gone);

    // The demo's approvals had land supplied under them: they stay.
    let (_, all) = app.get("/api/v1/approvals?limit=500", Some(&admin)).await;
    let demo = all["items"].as_array().unwrap()[0]["id"].as_str().unwrap().to_owned();
    let resp = app.delete(&format!("/api/v1/approvals/{demo}"), Some(&admin)).await;
    assert_error(&resp, 422, "validation_failed");
    assert_eq!(resp.1["error"]["details"]["field"], "supplies");
    assert_eq!(app.fingerprint().await, gone);
}
