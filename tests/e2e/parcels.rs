//! Idle land (闲置土地): parcels (CRUD, scope, validation), the CSV import,
//! the idle sweep (idempotent, one case each, the town alerted), disposals,
//! the idle-land balance and the town officer's pull.

use chrono::NaiveDate;
use landpatrol_server::parcels::{service, sweep};
use landpatrol_tests::{TestApp, assert_error, town_id};
use serde_json::{Value, json};

/// A point in 海滨街道 (120115001).
const HAIBIN: (f64, f64) = (117.295129, 39.733503);
/// A point in 周良街道 (120115006).
const ZHOULIANG: (f64, f64) = (117.341136, 39.557182);

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn parcel(code: &str, p: (f64, f64)) -> Value {
    json!({"code": code, "holder": "天津宝坻测试置业有限公司", "area_m2": 1000.0, "agreed_start": "2016-05-01",
           "location": {"lon": p.0, "lat": p.1}})
}

/// Parcels like the demo's of 2016, still active (the demo's own were found
/// idle by its 2017 sweeps): 001 and 002 in 海滨, 004 and 005 in 周良.
async fn like_the_demo(app: &TestApp, token: &str) {
    let body = "code,holder,area_m2,agreed_start,actual_start,lon,lat,town\n\
        测(2016)001号,天津宝坻海滨置业有限公司,12000,2016-03-01,,117.2962,39.7341,\n\
        测(2016)002号,宝坻区海滨物流有限公司,8000,2016-06-01,2016-10-10,117.2941,39.7329,\n\
        测(2016)004号,天津周良农业科技有限公司,20000,2016-04-01,,117.3418,39.5578,\n\
        测(2016)005号,周良街道某某食品厂,5000,2016-11-01,,117.3405,39.5566,\n";
    let (status, report) = csv(app, token, body).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["created"], 4, "{report}");
}

async fn csv(app: &TestApp, token: &str, body: &str) -> (reqwest::StatusCode, Value) {
    app.raw("POST", "/api/v1/parcels/import", Some(token), "text/csv; charset=utf-8", body.as_bytes().to_vec()).await
}

async fn parcels_by_code(app: &TestApp, token: &str) -> std::collections::HashMap<String, Value> {
    let (status, page) = app.get("/api/v1/parcels?limit=500", Some(token)).await;
    assert_eq!(status, 200, "{page}");
    page["items"].as_array().unwrap().iter().map(|p| (p["code"].as_str().unwrap().to_owned(), p.clone())).collect()
}

