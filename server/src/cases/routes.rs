//! HTTP handlers for `/cases`.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use landpatrol_sync::error::ErrorBody;
use landpatrol_sync::{CaseSource, ErrorCode, Role};
use serde::Deserialize;
use utoipa::IntoParams;

use super::import;
use super::service;
use super::store::Actor;
use super::types::*;
use crate::auth::{AuthUser, MaybeAuthUser};
use crate::error::{ApiError, ApiResult};
use crate::ids::RecordId;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/cases").get(list).post(create))
        .service(web::resource("/cases.geojson").get(geojson))
        .service(web::resource("/cases/import").post(import_patches))
        .service(web::resource("/cases/{id}").get(get).patch(patch))
        .service(web::resource("/cases/{id}/history").get(history))
        .service(web::resource("/cases/{id}/transitions").post(transition))
        .service(web::resource("/cases/{id}/reassign").post(reassign))
        .service(web::resource("/cases/{id}/inspections").get(list_inspections).post(add_inspection));
}

/// Lists the cases in the caller's scope (a town officer: the town's; the
/// bureau: all, including the unassigned queue), filtered and paged.
#[utoipa::path(get, path = "/api/v1/cases", tag = "cases", security(("bearer" = [])), params(CaseFilter),
    responses((status = 200, body = CasePage),
              (status = 400, description = "`invalid_query`: a bad limit, status, source, bbox, campaign or cursor", body = ErrorBody),
              (status = 403, description = "`out_of_scope`: `town` is another town, or `unassigned` asked by a town officer or patrol inspector", body = ErrorBody),
              (status = 422, description = "`unknown_town` (`town`), `coordinate_out_of_range` (`bbox`)", body = ErrorBody)))]
pub async fn list(state: web::Data<AppState>, user: AuthUser, q: web::Query<CaseFilter>) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(service::list(&state, &user, &q, 500).await?))
}

/// The cases in scope as a GeoJSON FeatureCollection (for QGIS): the patch
/// polygon where there is one, else the point; same filters as `GET /cases`.
/// A GIS tool that can not refresh a bearer token adds `feed_token=` (a
/// read-only feed token, `POST /feed-tokens`): the feed reads as the token's
/// user; the `Authorization` header wins.
#[utoipa::path(get, path = "/api/v1/cases.geojson", tag = "cases", security(("bearer" = []), ("feed" = [])), params(CaseExportFilter),
    responses((status = 200, description = "GeoJSON FeatureCollection", content_type = "application/geo+json", body = Object,
        example = json!({"type": "FeatureCollection", "features": [{"type": "Feature", "id": "0193a4f2-7c1e-7d3a-9b1e-2f4c5d6e7fa0",
            "geometry": {"type": "Point", "coordinates": [117.295129, 39.733503]}, "properties": {"case_number": "BD-2017-00001", "status": "registered", "town_code": "120115001"}}]})),
        (status = 400, description = "`invalid_query`: a bad limit, status, source, bbox, campaign or cursor", body = ErrorBody),
        (status = 403, description = "`out_of_scope`: `town` is another town", body = ErrorBody),
        (status = 422, description = "`unknown_town` (`town`), `coordinate_out_of_range` (`bbox`)", body = ErrorBody)))]
pub async fn geojson(
    state: web::Data<AppState>,
    user: MaybeAuthUser,
    feed: web::Query<FeedQuery>,
    q: web::Query<CaseFilter>,
) -> ApiResult<HttpResponse> {
    let user = match (user.0, feed.feed_token.as_deref()) {
        (Some(u), _) => u,
        (None, Some(token)) => crate::auth::feeds::user_from_feed(&state, token).await?,
        (None, None) => return Err(ApiError::new(ErrorCode::Unauthenticated, "send a bearer token or a feed_token")),
    };
    let doc = service::geojson(&state, &user, &q).await?;
    Ok(HttpResponse::Ok().content_type("application/geo+json").json(doc))
}

/// The feed token of a `cases.geojson` request, if any.
#[derive(Debug, serde::Deserialize)]
pub struct FeedQuery {
    pub feed_token: Option<String>,
}

