//! HTTP handlers for `/approvals`.

use actix_web::{HttpRequest, HttpResponse, web};
use landpatrol_sync::error::ErrorBody;
use uuid::Uuid;

use super::service;
use super::types::*;
use crate::auth::AuthUser;
use crate::error::ApiResult;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/approvals/import").post(import))
        .service(web::resource("/approvals").get(list).post(create))
        .service(web::resource("/approvals/{id}").get(get).patch(patch).delete(delete))
        .service(web::resource("/approvals/{id}/supplies").get(list_supplies).post(add_supply));
}

/// Registers an approval (批文) of land for conversion. A town office
/// registers its own town's; the bureau any town's. Sending the same approval
/// again answers `200` with the existing one.
#[utoipa::path(post, path = "/api/v1/approvals", tag = "land supply", security(("bearer" = [])), request_body = NewApproval,
    responses(
        (status = 201, description = "Registered", body = ApprovalView),
        (status = 200, description = "The same approval was registered before: nothing new was made", body = ApprovalView),
        (status = 400, description = "`invalid_json` (also unknown fields, wrong types, NaN)", body = ErrorBody),
        (status = 403, description = "`forbidden` (inspectors, verifiers) / `out_of_scope` (another town)", body = ErrorBody),
        (status = 409, description = "`duplicate_record`: the number exists with other content", body = ErrorBody),
        (status = 422, description = "`validation_failed` (area not > 0, a future date, a bad number) / `unknown_town`", body = ErrorBody)))]
pub async fn create(
    state: web::Data<AppState>,
    user: AuthUser,
    body: web::Json<NewApproval>,
) -> ApiResult<HttpResponse> {
    let (created, view) = service::create(&state, &user, body.into_inner()).await?;
    Ok(crate::error::created_or_ok(created, &view))
}

/// The approvals in the caller's scope (a town office: its town's), oldest first.
#[utoipa::path(get, path = "/api/v1/approvals", tag = "land supply", security(("bearer" = [])), params(ApprovalQuery),
    responses((status = 200, body = ApprovalPage), (status = 400, description = "`invalid_query`: limit, cursor", body = ErrorBody),
              (status = 403, description = "`forbidden` (inspectors) / `out_of_scope` (`town` is another town)", body = ErrorBody),
              (status = 422, description = "`unknown_town`", body = ErrorBody)))]
pub async fn list(state: web::Data<AppState>, user: AuthUser, q: web::Query<ApprovalQuery>) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(service::list(&state, &user, &q).await?))
}

/// One approval with its approved and supplied area.
#[utoipa::path(get, path = "/api/v1/approvals/{id}", tag = "land supply", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "approval id")),
    responses((status = 200, body = ApprovalView),
              (status = 403, description = "`forbidden`: inspectors", body = ErrorBody),
              (status = 404, description = "`not_found`: no such approval, or another town's", body = ErrorBody)))]
pub async fn get(state: web::Data<AppState>, user: AuthUser, id: web::Path<Uuid>) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(service::get(&state, &user, *id).await?))
}

/// Changes an approval's date, area or note. The area can not fall below
/// what is supplied, the date not after the first supply.
#[utoipa::path(patch, path = "/api/v1/approvals/{id}", tag = "land supply", security(("bearer" = [])), request_body = ApprovalPatch,
    params(("id" = Uuid, Path, description = "approval id")),
    responses((status = 200, body = ApprovalView),
              (status = 400, description = "`invalid_json`", body = ErrorBody),
              (status = 403, description = "`forbidden`: inspectors and verifiers", body = ErrorBody),
              (status = 404, description = "`not_found`: no such approval, or another town's", body = ErrorBody),
              (status = 422, description = "`validation_failed`", body = ErrorBody)))]
pub async fn patch(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
    body: web::Json<ApprovalPatch>,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(service::update(&state, &user, *id, body.into_inner()).await?))
}

