//! The console's pages and its cookie session: built-in files with a strict
//! Content-Security-Policy and ETags; sign-in that keeps the refresh token in
//! an HttpOnly cookie (never in the body), refreshes by rotating it, and
//! refuses requests that are not the console's own (CSRF).

use landpatrol_tests::{TestApp, assert_error};
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, SET_COOKIE};
use serde_json::{Value, json};

const HEADER: &str = "X-Landpatrol-Console";

async fn session(
    app: &TestApp,
    path: &str,
    cookie: Option<&str>,
    body: Option<Value>,
    extra: &[(&str, &str)],
) -> (StatusCode, HeaderMap, Value) {
    let mut req = app.client.post(app.url(path));
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    for (k, v) in extra {
        req = req.header(*k, *v);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.unwrap();
    let (status, headers) = (res.status(), res.headers().clone());
    let text = res.text().await.unwrap();
    (status, headers, if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap() })
}

/// The `lp_console_refresh=…` pair from a response's cookies, and its attributes.
fn refresh_cookie(headers: &HeaderMap) -> (String, String) {
    let line = headers
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|v| v.starts_with("lp_console_refresh="))
        .expect("a refresh cookie");
    let pair = line.split(';').next().unwrap().to_owned();
    (pair, line)
}

fn sign_in_body() -> Value {
    json!({"username": "officer-120115001", "password": "landpatrol-demo"})
}

#[tokio::test]
async fn the_pages_are_built_in_with_a_strict_policy() {
    let app = TestApp::spawn().await;
    for (path, kind) in [
        ("/console/", "text/html"),
        ("/console/app.js", "text/javascript"),
        ("/console/style.css", "text/css"),
        ("/report-a-problem/", "text/html"),
        ("/report-a-problem/report.js", "text/javascript"),
    ] {
        let res = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
        let h = res.headers().clone();
        assert!(h["content-type"].to_str().unwrap().starts_with(kind), "{path}");
        let csp = h["content-security-policy"].to_str().unwrap();
        for part in
            ["default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "base-uri 'none'"]
        {
            assert!(csp.contains(part), "{path}: {csp}");
        }
        assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"), "{csp}");
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["x-frame-options"], "DENY");
        // An unchanged file is not sent again.
        let tag = h["etag"].to_str().unwrap().to_owned();
        let again = app.client.get(app.url(path)).header("if-none-match", &tag).send().await.unwrap();
        assert_eq!(again.status(), 304, "{path}");
    }
    let res = app.client.get(app.url("/console/nothing.js")).send().await.unwrap();
    assert_eq!(res.status(), 404);
    let no_redirects = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let res = no_redirects.get(app.url("/console")).send().await.unwrap();
    assert_eq!(res.status(), 301);
    assert_eq!(res.headers()["location"], "/console/");
    // The pages' settings: no secret in them.
    let (status, cfg) = app.get("/console/config.json", None).await;
    assert_eq!(status, 200);
    assert_eq!(cfg["tile_url"], "");
    assert_eq!(cfg["time_zone"], "Asia/Shanghai");
}

#[tokio::test]
async fn a_configured_tile_server_is_the_only_other_image_origin() {
    let app = TestApp::spawn_with(|s| {
        s.console.tile_url = "https://t{s}.tianditu.gov.cn/vec_w/wmts?x={x}&y={y}&l={z}&tk=KEY".into();
        s.console.tile_crs = "gcj02".into();
    })
    .await;
    let res = app.client.get(app.url("/console/")).send().await.unwrap();
    let csp = res.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains("img-src 'self' blob: data: https://*.tianditu.gov.cn;"), "{csp}");
    let (_, cfg) = app.get("/console/config.json", None).await;
    assert_eq!(cfg["tile_crs"], "gcj02");
}

