//! Accounts that can be stopped: a token is only as good as its account now
//! (a user that does not exist, is disabled, has a new role or town, or a
//! revoked device), login throttling, and the clock leeway on `exp`.

use std::time::Duration;

use landpatrol_server::auth::token::Claims;
use landpatrol_tests::{DEMO_PASSWORD, TestApp, assert_error, town_id};
use serde_json::{Value, json};
use uuid::Uuid;

fn claims(app: &TestApp, sub: Uuid, exp_in: i64) -> Claims {
    let now = chrono::Utc::now().timestamp();
    Claims {
        sub,
        name: "admin".into(),
        role: landpatrol_sync::Role::BureauAdmin,
        town: None,
        towns: vec![],
        dev: None,
        iss: app.state.keys.issuer.clone(),
        aud: app.state.keys.audience.clone(),
        iat: now - 60,
        exp: now + exp_in,
        jti: Uuid::now_v7(),
    }
}

async fn user_id(app: &TestApp, admin: &str, username: &str) -> String {
    let (_, users) = app.get("/api/v1/users", Some(admin)).await;
    users.as_array().unwrap().iter().find(|u| u["username"] == username).unwrap()["id"].as_str().unwrap().to_owned()
}

async fn patch_user(app: &TestApp, admin: &str, id: &str, body: Value) -> Value {
    let (status, user) = app.patch(&format!("/api/v1/users/{id}"), Some(admin), body).await;
    assert_eq!(status, 200, "{user}");
    user
}

#[tokio::test]
async fn a_signed_token_for_a_user_that_does_not_exist_reads_nothing() {
    let app = TestApp::spawn_demo().await;
    let forged = app.state.keys.sign(&claims(&app, Uuid::now_v7(), 600)).unwrap();
    assert_error(&app.get("/api/v1/cases", Some(&forged)).await, 401, "invalid_token");
    // The same claims for the real admin: the role comes from the account, not the token.
    let admin = app.token("admin").await;
    let inspector_id = user_id(&app, &admin, "inspector").await;
    let mut c = claims(&app, inspector_id.parse().unwrap(), 600);
    c.role = landpatrol_sync::Role::BureauAdmin;
    let promoted = app.state.keys.sign(&c).unwrap();
    assert_error(&app.get("/api/v1/users", Some(&promoted)).await, 403, "forbidden");
}

#[tokio::test]
async fn disabling_a_user_ends_every_session_on_the_next_request() {
    let app = TestApp::spawn_demo().await;
    let admin = app.token("admin").await;
    let (_, pair) = app.login("officer-120115001", DEMO_PASSWORD, None).await;
    let token = pair["access_token"].as_str().unwrap();
    assert_eq!(app.get("/api/v1/cases", Some(token)).await.0, 200);
    let id = user_id(&app, &admin, "officer-120115001").await;
    assert_eq!(patch_user(&app, &admin, &id, json!({"active": false})).await["active"], false);

    assert_error(&app.get("/api/v1/cases", Some(token)).await, 401, "invalid_token");
    let refreshed = app.post("/api/v1/auth/refresh", None, json!({"refresh_token": pair["refresh_token"]})).await;
    assert_eq!(refreshed.0, 401, "{}", refreshed.1);
    assert_error(&app.login("officer-120115001", DEMO_PASSWORD, None).await, 401, "invalid_credentials");

    patch_user(&app, &admin, &id, json!({"active": true})).await;
    assert_eq!(app.login("officer-120115001", DEMO_PASSWORD, None).await.0, 200);
    // The admin can not lock themselves out; others may not change users.
    let me = user_id(&app, &admin, "admin").await;
    assert_error(
        &app.patch(&format!("/api/v1/users/{me}"), Some(&admin), json!({"active": false})).await,
        422,
        "validation_failed",
    );
    let officer = app.token("officer-120115001").await;
    assert_error(
        &app.patch(&format!("/api/v1/users/{id}"), Some(&officer), json!({"active": false})).await,
        403,
        "forbidden",
    );
    assert_error(
        &app.patch(&format!("/api/v1/users/{id}"), Some(&admin), json!({"role": "town_officer", "town": "999"})).await,
        422,
        "unknown_town",
    );
    assert_error(
        &app.patch(&format!("/api/v1/users/{id}"), Some(&admin), json!({"shoe_size": 42})).await,
        400,
        "invalid_json",
    );
}

