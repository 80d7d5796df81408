//! Roles and territorial scope, endpoint by endpoint: a town officer never sees
//! or changes another town's data; every protected endpoint needs a token.

use landpatrol_tests::{DEMO_PASSWORD, TestApp, assert_error};
use serde_json::json;

const HAIBIN: (f64, f64) = (117.295129, 39.733503); // 120115001
const ZHOULIANG: (f64, f64) = (117.341136, 39.557182); // 120115006

async fn case_at(app: &TestApp, token: &str, p: (f64, f64)) -> String {
    let (status, c) =
        app.post("/api/v1/cases", Some(token), json!({"source": "legacy", "location": {"lon": p.0, "lat": p.1}})).await;
    assert_eq!(status, 201, "{c}");
    c["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_town_officer_never_sees_or_changes_another_towns_case() {
    let app = TestApp::spawn_demo().await;
    let admin = app.token("admin").await;
    let officer = app.token("officer-120115001").await;
    let own = case_at(&app, &admin, HAIBIN).await;
    let other = case_at(&app, &admin, ZHOULIANG).await;
    let before = app.fingerprint().await;

    // Reads: another town's case does not exist for this officer.
    assert_error(&app.get(&format!("/api/v1/cases/{other}"), Some(&officer)).await, 404, "not_found");
    assert_error(&app.get(&format!("/api/v1/cases/{other}/history"), Some(&officer)).await, 404, "not_found");
    assert_error(&app.get(&format!("/api/v1/cases/{other}/inspections"), Some(&officer)).await, 404, "not_found");
    // Writes: refused the same way, and nothing changes.
    assert_error(
        &app.patch(&format!("/api/v1/cases/{other}"), Some(&officer), json!({"fields": {"address": "x"}})).await,
        404,
        "not_found",
    );
    assert_error(
        &app.post(
            &format!("/api/v1/cases/{other}/transitions"),
            Some(&officer),
            json!({"from": "reported", "to": "registered"}),
        )
        .await,
        404,
        "not_found",
    );
    assert_error(
        &app.post(
            &format!("/api/v1/cases/{other}/reassign"),
            Some(&officer),
            json!({"town": "120115001", "note": "mine now"}),
        )
        .await,
        404,
        "not_found",
    );
    assert_error(
        &app.post(
            &format!("/api/v1/cases/{other}/inspections"),
            Some(&officer),
            json!({"kind": "patrol", "note": "x"}),
        )
        .await,
        404,
        "not_found",
    );
    // Creating a case that routes into another town.
    assert_error(
        &app.post(
            "/api/v1/cases",
            Some(&officer),
            json!({"source": "legacy", "location": {"lon": ZHOULIANG.0, "lat": ZHOULIANG.1}}),
        )
        .await,
        403,
        "out_of_scope",
    );
    // Moving an own case's location into another town.
    assert_error(
        &app.patch(
            &format!("/api/v1/cases/{own}"),
            Some(&officer),
            json!({"fields": {"location": {"lon": ZHOULIANG.0, "lat": ZHOULIANG.1}}}),
        )
        .await,
        403,
        "out_of_scope",
    );
    // Lists and exports: filtered to the town; asking for another town is refused.
    assert_error(&app.get("/api/v1/cases?town=120115006", Some(&officer)).await, 403, "out_of_scope");
    assert_error(&app.get("/api/v1/cases.geojson?town=120115006", Some(&officer)).await, 403, "out_of_scope");
    let (_, list) = app.get("/api/v1/cases?limit=500", Some(&officer)).await;
    let items = list["items"].as_array().unwrap();
    assert!(items.iter().any(|c| c["id"] == own.as_str()));
    assert!(items.iter().all(|c| c["town"]["code"] == "120115001"), "{list}");
    let (_, geo) = app.get("/api/v1/cases.geojson", Some(&officer)).await;
    assert!(geo["features"].as_array().unwrap().iter().all(|f| f["properties"]["town_code"] == "120115001"));
    assert_eq!(app.fingerprint().await, before, "nothing changed");

    // The own case works.
    assert_eq!(app.get(&format!("/api/v1/cases/{own}"), Some(&officer)).await.0, 200);
    // The other town's officer sees the other case.
    let other_officer = app.token("officer-120115006").await;
    assert_eq!(app.get(&format!("/api/v1/cases/{other}"), Some(&other_officer)).await.0, 200);
}

#[tokio::test]
async fn an_inspector_with_patrol_towns_sees_only_those() {
    let app = TestApp::spawn_demo().await;
    let admin = app.token("admin").await;
    let (status, u) = app
        .post(
            "/api/v1/users",
            Some(&admin),
            json!({"username": "patrol-haibin", "password": DEMO_PASSWORD, "role": "inspector", "patrol_towns": ["120115001"]}),
        )
        .await;
    assert_eq!(status, 201, "{u}");
    let inspector = app.token("patrol-haibin").await;
    let other = case_at(&app, &admin, ZHOULIANG).await;
    assert_error(&app.get(&format!("/api/v1/cases/{other}"), Some(&inspector)).await, 404, "not_found");
    let (_, list) = app.get("/api/v1/cases?limit=500", Some(&inspector)).await;
    assert!(!list["items"].as_array().unwrap().is_empty());
    assert!(list["items"].as_array().unwrap().iter().all(|c| c["town"]["code"] == "120115001"));
    // The district-wide demo inspector sees every town and the unassigned queue.
    let district = app.token("inspector").await;
    let (_, all) = app.get("/api/v1/cases?limit=500", Some(&district)).await;
    assert!(all["items"].as_array().unwrap().iter().any(|c| c["town"].is_null()));
}

#[tokio::test]
async fn roles_are_checked_on_every_administrative_endpoint() {
    let app = TestApp::spawn_demo().await;
    let towns_doc = json!({"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"code": "1", "name": "x"},
        "geometry": {"type": "Polygon", "coordinates": [[[118.0, 40.0], [118.1, 40.0], [118.1, 40.1], [118.0, 40.0]]]}}]});
    let campaign = json!({"name": "2018", "starts_on": "2018-01-01", "ends_on": "2018-12-31", "satellite_deadline": "2018-05-31",
        "legacy_deadline": "2018-08-15", "idle_land_deadline": "2018-10-31"});
    let user = json!({"username": "someone", "password": DEMO_PASSWORD, "role": "inspector"});
    let patches = json!({"type": "FeatureCollection", "features": []});
    let mut tokens = Vec::new();
    for who in ["inspector", "verifier", "officer-120115001"] {
        tokens.push(app.token(who).await);
    }
    let (verifier, inspector, officer) = (tokens[1].clone(), tokens[0].clone(), tokens[2].clone());
    let before = app.fingerprint().await;
    for token in &tokens {
        assert_error(&app.post("/api/v1/towns/import", Some(token), towns_doc.clone()).await, 403, "forbidden");
        assert_error(&app.post("/api/v1/cases/import", Some(token), patches.clone()).await, 403, "forbidden");
        assert_error(&app.post("/api/v1/campaigns", Some(token), campaign.clone()).await, 403, "forbidden");
        assert_error(&app.post("/api/v1/users", Some(token), user.clone()).await, 403, "forbidden");
        assert_error(&app.get("/api/v1/users", Some(token)).await, 403, "forbidden");
    }
    assert_error(
        &app.post(
            "/api/v1/cases",
            Some(&verifier),
            json!({"source": "patrol", "location": {"lon": HAIBIN.0, "lat": HAIBIN.1}}),
        )
        .await,
        403,
        "forbidden",
    );
    assert_error(
        &app.post(
            "/api/v1/cases",
            Some(&inspector),
            json!({"source": "satellite", "location": {"lon": HAIBIN.0, "lat": HAIBIN.1}}),
        )
        .await,
        403,
        "forbidden",
    );
    let id = case_at(&app, &officer, HAIBIN).await;
    assert_error(
        &app.post(&format!("/api/v1/cases/{id}/reassign"), Some(&officer), json!({"town": null, "note": "not ours"}))
            .await,
        403,
        "forbidden",
    );
    assert_error(
        &app.post(&format!("/api/v1/cases/{id}/reassign"), Some(&inspector), json!({"town": "120115002", "note": "x"}))
            .await,
        403,
        "forbidden",
    );
    let mut after = app.fingerprint().await;
    // Only the officer's own case was added (one case, one ledger row, its
    // alert, two seqs: case and alert).
    after.iter_mut().for_each(|(k, v)| {
        if k == "cases" || k == "case_events" || k == "alerts" {
            *v -= 1;
        }
        if k == "seq+revs" {
            *v -= 3;
        }
    });
    assert_eq!(after, before);

    let admin = app.token("admin").await;
    let (status, c) = app.post("/api/v1/campaigns", Some(&admin), campaign).await;
    assert_eq!(status, 201, "{c}");
    assert_eq!(c["patrol_days"], 7);
    assert_eq!(app.get("/api/v1/campaigns", Some(&officer)).await.1.as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn every_protected_endpoint_needs_a_token() {
    let app = TestApp::spawn_demo().await;
    let id = uuid::Uuid::now_v7();
    let gets = [
        "/api/v1/auth/me".to_owned(),
        "/api/v1/devices".into(),
        "/api/v1/users".into(),
        "/api/v1/towns".into(),
        "/api/v1/towns/120115001".into(),
        "/api/v1/towns/locate?lon=117.3&lat=39.7".into(),
        "/api/v1/campaigns".into(),
        "/api/v1/cases".into(),
        "/api/v1/cases.geojson".into(),
        format!("/api/v1/cases/{id}"),
        format!("/api/v1/cases/{id}/history"),
        format!("/api/v1/cases/{id}/inspections"),
    ];
    for path in &gets {
        assert_error(&app.get(path, None).await, 401, "unauthenticated");
    }
    let posts = [
        "/api/v1/devices".to_owned(),
        "/api/v1/users".into(),
        "/api/v1/towns/import".into(),
        "/api/v1/campaigns".into(),
        "/api/v1/cases".into(),
        "/api/v1/cases/import".into(),
        format!("/api/v1/cases/{id}/transitions"),
        format!("/api/v1/cases/{id}/reassign"),
        format!("/api/v1/cases/{id}/inspections"),
    ];
    for path in &posts {
        assert_error(&app.post(path, None, json!({})).await, 401, "unauthenticated");
    }
    assert_error(&app.patch(&format!("/api/v1/cases/{id}"), None, json!({"fields": {}})).await, 401, "unauthenticated");
    // The public endpoints need none.
    for path in ["/healthz", "/readyz", "/metrics", "/api/v1/openapi.json"] {
        assert_eq!(app.get(path, None).await.0, 200, "{path}");
    }
}