#[tokio::test]
async fn the_console_session_keeps_the_refresh_token_in_an_httponly_cookie() {
    let app = TestApp::spawn_demo().await;
    let (status, headers, body) = session(&app, "/console/session", None, Some(sign_in_body()), &[(HEADER, "1")]).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("refresh_token").is_none(), "the refresh token never reaches page script: {body}");
    let token = body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(body["user"]["username"], "officer-120115001");
    let (cookie, line) = refresh_cookie(&headers);
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/console/session"] {
        assert!(line.contains(attr), "{line}");
    }
    assert!(!line.contains("Secure"), "plain HTTP on loopback: no Secure attribute");
    let (status, me) = app.get("/api/v1/auth/me", Some(&token)).await;
    assert_eq!(status, 200, "{me}");

    // A reload: the cookie gives a fresh access token and rotates.
    let (status, headers, again) =
        session(&app, "/console/session/refresh", Some(&cookie), None, &[(HEADER, "1")]).await;
    assert_eq!(status, 200, "{again}");
    let (rotated, _) = refresh_cookie(&headers);
    assert_ne!(rotated, cookie);
    // The spent cookie presented again (stolen and replayed) revokes the family.
    let (status, _, reused) = session(&app, "/console/session/refresh", Some(&cookie), None, &[(HEADER, "1")]).await;
    assert_eq!(status, 401);
    assert_eq!(reused["error"]["code"], "refresh_token_reused");
    let (status, _, _) = session(&app, "/console/session/refresh", Some(&rotated), None, &[(HEADER, "1")]).await;
    assert_eq!(status, 401, "the whole family is revoked");

    // Sign out: the token is revoked and the cookie cleared.
    let (_, headers, body) = session(&app, "/console/session", None, Some(sign_in_body()), &[(HEADER, "1")]).await;
    assert_eq!(body["user"]["role"], "town_officer");
    let (cookie, _) = refresh_cookie(&headers);
    let (status, headers, _) = session(&app, "/console/session/logout", Some(&cookie), None, &[(HEADER, "1")]).await;
    assert_eq!(status, 204);
    let (_, cleared) = refresh_cookie(&headers);
    assert!(cleared.starts_with("lp_console_refresh=;") && cleared.contains("Max-Age=0"), "{cleared}");
    let (status, _, _) = session(&app, "/console/session/refresh", Some(&cookie), None, &[(HEADER, "1")]).await;
    assert_eq!(status, 401);
    let (status, _, body) = session(&app, "/console/session/refresh", None, None, &[(HEADER, "1")]).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_refresh_token")));
}

#[tokio::test]
async fn requests_that_are_not_the_consoles_own_are_refused() {
    let app = TestApp::spawn_demo().await;
    let (_, headers, _) = session(&app, "/console/session", None, Some(sign_in_body()), &[(HEADER, "1")]).await;
    let (cookie, _) = refresh_cookie(&headers);
    let before = app.fingerprint().await;
    let own = app.url("");
    let own = own.trim_end_matches('/');
    for (path, body) in [
        ("/console/session", Some(sign_in_body())),
        ("/console/session/refresh", None),
        ("/console/session/logout", None),
    ] {
        // No console header (a form posted from another site), or another origin.
        for extra in [vec![], vec![(HEADER, "yes")], vec![(HEADER, "1"), ("origin", "https://evil.example")]] {
            let (status, headers, answer) = session(&app, path, Some(&cookie), body.clone(), &extra).await;
            assert_eq!(status, 403, "{path} {extra:?}: {answer}");
            assert_eq!(answer["error"]["code"], "csrf_refused");
            assert!(headers.get(SET_COOKIE).is_none(), "no cookie set on a refusal");
        }
    }
    assert_eq!(app.fingerprint().await, before, "nothing was signed in, rotated or revoked");
    // The console's own origin passes.
    let (status, _, _) =
        session(&app, "/console/session/refresh", Some(&cookie), None, &[(HEADER, "1"), ("origin", own)]).await;
    assert_eq!(status, 200);
    // A wrong password is an ordinary failed login (and counts toward the throttle).
    let answer = session(
        &app,
        "/console/session",
        None,
        Some(json!({"username": "officer-120115001", "password": "wrong"})),
        &[(HEADER, "1")],
    )
    .await;
    assert_error(&(answer.0, answer.2), 401, "invalid_credentials");
}

#[tokio::test]
async fn the_town_outlines_are_public_for_the_tip_page() {
    let app = TestApp::spawn_demo().await;
    let res = app.client.get(app.url("/api/v1/towns.geojson")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/geo+json");
    let fc: Value = res.json().await.unwrap();
    assert_eq!(fc["type"], "FeatureCollection");
    let features = fc["features"].as_array().unwrap();
    assert_eq!(features.len(), 23, "every Baodi town");
    let haibin = features.iter().find(|f| f["properties"]["code"] == "120115001").unwrap();
    assert_eq!(haibin["properties"]["name"], "海滨街道");
    assert!(matches!(haibin["geometry"]["type"].as_str(), Some("Polygon" | "MultiPolygon")));
    assert_eq!(haibin["properties"].as_object().unwrap().len(), 2, "outlines only: nothing about cases");
}