#[tokio::test]
async fn a_new_town_or_role_holds_on_the_next_request_with_the_same_token() {
    let app = TestApp::spawn_demo().await;
    let admin = app.token("admin").await;
    let token = app.token("officer-120115001").await;
    let towns = |body: &Value| -> Vec<Value> {
        body["items"].as_array().unwrap().iter().map(|c| c["town"]["id"].clone()).collect()
    };
    let (_, page) = app.get("/api/v1/cases", Some(&token)).await;
    assert!(!towns(&page).is_empty() && towns(&page).iter().all(|t| *t == town_id("120115001")), "{page}");

    let id = user_id(&app, &admin, "officer-120115001").await;
    patch_user(&app, &admin, &id, json!({"town": "120115002"})).await;
    let (_, page) = app.get("/api/v1/cases", Some(&token)).await;
    assert!(!towns(&page).is_empty() && towns(&page).iter().all(|t| *t == town_id("120115002")), "{page}");

    patch_user(&app, &admin, &id, json!({"role": "inspector"})).await;
    assert_error(&app.get("/api/v1/alerts", Some(&token)).await, 403, "forbidden");
    let (_, me) = app.get("/api/v1/auth/me", Some(&token)).await;
    assert_eq!((me["role"].as_str(), &me["town_id"]), (Some("inspector"), &Value::Null), "{me}");
}

#[tokio::test]
async fn a_revoked_device_ends_its_session_and_can_not_log_in_again() {
    let app = TestApp::spawn_demo().await;
    let (token, device) = app.device_session("inspector").await;
    let other_session = app.token("inspector").await;
    assert_eq!(app.get("/api/v1/cases", Some(&token)).await.0, 200);
    // Another user can not revoke it (nor learn that it exists).
    let officer = app.token("officer-120115001").await;
    assert_error(&app.delete(&format!("/api/v1/devices/{device}"), Some(&officer)).await, 404, "not_found");

    let (status, revoked) = app.delete(&format!("/api/v1/devices/{device}"), Some(&token)).await;
    assert_eq!(status, 200, "{revoked}");
    assert!(revoked["revoked_at"].is_string());
    assert_error(&app.get("/api/v1/cases", Some(&token)).await, 401, "invalid_token");
    assert_error(&app.login("inspector", DEMO_PASSWORD, Some(&device)).await, 403, "device_revoked");
    assert_eq!(app.get("/api/v1/cases", Some(&other_session)).await.0, 200, "the user's other sessions go on");
    // Revoking again answers the device as it is; the bureau may revoke any device.
    let (status, again) = app.delete(&format!("/api/v1/devices/{device}"), Some(&other_session)).await;
    assert_eq!((status.as_u16(), &again["revoked_at"]), (200, &revoked["revoked_at"]));
    let (_, second) = app.device_session("inspector").await;
    let admin = app.token("admin").await;
    assert_eq!(app.delete(&format!("/api/v1/devices/{second}"), Some(&admin)).await.0, 200);
}

#[tokio::test]
async fn failed_logins_lock_out_with_retry_after_and_the_right_password_works_after() {
    let app = TestApp::spawn_with(|s| {
        s.auth.login_failures_per_user = 3;
        s.auth.login_failures_per_address = 6;
        s.auth.login_lockout_secs = 1;
    })
    .await;
    landpatrol_server::demo::load(&app.state).await.unwrap();
    for _ in 0..3 {
        assert_error(&app.login("admin", "wrong password", None).await, 401, "invalid_credentials");
    }
    // Locked: even the right password is not checked.
    let req =
        app.client.post(app.url("/api/v1/auth/login")).json(&json!({"username": "admin", "password": DEMO_PASSWORD}));
    let resp = req.send().await.unwrap();
    assert_eq!(resp.status(), 429);
    let retry: u64 = resp.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry), "{retry}");
    assert_eq!(resp.json::<Value>().await.unwrap()["error"]["code"], "rate_limited");
    // Another account from the same address still logs in.
    assert_eq!(app.login("inspector", DEMO_PASSWORD, None).await.0, 200);

    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(app.login("admin", DEMO_PASSWORD, None).await.0, 200, "after the lockout the right password works");

    // One address trying many usernames is locked out as a whole.
    for i in 0..6 {
        app.login(&format!("nobody-{i}"), "guess", None).await;
    }
    assert_error(&app.login("verifier", DEMO_PASSWORD, None).await, 429, "rate_limited");
}

#[tokio::test]
async fn an_expired_token_is_taken_for_five_seconds_at_most() {
    let app = TestApp::spawn_demo().await;
    let admin = app.token("admin").await;
    let id: Uuid = user_id(&app, &admin, "admin").await.parse().unwrap();
    let just = app.state.keys.sign(&claims(&app, id, -2)).unwrap();
    assert_eq!(app.get("/api/v1/cases", Some(&just)).await.0, 200, "within the leeway");
    let late = app.state.keys.sign(&claims(&app, id, -7)).unwrap();
    assert_error(&app.get("/api/v1/cases", Some(&late)).await, 401, "invalid_token");
}

