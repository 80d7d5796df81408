//! The progress report from a seeded ledger, checked against figures worked
//! out by hand below; `as_of` reconstructs past states; CSV and HTML forms;
//! scope and bad input.

use landpatrol_tests::ledger::{self, change, local, step};
use landpatrol_tests::{TestApp, assert_error, town_id};
use serde_json::{Value, json};
use uuid::Uuid;

const A: &str = "120115001"; // 海滨街道
const B: &str = "120115006"; // 周良街道

struct Seeded {
    campaign: String,
}

/// A 2016 campaign and its history (all times Baodi local):
///
/// | case | source | town | deadline | ledger |
/// |---|---|---|---|---|
/// | sat1 | satellite | A | 05-31 | created 03-01, registered 03-10, rectifying 03-20, rectified 05-20, accepted 06-10, closed 06-20 |
/// | sat2 | satellite | A | 05-31 | created 03-02, registered 03-15, rectifying 04-01 (still) |
/// | pat1 | patrol | A | 06-08 | created 06-01, registered 06-02, rectifying 06-03, rectified 06-07 |
/// | pat2 | patrol | A | 06-12 | created 06-05, registered 06-06, rectifying 06-07, rectified 06-20 (late) |
/// | leg1 | legacy | B | 08-15 | created 03-05, dismissed 03-06 |
/// | leg2 | legacy | A→B | 08-15 | created 03-05, reassigned to B 07-01, registered 07-02, gains 5,000 yuan + 1 disciplinary action + judicial referral 07-05 |
async fn seed(app: &TestApp) -> Seeded {
    let admin = app.token("admin").await;
    let (status, c) = app
        .post(
            "/api/v1/campaigns",
            Some(&admin),
            json!({"name": "2016 test campaign", "starts_on": "2016-01-01", "ends_on": "2016-12-31",
                   "satellite_deadline": "2016-05-31", "legacy_deadline": "2016-08-15",
                   "idle_land_deadline": "2016-10-31", "patrol_days": 7, "tip_days": 15}),
        )
        .await;
    assert_eq!(status, 201, "{c}");
    assert_eq!(c["targets"].as_array().unwrap().len(), 5, "the standard targets: {c}");
    let campaign: Uuid = c["id"].as_str().unwrap().parse().unwrap();
    let a: Uuid = town_id(A).parse().unwrap();
    let b: Uuid = town_id(B).parse().unwrap();
    let d = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
    let ids: Vec<Uuid> = (0..6).map(|_| Uuid::now_v7()).collect();
    let (sat1, sat2, pat1, pat2, leg1, leg2) = (ids[0], ids[1], ids[2], ids[3], ids[4], ids[5]);
    let mut leg2_row = ledger::case(
        leg2,
        "T-LEG2",
        "legacy",
        "registered",
        Some(b),
        campaign,
        Some(d("2016-08-15")),
        local("2016-03-05", 10),
    );
    leg2_row.confiscated_gains_fen = Some(500_000);
    leg2_row.disciplinary_actions = json!(["警告 warning"]);
    leg2_row.judicial_referral = true;
    let rows = vec![
        ledger::case(
            sat1,
            "T-SAT1",
            "satellite",
            "closed",
            Some(a),
            campaign,
            Some(d("2016-05-31")),
            local("2016-03-01", 9),
        ),
        ledger::case(
            sat2,
            "T-SAT2",
            "satellite",
            "rectifying",
            Some(a),
            campaign,
            Some(d("2016-05-31")),
            local("2016-03-02", 9),
        ),
        ledger::case(
            pat1,
            "T-PAT1",
            "patrol",
            "rectified",
            Some(a),
            campaign,
            Some(d("2016-06-08")),
            local("2016-06-01", 9),
        ),
        ledger::case(
            pat2,
            "T-PAT2",
            "patrol",
            "rectified",
            Some(a),
            campaign,
            Some(d("2016-06-12")),
            local("2016-06-05", 9),
        ),
        ledger::case(
            leg1,
            "T-LEG1",
            "legacy",
            "dismissed",
            Some(b),
            campaign,
            Some(d("2016-08-15")),
            local("2016-03-05", 9),
        ),
        leg2_row,
    ];
    let entries = vec![
        step(sat1, local("2016-03-01", 9), None, "reported"),
        step(sat1, local("2016-03-10", 9), Some("reported"), "registered"),
        step(sat1, local("2016-03-20", 9), Some("registered"), "rectifying"),
        step(sat1, local("2016-05-20", 9), Some("rectifying"), "rectified"),
        step(sat1, local("2016-06-10", 9), Some("rectified"), "accepted"),
        step(sat1, local("2016-06-20", 9), Some("accepted"), "closed"),
        step(sat2, local("2016-03-02", 9), None, "reported"),
        step(sat2, local("2016-03-15", 9), Some("reported"), "registered"),
        step(sat2, local("2016-04-01", 9), Some("registered"), "rectifying"),
        step(pat1, local("2016-06-01", 9), None, "reported"),
        step(pat1, local("2016-06-02", 9), Some("reported"), "registered"),
        step(pat1, local("2016-06-03", 9), Some("registered"), "rectifying"),
        step(pat1, local("2016-06-07", 9), Some("rectifying"), "rectified"),
        step(pat2, local("2016-06-05", 9), None, "reported"),
        step(pat2, local("2016-06-06", 9), Some("reported"), "registered"),
        step(pat2, local("2016-06-07", 10), Some("registered"), "rectifying"),
        step(pat2, local("2016-06-20", 9), Some("rectifying"), "rectified"),
        step(leg1, local("2016-03-05", 9), None, "reported"),
        step(leg1, local("2016-03-06", 9), Some("reported"), "dismissed"),
        step(leg2, local("2016-03-05", 10), None, "reported"),
        change(leg2, local("2016-07-01", 9), "reassigned", json!({"town_id": a}), json!({"town_id": b})),
        step(leg2, local("2016-07-02", 9), Some("reported"), "registered"),
        change(
            leg2,
            local("2016-07-05", 9),
            "updated",
            json!({"confiscated_gains_fen": null, "disciplinary_actions": [], "judicial_referral": false}),
            json!({"confiscated_gains_fen": 500000, "disciplinary_actions": ["警告 warning"], "judicial_referral": true}),
        ),
    ];
    ledger::insert(&app.state.db, rows, entries).await;
    Seeded { campaign: campaign.to_string() }
}

