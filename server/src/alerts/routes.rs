//! HTTP handlers for `/alerts` (inbox, acknowledgement, live stream) and
//! `/webhooks` (registration, delivery log, dead letters).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};
use landpatrol_sync::ErrorCode;
use landpatrol_sync::error::ErrorBody;
use sea_orm::DatabaseConnection;
use serde::Deserialize;
use tokio::sync::broadcast;
use utoipa::IntoParams;
use uuid::Uuid;

use super::service::{self, AlertPage, AlertQuery, AlertView};
use super::webhooks::{self, DeliveryQuery, DeliveryView, NewWebhook, WebhookPatch, WebhookView};
use crate::auth::AuthUser;
use crate::db::entities::alerts;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::towns::TownCache;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/alerts").get(list))
        .service(web::resource("/alerts/stream").get(stream))
        .service(web::resource("/alerts/{id}").get(get))
        .service(web::resource("/alerts/{id}/ack").post(ack))
        .service(web::resource("/webhooks").get(list_webhooks).post(create_webhook))
        .service(web::resource("/webhooks/{id}").get(get_webhook).patch(update_webhook).delete(delete_webhook))
        .service(web::resource("/webhooks/{id}/deliveries").get(webhook_deliveries))
        .service(web::resource("/webhook-deliveries").get(all_deliveries))
        .service(web::resource("/webhook-deliveries/{id}/retry").post(retry_delivery));
}

/// The caller's alerts, newest first: a town officer the town's, the bureau
/// all (including escalations, which are the bureau's own).
#[utoipa::path(get, path = "/api/v1/alerts", tag = "alerts", security(("bearer" = [])), params(AlertQuery),
    responses((status = 200, body = AlertPage), (status = 400, description = "`invalid_query`: an unknown kind, a bad limit", body = ErrorBody),
              (status = 403, description = "`forbidden`: inspectors and verifiers have no inbox", body = ErrorBody)))]
pub async fn list(state: web::Data<AppState>, user: AuthUser, q: web::Query<AlertQuery>) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(service::list(&state, &user, &q).await?))
}

/// One alert.
#[utoipa::path(get, path = "/api/v1/alerts/{id}", tag = "alerts", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = AlertView), (status = 403, description = "`forbidden`: inspectors and verifiers have no inbox", body = ErrorBody),
              (status = 404, description = "`not_found`: no such alert, or another town's", body = ErrorBody)))]
pub async fn get(state: web::Data<AppState>, user: AuthUser, id: web::Path<Uuid>) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(service::get(&state, &user, *id).await?))
}

/// Acknowledges an alert: records who and when. Acknowledging again changes
/// nothing and returns the first acknowledgement. An acknowledged alert is
/// never escalated.
#[utoipa::path(post, path = "/api/v1/alerts/{id}/ack", tag = "alerts", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = AlertView), (status = 403, description = "`forbidden`: inspectors and verifiers have no inbox", body = ErrorBody),
              (status = 404, description = "`not_found`: no such alert, or another town's", body = ErrorBody)))]
pub async fn ack(state: web::Data<AppState>, user: AuthUser, id: web::Path<Uuid>) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(service::ack(&state, &user, *id).await?))
}

/// Live-stream parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StreamQuery {
    /// The access token, for clients that can not send headers (browser `EventSource`).
    pub access_token: Option<String>,
    /// Resume after this event id (same as the `Last-Event-ID` header, which wins).
    pub last_event_id: Option<i64>,
}

