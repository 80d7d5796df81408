//! The webhook outbox: each delivery (one alert owed to one webhook) is
//! claimed by one worker at a time through a lease in the database (`FOR
//! UPDATE SKIP LOCKED` on PostgreSQL, so several instances share the work),
//! signed, sent, logged, and retried with exponential backoff and jitter until
//! the receiver answers 2xx or the retry window closes (dead letter). A
//! worker that dies mid-delivery leaves its lease to expire: the delivery is
//! sent again (at least once; receivers drop duplicates by delivery id).

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use rand::Rng;
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, Set, Statement, TransactionTrait,
};
use serde::Serialize;
use sha2::Sha256;
use tokio::sync::Semaphore;
use utoipa::ToSchema;
use uuid::Uuid;

use super::egress::{self, GuardedResolver};
use super::service::{AlertView, view};
use crate::config::AlertSettings;
use crate::db::entities::{alerts, webhook_attempts, webhook_deliveries, webhooks};
use crate::error::ApiResult;
use crate::state::AppState;

/// Owed and not yet delivered.
pub const PENDING: &str = "pending";
/// Accepted by the receiver (2xx).
pub const DELIVERED: &str = "delivered";
/// Given up after the retry window; visible to the bureau, can be retried by hand.
pub const DEAD: &str = "dead";

/// The signature header: `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`.
pub const SIGNATURE_HEADER: &str = "X-Landpatrol-Signature";
/// The delivery id header: the same for every attempt of one delivery.
pub const DELIVERY_HEADER: &str = "X-Landpatrol-Delivery";
/// The alert kind, for receivers that route before parsing.
pub const EVENT_HEADER: &str = "X-Landpatrol-Event";

/// What a webhook receives.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookPayload {
    /// The same for every attempt of this delivery: drop repeats by it.
    pub delivery_id: Uuid,
    pub webhook_id: Uuid,
    /// `alert`, or `ping` for a test delivery.
    pub event: &'static str,
    pub alert: AlertView,
}

/// The signature header value for `body` sent at unix time `t`.
pub fn sign(secret: &str, t: i64, body: &[u8]) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(m) => m,
        // HMAC takes keys of any length; this branch is unreachable.
        Err(_) => return format!("t={t},v1="),
    };
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// Delay before the attempt after `attempts` failed ones: the base doubled
/// each time, capped, then a random point in its upper half (jitter spreads
/// the retries of many deliveries that failed together).
pub fn backoff(cfg: &AlertSettings, attempts: i32) -> Duration {
    let exp = u32::try_from(attempts.saturating_sub(1).clamp(0, 30)).unwrap_or(0);
    let full = Ord::min(cfg.retry_base_ms.saturating_mul(1u64 << exp), cfg.retry_max_delay_secs.saturating_mul(1000));
    let low = full / 2;
    let ms = if full > low { rand::thread_rng().gen_range(low..=full) } else { full };
    Duration::from_millis(ms)
}

/// How long a claimed delivery stays with its worker: twice the request
/// timeout, so a live worker always records its attempt first; a worker that
/// died leaves the delivery to be claimed again after this.
fn lease(cfg: &AlertSettings) -> chrono::Duration {
    chrono::Duration::seconds(i64::try_from(cfg.webhook_timeout_secs).unwrap_or(10).saturating_mul(2))
}

/// Claims up to `limit` due deliveries for this worker, in one statement:
/// on PostgreSQL rows another instance is claiming are skipped, not waited
/// for (`FOR UPDATE SKIP LOCKED`); SQLite has a single writer.
pub async fn claim(db: &DatabaseConnection, cfg: &AlertSettings, limit: u64) -> ApiResult<Vec<Uuid>> {
    let now = Utc::now();
    let until = now + lease(cfg);
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => {
            "UPDATE webhook_deliveries SET locked_until = $1, updated_at = $2 WHERE id IN (\
             SELECT id FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= $2 \
             AND (locked_until IS NULL OR locked_until < $2) \
             AND webhook_id IN (SELECT id FROM webhooks WHERE active) ORDER BY next_attempt_at LIMIT $3 \
             FOR UPDATE SKIP LOCKED) RETURNING id"
        }
        _ => {
            "UPDATE webhook_deliveries SET locked_until = ?1, updated_at = ?2 WHERE id IN (\
             SELECT id FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= ?2 \
             AND (locked_until IS NULL OR locked_until < ?2) \
             AND webhook_id IN (SELECT id FROM webhooks WHERE active) ORDER BY next_attempt_at LIMIT ?3) RETURNING id"
        }
    };
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(backend, sql, [until.into(), now.into(), limit.into()]))
        .await?;
    rows.iter().map(|r| r.try_get_by_index::<Uuid>(0).map_err(Into::into)).collect()
}