/// Deletes an approval entered by mistake, while no land was supplied under
/// it. Town officers' devices get the deletion through sync; past progress
/// reports keep it as it was. Deleting again answers `204`.
#[utoipa::path(delete, path = "/api/v1/approvals/{id}", tag = "land supply", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "approval id")),
    responses((status = 204, description = "Deleted (or deleted already)"),
              (status = 403, description = "`forbidden`: inspectors and verifiers", body = ErrorBody),
              (status = 404, description = "`not_found`: no such approval, or another town's", body = ErrorBody),
              (status = 422, description = "`validation_failed`: supplies (land was supplied under it)", body = ErrorBody)))]
pub async fn delete(state: web::Data<AppState>, user: AuthUser, id: web::Path<Uuid>) -> ApiResult<HttpResponse> {
    service::delete(&state, &user, *id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The supplies of an approval, by date.
#[utoipa::path(get, path = "/api/v1/approvals/{id}/supplies", tag = "land supply", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "approval id")),
    responses((status = 200, body = [SupplyView]),
              (status = 403, description = "`forbidden`: inspectors", body = ErrorBody),
              (status = 404, description = "`not_found`: no such approval, or another town's", body = ErrorBody)))]
pub async fn list_supplies(state: web::Data<AppState>, user: AuthUser, id: web::Path<Uuid>) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(service::supplies(&state, &user, *id).await?))
}

/// Records land supplied (供地) under an approval. The supplies never exceed
/// the approved area; dates lie between the approval and today.
#[utoipa::path(post, path = "/api/v1/approvals/{id}/supplies", tag = "land supply", security(("bearer" = [])), request_body = NewSupply,
    params(("id" = Uuid, Path, description = "approval id")),
    responses(
        (status = 201, description = "Recorded", body = SupplyResult),
        (status = 200, description = "A supply with this `id` was recorded before: nothing new was made", body = SupplyResult),
        (status = 400, description = "`invalid_json`", body = ErrorBody),
        (status = 403, description = "`forbidden`: inspectors and verifiers", body = ErrorBody),
        (status = 404, description = "`not_found`: no such approval, or another town's", body = ErrorBody),
        (status = 409, description = "`duplicate_record`: the `id` was used for another supply", body = ErrorBody),
        (status = 422, description = "`validation_failed`: area not > 0 or beyond the approved area, supplied_on before the approval or in the future", body = ErrorBody)))]
pub async fn add_supply(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
    body: web::Json<NewSupply>,
) -> ApiResult<HttpResponse> {
    let (created, result) = service::add_supply(&state, &user, *id, body.into_inner()).await?;
    Ok(crate::error::created_or_ok(created, &result))
}

/// Imports approvals from CSV (`Content-Type: text/csv`, UTF-8 with or
/// without BOM). Header: `code,town,approved_on,approved_area_m2` and
/// optionally `supplied_area_m2,supplied_on` (one supply made per row) and
/// `note`. All or nothing: any bad row refuses the file with every row error
/// in `details.errors` (`{row, field, message}`, the header is row 1).
/// Importing the same file again changes nothing.
#[utoipa::path(post, path = "/api/v1/approvals/import", tag = "land supply", security(("bearer" = [])),
    request_body(content = String, content_type = "text/csv",
        example = json!("code,town,approved_on,approved_area_m2,supplied_area_m2,supplied_on\n津宝批〔2017〕12号,120115001,2017-03-15,20000,8000,2017-06-01\n")),
    responses(
        (status = 200, description = "Imported", body = ImportReport),
        (status = 400, description = "`body_incomplete`: the body broke off", body = ErrorBody),
        (status = 403, description = "`forbidden`: inspectors and verifiers", body = ErrorBody),
        (status = 409, description = "`duplicate_record`: another import or entry made an approval of the same number meanwhile; nothing was imported", body = ErrorBody),
        (status = 413, description = "`payload_too_large`: over 8 MiB", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: not text/csv", body = ErrorBody),
        (status = 422, description = "`validation_failed` with details.errors: nothing was imported", body = ErrorBody)))]
pub async fn import(
    state: web::Data<AppState>,
    user: AuthUser,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let body = crate::csv::read_body(&req, payload).await?;
    Ok(HttpResponse::Ok().json(service::import(&state, &user, &body).await?))
}