/// The caller's new alerts as Server-Sent Events (`text/event-stream`): each
/// event is `id: <event_id>`, `event: alert`, `data: <alert JSON>`. A client
/// reconnecting with `Last-Event-ID` gets exactly the alerts it missed, then
/// the live ones; without it, only alerts from now on. A comment line
/// (`: heartbeat`) is sent every `alerts.heartbeat_secs` of silence. A slow
/// client falls behind on its own (it re-reads what it missed from the
/// database) and never holds up anyone else. The stream ends when the
/// access token expires (after a `: token expired` comment): reconnect with a
/// fresh token and `Last-Event-ID` to lose nothing.
#[utoipa::path(get, path = "/api/v1/alerts/stream", tag = "alerts", security(("bearer" = [])),
    params(StreamQuery, ("Last-Event-ID" = Option<i64>, Header, description = "The last event id received (wins over `last_event_id`)")),
    responses((status = 200, description = "An endless event stream; each item is one event (see the schema), e.g. \
        `retry: 3000` `: connected` (blank line) `id: 4711` `event: alert` `data: {\"id\": …, \"event_id\": 4711, \"kind\": \"case_new\", …}` \
        (blank line) `: heartbeat`.",
        content_type = "text/event-stream", body = inline(crate::openapi::AlertStreamEvent),
        headers(("Cache-Control" = String, description = "`no-cache`"))),
        (status = 400, description = "`invalid_query`: Last-Event-ID or last_event_id is not a number", body = ErrorBody),
        (status = 403, description = "`forbidden`: inspectors and verifiers have no inbox", body = ErrorBody)))]
