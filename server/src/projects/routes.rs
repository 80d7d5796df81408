//! HTTP handlers for `/projects`.

use actix_web::{HttpResponse, web};
use landpatrol_sync::error::ErrorBody;
use uuid::Uuid;

use super::service;
use super::types::*;
use crate::auth::AuthUser;
use crate::error::ApiResult;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/projects").get(list).post(create))
        .service(web::resource("/projects/{id}").get(get))
        .service(web::resource("/projects/{id}/steps").post(record_step));
}

/// Registers a village construction project, followed by its five-in-place
/// (五到位) steps. A town office registers its own town's; the bureau any.
#[utoipa::path(post, path = "/api/v1/projects", tag = "projects", security(("bearer" = [])), request_body = NewProject,
    responses(
        (status = 201, description = "Registered", body = ProjectView),
        (status = 400, description = "`invalid_json` (also unknown fields, wrong types)", body = ErrorBody),
        (status = 403, description = "`forbidden` (inspectors, verifiers) / `out_of_scope` (another town)", body = ErrorBody),
        (status = 422, description = "`validation_failed` (planned_end before planned_start, empty name, a location outside every town without `town`) / `unknown_town` / `coordinate_out_of_range`", body = ErrorBody)))]
pub async fn create(
    state: web::Data<AppState>,
    user: AuthUser,
    body: web::Json<NewProject>,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Created().json(service::create(&state, &user, body.into_inner()).await?))
}

/// The projects in the caller's scope, oldest first, each with its steps
/// and the steps missing as of today.
#[utoipa::path(get, path = "/api/v1/projects", tag = "projects", security(("bearer" = [])), params(ProjectQuery),
    responses((status = 200, body = ProjectPage), (status = 400, description = "`invalid_query`: limit, cursor", body = ErrorBody),
              (status = 403, description = "`out_of_scope` (`town` is another town)", body = ErrorBody),
              (status = 422, description = "`unknown_town`", body = ErrorBody)))]
pub async fn list(state: web::Data<AppState>, user: AuthUser, q: web::Query<ProjectQuery>) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(service::list(&state, &user, &q).await?))
}

/// One project with its steps and `missing`: the steps due by today and not
/// recorded (the first three are due before the planned start, construction
/// supervision by the planned start + 30 days, completion acceptance by the
/// planned end).
#[utoipa::path(get, path = "/api/v1/projects/{id}", tag = "projects", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "project id")),
    responses((status = 200, body = ProjectView),
              (status = 404, description = "`not_found`: no such project, or another town's", body = ErrorBody)))]
pub async fn get(state: web::Data<AppState>, user: AuthUser, id: web::Path<Uuid>) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(service::get(&state, &user, *id).await?))
}

/// Records one of the five steps with its date, the person in place and
/// photo evidence (linked as `project_step`). Each step once: the same step
/// sent again with the same content answers `200`, with other content `409`.
#[utoipa::path(post, path = "/api/v1/projects/{id}/steps", tag = "projects", security(("bearer" = [])), request_body = NewStep,
    params(("id" = Uuid, Path, description = "project id")),
    responses(
        (status = 201, description = "Recorded; the project after it", body = ProjectView),
        (status = 200, description = "The same step was recorded before: nothing new was made", body = ProjectView),
        (status = 400, description = "`invalid_json`", body = ErrorBody),
        (status = 403, description = "`forbidden` (verifiers)", body = ErrorBody),
        (status = 404, description = "`not_found`: no such project, or another town's", body = ErrorBody),
        (status = 409, description = "`duplicate_record`: the step is recorded with other content (details.existing)", body = ErrorBody),
        (status = 422, description = "`validation_failed`: unknown step, done_on in the future, no person, a bad photo hash", body = ErrorBody)))]
pub async fn record_step(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
    body: web::Json<NewStep>,
) -> ApiResult<HttpResponse> {
    let (created, view) = service::record_step(&state, &user, *id, body.into_inner()).await?;
    Ok(crate::error::created_or_ok(created, &view))
}