fn town<'a>(report: &'a Value, code: &str) -> &'a Value {
    report["towns"].as_array().unwrap().iter().find(|t| t["town"]["code"] == code).unwrap_or_else(|| {
        panic!("no section for {code}: {report}");
    })
}

fn target<'a>(section: &'a Value, label_part: &str) -> &'a Value {
    section["targets"].as_array().unwrap().iter().find(|t| t["label"].as_str().unwrap().contains(label_part)).unwrap()
}

/// A report form (CSV, HTML) as text.
async fn text(app: &TestApp, token: &str, path: &str) -> String {
    let resp = app.client.get(app.url(path)).bearer_auth(token).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    resp.text().await.unwrap()
}

async fn report(app: &TestApp, token: &str, query: &str) -> Value {
    let (status, r) = app.get(&format!("/api/v1/reports/progress?{query}"), Some(token)).await;
    assert_eq!(status, 200, "{r}");
    r
}

#[tokio::test]
async fn a_past_report_is_reconstructed_from_the_ledger_with_the_hand_computed_figures() {
    let app = TestApp::spawn_demo().await;
    let s = seed(&app).await;
    let admin = app.token("admin").await;
    let r = report(&app, &admin, &format!("campaign={}&as_of=2016-06-30", s.campaign)).await;
    assert_eq!(r["reconstructed"], true);
    assert_eq!((r["period_from"].as_str(), r["period_to"].as_str()), (Some("2016-01-01"), Some("2016-06-30")));

    // Town A on 06-30: sat1 closed, sat2 rectifying, pat1 and pat2 rectified,
    // leg2 still reported there (it moves to B on 07-01).
    let a = town(&r, A);
    assert_eq!(a["cases_total"], 5);
    assert_eq!(a["cases_by_source"]["satellite"], json!({"closed": 1, "rectifying": 1, "total": 2}));
    assert_eq!(a["cases_by_source"]["patrol"], json!({"rectified": 2, "total": 2}));
    assert_eq!(a["cases_by_source"]["legacy"], json!({"reported": 1, "total": 1}));
    assert_eq!(a["open"], 2);
    assert_eq!(a["opened_in_period"], 5);
    assert_eq!(a["closed_in_period"], 1);
    assert_eq!(a["dismissed_in_period"], 0);
    // sat2: deadline 05-31, 30 days overdue on 06-30.
    assert_eq!(a["overdue"]["count"], 1);
    assert_eq!(a["overdue"]["max_days"], 30);
    assert_eq!(a["overdue"]["cases"][0]["case_number"], "T-SAT2");
    assert_eq!(a["overdue"]["cases"][0]["days_overdue"], 30);
    // On the ledger: sat1, sat2, pat1, pat2 (leg2 not yet registered); rectified or further: sat1, pat1, pat2.
    assert_eq!(a["on_ledger"], 4);
    assert_eq!(a["rectified_rate"], 0.75);
    assert_eq!(a["accepted_rate"], 0.25);
    // leg2's investigation came on 07-05: nothing yet.
    assert_eq!(a["investigation"]["confiscated_gains_fen"], 0);
    assert_eq!(a["investigation"]["disciplinary_actions"], 0);
    // Targets: satellite 1 of 2 by 05-31 (passed) → not met; legacy 0 of 1 before 08-15 → at risk;
    // patrol: pat1 in time, pat2 late → 50% < 100% → at risk (the year is not over).
    let sat = target(a, "satellite");
    assert_eq!(sat["state"], "not_met", "{sat}");
    assert_eq!(sat["detail"], "1 of 2 eliminated by 2016-05-31");
    assert_eq!(target(a, "legacy")["state"], "at_risk");
    let pat = target(a, "patrol");
    assert_eq!(pat["state"], "at_risk");
    assert_eq!(pat["detail"], "1 of 2 due were rectified in time (50.0%)");

    // Town B on 06-30: leg1 dismissed in March.
    let b = town(&r, B);
    assert_eq!(b["cases_total"], 1);
    assert_eq!(b["dismissed_in_period"], 1);
    assert_eq!(b["on_ledger"], 0);
    assert!(b["rectified_rate"].is_null());
    assert_eq!(target(b, "legacy")["state"], "met");
    assert_eq!(target(b, "satellite")["state"], "not_applicable");

    // The district adds up.
    let d = &r["district"];
    assert_eq!(d["cases_total"], 6);
    assert_eq!(d["overdue"]["count"], 1);
    assert_eq!(d["on_ledger"], 4);
    // Other towns have empty sections.
    assert_eq!(r["towns"].as_array().unwrap().iter().map(|t| t["cases_total"].as_i64().unwrap()).sum::<i64>(), 6);
}