pub async fn stream(
    req: HttpRequest,
    state: web::Data<AppState>,
    q: web::Query<StreamQuery>,
) -> ApiResult<HttpResponse> {
    let user = crate::auth::user_from_request_or_query(&req, &state, q.access_token.as_deref()).await?;
    user.require(service::READERS)?;
    let header = match req.headers().get("Last-Event-ID") {
        Some(v) => Some(v.to_str().ok().and_then(|s| s.trim().parse::<i64>().ok()).ok_or_else(|| {
            ApiError::new(ErrorCode::InvalidQuery, "Last-Event-ID must be an event id (a number)")
                .with_details(serde_json::json!({ "field": "Last-Event-ID" }))
        })?),
        None => None,
    };
    // Subscribe before reading the database, so nothing committed in between is missed.
    let rx = state.alerts.subscribe();
    let (cursor, catch_up) = match header.or(q.last_event_id) {
        Some(id) => (id.max(0), true),
        None => (super::hub::newest(&state.db).await?, false),
    };
    // The stream ends when the token does: the client reconnects with a fresh
    // token and `Last-Event-ID`, and loses nothing.
    let expires = user.expires_at.map(|exp| {
        let left = u64::try_from(exp - chrono::Utc::now().timestamp()).unwrap_or(0);
        tokio::time::Instant::now() + Duration::from_secs(left)
    });
    let live = Live {
        expires,
        ended: false,
        user,
        db: state.db.clone(),
        towns: state.towns.clone(),
        rx,
        cursor,
        catch_up,
        backlog: VecDeque::new(),
        heartbeat: tokio::time::interval_at(
            tokio::time::Instant::now() + Duration::from_secs(state.settings.alerts.heartbeat_secs),
            Duration::from_secs(state.settings.alerts.heartbeat_secs),
        ),
        started: false,
    };
    let body = futures_util::stream::unfold(live, |mut live| async move {
        let chunk = live.next().await?;
        Some((Ok::<_, std::convert::Infallible>(chunk), live))
    });
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("Cache-Control", "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(body))
}

/// One client's live stream.
struct Live {
    user: AuthUser,
    db: DatabaseConnection,
    towns: TownCache,
    rx: broadcast::Receiver<Arc<alerts::Model>>,
    /// The last event id sent (or the resume point).
    cursor: i64,
    /// The database holds alerts after `cursor` not yet sent.
    catch_up: bool,
    backlog: VecDeque<alerts::Model>,
    heartbeat: tokio::time::Interval,
    started: bool,
    /// When the caller's access token expires.
    expires: Option<tokio::time::Instant>,
    ended: bool,
}

impl Live {
    /// The next bytes to send; `None` ends the stream.
    async fn next(&mut self) -> Option<Bytes> {
        if self.ended {
            return None;
        }
        if !self.started {
            self.started = true;
            return Some(Bytes::from_static(b"retry: 3000\n: connected\n\n"));
        }
        loop {
            if let Some(a) = self.backlog.pop_front() {
                if let Some(event) = self.event(&a) {
                    return Some(event);
                }
                continue;
            }
            if self.catch_up {
                match service::since(&self.db, &self.user, self.cursor, 200).await {
                    Ok(rows) => {
                        self.catch_up = rows.len() == 200;
                        self.backlog.extend(rows);
                        continue;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "alert stream catch-up failed");
                        return None;
                    }
                }
            }
            tokio::select! {
                msg = self.rx.recv() => match msg {
                    Ok(a) => {
                        if let Some(event) = self.event(&a) {
                            return Some(event);
                        }
                    }
                    // Fell behind the broadcast: read what was missed from the database.
                    Err(broadcast::error::RecvError::Lagged(_)) => self.catch_up = true,
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
                _ = self.heartbeat.tick() => return Some(Bytes::from_static(b": heartbeat\n\n")),
                _ = sleep_until(self.expires), if self.expires.is_some() => {
                    self.ended = true;
                    return Some(Bytes::from_static(b": token expired; reconnect with a fresh token and Last-Event-ID\n\n"));
                }
            }
        }
    }

    /// The event for an alert the client has not had and may see.
    fn event(&mut self, a: &alerts::Model) -> Option<Bytes> {
        if a.created_seq <= self.cursor {
            return None;
        }
        self.cursor = a.created_seq;
        if !service::visible(&self.user, a.town_id) {
            return None;
        }
        self.heartbeat.reset();
        let data = serde_json::to_string(&service::view(a, &self.towns)).ok()?;
        Some(Bytes::from(format!("id: {}\nevent: alert\ndata: {data}\n\n", a.created_seq)))
    }
}

/// Registers a webhook for a town (a town officer: the own town; the bureau:
/// any town, or none for every alert). The answer carries the signing secret
/// once. Each alert is POSTed as JSON with `X-Landpatrol-Signature:
/// t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>` and
/// `X-Landpatrol-Delivery: <delivery id>`; any 2xx answer is success,
/// anything else is retried with backoff for up to `alerts.retry_window_secs`.
/// Redirects are not followed. The URL must reach a public address (checked
/// now, after resolving its name, and again on every delivery) unless the
/// installation sets `webhooks.allow_private_networks`; a town has at most
/// `webhooks.max_per_town` webhooks.
#[utoipa::path(post, path = "/api/v1/webhooks", tag = "webhooks", security(("bearer" = [])), request_body = NewWebhook,
    responses((status = 201, body = WebhookView),
              (status = 403, description = "`forbidden`: inspectors and verifiers; `out_of_scope`: another town", body = ErrorBody),
              (status = 409, description = "`webhook_limit_reached`: the town has `webhooks.max_per_town` webhooks", body = ErrorBody),
              (status = 422, description = "`webhook_url_invalid` / `webhook_url_forbidden` (an internal address: loopback, private, link-local, unique-local, metadata, internal names; unless `webhooks.allow_private_networks`) / `validation_failed` (secret, description) / `unknown_town`", body = ErrorBody)))]
pub async fn create_webhook(
    state: web::Data<AppState>,
    user: AuthUser,
    body: web::Json<NewWebhook>,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Created().json(webhooks::create(&state, &user, body.into_inner()).await?))
}

/// The webhooks the caller manages (secrets are not shown).
#[utoipa::path(get, path = "/api/v1/webhooks", tag = "webhooks", security(("bearer" = [])),
    responses((status = 200, body = [WebhookView]), (status = 403, description = "`forbidden`: inspectors and verifiers", body = ErrorBody)))]
pub async fn list_webhooks(state: web::Data<AppState>, user: AuthUser) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(webhooks::list(&state, &user).await?))
}

