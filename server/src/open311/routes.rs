//! HTTP handlers for `/open311/v2/…{.json,.xml}`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use futures_util::StreamExt;
use sea_orm::sea_query::Condition;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde_json::{Value, json};
use uuid::Uuid;

use super::docs::{
    Discovery as Open311Discovery, ErrorItem as Open311Error, FormatName as Open311Format,
    RequestCreated as Open311RequestCreated, RequestForm as Open311RequestForm, Service as Open311Service,
    ServiceDefinition as Open311ServiceDefinition, ServiceRequest as Open311ServiceRequest, Token as Open311Token,
};
use super::format::{Format, O311Error, respond};
use super::{SERVICES, notice, request_view, service, status, submission};
use crate::db::entities::tips;
use crate::state::AppState;
use crate::tips::ratelimit::client_addr;
use crate::tips::service as tip_service;

/// Largest form a `POST requests` may send.
pub const MAX_FORM_BYTES: usize = 64 * 1024;

/// Most requests one `GET requests` answers.
pub const MAX_REQUESTS: u64 = 1000;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/open311/v2/discovery.{format}").get(discovery))
        .service(web::resource("/open311/v2/services.{format}").get(services))
        .service(web::resource("/open311/v2/services/{code:[^/.]+}.{format}").get(definition))
        .service(web::resource("/open311/v2/requests.{format}").get(list_requests).post(create_request))
        .service(web::resource("/open311/v2/requests/{id:[^/.]+}.{format}").get(get_request))
        .service(web::resource("/open311/v2/tokens/{token:[^/.]+}.{format}").get(token));
}

type Answer = Result<HttpResponse, (Format, O311Error)>;

fn finish(a: Answer) -> HttpResponse {
    match a {
        Ok(r) => r,
        Err((f, e)) => e.respond(f),
    }
}

fn format_of(raw: &str) -> Result<Format, (Format, O311Error)> {
    Format::parse(raw).ok_or_else(|| (Format::Json, O311Error::new(404, "no such format: use .json or .xml")))
}

/// Parses form-encoded pairs (a query string or a body).
fn pairs(raw: &str) -> Result<Vec<(String, String)>, O311Error> {
    web::Query::<Vec<(String, String)>>::from_query(raw)
        .map(web::Query::into_inner)
        .map_err(|e| O311Error::new(400, format!("malformed form data: {e}")))
}

fn base_url(req: &HttpRequest) -> String {
    let info = req.connection_info();
    format!("{}://{}/open311/v2/", info.scheme(), info.host())
}

/// The discovery document: where the endpoint is and what it speaks.
#[utoipa::path(get, path = "/open311/v2/discovery.{format}", tag = "open311",
    params(("format" = inline(Open311Format), Path, description = "`json` or `xml`; another suffix answers 404")),
    responses((status = 200, description = "GeoReport v2 discovery (JSON object or `<discovery>`)",
        content((Open311Discovery = "application/json"), (String = "text/xml")),
        example = json!({"changeset": "2026-11-28T00:00:00Z", "contact": "Baodi District land bureau (宝坻区规划和自然资源局)",
            "key_service": "Ask the bureau for an api_key", "endpoints": [{"specification": "http://wiki.open311.org/GeoReport_v2",
            "url": "http://127.0.0.1:8080/open311/v2/", "changeset": "2026-11-28T00:00:00Z", "type": "production",
            "formats": ["text/xml", "application/json"]}]})),
        (status = 404, description = "Another format than json or xml.", body = Vec<Open311Error>)))]
pub async fn discovery(req: HttpRequest, path: web::Path<String>) -> HttpResponse {
    finish((|| {
        let f = format_of(&path)?;
        let doc = json!({
            "changeset": super::CHANGESET,
            "contact": "Baodi District land bureau (宝坻区规划和自然资源局), Tianjin",
            "key_service": "Ask the Baodi District land bureau for an api_key; reading needs none.",
            "endpoints": [{
                "specification": "http://wiki.open311.org/GeoReport_v2",
                "url": base_url(&req),
                "changeset": super::CHANGESET,
                "type": "production",
                "formats": ["text/xml", "application/json"],
            }],
        });
        Ok(respond(StatusCode::OK, f, "discovery", "discovery", &doc))
    })())
}

