//! The OpenAPI document, generated from the handlers and types. The committed
//! copy in `mobile-api-docs/openapi.json` is checked fresh by a test.
//!
//! Each handler's `#[utoipa::path]` lists the answers that are its own (its
//! role checks, its records, its rules). [`SharedResponses`] adds the answers
//! an operation gives because of what it is made of, as the extractors and
//! error mapping in `error.rs` and `startup.rs` produce them: a bearer token
//! (401), a JSON body (400 `invalid_json`, 413, 415), a UUID in the path (400
//! `invalid_path`), path ids of records it looks up (404), a query string (400 `invalid_query`) and
//! the database (503 with `Retry-After`).

use landpatrol_sync::ErrorCode;
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{Operation, ParameterIn, PathItem};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{KnownFormat, ObjectBuilder, Ref, RefOr, SchemaFormat, Type};
use utoipa::{Modify, OpenApi};

use crate::{auth, campaigns, cases, ops, towns};

/// A body of raw bytes (`type: string, format: binary`), for the document.
pub struct Bytes;

impl utoipa::PartialSchema for Bytes {
    fn schema() -> RefOr<utoipa::openapi::Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
            .into()
    }
}

impl utoipa::ToSchema for Bytes {}

/// `size` of a thumbnail: 256 or 1024.
pub fn thumb_size_schema() -> utoipa::openapi::Object {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .enum_values(Some([256, 1024]))
        .description(Some("256 or 1024 (the box the thumbnail fits in); 1024 when absent"))
        .build()
}

/// The answer of `GET /tips/{id}`: the reporter's view (with `receipt_token`)
/// or the staff view (with a login).
pub struct TipAnswer;

impl utoipa::PartialSchema for TipAnswer {
    fn schema() -> RefOr<utoipa::openapi::Schema> {
        utoipa::openapi::schema::AnyOfBuilder::new()
            .item(Ref::from_schema_name("PublicTipView"))
            .item(Ref::from_schema_name("TipView"))
            .into()
    }
}

impl utoipa::ToSchema for TipAnswer {}

/// `format` of a progress report.
pub fn report_format_schema() -> utoipa::openapi::Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(["json", "csv", "html"]))
        .description(Some("`json` (default), `csv` or `html` (also chosen by the path suffix)"))
        .build()
}

/// `status` of a webhook delivery listing.
pub fn delivery_status_schema() -> utoipa::openapi::Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(["pending", "delivered", "dead"]))
        .description(Some("Only deliveries in this state"))
        .build()
}

/// One Server-Sent Event of `GET /api/v1/alerts/stream`, as an event-stream
/// parser reads it (comments such as `: heartbeat` are not events).
pub struct AlertStreamEvent;

impl utoipa::PartialSchema for AlertStreamEvent {
    fn schema() -> RefOr<utoipa::openapi::Schema> {
        ObjectBuilder::new()
            .description(Some(
                "One event. The stream opens with `retry: 3000` (reconnect after 3 s) and the comment `: connected`; each \
                 alert is `id: <event_id>`, `event: alert`, `data: <the alert as JSON, an AlertView>`; a comment \
                 `: heartbeat` comes after `alerts.heartbeat_secs` of silence. Resume with `Last-Event-ID`.",
            ))
            .property("event", ObjectBuilder::new().schema_type(Type::String).enum_values(Some(["alert"])))
            .property(
                "id",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some("^[0-9]+$"))
                    .description(Some("The alert's `event_id`: send it back as `Last-Event-ID`")),
            )
            .property(
                "data",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .content_media_type("application/json")
                    .description(Some("The alert as JSON: an `AlertView` (`#/components/schemas/AlertView`)")),
            )
            .property(
                "retry",
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(0))
                    .description(Some("Milliseconds to wait before reconnecting")),
            )
            .into()
    }
}

impl utoipa::ToSchema for AlertStreamEvent {}

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
        components.add_security_scheme(
            "feed",
            SecurityScheme::ApiKey(utoipa::openapi::security::ApiKey::Query(
                utoipa::openapi::security::ApiKeyValue::with_description(
                    "feed_token",
                    "A read-only feed token (POST /api/v1/feed-tokens), accepted by GET /api/v1/cases.geojson only",
                ),
            )),
        );
    }
}

/// Operations under `/api/v1` that never touch the database (no 503).
const WITHOUT_DATABASE: &[(&str, &str)] =
    &[("get", "/api/v1/towns/locate"), ("options", "/api/v1/uploads"), ("get", "/console/config.json")];

