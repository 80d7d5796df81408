//! Webhooks never reach internal addresses unless the installation allows
//! it: refused at registration and on every change (in any spelling of the
//! address), refused again at delivery time for a URL stored earlier (nothing
//! is sent), redirects never followed, and a cap on webhooks per town.

use std::time::Duration;

use chrono::Utc;
use landpatrol_server::db::entities::webhooks;
use landpatrol_tests::live::{Answer, Receiver};
use landpatrol_tests::{TestApp, assert_error, quick_alerts, town_id};
use sea_orm::{ActiveModelTrait, Set};
use serde_json::{Value, json};
use uuid::Uuid;

const HAIBIN: (f64, f64) = (117.295129, 39.733503); // 120115001
const HAIBIN_OFFICER: &str = "officer-120115001";

/// The addresses of the security review, in the spellings it tried.
const INTERNAL: &[&str] = &[
    "http://127.0.0.1:8080/hook",
    "http://localhost/hook",
    "http://[::1]/hook",
    "http://0.0.0.0/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://[fd00:ec2::254]/latest/meta-data/",
    "http://2130706433/hook",
    "http://0x7f.1/hook",
    "http://10.0.0.1/hook",
    "http://192.168.1.1/hook",
    "http://metadata.google.internal/computeMetadata/v1/",
    "http://100.100.100.200/latest/meta-data/",
    "http://[::ffff:127.0.0.1]:22/",
    "https://intranet/hook",
];

async fn new_case(app: &TestApp) -> Value {
    let admin = app.token("admin").await;
    let (status, c) = app
        .post(
            "/api/v1/cases",
            Some(&admin),
            json!({"source": "patrol", "location": {"lon": HAIBIN.0, "lat": HAIBIN.1}, "description": "egress"}),
        )
        .await;
    assert_eq!(status, 201, "{c}");
    c
}