/// The services: one per violation type.
#[utoipa::path(get, path = "/open311/v2/services.{format}", tag = "open311",
    params(("format" = inline(Open311Format), Path, description = "`json` or `xml`; another suffix answers 404"),
        ("jurisdiction_id" = Option<String>, Query, description = "accepted and ignored")),
    responses((status = 200, description = "List of services (`<services><service>…`)",
        content((Vec<Open311Service> = "application/json"), (String = "text/xml")),
        example = json!([{"service_code": "farmland_occupation", "service_name": "Farmland occupation (非法占用耕地)",
            "description": "Cultivated land used for building, storage, parking or other non-farm use.", "metadata": true,
            "type": "realtime", "keywords": "farmland,cultivated land,耕地,占用耕地", "group": "land_use"}])),
        (status = 404, description = "Another format than json or xml.", body = Vec<Open311Error>)))]
pub async fn services(path: web::Path<String>) -> HttpResponse {
    finish((|| {
        let f = format_of(&path)?;
        let list: Vec<Value> = SERVICES.iter().map(super::Service::summary).collect();
        Ok(respond(StatusCode::OK, f, "services", "service", &Value::Array(list)))
    })())
}

/// A service's definition: the attributes a request may answer.
#[utoipa::path(get, path = "/open311/v2/services/{service_code}.{format}", tag = "open311",
    params(("service_code" = String, Path), ("format" = inline(Open311Format), Path, description = "`json` or `xml`; another suffix answers 404")),
    responses((status = 200, description = "Service definition (`<service_definition>`)",
        content((Open311ServiceDefinition = "application/json"), (String = "text/xml")),
        example = json!({"service_code": "farmland_occupation", "attributes": [{"variable": true, "code": "area_m2", "datatype": "number",
            "required": false, "datatype_description": "a number of square metres, 0 or more", "order": 1,
            "description": "Approximate area affected, in square metres (面积，平方米)"}]})),
        (status = 404, description = "Unknown service, or another format than json or xml.",
            content((Vec<Open311Error> = "application/json"), (String = "text/xml")))))]
pub async fn definition(path: web::Path<(String, String)>) -> HttpResponse {
    let (code, raw) = path.into_inner();
    finish((|| {
        let f = format_of(&raw)?;
        let svc = service(&code).ok_or_else(|| (f, O311Error::new(404, format!("no service {code:?}"))))?;
        Ok(respond(StatusCode::OK, f, "service_definition", "service_definition", &svc.definition()))
    })())
}

/// Submits a service request (a public tip), form-encoded: `api_key`,
/// `service_code`, `lat` and `long` (WGS-84; an address alone can not be
/// placed), `attribute[code]`, `description`, `address_string`, `email`,
/// `phone`, `first_name`, `last_name`, `device_id`, `media_url`. Rate limited
/// per client address and device like native tips.
#[utoipa::path(post, path = "/open311/v2/requests.{format}", tag = "open311",
    params(("format" = inline(Open311Format), Path, description = "`json` or `xml`; another suffix answers 404")),
    request_body(content = Open311RequestForm, content_type = "application/x-www-form-urlencoded",
        description = "Form-encoded; `attribute[<code>]=<value>` answers the service's attributes"),
    responses(
        (status = 200, description = "Created (`<service_requests><request>…`); 200 as GeoReport v2 clients expect",
            content((Vec<Open311RequestCreated> = "application/json"), (String = "text/xml")),
            example = json!([{"service_request_id": "0193a4f2-7c1e-7d3a-9b1e-2f4c5d6e7fa0", "service_notice": "Received. The 海滨街道 office handles reports at this place.", "account_id": null}])),
        (status = 400, description = "Not form-encoded, not UTF-8, missing service_code or location, a bad attribute or value, a field too long",
            content((Vec<Open311Error> = "application/json"), (String = "text/xml"))),
        (status = 403, description = "Missing or unknown api_key", content((Vec<Open311Error> = "application/json"), (String = "text/xml"))),
        (status = 404, description = "Another format than json or xml.", body = Vec<Open311Error>),
        (status = 413, description = "A form over 64 KiB", content((Vec<Open311Error> = "application/json"), (String = "text/xml"))),
        (status = 429, description = "Rate limited per client address or device",
            content((Vec<Open311Error> = "application/json"), (String = "text/xml")),
            headers(("Retry-After" = u64, description = "Seconds to wait before retrying"))),
        (status = 503, description = "The database is unreachable; retry later",
            content((Vec<Open311Error> = "application/json"), (String = "text/xml")))))]