/// Operations whose path parameter names what the request stores, not a
/// record it looks up (no 404).
const STORES_AT_PATH: &[(&str, &str)] = &[("put", "/api/v1/photos/{sha256}")];

/// Adds the answers every operation gives by its make-up (see the module doc),
/// under `/api/v1` and the console's session. Open311 (its own error format)
/// and the service endpoints document their answers themselves.
struct SharedResponses;

impl Modify for SharedResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            if !(path.starts_with("/api/v1/") || path.starts_with("/console/")) {
                continue;
            }
            for (method, op) in operations(item) {
                let head = method == "head";
                let security = op.security.as_ref().map(|reqs| {
                    reqs.iter()
                        .map(|r| serde_json::to_value(r).ok().and_then(|v| v.as_object().map(|o| o.is_empty())))
                        .collect::<Vec<_>>()
                });
                match security {
                    // `security((), ("bearer" = []))`: anonymous allowed, a bad token refused.
                    Some(reqs) if reqs.contains(&Some(true)) => add(op, &[ErrorCode::InvalidToken], head),
                    Some(reqs) if !reqs.is_empty() => {
                        add(op, &[ErrorCode::Unauthenticated, ErrorCode::InvalidToken], head);
                    }
                    _ => {}
                }
                let json_body = op.request_body.as_ref().is_some_and(|b| b.content.contains_key("application/json"));
                if json_body {
                    add(
                        op,
                        &[ErrorCode::InvalidJson, ErrorCode::PayloadTooLarge, ErrorCode::UnsupportedMediaType],
                        head,
                    );
                }
                let params = op.parameters.clone().unwrap_or_default();
                let uuid_path = params.iter().any(|p| {
                    p.parameter_in == ParameterIn::Path
                        && serde_json::to_value(&p.schema).ok().is_some_and(|s| {
                            s["format"] == "uuid" || s["$ref"].as_str().is_some_and(|r| r.ends_with("/RecordId"))
                        })
                });
                if uuid_path {
                    add(op, &[ErrorCode::InvalidPath], head);
                }
                if params.iter().any(|p| p.parameter_in == ParameterIn::Path)
                    && !STORES_AT_PATH.contains(&(method, path.as_str()))
                {
                    add(op, &[ErrorCode::NotFound], head);
                }
                if params.iter().any(|p| p.parameter_in == ParameterIn::Query) {
                    add(op, &[ErrorCode::InvalidQuery], head);
                }
                if !WITHOUT_DATABASE.contains(&(method, path.as_str())) {
                    add(op, &[ErrorCode::ServiceUnavailable], head);
                }
            }
        }
    }
}

/// Every operation of a path, with its method in lower case.
fn operations(item: &mut PathItem) -> Vec<(&'static str, &mut Operation)> {
    [
        ("get", item.get.as_mut()),
        ("put", item.put.as_mut()),
        ("post", item.post.as_mut()),
        ("delete", item.delete.as_mut()),
        ("options", item.options.as_mut()),
        ("head", item.head.as_mut()),
        ("patch", item.patch.as_mut()),
        ("trace", item.trace.as_mut()),
    ]
    .into_iter()
    .filter_map(|(m, op)| op.map(|op| (m, op)))
    .collect()
}

/// An `ErrorBody` answer naming `codes` (all of one HTTP status).
pub fn error_response(codes: &[ErrorCode], head: bool) -> Response {
    let mut b = ResponseBuilder::new().description(describe(codes));
    if !head {
        b = b.content(
            "application/json",
            ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build(),
        );
    }
    if codes.iter().any(|c| matches!(c.http_status(), 429 | 503)) {
        b = b.header("Retry-After", retry_after());
    }
    b.build()
}

/// The `Retry-After` header: seconds to wait.
pub fn retry_after() -> utoipa::openapi::header::Header {
    HeaderBuilder::new()
        .schema(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
                .minimum(Some(0)),
        )
        .description(Some("Seconds to wait before retrying"))
        .build()
}

fn describe(codes: &[ErrorCode]) -> String {
    codes.iter().map(|c| format!("`{}`: {}", c.as_str(), c.meaning())).collect::<Vec<_>>().join(" ")
}