#[tokio::test]
async fn crud_with_scope_and_roles() {
    let app = TestApp::spawn_demo().await;
    let admin = app.token("admin").await;
    let haibin = app.token("officer-120115001").await;
    let zhouliang = app.token("officer-120115006").await;
    let inspector = app.token("inspector").await;
    let verifier = app.token("verifier").await;

    let (status, p) = app.post("/api/v1/parcels", Some(&admin), parcel("T-001", HAIBIN)).await;
    assert_eq!(status, 201, "{p}");
    assert_eq!(p["town"]["code"], "120115001", "routed from the point");
    assert_eq!(
        (p["status"].as_str(), p["rev"].as_i64(), p["agreed_start"].as_str()),
        (Some("active"), Some(1), Some("2016-05-01"))
    );
    let id = p["id"].as_str().unwrap().to_owned();

    // A town office enters parcels of its own town only.
    let (status, own) = app.post("/api/v1/parcels", Some(&haibin), parcel("T-002", HAIBIN)).await;
    assert_eq!(status, 201, "{own}");
    assert_error(&app.post("/api/v1/parcels", Some(&haibin), parcel("T-003", ZHOULIANG)).await, 403, "out_of_scope");
    let mut named = parcel("T-004", HAIBIN);
    named["town"] = json!("120115006");
    assert_error(&app.post("/api/v1/parcels", Some(&haibin), named.clone()).await, 403, "out_of_scope");
    let (status, p4) = app.post("/api/v1/parcels", Some(&admin), named).await;
    assert_eq!((status.as_u16(), p4["town"]["code"].as_str()), (201, Some("120115006")), "an explicit town wins: {p4}");
    // With a polygon only: the representative point and the majority town.
    let (lon, lat) = HAIBIN;
    let square = json!({"type": "Polygon", "coordinates": [[[lon - 0.001, lat - 0.001], [lon + 0.001, lat - 0.001],
        [lon + 0.001, lat + 0.001], [lon - 0.001, lat + 0.001], [lon - 0.001, lat - 0.001]]]});
    let (status, p5) = app
        .post(
            "/api/v1/parcels",
            Some(&admin),
            json!({"code": "T-005", "holder": "某公司", "area_m2": 25000,
            "agreed_start": "2016-01-01", "polygon": square}),
        )
        .await;
    assert_eq!(status, 201, "{p5}");
    assert_eq!(p5["town"]["code"], "120115001");
    assert!((p5["location"]["lon"].as_f64().unwrap() - lon).abs() < 0.001);
    assert_eq!(p5["polygon"]["type"], "Polygon");

    // Another town's parcel does not exist for an officer.
    assert_error(&app.get(&format!("/api/v1/parcels/{id}"), Some(&zhouliang)).await, 404, "not_found");
    assert_error(
        &app.patch(&format!("/api/v1/parcels/{id}"), Some(&zhouliang), json!({"holder": "x"})).await,
        404,
        "not_found",
    );
    assert_error(&app.get(&format!("/api/v1/parcels/{id}/disposals"), Some(&zhouliang)).await, 404, "not_found");
    assert_error(&app.get("/api/v1/parcels?town=120115001", Some(&zhouliang)).await, 403, "out_of_scope");
    let theirs = parcels_by_code(&app, &zhouliang).await;
    assert!(!theirs.contains_key("T-001") && theirs.contains_key("T-004"));
    assert!(theirs.values().all(|p| p["town"]["code"] == "120115006"));
    assert_eq!(app.get(&format!("/api/v1/parcels/{id}"), Some(&haibin)).await.0, 200);

    // Inspectors and verifiers read in their scope, never write.
    assert_eq!(app.get(&format!("/api/v1/parcels/{id}"), Some(&inspector)).await.0, 200);
    assert_eq!(app.get("/api/v1/parcels", Some(&verifier)).await.0, 200);
    assert_error(&app.post("/api/v1/parcels", Some(&inspector), parcel("T-006", HAIBIN)).await, 403, "forbidden");
    assert_error(
        &app.patch(&format!("/api/v1/parcels/{id}"), Some(&verifier), json!({"holder": "x"})).await,
        403,
        "forbidden",
    );

    // Changes: rev goes up; the code never changes; a duplicate code is refused.
    let (status, p) = app
        .patch(
            &format!("/api/v1/parcels/{id}"),
            Some(&haibin),
            json!({"holder": "天津宝坻新名称有限公司", "actual_start": "2016-08-01"}),
        )
        .await;
    assert_eq!(status, 200, "{p}");
    assert_eq!(
        (p["holder"].as_str(), p["actual_start"].as_str(), p["rev"].as_i64()),
        (Some("天津宝坻新名称有限公司"), Some("2016-08-01"), Some(2))
    );
    let (_, same) =
        app.patch(&format!("/api/v1/parcels/{id}"), Some(&haibin), json!({"holder": "天津宝坻新名称有限公司"})).await;
    assert_eq!(same["rev"], 2, "no change, no new revision");
    let before = app.fingerprint().await;
    assert_error(
        &app.patch(&format!("/api/v1/parcels/{id}"), Some(&admin), json!({"code": "T-999"})).await,
        422,
        "immutable_field",
    );
    let dup = app.post("/api/v1/parcels", Some(&admin), parcel("T-001", ZHOULIANG)).await;
    assert_error(&dup, 409, "duplicate_record");
    assert_eq!(dup.1["error"]["details"]["field"], "code");
    assert_eq!(app.fingerprint().await, before, "refused changes change nothing");

    // Lists: filters and pages.
    let (_, page) = app.get("/api/v1/parcels?town=120115001&status=active&limit=2", Some(&admin)).await;
    let first: Vec<String> =
        page["items"].as_array().unwrap().iter().map(|p| p["code"].as_str().unwrap().into()).collect();
    assert_eq!(first.len(), 2, "{page}");
    let cursor = page["next_cursor"].as_str().unwrap();
    let (_, next) =
        app.get(&format!("/api/v1/parcels?town=120115001&status=active&limit=2&cursor={cursor}"), Some(&admin)).await;
    assert!(next["items"].as_array().unwrap().iter().all(|p| !first.contains(&p["code"].as_str().unwrap().to_owned())));
    let (_, disposed) = app.get("/api/v1/parcels?status=disposed", Some(&admin)).await;
    assert_eq!(disposed["items"].as_array().unwrap().len(), 1, "the demo's disposed parcel: {disposed}");
    assert_error(&app.get("/api/v1/parcels?status=lost", Some(&admin)).await, 400, "invalid_query");
    assert_error(&app.get("/api/v1/parcels?town=999999", Some(&admin)).await, 422, "unknown_town");
}