pub async fn create_request(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    mut payload: web::Payload,
) -> HttpResponse {
    let f = match format_of(&path) {
        Ok(f) => f,
        Err((f, e)) => return e.respond(f),
    };
    let result: Result<HttpResponse, O311Error> = async {
        if let Some(ct) = req.headers().get("content-type").and_then(|v| v.to_str().ok())
            && !ct.trim_start().to_ascii_lowercase().starts_with("application/x-www-form-urlencoded")
        {
            return Err(O311Error::new(400, "send the request as application/x-www-form-urlencoded"));
        }
        let mut body = Vec::new();
        while let Some(chunk) = payload.next().await {
            let chunk = chunk.map_err(|e| O311Error::new(400, format!("the body broke off: {e}")))?;
            if body.len() + chunk.len() > MAX_FORM_BYTES {
                return Err(O311Error::new(413, format!("the form is larger than {MAX_FORM_BYTES} bytes")));
            }
            body.extend_from_slice(&chunk);
        }
        let text = std::str::from_utf8(&body).map_err(|_| O311Error::new(400, "the body is not UTF-8"))?;
        let pairs = pairs(text)?;
        let sub = submission(&state, &pairs, client_addr(&req, &state.settings.tips))?;
        let (_, tip) = tip_service::submit(&state, sub).await?;
        let answer = json!([{
            "service_request_id": tip.id.to_string(),
            "service_notice": notice(&state, &tip),
            "account_id": null,
        }]);
        // 200, not 201: what GeoReport v2 clients in the wild check for.
        Ok(respond(StatusCode::OK, f, "service_requests", "request", &answer))
    }
    .await;
    result.unwrap_or_else(|e| e.respond(f))
}

/// Parses an ISO 8601 date-time (or a plain date, midnight UTC).
fn parse_date(name: &str, v: &str) -> Result<DateTime<Utc>, O311Error> {
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Some(t) = NaiveDate::parse_from_str(v, "%Y-%m-%d").ok().and_then(|d| d.and_hms_opt(0, 0, 0)) {
        return Ok(t.and_utc());
    }
    Err(O311Error::new(400, format!("{name} {v:?} is not an ISO 8601 date-time such as 2017-05-20T00:00:00Z")))
}

