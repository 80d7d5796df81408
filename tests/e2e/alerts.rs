//! Town alerts through every channel: inbox and acknowledgement, sync pull,
//! the live stream (resumable), signed webhooks (retries, dead letters,
//! restarts, several instances), escalation and deadline sweeps — and an
//! officer of one town never gets another town's alert by any of them.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use landpatrol_server::alerts::{outbox, sweeps};
use landpatrol_server::config::Settings;
use landpatrol_tests::live::{Answer, Receiver, SseClient};
use landpatrol_tests::{TestApp, assert_error, quick_alerts, town_id};
use serde_json::{Value, json};
use uuid::Uuid;

const HAIBIN: (f64, f64) = (117.295129, 39.733503); // 120115001
const ZHOULIANG: (f64, f64) = (117.341136, 39.557182); // 120115006
const HAIBIN_OFFICER: &str = "officer-120115001";
const ZHOULIANG_OFFICER: &str = "officer-120115006";

/// [`quick_alerts`]; the test receivers listen on loopback, which webhooks
/// reach only when the installation allows private networks
/// (`webhook_egress.rs` tests the default).
fn quick(s: &mut Settings) {
    quick_alerts(s);
    s.webhooks.allow_private_networks = true;
}

async fn case_at(app: &TestApp, token: &str, p: (f64, f64), text: &str) -> Value {
    let (status, c) = app
        .post(
            "/api/v1/cases",
            Some(token),
            json!({"source": "patrol", "location": {"lon": p.0, "lat": p.1}, "description": text}),
        )
        .await;
    assert_eq!(status, 201, "{c}");
    c
}

async fn inbox(app: &TestApp, token: &str, query: &str) -> Vec<Value> {
    let (status, page) = app.get(&format!("/api/v1/alerts{query}"), Some(token)).await;
    assert_eq!(status, 200, "{page}");
    page["alerts"].as_array().unwrap().clone()
}

fn about(alerts: &[Value], case: &Value) -> Vec<Value> {
    alerts.iter().filter(|a| a["case_id"] == case["id"]).cloned().collect()
}

