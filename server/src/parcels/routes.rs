//! HTTP handlers for `/parcels`.

use actix_web::{HttpRequest, HttpResponse, web};
use landpatrol_sync::error::ErrorBody;
use uuid::Uuid;

use super::service;
use super::types::*;
use crate::auth::AuthUser;
use crate::error::ApiResult;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/parcels").get(list).post(create))
        .service(web::resource("/parcels/import").post(import))
        .service(web::resource("/parcels/{id}").get(get).patch(patch).delete(delete))
        .service(web::resource("/parcels/{id}/disposals").get(list_disposals).post(dispose));
}

/// Enters a parcel (出让/划拨 land with an agreed construction start). The
/// bureau enters any town's; a town office only its own (`403
/// out_of_scope` otherwise). Without `town` the parcel is routed to the town
/// containing its polygon or point.
#[utoipa::path(post, path = "/api/v1/parcels", tag = "parcels", security(("bearer" = [])), request_body = NewParcel,
    responses(
        (status = 201, description = "Created", body = ParcelView),
        (status = 400, description = "`invalid_json` (also unknown fields, wrong types, NaN)", body = ErrorBody),
        (status = 403, description = "`forbidden` (inspectors, verifiers) / `out_of_scope` (another town)", body = ErrorBody),
        (status = 409, description = "`duplicate_record`: the code exists", body = ErrorBody),
        (status = 422, description = "`validation_failed` (details.field: code, holder, area_m2, agreed_start, actual_start, location) / `coordinate_out_of_range` / `invalid_geometry` / `unknown_town`", body = ErrorBody)))]
pub async fn create(state: web::Data<AppState>, user: AuthUser, body: web::Json<NewParcel>) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Created().json(service::create(&state, &user, body.into_inner()).await?))
}

/// The parcels in the caller's scope, newest first (inspectors and verifiers read too).
#[utoipa::path(get, path = "/api/v1/parcels", tag = "parcels", security(("bearer" = [])), params(ParcelFilter),
    responses((status = 200, body = ParcelPage),
              (status = 400, description = "`invalid_query` (limit, status, cursor)", body = ErrorBody),
              (status = 403, description = "`out_of_scope`: `town` is another town", body = ErrorBody),
              (status = 422, description = "`unknown_town`", body = ErrorBody)))]
pub async fn list(state: web::Data<AppState>, user: AuthUser, q: web::Query<ParcelFilter>) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(service::list(&state, &user, &q).await?))
}

/// One parcel; another town's is `404`.
#[utoipa::path(get, path = "/api/v1/parcels/{id}", tag = "parcels", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "parcel id")),
    responses((status = 200, body = ParcelView), (status = 404, description = "`not_found` (also another town's)", body = ErrorBody)))]
pub async fn get(state: web::Data<AppState>, user: AuthUser, id: web::Path<Uuid>) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(service::get(&state, &user, *id).await?))
}

/// Changes holder, area or (while `active`) the start dates. `code` never changes.
#[utoipa::path(patch, path = "/api/v1/parcels/{id}", tag = "parcels", security(("bearer" = [])), request_body = ParcelPatch,
    params(("id" = Uuid, Path, description = "parcel id")),
    responses(
        (status = 200, body = ParcelView),
        (status = 400, description = "`invalid_json` (also unknown fields)", body = ErrorBody),
        (status = 403, description = "`forbidden`: inspectors and verifiers", body = ErrorBody),
        (status = 404, description = "`not_found` (also another town's)", body = ErrorBody),
        (status = 422, description = "`immutable_field` (code) / `validation_failed`", body = ErrorBody)))]
pub async fn patch(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
    body: web::Json<ParcelPatch>,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(service::patch(&state, &user, *id, body.into_inner()).await?))
}

/// Deletes a parcel entered by mistake, while it is `active`; an idle or
/// disposed parcel stays on record (its idle-land case and disposals refer
/// to it). Town officers' devices get the deletion through sync; past
/// progress reports keep the parcel as it was. Deleting again answers `204`.
#[utoipa::path(delete, path = "/api/v1/parcels/{id}", tag = "parcels", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "parcel id")),
    responses(
        (status = 204, description = "Deleted (or deleted already)"),
        (status = 403, description = "`forbidden`: inspectors and verifiers", body = ErrorBody),
        (status = 404, description = "`not_found` (also another town's)", body = ErrorBody),
        (status = 422, description = "`validation_failed`: status (the parcel is idle or disposed)", body = ErrorBody)))]