#[tokio::test]
async fn bad_input_gets_clear_codes_and_changes_nothing() {
    let app = TestApp::spawn_demo().await;
    let admin = app.token("admin").await;
    let (status, p) = app.post("/api/v1/parcels", Some(&admin), parcel("B-001", HAIBIN)).await;
    assert_eq!(status, 201, "{p}");
    let id = p["id"].as_str().unwrap().to_owned();
    let before = app.fingerprint().await;
    let future = (chrono::Utc::now().date_naive() + chrono::Duration::days(10)).to_string();
    let with = |k: &str, v: Value| {
        let mut b = parcel("B-002", HAIBIN);
        b[k] = v;
        b
    };
    for (body, status, code, field) in [
        (with("area_m2", json!(-5.0)), 422, "validation_failed", Some("area_m2")),
        (with("area_m2", json!(0)), 422, "validation_failed", Some("area_m2")),
        (with("agreed_start", json!("garbage")), 422, "validation_failed", Some("agreed_start")),
        (with("agreed_start", json!("2016-02-30")), 422, "validation_failed", Some("agreed_start")),
        (with("actual_start", json!(future)), 422, "validation_failed", Some("actual_start")),
        (with("actual_start", json!("2010-01-01")), 422, "validation_failed", Some("actual_start")),
        (with("code", json!("  ")), 422, "validation_failed", Some("code")),
        (with("location", json!({"lon": 200.0, "lat": 39.7})), 422, "coordinate_out_of_range", None),
        (with("location", Value::Null), 422, "validation_failed", Some("location")),
        (with("town", json!("no-such-town")), 422, "unknown_town", None),
        (with("polygon", json!({"type": "Point", "coordinates": [1, 2]})), 422, "invalid_geometry", None),
        (with("status", json!("idle")), 400, "invalid_json", None),
        (with("area_m2", json!("big")), 400, "invalid_json", None),
    ] {
        let resp = app.post("/api/v1/parcels", Some(&admin), body.clone()).await;
        assert_error(&resp, status, code);
        if let Some(f) = field {
            assert_eq!(resp.1["error"]["details"]["field"], f, "{body}: {}", resp.1);
        }
    }
    // NaN is not JSON; malformed bodies and wrong types are invalid_json.
    let nan = br#"{"code": "B-003", "holder": "x", "area_m2": NaN, "agreed_start": "2016-01-01", "location": {"lon": 117.29, "lat": 39.73}}"#;
    assert_error(
        &app.raw("POST", "/api/v1/parcels", Some(&admin), "application/json", nan.to_vec()).await,
        400,
        "invalid_json",
    );
    assert_error(
        &app.raw("POST", "/api/v1/parcels", Some(&admin), "application/json", b"{\"code\": ".to_vec()).await,
        400,
        "invalid_json",
    );
    let url = format!("/api/v1/parcels/{id}");
    assert_error(&app.patch(&url, Some(&admin), json!({"area_m2": -1})).await, 422, "validation_failed");
    assert_error(&app.patch(&url, Some(&admin), json!({"actual_start": future})).await, 422, "validation_failed");
    assert_error(&app.patch(&url, Some(&admin), json!({"status": "disposed"})).await, 400, "invalid_json");
    // An active parcel is not disposed of; bad disposals are refused.
    let disposals = format!("/api/v1/parcels/{id}/disposals");
    let resp = app.post(&disposals, Some(&admin), json!({"kind": "repossessed", "disposed_on": "2017-06-01"})).await;
    assert_error(&resp, 422, "validation_failed");
    assert_eq!(resp.1["error"]["details"]["field"], "status");
    assert_error(
        &app.post(&disposals, Some(&admin), json!({"kind": "burnt", "disposed_on": "2017-06-01"})).await,
        400,
        "invalid_json",
    );
    assert_error(&app.get("/api/v1/parcels/not-a-uuid", Some(&admin)).await, 400, "invalid_path");
    assert_error(&app.get(&format!("/api/v1/parcels/{}", uuid::Uuid::now_v7()), Some(&admin)).await, 404, "not_found");
    assert_error(&app.get("/api/v1/parcels", None).await, 401, "unauthenticated");
    assert_eq!(app.fingerprint().await, before, "nothing changed");

    // The idle-land balance refuses a period that ends before it starts.
    let err = service::idle_balance(&app.state.db, d("2017-12-31"), d("2017-01-01"), None).await.unwrap_err();
    assert_eq!(err.code.as_str(), "validation_failed");
}