/// The cases feed of `token` as a GIS tool reads it: no header, the token in the URL.
async fn feed(app: &TestApp, token: &str) -> (reqwest::StatusCode, Value) {
    let res = app.client.get(app.url(&format!("/api/v1/cases.geojson?feed_token={token}"))).send().await.unwrap();
    let status = res.status();
    (status, res.json().await.unwrap())
}

#[tokio::test]
async fn a_feed_token_reads_the_cases_feed_only_as_its_user_is_now_until_revoked() {
    let app = TestApp::spawn_demo().await;
    let officer = app.token("officer-120115001").await;
    let (status, made) = app.post("/api/v1/feed-tokens", Some(&officer), json!({"label": "QGIS 海滨"})).await;
    assert_eq!(status, 201, "{made}");
    let token = made["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("lpft_"));
    assert_eq!(made["feed_url"], format!("/api/v1/cases.geojson?feed_token={token}"));
    let (_, listed) = app.get("/api/v1/feed-tokens", Some(&officer)).await;
    assert!(listed[0].get("token").is_none(), "the token is shown once: {listed}");

    // QGIS reads the town's cases, and only the town's.
    let (status, fc) = feed(&app, &token).await;
    assert_eq!(status, 200, "{fc}");
    let features = fc["features"].as_array().unwrap();
    assert!(!features.is_empty());
    assert!(features.iter().all(|f| f["properties"]["town_code"] == "120115001"), "{fc}");
    let url = app.url(&format!("/api/v1/cases.geojson?town=120115006&feed_token={token}"));
    let status = app.client.get(url).send().await.unwrap().status();
    assert_eq!(status, 403, "another town is out of scope");
    let (_, listed) = app.get("/api/v1/feed-tokens", Some(&officer)).await;
    assert!(listed[0]["last_used_at"].is_string(), "use is recorded");

    // It opens nothing else, and a forged one nothing at all.
    for path in ["/api/v1/cases", "/api/v1/alerts", "/api/v1/reports/progress"] {
        let res = app.client.get(app.url(&format!("{path}?feed_token={token}"))).send().await.unwrap();
        assert_eq!(res.status(), 401, "{path}");
    }
    assert_eq!(feed(&app, "lpft_forged").await.0, 401);
    assert_eq!(feed(&app, "").await.0, 401);
    assert_eq!(app.get("/api/v1/cases.geojson", None).await.0, 401);

    // Another town's officer can not revoke it; its owner can, and then it is dead.
    let other_officer = app.token("officer-120115006").await;
    let id = made["id"].as_str().unwrap();
    assert_error(&app.delete(&format!("/api/v1/feed-tokens/{id}"), Some(&other_officer)).await, 404, "not_found");
    assert_eq!(feed(&app, &token).await.0, 200);
    let (status, _) = app.delete(&format!("/api/v1/feed-tokens/{id}"), Some(&officer)).await;
    assert_eq!(status, 204);
    let (status, body) = feed(&app, &token).await;
    assert_eq!((status.as_u16(), body["error"]["code"].as_str()), (401, Some("invalid_token")));

    // A feed follows its account: disabled, it stops.
    let (_, again) = app.post("/api/v1/feed-tokens", Some(&officer), json!({"label": "QGIS 2"})).await;
    let token = again["token"].as_str().unwrap().to_owned();
    assert_eq!(feed(&app, &token).await.0, 200);
    let admin = app.token("admin").await;
    let (_, users) = app.get("/api/v1/users", Some(&admin)).await;
    let uid = users.as_array().unwrap().iter().find(|u| u["username"] == "officer-120115001").unwrap()["id"].clone();
    let (status, _) =
        app.patch(&format!("/api/v1/users/{}", uid.as_str().unwrap()), Some(&admin), json!({"active": false})).await;
    assert_eq!(status, 200);
    assert_eq!(feed(&app, &token).await.0, 401);
    // Inspectors sync instead; bad labels are refused.
    let inspector = app.token("inspector").await;
    assert_error(&app.post("/api/v1/feed-tokens", Some(&inspector), json!({"label": "x"})).await, 403, "forbidden");
    assert_error(&app.post("/api/v1/feed-tokens", Some(&admin), json!({"label": " "})).await, 422, "validation_failed");
}
