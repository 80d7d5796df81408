//! Health, metrics, API docs, and the freshness of the committed OpenAPI document.

use landpatrol_tests::TestApp;

#[tokio::test]
async fn health_readiness_and_metrics() {
    let app = TestApp::spawn().await;
    let (status, body) = app.get("/healthz", None).await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "ok");
    let (status, body) = app.get("/readyz", None).await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "ready");
    app.get("/api/v1/cases", None).await;
    let resp = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    let text = resp.text().await.unwrap();
    assert!(text.contains("# TYPE landpatrol_http_requests_total counter"), "{text}");
    assert!(
        text.contains(r#"landpatrol_http_requests_total{method="GET",route="/api/v1/cases",status="401"} 1"#),
        "{text}"
    );
    assert!(text.contains("landpatrol_http_request_duration_seconds_bucket"));
}

#[tokio::test]
async fn docs_are_served_without_a_cdn() {
    let app = TestApp::spawn().await;
    let resp = app.client.get(app.url("/docs/")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let html = resp.text().await.unwrap();
    assert!(html.contains("swagger"), "swagger ui page");
    assert!(!html.contains("https://"), "no assets from a CDN");
    let resp = app.client.get(app.url("/docs/swagger-ui-bundle.js")).send().await.unwrap();
    assert_eq!(resp.status(), 200, "bundled assets");
    let (status, doc) = app.get("/api/v1/openapi.json", None).await;
    assert_eq!(status, 200);
    assert_eq!(doc["info"]["title"], "landpatrol API");
}

#[test]
fn committed_openapi_document_is_fresh() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../mobile-api-docs");
    let generated = landpatrol_server::openapi::document();
    let errors = landpatrol_server::openapi::errors_markdown();
    if std::env::var("UPDATE_OPENAPI").is_ok() {
        std::fs::write(root.join("openapi.json"), &generated).unwrap();
        std::fs::write(root.join("errors.md"), &errors).unwrap();
    }
    let committed = std::fs::read_to_string(root.join("openapi.json")).unwrap_or_default();
    assert!(
        committed == generated,
        "mobile-api-docs/openapi.json is stale: run `UPDATE_OPENAPI=1 cargo test -p landpatrol-tests committed_openapi` or `landpatrol openapi`"
    );
    let committed = std::fs::read_to_string(root.join("errors.md")).unwrap_or_default();
    assert!(committed == errors, "mobile-api-docs/errors.md is stale");
}