/// The monthly meeting hears the month: `from` narrows the "in the period"
/// figures; the state on `as_of` and the targets (judged over the campaign) stay.
#[tokio::test]
async fn a_month_of_the_campaign_for_the_monthly_meeting() {
    let app = TestApp::spawn_demo().await;
    let s = seed(&app).await;
    let admin = app.token("admin").await;
    let whole = report(&app, &admin, &format!("campaign={}&as_of=2016-06-30", s.campaign)).await;
    let june = report(&app, &admin, &format!("campaign={}&as_of=2016-06-30&from=2016-06-01", s.campaign)).await;
    assert_eq!((june["period_from"].as_str(), june["period_to"].as_str()), (Some("2016-06-01"), Some("2016-06-30")));
    // June in town A: pat1 (06-01) and pat2 (06-05) opened, sat1 closed (06-20); B: nothing (leg1 went in March).
    let (a, b) = (town(&june, A), town(&june, B));
    let figures =
        |t: &Value| (t["opened_in_period"].as_i64(), t["closed_in_period"].as_i64(), t["dismissed_in_period"].as_i64());
    assert_eq!(figures(a), (Some(2), Some(1), Some(0)));
    assert_eq!(figures(b), (Some(0), Some(0), Some(0)));
    assert_eq!(figures(&june["district"]), (Some(2), Some(1), Some(0)));
    for field in ["cases_by_source", "cases_total", "open", "overdue", "on_ledger", "rectified_rate", "targets"] {
        assert_eq!(a[field], town(&whole, A)[field], "{field}");
        assert_eq!(june["district"][field], whole["district"][field], "{field}");
    }
    // Land: the demo's 2017 in July: no parcel newly idle or disposed, 周良 supplied nothing;
    // the year's targets as in the report for the whole year to July.
    let year = report(&app, &admin, "as_of=2017-07-31").await;
    let july = report(&app, &admin, "as_of=2017-07-31&from=2017-07-01").await;
    let zl = town(&july, B);
    assert_eq!((zl["idle_land"]["newly_idle"].as_i64(), zl["idle_land"]["disposed"].as_i64()), (Some(0), Some(0)));
    assert_eq!(zl["idle_land"]["idle_at_end"], 1, "004 idle since April");
    assert_eq!(zl["supply"]["stock_at_start_m2"], 25000.0, "approved in March, unsupplied on July 1");
    assert_eq!(zl["supply"]["supplied_in_period_m2"], 0.0);
    assert_eq!(zl["targets"], town(&year, B)["targets"]);
    assert_eq!(july["district"]["targets"], year["district"]["targets"]);
    // Bad periods.
    for from in ["2015-12-31", "2016-07-01", "June"] {
        let resp = app
            .get(
                &format!("/api/v1/reports/progress?campaign={}&as_of=2016-06-30&from={from}", s.campaign),
                Some(&admin),
            )
            .await;
        assert_error(&resp, 400, "invalid_query");
        assert_eq!(resp.1["error"]["details"]["field"], "from", "{from}");
    }
}