/// Lists service requests (public fields only; requests made through this
/// Open311 endpoint): by `service_request_id` (comma-separated; then other
/// filters are ignored), or by `service_code`, `status` (`open`, `closed`)
/// and `start_date`..`end_date` (ISO 8601, at most
/// `tips.open311_max_window_days` apart; default the last 90 days). Newest
/// first, at most 1000.
#[utoipa::path(get, path = "/open311/v2/requests.{format}", tag = "open311",
    params(("format" = inline(Open311Format), Path, description = "`json` or `xml`; another suffix answers 404"),
        ("service_request_id" = Option<String>, Query, description = "comma-separated ids"),
        ("service_code" = Option<String>, Query, description = "comma-separated service codes"),
        ("status" = Option<String>, Query, description = "open, closed, or both comma-separated"),
        ("start_date" = Option<String>, Query, description = "ISO 8601 date-time, or a date (midnight UTC)"),
        ("end_date" = Option<String>, Query, description = "ISO 8601 date-time, or a date (midnight UTC)")),
    responses((status = 200, description = "Service requests (`<service_requests><request>…`)",
        content((Vec<Open311ServiceRequest> = "application/json"), (String = "text/xml")),
        example = json!([{"service_request_id": "0193a4f2-7c1e-7d3a-9b1e-2f4c5d6e7fa0", "status": "open",
            "status_notes": "Received; the town office will look into it.", "service_name": "Farmland occupation (非法占用耕地)",
            "service_code": "farmland_occupation", "description": "村东头耕地上正在盖两层砖房", "agency_responsible": "海滨街道",
            "service_notice": "", "requested_datetime": "2017-06-01T08:00:00Z", "updated_datetime": "2017-06-01T08:00:00Z",
            "expected_datetime": null, "address": "北台村东", "address_id": null, "zipcode": null, "lat": 39.733503, "long": 117.295129,
            "media_url": "https://example.org/photo.jpg"}])),
        (status = 400, description = "A malformed query, a bad date or status, start_date after end_date, a window over `tips.open311_max_window_days` (90)",
            content((Vec<Open311Error> = "application/json"), (String = "text/xml"))),
        (status = 404, description = "Another format than json or xml.", body = Vec<Open311Error>),
        (status = 503, description = "The database is unreachable; retry later",
            content((Vec<Open311Error> = "application/json"), (String = "text/xml")))))]
pub async fn list_requests(state: web::Data<AppState>, req: HttpRequest, path: web::Path<String>) -> HttpResponse {
    let f = match format_of(&path) {
        Ok(f) => f,
        Err((f, e)) => return e.respond(f),
    };
    let result: Result<HttpResponse, O311Error> = async {
        let q = pairs(req.query_string())?;
        let get = |name: &str| q.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim()).filter(|v| !v.is_empty());
        let mut cond = Condition::all().add(tips::Column::Channel.eq("open311"));
        let mut statuses: Vec<String> = Vec::new();
        if let Some(ids) = get("service_request_id") {
            let ids: Vec<Uuid> = ids.split(',').filter_map(|s| Uuid::parse_str(s.trim()).ok()).take(1000).collect();
            cond = cond.add(tips::Column::Id.is_in(ids));
        } else {
            if let Some(code) = get("service_code") {
                let codes: Vec<&str> = code.split(',').map(str::trim).collect();
                cond = cond.add(tips::Column::ServiceCode.is_in(codes));
            }
            if let Some(s) = get("status") {
                for one in s.split(',').map(str::trim) {
                    if !matches!(one, "open" | "closed") {
                        return Err(O311Error::new(400, format!("status {one:?} is not open or closed")));
                    }
                    statuses.push(one.to_owned());
                }
            }
            let max = Duration::days(state.settings.tips.open311_max_window_days);
            let start = get("start_date").map(|v| parse_date("start_date", v)).transpose()?;
            let end = get("end_date").map(|v| parse_date("end_date", v)).transpose()?;
            let now = Utc::now();
            let (start, end) = match (start, end) {
                (Some(s), Some(e)) => (s, e),
                (Some(s), None) => (s, now.min(s + max)),
                (None, Some(e)) => (e - max, e),
                (None, None) => (now - max, now),
            };
            if start > end {
                return Err(O311Error::new(400, "start_date is after end_date"));
            }
            if end - start > max {
                return Err(O311Error::new(
                    400,
                    format!("start_date to end_date spans more than {} days", max.num_days()),
                ));
            }
            cond = cond.add(tips::Column::CreatedAt.between(start, end));
        }
        let rows = tips::Entity::find()
            .filter(cond)
            .order_by_desc(tips::Column::Id)
            .limit(MAX_REQUESTS)
            .all(&state.db)
            .await
            .map_err(|e| O311Error::from(crate::error::ApiError::from(e)))?;
        let cases = tip_service::cases_of(&state.db, &rows).await?;
        let list: Vec<Value> = rows
            .iter()
            .filter_map(|t| {
                let case = t.case_id.and_then(|c| cases.get(&c));
                let s = status(t, case);
                (statuses.is_empty() || statuses.iter().any(|w| w == s)).then(|| request_view(&state, t, case))
            })
            .collect();
        Ok(respond(StatusCode::OK, f, "service_requests", "request", &Value::Array(list)))
    }
    .await;
    result.unwrap_or_else(|e| e.respond(f))
}