#[tokio::test]
async fn csv_import_is_all_or_nothing_and_idempotent() {
    let app = TestApp::spawn_demo().await;
    let admin = app.token("admin").await;
    let haibin = app.token("officer-120115001").await;
    let before = app.fingerprint().await;

    let bad = "code,holder,area_m2,agreed_start,actual_start,lon,lat,town\n\
               C-001,甲公司,100,2016-01-01,,117.295129,39.733503,\n\
               C-002,乙公司,-3,2016-01-01,,117.295129,39.733503,\n\
               C-003,丙公司,100,2016-99-01,,117.295129,39.733503,\n\
               C-004,丁公司,NaN,2016-01-01,,117.295129,39.733503,\n\
               C-005,戊公司,100,2016-01-01,,117.295129,95.0,\n\
               C-001,甲公司,100,2016-01-01,,117.295129,39.733503,\n\
               C-006,己公司,100\n";
    let resp = csv(&app, &admin, bad).await;
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
            (3, "area_m2".into()),
            (4, "agreed_start".into()),
            (5, "area_m2".into()),
            (6, "lat".into()),
            (7, "code".into()),
            (8, "row".into())
        ],
        "{}",
        resp.1
    );
    assert_eq!(app.fingerprint().await, before, "nothing imported");
    assert_error(
        &app.raw("POST", "/api/v1/parcels/import", Some(&admin), "application/json", b"{}".to_vec()).await,
        415,
        "unsupported_media_type",
    );
    let resp = csv(&app, &admin, "code;holder\nA;B\n").await;
    assert_error(&resp, 422, "validation_failed");
    assert_eq!(resp.1["error"]["details"]["field"], "header");

    // UTF-8 with BOM, CRLF, Chinese holders, a quoted comma; town by code or routed.
    let good = "\u{feff}code,holder,area_m2,agreed_start,actual_start,lon,lat,town\r\n\
                津宝出让(2016)101号,\"天津宝坻某某置业有限公司,二期\",12500.5,2016-03-01,,117.295129,39.733503,120115001\r\n\
                津宝出让(2016)102号,周良某某食品厂,800,2016-07-15,2016-12-01,117.341136,39.557182,\r\n";
    let (status, report) = csv(&app, &admin, good).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report, json!({"rows": 2, "created": 2, "updated": 0, "unchanged": 0}));
    let all = parcels_by_code(&app, &admin).await;
    let p = &all["津宝出让(2016)101号"];
    assert_eq!(p["holder"], "天津宝坻某某置业有限公司,二期");
    assert_eq!((p["area_m2"].as_f64(), p["town"]["code"].as_str()), (Some(12500.5), Some("120115001")));
    let q = &all["津宝出让(2016)102号"];
    assert_eq!((q["town"]["code"].as_str(), q["actual_start"].as_str()), (Some("120115006"), Some("2016-12-01")));

    // The same file again changes nothing; a changed row updates that parcel.
    let after = app.fingerprint().await;
    let (status, report) = csv(&app, &admin, good).await;
    assert_eq!((status.as_u16(), report), (200, json!({"rows": 2, "created": 0, "updated": 0, "unchanged": 2})));
    assert_eq!(app.fingerprint().await, after);
    let changed = good.replace("周良某某食品厂", "周良某某食品有限公司");
    let (_, report) = csv(&app, &admin, &changed).await;
    assert_eq!(report, json!({"rows": 2, "created": 0, "updated": 1, "unchanged": 1}));
    let q = &parcels_by_code(&app, &admin).await["津宝出让(2016)102号"];
    assert_eq!((q["holder"].as_str(), q["rev"].as_i64()), (Some("周良某某食品有限公司"), Some(2)));

    // A town office imports its own town's parcels only.
    let resp = csv(
        &app,
        &haibin,
        "code,holder,area_m2,agreed_start,actual_start,lon,lat,town\nC-010,x,1,2016-01-01,,117.341136,39.557182,\n",
    )
    .await;
    assert_error(&resp, 422, "validation_failed");
    assert_eq!(resp.1["error"]["details"]["errors"][0]["field"], "town");
    assert_error(&csv(&app, &app.token("inspector").await, good).await, 403, "forbidden");
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    use sea_orm::ConnectionTrait;
    let db = &app.state.db;
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(db.get_database_backend(), sql.to_owned()))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by_index::<i64>(0).unwrap()
}