/// One webhook.
#[utoipa::path(get, path = "/api/v1/webhooks/{id}", tag = "webhooks", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = WebhookView), (status = 403, description = "`forbidden`: inspectors and verifiers", body = ErrorBody),
              (status = 404, description = "`not_found`: no such webhook, or another town's", body = ErrorBody)))]
pub async fn get_webhook(state: web::Data<AppState>, user: AuthUser, id: web::Path<Uuid>) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(webhooks::get(&state, &user, *id).await?))
}

/// Changes a webhook: URL, `active` (a paused webhook is not sent to; its
/// deliveries wait), description, or a new secret.
#[utoipa::path(patch, path = "/api/v1/webhooks/{id}", tag = "webhooks", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = WebhookPatch,
    responses((status = 200, body = WebhookView), (status = 403, description = "`forbidden`: inspectors and verifiers", body = ErrorBody),
              (status = 404, description = "`not_found`: no such webhook, or another town's", body = ErrorBody),
              (status = 422, description = "`webhook_url_invalid` / `webhook_url_forbidden` (an internal address) / `validation_failed` (secret, description)", body = ErrorBody)))]
pub async fn update_webhook(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
    body: web::Json<WebhookPatch>,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(webhooks::update(&state, &user, *id, body.into_inner()).await?))
}

/// Removes a webhook; what was still owed to it is dead-lettered.
#[utoipa::path(delete, path = "/api/v1/webhooks/{id}", tag = "webhooks", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 204, description = "Removed"), (status = 403, description = "`forbidden`: inspectors and verifiers", body = ErrorBody),
              (status = 404, description = "`not_found`: no such webhook, or another town's", body = ErrorBody)))]
pub async fn delete_webhook(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    webhooks::delete(&state, &user, *id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The delivery log of a webhook, newest first, each with its attempts
/// (time, HTTP status or error, duration).
#[utoipa::path(get, path = "/api/v1/webhooks/{id}/deliveries", tag = "webhooks", security(("bearer" = [])),
    params(("id" = Uuid, Path), DeliveryQuery),
    responses((status = 200, body = [DeliveryView]), (status = 400, description = "`invalid_query`: status, limit", body = ErrorBody),
              (status = 403, description = "`forbidden`: inspectors and verifiers", body = ErrorBody),
              (status = 404, description = "`not_found`: no such webhook, or another town's", body = ErrorBody)))]
pub async fn webhook_deliveries(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
    q: web::Query<DeliveryQuery>,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(webhooks::deliveries(&state, &user, *id, &q).await?))
}

/// Every webhook's deliveries (bureau only); `?status=dead` is the dead-letter queue.
#[utoipa::path(get, path = "/api/v1/webhook-deliveries", tag = "webhooks", security(("bearer" = [])), params(DeliveryQuery),
    responses((status = 200, body = [DeliveryView]), (status = 400, description = "`invalid_query`: status, limit", body = ErrorBody),
              (status = 403, description = "`forbidden`: only the bureau admin", body = ErrorBody)))]
pub async fn all_deliveries(
    state: web::Data<AppState>,
    user: AuthUser,
    q: web::Query<DeliveryQuery>,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(webhooks::all_deliveries(&state, &user, &q).await?))
}

/// Sends a dead-lettered delivery again, under the same delivery id, with a
/// fresh retry window. A delivery that is not dead is left as it is.
#[utoipa::path(post, path = "/api/v1/webhook-deliveries/{id}/retry", tag = "webhooks", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 202, description = "Queued (a delivery that is not dead is left as it is)"),
              (status = 403, description = "`forbidden`: inspectors and verifiers", body = ErrorBody),
              (status = 404, description = "`not_found`: no such delivery, or another town's", body = ErrorBody),
              (status = 422, description = "`validation_failed`: the webhook is paused", body = ErrorBody)))]
pub async fn retry_delivery(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    webhooks::retry(&state, &user, *id).await?;
    Ok(HttpResponse::Accepted().finish())
}

/// Sleeps until `at` (forever when there is none).
async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