/// The webhook's deliveries once `pred` holds of them (or a panic after 10 s).
async fn deliveries_when(app: &TestApp, token: &str, hook: &str, pred: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (status, log) = app.get(&format!("/api/v1/webhooks/{hook}/deliveries"), Some(token)).await;
        assert_eq!(status, 200, "{log}");
        let log = log.as_array().unwrap().clone();
        if pred(&log) {
            return log;
        }
        assert!(std::time::Instant::now() < deadline, "deliveries never came to that: {log:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn by_default_no_webhook_can_be_registered_or_moved_to_an_internal_address() {
    let app = TestApp::spawn_demo().await;
    let haibin = app.token(HAIBIN_OFFICER).await;
    let admin = app.token("admin").await;
    let before = app.fingerprint().await;
    for url in INTERNAL {
        for token in [&haibin, &admin] {
            let answer = app.post("/api/v1/webhooks", Some(token), json!({"url": url})).await;
            assert_error(&answer, 422, "webhook_url_forbidden");
            assert_eq!(answer.1["error"]["details"]["field"], "url", "{url}");
        }
    }
    // Ports out of range are not URLs at all.
    for url in
        ["https://hooks.example.com:65536/h", "https://hooks.example.com:99999/h", "http://hooks.example.com:0/h"]
    {
        assert_error(
            &app.post("/api/v1/webhooks", Some(&haibin), json!({"url": url})).await,
            422,
            "webhook_url_invalid",
        );
    }
    assert_eq!(app.fingerprint().await, before, "nothing registered");

    // A public webhook can not be changed to point inside either.
    let (status, hook) =
        app.post("/api/v1/webhooks", Some(&haibin), json!({"url": "https://hooks.example.com/landpatrol"})).await;
    assert_eq!(status, 201, "{hook}");
    let id = hook["id"].as_str().unwrap();
    for url in INTERNAL {
        assert_error(
            &app.patch(&format!("/api/v1/webhooks/{id}"), Some(&haibin), json!({"url": url})).await,
            422,
            "webhook_url_forbidden",
        );
    }
    let (_, now) = app.get(&format!("/api/v1/webhooks/{id}"), Some(&haibin)).await;
    assert_eq!(now["url"], "https://hooks.example.com/landpatrol");
}

#[tokio::test]
async fn a_stored_internal_url_is_refused_at_delivery_and_nothing_is_sent() {
    let app = TestApp::spawn_demo_with(quick_alerts).await;
    let haibin = app.token(HAIBIN_OFFICER).await;
    let receiver = Receiver::start(|_| Answer::Status(200)).await;
    // Registered while the installation allowed private networks (or before the
    // rule existed); the setting is off now.
    let mut hooks = Vec::new();
    for url in [receiver.url.clone(), receiver.url.replace("127.0.0.1", "localhost")] {
        let now = Utc::now();
        let m = webhooks::ActiveModel {
            id: Set(Uuid::now_v7()),
            town_id: Set(Some(Uuid::parse_str(&town_id("120115001")).unwrap())),
            url: Set(url),
            secret: Set("whsec_test_secret_0123456789".into()),
            description: Set(String::new()),
            active: Set(true),
            created_by: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&app.state.db)
        .await
        .unwrap();
        hooks.push(m.id.to_string());
    }
    new_case(&app).await;
    for hook in &hooks {
        let log = deliveries_when(&app, &haibin, hook, |l| l.first().is_some_and(|d| d["status"] == "dead")).await;
        let d = &log[0];
        assert_eq!(d["attempts"], 1, "no retries of a refused address: {d}");
        assert!(d["last_status"].is_null(), "{d}");
        let error = d["last_error"].as_str().unwrap();
        assert!(error.contains("public addresses only") && error.contains("allow_private_networks"), "{error}");
        assert!(d["attempt_log"][0]["status_code"].is_null());
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(receiver.received().is_empty(), "nothing reached the loopback receiver");
}

#[tokio::test]
async fn redirects_are_never_followed() {
    let app = TestApp::spawn_demo_with(|s| {
        quick_alerts(s);
        s.webhooks.allow_private_networks = true;
    })
    .await;
    let haibin = app.token(HAIBIN_OFFICER).await;
    let inner = Receiver::start(|_| Answer::Status(200)).await;
    let port: u16 = inner.url.rsplit(':').next().unwrap().trim_end_matches("/hook").parse().unwrap();
    let outer = Receiver::start(move |_| Answer::Redirect(port)).await;
    let (status, hook) = app.post("/api/v1/webhooks", Some(&haibin), json!({"url": outer.url})).await;
    assert_eq!(status, 201, "{hook}");
    let id = hook["id"].as_str().unwrap();
    new_case(&app).await;
    outer.wait_for(Duration::from_secs(10), "the first attempt", |r| r.len() >= 2).await;
    let log = deliveries_when(&app, &haibin, id, |l| l.first().is_some_and(|d| d["last_status"] == 302)).await;
    assert_eq!(log[0]["status"], "pending", "a redirect is a failed attempt, retried at the same URL: {}", log[0]);
    assert!(inner.received().is_empty(), "the redirect's target was never called");
}

#[tokio::test]
async fn an_installation_that_allows_its_own_network_delivers_there() {
    let app = TestApp::spawn_demo_with(|s| {
        quick_alerts(s);
        s.webhooks.allow_private_networks = true;
    })
    .await;
    let haibin = app.token(HAIBIN_OFFICER).await;
    let receiver = Receiver::start(|_| Answer::Status(204)).await;
    let (status, hook) = app.post("/api/v1/webhooks", Some(&haibin), json!({"url": receiver.url})).await;
    assert_eq!(status, 201, "{hook}");
    let case = new_case(&app).await;
    let got = receiver.wait_for(Duration::from_secs(10), "the delivery", |r| !r.is_empty()).await;
    assert_eq!(got[0].json()["alert"]["case_id"], case["id"]);
}

#[tokio::test]
async fn each_town_has_at_most_its_allowed_number_of_webhooks() {
    let app = TestApp::spawn_demo_with(|s| s.webhooks.max_per_town = 2).await;
    let haibin = app.token(HAIBIN_OFFICER).await;
    let zhouliang = app.token("officer-120115006").await;
    let admin = app.token("admin").await;
    let url = json!({"url": "https://hooks.example.com/landpatrol"});
    let mut mine = Vec::new();
    for _ in 0..2 {
        let (status, hook) = app.post("/api/v1/webhooks", Some(&haibin), url.clone()).await;
        assert_eq!(status, 201, "{hook}");
        mine.push(hook["id"].as_str().unwrap().to_owned());
    }
    let before = app.fingerprint().await;
    let full = app.post("/api/v1/webhooks", Some(&haibin), url.clone()).await;
    assert_error(&full, 409, "webhook_limit_reached");
    assert_eq!(full.1["error"]["details"]["limit"], 2);
    // The bureau registering for that town meets the same cap.
    assert_error(
        &app.post(
            "/api/v1/webhooks",
            Some(&admin),
            json!({"url": "https://hooks.example.com/landpatrol", "town": "120115001"}),
        )
        .await,
        409,
        "webhook_limit_reached",
    );
    assert_eq!(app.fingerprint().await, before);
    // Another town, and the district-wide webhooks, count on their own.
    let (status, _) = app.post("/api/v1/webhooks", Some(&zhouliang), url.clone()).await;
    assert_eq!(status, 201);
    for _ in 0..2 {
        let (status, _) = app.post("/api/v1/webhooks", Some(&admin), url.clone()).await;
        assert_eq!(status, 201);
    }
    assert_error(&app.post("/api/v1/webhooks", Some(&admin), url.clone()).await, 409, "webhook_limit_reached");
    // Removing one makes room.
    let gone = app.client.delete(app.url(&format!("/api/v1/webhooks/{}", mine[0]))).bearer_auth(&haibin).send().await;
    assert_eq!(gone.unwrap().status(), 204);
    let (status, _) = app.post("/api/v1/webhooks", Some(&haibin), url).await;
    assert_eq!(status, 201);
}