/// The webhook client: no redirects followed, no proxy from the environment
/// (a proxy resolves names itself, past the address check: only the one the
/// installation names in `webhooks.proxy` is used), and, unless the
/// installation allows private networks, every name resolved through
/// [`GuardedResolver`].
pub fn client(state: &AppState) -> reqwest::Result<reqwest::Client> {
    let cfg = &state.settings.webhooks;
    let mut b = reqwest::Client::builder()
        .timeout(Duration::from_secs(state.settings.alerts.webhook_timeout_secs))
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .user_agent(concat!("landpatrol-webhooks/", env!("CARGO_PKG_VERSION")));
    if !cfg.proxy.is_empty() {
        b = b.proxy(reqwest::Proxy::all(&cfg.proxy)?);
    }
    if !cfg.allow_private_networks {
        b = b.dns_resolver(Arc::new(GuardedResolver::system()));
    }
    b.build()
}

/// Runs the worker until the task is dropped.
pub async fn run(state: AppState) {
    let cfg = state.settings.alerts.clone();
    let client = match client(&state) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "webhook client could not be built; webhooks are not delivered");
            return;
        }
    };
    let slots = Arc::new(Semaphore::new(cfg.delivery_concurrency));
    // Deliveries in flight end with the worker (as they would with the process).
    let mut running = tokio::task::JoinSet::new();
    let poll = Duration::from_millis(cfg.outbox_poll_ms);
    loop {
        // Wait for a free slot, then claim as many deliveries as there are slots.
        while running.try_join_next().is_some() {}
        let Ok(first) = slots.clone().acquire_owned().await else { return };
        let free = u64::try_from(slots.available_permits()).unwrap_or(0) + 1;
        match claim(&state.db, &cfg, free).await {
            Ok(ids) if !ids.is_empty() => {
                let mut permit = Some(first);
                for id in ids {
                    let p = match permit.take() {
                        Some(p) => p,
                        None => match slots.clone().acquire_owned().await {
                            Ok(p) => p,
                            Err(_) => return,
                        },
                    };
                    let (state, client) = (state.clone(), client.clone());
                    running.spawn(async move {
                        if let Err(e) = deliver(&state, &client, id).await {
                            tracing::warn!(delivery = %id, error = %e, "webhook delivery bookkeeping failed");
                        }
                        drop(p);
                    });
                }
            }
            Ok(_) => {
                drop(first);
                state.alerts.outbox_wait(poll).await;
            }
            Err(e) => {
                drop(first);
                tracing::warn!(error = %e, "webhook outbox claim failed");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// One attempt of one claimed delivery, recorded.
pub async fn deliver(state: &AppState, client: &reqwest::Client, id: Uuid) -> ApiResult<()> {
    let db = &state.db;
    let cfg = &state.settings.alerts;
    let Some(d) = webhook_deliveries::Entity::find_by_id(id).one(db).await? else { return Ok(()) };
    if d.status != PENDING {
        return Ok(());
    }
    let hook = webhooks::Entity::find_by_id(d.webhook_id).one(db).await?;
    let alert = alerts::Entity::find_by_id(d.alert_id).one(db).await?;
    let (Some(hook), Some(alert)) = (hook, alert) else {
        return finish(db, &d, Outcome::Dead("the webhook was removed".into()), None).await;
    };
    if !hook.active {
        // Paused after the claim: leave the delivery owed, untried.
        return finish(db, &d, Outcome::Retry(d.next_attempt_at, d.last_error.clone()), None).await;
    }
    let payload =
        WebhookPayload { delivery_id: d.id, webhook_id: hook.id, event: "alert", alert: view(&alert, &state.towns) };
    let body = serde_json::to_vec(&payload).map_err(crate::error::ApiError::internal)?;
    let started = Instant::now();
    let allow = state.settings.webhooks.allow_private_networks;
    let sent = match egress::check(&hook.url, allow) {
        Ok(_) => send(client, &hook, d.id, &alert.kind, body).await,
        // Registered before the rule, or under a setting since turned off.
        Err(e) => Sent { status: None, error: Some(e.to_string()), refused: true },
    };
    let Sent { status, error, refused } = sent;
    let elapsed = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    let outcome = match status {
        // Nothing was sent: an address refused stays refused, so no retries.
        _ if refused => Outcome::Dead(error.clone().unwrap_or_default()),
        Some(s) if (200..300).contains(&s) => Outcome::Delivered,
        _ => {
            let attempts = d.attempts + 1;
            let wait = backoff(cfg, attempts);
            let next = Utc::now() + chrono::Duration::from_std(wait).unwrap_or_else(|_| chrono::Duration::hours(1));
            let window = chrono::Duration::seconds(i64::try_from(cfg.retry_window_secs).unwrap_or(86_400));
            if next > d.created_at + window {
                Outcome::Dead(error.clone().unwrap_or_else(|| "retry window closed".into()))
            } else {
                Outcome::Retry(next, error.clone())
            }
        }
    };
    finish(db, &d, outcome, Some((status, elapsed))).await?;
    Ok(())
}

/// What one attempt came to.
struct Sent {
    /// The receiver's HTTP status, if it answered.
    status: Option<i32>,
    error: Option<String>,
    /// The address was refused ([`super::egress`]): nothing left the server.
    refused: bool,
}

/// Sends one signed request.
async fn send(client: &reqwest::Client, hook: &webhooks::Model, delivery: Uuid, kind: &str, body: Vec<u8>) -> Sent {
    let t = Utc::now().timestamp();
    let signature = sign(&hook.secret, t, &body);
    let sent = client
        .post(&hook.url)
        .header("Content-Type", "application/json")
        .header(SIGNATURE_HEADER, signature)
        .header(DELIVERY_HEADER, delivery.to_string())
        .header(EVENT_HEADER, kind)
        .body(body)
        .send()
        .await;
    match sent {
        Ok(resp) => {
            let status = i32::from(resp.status().as_u16());
            let error = (!resp.status().is_success()).then(|| format!("HTTP {status}"));
            Sent { status: Some(status), error, refused: false }
        }
        Err(e) => {
            if let Some(r) = egress::refused_in(&e) {
                return Sent { status: None, error: Some(r.to_string()), refused: true };
            }
            let what = if e.is_timeout() {
                "timed out"
            } else if e.is_connect() {
                "could not connect"
            } else {
                "request failed"
            };
            Sent { status: None, error: Some(format!("{what}: {e}")), refused: false }
        }
    }
}

enum Outcome {
    Delivered,
    Retry(DateTime<Utc>, Option<String>),
    Dead(String),
}

async fn finish(
    db: &DatabaseConnection,
    d: &webhook_deliveries::Model,
    outcome: Outcome,
    attempt: Option<(Option<i32>, i64)>,
) -> ApiResult<()> {
    let now = Utc::now();
    let status = attempt.and_then(|(s, _)| s);
    let attempts = if attempt.is_some() { d.attempts + 1 } else { d.attempts };
    let txn = db.begin().await?;
    let mut m: webhook_deliveries::ActiveModel = d.clone().into();
    m.attempts = Set(attempts);
    m.locked_until = Set(None);
    m.last_status = Set(status);
    m.updated_at = Set(now);
    let error = match outcome {
        Outcome::Delivered => {
            m.status = Set(DELIVERED.to_owned());
            m.delivered_at = Set(Some(now));
            m.last_error = Set(None);
            None
        }
        Outcome::Retry(next, error) => {
            m.next_attempt_at = Set(next);
            m.last_error = Set(error.clone());
            error
        }
        Outcome::Dead(error) => {
            m.status = Set(DEAD.to_owned());
            m.last_error = Set(Some(error.clone()));
            Some(error)
        }
    };
    m.update(&txn).await?;
    if let Some((_, elapsed_ms)) = attempt {
        webhook_attempts::ActiveModel {
            id: Set(Uuid::now_v7()),
            delivery_id: Set(d.id),
            attempt: Set(attempts),
            at: Set(now),
            status_code: Set(status),
            error: Set(error),
            duration_ms: Set(elapsed_ms),
        }
        .insert(&txn)
        .await?;
    }
    txn.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_sha256_of_timestamp_dot_body() {
        // Computed independently: printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac whsec_test
        let sig = sign("whsec_test", 1_700_000_000, br#"{"a":1}"#);
        assert_eq!(sig, "t=1700000000,v1=38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789");
    }

    #[test]
    fn backoff_doubles_within_jitter_and_is_capped() {
        let mut cfg = crate::config::Settings::defaults().unwrap().alerts;
        cfg.retry_base_ms = 1000;
        cfg.retry_max_delay_secs = 60;
        for attempts in 1..=10 {
            let full = (1000u64 << (attempts - 1)).min(60_000);
            let d = backoff(&cfg, attempts).as_millis() as u64;
            assert!(d >= full / 2 && d <= full, "attempt {attempts}: {d} ms not in {}..={full}", full / 2);
        }
    }
}
