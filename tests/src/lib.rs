//! Test harness: each test gets its own server on a random port, its own data
//! folder and its own database — SQLite by default, or a fresh PostgreSQL
//! database (dropped afterwards) when `LANDPATROL_TEST_POSTGRES` is set to a
//! server URL such as `postgres://postgres@127.0.0.1:5432`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod ledger;
pub mod live;
pub mod s3;
pub mod sim;
pub mod tus;

use landpatrol_server::config::Settings;
use landpatrol_server::startup::Application;
use landpatrol_server::state::AppState;
use reqwest::StatusCode;
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

/// The password of every demo user.
pub const DEMO_PASSWORD: &str = landpatrol_server::demo::PASSWORD;

/// The PostgreSQL server to test against, if any.
pub fn postgres_base() -> Option<String> {
    std::env::var("LANDPATROL_TEST_POSTGRES")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.trim_end_matches('/').to_owned())
}

/// A database of its own for one test: a SQLite file in a temp folder, or a
/// fresh PostgreSQL database dropped when this is dropped.
pub struct TestDb {
    pub url: String,
    pub dir: tempfile::TempDir,
    pg: Option<(String, String)>,
}

impl TestDb {
    pub async fn new() -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        match postgres_base() {
            Some(base) => {
                let (name, url) = create_pg_database(&base).await;
                TestDb { url, dir, pg: Some((base, name)) }
            }
            None => {
                let url = format!("sqlite://{}?mode=rwc", dir.path().join("cli.db").display());
                TestDb { url, dir, pg: None }
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((base, name)) = self.pg.take() {
            drop_pg_database(base, name);
        }
    }
}

fn drop_pg_database(base: String, name: String) {
    // Pools still open on this database belong to runtimes that are going
    // away: do not touch them; FORCE ends them on the server side.
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async move {
            if let Ok(admin) = sea_orm::Database::connect(format!("{base}/postgres")).await {
                admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await.ok();
                admin.close().await.ok();
            }
        });
    })
    .join()
    .ok();
}

/// A running test server.
pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub state: AppState,
    handle: actix_web::dev::ServerHandle,
    _dir: tempfile::TempDir,
    pg_database: Option<(String, String)>,
}

async fn create_pg_database(base: &str) -> (String, String) {
    let name = format!("lp_test_{}", uuid::Uuid::new_v4().simple());
    let admin = sea_orm::Database::connect(format!("{base}/postgres"))
        .await
        .unwrap_or_else(|e| panic!("LANDPATROL_TEST_POSTGRES is set but PostgreSQL at {base} is unreachable: {e}"));
    admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await.expect("create test database");
    admin.close().await.ok();
    (name.clone(), format!("{base}/{name}"))
}

/// Quiet background work (sweeps hourly) and a fast outbox (retries within
/// a second, polled every 100 ms, 2 s timeout), for tests that count alerts
/// and deliveries.
pub fn quick_alerts(s: &mut Settings) {
    s.alerts.sweep_interval_secs = 3600;
    s.alerts.retry_base_ms = 100;
    s.alerts.retry_max_delay_secs = 1;
    s.alerts.outbox_poll_ms = 100;
    s.alerts.webhook_timeout_secs = 2;
}

/// A server for a benchmark or simulation binary: two workers, quiet logs,
/// the alert sweeps hourly (not in the measured minutes), the demo data
/// loaded. With the name of the database it runs on.
pub async fn bench_app() -> (TestApp, &'static str) {
    let db = if postgres_base().is_some() { "PostgreSQL" } else { "SQLite" };
    let app = TestApp::spawn_with(|s| {
        s.server.workers = 2;
        s.log.level = "warn".into();
        s.alerts.sweep_interval_secs = 3600;
        // The benches' webhook receivers listen on loopback.
        s.webhooks.allow_private_networks = true;
    })
    .await;
    landpatrol_server::demo::load(&app.state).await.expect("demo data loaded");
    (app, db)
}

impl TestApp {
    /// An empty, migrated server.
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    /// A server with the demo data loaded.
    pub async fn spawn_demo() -> TestApp {
        let app = Self::spawn().await;
        landpatrol_server::demo::load(&app.state).await.expect("demo data loads");
        app
    }

    /// A server with adjusted settings and the demo data loaded.
    pub async fn spawn_demo_with(adjust: impl FnOnce(&mut Settings)) -> TestApp {
        let app = Self::spawn_with(adjust).await;
        landpatrol_server::demo::load(&app.state).await.expect("demo data loads");
        app
    }

