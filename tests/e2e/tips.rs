//! Public tips: anonymous submission with photos and contact, the receipt
//! view, the office's view, idempotency, rate limits, bad input, the
//! `tip_received` alert of the routed town only, duplicates and triage.

use landpatrol_tests::{TestApp, assert_error, photo_fixture, sha256_hex};
use reqwest::StatusCode;
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

/// A point in 海滨街道 (120115001).
const HAIBIN: (f64, f64) = (117.295129, 39.733503);
/// A point in 周良街道 (120115006).
const ZHOULIANG: (f64, f64) = (117.341136, 39.557182);
const IPHONE4: &str = "drewnoakes__metadata-extractor-images/Apple iPhone 4.jpg";
const IPHONE5: &str = "drewnoakes__metadata-extractor-images/Apple iPhone 5.jpg";

/// A quiet place in 海滨街道, more than a kilometre from the demo cases.
const QUIET: (f64, f64) = (117.2951, 39.7445);
/// Metres of latitude per degree.
const M_PER_DEG: f64 = 111_195.0;

fn north(p: (f64, f64), metres: f64) -> (f64, f64) {
    (p.0, p.1 + metres / M_PER_DEG)
}

fn tip_at(p: (f64, f64), description: &str) -> Value {
    json!({"location": {"lon": p.0, "lat": p.1}, "description": description})
}

/// `POST /api/v1/tips` with optional headers, no login.
async fn submit(
    app: &TestApp,
    body: &Value,
    key: Option<&str>,
    device: Option<&str>,
) -> (StatusCode, Value, Option<String>) {
    let mut req = app.client.post(app.url("/api/v1/tips")).json(body);
    if let Some(k) = key {
        req = req.header("Idempotency-Key", k);
    }
    if let Some(d) = device {
        req = req.header("X-Device-Id", d);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    let retry = resp.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
    let text = resp.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)), retry)
}

async fn created(app: &TestApp, body: Value) -> Value {
    let (status, receipt, _) = submit(app, &body, None, None).await;
    assert_eq!(status, 201, "{receipt}");
    receipt
}

