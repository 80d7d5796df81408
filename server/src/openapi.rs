//! The OpenAPI document, generated from the handlers and types. The committed
//! copy in `mobile-api-docs/openapi.json` is checked fresh by a test.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::{auth, campaigns, cases, ops, towns};

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "landpatrol API",
        description = "Backend and sync service of an offline-first field-inspection system for land-use enforcement \
                       (Baodi District, Tianjin). Errors are `{\"error\": {\"code\", \"message\", \"details\"}}` with the stable \
                       codes listed in `mobile-api-docs/errors.md`. Points are `{lon, lat, crs, accuracy_m}` with crs \
                       `wgs84`, `gcj02` or `bd09`; stored as WGS-84.",
        license(name = "Apache-2.0")
    ),
    modifiers(&BearerAuth),
    paths(
        ops::healthz, ops::readyz, ops::metrics,
        auth::routes::login, auth::routes::refresh, auth::routes::logout, auth::routes::me,
        auth::routes::register_device, auth::routes::list_devices, auth::routes::create_user, auth::routes::list_users,
        towns::routes::list, towns::routes::get, towns::routes::import, towns::routes::locate,
        campaigns::routes::list, campaigns::routes::create,
        cases::routes::list, cases::routes::geojson, cases::routes::create, cases::routes::get, cases::routes::patch,
        cases::routes::history, cases::routes::transition, cases::routes::reassign,
        cases::routes::list_inspections, cases::routes::add_inspection, cases::routes::import_patches,
        crate::sync::routes::push, crate::sync::routes::pull,
        crate::sync::routes::watermelon_pull, crate::sync::routes::watermelon_push,
        crate::photos::routes::exists, crate::photos::routes::put, crate::photos::routes::get,
        crate::photos::routes::original, crate::photos::routes::thumb,
        crate::photos::tus::options, crate::photos::tus::create, crate::photos::tus::head,
        crate::photos::tus::patch, crate::photos::tus::terminate, crate::photos::tus::overridden,
        crate::alerts::routes::list, crate::alerts::routes::get, crate::alerts::routes::ack, crate::alerts::routes::stream,
        crate::alerts::routes::create_webhook, crate::alerts::routes::list_webhooks, crate::alerts::routes::get_webhook,
        crate::alerts::routes::update_webhook, crate::alerts::routes::delete_webhook,
        crate::alerts::routes::webhook_deliveries, crate::alerts::routes::all_deliveries,
        crate::alerts::routes::retry_delivery,
        crate::reports::routes::progress, crate::reports::routes::progress_json, crate::reports::routes::progress_csv,
        crate::reports::routes::progress_html,
        crate::tips::routes::submit, crate::tips::routes::get, crate::tips::routes::list, crate::tips::routes::triage,
        crate::open311::routes::discovery, crate::open311::routes::services, crate::open311::routes::definition,
        crate::open311::routes::create_request, crate::open311::routes::list_requests,
        crate::open311::routes::get_request, crate::open311::routes::token,
        crate::parcels::routes::create, crate::parcels::routes::list, crate::parcels::routes::get,
        crate::parcels::routes::patch, crate::parcels::routes::dispose, crate::parcels::routes::list_disposals,
        crate::parcels::routes::import, crate::parcels::routes::delete,
        crate::approvals::routes::create, crate::approvals::routes::list, crate::approvals::routes::get,
        crate::approvals::routes::patch, crate::approvals::routes::list_supplies, crate::approvals::routes::add_supply,
        crate::approvals::routes::import, crate::approvals::routes::delete,
        crate::projects::routes::create, crate::projects::routes::list, crate::projects::routes::get,
        crate::projects::routes::record_step,
    ),
    components(schemas(
        landpatrol_sync::error::ErrorBody, landpatrol_sync::error::ErrorDetail, landpatrol_sync::GeoPoint, landpatrol_sync::Crs,
        landpatrol_sync::CaseSource, landpatrol_sync::CaseStatus, landpatrol_sync::Role, landpatrol_sync::LandClass,
        landpatrol_sync::ViolationType, landpatrol_sync::Disposition, landpatrol_sync::InspectionKind,
        landpatrol_sync::InspectionResult,
        crate::photos::types::PhotoView, crate::photos::types::PhotoLinkView, crate::photos::types::ExifView,
        crate::photos::types::ExifGps,
        crate::alerts::AlertKind, crate::alerts::outbox::WebhookPayload,
        crate::campaigns::targets::Target,
        crate::tips::types::NewTip, crate::tips::types::Contact, crate::tips::types::TipReceipt,
        crate::tips::types::PublicTipView, crate::tips::types::TipView, crate::tips::types::TipPage,
        crate::tips::types::DuplicateCandidate, crate::tips::types::TriageRequest,
        crate::parcels::types::NewParcel, crate::parcels::types::ParcelPatch, crate::parcels::types::ParcelView,
        crate::parcels::types::ParcelPage, crate::parcels::types::NewDisposal, crate::parcels::types::DisposalView,
        crate::parcels::types::DisposalRecorded, crate::parcels::types::DisposalKind,
        crate::parcels::types::ParcelImportReport, crate::csv::RowError,
        crate::parcels::service::IdleBalance,
        crate::approvals::service::SupplyRate,
        crate::projects::types::ProjectStep, crate::projects::service::ProjectGap,
    )),
    tags(
        (name = "service", description = "Health and metrics"),
        (name = "auth", description = "Login, refresh-token rotation, devices and users"),
        (name = "towns", description = "Town boundaries and routing (属地)"),
        (name = "campaigns", description = "Campaigns and their deadlines"),
        (name = "cases", description = "Cases (图斑/案件), the lifecycle and the ledger (挂账销号)"),
        (name = "sync", description = "Offline sync: exactly-once push with field-level merge, scoped pull"),
        (name = "photos", description = "Photo evidence, content-addressed by SHA-256: EXIF, thumbnails, evidence checks"),
        (name = "uploads", description = "Resumable photo uploads (tus 1.0.0: creation, creation-with-upload, termination, checksum, expiration)"),
        (name = "reports", description = "Campaign progress for the monthly meeting: JSON, CSV (UTF-8 with BOM), printable HTML; any past date from the ledger"),
        (name = "alerts", description = "Town alerts: inbox, acknowledgement, live stream (Server-Sent Events)"),
        (name = "webhooks", description = "Per-town signed webhooks, delivery log and dead letters (see guides/town-offices.md)"),
        (name = "tips", description = "Public tips (群众举报): anonymous reports with receipt tokens, triage by the town office"),
        (name = "parcels", description = "Idle land (闲置土地): parcels, CSV import, disposals; a daily sweep opens `idle_land` cases (see guides/idle-land.md)"),
        (name = "land supply", description = "Approved-but-unsupplied land (批而未供): approvals, supplies, CSV import"),
        (name = "projects", description = "Village construction projects and their five-in-place (五到位) steps"),
        (name = "open311", description = "Open311 GeoReport v2 at /open311/v2/ (JSON and XML by the path suffix); errors are `[{\"code\", \"description\"}]`"),
    )
)]
pub struct ApiDoc;

/// The document as pretty JSON with a trailing newline, as committed.
pub fn document() -> String {
    let doc = ApiDoc::openapi();
    let mut s = doc.to_pretty_json().unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    s.push('\n');
    s
}

/// `mobile-api-docs/errors.md`: the error table, generated from the code.
pub fn errors_markdown() -> String {
    let mut s = String::from(
        "# Error codes\n\nGenerated from `landpatrol_sync::ErrorCode` (`landpatrol openapi` rewrites it). \
         Every error body is `{\"error\": {\"code\", \"message\", \"details\"}}`; the code is stable, the message is for people.\n\n\
         | code | HTTP | meaning |\n|---|---|---|\n",
    );
    for c in landpatrol_sync::ErrorCode::ALL {
        s.push_str(&format!("| `{}` | {} | {} |\n", c.as_str(), c.http_status(), c.meaning()));
    }
    s
}