#[tokio::test]
async fn the_sweep_opens_one_idle_land_case_per_parcel_and_disposals_close_them() {
    let app = TestApp::spawn_demo().await;
    let admin = app.token("admin").await;
    let haibin = app.token("officer-120115001").await;
    let idle_cases = "SELECT COUNT(*) FROM cases WHERE source = 'idle_land' AND external_ref LIKE 'parcel:%'";
    let base = count(&app, idle_cases).await;
    like_the_demo(&app, &admin).await;
    // 001 (海滨, agreed 2016-03-01), 004 (周良, 2016-04-01) idle by 2017-06-01;
    // 005 (周良, 2016-11-01) from 2017-11-01; 002 was built.
    assert_eq!(sweep::run_once(&app.state, d("2017-02-28")).await.unwrap(), 0);
    assert_eq!(sweep::run_once(&app.state, d("2017-06-01")).await.unwrap(), 2);
    assert_eq!(sweep::run_once(&app.state, d("2017-06-01")).await.unwrap(), 0, "idempotent");
    assert_eq!(sweep::run_once(&app.state, d("2017-06-02")).await.unwrap(), 0, "idempotent on later days");
    assert_eq!(count(&app, idle_cases).await, base + 2);

    let all = parcels_by_code(&app, &admin).await;
    let p = &all["测(2016)001号"];
    assert_eq!(
        (p["status"].as_str(), p["idle_since"].as_str(), p["rev"].as_i64()),
        (Some("idle"), Some("2017-03-01"), Some(2))
    );
    let case_id = p["idle_case_id"].as_str().unwrap();
    let (status, case) = app.get(&format!("/api/v1/cases/{case_id}"), Some(&haibin)).await;
    assert_eq!(status, 200, "{case}");
    let c = &case;
    assert_eq!((c["source"].as_str(), c["violation_type"].as_str()), (Some("idle_land"), Some("idle_land")));
    assert_eq!(c["town"]["id"], town_id("120115001"), "{c}");
    assert!(c["description"].as_str().unwrap().contains("天津宝坻海滨置业有限公司"));
    assert!(c["description"].as_str().unwrap().contains("测(2016)001号"));
    assert_eq!(c["deadline"], "2017-10-31", "the campaign's idle-land deadline");
    let (_, inbox) = app.get("/api/v1/alerts?kind=case_new&limit=500", Some(&haibin)).await;
    let alerts: Vec<&Value> = inbox["alerts"].as_array().unwrap().iter().filter(|a| a["case_id"] == case_id).collect();
    assert_eq!(alerts.len(), 1, "one case_new alert for the town: {inbox}");
    assert_eq!(alerts[0]["town_id"], town_id("120115001"));
    assert_eq!(all["测(2016)004号"]["status"], "idle");
    assert_eq!(all["测(2016)005号"]["status"], "active");
    assert_eq!(all["测(2016)002号"]["status"], "active", "built");
    assert_eq!(sweep::run_once(&app.state, d("2017-11-01")).await.unwrap(), 1);

    // Disposals: bad ones refused, a good one closes the parcel.
    let id = p["id"].as_str().unwrap();
    let url = format!("/api/v1/parcels/{id}/disposals");
    let zhouliang = app.token("officer-120115006").await;
    let before = app.fingerprint().await;
    let future = (chrono::Utc::now().date_naive() + chrono::Duration::days(3)).to_string();
    for (body, field) in [
        (json!({"kind": "construction_started", "disposed_on": "2016-02-01"}), "disposed_on"),
        (json!({"kind": "construction_started", "disposed_on": future}), "disposed_on"),
        (json!({"kind": "fee_collected", "disposed_on": "2017-07-01"}), "fee_fen"),
        (json!({"kind": "fee_collected", "disposed_on": "2017-07-01", "fee_fen": -5}), "fee_fen"),
        (json!({"kind": "repossessed", "disposed_on": "2017-07-01", "fee_fen": 100}), "fee_fen"),
        (json!({"kind": "other", "disposed_on": "yesterday"}), "disposed_on"),
    ] {
        let resp = app.post(&url, Some(&haibin), body.clone()).await;
        assert_error(&resp, 422, "validation_failed");
        assert_eq!(resp.1["error"]["details"]["field"], field, "{body}");
    }
    assert_error(
        &app.post(&url, Some(&haibin), json!({"kind": "other", "disposed_on": "2017-07-01", "extra": 1})).await,
        400,
        "invalid_json",
    );
    assert_error(
        &app.post(&url, Some(&zhouliang), json!({"kind": "other", "disposed_on": "2017-07-01"})).await,
        404,
        "not_found",
    );
    assert_eq!(app.fingerprint().await, before);
    let disposal_id = uuid::Uuid::now_v7();
    let body =
        json!({"id": disposal_id, "kind": "construction_started", "disposed_on": "2017-08-20", "note": "已动工"});
    let (status, done) = app.post(&url, Some(&haibin), body.clone()).await;
    assert_eq!(status, 201, "{done}");
    // The answer was lost: the same disposal again is answered as recorded, nothing changes.
    let recorded = app.fingerprint().await;
    let (status, again) = app.post(&url, Some(&haibin), body).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["disposal"], done["disposal"]);
    assert_eq!(again["parcel"]["rev"], done["parcel"]["rev"]);
    assert_eq!(app.fingerprint().await, recorded);
    let clash = json!({"id": disposal_id, "kind": "repossessed", "disposed_on": "2017-08-20"});
    assert_error(&app.post(&url, Some(&haibin), clash).await, 409, "duplicate_record");
    let parcel = &done["parcel"];
    assert_eq!(
        (
            parcel["status"].as_str(),
            parcel["disposed_on"].as_str(),
            parcel["disposal"].as_str(),
            parcel["actual_start"].as_str()
        ),
        (Some("disposed"), Some("2017-08-20"), Some("construction_started"), Some("2017-08-20"))
    );
    assert_eq!(parcel["rev"], 3);
    // The idle-land case's ledger tells how the land was dealt with (its status is the office's to move).
    let (status, history) = app.get(&format!("/api/v1/cases/{case_id}/history"), Some(&haibin)).await;
    assert_eq!(status, 200, "{history}");
    let entry = history.as_array().unwrap().iter().find(|e| e["action"] == "parcel_disposed").expect("the disposal");
    assert_eq!(entry["after"]["disposed_on"], "2017-08-20");
    assert_eq!(entry["after"]["kind"], "construction_started");
    assert_eq!(entry["after"]["disposal_id"], disposal_id.to_string());
    assert_eq!(entry["note"], "已动工");
    assert!(entry["to_status"].is_null());
    let resp = app.post(&url, Some(&haibin), json!({"kind": "other", "disposed_on": "2017-09-01"})).await;
    assert_error(&resp, 422, "validation_failed");
    assert_eq!(resp.1["error"]["details"]["field"], "status", "closed once");
    let (_, list) = app.get(&url, Some(&haibin)).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["note"], "已动工");
    assert_error(
        &app.patch(&format!("/api/v1/parcels/{id}"), Some(&haibin), json!({"actual_start": "2017-09-01"})).await,
        422,
        "validation_failed",
    );

    // 周良's 004 pays the idle fee.
    let zid = all["测(2016)004号"]["id"].as_str().unwrap();
    let (status, fee) = app
        .post(
            &format!("/api/v1/parcels/{zid}/disposals"),
            Some(&admin),
            json!({"kind": "fee_collected", "disposed_on": "2017-09-30", "fee_fen": 150_000_000}),
        )
        .await;
    assert_eq!(status, 201, "{fee}");
    assert_eq!(
        (fee["disposal"]["fee_fen"].as_i64(), fee["parcel"]["actual_start"].as_str()),
        (Some(150_000_000), None)
    );
    assert_eq!(sweep::run_once(&app.state, d("2018-12-31")).await.unwrap(), 0, "closed parcels are never idle again");
    assert_eq!(count(&app, idle_cases).await, base + 3);
}