#[tokio::test]
async fn as_of_before_and_after_a_change_gives_the_two_states() {
    let app = TestApp::spawn_demo().await;
    let s = seed(&app).await;
    let admin = app.token("admin").await;
    // sat2 was registered on 03-15 and put to rectification on 04-01.
    let before = report(&app, &admin, &format!("campaign={}&as_of=2016-03-31&town={A}", s.campaign)).await;
    let after = report(&app, &admin, &format!("campaign={}&as_of=2016-04-01&town={A}", s.campaign)).await;
    assert_eq!(
        before["towns"][0]["cases_by_source"]["satellite"],
        json!({"rectifying": 1, "registered": 1, "total": 2})
    );
    assert_eq!(after["towns"][0]["cases_by_source"]["satellite"], json!({"rectifying": 2, "total": 2}));
    assert!(before["district"].is_null(), "one town asked for: no district total");

    // leg2 moves to B on 07-01 and gets its investigation on 07-05.
    let july = report(&app, &admin, &format!("campaign={}&as_of=2016-07-10", s.campaign)).await;
    let b = town(&july, B);
    assert_eq!(b["cases_total"], 2);
    assert_eq!(b["cases_by_source"]["legacy"], json!({"dismissed": 1, "registered": 1, "total": 2}));
    assert_eq!(b["on_ledger"], 1);
    assert_eq!(b["rectified_rate"], 0.0);
    assert_eq!(
        b["investigation"],
        json!({"confiscated_gains_fen": 500000, "cases_with_confiscation": 1,
        "disciplinary_actions": 1, "judicial_referrals": 1, "publicised": 0})
    );
    assert_eq!(town(&july, A)["cases_total"], 4);

    // Reproducible: the same past day gives the same figures, and a day after
    // the last entry equals the current state read from the cases.
    let again = report(&app, &admin, &format!("campaign={}&as_of=2016-07-10", s.campaign)).await;
    assert_eq!(again["towns"], july["towns"]);
    let year_end = report(&app, &admin, &format!("campaign={}&as_of=2016-12-31", s.campaign)).await;
    let now = report(&app, &admin, &format!("campaign={}", s.campaign)).await;
    assert_eq!(now["reconstructed"], false);
    for code in [A, B] {
        for key in ["cases_by_source", "cases_total", "open", "on_ledger", "investigation"] {
            assert_eq!(town(&year_end, code)[key], town(&now, code)[key], "{code} {key}");
        }
    }
}

