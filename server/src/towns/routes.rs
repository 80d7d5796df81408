//! HTTP handlers for `/towns`.

use actix_web::{HttpResponse, web};
use landpatrol_sync::error::ErrorBody;
use landpatrol_sync::{Crs, GeoPoint, Role};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::TownRef;
use super::service::{self, TownDetail, TownImportReport, TownSummary};
use crate::auth::AuthUser;
use crate::error::ApiResult;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/towns").get(list))
        .service(web::resource("/towns.geojson").get(outlines))
        .service(web::resource("/towns/import").post(import))
        .service(web::resource("/towns/locate").get(locate))
        .service(web::resource("/towns/{id}").get(get));
}

/// Lists the towns.
#[utoipa::path(get, path = "/api/v1/towns", tag = "towns", security(("bearer" = [])),
    responses((status = 200, body = [TownSummary])))]
pub async fn list(state: web::Data<AppState>, _user: AuthUser) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(service::list(&state.db).await?))
}

/// Every town's outline, as a GeoJSON FeatureCollection (properties `code`
/// and `name`, WGS-84). No login needed: the public tip page draws it so a
/// member of the public can see which town a place is in; boundaries are
/// public facts.
#[utoipa::path(get, path = "/api/v1/towns.geojson", tag = "towns", security((), ("bearer" = [])),
    responses((status = 200, description = "A FeatureCollection", content_type = "application/geo+json", body = Object,
        example = json!({"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"code": "120115001", "name": "海滨街道"},
            "geometry": {"type": "Polygon", "coordinates": [[[117.28, 39.72], [117.33, 39.72], [117.33, 39.75], [117.28, 39.75], [117.28, 39.72]]]}}]}))))]
pub async fn outlines(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok()
        .content_type("application/geo+json")
        .insert_header(("Cache-Control", "public, max-age=300"))
        .json(service::outlines(&state.db).await?))
}

/// One town, by id or official code, with its boundary as GeoJSON.
#[utoipa::path(get, path = "/api/v1/towns/{id}", tag = "towns", security(("bearer" = [])),
    params(("id" = String, Path, description = "town id (UUID) or official code", example = "120115001")),
    responses((status = 200, body = TownDetail), (status = 404, description = "`not_found`", body = ErrorBody)))]
pub async fn get(state: web::Data<AppState>, _user: AuthUser, id: web::Path<String>) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(service::get(&state.db, &id).await?))
}

/// Imports town boundaries (bureau admin): a GeoJSON FeatureCollection of
/// Polygon/MultiPolygon features with `code` and `name` properties. Keyed by
/// code, so re-importing the same file changes nothing.
#[utoipa::path(post, path = "/api/v1/towns/import", tag = "towns", security(("bearer" = [])),
    request_body(content = Object, description = "GeoJSON FeatureCollection",
        example = json!({"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"code": "120115001", "name": "海滨街道"},
            "geometry": {"type": "Polygon", "coordinates": [[[117.28, 39.72], [117.33, 39.72], [117.33, 39.75], [117.28, 39.75], [117.28, 39.72]]]}}]})),
    responses((status = 200, body = TownImportReport), (status = 403, description = "`forbidden`: only the bureau admin", body = ErrorBody),
              (status = 422, description = "`invalid_geometry`: not a FeatureCollection, a feature without code or name, a bad polygon", body = ErrorBody)))]
pub async fn import(
    state: web::Data<AppState>,
    user: AuthUser,
    body: web::Json<serde_json::Value>,
) -> ApiResult<HttpResponse> {
    user.require(&[Role::BureauAdmin])?;
    let report = service::import(&state.db, &state.towns, &body, Some(user.id), |_, _| {}).await?;
    Ok(HttpResponse::Ok().json(report))
}

/// A point to route.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LocateQuery {
    /// Longitude.
    #[param(example = 117.301546, minimum = -180, maximum = 180)]
    pub lon: f64,
    /// Latitude.
    #[param(example = 39.734765, minimum = -90, maximum = 90)]
    pub lat: f64,
    /// `wgs84` (default), `gcj02` or `bd09`.
    pub crs: Option<Crs>,
}

/// Where a point belongs.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"town": {"id": "5d2e1f0a-3b4c-5d6e-8f70-8192a3b4c5d6", "code": "120115001", "name": "海滨街道"}, "unassigned": false,
    "near_boundary": false, "neighbour": null, "border_distance_m": 412.5, "point": {"lon": 117.295129, "lat": 39.733503, "crs": "wgs84"}}))]
pub struct LocateResponse {
    /// The responsible town, or null outside every town.
    pub town: Option<TownRef>,
    /// True when no town contains the point: it goes to the bureau's unassigned queue.
    pub unassigned: bool,
    /// Within the configured distance of a town border.
    pub near_boundary: bool,
    /// The town across the nearby border.
    pub neighbour: Option<TownRef>,
    /// Metres to the responsible town's border.
    pub border_distance_m: Option<f64>,
    /// The point converted to WGS-84.
    pub point: GeoPoint,
}

/// Routes a point to its responsible town (属地).
#[utoipa::path(get, path = "/api/v1/towns/locate", tag = "towns", security(("bearer" = [])), params(LocateQuery),
    responses((status = 200, body = LocateResponse),
              (status = 400, description = "`invalid_query`: lon or lat missing or not a number, an unknown crs", body = ErrorBody),
              (status = 422, description = "`coordinate_out_of_range`", body = ErrorBody)))]
pub async fn locate(
    state: web::Data<AppState>,
    _user: AuthUser,
    q: web::Query<LocateQuery>,
) -> ApiResult<HttpResponse> {
    let point = GeoPoint { lon: q.lon, lat: q.lat, crs: q.crs.unwrap_or_default(), accuracy_m: None, mock: false }
        .to_wgs84()?;
    let located = state.towns.locate(point.lon, point.lat);
    Ok(HttpResponse::Ok().json(LocateResponse {
        unassigned: located.town.is_none(),
        town: located.town,
        near_boundary: located.near_boundary,
        neighbour: located.neighbour,
        border_distance_m: located.border_distance_m,
        point,
    }))
}