#[tokio::test]
async fn concurrent_sweeps_open_each_case_once() {
    let app = TestApp::spawn_demo().await;
    let admin = app.token("admin").await;
    let counts = [
        "SELECT COUNT(*) FROM cases WHERE source = 'idle_land' AND external_ref LIKE 'parcel:%'",
        "SELECT COUNT(*) FROM parcels WHERE status = 'idle' AND idle_case_id IS NOT NULL",
        "SELECT COUNT(*) FROM alerts WHERE kind = 'case_new' AND case_id IN (SELECT idle_case_id FROM parcels)",
    ];
    let mut base = Vec::new();
    for sql in counts {
        base.push(count(&app, sql).await);
    }
    for i in 0..8 {
        let p = if i % 2 == 0 { HAIBIN } else { ZHOULIANG };
        let (status, body) = app.post("/api/v1/parcels", Some(&admin), parcel(&format!("K-{i}"), p)).await;
        assert_eq!(status, 201, "{body}");
    }
    let other = app.second_instance().await;
    let day = d("2017-06-01");
    let (a, b, c) = tokio::join!(
        sweep::run_once(&app.state, day),
        sweep::run_once(&other.state, day),
        sweep::run_once(&app.state, day)
    );
    assert_eq!(a.unwrap() + b.unwrap() + c.unwrap(), 8, "the 8 new parcels (the demo's were idle in 2017)");
    for (sql, before) in counts.into_iter().zip(base) {
        assert_eq!(count(&app, sql).await, before + 8, "{sql}");
    }
}

