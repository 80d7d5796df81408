//! The web console for town offices, the bureau and verifiers
//! (`/console/`), and the public tip page (`/report-a-problem/`): static
//! pages built into the binary ([`assets`]) that use the same HTTP API as
//! every other client, signed in through [`session`].

pub mod assets;
pub mod session;

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/console", web::get().to(|| async { to("/console/") }))
        .route("/report-a-problem", web::get().to(|| async { to("/report-a-problem/") }))
        .service(web::resource("/console/session").post(session::sign_in))
        .service(web::resource("/console/session/refresh").post(session::refresh))
        .service(web::resource("/console/session/logout").post(session::logout))
        .service(web::resource("/console/config.json").get(config))
        .route("/console/{name:.*}", web::get().to(console_file))
        .route("/console/{name:.*}", web::head().to(console_file))
        .route("/report-a-problem/{name:.*}", web::get().to(report_file))
        .route("/report-a-problem/{name:.*}", web::head().to(report_file));
}

fn to(path: &'static str) -> HttpResponse {
    HttpResponse::MovedPermanently().insert_header(("Location", path)).finish()
}

async fn console_file(state: web::Data<AppState>, req: HttpRequest, name: web::Path<String>) -> HttpResponse {
    assets::serve(&state, &req, assets::CONSOLE, &name)
}

async fn report_file(state: web::Data<AppState>, req: HttpRequest, name: web::Path<String>) -> HttpResponse {
    assets::serve(&state, &req, assets::REPORT, &name)
}

/// What the pages need to know of the installation.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"tile_url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png", "tile_crs": "wgs84",
    "tile_attribution": "© OpenStreetMap contributors", "time_zone": "Asia/Shanghai", "version": "0.1.0"}))]
pub struct ConsoleConfig {
    /// A raster tile URL template (`{z}`, `{x}`, `{y}`, optional `{s}` for
    /// `0`–`7` subdomains); empty: the maps draw their vector layers only.
    pub tile_url: String,
    /// The tiles' datum: `wgs84`, or `gcj02` (Chinese tile services such as
    /// AutoNavi), on which the pages shift their WGS-84 layers to match.
    pub tile_crs: String,
    pub tile_attribution: String,
    /// The zone times are shown in.
    pub time_zone: String,
    pub version: &'static str,
}

/// The console's settings (no login needed: nothing secret).
#[utoipa::path(get, path = "/console/config.json", tag = "console",
    responses((status = 200, body = ConsoleConfig)))]
pub async fn config(state: web::Data<AppState>) -> HttpResponse {
    let c = &state.settings.console;
    HttpResponse::Ok().insert_header((actix_web::http::header::CACHE_CONTROL, "no-cache")).json(ConsoleConfig {
        tile_url: c.tile_url.clone(),
        tile_crs: c.tile_crs.clone(),
        tile_attribution: c.tile_attribution.clone(),
        time_zone: c.time_zone.clone(),
        version: env!("CARGO_PKG_VERSION"),
    })
}