    /// A server with adjusted settings.
    pub async fn spawn_with(adjust: impl FnOnce(&mut Settings)) -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut settings = Settings::defaults().expect("default settings");
        settings.server.addr = "127.0.0.1:0".parse().unwrap();
        settings.server.workers = 1;
        settings.storage.data_dir = dir.path().to_path_buf();
        settings.auth.jwt_secret = "test-secret-test-secret-test-secret-0123".into();
        let pg_database = match postgres_base() {
            Some(base) => {
                let (name, url) = create_pg_database(&base).await;
                settings.database.url = url;
                settings.database.max_connections = 5;
                Some((base, name))
            }
            None => None,
        };
        adjust(&mut settings);
        let app = Application::build(settings).await.expect("application builds");
        let base = format!("http://127.0.0.1:{}", app.port());
        let state = app.state().clone();
        let handle = app.handle();
        tokio::spawn(app.run_until_stopped());
        TestApp { base, client: reqwest::Client::new(), state, handle, _dir: dir, pg_database }
    }

    /// A second server instance on the same database and data folder, as
    /// behind a load balancer.
    pub async fn second_instance(&self) -> TestApp {
        let mut settings = (*self.state.settings).clone();
        settings.server.addr = "127.0.0.1:0".parse().unwrap();
        let app = Application::build(settings).await.expect("second instance builds");
        let base = format!("http://127.0.0.1:{}", app.port());
        let state = app.state().clone();
        let handle = app.handle();
        tokio::spawn(app.run_until_stopped());
        let dir = tempfile::tempdir().expect("temp dir");
        TestApp { base, client: reqwest::Client::new(), state, handle, _dir: dir, pg_database: None }
    }

    /// Another instance on the same database with a data folder of its own
    /// (no disk shared with this one: photos must be in a shared bucket), as
    /// a second machine behind a load balancer.
    pub async fn instance_elsewhere(&self) -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut settings = (*self.state.settings).clone();
        settings.server.addr = "127.0.0.1:0".parse().unwrap();
        settings.database.url = self.state.settings.database_url();
        settings.storage.data_dir = dir.path().to_path_buf();
        let app = Application::build(settings).await.expect("another instance builds");
        let base = format!("http://127.0.0.1:{}", app.port());
        let state = app.state().clone();
        let handle = app.handle();
        tokio::spawn(app.run_until_stopped());
        TestApp { base, client: reqwest::Client::new(), state, handle, _dir: dir, pg_database: None }
    }

    /// Stops the server and its background work (webhook deliveries in
    /// flight end too), as a crash would; the database stays.
    pub async fn stop(&self) {
        self.handle.stop(false).await;
        // The background tasks end when `run_until_stopped` returns.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Logs in and returns the access token.
    pub async fn token(&self, username: &str) -> String {
        let (status, body) = self.login(username, DEMO_PASSWORD, None).await;
        assert_eq!(status, StatusCode::OK, "login {username}: {body}");
        body["access_token"].as_str().unwrap().to_owned()
    }

    /// Registers a new device for `user` and logs in bound to it: (access token, device id).
    pub async fn device_session(&self, user: &str) -> (String, String) {
        let token = self.token(user).await;
        let device = uuid::Uuid::now_v7().to_string();
        let (status, body) = self
            .post(
                "/api/v1/devices",
                Some(&token),
                json!({"device_id": device, "name": "phone", "platform": "android", "app_version": "1"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "register device: {body}");
        let (status, pair) = self.login(user, DEMO_PASSWORD, Some(&device)).await;
        assert_eq!(status, StatusCode::OK, "login on device: {pair}");
        (pair["access_token"].as_str().unwrap().to_owned(), device)
    }

    /// `POST /auth/login`.
    pub async fn login(&self, username: &str, password: &str, device: Option<&str>) -> (StatusCode, Value) {
        self.post("/api/v1/auth/login", None, json!({"username": username, "password": password, "device_id": device}))
            .await
    }

    async fn send(&self, req: reqwest::RequestBuilder, token: Option<&str>) -> (StatusCode, Value) {
        let req = match token {
            Some(t) => req.bearer_auth(t),
            None => req,
        };
        let resp = req.send().await.expect("request sent");
        let status = resp.status();
        let text = resp.text().await.expect("body read");
        let body =
            if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        (status, body)
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        self.send(self.client.get(self.url(path)), token).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (StatusCode, Value) {
        self.send(self.client.post(self.url(path)).json(&body), token).await
    }

    pub async fn patch(&self, path: &str, token: Option<&str>, body: Value) -> (StatusCode, Value) {
        self.send(self.client.patch(self.url(path)).json(&body), token).await
    }

    /// One sync pull page of one table, from `cursor` (the start when `None`); asserts `200`.
    pub async fn pull_table(&self, token: &str, table: &str, cursor: Option<&str>) -> Value {
        let body = serde_json::json!({"cursor": cursor, "tables": [table], "limit": 5000});
        let (status, page) = self.post("/api/v1/sync/pull", Some(token), body).await;
        assert_eq!(status, 200, "{page}");
        page
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        self.send(self.client.delete(self.url(path)), token).await
    }

    /// Sends a raw body with a content type, for malformed-input tests.
    pub async fn raw(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        content_type: &str,
        body: Vec<u8>,
    ) -> (StatusCode, Value) {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let req = self.client.request(m, self.url(path)).header("content-type", content_type).body(body);
        self.send(req, token).await
    }

    /// Row counts of every table that a refused request must leave alone.
    pub async fn fingerprint(&self) -> Vec<(String, i64)> {
        let mut out = Vec::new();
        for table in [
            "cases",
            "case_events",
            "inspections",
            "observations",
            "users",
            "devices",
            "towns",
            "campaigns",
            "refresh_tokens",
            "feed_tokens",
            "photos",
            "photo_links",
            "uploads",
            "alerts",
            "webhooks",
            "webhook_deliveries",
            "tips",
            "parcels",
            "parcel_disposals",
            "land_changes",
            "approvals",
            "approval_supplies",
            "village_projects",
            "project_steps",
        ] {
            let row = self
                .state
                .db
                .query_one_raw(sea_orm::Statement::from_string(
                    self.state.db.get_database_backend(),
                    format!("SELECT COUNT(*) FROM {table}"),
                ))
                .await
                .unwrap()
                .unwrap();
            let n: i64 = row.try_get_by_index(0).unwrap();
            out.push((table.to_owned(), n));
        }
        let row = self
            .state
            .db
            .query_one_raw(sea_orm::Statement::from_string(
                self.state.db.get_database_backend(),
                "SELECT CAST((SELECT value FROM sync_counters WHERE name = 'changes') + (SELECT COALESCE(SUM(rev), 0) FROM cases) + (SELECT COALESCE(SUM(rev), 0) FROM parcels) AS BIGINT)",
            ))
            .await
            .unwrap()
            .unwrap();
        out.push(("seq+revs".into(), row.try_get_by_index::<i64>(0).unwrap()));
        out
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
        if let Some((base, name)) = self.pg_database.take() {
            drop_pg_database(base, name);
        }
    }
}

/// Asserts the error code of an error response.
#[track_caller]
pub fn assert_error(resp: &(StatusCode, Value), status: u16, code: &str) {
    assert_eq!(resp.0.as_u16(), status, "expected {status} {code}, got {}: {}", resp.0, resp.1);
    assert_eq!(resp.1["error"]["code"], code, "body: {}", resp.1);
    assert!(resp.1["error"]["message"].is_string(), "body: {}", resp.1);
}

/// The id of a demo town by code.
pub fn town_id(code: &str) -> String {
    landpatrol_sync::TownId::from_code(code).to_string()
}

/// The folder of real photo fixtures (copied into the project with their licences).
pub fn photo_fixtures() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../photo/tests/fixtures")
}

/// A photo fixture's bytes.
pub fn photo_fixture(name: &str) -> Vec<u8> {
    std::fs::read(photo_fixtures().join(name)).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

/// SHA-256 in lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

impl TestApp {
    /// `PUT /photos/{sha256}` with the bytes' own hash.
    pub async fn put_photo(&self, token: &str, bytes: &[u8]) -> (StatusCode, Value) {
        self.put_photo_as(token, &sha256_hex(bytes), bytes).await
    }

    /// `PUT /photos/{sha256}` under a given hash.
    pub async fn put_photo_as(&self, token: &str, sha: &str, bytes: &[u8]) -> (StatusCode, Value) {
        let req = self
            .client
            .put(self.url(&format!("/api/v1/photos/{sha}")))
            .header("content-type", "image/jpeg")
            .body(bytes.to_vec());
        self.send(req, Some(token)).await
    }

    /// Waits until the photo's thumbnails are no longer pending; returns the photo.
    pub async fn settled_photo(&self, token: &str, sha: &str) -> Value {
        for _ in 0..300 {
            let (status, body) = self.get(&format!("/api/v1/photos/{sha}"), Some(token)).await;
            assert_eq!(status, 200, "{body}");
            if body["thumbnail"] != "pending" {
                return body;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("thumbnails of {sha} still pending after 30 s");
    }
}
