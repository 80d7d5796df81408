//! What every request handler can reach.

use std::sync::{Arc, Mutex};

use landpatrol_sync::{Hlc, HlcClock};

use sea_orm::DatabaseConnection;

use crate::alerts::AlertHub;
use crate::auth::token::Keys;
use crate::config::Settings;
use crate::photos::PhotoRuntime;
use crate::telemetry::Metrics;
use crate::towns::TownCache;

/// Shared application state (cheap to clone).
#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub settings: Arc<Settings>,
    pub keys: Arc<Keys>,
    pub towns: TownCache,
    pub metrics: Arc<Metrics>,
    /// The server's hybrid logical clock, advanced by every op it receives.
    pub hlc: Arc<Mutex<HlcClock>>,
    /// Photo storage, decode limits and the thumbnail pool.
    pub photos: Arc<PhotoRuntime>,
    /// Live fan-out of new alerts and the webhook worker's wake-up.
    pub alerts: Arc<AlertHub>,
    /// Per-instance rate limits of public tips and anonymous photo uploads.
    pub tip_limits: Arc<crate::tips::ratelimit::TipLimits>,
    /// Failed logins per username and client address (this instance).
    pub login_throttle: Arc<crate::auth::throttle::LoginThrottle>,
}

impl AppState {
    pub fn refresh_ttl_days(&self) -> i64 {
        i64::try_from(self.settings.auth.refresh_ttl_days).unwrap_or(30)
    }

    fn clock(&self) -> std::sync::MutexGuard<'_, HlcClock> {
        match self.hlc.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// A fresh server stamp.
    pub fn hlc_now(&self) -> Hlc {
        let now = u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or(0);
        self.clock().now(now)
    }

    /// Receives a client stamp: adopted unless it is too far ahead, in which
    /// case the op is re-stamped with the server clock (`true`).
    pub fn hlc_observe(&self, remote: &Hlc) -> (Hlc, bool) {
        let now = u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or(0);
        let skew = self.settings.sync.max_skew_secs.saturating_mul(1000);
        let observed = self.clock().observe(remote, now, skew);
        (if observed.restamped { observed.stamp } else { remote.clone() }, observed.restamped)
    }
}
