//! Rate limits and login lockouts with two instances on one database, as behind a load
//! balancer: on PostgreSQL every instance counts in the shared `rate_limits` table, so a
//! client gets one allowance however its requests are spread; on SQLite (one instance by
//! design) each instance counts in its own memory.

use landpatrol_tests::{DEMO_PASSWORD, TestApp, assert_error, postgres_base};
use serde_json::{Value, json};

const HAIBIN: (f64, f64) = (117.295129, 39.733503);

async fn tip(app: &TestApp, n: usize) -> (u16, Value) {
    let body = json!({"location": {"lon": HAIBIN.0, "lat": HAIBIN.1}, "description": format!("违建 {n}")});
    let resp = app.client.post(app.url("/api/v1/tips")).json(&body).send().await.unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

#[tokio::test]
async fn tip_limits_and_login_lockouts_count_across_instances_on_postgres() {
    let a = TestApp::spawn_demo_with(|s| {
        s.tips.per_address_per_hour = 3;
        s.auth.login_failures_per_user = 3;
        s.auth.login_failures_per_address = 100;
        s.auth.login_lockout_secs = 60;
    })
    .await;
    let b = a.second_instance().await;
    let shared = postgres_base().is_some();

    // Tips from one address, spread over both instances.
    assert_eq!(tip(&a, 1).await.0, 201);
    assert_eq!(tip(&b, 2).await.0, 201);
    assert_eq!(tip(&a, 3).await.0, 201);
    let (status, err) = tip(&b, 4).await;
    if shared {
        assert_eq!(status, 429, "the fourth tip, on the other instance, is over the shared limit: {err}");
        assert_eq!(err["error"]["code"], "rate_limited");
        let retry = err["error"]["details"]["retry_after_secs"].as_u64().unwrap();
        assert!((3500..=3600).contains(&retry), "{retry}");
        assert_eq!(tip(&a, 5).await.0, 429, "and on the first instance too");
    } else {
        assert_eq!(status, 201, "SQLite: each instance counts its own ({err})");
        assert_eq!(tip(&b, 5).await.0, 201, "B's third");
        assert_eq!(tip(&b, 6).await.0, 429, "B's own limit: three");
    }

    // Failed logins for one account, spread over both instances.
    for app in [&a, &b] {
        assert_error(&app.login("admin", "wrong", None).await, 401, "invalid_credentials");
    }
    let third = a.login("admin", "wrong", None).await;
    assert_error(&third, 401, "invalid_credentials");
    let on_b = b.login("admin", DEMO_PASSWORD, None).await;
    if shared {
        assert_error(&on_b, 429, "rate_limited");
        assert_error(&a.login("admin", DEMO_PASSWORD, None).await, 429, "rate_limited");
        // Another account is not affected.
        assert_eq!(b.login("inspector", DEMO_PASSWORD, None).await.0, 200);
    } else {
        assert_eq!(on_b.0, 200, "SQLite: B saw one failure of the three");
        assert_eq!(a.login("admin", DEMO_PASSWORD, None).await.0, 200, "and A two");
    }
    b.stop().await;
}

#[tokio::test]
async fn a_successful_login_clears_the_count_for_every_instance() {
    let a = TestApp::spawn_demo_with(|s| {
        s.auth.login_failures_per_user = 3;
        s.auth.login_failures_per_address = 100;
        s.auth.login_lockout_secs = 60;
    })
    .await;
    let b = a.second_instance().await;
    for app in [&a, &b] {
        assert_error(&app.login("verifier", "wrong", None).await, 401, "invalid_credentials");
    }
    // A success on A clears the username; two more failures on B do not lock it then.
    assert_eq!(a.login("verifier", DEMO_PASSWORD, None).await.0, 200);
    for _ in 0..2 {
        assert_error(&b.login("verifier", "wrong", None).await, 401, "invalid_credentials");
    }
    let last = b.login("verifier", DEMO_PASSWORD, None).await;
    if postgres_base().is_some() {
        assert_eq!(last.0, 200, "{:?}", last.1);
    } else {
        assert_error(&last, 429, "rate_limited"); // SQLite: B counted its own three
    }
    b.stop().await;
}