#[tokio::test]
async fn csv_and_html_forms_of_the_same_report() {
    let app = TestApp::spawn_demo().await;
    let s = seed(&app).await;
    let admin = app.token("admin").await;
    let url = app.url(&format!("/api/v1/reports/progress.csv?campaign={}&as_of=2016-06-30", s.campaign));
    let resp = app.client.get(&url).bearer_auth(&admin).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    assert!(resp.headers()["content-disposition"].to_str().unwrap().contains("progress-2016-06-30.csv"));
    let bytes = resp.bytes().await.unwrap();
    assert_eq!(&bytes[..3], b"\xEF\xBB\xBF", "UTF-8 byte-order mark for Excel");
    let text = std::str::from_utf8(&bytes[3..]).unwrap();
    let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
    let (_, towns) = app.get("/api/v1/towns", Some(&admin)).await;
    assert_eq!(lines.len(), 1 + towns.as_array().unwrap().len() + 1, "header, one row per town, the district");
    assert!(lines[0].starts_with("as_of 截至,town_code 街镇代码,town 街镇,cases 案件"));
    let haibin: Vec<&str> = lines.iter().find(|l| l.contains("海滨街道")).unwrap().split(',').collect();
    assert_eq!(&haibin[..13], &["2016-06-30", A, "海滨街道", "5", "2", "5", "1", "0", "1", "30", "4", "75.0", "25.0"]);
    assert!(lines.last().unwrap().contains("全区 district"));
    // Same through ?format=csv.
    let (status, _) =
        app.get(&format!("/api/v1/reports/progress?campaign={}&format=csv", s.campaign), Some(&admin)).await;
    assert_eq!(status, 200);

    let html = app
        .client
        .get(app.url(&format!("/api/v1/reports/progress.html?campaign={}&as_of=2016-06-30", s.campaign)))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert!(html.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let page = html.text().await.unwrap();
    assert!(page.starts_with("<!doctype html>"));
    assert!(page.contains("海滨街道") && page.contains("T-SAT2") && page.contains("not_met"));
    assert!(page.contains("@media print"));
    // A link a browser opens by itself carries the token in the query; nothing keeps a copy.
    let link = app
        .url(&format!("/api/v1/reports/progress.html?campaign={}&as_of=2016-06-30&access_token={admin}", s.campaign));
    let resp = app.client.get(&link).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["cache-control"], "private, no-store");
    assert_eq!(resp.headers()["referrer-policy"], "no-referrer");
    assert_eq!(resp.text().await.unwrap().replace(char::is_numeric, ""), page.replace(char::is_numeric, ""));
    let forged = app.url("/api/v1/reports/progress.csv?access_token=not-a-token");
    assert_eq!(app.client.get(&forged).send().await.unwrap().status(), 401);
    assert_eq!(app.client.get(app.url("/api/v1/reports/progress.csv")).send().await.unwrap().status(), 401);
}

#[tokio::test]
async fn scope_and_bad_input() {
    let app = TestApp::spawn_demo().await;
    let s = seed(&app).await;
    let officer = app.token(&format!("officer-{A}")).await;
    let q = format!("campaign={}&as_of=2016-06-30", s.campaign);
    // A town officer gets the own town only, no district.
    let own = report(&app, &officer, &q).await;
    assert_eq!(own["towns"].as_array().unwrap().len(), 1);
    assert_eq!(own["towns"][0]["town"]["code"], A);
    assert!(own["district"].is_null());
    assert_error(
        &app.get(&format!("/api/v1/reports/progress?{q}&town={B}"), Some(&officer)).await,
        403,
        "out_of_scope",
    );
    let inspector = app.token("inspector").await;
    assert_error(&app.get(&format!("/api/v1/reports/progress?{q}"), Some(&inspector)).await, 403, "forbidden");
    assert_error(&app.get("/api/v1/reports/progress", None).await, 401, "unauthenticated");
    let admin = app.token("admin").await;
    let bad = |query: String| {
        let (app, admin) = (&app, &admin);
        async move { app.get(&format!("/api/v1/reports/progress?{query}"), Some(admin)).await }
    };
    assert_error(&bad(format!("campaign={}", Uuid::now_v7())).await, 404, "unknown_campaign");
    assert_error(&bad("campaign=2017".into()).await, 400, "invalid_query");
    assert_error(&bad("as_of=yesterday".into()).await, 400, "invalid_query");
    assert_error(&bad("as_of=2016-02-30".into()).await, 400, "invalid_query");
    assert_error(&bad("as_of=2999-01-01".into()).await, 400, "invalid_query");
    assert_error(&bad("format=xml".into()).await, 400, "invalid_query");
    assert_error(&bad("town=999".into()).await, 422, "unknown_town");
    // A day before the campaign has no report: the period would end before it starts.
    let early = bad(format!("campaign={}&as_of=2015-12-31", s.campaign)).await;
    assert_error(&early, 400, "invalid_query");
    assert_eq!(early.1["error"]["details"]["field"], "as_of");
    // Without a campaign: the one covering as_of.
    let r = report(&app, &admin, "as_of=2016-06-30").await;
    assert_eq!(r["campaign"]["id"], s.campaign.as_str());
}