/// Enters a case. It is routed to the town containing its point (or holding
/// most of its polygon), gets its deadline from the campaign and a readable
/// number. A town officer may only enter cases in the own town. Retrying with
/// the same `id` returns the case already made (200) while the caller may see
/// it; once it has left the caller's scope the retry answers `404`.
#[utoipa::path(post, path = "/api/v1/cases", tag = "cases", security(("bearer" = [])), request_body = NewCase,
    responses((status = 201, body = CaseView), (status = 200, description = "retry of an earlier create", body = CaseView),
              (status = 403, description = "`forbidden`: the role may not enter cases of this source (verifiers none, inspectors only `patrol`, town officers not `satellite`); `out_of_scope`: a town officer's case outside the own town", body = ErrorBody),
              (status = 404, description = "`not_found`: a retry of the caller's own create whose case has since left the caller's scope (reassigned to another town) or was deleted; nothing of it is shown", body = ErrorBody),
              (status = 409, description = "`duplicate_record`: another user's case has this `id`", body = ErrorBody),
              (status = 422, description = "`coordinate_out_of_range`, `invalid_geometry` (polygon), `validation_failed` (lengths, photos), `no_active_campaign`", body = ErrorBody)))]
pub async fn create(state: web::Data<AppState>, user: AuthUser, body: web::Json<NewCase>) -> ApiResult<HttpResponse> {
    let (created, case) = service::create(&state, &user, body.into_inner()).await?;
    Ok(crate::error::created_or_ok(created, &case))
}

/// One case with its ledger.
#[utoipa::path(get, path = "/api/v1/cases/{id}", tag = "cases", security(("bearer" = [])),
    params(("id" = RecordId, Path, description = "case id: its UUID, or the 16-character WatermelonDB id of a case made on a phone")),
    responses((status = 200, body = CaseDetail), (status = 404, description = "`not_found` (also another town's case)", body = ErrorBody)))]
pub async fn get(state: web::Data<AppState>, user: AuthUser, id: web::Path<RecordId>) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(service::get(&state, &user, id.0).await?))
}

/// Changes some fields of a case (not its status: see transitions).
#[utoipa::path(patch, path = "/api/v1/cases/{id}", tag = "cases", security(("bearer" = [])), request_body = CasePatch,
    params(("id" = RecordId, Path, description = "case id: its UUID, or the 16-character WatermelonDB id of a case made on a phone")),
    responses((status = 200, body = CaseView), (status = 403, description = "`forbidden`: verifiers", body = ErrorBody),
              (status = 404, description = "`not_found` (also another town's case)", body = ErrorBody),
              (status = 409, description = "`stale_revision`", body = ErrorBody),
              (status = 422, description = "`immutable_field` / `status_via_transition` / `validation_failed` / `coordinate_out_of_range` / `invalid_geometry`", body = ErrorBody)))]
pub async fn patch(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<RecordId>,
    body: web::Json<CasePatch>,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(service::patch(&state, &user, id.0, body.into_inner()).await?))
}

/// The ledger of a case: every change, who, when, from which device, before and after.
#[utoipa::path(get, path = "/api/v1/cases/{id}/history", tag = "cases", security(("bearer" = [])),
    params(("id" = RecordId, Path, description = "case id: its UUID, or the 16-character WatermelonDB id of a case made on a phone")),
    responses((status = 200, body = [HistoryEntry]), (status = 404, description = "`not_found` (also another town's case)", body = ErrorBody)))]
pub async fn history(state: web::Data<AppState>, user: AuthUser, id: web::Path<RecordId>) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(service::history(&state, &user, id.0).await?))
}

/// Moves a case through its lifecycle, as the lifecycle table allows for the caller's role.
#[utoipa::path(post, path = "/api/v1/cases/{id}/transitions", tag = "cases", security(("bearer" = [])), request_body = TransitionRequest,
    params(("id" = RecordId, Path, description = "case id: its UUID, or the 16-character WatermelonDB id of a case made on a phone")),
    responses((status = 200, body = CaseView), (status = 403, description = "`transition_forbidden`", body = ErrorBody),
              (status = 404, description = "`not_found` (also another town's case)", body = ErrorBody), (status = 409, description = "`transition_conflict`", body = ErrorBody),
              (status = 422, description = "`invalid_transition` / `site_check_required` / `forced_demolition_unprepared` / `reason_required` / `validation_failed`", body = ErrorBody)))]
