//! HTTP handlers for `/campaigns`.

use actix_web::{HttpResponse, web};
use landpatrol_sync::error::ErrorBody;

use super::{CampaignView, NewCampaign};
use crate::auth::AuthUser;
use crate::error::ApiResult;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/campaigns").get(list).post(create));
}

/// Lists campaigns, newest first.
#[utoipa::path(get, path = "/api/v1/campaigns", tag = "campaigns", security(("bearer" = [])),
    responses((status = 200, body = [CampaignView])))]
pub async fn list(state: web::Data<AppState>, _user: AuthUser) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(super::list(&state.db).await?))
}

/// Creates a campaign (bureau admin). Deadlines of new cases come from the
/// campaign covering their discovery date.
#[utoipa::path(post, path = "/api/v1/campaigns", tag = "campaigns", security(("bearer" = [])), request_body = NewCampaign,
    responses((status = 201, body = CampaignView), (status = 403, description = "`forbidden`: only the bureau admin", body = ErrorBody),
              (status = 422, description = "`validation_failed`: name, ends_on before starts_on, patrol_days / tip_days, targets", body = ErrorBody)))]
pub async fn create(
    state: web::Data<AppState>,
    user: AuthUser,
    body: web::Json<NewCampaign>,
) -> ApiResult<HttpResponse> {
    user.require(super::MANAGERS)?;
    let defaults = (state.settings.campaign.patrol_deadline_days, state.settings.campaign.tip_deadline_days);
    let c = super::create(&state.db, body.into_inner(), defaults, Some(user.id)).await?;
    Ok(HttpResponse::Created().json(c))
}