#[tokio::test]
async fn the_geojson_export_carries_the_report_fields_within_scope() {
    let app = TestApp::spawn_demo().await;
    let s = seed(&app).await;
    let admin = app.token("admin").await;
    let (status, doc) = app.get(&format!("/api/v1/cases.geojson?campaign={}", s.campaign), Some(&admin)).await;
    assert_eq!(status, 200, "{doc}");
    let features = doc["features"].as_array().unwrap();
    let by_number =
        |n: &str| features.iter().find(|f| f["properties"]["case_number"] == n).unwrap()["properties"].clone();
    let sat1 = by_number("T-SAT1");
    assert_eq!(sat1["registered_on"], "2016-03-10");
    assert_eq!(sat1["rectified_on"], "2016-05-20");
    assert_eq!(sat1["accepted_on"], "2016-06-10");
    assert_eq!(sat1["closed_on"], "2016-06-20");
    assert!(sat1["days_overdue"].is_null(), "a closed case is not overdue");
    assert_eq!(sat1["campaign_name"], "2016 test campaign");
    let sat2 = by_number("T-SAT2");
    let expected = (landpatrol_server::cases::store::local_today()
        - chrono::NaiveDate::from_ymd_opt(2016, 5, 31).unwrap())
    .num_days();
    assert_eq!(sat2["days_overdue"], expected);
    assert_eq!(sat2["overdue"], true);
    assert!(sat2["closed_on"].is_null());
    let leg2 = by_number("T-LEG2");
    assert_eq!(leg2["disciplinary_actions"], "警告 warning", "arrays become one text column for GIS");
    assert_eq!(leg2["disciplinary_action_count"], 1);
    assert_eq!(leg2["confiscated_gains_fen"], 500000);
    assert_eq!(leg2["town_code"], B);
    // A town officer gets the own town only.
    let officer = app.token(&format!("officer-{B}")).await;
    let (_, own) = app.get(&format!("/api/v1/cases.geojson?campaign={}", s.campaign), Some(&officer)).await;
    let codes: Vec<&str> =
        own["features"].as_array().unwrap().iter().map(|f| f["properties"]["town_code"].as_str().unwrap()).collect();
    assert_eq!(codes.len(), 2, "{own}");
    assert!(codes.iter().all(|c| *c == B));
}

#[tokio::test]
async fn land_records_feed_the_report_and_its_targets() {
    // The demo's 2017 land records: approvals in 海滨 62.5% supplied and in 周良
    // 40% by the end of the year; a 周良 village project missing three steps.
    let app = TestApp::spawn_demo().await;
    let admin = app.token("admin").await;
    let r = report(&app, &admin, "as_of=2017-12-31").await;
    assert_eq!(r["campaign"]["id"], landpatrol_server::demo::CAMPAIGN_2017.to_string());
    let a = town(&r, A);
    assert_eq!(a["supply"]["approved_area_m2"], 40000.0);
    assert_eq!(a["supply"]["supplied_area_m2"], 25000.0);
    assert_eq!(a["supply"]["rate"], 0.625);
    let supply = target(a, "supply rate");
    assert_eq!(supply["state"], "met", "62.5% ≥ 60% at the end of the year: {supply}");
    let b = town(&r, B);
    assert_eq!(b["supply"]["rate"], 0.4);
    assert_eq!(target(b, "supply rate")["state"], "not_met");
    assert_eq!(b["five_in_place"]["projects_missing_steps"], 1);
    let missing = b["five_in_place"]["projects"][0]["missing"].as_array().unwrap();
    assert_eq!(missing.len(), 3, "{b}");
    assert_eq!(a["five_in_place"]["projects_missing_steps"], 0);
    // District supply: 35,000 of 65,000 m².
    assert_eq!(r["district"]["supply"]["supplied_area_m2"], 35000.0);
    assert_eq!(r["district"]["five_in_place"]["projects_missing_steps"], 1);
    // Mid-year the supply target is judged on pace: 海滨 had 12,000 of 40,000 m² by June.
    let june = report(&app, &admin, "as_of=2017-06-30").await;
    let a = town(&june, A);
    assert_eq!(a["supply"]["supplied_area_m2"], 12000.0);
    assert_eq!(target(a, "supply rate")["state"], "at_risk");

    // Idle land, by hand: 海滨 001 idle 03-01 (12,000 m²), 003 idle 01-15 and disposed 05-20 (3,000 m²);
    // 周良 004 idle 04-01 (20,000 m²), 005 idle 11-01 (5,000 m²). More became idle than were disposed.
    let idle = |r: &Value, code: &str| {
        let b = &town(r, code)["idle_land"];
        (b["newly_idle"].as_i64().unwrap(), b["disposed"].as_i64().unwrap(), b["idle_at_end"].as_i64().unwrap())
    };
    assert_eq!(idle(&r, A), (2, 1, 1));
    assert_eq!(town(&r, A)["idle_land"]["idle_area_at_end_m2"], 12000.0);
    assert_eq!(idle(&r, B), (2, 0, 2));
    assert_eq!(r["district"]["idle_land"]["newly_idle"], 4);
    assert_eq!(target(town(&r, A), "idle land")["state"], "not_met");
    // In May, before the disposal: 海滨 had two idle parcels; the day after, one.
    let may19 = report(&app, &admin, "as_of=2017-05-19").await;
    assert_eq!(idle(&may19, A), (2, 0, 2));
    let may20 = report(&app, &admin, "as_of=2017-05-20").await;
    assert_eq!(idle(&may20, A), (2, 1, 1));
    assert_eq!(target(town(&may20, A), "idle land")["state"], "at_risk", "one disposed, two newly idle");
    // The sweep opened an idle_land case for each, on the day it found it: 001 on 03-01, 004 on 04-01.
    let idle_cases = |r: &Value| r["district"]["cases_by_source"]["idle_land"]["total"].as_i64().unwrap();
    let (feb28, mar1) =
        (report(&app, &admin, "as_of=2017-02-28").await, report(&app, &admin, "as_of=2017-03-01").await);
    let (mar31, apr1) =
        (report(&app, &admin, "as_of=2017-03-31").await, report(&app, &admin, "as_of=2017-04-01").await);
    assert_eq!(idle_cases(&mar1) - idle_cases(&feb28), 1);
    assert_eq!(idle_cases(&apr1) - idle_cases(&mar31), 3, "004's, and two the office entered that day");
}