pub async fn transition(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<RecordId>,
    body: web::Json<TransitionRequest>,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(service::transition(&state, &user, id.0, body.into_inner()).await?))
}

/// Hands a case to another town (a town officer hands over their own case;
/// the bureau moves any, also to the unassigned queue).
#[utoipa::path(post, path = "/api/v1/cases/{id}/reassign", tag = "cases", security(("bearer" = [])), request_body = ReassignRequest,
    params(("id" = RecordId, Path, description = "case id: its UUID, or the 16-character WatermelonDB id of a case made on a phone")),
    responses((status = 200, body = CaseView),
              (status = 403, description = "`forbidden`: inspectors and verifiers; a town officer moving a case to the unassigned queue", body = ErrorBody),
              (status = 404, description = "`not_found` (also another town's case)", body = ErrorBody),
              (status = 422, description = "`unknown_town` / `reason_required` / `validation_failed`", body = ErrorBody)))]
pub async fn reassign(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<RecordId>,
    body: web::Json<ReassignRequest>,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(service::reassign(&state, &user, id.0, body.into_inner()).await?))
}

/// The inspections recorded on a case.
#[utoipa::path(get, path = "/api/v1/cases/{id}/inspections", tag = "cases", security(("bearer" = [])),
    params(("id" = RecordId, Path, description = "case id: its UUID, or the 16-character WatermelonDB id of a case made on a phone")),
    responses((status = 200, body = [InspectionView]), (status = 404, description = "`not_found` (also another town's case)", body = ErrorBody)))]
pub async fn list_inspections(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<RecordId>,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(service::inspections_of(&state, &user, id.0).await?))
}

/// Records an inspection (patrol, site check, rectification check, acceptance)
/// on a case. A site check with result `illegal` lets a satellite lead be registered.
#[utoipa::path(post, path = "/api/v1/cases/{id}/inspections", tag = "cases", security(("bearer" = [])), request_body = NewInspection,
    params(("id" = RecordId, Path, description = "case id: its UUID, or the 16-character WatermelonDB id of a case made on a phone")),
    responses((status = 201, body = InspectionView), (status = 200, description = "retry of an earlier request", body = InspectionView),
              (status = 403, description = "`forbidden`: an acceptance needs a verifier or the bureau; other kinds an inspector, town officer or the bureau", body = ErrorBody),
              (status = 404, description = "`not_found` (also another town's case, and a retry whose inspection the caller no longer sees)", body = ErrorBody),
              (status = 409, description = "`duplicate_record`: the `id` names another inspection", body = ErrorBody),
              (status = 422, description = "`validation_failed` (a result the kind does not record, lengths, photos) / `coordinate_out_of_range`", body = ErrorBody)))]
pub async fn add_inspection(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<RecordId>,
    body: web::Json<NewInspection>,
) -> ApiResult<HttpResponse> {
    let (created, v) = service::add_inspection(&state, &user, id.0, body.into_inner()).await?;
    Ok(crate::error::created_or_ok(created, &v))
}

/// Options of a patch import.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// Source of features without a `source` property (default `satellite`).
    pub source: Option<CaseSource>,
    /// A zipped shapefile's coordinate system, `EPSG:NNNN`, over its `.prj`:
    /// 4490 or 4326 (lon/lat), 4513–4533 (CGCS2000 3° Gauss-Krüger zones 25–45),
    /// 4534–4554 (3°, by central meridian 75°E–135°E), 4491–4501 and 4502–4512
    /// (6°). Without it the `.prj` decides.
    #[param(example = "EPSG:4527")]
    pub crs: Option<String>,
}