async fn register(app: &TestApp, token: &str, url: &str, town: Option<&str>) -> (String, String) {
    let (status, hook) = app
        .post(
            "/api/v1/webhooks",
            Some(token),
            json!({"url": url, "town": town, "secret": "whsec_test_secret_0123456789"}),
        )
        .await;
    assert_eq!(status, 201, "{hook}");
    (hook["id"].as_str().unwrap().to_owned(), hook["secret"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn a_new_case_alerts_its_town_inbox_only_and_ack_records_who_and_when() {
    let app = TestApp::spawn_demo_with(quick).await;
    let inspector = app.token("inspector").await;
    let haibin = app.token(HAIBIN_OFFICER).await;
    let zhouliang = app.token(ZHOULIANG_OFFICER).await;
    let admin = app.token("admin").await;
    let case = case_at(&app, &inspector, HAIBIN, "新建彩钢房").await;

    let mine = about(&inbox(&app, &haibin, "?kind=case_new").await, &case);
    assert_eq!(mine.len(), 1, "one case_new alert for the town");
    let alert = &mine[0];
    assert_eq!(alert["town_id"], town_id("120115001"));
    assert_eq!(alert["town"]["code"], "120115001");
    assert_eq!(alert["detail"]["case_number"], case["case_number"]);
    assert_eq!(alert["detail"]["source"], "patrol");
    assert!(alert["acked_at"].is_null());
    assert!(alert["event_id"].as_i64().unwrap() > 0);
    assert!(about(&inbox(&app, &zhouliang, "?limit=500").await, &case).is_empty(), "another town never sees it");
    assert_eq!(about(&inbox(&app, &admin, "?kind=case_new&limit=500").await, &case).len(), 1, "the bureau sees all");

    let id = alert["id"].as_str().unwrap();
    let verifier = app.token("verifier").await;
    let before = app.fingerprint().await;
    // Another town's officer can not see or acknowledge it; inspectors and verifiers have no inbox.
    assert_error(&app.get(&format!("/api/v1/alerts/{id}"), Some(&zhouliang)).await, 404, "not_found");
    assert_error(&app.post(&format!("/api/v1/alerts/{id}/ack"), Some(&zhouliang), json!({})).await, 404, "not_found");
    assert_error(&app.get("/api/v1/alerts", Some(&inspector)).await, 403, "forbidden");
    assert_error(&app.get("/api/v1/alerts", Some(&verifier)).await, 403, "forbidden");
    assert_error(&app.get("/api/v1/alerts", None).await, 401, "unauthenticated");
    assert_error(&app.get("/api/v1/alerts?limit=0", Some(&haibin)).await, 400, "invalid_query");
    assert_error(&app.get("/api/v1/alerts?kind=nonsense", Some(&haibin)).await, 400, "invalid_query");
    assert_error(&app.get("/api/v1/alerts?before=abc", Some(&haibin)).await, 400, "invalid_query");
    assert_error(
        &app.post(&format!("/api/v1/alerts/{}/ack", Uuid::now_v7()), Some(&haibin), json!({})).await,
        404,
        "not_found",
    );
    assert_error(&app.post("/api/v1/alerts/not-a-uuid/ack", Some(&haibin), json!({})).await, 400, "invalid_path");
    assert_eq!(app.fingerprint().await, before);

    let (status, acked) = app.post(&format!("/api/v1/alerts/{id}/ack"), Some(&haibin), json!({})).await;
    assert_eq!(status, 200, "{acked}");
    assert!(acked["acked_at"].is_string());
    assert!(acked["acked_by"].is_string());
    assert_eq!(acked["rev"], 2);
    // Again: the first acknowledgement stands.
    let (status, again) = app.post(&format!("/api/v1/alerts/{id}/ack"), Some(&admin), json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(again["acked_at"], acked["acked_at"]);
    assert_eq!(again["acked_by"], acked["acked_by"]);
    assert!(about(&inbox(&app, &haibin, "?unacked=true&limit=500").await, &case).is_empty());
    assert_eq!(about(&inbox(&app, &haibin, "?unacked=false&limit=500").await, &case).len(), 1);
}

#[tokio::test]
async fn routing_a_case_between_towns_and_a_failed_acceptance_alert_the_towns_concerned() {
    let app = TestApp::spawn_demo_with(quick).await;
    let admin = app.token("admin").await;
    let haibin = app.token(HAIBIN_OFFICER).await;
    let zhouliang = app.token(ZHOULIANG_OFFICER).await;
    let verifier = app.token("verifier").await;
    let case = case_at(&app, &admin, HAIBIN, "鱼塘").await;
    let id = case["id"].as_str().unwrap();
    let (status, moved) = app
        .post(&format!("/api/v1/cases/{id}/reassign"), Some(&admin), json!({"town": "120115006", "note": "边界核实"}))
        .await;
    assert_eq!(status, 200, "{moved}");
    let left = about(&inbox(&app, &haibin, "?kind=case_routed_out").await, &case);
    let entered = about(&inbox(&app, &zhouliang, "?kind=case_routed_in").await, &case);
    assert_eq!((left.len(), entered.len()), (1, 1));
    assert_eq!(entered[0]["detail"]["from_town_id"], town_id("120115001"));
    assert_eq!(entered[0]["detail"]["to_town_id"], town_id("120115006"));

    for (from, to, who) in [
        ("reported", "registered", &zhouliang),
        ("registered", "rectifying", &zhouliang),
        ("rectifying", "rectified", &zhouliang),
        ("rectified", "rectifying", &verifier),
    ] {
        let (status, body) = app
            .post(
                &format!("/api/v1/cases/{id}/transitions"),
                Some(who),
                json!({"from": from, "to": to, "note": "不合格"}),
            )
            .await;
        assert_eq!(status, 200, "{from}->{to}: {body}");
    }
    let failed = about(&inbox(&app, &zhouliang, "?kind=acceptance_failed").await, &case);
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["detail"]["note"], "不合格");
    assert!(about(&inbox(&app, &haibin, "?kind=acceptance_failed").await, &case).is_empty());
}

#[tokio::test]
async fn alerts_reach_the_officers_sync_pull_scoped_and_acks_follow() {
    let app = TestApp::spawn_demo_with(quick).await;
    let admin = app.token("admin").await;
    let (haibin, _) = app.device_session(HAIBIN_OFFICER).await;
    let (zhouliang, _) = app.device_session(ZHOULIANG_OFFICER).await;
    let (inspector, _) = app.device_session("inspector").await;
    let mine = case_at(&app, &admin, HAIBIN, "a").await;
    let theirs = case_at(&app, &admin, ZHOULIANG, "b").await;

    let pull = |token: String| {
        let app = &app;
        async move {
            let (status, page) = app
                .post("/api/v1/sync/pull", Some(&token), json!({"cursor": null, "tables": ["alerts"], "limit": 5000}))
                .await;
            assert_eq!(status, 200, "{page}");
            page
        }
    };
    let page = pull(haibin.clone()).await;
    let alerts: Vec<&Value> = page["changes"].as_array().unwrap().iter().filter(|c| c["table"] == "alerts").collect();
    assert!(alerts.iter().any(|c| c["record"]["case_id"] == mine["id"]), "own town's alert pulled");
    assert!(alerts.iter().all(|c| c["record"]["town_id"] == town_id("120115001")), "only the own town's");
    assert!(!alerts.iter().any(|c| c["record"]["case_id"] == theirs["id"]));
    let page = pull(zhouliang).await;
    assert!(page["changes"].as_array().unwrap().iter().all(|c| c["record"]["town_id"] == town_id("120115006")));
    let page = pull(inspector).await;
    assert!(page["changes"].as_array().unwrap().iter().all(|c| c["table"] != "alerts"), "inspectors get no alerts");

    // An acknowledgement reaches the next pull as a new revision.
    let cursor = pull(haibin.clone()).await["cursor"].as_str().unwrap().to_owned();
    let alert = alerts.iter().find(|c| c["record"]["case_id"] == mine["id"]).unwrap();
    let id = alert["id"].as_str().unwrap();
    assert_eq!(app.post(&format!("/api/v1/alerts/{id}/ack"), Some(&haibin), json!({})).await.0, 200);
    let (_, next) = app.post("/api/v1/sync/pull", Some(&haibin), json!({"cursor": cursor, "tables": ["alerts"]})).await;
    let changes = next["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "{next}");
    assert_eq!(changes[0]["id"], id);
    assert_eq!(changes[0]["rev"], 2);
    assert!(changes[0]["record"]["acked_at"].is_string());
}

#[tokio::test]
async fn the_live_stream_resumes_with_exactly_the_missed_events_and_never_another_towns() {
    let app = TestApp::spawn_demo_with(|s| {
        quick(s);
        s.alerts.heartbeat_secs = 1;
    })
    .await;
    let admin = app.token("admin").await;
    let haibin = app.token(HAIBIN_OFFICER).await;
    let url = app.url("/api/v1/alerts/stream");

    let mut live = SseClient::connect(&url, &haibin, None).await;
    let first = case_at(&app, &admin, HAIBIN, "first").await;
    let ev = live.next(Duration::from_secs(5)).await.expect("live event");
    assert_eq!(ev.event.as_deref(), Some("alert"));
    assert_eq!(ev.json()["case_id"], first["id"]);
    assert_eq!(ev.id.as_deref().unwrap(), ev.json()["event_id"].to_string());
    let last_id = ev.id.clone().unwrap();
    drop(live);

    // While disconnected: two alerts for this town, one for another.
    let missed_a = case_at(&app, &admin, HAIBIN, "missed a").await;
    case_at(&app, &admin, ZHOULIANG, "other town").await;
    let missed_b = case_at(&app, &admin, HAIBIN, "missed b").await;

    let mut resumed = SseClient::connect(&url, &haibin, Some(&last_id)).await;
    let got = resumed.drain(Duration::from_millis(1500)).await;
    let ids: Vec<Value> = got.iter().map(|e| e.json()["case_id"].clone()).collect();
    assert_eq!(ids, vec![missed_a["id"].clone(), missed_b["id"].clone()], "exactly the missed events, in order");
    assert!(got.iter().all(|e| e.json()["town_id"] == town_id("120115001")));
    // Event ids increase.
    let n: Vec<i64> = got.iter().map(|e| e.id.as_ref().unwrap().parse().unwrap()).collect();
    assert!(n.windows(2).all(|w| w[0] < w[1]) && n[0] > last_id.parse::<i64>().unwrap());
    // Heartbeats keep an idle stream open.
    assert!(resumed.comments.iter().any(|c| c == "heartbeat"), "comments: {:?}", resumed.comments);
    // Still live after the catch-up.
    let later = case_at(&app, &admin, HAIBIN, "later").await;
    let ev = resumed.next(Duration::from_secs(5)).await.expect("live after resume");
    assert_eq!(ev.json()["case_id"], later["id"]);

    // Bad resume point; wrong roles; the query-string token for EventSource.
    let bad = app.client.get(&url).bearer_auth(&haibin).header("Last-Event-ID", "yesterday").send().await.unwrap();
    assert_eq!(bad.status(), 400);
    let inspector = app.token("inspector").await;
    let refused = app.client.get(&url).bearer_auth(&inspector).send().await.unwrap();
    assert_eq!(refused.status(), 403);
    assert_eq!(app.client.get(&url).send().await.unwrap().status(), 401);
    let by_query = app.client.get(format!("{url}?access_token={haibin}&last_event_id={last_id}")).send().await.unwrap();
    assert_eq!(by_query.status(), 200);
}

#[tokio::test]
async fn a_slow_stream_client_does_not_hold_up_others_and_catches_up_from_the_database() {
    let app = TestApp::spawn_demo_with(quick).await;
    let admin = app.token("admin").await;
    let haibin = app.token(HAIBIN_OFFICER).await;
    let url = app.url("/api/v1/alerts/stream");
    let mut slow = SseClient::connect(&url, &haibin, None).await;
    let mut fast = SseClient::connect(&url, &haibin, None).await;
    // The slow client reads nothing while 30 alerts are made; the fast one gets each at once.
    let mut made = Vec::new();
    for i in 0..30 {
        let c = case_at(&app, &admin, HAIBIN, &format!("case {i}")).await;
        let ev = fast.next(Duration::from_secs(5)).await.expect("fast client keeps up");
        assert_eq!(ev.json()["case_id"], c["id"]);
        made.push(c["id"].clone());
    }
    let got: Vec<Value> =
        slow.drain(Duration::from_millis(1500)).await.iter().map(|e| e.json()["case_id"].clone()).collect();
    assert_eq!(got, made, "the slow client gets every event, in order");
}

#[tokio::test]
async fn webhooks_get_every_alert_signed_after_failures_and_the_log_shows_each_attempt() {
    let app = TestApp::spawn_demo_with(quick).await;
    let admin = app.token("admin").await;
    let haibin = app.token(HAIBIN_OFFICER).await;
    let zhouliang = app.token(ZHOULIANG_OFFICER).await;
    // The receiver fails its first three requests, then accepts everything.
    let receiver = Receiver::start(|n| if n < 3 { Answer::Status(503) } else { Answer::Status(204) }).await;
    let other = Receiver::start(|_| Answer::Status(200)).await;
    let (hook, secret) = register(&app, &haibin, &receiver.url, None).await;
    let (other_hook, _) = register(&app, &zhouliang, &other.url, None).await;

    let mut cases = Vec::new();
    for i in 0..3 {
        cases.push(case_at(&app, &admin, HAIBIN, &format!("违建 {i}")).await["id"].clone());
    }
    let zl = case_at(&app, &admin, ZHOULIANG, "other").await;
    let got = receiver
        .wait_for(Duration::from_secs(20), "every alert accepted", |r| {
            let ok: HashSet<String> = r
                .iter()
                .filter(|x| x.answer == Answer::Status(204))
                .map(|x| x.json()["alert"]["case_id"].as_str().unwrap().to_owned())
                .collect();
            cases.iter().all(|c| ok.contains(c.as_str().unwrap()))
        })
        .await;
    for r in &got {
        assert!(r.signature_valid(&secret, Duration::from_secs(300)), "signature {}", r.signature);
        assert!(!r.signature_valid("whsec_wrong_secret_0123456789", Duration::from_secs(300)));
        assert!(r.content_type.starts_with("application/json"));
        let body = r.json();
        assert_eq!(body["delivery_id"].as_str().unwrap(), r.delivery, "header and body name the same delivery");
        assert_eq!(body["event"], "alert");
        assert_eq!(r.event, body["alert"]["kind"].as_str().unwrap());
        assert_eq!(body["alert"]["town_id"], town_id("120115001"), "only the town's alerts");
    }
    // Retries reuse the delivery id, so the receiver can drop duplicates.
    let mut per_delivery: HashMap<&str, usize> = HashMap::new();
    for r in &got {
        *per_delivery.entry(r.delivery.as_str()).or_default() += 1;
    }
    assert!(per_delivery.values().any(|&n| n > 1), "a retried delivery came again under its id");
    let accepted: HashSet<&str> =
        got.iter().filter(|r| r.answer == Answer::Status(204)).map(|r| r.delivery.as_str()).collect();
    assert_eq!(accepted.len(), per_delivery.len(), "every delivery ended accepted");

    // The other town's webhook got its own alert and nothing of Haibin's.
    let theirs = other.wait_for(Duration::from_secs(10), "the other town's alert", |r| !r.is_empty()).await;
    assert!(theirs.iter().all(|r| r.json()["alert"]["town_id"] == town_id("120115006")));
    assert!(theirs.iter().any(|r| r.json()["alert"]["case_id"] == zl["id"]));

    // The log: attempts with status codes, delivered at the end.
    let mut log = Value::Null;
    for _ in 0..50 {
        let (status, l) = app.get(&format!("/api/v1/webhooks/{hook}/deliveries"), Some(&haibin)).await;
        assert_eq!(status, 200, "{l}");
        if l.as_array().unwrap().iter().all(|d| d["status"] == "delivered") {
            log = l;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let log = log.as_array().expect("all delivered").clone();
    assert_eq!(log.len(), per_delivery.len());
    let attempts: usize = log.iter().map(|d| d["attempt_log"].as_array().unwrap().len()).sum();
    assert_eq!(attempts, got.len(), "every request is in the log");
    let failed: Vec<&Value> =
        log.iter().flat_map(|d| d["attempt_log"].as_array().unwrap()).filter(|a| a["status_code"] == 503).collect();
    assert_eq!(failed.len(), 3);
    assert!(failed.iter().all(|a| a["error"] == "HTTP 503"));
    // Another town's officer can not read this webhook or its log.
    assert_error(&app.get(&format!("/api/v1/webhooks/{hook}"), Some(&zhouliang)).await, 404, "not_found");
    assert_error(&app.get(&format!("/api/v1/webhooks/{hook}/deliveries"), Some(&zhouliang)).await, 404, "not_found");
    let (_, list) = app.get("/api/v1/webhooks", Some(&zhouliang)).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["id"], other_hook.as_str());
    assert!(list[0].get("secret").is_none(), "secrets are shown once, at creation");
}

#[tokio::test]
async fn a_receiver_down_past_the_retry_window_dead_letters_and_a_retry_delivers() {
    let app = TestApp::spawn_demo_with(|s| {
        quick(s);
        s.alerts.retry_window_secs = 1;
    })
    .await;
    let admin = app.token("admin").await;
    let haibin = app.token(HAIBIN_OFFICER).await;
    // Down until switched back on.
    let up = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = up.clone();
    let receiver = Receiver::start(move |_| {
        if flag.load(std::sync::atomic::Ordering::SeqCst) { Answer::Status(200) } else { Answer::Status(500) }
    })
    .await;
    let (hook, _) = register(&app, &haibin, &receiver.url, None).await;
    let case = case_at(&app, &admin, HAIBIN, "x").await;
    let mut dead = Value::Null;
    for _ in 0..100 {
        let (_, l) = app.get("/api/v1/webhook-deliveries?status=dead", Some(&admin)).await;
        if !l.as_array().unwrap().is_empty() {
            dead = l[0].clone();
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(dead["status"], "dead", "dead-lettered once the retry window closed");
    assert_eq!(dead["webhook_id"], hook.as_str());
    assert!(dead["attempts"].as_i64().unwrap() >= 2, "{dead}");
    assert_eq!(dead["attempts"].as_i64().unwrap() as usize, receiver.received().len());
    assert!(dead["last_error"].as_str().unwrap().contains("500"));
    assert_error(&app.get("/api/v1/webhook-deliveries", Some(&haibin)).await, 403, "forbidden");
    assert_error(&app.get("/api/v1/webhook-deliveries?status=lost", Some(&admin)).await, 400, "invalid_query");

    let id = dead["id"].as_str().unwrap();
    // A paused webhook is not retried by hand: 422, and the delivery stays dead.
    let (status, body) = app.patch(&format!("/api/v1/webhooks/{hook}"), Some(&haibin), json!({"active": false})).await;
    assert_eq!(status, 200, "{body}");
    let resp = app.post(&format!("/api/v1/webhook-deliveries/{id}/retry"), Some(&admin), json!({})).await;
    assert_error(&resp, 422, "validation_failed");
    assert_eq!(resp.1["error"]["details"]["field"], "webhook");
    let (_, l) = app.get("/api/v1/webhook-deliveries?status=dead", Some(&admin)).await;
    assert_eq!(l[0]["id"], id, "still dead: {l}");
    let (status, body) = app.patch(&format!("/api/v1/webhooks/{hook}"), Some(&haibin), json!({"active": true})).await;
    assert_eq!(status, 200, "{body}");

    // The receiver is back: a retry by hand delivers under the same delivery id.
    up.store(true, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(app.post(&format!("/api/v1/webhook-deliveries/{id}/retry"), Some(&admin), json!({})).await.0, 202);
    let got = receiver
        .wait_for(Duration::from_secs(10), "the retried delivery accepted", |r| {
            r.iter().any(|x| x.answer == Answer::Status(200))
        })
        .await;
    assert!(got.iter().all(|r| r.delivery == id), "one delivery id throughout");
    assert!(got.iter().all(|r| r.json()["alert"]["case_id"] == case["id"]));
    assert_error(
        &app.post(&format!("/api/v1/webhook-deliveries/{}/retry", Uuid::now_v7()), Some(&admin), json!({})).await,
        404,
        "not_found",
    );
}

#[tokio::test]
async fn a_restart_in_the_middle_of_a_delivery_loses_nothing() {
    let app = TestApp::spawn_demo_with(|s| {
        quick(s);
        s.alerts.webhook_timeout_secs = 1;
    })
    .await;
    let admin = app.token("admin").await;
    let haibin = app.token(HAIBIN_OFFICER).await;
    // The first request is read and never answered: the server dies meanwhile.
    let receiver = Receiver::start(|n| if n == 0 { Answer::Hang } else { Answer::Status(200) }).await;
    register(&app, &haibin, &receiver.url, None).await;
    let case = case_at(&app, &admin, HAIBIN, "restart").await;
    let first = receiver.wait_for(Duration::from_secs(10), "the first attempt", |r| !r.is_empty()).await;
    app.stop().await;

    // A new server on the same database takes the delivery over once its lease ends.
    let restarted = app.second_instance().await;
    let got = receiver
        .wait_for(Duration::from_secs(15), "delivery after the restart", |r| {
            r.iter().any(|x| x.answer == Answer::Status(200) && x.json()["alert"]["case_id"] == case["id"])
        })
        .await;
    // (The new instance's first deadline sweep may add alerts of its own: only this case's count.)
    let accepted: Vec<_> =
        got.iter().filter(|r| r.answer == Answer::Status(200) && r.json()["alert"]["case_id"] == case["id"]).collect();
    assert_eq!(accepted.len(), 1);
    assert_eq!(accepted[0].delivery, first[0].delivery, "the same delivery, recognisable as a duplicate");
    assert_eq!(accepted[0].json()["alert"]["case_id"], case["id"]);
    drop(restarted);
}

#[tokio::test]
async fn several_instances_share_the_outbox_and_send_each_delivery_once() {
    // Several instances are the PostgreSQL deployment (SQLite serves one instance).
    if landpatrol_tests::postgres_base().is_none() {
        eprintln!("several instances run on PostgreSQL only: set LANDPATROL_TEST_POSTGRES");
        return;
    }
    let app = TestApp::spawn_demo_with(quick).await;
    let second = app.second_instance().await;
    let admin = app.token("admin").await;
    let haibin = app.token(HAIBIN_OFFICER).await;
    let receiver = Receiver::start(|_| Answer::Status(200)).await;
    register(&app, &haibin, &receiver.url, None).await;
    let mut cases = Vec::new();
    for i in 0..20 {
        // Alternate instances, as behind a load balancer.
        let target = if i % 2 == 0 { &app } else { &second };
        cases.push(case_at(target, &admin, HAIBIN, &format!("c{i}")).await["id"].clone());
    }
    let ours = |r: &[landpatrol_tests::live::Received]| -> Vec<landpatrol_tests::live::Received> {
        r.iter().filter(|x| cases.contains(&x.json()["alert"]["case_id"])).cloned().collect()
    };
    receiver.wait_for(Duration::from_secs(20), "20 deliveries", |r| ours(r).len() >= 20).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let got = ours(&receiver.received());
    assert_eq!(got.len(), 20, "each delivery sent once");
    let ids: HashSet<String> = got.iter().map(|r| r.delivery.clone()).collect();
    assert_eq!(ids.len(), 20);
    let case_ids: HashSet<String> =
        got.iter().map(|r| r.json()["alert"]["case_id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(case_ids.len(), 20);
}

#[tokio::test]
async fn unacknowledged_alerts_escalate_to_the_bureau_once() {
    let app = TestApp::spawn_demo_with(|s| {
        quick(s);
        s.alerts.escalate_after_secs = 1;
    })
    .await;
    let admin = app.token("admin").await;
    let haibin = app.token(HAIBIN_OFFICER).await;
    let ignored = case_at(&app, &admin, HAIBIN, "ignored").await;
    let handled = case_at(&app, &admin, HAIBIN, "handled").await;
    let alert = &about(&inbox(&app, &haibin, "?kind=case_new").await, &handled)[0];
    app.post(&format!("/api/v1/alerts/{}/ack", alert["id"].as_str().unwrap()), Some(&haibin), json!({})).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let first = sweeps::escalations(&app.state).await.unwrap();
    let again = sweeps::escalations(&app.state).await.unwrap();
    assert!(first >= 1);
    assert_eq!(again, 0, "idempotent");
    let esc = inbox(&app, &admin, "?kind=escalation&limit=500").await;
    assert_eq!(about(&esc, &ignored).len(), 1, "the ignored alert escalated once");
    assert!(about(&esc, &handled).is_empty(), "an acknowledged alert is never escalated");
    let e = &about(&esc, &ignored)[0];
    assert!(e["town_id"].is_null(), "escalations are the bureau's");
    assert_eq!(e["detail"]["town"]["code"], "120115001");
    // Town officers do not see the bureau's escalations.
    assert!(inbox(&app, &haibin, "?kind=escalation").await.is_empty());
    let original = about(&inbox(&app, &haibin, "?kind=case_new").await, &ignored);
    assert!(original[0]["escalated_at"].is_string());
}

#[tokio::test]
async fn deadline_sweeps_raise_7_day_1_day_and_passed_alerts_once_each() {
    let app = TestApp::spawn_demo_with(quick).await;
    let admin = app.token("admin").await;
    let haibin = app.token(HAIBIN_OFFICER).await;
    // A 2017 patrol discovery: deadline 7 days later (campaign rule).
    let (status, case) = app
        .post(
            "/api/v1/cases",
            Some(&admin),
            json!({"source": "patrol", "location": {"lon": HAIBIN.0, "lat": HAIBIN.1}, "discovered_at": "2017-06-01T02:00:00Z"}),
        )
        .await;
    assert_eq!(status, 201, "{case}");
    let deadline = chrono::NaiveDate::parse_from_str(case["deadline"].as_str().unwrap(), "%Y-%m-%d").unwrap();
    let day = |n: i64| deadline + chrono::Duration::days(n);
    let count = |kind: &'static str| {
        let (app, haibin, case) = (&app, &haibin, &case);
        async move { about(&inbox(app, haibin, &format!("?kind={kind}&limit=500")).await, case).len() }
    };
    // The demo's own 2017 cases are long overdue: the first sweep alerts those; ours is not yet due.
    sweeps::deadlines(&app.state, day(-8)).await.unwrap();
    assert_eq!(count("deadline_7d").await, 0);
    assert!(sweeps::deadlines(&app.state, day(-7)).await.unwrap() >= 1);
    assert_eq!(count("deadline_7d").await, 1);
    assert_eq!(sweeps::deadlines(&app.state, day(-7)).await.unwrap(), 0, "idempotent");
    sweeps::deadlines(&app.state, day(-3)).await.unwrap();
    assert_eq!(count("deadline_7d").await, 1, "the same alert, not again on a later day");
    sweeps::deadlines(&app.state, day(-1)).await.unwrap();
    sweeps::deadlines(&app.state, day(-1)).await.unwrap();
    sweeps::deadlines(&app.state, day(1)).await.unwrap();
    sweeps::deadlines(&app.state, day(2)).await.unwrap();
    assert_eq!((count("deadline_7d").await, count("deadline_1d").await, count("deadline_passed").await), (1, 1, 1));
    // A closed case is no longer chased.
    let id = case["id"].as_str().unwrap();
    app.post(
        &format!("/api/v1/cases/{id}/transitions"),
        Some(&admin),
        json!({"from": "reported", "to": "dismissed", "note": "误报"}),
    )
    .await;
    let before = count("deadline_passed").await;
    sweeps::deadlines(&app.state, day(30)).await.unwrap();
    assert_eq!(count("deadline_passed").await, before);
}

#[tokio::test]
async fn webhook_registration_refuses_bad_input_and_other_towns() {
    let app = TestApp::spawn_demo().await;
    let haibin = app.token(HAIBIN_OFFICER).await;
    let inspector = app.token("inspector").await;
    let admin = app.token("admin").await;
    let before = app.fingerprint().await;
    for url in
        ["ftp://x.example/hook", "not a url", "http://", "https://user:pw@x.example/hook", "http://x.example:port/"]
    {
        assert_error(
            &app.post("/api/v1/webhooks", Some(&haibin), json!({"url": url})).await,
            422,
            "webhook_url_invalid",
        );
    }
    assert_error(
        &app.post("/api/v1/webhooks", Some(&haibin), json!({"url": "https://x.example/h", "secret": "short"})).await,
        422,
        "validation_failed",
    );
    assert_error(
        &app.post("/api/v1/webhooks", Some(&haibin), json!({"url": "https://x.example/h", "town": "120115006"})).await,
        403,
        "out_of_scope",
    );
    assert_error(
        &app.post("/api/v1/webhooks", Some(&admin), json!({"url": "https://x.example/h", "town": "999"})).await,
        422,
        "unknown_town",
    );
    assert_error(
        &app.post("/api/v1/webhooks", Some(&inspector), json!({"url": "https://x.example/h"})).await,
        403,
        "forbidden",
    );
    assert_error(&app.post("/api/v1/webhooks", Some(&haibin), json!({"url": 5})).await, 400, "invalid_json");
    assert_error(
        &app.post("/api/v1/webhooks", Some(&haibin), json!({"url": "https://x.example/h", "colour": "red"})).await,
        400,
        "invalid_json",
    );
    assert_error(
        &app.raw("POST", "/api/v1/webhooks", Some(&haibin), "application/json", b"{".to_vec()).await,
        400,
        "invalid_json",
    );
    assert_eq!(app.fingerprint().await, before);
    let count: i64 = {
        use sea_orm::{EntityTrait, PaginatorTrait};
        i64::try_from(landpatrol_server::db::entities::webhooks::Entity::find().count(&app.state.db).await.unwrap())
            .unwrap()
    };
    assert_eq!(count, 0, "nothing registered");

    // A generated secret is shown once; pausing and rotating work; removal is final.
    let (status, hook) = app.post("/api/v1/webhooks", Some(&haibin), json!({"url": "https://x.example/h"})).await;
    assert_eq!(status, 201);
    assert!(hook["secret"].as_str().unwrap().starts_with("whsec_"));
    assert_eq!(hook["town_id"], town_id("120115001"));
    let id = hook["id"].as_str().unwrap();
    let (status, paused) = app.patch(&format!("/api/v1/webhooks/{id}"), Some(&haibin), json!({"active": false})).await;
    assert_eq!(status, 200);
    assert_eq!(paused["active"], false);
    assert!(paused.get("secret").is_none());
    let (_, rotated) = app
        .patch(&format!("/api/v1/webhooks/{id}"), Some(&haibin), json!({"secret": "whsec_rotated_0123456789"}))
        .await;
    assert_eq!(rotated["secret"], "whsec_rotated_0123456789");
    let gone = app.client.delete(app.url(&format!("/api/v1/webhooks/{id}"))).bearer_auth(&haibin).send().await.unwrap();
    assert_eq!(gone.status(), 204);
    assert_error(&app.get(&format!("/api/v1/webhooks/{id}"), Some(&haibin)).await, 404, "not_found");
    // The outbox constant names are the API's.
    assert_eq!((outbox::PENDING, outbox::DELIVERED, outbox::DEAD), ("pending", "delivered", "dead"));
}

#[tokio::test]
async fn a_paused_webhook_keeps_its_deliveries_until_it_is_resumed() {
    let app = TestApp::spawn_demo_with(quick).await;
    let admin = app.token("admin").await;
    let haibin = app.token(HAIBIN_OFFICER).await;
    let receiver = Receiver::start(|_| Answer::Status(200)).await;
    let (hook, _) = register(&app, &haibin, &receiver.url, None).await;
    let (status, _) = app.patch(&format!("/api/v1/webhooks/{hook}"), Some(&haibin), json!({"active": false})).await;
    assert_eq!(status, 200);
    let case = case_at(&app, &admin, HAIBIN, "while paused").await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(receiver.received().is_empty(), "nothing is sent to a paused webhook");
    let (_, log) = app.get(&format!("/api/v1/webhooks/{hook}/deliveries?status=pending"), Some(&haibin)).await;
    assert_eq!(log.as_array().unwrap().len(), 1, "the delivery is owed: {log}");
    let (status, _) = app.patch(&format!("/api/v1/webhooks/{hook}"), Some(&haibin), json!({"active": true})).await;
    assert_eq!(status, 200);
    let got = receiver.wait_for(Duration::from_secs(10), "the owed delivery", |r| !r.is_empty()).await;
    assert_eq!(got[0].json()["alert"]["case_id"], case["id"]);
}

#[tokio::test]
async fn the_live_stream_ends_when_its_token_expires_and_a_resume_loses_nothing() {
    let app = TestApp::spawn_demo_with(|s| {
        quick(s);
        s.auth.access_ttl_secs = 2;
        s.auth.clock_leeway_secs = 0;
    })
    .await;
    let url = app.url("/api/v1/alerts/stream");
    let mut live = SseClient::connect(&url, &app.token(HAIBIN_OFFICER).await, None).await;
    let first = case_at(&app, &app.token("admin").await, HAIBIN, "first").await;
    let ev = live.next(Duration::from_secs(2)).await.expect("live event");
    assert_eq!(ev.json()["case_id"], first["id"]);
    assert!(live.next(Duration::from_secs(5)).await.is_none());
    assert!(live.ended, "the server closed the stream at the token's expiry");
    assert!(live.comments.iter().any(|c| c.starts_with("token expired")), "{:?}", live.comments);

    let missed = case_at(&app, &app.token("admin").await, HAIBIN, "while away").await;
    let mut resumed = SseClient::connect(&url, &app.token(HAIBIN_OFFICER).await, ev.id.as_deref()).await;
    let ev = resumed.next(Duration::from_secs(2)).await.expect("the missed event");
    assert_eq!(ev.json()["case_id"], missed["id"]);
}
