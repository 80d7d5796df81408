//! `GET /reports/progress` (JSON), `.csv` and `.html`.

use actix_web::{HttpRequest, HttpResponse, web};
use landpatrol_sync::ErrorCode;
use landpatrol_sync::error::ErrorBody;

use super::service::{self, ReportPathQuery, ReportQuery};
use super::{ProgressReport, render};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/reports/progress").get(progress))
        .service(web::resource("/reports/progress.json").get(progress_json))
        .service(web::resource("/reports/progress.csv").get(progress_csv))
        .service(web::resource("/reports/progress.html").get(progress_html));
}

#[derive(Clone, Copy)]
enum Format {
    Json,
    Csv,
    Html,
}

async fn answer(req: &HttpRequest, state: &AppState, q: &ReportQuery, format: Format) -> ApiResult<HttpResponse> {
    let user = crate::auth::user_from_request_or_query(req, state, q.access_token.as_deref()).await?;
    let mut report = service::progress(state, &user, q).await?;
    if q.hide_empty == Some(true) {
        report.towns.retain(|p| !p.is_empty());
    }
    let stem = format!("progress-{}", report.as_of);
    let mut ok = HttpResponse::Ok();
    // Who may read it decides; nothing in between keeps a copy, and a link with a token leaks nowhere.
    ok.insert_header(("Cache-Control", "private, no-store")).insert_header(("Referrer-Policy", "no-referrer"));
    Ok(match format {
        Format::Json => ok.json(report),
        Format::Csv => ok
            .content_type("text/csv; charset=utf-8")
            .insert_header(("Content-Disposition", format!("attachment; filename=\"{stem}.csv\"")))
            .body(render::csv(&report)),
        Format::Html => ok.content_type("text/html; charset=utf-8").body(render::html(&report)),
    })
}

/// Campaign progress per town and for the district, for the monthly
/// meeting: cases by source × status, opened / closed / dismissed in the
/// period, overdue cases with days overdue, rectified and accepted rates, the
/// investigation summary (查事又查人), the idle-land balance (闲置土地), the
/// land supply rate (批而未供), five-in-place gaps (五到位) and every target of the campaign as
/// `met`, `on_track`, `at_risk`, `not_met` or `not_applicable`. A past
/// `as_of` is reconstructed from the ledger and the land records as they were
/// known at the end of that day, so last month's report comes out the same
/// today. `format=csv|html` (or the `.csv` / `.html` paths) give a
/// spreadsheet (UTF-8 with BOM) or a printable page of the same report.
#[utoipa::path(get, path = "/api/v1/reports/progress", tag = "reports", security(("bearer" = [])), params(ReportQuery),
    responses(
        (status = 200, description = "The report: JSON, or CSV (UTF-8 with BOM) / HTML with `format`",
            content((ProgressReport = "application/json"), (String = "text/csv"), (String = "text/html")),
            headers(("Cache-Control" = String, description = "`private, no-store`"))),
        (status = 400, description = "`invalid_query`: as_of / from not a date, as_of in the future or before the campaign, from outside the campaign, a bad campaign id or format", body = ErrorBody),
        (status = 403, description = "`forbidden` (inspectors) / `out_of_scope` (another town)", body = ErrorBody),
        (status = 404, description = "`unknown_campaign`", body = ErrorBody),
        (status = 422, description = "`unknown_town`", body = ErrorBody)))]
pub async fn progress(
    req: HttpRequest,
    state: web::Data<AppState>,
    q: web::Query<ReportQuery>,
) -> ApiResult<HttpResponse> {
    let format = match q.format.as_deref().map(str::trim) {
        None | Some("" | "json") => Format::Json,
        Some("csv") => Format::Csv,
        Some("html") => Format::Html,
        Some(other) => {
            return Err(ApiError::new(ErrorCode::InvalidQuery, format!("format {other:?} is not json, csv or html"))
                .with_details(serde_json::json!({ "field": "format" })));
        }
    };
    answer(&req, &state, &q, format).await
}

/// The progress report as JSON.
#[utoipa::path(get, path = "/api/v1/reports/progress.json", tag = "reports", security(("bearer" = [])), params(ReportPathQuery),
    responses((status = 200, body = ProgressReport, headers(("Cache-Control" = String, description = "`private, no-store`"))),
        (status = 400, description = "`invalid_query`: as_of / from not a date, as_of in the future or before the campaign, from outside the campaign, a bad campaign id", body = ErrorBody),
        (status = 403, description = "`forbidden` (inspectors) / `out_of_scope` (another town)", body = ErrorBody),
        (status = 404, description = "`unknown_campaign`", body = ErrorBody),
        (status = 422, description = "`unknown_town`", body = ErrorBody)))]
pub async fn progress_json(
    req: HttpRequest,
    state: web::Data<AppState>,
    q: web::Query<ReportQuery>,
) -> ApiResult<HttpResponse> {
    answer(&req, &state, &q, Format::Json).await
}

/// The progress report as CSV: UTF-8 with a byte-order mark (Excel opens the
/// Chinese headers correctly), CRLF lines, one row per town then the district.
#[utoipa::path(get, path = "/api/v1/reports/progress.csv", tag = "reports", security(("bearer" = [])), params(ReportPathQuery),
    responses((status = 200, content_type = "text/csv", body = String,
        headers(("Cache-Control" = String, description = "`private, no-store`"),
            ("Content-Disposition" = String, description = "`attachment; filename=\"progress-<as_of>.csv\"`")),
        example = json!("\u{feff}as_of 截至,town_code 街镇代码,town 街镇,cases 案件,open 未办结,…\r\n2017-06-30,120115001,海滨街道,12,5,…\r\n")),
        (status = 400, description = "`invalid_query`: as_of / from not a date, as_of in the future or before the campaign, from outside the campaign, a bad campaign id", body = ErrorBody),
        (status = 403, description = "`forbidden` (inspectors) / `out_of_scope` (another town)", body = ErrorBody),
        (status = 404, description = "`unknown_campaign`", body = ErrorBody),
        (status = 422, description = "`unknown_town`", body = ErrorBody)))]
pub async fn progress_csv(
    req: HttpRequest,
    state: web::Data<AppState>,
    q: web::Query<ReportQuery>,
) -> ApiResult<HttpResponse> {
    answer(&req, &state, &q, Format::Csv).await
}

/// The progress report as a printable HTML page (summary and land tables;
/// per town its targets, overdue cases and projects missing steps).
#[utoipa::path(get, path = "/api/v1/reports/progress.html", tag = "reports", security(("bearer" = [])), params(ReportPathQuery),
    responses((status = 200, content_type = "text/html", body = String, headers(("Cache-Control" = String, description = "`private, no-store`"))),
        (status = 400, description = "`invalid_query`: as_of / from not a date, as_of in the future or before the campaign, from outside the campaign, a bad campaign id", body = ErrorBody),
        (status = 403, description = "`forbidden` (inspectors) / `out_of_scope` (another town)", body = ErrorBody),
        (status = 404, description = "`unknown_campaign`", body = ErrorBody),
        (status = 422, description = "`unknown_town`", body = ErrorBody)))]
pub async fn progress_html(
    req: HttpRequest,
    state: web::Data<AppState>,
    q: web::Query<ReportQuery>,
) -> ApiResult<HttpResponse> {
    answer(&req, &state, &q, Format::Html).await
}