/// Imports patches (bureau admin): a GeoJSON FeatureCollection of polygons with
/// a `patch_id` property each, or (`Content-Type: application/zip`) a zipped ESRI
/// shapefile as the ministry delivers it: CGCS2000 Gauss-Krüger or lon/lat, GBK
/// text, columns such as `TBBH` (patch number), `JCMJ`, `BHLX`, `XZQMC`, `JCSJ`
/// (see the patch import guide). Every patch becomes a case routed to the town
/// holding most of its area, with its area in m². All or nothing; re-importing
/// is safe (a patch number already imported for the source is left unchanged).
#[utoipa::path(post, path = "/api/v1/cases/import", tag = "cases", security(("bearer" = [])), params(ImportQuery),
    request_body(description = "GeoJSON FeatureCollection of Polygon/MultiPolygon features, or a zip archive holding one shapefile (`.shp`, `.dbf`, and `.shx`, `.prj`, `.cpg`), at most 16 MiB",
        content(
            (Object = "application/json", example = json!({"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"patch_id": "WP-2017-001", "description": "新增建设用地"},
                "geometry": {"type": "Polygon", "coordinates": [[[117.2950, 39.7334], [117.2953, 39.7334], [117.2953, 39.7336], [117.2950, 39.7336], [117.2950, 39.7334]]]}}]})),
            (inline(ShapefileZip) = "application/zip"))),
    responses((status = 200, body = PatchImportReport), (status = 403, description = "`forbidden`: only the bureau imports", body = ErrorBody),
              (status = 400, description = "`invalid_json` / `invalid_query` (a bad `source`, or a `crs` that is not a supported EPSG code) / `body_incomplete`", body = ErrorBody),
              (status = 413, description = "`payload_too_large`: JSON over `server.json_limit_bytes`, a zip over 16 MiB", body = ErrorBody),
              (status = 415, description = "`unsupported_media_type`: neither JSON nor a zip", body = ErrorBody),
              (status = 422, description = "`invalid_geometry` / `validation_failed` (a feature without `patch_id`); `invalid_shapefile`: the zip or shapefile can not be read (`details.kind`: `zip`, `no_shp`, `several_shp`, `missing_file`, `too_large`, `shp`, `dbf`, `crs`, `no_patch_column`, …) or rows can not be imported (`details.kind` `rows`, `details.rows`: `row`, `patch_id`, `reason`)", body = ErrorBody,
                  example = json!({"error": {"code": "invalid_shapefile", "message": "1 of 2 rows can not be imported (row 1: shape type Point: only Polygon, PolygonZ and PolygonM records are patches); nothing was imported",
                      "details": {"kind": "rows", "row": 1, "rows": [{"row": 1, "patch_id": "PT-02", "reason": "shape type Point: only Polygon, PolygonZ and PolygonM records are patches"}]}}}))))]
pub async fn import_patches(
    state: web::Data<AppState>,
    user: AuthUser,
    q: web::Query<ImportQuery>,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    user.require(&[Role::BureauAdmin])?;
    let source = q.source.unwrap_or(CaseSource::Satellite);
    let crs = match q.crs.as_deref() {
        Some(c) => Some(
            landpatrol_patchfile::Crs::from_epsg(c)
                .map_err(|e| ApiError::new(ErrorCode::InvalidQuery, format!("crs: {e}")))?,
        ),
        None => None,
    };
    let ct = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let ct = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    let (doc, file) = match ct.as_str() {
        "application/zip" | "application/x-zip-compressed" => {
            let body = crate::error::read_limited(payload, import::MAX_ZIP_BYTES, "the zip").await?;
            let (doc, info) = import::read_zip(&body, crs.as_ref())?;
            (doc, Some(info))
        }
        json if json.ends_with("/json") || json.ends_with("+json") => {
            let body = crate::error::read_limited(payload, state.settings.server.json_limit_bytes, "the body").await?;
            let doc: serde_json::Value = serde_json::from_slice(&body)
                .map_err(|e| ApiError::new(ErrorCode::InvalidJson, format!("the body is not JSON: {e}")))?;
            (doc, None)
        }
        _ => {
            return Err(ApiError::new(
                ErrorCode::UnsupportedMediaType,
                "expected Content-Type: application/json (GeoJSON) or application/zip (a shapefile)",
            ));
        }
    };
    let mut report = import::import_patches(&state, &Actor::from(&user), &doc, source, |_, _| {}).await?;
    report.file = file;
    Ok(HttpResponse::Ok().json(report))
}