async fn count(app: &TestApp, table: &str) -> i64 {
    let row = app
        .state
        .db
        .query_one_raw(sea_orm::Statement::from_string(
            app.state.db.get_database_backend(),
            format!("SELECT COUNT(*) FROM {table}"),
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by_index::<i64>(0).unwrap()
}

async fn put_anonymous(app: &TestApp, bytes: &[u8]) -> (StatusCode, Value) {
    let resp = app
        .client
        .put(app.url(&format!("/api/v1/photos/{}", sha256_hex(bytes))))
        .header("content-type", "image/jpeg")
        .body(bytes.to_vec())
        .send()
        .await
        .unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn anonymous_tip_with_photo_and_contact_shows_the_contact_only_to_its_office() {
    let app = TestApp::spawn_demo().await;
    let photo = photo_fixture(IPHONE4);
    let sha = sha256_hex(&photo);
    let (status, view) = put_anonymous(&app, &photo).await;
    assert_eq!(status, 201, "{view}");
    assert_eq!(view["exif"]["status"], "withheld", "an anonymous uploader learns nothing about the photo: {view}");
    assert_eq!(view["links"], json!([]));
    // Sending it again is a no-op.
    assert_eq!(put_anonymous(&app, &photo).await.0, 200);
    // Anonymous callers still can not read photos.
    let resp = app.client.get(app.url(&format!("/api/v1/photos/{sha}"))).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    let resp = app.client.get(app.url(&format!("/api/v1/photos/{sha}/original"))).send().await.unwrap();
    assert_eq!(resp.status(), 401);

    let body = json!({
        "location": {"lon": HAIBIN.0, "lat": HAIBIN.1, "crs": "cgcs2000", "accuracy_m": 12},
        "description": "村东头耕地上正在盖两层砖房", "address": "北台村东", "violation_type": "farmland_occupation",
        "photos": [sha.to_uppercase()], "contact": {"name": "张先生", "phone": "13800000000"},
    });
    let (status, receipt, _) = submit(&app, &body, None, Some("install-1")).await;
    assert_eq!(status, 201, "{receipt}");
    assert_eq!(receipt["status"], "received");
    let id = receipt["id"].as_str().unwrap();
    let token = receipt["receipt_token"].as_str().unwrap();
    assert_eq!(receipt["status_url"], format!("/api/v1/tips/{id}?receipt_token={token}"));

    // The reporter's view: status, nothing private.
    let (status, public) = app.get(receipt["status_url"].as_str().unwrap(), None).await;
    assert_eq!(status, 200, "{public}");
    assert_eq!(public["public_status"], "received");
    assert_eq!(public["description"], "村东头耕地上正在盖两层砖房");
    let keys: Vec<&str> = public.as_object().unwrap().keys().map(String::as_str).collect();
    for private in ["contact", "client_addr", "device_id", "triage_note", "duplicates"] {
        assert!(!keys.contains(&private), "{private} shown to the public: {public}");
    }
    // Photos only as the public copies (without EXIF), behind this receipt's token.
    for p in public["photos"].as_array().unwrap() {
        assert!(p.as_str().unwrap().starts_with(&format!("/api/v1/tips/{id}/photos/")), "{public}");
    }
    assert!(!public.to_string().contains("13800000000"));
    // A wrong, foreign or missing token is a tip that does not exist.
    assert_error(&app.get(&format!("/api/v1/tips/{id}?receipt_token=lptr_AAAA"), None).await, 404, "not_found");
    let other = created(&app, tip_at(HAIBIN, "another")).await;
    let foreign = other["receipt_token"].as_str().unwrap();
    assert_error(&app.get(&format!("/api/v1/tips/{id}?receipt_token={foreign}"), None).await, 404, "not_found");
    assert_error(&app.get(&format!("/api/v1/tips/{id}"), None).await, 404, "not_found");

    // The office of the routed town sees everything.
    let officer = app.token("officer-120115001").await;
    let (status, full) = app.get(&format!("/api/v1/tips/{id}"), Some(&officer)).await;
    assert_eq!(status, 200, "{full}");
    assert_eq!(full["contact"]["phone"], "13800000000");
    assert_eq!(full["contact"]["name"], "张先生");
    assert_eq!(full["town"]["code"], "120115001");
    assert_eq!(full["photos"], json!([sha]));
    assert_eq!(full["device_id"], "install-1");
    assert_eq!(full["client_addr"], "127.0.0.1");
    assert_eq!(full["violation_type"], "farmland_occupation");
    assert_eq!(full["input_crs"], "wgs84");
    assert!(full["duplicates"].is_array());
    // The bureau too; another town's office does not know it exists; field staff may not.
    let admin = app.token("admin").await;
    assert_eq!(app.get(&format!("/api/v1/tips/{id}"), Some(&admin)).await.0, 200);
    let stranger = app.token("officer-120115006").await;
    assert_error(&app.get(&format!("/api/v1/tips/{id}"), Some(&stranger)).await, 404, "not_found");
    let inspector = app.token("inspector").await;
    assert_error(&app.get(&format!("/api/v1/tips/{id}"), Some(&inspector)).await, 403, "forbidden");
    // The office may now read the photo (linked to its town's tip).
    assert_eq!(app.get(&format!("/api/v1/photos/{sha}"), Some(&officer)).await.0, 200);

    // Lists: the town's own, newest first; filters; another town sees none of them.
    let (status, page) = app.get("/api/v1/tips?status=received", Some(&officer)).await;
    assert_eq!(status, 200, "{page}");
    let ids: Vec<&str> = page["items"].as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap()).collect();
    assert_eq!(ids, vec![other["id"].as_str().unwrap(), id]);
    let (_, page) = app.get("/api/v1/tips?limit=1", Some(&officer)).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    let cursor = page["next_cursor"].as_str().unwrap();
    let (_, next) = app.get(&format!("/api/v1/tips?limit=1&cursor={cursor}"), Some(&officer)).await;
    assert_eq!(next["items"][0]["id"], id);
    let (_, page) = app.get("/api/v1/tips", Some(&stranger)).await;
    assert_eq!(page["items"], json!([]));
    assert_error(&app.get("/api/v1/tips?status=bogus", Some(&officer)).await, 400, "invalid_query");
    assert_error(&app.get("/api/v1/tips", Some(&inspector)).await, 403, "forbidden");
    assert_error(&app.get("/api/v1/tips", None).await, 401, "unauthenticated");
}

#[tokio::test]
async fn the_tip_received_alert_goes_to_the_routed_town_only() {
    let app = TestApp::spawn_demo().await;
    let receipt = created(&app, tip_at(HAIBIN, "砖房")).await;
    let id = receipt["id"].as_str().unwrap();
    let haibin = app.token("officer-120115001").await;
    let zhouliang = app.token("officer-120115006").await;

    let (status, inbox) = app.get("/api/v1/alerts?kind=tip_received", Some(&haibin)).await;
    assert_eq!(status, 200, "{inbox}");
    let alerts = inbox["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 1, "{inbox}");
    assert_eq!(alerts[0]["tip_id"], id);
    assert_eq!(alerts[0]["town"]["code"], "120115001");
    assert!(!alerts[0].to_string().contains("contact"), "alerts carry no contact: {}", alerts[0]);
    let alert_id = alerts[0]["id"].as_str().unwrap();

    let (_, other) = app.get("/api/v1/alerts", Some(&zhouliang)).await;
    assert!(
        other["alerts"].as_array().unwrap().iter().all(|a| a["tip_id"] != id),
        "another town's office never sees it: {other}"
    );
    assert_error(&app.get(&format!("/api/v1/alerts/{alert_id}"), Some(&zhouliang)).await, 404, "not_found");
    let admin = app.token("admin").await;
    let (_, all) = app.get("/api/v1/alerts?kind=tip_received", Some(&admin)).await;
    assert_eq!(all["alerts"].as_array().unwrap().len(), 1);

    // A tip in the other town alerts that town, not the first.
    let there = created(&app, tip_at(ZHOULIANG, "鱼塘")).await;
    let (_, inbox) = app.get("/api/v1/alerts?kind=tip_received", Some(&zhouliang)).await;
    assert_eq!(inbox["alerts"][0]["tip_id"], there["id"]);
    let (_, inbox) = app.get("/api/v1/alerts?kind=tip_received", Some(&haibin)).await;
    assert_eq!(inbox["alerts"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn an_idempotent_replay_creates_nothing_and_a_reused_key_conflicts() {
    let app = TestApp::spawn_demo().await;
    let body = json!({"location": {"lon": HAIBIN.0, "lat": HAIBIN.1, "crs": "gcj02"}, "description": "违建", "contact": {"email": "a@example.org"}});
    let (status, first, _) = submit(&app, &body, Some("key-0001"), None).await;
    assert_eq!(status, 201, "{first}");
    let before = (count(&app, "tips").await, count(&app, "alerts").await);
    let (status, again, _) = submit(&app, &body, Some("key-0001"), None).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["id"], first["id"]);
    assert_eq!(again["receipt_token"], first["receipt_token"]);
    assert_eq!((count(&app, "tips").await, count(&app, "alerts").await), before, "nothing new");

    let mut changed = body.clone();
    changed["description"] = json!("违建 (edited)");
    let (status, err, _) = submit(&app, &changed, Some("key-0001"), None).await;
    assert_eq!(status, 409, "{err}");
    assert_eq!(err["error"]["code"], "idempotency_conflict");
    assert_eq!((count(&app, "tips").await, count(&app, "alerts").await), before);
    // A bad key is refused.
    let (status, err, _) = submit(&app, &body, Some(&"k".repeat(201)), None).await;
    assert_eq!(status, 422, "{err}");
    assert_eq!(count(&app, "tips").await, before.0);
}

#[tokio::test]
async fn rate_limits_per_address_and_device_answer_429_with_retry_after() {
    let app = TestApp::spawn_with(|s| {
        s.tips.per_address_per_hour = 3;
        s.tips.per_device_per_hour = 1;
        s.tips.photo_uploads_per_address_per_hour = 1;
    })
    .await;
    let body = tip_at(HAIBIN, "违建");
    let (status, first, _) = submit(&app, &body, Some("only-once"), Some("phone-a")).await;
    assert_eq!(status, 201, "{first}");
    // The same device again: over its limit.
    let (status, err, retry) = submit(&app, &tip_at(HAIBIN, "second"), None, Some("phone-a")).await;
    assert_eq!(status, 429, "{err}");
    assert_eq!(err["error"]["code"], "rate_limited");
    let secs: u64 = retry.expect("Retry-After").parse().unwrap();
    assert!((3000..=3600).contains(&secs), "{secs}");
    // Another device from the same address, until the address is full.
    assert_eq!(submit(&app, &tip_at(HAIBIN, "b"), None, Some("phone-b")).await.0, 201);
    assert_eq!(submit(&app, &tip_at(HAIBIN, "c"), None, None).await.0, 201);
    let (status, _, retry) = submit(&app, &tip_at(HAIBIN, "d"), None, Some("phone-c")).await;
    assert_eq!(status, 429);
    assert!(retry.is_some());
    // A replay is not a new tip: it is answered even now.
    let (status, again, _) = submit(&app, &body, Some("only-once"), Some("phone-a")).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["id"], first["id"]);
    assert_eq!(count(&app, "tips").await, 3);

    // Anonymous photo uploads have their own limit per address.
    assert_eq!(put_anonymous(&app, &photo_fixture(IPHONE4)).await.0, 201);
    let resp = app
        .client
        .put(app.url(&format!("/api/v1/photos/{}", sha256_hex(&photo_fixture(IPHONE5)))))
        .body(photo_fixture(IPHONE5))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    assert!(resp.headers().get("retry-after").is_some());
    // tus creation counts against the same limit.
    let resp = app
        .client
        .post(app.url("/api/v1/uploads"))
        .header("Tus-Resumable", "1.0.0")
        .header("Upload-Length", "100")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["tus-resumable"], "1.0.0");
}

#[tokio::test]
async fn anonymous_tus_uploads_work_and_stay_private_to_their_url() {
    let app = TestApp::spawn_demo().await;
    let bytes = photo_fixture(IPHONE5);
    let resp = app
        .client
        .post(app.url("/api/v1/uploads"))
        .header("Tus-Resumable", "1.0.0")
        .header("Upload-Length", bytes.len().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let url = resp.headers()["location"].to_str().unwrap().to_owned();
    let resp = app
        .client
        .patch(&url)
        .header("Tus-Resumable", "1.0.0")
        .header("Upload-Offset", "0")
        .header("content-type", "application/offset+octet-stream")
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    assert_eq!(resp.headers()["landpatrol-photo-sha256"], sha256_hex(&bytes).as_str());
    // A logged-in user does not own the anonymous upload.
    let token = app.token("inspector").await;
    let resp = app.client.head(&url).bearer_auth(&token).header("Tus-Resumable", "1.0.0").send().await.unwrap();
    assert_eq!(resp.status(), 404);
    // The photo has no uploader.
    let row = app
        .state
        .db
        .query_one_raw(sea_orm::Statement::from_string(
            app.state.db.get_database_backend(),
            format!("SELECT COUNT(*) FROM photos WHERE sha256 = '{}' AND uploaded_by IS NULL", sha256_hex(&bytes)),
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.try_get_by_index::<i64>(0).unwrap(), 1);
}

#[tokio::test]
async fn bad_input_changes_nothing() {
    let owned = TestApp::spawn_demo().await;
    let app = &owned;
    let before = (app.fingerprint().await, count(app, "tips").await, count(app, "alerts").await);
    let raw = move |body: &str| app.raw("POST", "/api/v1/tips", None, "application/json", body.as_bytes().to_vec());
    assert_error(&raw("{\"location\": ").await, 400, "invalid_json");
    assert_error(
        &raw("{\"location\": {\"lon\": \"east\", \"lat\": 39.7}, \"description\": \"x\"}").await,
        400,
        "invalid_json",
    );
    assert_error(
        &raw("{\"location\": {\"lon\": 117.3, \"lat\": 39.7}, \"description\": 5}").await,
        400,
        "invalid_json",
    );
    assert_error(&raw("{\"location\": {\"lon\": 117.3, \"lat\": 39.7}}").await, 400, "invalid_json");
    assert_error(
        &raw("{\"location\": {\"lon\": 117.3, \"lat\": 39.7}, \"description\": \"x\", \"status\": \"closed\"}").await,
        400,
        "invalid_json",
    );
    assert_error(
        &raw("{\"location\": {\"lon\": 117.3, \"lat\": 39.7}, \"description\": \"x\", \"contact\": {\"fax\": \"1\"}}")
            .await,
        400,
        "invalid_json",
    );
    assert_error(
        &raw("{\"location\": {\"lon\": 117.3, \"lat\": 39.7, \"crs\": \"utm\"}, \"description\": \"x\"}").await,
        400,
        "invalid_json",
    );
    assert_error(
        &app.raw("POST", "/api/v1/tips", None, "text/plain", b"{}".to_vec()).await,
        415,
        "unsupported_media_type",
    );
    let post = |body: Value| async move { app.post("/api/v1/tips", None, body).await };
    assert_error(&post(tip_at((117.3, 95.0), "x")).await, 422, "coordinate_out_of_range");
    assert_error(&post(tip_at((f64::MAX, 39.7), "x")).await, 422, "coordinate_out_of_range");
    assert_error(&post(tip_at(HAIBIN, "   ")).await, 422, "validation_failed");
    assert_error(&post(tip_at(HAIBIN, &"长".repeat(4001))).await, 422, "validation_failed");
    let mut b = tip_at(HAIBIN, "x");
    b["photos"] = json!((0..11).map(|i| format!("{i:064x}")).collect::<Vec<_>>());
    assert_error(&post(b).await, 422, "validation_failed");
    let mut b = tip_at(HAIBIN, "x");
    b["photos"] = json!(["not-a-hash"]);
    assert_error(&post(b).await, 422, "validation_failed");
    let mut b = tip_at(HAIBIN, "x");
    b["contact"] = json!({"name": "n".repeat(101)});
    assert_error(&post(b).await, 422, "validation_failed");
    let mut b = tip_at(HAIBIN, "x");
    b["address"] = json!("a".repeat(501));
    assert_error(&post(b).await, 422, "validation_failed");
    let mut b = tip_at(HAIBIN, "x");
    b["violation_type"] = json!("jaywalking");
    assert_error(&post(b).await, 400, "invalid_json");
    // A body over the 64 KiB limit of tips.
    let huge =
        format!("{{\"location\": {{\"lon\": 117.3, \"lat\": 39.7}}, \"description\": \"{}\"}}", "x".repeat(70_000));
    assert_error(&raw(&huge).await, 413, "payload_too_large");
    assert_eq!((app.fingerprint().await, count(app, "tips").await, count(app, "alerts").await), before);
    // Triage input is checked too.
    let officer = app.token("officer-120115001").await;
    let receipt = created(app, tip_at(HAIBIN, "x")).await;
    let id = receipt["id"].as_str().unwrap();
    let before = app.fingerprint().await;
    let triage = |body: Value| {
        let officer = officer.clone();
        async move { app.post(&format!("/api/v1/tips/{id}/triage"), Some(&officer), body).await }
    };
    assert_error(&triage(json!({"action": "explode"})).await, 400, "invalid_json");
    assert_error(&triage(json!({"action": "merge"})).await, 400, "invalid_json");
    assert_error(&triage(json!({"action": "reject", "note": "  "})).await, 422, "reason_required");
    assert_error(
        &triage(json!({"action": "merge", "case_id": "0193a4f2-0000-7000-8000-000000000001"})).await,
        404,
        "not_found",
    );
    assert_eq!(app.fingerprint().await, before);
    let (_, full) = app.get(&format!("/api/v1/tips/{id}"), Some(&officer)).await;
    assert_eq!(full["status"], "received");
}

async fn case_at(app: &TestApp, token: &str, p: (f64, f64), description: &str) -> Value {
    let (status, case) = app
        .post(
            "/api/v1/cases",
            Some(token),
            json!({"source": "patrol", "location": {"lon": p.0, "lat": p.1}, "description": description}),
        )
        .await;
    assert_eq!(status, 201, "{case}");
    case
}

#[tokio::test]
async fn triage_makes_a_case_merges_or_rejects_once_and_lists_duplicates_nearby() {
    let app = TestApp::spawn_demo().await;
    let admin = app.token("admin").await;
    let officer = app.token("officer-120115001").await;
    let stranger = app.token("officer-120115006").await;
    let inspector = app.token("inspector").await;
    let verifier = app.token("verifier").await;

    let near = case_at(&app, &admin, QUIET, "彩钢房").await;
    let far = case_at(&app, &admin, north(QUIET, 300.0), "养殖场").await;
    let closed = case_at(&app, &admin, north(QUIET, 20.0), "已处理").await;
    let (status, _) = app
        .post(
            &format!("/api/v1/cases/{}/transitions", closed["id"].as_str().unwrap()),
            Some(&admin),
            json!({"from": "reported", "to": "dismissed", "note": "合法用地"}),
        )
        .await;
    assert_eq!(status, 200);

    // A tip 50 m from one open case and 250 m from another.
    let photo = photo_fixture(IPHONE4);
    let sha = sha256_hex(&photo);
    assert_eq!(put_anonymous(&app, &photo).await.0, 201);
    let mut body = tip_at(north(QUIET, 50.0), "又在盖房");
    body["photos"] = json!([sha]);
    let receipt = created(&app, body).await;
    let id = receipt["id"].as_str().unwrap();
    let (_, full) = app.get(&format!("/api/v1/tips/{id}"), Some(&officer)).await;
    let dups = full["duplicates"].as_array().unwrap();
    assert_eq!(dups.len(), 1, "only the open case within 100 m: {dups:?}");
    assert_eq!(dups[0]["case_id"], near["id"]);
    let d = dups[0]["distance_m"].as_f64().unwrap();
    assert!((45.0..55.0).contains(&d), "{d}");
    assert!(!dups.iter().any(|c| c["case_id"] == far["id"] || c["case_id"] == closed["id"]));

    // Who may decide.
    let path = format!("/api/v1/tips/{id}/triage");
    let merge = json!({"action": "merge", "case_id": near["id"], "note": "同一处"});
    assert_error(&app.post(&path, Some(&inspector), merge.clone()).await, 403, "forbidden");
    assert_error(&app.post(&path, Some(&verifier), merge.clone()).await, 403, "forbidden");
    assert_error(&app.post(&path, Some(&stranger), merge.clone()).await, 404, "not_found");
    assert_error(&app.post(&path, None, merge.clone()).await, 401, "unauthenticated");
    // Not into a dismissed case.
    let (status, err) = app.post(&path, Some(&officer), json!({"action": "merge", "case_id": closed["id"]})).await;
    assert_eq!(status, 422, "{err}");

    // Merge.
    let (status, merged) = app.post(&path, Some(&officer), merge.clone()).await;
    assert_eq!(status, 200, "{merged}");
    assert_eq!(merged["status"], "merged");
    assert_eq!(merged["case_id"], near["id"]);
    assert_eq!(merged["case_number"], near["case_number"]);
    assert_eq!(merged["public_status"], "in_progress");
    assert_eq!(merged["triage_note"], "同一处");
    let near_id = near["id"].as_str().unwrap();
    let (_, case) = app.get(&format!("/api/v1/cases/{near_id}"), Some(&officer)).await;
    let entry = case["history"].as_array().unwrap().iter().find(|e| e["action"] == "tip_merged").expect("ledger");
    assert_eq!(entry["after"]["tip_id"], id);
    assert_eq!(entry["note"], "同一处");
    assert!(case["photos"].to_string().contains(&sha), "the tip's photo is the case's: {}", case["photos"]);
    // Only once.
    let again = app.post(&path, Some(&admin), json!({"action": "reject", "note": "dup"})).await;
    assert_error(&again, 409, "tip_already_triaged");
    assert_eq!(again.1["error"]["details"]["status"], "merged");
    // The reporter sees progress and the case number, not the note.
    let (_, public) = app.get(receipt["status_url"].as_str().unwrap(), None).await;
    assert_eq!(public["public_status"], "in_progress");
    assert_eq!(public["case_number"], near["case_number"]);
    assert!(!public.to_string().contains("同一处"));

    // A new case from a tip.
    let mut body = tip_at(ZHOULIANG, "耕地上挖塘");
    body["violation_type"] = json!("aquaculture_on_farmland");
    body["photos"] = json!([sha]);
    let receipt = created(&app, body).await;
    let id2 = receipt["id"].as_str().unwrap();
    let officer2 = stranger;
    let cases_before = count(&app, "cases").await;
    let (status, made) = app
        .post(&format!("/api/v1/tips/{id2}/triage"), Some(&officer2), json!({"action": "create_case", "note": "立案"}))
        .await;
    assert_eq!(status, 200, "{made}");
    assert_eq!(made["status"], "case_created");
    assert_eq!(count(&app, "cases").await, cases_before + 1);
    let case_id = made["case_id"].as_str().unwrap();
    let (_, case) = app.get(&format!("/api/v1/cases/{case_id}"), Some(&officer2)).await;
    assert_eq!(case["source"], "tip");
    assert_eq!(case["description"], "耕地上挖塘");
    assert_eq!(case["violation_type"], "aquaculture_on_farmland");
    assert_eq!(case["town"]["code"], "120115006");
    assert!(case["photos"].to_string().contains(&sha), "{}", case["photos"]);
    let (_, inbox) = app.get("/api/v1/alerts?kind=case_new", Some(&officer2)).await;
    assert!(inbox["alerts"].as_array().unwrap().iter().any(|a| a["case_id"] == case_id), "{inbox}");
    assert_error(
        &app.post(&format!("/api/v1/tips/{id2}/triage"), Some(&officer2), json!({"action": "create_case"})).await,
        409,
        "tip_already_triaged",
    );
    // The case is dismissed: the reporter sees it closed.
    let (status, _) = app
        .post(
            &format!("/api/v1/cases/{case_id}/transitions"),
            Some(&officer2),
            json!({"from": "reported", "to": "dismissed", "note": "已恢复耕地"}),
        )
        .await;
    assert_eq!(status, 200);
    let (_, public) = app.get(receipt["status_url"].as_str().unwrap(), None).await;
    assert_eq!(public["public_status"], "closed");

    // Rejection needs a reason and closes the tip.
    let receipt = created(&app, tip_at(HAIBIN, "看错了")).await;
    let id3 = receipt["id"].as_str().unwrap();
    let (status, rejected) = app
        .post(&format!("/api/v1/tips/{id3}/triage"), Some(&admin), json!({"action": "reject", "note": "合法建设"}))
        .await;
    assert_eq!(status, 200, "{rejected}");
    assert_eq!(rejected["status"], "rejected");
    assert_eq!(rejected["case_id"], Value::Null);
    let (_, public) = app.get(receipt["status_url"].as_str().unwrap(), None).await;
    assert_eq!(public["public_status"], "closed");
    assert_eq!(public["status"], "rejected");
}

#[tokio::test]
async fn a_tip_alert_reaches_no_other_town_by_any_channel() {
    use landpatrol_server::db::entities::{alerts, webhook_deliveries};
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

    let app = TestApp::spawn_demo().await;
    let haibin = app.token("officer-120115001").await;
    let zhouliang = app.token("officer-120115006").await;
    // Each office has a webhook.
    let mut hooks = Vec::new();
    for token in [&haibin, &zhouliang] {
        let (status, hook) =
            app.post("/api/v1/webhooks", Some(token), json!({"url": "https://hooks.example.com/landpatrol"})).await;
        assert_eq!(status, 201, "{hook}");
        hooks.push(uuid::Uuid::parse_str(hook["id"].as_str().unwrap()).unwrap());
    }
    // 周良's office follows its live stream.
    let mut stream = app.client.get(app.url("/api/v1/alerts/stream")).bearer_auth(&zhouliang).send().await.unwrap();
    assert_eq!(stream.status(), 200);

    let here = created(&app, tip_at(HAIBIN, "海滨的违建")).await;
    let there = created(&app, tip_at(ZHOULIANG, "周良的鱼塘")).await;

    // The stream's first alert is 周良's own tip: 海滨's never came.
    let mut text = String::new();
    let first = tokio::time::timeout(std::time::Duration::from_secs(20), async {
        loop {
            let chunk = stream.chunk().await.unwrap().expect("the stream stays open");
            text.push_str(&String::from_utf8_lossy(&chunk));
            if let Some(data) = text.lines().find_map(|l| l.strip_prefix("data: ")) {
                return serde_json::from_str::<Value>(data).unwrap();
            }
        }
    })
    .await
    .expect("an alert within 20 s");
    assert_eq!(first["kind"], "tip_received", "{first}");
    assert_eq!(first["tip_id"], there["id"], "{first}");

    // Webhook deliveries: each town's hook has its own town's tip only.
    for (hook, mine, theirs) in [(hooks[0], &here, &there), (hooks[1], &there, &here)] {
        let alert_ids: Vec<uuid::Uuid> = webhook_deliveries::Entity::find()
            .filter(webhook_deliveries::Column::WebhookId.eq(hook))
            .all(&app.state.db)
            .await
            .unwrap()
            .into_iter()
            .map(|d| d.alert_id)
            .collect();
        let tips: Vec<String> = alerts::Entity::find()
            .filter(alerts::Column::Id.is_in(alert_ids))
            .all(&app.state.db)
            .await
            .unwrap()
            .into_iter()
            .filter_map(|a| a.tip_id.map(|t| t.to_string()))
            .collect();
        assert_eq!(tips, vec![mine["id"].as_str().unwrap().to_owned()], "webhook {hook}");
        assert!(!tips.contains(&theirs["id"].as_str().unwrap().to_owned()));
    }

    // Sync pull: the office's devices get its own tip alert only.
    let (status, page) = app.post("/api/v1/sync/pull", Some(&zhouliang), json!({"cursor": null, "limit": 500})).await;
    assert_eq!(status, 200, "{page}");
    let pulled = page.to_string();
    assert!(pulled.contains(there["id"].as_str().unwrap()), "{pulled}");
    assert!(!pulled.contains(here["id"].as_str().unwrap()));
}

#[tokio::test]
async fn the_same_key_sent_at_once_makes_one_tip() {
    let app = TestApp::spawn_demo().await;
    let body = tip_at(HAIBIN, "同时重发");
    let answers = send_together(&app, &body).await;
    let ids: std::collections::HashSet<String> = answers
        .iter()
        .map(|(status, r, _)| {
            assert!(*status == 201 || *status == 200, "{status} {r}");
            r["id"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(ids.len(), 1, "{answers:?}");
    assert_eq!(answers.iter().filter(|(s, _, _)| *s == 201).count(), 1);
    assert_eq!(count(&app, "tips").await, 1);
    assert_eq!(count(&app, "alerts").await - count_case_alerts(&app).await, 1);
}

async fn send_together(app: &TestApp, body: &Value) -> Vec<(StatusCode, Value, Option<String>)> {
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let (client, url, body) = (app.client.clone(), app.url("/api/v1/tips"), body.clone());
        tasks.push(tokio::spawn(async move {
            let resp = client.post(url).header("Idempotency-Key", "race-key-1").json(&body).send().await.unwrap();
            let status = resp.status();
            (status, resp.json::<Value>().await.unwrap(), None)
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

async fn count_case_alerts(app: &TestApp) -> i64 {
    let row = app
        .state
        .db
        .query_one_raw(sea_orm::Statement::from_string(
            app.state.db.get_database_backend(),
            "SELECT COUNT(*) FROM alerts WHERE tip_id IS NULL",
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by_index::<i64>(0).unwrap()
}

/// Whether JPEG bytes carry any metadata segment: APP1 (EXIF, XMP) through APP15 other
/// than the JFIF APP0, or a comment.
fn jpeg_metadata(bytes: &[u8]) -> Vec<u8> {
    let mut found = Vec::new();
    let mut i = 2;
    while i + 4 <= bytes.len() && bytes[i] == 0xFF {
        let marker = bytes[i + 1];
        if marker == 0xDA {
            break; // start of scan: no more headers
        }
        let len = usize::from(u16::from_be_bytes([bytes[i + 2], bytes[i + 3]]));
        if (0xE1..=0xEF).contains(&marker) || marker == 0xFE {
            found.push(marker);
        }
        i += 2 + len;
    }
    found
}

#[tokio::test]
async fn the_public_sees_a_tips_photos_without_exif_and_the_office_the_original() {
    let app = TestApp::spawn_demo().await;
    let original = photo_fixture(IPHONE4);
    let sha = sha256_hex(&original);
    let admin = app.token("admin").await;
    let (status, _) = app.put_photo_as(&admin, &sha, &original).await;
    assert!(status == 201 || status == 200, "{status}");
    assert!(!jpeg_metadata(&original).is_empty(), "the fixture has EXIF with GPS");
    let receipt = created(
        &app,
        json!({"location": {"lon": HAIBIN.0, "lat": HAIBIN.1}, "description": "有照片的举报",
        "photos": [sha]}),
    )
    .await;
    assert_eq!(app.settled_photo(&admin, &sha).await["thumbnail"], "ready");

    // The reporter's status page lists the public copy.
    let (status, public) = app.get(receipt["status_url"].as_str().unwrap(), None).await;
    assert_eq!(status, 200, "{public}");
    let photos = public["photos"].as_array().unwrap();
    assert_eq!(photos.len(), 1, "{public}");
    let url = photos[0].as_str().unwrap();
    assert!(url.starts_with(&format!("/api/v1/tips/{}/photos/{sha}?receipt_token=", receipt["id"].as_str().unwrap())));
    let res = app.client.get(app.url(url)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "image/jpeg");
    let copy = res.bytes().await.unwrap().to_vec();
    assert_eq!(&copy[..2], &[0xFF, 0xD8], "a JPEG");
    assert!(jpeg_metadata(&copy).is_empty(), "no EXIF, XMP or comment: {:x?}", jpeg_metadata(&copy));
    assert!(!copy.windows(4).any(|w| w == b"Exif") && !copy.windows(3).any(|w| w == b"GPS"));
    assert!(copy.len() < original.len());

    // Nothing without the right token, nor a photo the tip does not name.
    let id = receipt["id"].as_str().unwrap();
    let other = sha256_hex(&photo_fixture(IPHONE5));
    for path in [
        format!("/api/v1/tips/{id}/photos/{sha}"),
        format!("/api/v1/tips/{id}/photos/{sha}?receipt_token=lptr_wrong"),
        format!("/api/v1/tips/{id}/photos/{other}?{}", url.split('?').nth(1).unwrap()),
    ] {
        assert_error(&app.get(&path, None).await, 404, "not_found");
    }
    // The office keeps the original, byte for byte.
    let officer = app.token("officer-120115001").await;
    let res =
        app.client.get(app.url(&format!("/api/v1/photos/{sha}/original"))).bearer_auth(&officer).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.bytes().await.unwrap().to_vec(), original);
}
