//! Bad input gets a clear error with a stable code and changes nothing.

use landpatrol_tests::{TestApp, assert_error};
use serde_json::json;

/// Every endpoint that takes a JSON body, with the token role that may call it.
fn json_endpoints(case: &str) -> Vec<(&'static str, String, &'static str)> {
    vec![
        ("POST", "/api/v1/auth/login".into(), ""),
        ("POST", "/api/v1/auth/refresh".into(), ""),
        ("POST", "/api/v1/auth/logout".into(), ""),
        ("POST", "/api/v1/devices".into(), "inspector"),
        ("POST", "/api/v1/users".into(), "admin"),
        ("POST", "/api/v1/towns/import".into(), "admin"),
        ("POST", "/api/v1/campaigns".into(), "admin"),
        ("POST", "/api/v1/cases".into(), "admin"),
        ("POST", "/api/v1/cases/import".into(), "admin"),
        ("PATCH", format!("/api/v1/cases/{case}"), "admin"),
        ("POST", format!("/api/v1/cases/{case}/transitions"), "admin"),
        ("POST", format!("/api/v1/cases/{case}/reassign"), "admin"),
        ("POST", format!("/api/v1/cases/{case}/inspections"), "admin"),
    ]
}

async fn demo_case(app: &TestApp, admin: &str) -> String {
    let (_, c) = app
        .post(
            "/api/v1/cases",
            Some(admin),
            json!({"source": "legacy", "location": {"lon": 117.295129, "lat": 39.733503}}),
        )
        .await;
    c["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn malformed_json_wrong_types_and_wrong_content_type_change_nothing() {
    let app = TestApp::spawn_demo().await;
    let admin = app.token("admin").await;
    let inspector = app.token("inspector").await;
    let case = demo_case(&app, &admin).await;
    let before = app.fingerprint().await;
    for (method, path, who) in json_endpoints(&case) {
        let token = match who {
            "admin" => Some(admin.as_str()),
            "inspector" => Some(inspector.as_str()),
            _ => None,
        };
        let resp = app.raw(method, &path, token, "application/json", b"{\"username\": ".to_vec()).await;
        assert_error(&resp, 400, "invalid_json");
        let resp = app.raw(method, &path, token, "application/json", b"[1, 2, 3]".to_vec()).await;
        assert!(
            resp.1["error"]["code"] == "invalid_json" || resp.1["error"]["code"] == "invalid_geometry",
            "{method} {path}: {}",
            resp.1
        );
        let resp = app.raw(method, &path, token, "text/plain", b"{}".to_vec()).await;
        assert_error(&resp, 415, "unsupported_media_type");
    }
    // Wrong types in otherwise well-formed bodies.
    let wrong_types = [
        ("/api/v1/auth/login", json!({"username": 42, "password": "x"})),
        ("/api/v1/cases", json!({"source": "patrol", "location": {"lon": "117.3", "lat": 39.7}})),
        ("/api/v1/cases", json!({"source": "ufo", "location": {"lon": 117.3, "lat": 39.7}})),
        ("/api/v1/cases", json!({"source": "patrol", "location": {"lon": 117.3, "lat": 39.7, "crs": "utm"}})),
        ("/api/v1/cases", json!({"source": "patrol"})),
        ("/api/v1/campaigns", json!({"name": "x", "starts_on": "yesterday"})),
        ("/api/v1/users", json!({"username": "u", "password": "long enough", "role": "emperor"})),
    ];
    for (path, body) in wrong_types {
        let token = if path.contains("login") { None } else { Some(admin.as_str()) };
        assert_error(&app.post(path, token, body).await, 400, "invalid_json");
    }
    let t = format!("/api/v1/cases/{case}/transitions");
    assert_error(&app.post(&t, Some(&admin), json!({"from": "reported", "to": "flying"})).await, 400, "invalid_json");
    assert_error(
        &app.patch(&format!("/api/v1/cases/{case}"), Some(&admin), json!({"fields": "all"})).await,
        400,
        "invalid_json",
    );
    assert_error(
        &app.patch(&format!("/api/v1/cases/{case}"), Some(&admin), json!({"fields": {"publicised": "yes"}})).await,
        422,
        "validation_failed",
    );
    assert_error(
        &app.patch(&format!("/api/v1/cases/{case}"), Some(&admin), json!({"fields": {"notice_served_at": "tuesday"}}))
            .await,
        422,
        "validation_failed",
    );
    assert_eq!(app.fingerprint().await, before, "no bad request changed anything");
}

#[tokio::test]
async fn coordinates_out_of_range_are_refused() {
    let app = TestApp::spawn_demo().await;
    let admin = app.token("admin").await;
    let case = demo_case(&app, &admin).await;
    let before = app.fingerprint().await;
    for (lon, lat) in [(181.0, 39.7), (-180.5, 39.7), (117.3, 90.01), (117.3, -91.0)] {
        let resp = app
            .post("/api/v1/cases", Some(&admin), json!({"source": "patrol", "location": {"lon": lon, "lat": lat}}))
            .await;
        assert_error(&resp, 422, "coordinate_out_of_range");
        assert_error(
            &app.get(&format!("/api/v1/towns/locate?lon={lon}&lat={lat}"), Some(&admin)).await,
            422,
            "coordinate_out_of_range",
        );
        assert_error(
            &app.post(
                &format!("/api/v1/cases/{case}/inspections"),
                Some(&admin),
                json!({"kind": "patrol", "location": {"lon": lon, "lat": lat}}),
            )
            .await,
            422,
            "coordinate_out_of_range",
        );
        assert_error(
            &app.patch(
                &format!("/api/v1/cases/{case}"),
                Some(&admin),
                json!({"fields": {"location": {"lon": lon, "lat": lat}}}),
            )
            .await,
            422,
            "coordinate_out_of_range",
        );
    }
    assert_error(
        &app.post(
            "/api/v1/cases",
            Some(&admin),
            json!({"source": "patrol", "location": {"lon": 117.3, "lat": 39.7, "accuracy_m": -3}}),
        )
        .await,
        422,
        "coordinate_out_of_range",
    );
    assert_error(
        &app.post("/api/v1/cases", Some(&admin), json!({"source": "patrol", "location": {"lon": 117.3, "lat": 39.7}, "polygon": {"type": "Point", "coordinates": [1, 2]}})).await,
        422,
        "invalid_geometry",
    );
    assert_error(&app.get("/api/v1/towns/locate?lon=abc&lat=39.7", Some(&admin)).await, 400, "invalid_query");
    assert_error(&app.get("/api/v1/towns/locate?lat=39.7", Some(&admin)).await, 400, "invalid_query");
    assert_eq!(app.fingerprint().await, before);
}

#[tokio::test]
async fn unknown_towns_bad_queries_and_paths() {
    let app = TestApp::spawn_demo().await;
    let admin = app.token("admin").await;
    let case = demo_case(&app, &admin).await;
    let before = app.fingerprint().await;
    assert_error(&app.get("/api/v1/cases?town=000000000", Some(&admin)).await, 422, "unknown_town");
    assert_error(
        &app.post(&format!("/api/v1/cases/{case}/reassign"), Some(&admin), json!({"town": "000000000", "note": "x"}))
            .await,
        422,
        "unknown_town",
    );
    assert_error(
        &app.post(
            "/api/v1/users",
            Some(&admin),
            json!({"username": "o", "password": "long enough", "role": "town_officer", "town": "nowhere"}),
        )
        .await,
        422,
        "unknown_town",
    );
    for q in [
        "status=sleeping",
        "source=rumour",
        "limit=0",
        "limit=501",
        "limit=abc",
        "overdue=maybe",
        "bbox=1,2,3",
        "bbox=118,40,117,39",
        "cursor=zzz",
    ] {
        assert_error(&app.get(&format!("/api/v1/cases?{q}"), Some(&admin)).await, 400, "invalid_query");
    }
    assert_error(&app.get("/api/v1/cases?bbox=1,2,3,200", Some(&admin)).await, 422, "coordinate_out_of_range");
    assert_error(&app.get("/api/v1/cases/not-a-uuid", Some(&admin)).await, 400, "invalid_path");
    assert_error(&app.get(&format!("/api/v1/cases/{}", uuid::Uuid::now_v7()), Some(&admin)).await, 404, "not_found");
    assert_error(&app.get("/api/v1/nothing-here", Some(&admin)).await, 404, "route_not_found");
    assert_error(
        &app.raw("DELETE", &format!("/api/v1/cases/{case}"), Some(&admin), "application/json", vec![]).await,
        405,
        "method_not_allowed",
    );
    assert_error(
        &app.raw("PUT", "/api/v1/cases", Some(&admin), "application/json", b"{}".to_vec()).await,
        405,
        "method_not_allowed",
    );
    assert_eq!(app.fingerprint().await, before);
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let app = TestApp::spawn_with(|s| s.server.json_limit_bytes = 64 * 1024).await;
    landpatrol_server::demo::load(&app.state).await.unwrap();
    let admin = app.token("admin").await;
    let big = "x".repeat(100 * 1024);
    let body = json!({"source": "patrol", "location": {"lon": 117.3, "lat": 39.7}, "description": big});
    let resp = app.post("/api/v1/cases", Some(&admin), body.clone()).await;
    assert_error(&resp, 413, "payload_too_large");
    assert_eq!(resp.1["error"]["details"]["limit"], 64 * 1024);
    // Every JSON endpoint has the same limit.
    let case = demo_case(&app, &admin).await;
    let before = app.fingerprint().await;
    for (method, path, who) in json_endpoints(&case) {
        let token = if who.is_empty() { None } else { Some(admin.as_str()) };
        let resp = app.raw(method, &path, token, "application/json", serde_json::to_vec(&body).unwrap()).await;
        assert_error(&resp, 413, "payload_too_large");
    }
    // A description over its own limit inside an acceptable body.
    let resp = app
        .post(
            "/api/v1/cases",
            Some(&admin),
            json!({"source": "patrol", "location": {"lon": 117.3, "lat": 39.7}, "description": "字".repeat(4001)}),
        )
        .await;
    assert_error(&resp, 422, "validation_failed");
    assert_eq!(resp.1["error"]["details"]["field"], "description");
    assert_eq!(app.fingerprint().await, before);
}

#[tokio::test]
async fn invalid_transitions_change_nothing() {
    let app = TestApp::spawn_demo().await;
    let admin = app.token("admin").await;
    let case = demo_case(&app, &admin).await;
    let before = app.fingerprint().await;
    let t = format!("/api/v1/cases/{case}/transitions");
    assert_error(
        &app.post(&t, Some(&admin), json!({"from": "reported", "to": "accepted"})).await,
        422,
        "invalid_transition",
    );
    assert_error(
        &app.post(&t, Some(&admin), json!({"from": "registered", "to": "rectifying"})).await,
        409,
        "transition_conflict",
    );
    assert_error(
        &app.post(&t, Some(&admin), json!({"from": "reported", "to": "dismissed", "note": " "})).await,
        422,
        "reason_required",
    );
    assert_error(
        &app.post(&t, Some(&admin), json!({"from": "reported", "to": "registered", "photos": ["nope"]})).await,
        422,
        "validation_failed",
    );
    let (_, history) = app.get(&format!("/api/v1/cases/{case}/history"), Some(&admin)).await;
    assert_eq!(history.as_array().unwrap().len(), 1);
    assert_eq!(app.fingerprint().await, before);
}