#[tokio::test]
async fn idle_balance_matches_hand_computed_figures() {
    let app = TestApp::spawn_demo().await;
    let admin = app.token("admin").await;
    // The demo's 2017 sweeps found its parcels idle; 周良's 004 is repossessed.
    let all = parcels_by_code(&app, &admin).await;
    let zid = all["津宝出让(2016)004号"]["id"].as_str().unwrap();
    let (status, _) = app
        .post(
            &format!("/api/v1/parcels/{zid}/disposals"),
            Some(&admin),
            json!({"kind": "repossessed", "disposed_on": "2017-09-30"}),
        )
        .await;
    assert_eq!(status, 201);
    let (hb, zl) = (town_id("120115001"), town_id("120115006"));
    let figures = |rows: Vec<service::IdleBalance>| -> Vec<(String, i64, f64, i64, f64, i64, f64)> {
        rows.into_iter()
            .map(|b| {
                let t = b.town_id.map(|t| t.to_string()).unwrap_or_default();
                (
                    t,
                    b.newly_idle,
                    b.newly_idle_area_m2,
                    b.disposed,
                    b.disposed_area_m2,
                    b.idle_at_end,
                    b.idle_area_at_end_m2,
                )
            })
            .collect::<Vec<_>>()
    };
    let sorted = |mut v: Vec<(String, i64, f64, i64, f64, i64, f64)>| {
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    };
    // 海滨: 001 idle 2017-03-01 (12000 m²); 003 idle 2017-01-15, disposed 2017-05-20 (3000 m²).
    // 周良: 004 idle 2017-04-01, disposed 2017-09-30 (20000 m²); 005 idle 2017-11-01 (5000 m²).
    let h1 = figures(service::idle_balance(&app.state.db, d("2017-01-01"), d("2017-06-30"), None).await.unwrap());
    assert_eq!(
        sorted(h1),
        sorted(vec![(hb.clone(), 2, 15000.0, 1, 3000.0, 1, 12000.0), (zl.clone(), 1, 20000.0, 0, 0.0, 1, 20000.0),])
    );
    let h2 = figures(service::idle_balance(&app.state.db, d("2017-07-01"), d("2017-12-31"), None).await.unwrap());
    assert_eq!(
        sorted(h2),
        sorted(vec![(hb.clone(), 0, 0.0, 0, 0.0, 1, 12000.0), (zl.clone(), 1, 5000.0, 1, 20000.0, 1, 5000.0)])
    );
    // A past date is reconstructed: on 2017-05-19 003 was still idle.
    let may = figures(service::idle_balance(&app.state.db, d("2017-05-01"), d("2017-05-19"), None).await.unwrap());
    assert_eq!(sorted(may), sorted(vec![(hb, 0, 0.0, 0, 0.0, 2, 15000.0), (zl, 0, 0.0, 0, 0.0, 1, 20000.0)]));
    assert!(service::idle_balance(&app.state.db, d("2016-01-01"), d("2016-12-31"), None).await.unwrap().is_empty());
}

