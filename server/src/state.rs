//! What every request handler can reach.

use std::sync::Arc;

use sea_orm::DatabaseConnection;

use crate::auth::token::Keys;
use crate::config::Settings;
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
}

impl AppState {
    pub fn refresh_ttl_days(&self) -> i64 {
        i64::try_from(self.settings.auth.refresh_ttl_days).unwrap_or(30)
    }
}