/// Land records entered or changed after a report's day, even with business
/// dates inside it, leave that day's report as it was: last month's report
/// is reproduced exactly. Today's report shows them.
#[tokio::test]
async fn a_past_report_is_reproduced_exactly_after_later_entries() {
    let app = TestApp::spawn_demo().await;
    let admin = app.token("admin").await;
    let strip = |mut r: Value| {
        r.as_object_mut().unwrap().remove("generated_at");
        r
    };
    let before = strip(report(&app, &admin, "as_of=2017-12-31").await);
    let csv_before = text(&app, &admin, "/api/v1/reports/progress.csv?as_of=2017-12-31").await;

    // Now, in 2026, the bureau records things dated 2017:
    // a supply of 5,000 m² in 周良 on 2017-12-01 and a larger approved area;
    let (_, list) = app.get(&format!("/api/v1/approvals?town={B}"), Some(&admin)).await;
    let zl = list["items"][0]["id"].as_str().unwrap().to_owned();
    let (status, body) = app
        .post(
            &format!("/api/v1/approvals/{zl}/supplies"),
            Some(&admin),
            json!({"supplied_on": "2017-12-01", "area_m2": 5000.0}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) =
        app.patch(&format!("/api/v1/approvals/{zl}"), Some(&admin), json!({"approved_area_m2": 26000.0})).await;
    assert_eq!(status, 200, "{body}");
    // the disposal of 海滨's idle parcel 001 on 2017-12-15, and a corrected area;
    let (_, parcels) = app.get(&format!("/api/v1/parcels?town={A}&status=idle"), Some(&admin)).await;
    let p = parcels["items"][0]["id"].as_str().unwrap().to_owned();
    let (status, body) = app
        .post(
            &format!("/api/v1/parcels/{p}/disposals"),
            Some(&admin),
            json!({"kind": "fee_collected", "disposed_on": "2017-12-15", "fee_fen": 1_000_000}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = app.patch(&format!("/api/v1/parcels/{p}"), Some(&admin), json!({"area_m2": 12500.0})).await;
    assert_eq!(status, 200, "{body}");
    // a village project of 2017 with none of its steps.
    let (status, body) = app
        .post(
            "/api/v1/projects",
            Some(&admin),
            json!({"name": "补录项目", "village": "东刘庄村", "town": A,
                   "location": {"lon": 117.2951, "lat": 39.7335}, "planned_start": "2017-05-01", "planned_end": "2017-10-31"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");

    let after = strip(report(&app, &admin, "as_of=2017-12-31").await);
    assert_eq!(after, before, "the 2017 year-end report is the one read out then");
    assert_eq!(text(&app, &admin, "/api/v1/reports/progress.csv?as_of=2017-12-31").await, csv_before);

    // Today's report of the same campaign counts them (its period ends 2017-12-31).
    let now = report(&app, &admin, "").await;
    assert_eq!(town(&now, B)["supply"]["supplied_in_period_m2"], 15000.0);
    assert_eq!(town(&now, B)["supply"]["approved_area_m2"], 26000.0);
    assert_eq!(town(&now, A)["idle_land"]["disposed"], 2);
    assert_eq!(town(&now, A)["five_in_place"]["projects_missing_steps"], 1);
}

#[tokio::test]
async fn the_demo_has_a_2017_history_that_past_reports_show() {
    let app = TestApp::spawn_demo().await;
    let admin = app.token("admin").await;
    let now = report(&app, &admin, "").await;
    let year_end = report(&app, &admin, "as_of=2017-12-31").await;
    assert_eq!(now["campaign"]["id"], landpatrol_server::demo::CAMPAIGN_2017.to_string());
    assert_eq!(
        year_end["district"]["cases_by_source"], now["district"]["cases_by_source"],
        "2017 ended as things stand"
    );
    // The legacy 彩钢房 case found on 2017-02-10 was only reported then, rectified later.
    let feb = report(&app, &admin, "as_of=2017-02-10").await;
    assert_eq!(feb["district"]["cases_total"], 2, "{}", feb["district"]);
    assert_eq!(feb["district"]["cases_by_source"]["legacy"], json!({"reported": 1, "total": 1}));
    // Idle parcel 003, found by the sweep on 2017-01-15.
    assert_eq!(feb["district"]["cases_by_source"]["idle_land"], json!({"reported": 1, "total": 1}));
    assert_eq!(year_end["district"]["cases_by_source"]["legacy"]["rectified"], 1);
    let march = report(&app, &admin, "as_of=2017-03-31").await;
    let total = |r: &Value| r["district"]["cases_total"].as_i64().unwrap();
    assert!(total(&feb) < total(&march) && total(&march) <= total(&year_end));
    // The page and the spreadsheet of the demo report.
    let csv = text(&app, &admin, "/api/v1/reports/progress.csv?as_of=2017-12-31").await;
    assert!(csv.starts_with('\u{feff}') && csv.contains("海滨街道") && csv.contains("全区 district"));
    // The land columns of 海滨 at the end of 2017: two parcels newly idle, one disposed, one idle (12,000 m²);
    // 25,000 of 40,000 m² supplied (62.5%); no project missing a step.
    let rows: Vec<Vec<&str>> =
        csv.trim_start_matches('\u{feff}').split("\r\n").map(|l| l.split(',').collect()).collect();
    let col = |name: &str| rows[0].iter().position(|h| h.starts_with(name)).unwrap_or_else(|| panic!("{name}"));
    let haibin = rows.iter().find(|r| r.get(2) == Some(&"海滨街道")).unwrap();
    let land: Vec<&str> = [
        "newly_idle",
        "idle_disposed",
        "idle_at_end ",
        "idle_area_at_end_m2",
        "supply_due_m2",
        "supplied_in_period_m2",
        "supply_rate_%",
        "five_in_place_gaps",
    ]
    .iter()
    .map(|c| haibin[col(c)])
    .collect();
    assert_eq!(land, ["2", "1", "1", "12000", "40000", "25000", "62.5", "0"]);
    let page = text(&app, &admin, "/api/v1/reports/progress.html?as_of=2017-12-31").await;
    assert!(page.contains("五到位缺项") && page.contains("小周庄村卫生室"), "the project missing steps is listed");
    // The two supply rates are labelled apart; a town with nothing to count shows 0, never a blank.
    assert!(page.contains("本期供地率") && page.contains("累计供地率"), "both supply rates are named");
    assert!(!page.contains("<td></td>") && !page.contains("<td>–</td>"), "no blank cells");
    assert!(page.contains("北京时间 (UTC+08:00"), "the time in the bureau's zone");
    assert!(page.contains("WenQuanYi Zen Hei"), "a CJK font stack");
    // hide_empty leaves out the towns with nothing to report; the district still counts them.
    let all = report(&app, &admin, "as_of=2017-12-31").await;
    let some = report(&app, &admin, "as_of=2017-12-31&hide_empty=true").await;
    let (n_all, n_some) = (all["towns"].as_array().unwrap().len(), some["towns"].as_array().unwrap().len());
    assert!(n_some < n_all && n_some > 0, "{n_some} of {n_all} towns have something to report");
    assert!(some["towns"].as_array().unwrap().iter().any(|t| t["town"]["code"] == "120115001"));
    assert_eq!(some["district"], all["district"]);
    let page = text(&app, &admin, "/api/v1/reports/progress.html?as_of=2017-12-31&hide_empty=true").await;
    assert!(page.contains("海滨街道") && !page.contains("大唐庄镇"), "an empty town is left out of the page");
}