async fn find(state: &AppState, raw: &str) -> Result<crate::db::entities::tips::Model, O311Error> {
    let not_found = || O311Error::new(404, format!("no service request {raw:?}"));
    let id = Uuid::parse_str(raw).map_err(|_| not_found())?;
    tip_service::find(&state.db, id).await?.filter(|t| t.channel == "open311").ok_or_else(not_found)
}

/// One service request (a list of one, as the spec has it).
#[utoipa::path(get, path = "/open311/v2/requests/{service_request_id}.{format}", tag = "open311",
    params(("service_request_id" = String, Path), ("format" = inline(Open311Format), Path, description = "`json` or `xml`; another suffix answers 404")),
    responses((status = 200, description = "A list with the one request",
            content((Vec<Open311ServiceRequest> = "application/json"), (String = "text/xml"))),
        (status = 404, description = "No such request, or another format than json or xml",
            content((Vec<Open311Error> = "application/json"), (String = "text/xml"))),
        (status = 503, description = "The database is unreachable; retry later",
            content((Vec<Open311Error> = "application/json"), (String = "text/xml")))))]
pub async fn get_request(state: web::Data<AppState>, path: web::Path<(String, String)>) -> HttpResponse {
    let (id, raw) = path.into_inner();
    let f = match format_of(&raw) {
        Ok(f) => f,
        Err((f, e)) => return e.respond(f),
    };
    let result: Result<HttpResponse, O311Error> = async {
        let tip = find(&state, &id).await?;
        let case = tip_service::case_of(&state.db, &tip).await?;
        let one = json!([request_view(&state, &tip, case.as_ref())]);
        Ok(respond(StatusCode::OK, f, "service_requests", "request", &one))
    }
    .await;
    result.unwrap_or_else(|e| e.respond(f))
}

/// The request id of a token. Requests get their id at once, so the token
/// is the id itself.
#[utoipa::path(get, path = "/open311/v2/tokens/{token}.{format}", tag = "open311",
    params(("token" = String, Path), ("format" = inline(Open311Format), Path, description = "`json` or `xml`; another suffix answers 404")),
    responses((status = 200, description = "`[{\"service_request_id\", \"token\"}]`",
            content((Vec<Open311Token> = "application/json"), (String = "text/xml"))),
        (status = 404, description = "No such token, or another format than json or xml",
            content((Vec<Open311Error> = "application/json"), (String = "text/xml"))),
        (status = 503, description = "The database is unreachable; retry later",
            content((Vec<Open311Error> = "application/json"), (String = "text/xml")))))]
pub async fn token(state: web::Data<AppState>, path: web::Path<(String, String)>) -> HttpResponse {
    let (token, raw) = path.into_inner();
    let f = match format_of(&raw) {
        Ok(f) => f,
        Err((f, e)) => return e.respond(f),
    };
    let result: Result<HttpResponse, O311Error> = async {
        let tip = find(&state, &token).await?;
        let one = json!([{ "service_request_id": tip.id.to_string(), "token": token }]);
        Ok(respond(StatusCode::OK, f, "service_requests", "request", &one))
    }
    .await;
    result.unwrap_or_else(|e| e.respond(f))
}