#[tokio::test]
async fn officers_pull_their_towns_parcels_only() {
    let app = TestApp::spawn_demo().await;
    let pull = |token: String, cursor: Option<String>| {
        let app = &app;
        async move {
            let (status, page) = app
                .post(
                    "/api/v1/sync/pull",
                    Some(&token),
                    json!({"cursor": cursor, "tables": ["parcels"], "limit": 5000}),
                )
                .await;
            assert_eq!(status, 200, "{page}");
            page
        }
    };
    let codes = |page: &Value| -> Vec<String> {
        let mut v: Vec<String> =
            page["changes"].as_array().unwrap().iter().map(|c| c["record"]["code"].as_str().unwrap().into()).collect();
        v.sort();
        v
    };
    let haibin = app.token("officer-120115001").await;
    let page = pull(haibin.clone(), None).await;
    assert_eq!(codes(&page), ["津宝出让(2016)001号", "津宝出让(2016)002号", "津宝划拨(2016)003号"], "{page}");
    assert!(
        page["changes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["table"] == "parcels" && c["record"]["town"]["code"] == "120115001")
    );
    let page_z = pull(app.token("officer-120115006").await, None).await;
    assert_eq!(codes(&page_z), ["津宝出让(2016)004号", "津宝出让(2016)005号"]);
    assert_eq!(codes(&pull(app.token("admin").await, None).await).len(), 5);
    assert!(
        pull(app.token("inspector").await, None).await["changes"].as_array().unwrap().is_empty(),
        "inspectors pull no parcels"
    );

    // A change reaches the next pull as a new revision; the sweep's too.
    let cursor = page["cursor"].as_str().unwrap().to_owned();
    let id = page["changes"][0]["id"].as_str().unwrap().to_owned();
    let (status, _) = app.patch(&format!("/api/v1/parcels/{id}"), Some(&haibin), json!({"area_m2": 4321.0})).await;
    assert_eq!(status, 200);
    let next = pull(haibin.clone(), Some(cursor)).await;
    let changes = next["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "{next}");
    assert_eq!((changes[0]["id"].as_str(), changes[0]["rev"].as_i64()), (Some(id.as_str()), Some(2)));
    assert_eq!(changes[0]["record"]["area_m2"], 4321.0);
    let cursor = next["cursor"].as_str().unwrap().to_owned();
    let admin = app.token("admin").await;
    for (code, at) in [("T-PULL-H", HAIBIN), ("T-PULL-Z", ZHOULIANG)] {
        let (status, body) = app.post("/api/v1/parcels", Some(&admin), parcel(code, at)).await;
        assert_eq!(status, 201, "{body}");
    }
    let new = pull(haibin.clone(), Some(cursor)).await;
    assert_eq!(codes(&new), ["T-PULL-H"], "{new}");
    let cursor = new["cursor"].as_str().unwrap().to_owned();
    assert_eq!(sweep::run_once(&app.state, d("2017-06-01")).await.unwrap(), 2);
    let after = pull(haibin, Some(cursor)).await;
    let idle: Vec<&Value> = after["changes"].as_array().unwrap().iter().collect();
    assert_eq!(idle.len(), 1, "only 海滨's new parcel became idle for 海滨: {after}");
    assert_eq!(
        (idle[0]["record"]["code"].as_str(), idle[0]["record"]["status"].as_str()),
        (Some("T-PULL-H"), Some("idle"))
    );

    // Clients cannot write parcels.
    assert!(!landpatrol_sync::sync::Table::Parcels.is_writable());
    let (token, device) = app.device_session("officer-120115001").await;
    let ms = chrono::Utc::now().timestamp_millis();
    let op = json!({"op_id": uuid::Uuid::now_v7(), "seq": 1, "hlc": format!("{ms:013}-0000-{device}"), "op": "update",
        "table": "parcels", "id": id, "base_rev": 2, "fields": {"holder": "x"}});
    let (status, body) = app.post("/api/v1/sync/push", Some(&token), json!({"device_id": device, "ops": [op]})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["results"][0]["status"], "rejected", "{body}");
    assert_eq!(body["results"][0]["error"]["code"], "unknown_table", "{body}");
}

/// A parcel entered by mistake is deleted while still active: gone from the
/// list, a deletion in the officer's pull, and deleting again changes
/// nothing; an idle or disposed one stays on record.
#[tokio::test]
async fn a_parcel_entered_by_mistake_is_deleted_while_active() {
    let app = TestApp::spawn_demo().await;
    let admin = app.token("admin").await;
    let haibin = app.token("officer-120115001").await;
    let (status, p) = app.post("/api/v1/parcels", Some(&haibin), parcel("MISTAKE-1", HAIBIN)).await;
    assert_eq!(status, 201, "{p}");
    let id = p["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/parcels/{id}");

    // Refused: an inspector, another town's officer; nothing changes.
    let (inspector, other) = (app.token("inspector").await, app.token("officer-120115006").await);
    let before = app.fingerprint().await;
    assert_error(&app.delete(&path, Some(&inspector)).await, 403, "forbidden");
    assert_error(&app.delete(&path, Some(&other)).await, 404, "not_found");
    assert_error(
        &app.delete(&format!("/api/v1/parcels/{}", uuid::Uuid::now_v7()), Some(&admin)).await,
        404,
        "not_found",
    );
    assert_eq!(app.fingerprint().await, before);

    let cursor = app.pull_table(&haibin, "parcels", None).await["cursor"].as_str().unwrap().to_owned();
    // Past reports keep what a change overwrote, and only what they read: a new holder is not kept.
    let kept = "SELECT COUNT(*) FROM land_changes";
    let history = count(&app, kept).await;
    assert_eq!(app.patch(&path, Some(&haibin), json!({"holder": "更正后的单位"})).await.0, 200);
    assert_eq!(count(&app, kept).await, history);
    let (status, _) = app.delete(&path, Some(&haibin)).await;
    assert_eq!(status, 204);
    assert_eq!(count(&app, kept).await, history + 1, "the deletion is kept");
    assert_error(&app.get(&path, Some(&haibin)).await, 404, "not_found");
    assert!(!parcels_by_code(&app, &admin).await.contains_key("MISTAKE-1"));
    let after = app.pull_table(&haibin, "parcels", Some(&cursor)).await;
    let changes = after["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "{after}");
    assert_eq!((changes[0]["id"].as_str(), changes[0]["op"].as_str()), (Some(id.as_str()), Some("delete")));
    // A retry after a lost answer: 204, nothing changes.
    let gone = app.fingerprint().await;
    assert_eq!(app.delete(&path, Some(&haibin)).await.0, 204);
    assert_eq!(app.fingerprint().await, gone);
    // The deleted parcel is never found idle.
    assert_eq!(sweep::run_once(&app.state, d("2017-06-01")).await.unwrap(), 0);

    // The demo's idle 001 and disposed 003 stay.
    let all = parcels_by_code(&app, &admin).await;
    for code in ["津宝出让(2016)001号", "津宝划拨(2016)003号"] {
        let resp = app.delete(&format!("/api/v1/parcels/{}", all[code]["id"].as_str().unwrap()), Some(&admin)).await;
        assert_error(&resp, 422, "validation_failed");
        assert_eq!(resp.1["error"]["details"]["field"], "status", "{code}");
    }
    assert_eq!(app.fingerprint().await, gone);
}