pub async fn delete(state: web::Data<AppState>, user: AuthUser, id: web::Path<Uuid>) -> ApiResult<HttpResponse> {
    service::delete(&state, &user, *id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Records a disposal of an idle parcel, which closes it (`disposed`);
/// `construction_started` also sets `actual_start`. The date may not be
/// after today nor before the agreed start. The parcel's idle-land case gets
/// a `parcel_disposed` ledger entry (its status stays the office's to move).
/// With a client `id`, a retry answers `200` with the disposal already recorded.
#[utoipa::path(post, path = "/api/v1/parcels/{id}/disposals", tag = "parcels", security(("bearer" = [])),
    request_body = NewDisposal, params(("id" = Uuid, Path, description = "parcel id")),
    responses(
        (status = 201, body = DisposalRecorded),
        (status = 200, description = "a retry of a disposal recorded under the same id", body = DisposalRecorded),
        (status = 409, description = "`duplicate_record`: the id names another disposal", body = ErrorBody),
        (status = 400, description = "`invalid_json`", body = ErrorBody),
        (status = 403, description = "`forbidden`: inspectors and verifiers", body = ErrorBody),
        (status = 404, description = "`not_found` (also another town's)", body = ErrorBody),
        (status = 422, description = "`validation_failed`: disposed_on, fee_fen, note, or status (the parcel is not idle)", body = ErrorBody)))]
pub async fn dispose(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
    body: web::Json<NewDisposal>,
) -> ApiResult<HttpResponse> {
    let (created, recorded) = service::dispose(&state, &user, *id, body.into_inner()).await?;
    Ok(crate::error::created_or_ok(created, &recorded))
}

/// The disposals of a parcel, oldest first.
#[utoipa::path(get, path = "/api/v1/parcels/{id}/disposals", tag = "parcels", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "parcel id")),
    responses((status = 200, body = Vec<DisposalView>), (status = 404, description = "`not_found` (also another town's)", body = ErrorBody)))]
pub async fn list_disposals(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(service::disposals(&state, &user, *id).await?))
}

/// Imports parcels from CSV (`Content-Type: text/csv`, UTF-8 with or without
/// BOM). Header: `code,holder,area_m2,agreed_start,actual_start,lon,lat,town`
/// (lon/lat WGS-84; `town` a code, optional: routed when empty). All or
/// nothing: any bad row refuses the file with every row error in
/// `details.errors` as `{row, field, message}`. A code already stored updates
/// that parcel, so importing the same file again changes nothing.
#[utoipa::path(post, path = "/api/v1/parcels/import", tag = "parcels", security(("bearer" = [])),
    request_body(content = String, content_type = "text/csv",
        example = "code,holder,area_m2,agreed_start,actual_start,lon,lat,town\n津宝出让(2016)012号,天津宝坻某某置业有限公司,12500.5,2016-03-01,,117.295129,39.733503,120115001\n"),
    responses(
        (status = 200, body = ParcelImportReport),
        (status = 400, description = "`body_incomplete`: the body broke off", body = ErrorBody),
        (status = 403, description = "`forbidden`: inspectors and verifiers", body = ErrorBody),
        (status = 409, description = "`duplicate_record`: another import or entry made a parcel of the same code meanwhile; nothing was imported", body = ErrorBody),
        (status = 413, description = "`payload_too_large`: over 8 MiB", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: not text/csv", body = ErrorBody),
        (status = 422, description = "`validation_failed`: details.errors lists {row, field, message}; or details.field header/body (not UTF-8, empty, too many rows)", body = ErrorBody)))]
pub async fn import(
    state: web::Data<AppState>,
    user: AuthUser,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let body = crate::csv::read_body(&req, payload).await?;
    Ok(HttpResponse::Ok().json(service::import_csv(&state, &user, &body).await?))
}
