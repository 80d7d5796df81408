//! Builds the application from explicit settings; used by `main` and by tests.

use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::http::StatusCode;
use actix_web::middleware::{ErrorHandlerResponse, ErrorHandlers, from_fn};
use actix_web::{App, HttpServer, web};
use landpatrol_sync::ErrorCode;
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

use crate::auth::token::{self, Keys};
use crate::config::Settings;
use crate::db::rate_limits::SharedLimits;
use crate::error::{self, ApiError};
use crate::photos::PhotoRuntime;
use crate::photos::storage::{BlobStore, LocalStore, S3Store};
use crate::state::AppState;
use crate::telemetry::{self, Metrics};
use crate::towns::TownCache;
use crate::{auth, campaigns, cases, db, openapi, ops, towns};

/// Why the application could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("data directory {path}: {source}")]
    DataDir { path: String, source: std::io::Error },
    #[error("photo bucket {bucket}: {source}")]
    PhotoStore { bucket: String, source: std::io::Error },
    #[error("database: {0}")]
    Database(#[from] sea_orm::DbErr),
    #[error("listen: {0}")]
    Listen(std::io::Error),
    #[error("{0}")]
    Api(#[from] ApiError),
    #[error("clock: {0}")]
    Clock(String),
}

/// State built from settings: database open and migrated, towns loaded.
pub async fn build_state(settings: Settings) -> Result<AppState, StartupError> {
    let data_dir = settings.storage.data_dir.clone();
    for dir in [data_dir.clone(), settings.photos_dir()] {
        std::fs::create_dir_all(&dir)
            .map_err(|source| StartupError::DataDir { path: dir.display().to_string(), source })?;
    }
    let db = db::connect(&settings.database_url(), settings.database.max_connections).await?;
    let secret = jwt_secret(&settings, &data_dir)?;
    let keys =
        Keys::new(secret.as_bytes(), &settings.auth.issuer, &settings.auth.audience, settings.auth.access_ttl_secs)
            .with_leeway(settings.auth.clock_leeway_secs);
    let towns = TownCache::new(settings.routing.near_boundary_m);
    towns::service::reload(&db, &towns).await?;
    let node = format!("server-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let hlc = landpatrol_sync::HlcClock::new(node).map_err(|e| StartupError::Clock(e.to_string()))?;
    let photos_dir = settings.photos_dir();
    let store: Arc<dyn BlobStore> = if settings.photos.store == "s3" {
        // Staging files stay local (each instance its own); the bucket holds the rest.
        let staging = photos_dir.join("staging");
        Arc::new(
            S3Store::open(&settings.photos, &staging)
                .map_err(|source| StartupError::PhotoStore { bucket: settings.photos.bucket.clone(), source })?,
        )
    } else {
        Arc::new(
            LocalStore::open(&photos_dir)
                .map_err(|source| StartupError::DataDir { path: photos_dir.display().to_string(), source })?,
        )
    };
    let photos = Arc::new(PhotoRuntime::new(&settings, store));
    let shared = SharedLimits::for_db(&db);
    Ok(AppState {
        db,
        settings: Arc::new(settings),
        keys: Arc::new(keys),
        towns,
        metrics: Arc::new(Metrics::default()),
        hlc: Arc::new(std::sync::Mutex::new(hlc)),
        photos,
        alerts: Arc::new(crate::alerts::AlertHub::new(4096)),
        tip_limits: Arc::new(crate::tips::ratelimit::TipLimits::new(shared.clone())),
        login_throttle: Arc::new(crate::auth::throttle::LoginThrottle::new(shared)),
    })
}

/// The configured secret, or one generated once and kept in the data directory.
fn jwt_secret(settings: &Settings, data_dir: &Path) -> Result<String, StartupError> {
    if !settings.auth.jwt_secret.is_empty() {
        return Ok(settings.auth.jwt_secret.clone());
    }
    let path = data_dir.join("jwt_secret");
    let io = |source| StartupError::DataDir { path: path.display().to_string(), source };
    match std::fs::read_to_string(&path) {
        Ok(s) if s.trim().len() >= 32 => Ok(s.trim().to_owned()),
        _ => {
            let secret = token::random_secret();
            std::fs::write(&path, &secret).map_err(io)?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
            }
            Ok(secret)
        }
    }
}

/// Registers every route of the API under one scope; shared by main and tests.
pub fn configure_api(cfg: &mut web::ServiceConfig) {
    cfg.configure(ops::configure).service(
        web::scope("/api/v1")
            .configure(auth::routes::configure)
            .configure(towns::routes::configure)
            .configure(campaigns::routes::configure)
            .configure(cases::routes::configure)
            .configure(crate::sync::routes::configure)
            .configure(crate::photos::routes::configure)
            .configure(crate::alerts::routes::configure)
            .configure(crate::reports::routes::configure)
            .configure(crate::tips::routes::configure)
            .configure(crate::parcels::routes::configure)
            .configure(crate::approvals::routes::configure)
            .configure(crate::projects::routes::configure),
    );
}

/// A 405 in the shared error shape, keeping the `Allow` header (the methods
/// the resource takes) that actix's resource answer carries.
fn json_method_not_allowed<B>(res: actix_web::dev::ServiceResponse<B>) -> actix_web::Result<ErrorHandlerResponse<B>> {
    if res.headers().contains_key(actix_web::http::header::CONTENT_TYPE) {
        // Already an answer of ours (an error body with its own headers).
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let allow = res.headers().get(actix_web::http::header::ALLOW).cloned();
    let (req, _) = res.into_parts();
    let mut body = actix_web::ResponseError::error_response(&ApiError::new(
        ErrorCode::MethodNotAllowed,
        "this endpoint does not take that method",
    ));
    if let Some(allow) = allow {
        body.headers_mut().insert(actix_web::http::header::ALLOW, allow);
    }
    Ok(ErrorHandlerResponse::Response(actix_web::dev::ServiceResponse::new(req, body).map_into_right_body()))
}

/// A running server.
pub struct Application {
    port: u16,
    server: Server,
    state: AppState,
}

impl Application {
    /// Opens the database, binds the listener and builds the server (not yet polled).
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        let state = build_state(settings).await?;
        Self::from_state(state)
    }

    /// Builds the server around existing state.
    pub fn from_state(state: AppState) -> Result<Self, StartupError> {
        let listener = TcpListener::bind(state.settings.server.addr).map_err(StartupError::Listen)?;
        let port = listener.local_addr().map_err(StartupError::Listen)?.port();
        let json_limit = state.settings.server.json_limit_bytes;
        let workers = state.settings.server.workers;
        let data = web::Data::new(state.clone());
        let mut server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .app_data(web::JsonConfig::default().limit(json_limit).error_handler(error::json_error))
                .app_data(web::QueryConfig::default().error_handler(error::query_error))
                .app_data(web::PathConfig::default().error_handler(error::path_error))
                .wrap(ErrorHandlers::new().handler(StatusCode::METHOD_NOT_ALLOWED, json_method_not_allowed))
                .wrap(from_fn(telemetry::observe))
                // Before the /api/v1 scope, which would otherwise answer for /api/v1/openapi.json.
                .service(SwaggerUi::new("/docs/{_:.*}").url("/api/v1/openapi.json", openapi::ApiDoc::openapi()))
                .configure(configure_api)
                .configure(crate::open311::routes::configure)
                .configure(crate::console::configure)
                .route(
                    "/docs",
                    web::get().to(|| async {
                        actix_web::HttpResponse::Found().insert_header(("Location", "/docs/")).finish()
                    }),
                )
                .default_service(web::to(error::route_not_found))
        })
        .listen(listener)
        .map_err(StartupError::Listen)?;
        if workers > 0 {
            server = server.workers(workers);
        }
        Ok(Self { port, server: server.run(), state })
    }

    /// The port actually bound (useful with port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The shared state (database, settings).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until stopped; meanwhile keeps the town index in step with the
    /// database (imports made by other instances).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let state = self.state.clone();
        let every = std::time::Duration::from_secs(state.settings.routing.refresh_secs.max(1));
        let refresher = tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(e) = towns::service::refresh_if_changed(&state.db, &state.towns).await {
                    tracing::warn!(error = %e, "town index refresh failed");
                }
            }
        });
        let s = &self.state;
        let poll = std::time::Duration::from_millis(s.settings.alerts.outbox_poll_ms);
        let tasks = [
            refresher,
            tokio::spawn(photo_sweeps(s.clone())),
            tokio::spawn(s.alerts.clone().run(s.db.clone(), poll)),
            tokio::spawn(s.alerts.clone().listen(s.db.clone(), s.settings.database_url())),
            tokio::spawn(crate::alerts::outbox::run(s.clone())),
            tokio::spawn(crate::alerts::sweeps::run(s.clone())),
            tokio::spawn(crate::parcels::sweep::run(s.clone())),
        ];
        let result = self.server.await;
        for t in tasks {
            t.abort();
        }
        result
    }

    /// A handle to stop the server.
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }
}

/// Photo housekeeping: thumbnails left pending (a restart, a lost job) are
/// queued again, expired tus uploads and stale staging files removed.
async fn photo_sweeps(state: AppState) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match crate::photos::service::resume_pending(&state).await {
            Ok(n) if n > 0 => tracing::info!(photos = n, "thumbnails queued"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "thumbnail sweep failed"),
        }
        if let Err(e) = crate::photos::tus::sweep(&state).await {
            tracing::warn!(error = %e, "upload sweep failed");
        }
    }
}
