//! Login, token checks, refresh rotation with reuse detection, devices.

use landpatrol_tests::{DEMO_PASSWORD, TestApp, assert_error};
use serde_json::json;

#[tokio::test]
async fn login_returns_tokens_and_the_user() {
    let app = TestApp::spawn_demo().await;
    let (status, body) = app.login("officer-120115001", DEMO_PASSWORD, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert!(body["refresh_token"].as_str().unwrap().starts_with("lprt_"));
    assert_eq!(body["user"]["role"], "town_officer");
    assert_eq!(body["user"]["username"], "officer-120115001");
    assert!(body["user"].get("password_hash").is_none());
    let token = body["access_token"].as_str().unwrap();
    let (status, me) = app.get("/api/v1/auth/me", Some(token)).await;
    assert_eq!(status, 200);
    assert_eq!(me["town_id"], landpatrol_tests::town_id("120115001"));
}

#[tokio::test]
async fn wrong_password_and_unknown_user_look_the_same() {
    let app = TestApp::spawn_demo().await;
    let before = app.fingerprint().await;
    assert_error(&app.login("admin", "not-the-password", None).await, 401, "invalid_credentials");
    assert_error(&app.login("nobody", DEMO_PASSWORD, None).await, 401, "invalid_credentials");
    assert_eq!(app.fingerprint().await, before, "a failed login writes nothing");
}

#[tokio::test]
async fn bad_tokens_are_refused() {
    let app = TestApp::spawn_demo().await;
    let good = app.token("admin").await;
    assert_error(&app.get("/api/v1/cases", None).await, 401, "unauthenticated");
    assert_error(&app.get("/api/v1/cases", Some("not.a.jwt")).await, 401, "invalid_token");
    // A token signed with another secret (another installation).
    let other = TestApp::spawn_with(|s| s.auth.jwt_secret = "another-secret-another-secret-0123456789".into()).await;
    landpatrol_server::demo::load(&other.state).await.unwrap();
    let foreign = other.token("admin").await;
    assert_error(&app.get("/api/v1/cases", Some(&foreign)).await, 401, "invalid_token");
    // Tampered payload.
    let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
    parts[1] = parts[1].chars().rev().collect();
    assert_error(&app.get("/api/v1/cases", Some(&parts.join("."))).await, 401, "invalid_token");
    // Wrong audience.
    let aud = TestApp::spawn_with(|s| s.auth.audience = "someone-else".into()).await;
    landpatrol_server::demo::load(&aud.state).await.unwrap();
    let wrong_aud = aud.token("admin").await;
    assert_error(&app.get("/api/v1/cases", Some(&wrong_aud)).await, 401, "invalid_token");
    // Expired an hour ago: signed directly with the app's keys (the leeway is in accounts.rs).
    let now = chrono::Utc::now().timestamp();
    let claims = landpatrol_server::auth::token::Claims {
        sub: uuid::Uuid::now_v7(),
        name: "admin".into(),
        role: landpatrol_sync::Role::BureauAdmin,
        town: None,
        towns: vec![],
        dev: None,
        iss: app.state.keys.issuer.clone(),
        aud: app.state.keys.audience.clone(),
        iat: now - 7200,
        exp: now - 3600,
        jti: uuid::Uuid::now_v7(),
    };
    let expired = app.state.keys.sign(&claims).unwrap();
    let resp = app.get("/api/v1/cases", Some(&expired)).await;
    assert_error(&resp, 401, "invalid_token");
    assert!(resp.1["error"]["message"].as_str().unwrap().contains("expired"));
}

#[tokio::test]
async fn refresh_tokens_rotate_and_reuse_revokes_the_family() {
    let app = TestApp::spawn_demo().await;
    let (_, first) = app.login("inspector", DEMO_PASSWORD, None).await;
    let r1 = first["refresh_token"].as_str().unwrap().to_owned();

    let (status, second) = app.post("/api/v1/auth/refresh", None, json!({"refresh_token": r1})).await;
    assert_eq!(status, 200, "{second}");
    let r2 = second["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(r1, r2);
    assert_eq!(app.get("/api/v1/auth/me", second["access_token"].as_str()).await.0, 200);

    // r1 again: reuse. The family, including r2, is revoked.
    assert_error(
        &app.post("/api/v1/auth/refresh", None, json!({"refresh_token": r1})).await,
        401,
        "refresh_token_reused",
    );
    assert_error(
        &app.post("/api/v1/auth/refresh", None, json!({"refresh_token": r2})).await,
        401,
        "invalid_refresh_token",
    );

    // Another login is a new family, unaffected.
    let (_, again) = app.login("inspector", DEMO_PASSWORD, None).await;
    let r3 = again["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(app.post("/api/v1/auth/refresh", None, json!({"refresh_token": r3})).await.0, 200);
    assert_error(
        &app.post("/api/v1/auth/refresh", None, json!({"refresh_token": "lprt_made_up"})).await,
        401,
        "invalid_refresh_token",
    );
}

#[tokio::test]
async fn logout_ends_the_session_and_is_idempotent() {
    let app = TestApp::spawn_demo().await;
    let (_, pair) = app.login("verifier", DEMO_PASSWORD, None).await;
    let r = pair["refresh_token"].as_str().unwrap();
    assert_eq!(app.post("/api/v1/auth/logout", None, json!({"refresh_token": r})).await.0, 204);
    assert_eq!(app.post("/api/v1/auth/logout", None, json!({"refresh_token": r})).await.0, 204);
    assert_error(
        &app.post("/api/v1/auth/refresh", None, json!({"refresh_token": r})).await,
        401,
        "invalid_refresh_token",
    );
}

#[tokio::test]
async fn devices_register_idempotently_and_bind_sessions() {
    let app = TestApp::spawn_demo().await;
    let token = app.token("inspector").await;
    let device_id = uuid::Uuid::now_v7().to_string();
    let body = json!({"device_id": device_id, "name": "Li's phone", "platform": "android", "app_version": "1.0.0"});
    let (status, dev) = app.post("/api/v1/devices", Some(&token), body.clone()).await;
    assert_eq!(status, 201, "{dev}");
    assert_eq!(dev["device_id"], device_id);
    let (status, again) = app.post("/api/v1/devices", Some(&token), body.clone()).await;
    assert_eq!(status, 200, "a retried registration returns the same device");
    assert_eq!(again["device_id"], device_id);
    assert_eq!(app.get("/api/v1/devices", Some(&token)).await.1.as_array().unwrap().len(), 1);

    // Another user can neither take the id nor log in with it.
    let officer = app.token("officer-120115001").await;
    assert_error(&app.post("/api/v1/devices", Some(&officer), body).await, 409, "duplicate_record");
    assert_error(&app.login("officer-120115001", DEMO_PASSWORD, Some(&device_id)).await, 422, "unknown_device");

    // A session bound to the device keeps the binding through refreshes.
    let (status, pair) = app.login("inspector", DEMO_PASSWORD, Some(&device_id)).await;
    assert_eq!(status, 200, "{pair}");
    assert_eq!(pair["device_id"], device_id);
    let (_, next) = app.post("/api/v1/auth/refresh", None, json!({"refresh_token": pair["refresh_token"]})).await;
    assert_eq!(next["device_id"], device_id);

    // The ledger records the device of a change.
    let tok = next["access_token"].as_str().unwrap();
    let (status, case) = app
        .post(
            "/api/v1/cases",
            Some(tok),
            json!({"source": "patrol", "location": {"lon": 117.295129, "lat": 39.733503}}),
        )
        .await;
    assert_eq!(status, 201);
    let (_, history) = app.get(&format!("/api/v1/cases/{}/history", case["id"].as_str().unwrap()), Some(tok)).await;
    assert_eq!(history[0]["device_id"], device_id);
    assert_eq!(history[0]["actor_name"], "inspector");

    assert_error(
        &app.post("/api/v1/devices", Some(&token), json!({"name": "", "platform": "android", "app_version": "1"}))
            .await,
        422,
        "validation_failed",
    );
}

#[tokio::test]
async fn admins_create_users_and_others_cannot() {
    let app = TestApp::spawn_demo().await;
    let admin = app.token("admin").await;
    let new =
        json!({"username": "officer-two", "password": "long enough pass", "role": "town_officer", "town": "120115002"});
    let (status, user) = app.post("/api/v1/users", Some(&admin), new.clone()).await;
    assert_eq!(status, 201, "{user}");
    assert_eq!(user["town_id"], landpatrol_tests::town_id("120115002"));
    assert_error(&app.post("/api/v1/users", Some(&admin), new).await, 409, "username_taken");
    assert_error(
        &app.post(
            "/api/v1/users",
            Some(&admin),
            json!({"username": "x1", "password": "long enough pass", "role": "town_officer"}),
        )
        .await,
        422,
        "validation_failed",
    );
    assert_error(
        &app.post(
            "/api/v1/users",
            Some(&admin),
            json!({"username": "x2", "password": "long enough pass", "role": "town_officer", "town": "000"}),
        )
        .await,
        422,
        "unknown_town",
    );
    assert_error(
        &app.post("/api/v1/users", Some(&admin), json!({"username": "x3", "password": "short", "role": "inspector"}))
            .await,
        422,
        "validation_failed",
    );
    let (status, _) = app.login("officer-two", "long enough pass", None).await;
    assert_eq!(status, 200);
    let officer = app.token("officer-120115001").await;
    assert_error(
        &app.post(
            "/api/v1/users",
            Some(&officer),
            json!({"username": "x4", "password": "long enough pass", "role": "inspector"}),
        )
        .await,
        403,
        "forbidden",
    );
    assert_error(&app.get("/api/v1/users", Some(&officer)).await, 403, "forbidden");
    assert_eq!(app.get("/api/v1/users", Some(&admin)).await.0, 200);
}