#[test]
fn every_route_is_documented_with_examples() {
    let doc: serde_json::Value = serde_json::from_str(&landpatrol_server::openapi::document()).unwrap();
    let paths = doc["paths"].as_object().unwrap();
    let expected = [
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/metrics", "get"),
        ("/api/v1/auth/login", "post"),
        ("/api/v1/auth/refresh", "post"),
        ("/api/v1/auth/logout", "post"),
        ("/api/v1/auth/me", "get"),
        ("/api/v1/devices", "post"),
        ("/api/v1/devices", "get"),
        ("/api/v1/users", "post"),
        ("/api/v1/users", "get"),
        ("/api/v1/users/{id}", "patch"),
        ("/api/v1/devices/{id}", "delete"),
        ("/api/v1/towns", "get"),
        ("/api/v1/towns/{id}", "get"),
        ("/api/v1/towns/import", "post"),
        ("/api/v1/towns/locate", "get"),
        ("/api/v1/campaigns", "get"),
        ("/api/v1/campaigns", "post"),
        ("/api/v1/cases", "get"),
        ("/api/v1/cases", "post"),
        ("/api/v1/cases.geojson", "get"),
        ("/api/v1/cases/import", "post"),
        ("/api/v1/cases/{id}", "get"),
        ("/api/v1/cases/{id}", "patch"),
        ("/api/v1/cases/{id}/history", "get"),
        ("/api/v1/cases/{id}/transitions", "post"),
        ("/api/v1/cases/{id}/reassign", "post"),
        ("/api/v1/cases/{id}/inspections", "get"),
        ("/api/v1/cases/{id}/inspections", "post"),
        ("/api/v1/sync/push", "post"),
        ("/api/v1/sync/pull", "post"),
        ("/api/v1/sync/watermelon", "get"),
        ("/api/v1/sync/watermelon", "post"),
        ("/api/v1/photos/{sha256}", "head"),
        ("/api/v1/photos/{sha256}", "put"),
        ("/api/v1/photos/{sha256}", "get"),
        ("/api/v1/photos/{sha256}/original", "get"),
        ("/api/v1/photos/{sha256}/thumb", "get"),
        ("/api/v1/uploads", "options"),
        ("/api/v1/uploads", "post"),
        ("/api/v1/uploads/{id}", "head"),
        ("/api/v1/uploads/{id}", "patch"),
        ("/api/v1/uploads/{id}", "delete"),
        ("/api/v1/uploads/{id}", "post"),
        ("/api/v1/reports/progress", "get"),
        ("/api/v1/reports/progress.json", "get"),
        ("/api/v1/reports/progress.csv", "get"),
        ("/api/v1/reports/progress.html", "get"),
        ("/api/v1/alerts", "get"),
        ("/api/v1/alerts/stream", "get"),
        ("/api/v1/alerts/{id}", "get"),
        ("/api/v1/alerts/{id}/ack", "post"),
        ("/api/v1/webhooks", "get"),
        ("/api/v1/webhooks", "post"),
        ("/api/v1/webhooks/{id}", "get"),
        ("/api/v1/webhooks/{id}", "patch"),
        ("/api/v1/webhooks/{id}", "delete"),
        ("/api/v1/webhooks/{id}/deliveries", "get"),
        ("/api/v1/webhook-deliveries", "get"),
        ("/api/v1/webhook-deliveries/{id}/retry", "post"),
        ("/api/v1/tips", "post"),
        ("/api/v1/tips", "get"),
        ("/api/v1/tips/{id}", "get"),
        ("/api/v1/tips/{id}/triage", "post"),
        ("/api/v1/tips/{id}/photos/{sha256}", "get"),
        ("/api/v1/parcels", "post"),
        ("/api/v1/parcels", "get"),
        ("/api/v1/parcels/import", "post"),
        ("/api/v1/parcels/{id}", "get"),
        ("/api/v1/parcels/{id}", "patch"),
        ("/api/v1/parcels/{id}", "delete"),
        ("/api/v1/parcels/{id}/disposals", "post"),
        ("/api/v1/parcels/{id}/disposals", "get"),
        ("/api/v1/approvals", "post"),
        ("/api/v1/approvals", "get"),
        ("/api/v1/approvals/import", "post"),
        ("/api/v1/approvals/{id}", "get"),
        ("/api/v1/approvals/{id}", "patch"),
        ("/api/v1/approvals/{id}", "delete"),
        ("/api/v1/approvals/{id}/supplies", "get"),
        ("/api/v1/approvals/{id}/supplies", "post"),
        ("/api/v1/projects", "post"),
        ("/api/v1/projects", "get"),
        ("/api/v1/projects/{id}", "get"),
        ("/api/v1/projects/{id}/steps", "post"),
        ("/open311/v2/discovery.{format}", "get"),
        ("/open311/v2/services.{format}", "get"),
        ("/open311/v2/services/{service_code}.{format}", "get"),
        ("/open311/v2/requests.{format}", "get"),
        ("/open311/v2/requests.{format}", "post"),
        ("/open311/v2/requests/{service_request_id}.{format}", "get"),
        ("/open311/v2/tokens/{token}.{format}", "get"),
        ("/api/v1/towns.geojson", "get"),
        ("/api/v1/feed-tokens", "post"),
        ("/api/v1/feed-tokens", "get"),
        ("/api/v1/feed-tokens/{id}", "delete"),
        ("/console/session", "post"),
        ("/console/session/refresh", "post"),
        ("/console/session/logout", "post"),
        ("/console/config.json", "get"),
    ];
    for (path, method) in expected {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} missing from the OpenAPI document"
        );
    }
    let count: usize = paths.values().map(|p| p.as_object().unwrap().len()).sum();
    assert_eq!(count, expected.len(), "a route is documented that the test does not know");
    // Every request body has an example, directly or through its schema.
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            if let Some(content) = op.pointer("/requestBody/content/application~1json") {
                let has_example = content.get("example").is_some()
                    || content["schema"]["$ref"]
                        .as_str()
                        .and_then(|r| r.rsplit('/').next())
                        .is_some_and(|name| schemas[name].get("example").is_some());
                assert!(has_example, "{method} {path}: request body without an example");
            }
        }
    }
}
