//! Idempotent replays answer only what the caller may see now: a create sent
//! again after its record left the caller's scope (reassigned to another town,
//! or the caller moved) shows nothing of the record's current content. One test
//! per create-or-replay path; paths that load the parent in scope before the
//! replay (disposals, supplies, project steps, approvals) are in their own files.

use landpatrol_tests::{TestApp, assert_error, photo_fixture, sha256_hex};
use serde_json::{Value, json};
use uuid::Uuid;

const HAIBIN: (f64, f64) = (117.295129, 39.733503); // 120115001
const IPHONE4: &str = "drewnoakes__metadata-extractor-images/Apple iPhone 4.jpg";
const SECRET: &str = "二号镇的调查记录";

fn now_ms() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap()
}

fn op(seq: u64, device: &str, body: Value) -> Value {
    let mut o = json!({"op_id": Uuid::now_v7(), "seq": seq, "hlc": format!("{}-{:04x}-{device}", now_ms(), seq)});
    o.as_object_mut().unwrap().extend(body.as_object().unwrap().clone());
    o
}

async fn push(app: &TestApp, token: &str, device: &str, ops: &[Value]) -> Value {
    let (status, body) = app.post("/api/v1/sync/push", Some(token), json!({"device_id": device, "ops": ops})).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// Reassigns `id` to `town` as the bureau, then has that town's officer write
/// something only that town should read.
async fn move_to_town_2(app: &TestApp, id: &str) {
    let admin = app.token("admin").await;
    let (status, body) = app
        .post(
            &format!("/api/v1/cases/{id}/reassign"),
            Some(&admin),
            json!({"town": "120115002", "note": "belongs there"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let other = app.token("officer-120115002").await;
    let (status, body) =
        app.patch(&format!("/api/v1/cases/{id}"), Some(&other), json!({"fields": {"address": SECRET}})).await;
    assert_eq!(status, 200, "{body}");
}

/// A legacy case the bureau enters in 120115001; its id.
async fn legacy_case(app: &TestApp) -> String {
    let admin = app.token("admin").await;
    let (status, case) = app
        .post(
            "/api/v1/cases",
            Some(&admin),
            json!({"source": "legacy", "location": {"lon": HAIBIN.0, "lat": HAIBIN.1}}),
        )
        .await;
    assert_eq!(status, 201, "{case}");
    case["id"].as_str().unwrap().to_owned()
}

fn reveals(body: &Value) -> bool {
    body.to_string().contains(SECRET)
}

#[tokio::test]
async fn a_replayed_case_create_after_reassignment_reveals_nothing() {
    let app = TestApp::spawn_demo().await;
    let officer = app.token("officer-120115001").await;
    let id = Uuid::now_v7().to_string();
    let body = json!({"id": id, "source": "patrol", "location": {"lon": HAIBIN.0, "lat": HAIBIN.1}, "description": "新建房屋"});
    let (status, made) = app.post("/api/v1/cases", Some(&officer), body.clone()).await;
    assert_eq!(status, 201, "{made}");
    let (status, again) = app.post("/api/v1/cases", Some(&officer), body.clone()).await;
    assert_eq!(status, 200, "a replay in scope answers the case: {again}");
    assert_eq!(again["id"], made["id"]);

    move_to_town_2(&app, &id).await;
    let before = app.fingerprint().await;
    for replay in [body.clone(), json!({"id": id, "source": "patrol", "location": {"lon": 117.0, "lat": 39.0}})] {
        let resp = app.post("/api/v1/cases", Some(&officer), replay).await;
        assert!(!reveals(&resp.1), "{}", resp.1);
        assert_error(&resp, 404, "not_found");
    }
    assert_error(&app.get(&format!("/api/v1/cases/{id}"), Some(&officer)).await, 404, "not_found");
    assert_eq!(app.fingerprint().await, before, "a refused replay changes nothing");

    // The same through sync: a create of the id under a new op_id.
    let (token, device) = app.device_session("officer-120115001").await;
    let before = app.fingerprint().await;
    let r = push(
        &app,
        &token,
        &device,
        &[op(1, &device, json!({"op": "create", "table": "cases", "id": id, "fields": body.clone()}))],
    )
    .await;
    assert!(!reveals(&r), "{r}");
    assert_eq!(r["results"][0]["status"], "rejected", "{r}");
    assert_eq!(r["results"][0]["error"]["code"], "not_found", "{r}");
    assert_eq!(app.fingerprint().await, before);
}

#[tokio::test]
async fn a_replayed_push_keeps_the_stored_record_to_those_who_still_see_the_case() {
    let app = TestApp::spawn_demo().await;
    let (token, device) = app.device_session("officer-120115001").await;
    let id = legacy_case(&app).await;
    let t = |seq| {
        op(
            seq,
            &device,
            json!({"op": "transition", "table": "cases", "id": id, "from": "reported", "to": "registered", "note": "x"}),
        )
    };
    let (first, stale) = (t(1), t(2));
    let r = push(&app, &token, &device, &[first, stale.clone()]).await;
    assert_eq!(r["results"][1]["status"], "conflict", "{r}");
    assert_eq!(r["results"][1]["server_record"]["status"], "registered");

    // A lost answer, the batch sent again while the case is still the town's: all of it.
    let again = push(&app, &token, &device, std::slice::from_ref(&stale)).await;
    assert_eq!(again["results"][0]["status"], "duplicate", "{again}");
    assert_eq!(again["results"][0]["server_record"]["id"], id.as_str());

    // Once the case has gone to another town the stored record is withheld.
    move_to_town_2(&app, &id).await;
    let later = push(&app, &token, &device, &[stale]).await;
    let result = &later["results"][0];
    assert_eq!(result["status"], "duplicate", "{later}");
    assert!(result.get("server_record").is_none() && result.get("overridden").is_none(), "{later}");
    assert_eq!(result["flags"], json!(["out_of_scope"]), "{later}");
    assert!(!reveals(&later));
}

/// The officer of 120115001 moved to 120115002: a new login (on a new phone)
/// carries the new town.
async fn move_officer(app: &TestApp) -> (String, String) {
    use landpatrol_server::db::entities::users;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
    let town: Uuid = landpatrol_tests::town_id("120115002").parse().unwrap();
    users::Entity::update_many()
        .col_expr(users::Column::TownId, Expr::value(town))
        .filter(users::Column::Username.eq("officer-120115001"))
        .exec(&app.state.db)
        .await
        .unwrap();
    app.device_session("officer-120115001").await
}

#[tokio::test]
async fn replayed_field_records_follow_the_callers_scope_now() {
    let app = TestApp::spawn_demo().await;
    let (token, device) = app.device_session("officer-120115001").await;
    let case_id = legacy_case(&app).await;
    let inspection = json!({"id": Uuid::now_v7(), "kind": "patrol", "note": SECRET});
    let path = format!("/api/v1/cases/{case_id}/inspections");
    let (status, made) = app.post(&path, Some(&token), inspection.clone()).await;
    assert_eq!(status, 201, "{made}");
    let observation = json!({"op": "create", "table": "observations", "id": Uuid::now_v7(), "fields": {
        "location": {"lon": HAIBIN.0, "lat": HAIBIN.1, "crs": "wgs84"}, "note": SECRET, "observed_at": "2017-06-01T08:00:00Z"}});
    let r = push(&app, &token, &device, &[op(1, &device, observation.clone())]).await;
    assert_eq!(r["results"][0]["status"], "applied", "{r}");
    // In scope, a replay (a new op_id for the observation) answers as before.
    let r = push(&app, &token, &device, &[op(2, &device, observation.clone())]).await;
    assert_eq!(r["results"][0]["status"], "applied", "{r}");
    let (status, _) = app.post(&path, Some(&token), inspection.clone()).await;
    assert_eq!(status, 200);

    let (moved, device2) = move_officer(&app).await;
    let resp = app.post(&path, Some(&moved), inspection).await;
    assert!(!reveals(&resp.1), "{}", resp.1);
    assert_error(&resp, 404, "not_found");
    let r = push(&app, &moved, &device2, &[op(1, &device2, observation)]).await;
    assert!(!reveals(&r), "{r}");
    assert_eq!(r["results"][0]["status"], "rejected", "{r}");
    assert_eq!(r["results"][0]["error"]["code"], "not_found", "{r}");
}

#[tokio::test]
async fn a_photo_sent_again_shows_its_exif_and_links_only_to_those_who_may_see_it() {
    let app = TestApp::spawn_demo().await;
    let officer = app.token("officer-120115001").await;
    let other = app.token("officer-120115002").await;
    let bytes = photo_fixture(IPHONE4);
    let sha = sha256_hex(&bytes);
    let (status, _) = app.put_photo(&officer, &bytes).await;
    assert_eq!(status, 201);
    let (status, case) = app
        .post(
            "/api/v1/cases",
            Some(&officer),
            json!({"source": "patrol", "location": {"lon": HAIBIN.0, "lat": HAIBIN.1}, "photos": [sha]}),
        )
        .await;
    assert_eq!(status, 201, "{case}");
    let id = case["id"].as_str().unwrap();

    // Another town's officer knows the hash, not the bytes: the body is not read.
    let (status, seen) = app.put_photo_as(&other, &sha, b"not the photo").await;
    assert_eq!(status, 200, "{seen}");
    assert_eq!(seen["exif"]["status"], "withheld", "{seen}");
    assert_eq!(seen["links"], json!([]));
    assert!(seen["width"].is_null());
    assert_error(&app.get(&format!("/api/v1/photos/{sha}"), Some(&other)).await, 404, "not_found");

    // The case goes to that town: now its officer sees the photo and the link.
    move_to_town_2(&app, id).await;
    let (_, seen) = app.put_photo_as(&other, &sha, b"not the photo").await;
    assert_ne!(seen["exif"]["status"], "withheld", "{seen}");
    assert_eq!(seen["links"][0]["case_id"], id, "{seen}");
    // The uploader still sees the photo it sent, but no longer the other town's link.
    let (_, own) = app.put_photo_as(&officer, &sha, b"").await;
    assert_ne!(own["exif"]["status"], "withheld", "{own}");
    assert_eq!(own["links"], json!([]), "{own}");
}

/// `POST /tips` under an Idempotency-Key, anonymous or signed in.
async fn tip(app: &TestApp, key: &str, token: Option<&str>) -> (reqwest::StatusCode, Value) {
    let body = json!({"location": {"lon": HAIBIN.0, "lat": HAIBIN.1}, "description": "村东头耕地上正在盖房"});
    let mut req = app.client.post(app.url("/api/v1/tips")).header("Idempotency-Key", key).json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    (resp.status(), resp.json::<Value>().await.unwrap())
}

#[tokio::test]
async fn a_tips_idempotency_key_answers_only_its_own_submitter() {
    let app = TestApp::spawn_demo().await;
    let (status, receipt) = tip(&app, "tip-key-1", None).await;
    assert_eq!(status, 201, "{receipt}");
    let (status, again) = tip(&app, "tip-key-1", None).await;
    assert_eq!(status, 200, "an anonymous replay with the same key and body: {again}");
    assert_eq!(again["receipt_token"], receipt["receipt_token"]);
    let officer = app.token("officer-120115001").await;
    let before = app.fingerprint().await;
    let resp = tip(&app, "tip-key-1", Some(&officer)).await;
    assert!(!resp.1.to_string().contains(receipt["receipt_token"].as_str().unwrap()), "{}", resp.1);
    assert_error(&resp, 409, "idempotency_conflict");
    assert_eq!(app.fingerprint().await, before, "the refused replay made nothing");

    // A signed-in user's key is not another user's (nor the public's).
    let (status, mine) = tip(&app, "tip-key-2", Some(&officer)).await;
    assert_eq!(status, 201, "{mine}");
    let inspector = app.token("inspector").await;
    assert_error(&tip(&app, "tip-key-2", Some(&inspector)).await, 409, "idempotency_conflict");
    assert_error(&tip(&app, "tip-key-2", None).await, 409, "idempotency_conflict");
    assert_eq!(tip(&app, "tip-key-2", Some(&officer)).await.1["receipt_token"], mine["receipt_token"]);
}

#[tokio::test]
async fn a_replayed_observation_names_the_case_it_opened_only_while_the_caller_sees_it() {
    let app = TestApp::spawn_demo().await;
    let (token, device) = app.device_session("officer-120115001").await;
    let ops = vec![op(
        1,
        &device,
        json!({"op": "create", "table": "observations", "id": Uuid::now_v7(), "fields": {
            "location": {"lon": HAIBIN.0, "lat": HAIBIN.1}, "note": "新建彩钢房",
            "propose_case": {"violation_type": "built_without_approval"}}}),
    )];
    let first = push(&app, &token, &device, &ops).await;
    let opened = first["results"][0]["case"].clone();
    assert!(opened["case_number"].as_str().unwrap().starts_with("BD-"), "{first}");
    move_to_town_2(&app, opened["id"].as_str().unwrap()).await;
    let again = push(&app, &token, &device, &ops).await;
    let r = &again["results"][0];
    assert_eq!(r["status"], "duplicate", "{again}");
    assert!(r.get("case").is_none(), "the case that left the town is not named: {r}");
    assert_eq!(r["flags"], json!(["out_of_scope"]));
    assert!(!reveals(&again));
}