/// Adds `codes` to the operation's answers: a new response for a status not
/// documented yet, or the code named in the description of the one that is.
fn add(op: &mut Operation, codes: &[ErrorCode], head: bool) {
    for code in codes {
        let status = code.http_status().to_string();
        match op.responses.responses.get_mut(&status) {
            Some(RefOr::T(existing)) => {
                if !existing.description.contains(&format!("`{}`", code.as_str()))
                    && !existing.description.contains(code.as_str())
                {
                    existing.description = format!("{} {}", existing.description.trim_end(), describe(&[*code]));
                }
                if matches!(code.http_status(), 429 | 503) && !existing.headers.contains_key("Retry-After") {
                    existing.headers.insert("Retry-After".into(), retry_after());
                }
            }
            Some(RefOr::Ref(_)) => {}
            None => {
                op.responses.responses.insert(status, RefOr::T(error_response(&[*code], head)));
            }
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "landpatrol API",
        description = "Backend and sync service of an offline-first field-inspection system for land-use enforcement \
                       (Baodi District, Tianjin). Errors are `{\"error\": {\"code\", \"message\", \"details\"}}` with the stable \
                       codes listed in `mobile-api-docs/errors.md`. Points are `{lon, lat, crs, accuracy_m}` with crs \
                       `wgs84`, `gcj02` or `bd09`; stored as WGS-84. On PostgreSQL, text holding the character U+0000 \
                       is refused with 422 `validation_failed` (`details.reason`: `nul_character`). A method a path \
                       does not take answers 405 `method_not_allowed` with `Allow` naming the ones it does.",
        license(name = "Apache-2.0")
    ),
    modifiers(&BearerAuth, &SharedResponses),
    paths(
        ops::healthz, ops::readyz, ops::metrics,
        auth::routes::login, auth::routes::refresh, auth::routes::logout, auth::routes::me,
        auth::routes::register_device, auth::routes::list_devices, auth::routes::create_user, auth::routes::list_users, auth::routes::update_user, auth::routes::revoke_device,
        towns::routes::list, towns::routes::outlines, towns::routes::get, towns::routes::import, towns::routes::locate,
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
        crate::tips::routes::public_photo,
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
        crate::console::session::sign_in, crate::console::session::refresh, crate::console::session::logout,
        crate::auth::feeds::create, crate::auth::feeds::list, crate::auth::feeds::revoke,
        crate::console::config,
    ),
    components(schemas(
        crate::ids::RecordId,
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
        crate::console::session::SignIn, crate::console::session::ConsoleSession, crate::console::ConsoleConfig,
        crate::auth::feeds::NewFeedToken, crate::auth::feeds::FeedTokenView,
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
        (name = "console", description = "The web console's cookie session (the refresh token in an HttpOnly cookie, CSRF-guarded) and settings; the pages are /console/ and /report-a-problem/"),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_where_they_are_read() {
        let doc = ApiDoc::openapi();
        for (path, item) in doc.paths.paths.clone().iter_mut() {
            for (method, op) in operations(item) {
                for p in op.parameters.iter().flatten() {
                    let in_template = path.contains(&format!("{{{}}}", p.name));
                    if p.parameter_in == ParameterIn::Path {
                        assert!(in_template, "{method} {path}: `{}` is no path parameter", p.name);
                    }
                    if in_template {
                        assert!(p.parameter_in == ParameterIn::Path, "{method} {path}: `{}` is in the path", p.name);
                    }
                }
            }
        }
    }

    #[test]
    fn shared_answers_follow_the_make_up() {
        let doc: serde_json::Value = serde_json::from_str(&document()).unwrap();
        let op = |path: &str, method: &str| doc["paths"][path][method]["responses"].clone();
        let cases = op("/api/v1/cases", "post");
        for status in ["400", "401", "413", "415", "503"] {
            assert!(cases.get(status).is_some(), "POST /cases documents {status}");
        }
        assert!(cases["400"]["description"].as_str().unwrap().contains("`invalid_json`"));
        let photo = op("/api/v1/photos/{sha256}", "put");
        assert!(photo.get("404").is_none(), "PUT /photos stores, it looks nothing up");
        assert!(photo["401"]["description"].as_str().unwrap().contains("`invalid_token`"));
        assert!(!photo["401"]["description"].as_str().unwrap().contains("`unauthenticated`"), "anonymous allowed");
        let locate = op("/api/v1/towns/locate", "get");
        assert!(locate.get("503").is_none(), "locate reads the town index in memory");
        assert!(locate["400"]["description"].as_str().unwrap().contains("`invalid_query`"));
        let case = op("/api/v1/cases/{id}", "get");
        assert!(case["400"]["description"].as_str().unwrap().contains("`invalid_path`"));
        assert!(case["503"]["headers"].get("Retry-After").is_some());
        let open311 = op("/open311/v2/requests.{format}", "post");
        assert!(open311.get("401").is_none() && open311.get("415").is_none(), "Open311 documents its own answers");
    }
}
