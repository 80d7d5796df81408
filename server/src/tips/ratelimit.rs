//! Rate limits of public submissions: fixed one-hour windows counted per client address and
//! per device. On PostgreSQL they are shared by every instance ([`SharedLimits`]); on SQLite
//! (one instance) they live in bounded memory.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::HttpRequest;
use landpatrol_sync::ErrorCode;
use serde_json::json;

use crate::config::TipSettings;
use crate::db::rate_limits::SharedLimits;
use crate::error::{ApiError, ApiResult};

/// The window every limit counts in.
pub const WINDOW: Duration = Duration::from_secs(3600);
/// Most keys one counter remembers; when full, expired windows are dropped
/// first, then the oldest ones.
pub const MAX_KEYS: usize = 50_000;

/// Fixed-window counters keyed by a string.
#[derive(Debug)]
pub struct Counter {
    window: Duration,
    max_keys: usize,
    slots: Mutex<HashMap<String, (Instant, u32)>>,
}

impl Counter {
    pub fn new(window: Duration, max_keys: usize) -> Self {
        Self { window, max_keys: max_keys.max(1), slots: Mutex::new(HashMap::new()) }
    }

    /// Takes one unit from each `(key, limit)` if every one of them has room;
    /// otherwise takes nothing and answers how long until the fullest frees up.
    pub fn acquire(&self, keys: &[(String, u32)], now: Instant) -> Result<(), Duration> {
        let mut slots = match self.slots.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let mut wait = Duration::ZERO;
        for (key, limit) in keys {
            if let Some((start, count)) = slots.get(key)
                && now.duration_since(*start) < self.window
                && *count >= *limit
            {
                wait = wait.max(self.window - now.duration_since(*start));
            }
            if *limit == 0 {
                wait = wait.max(self.window);
            }
        }
        if !wait.is_zero() {
            return Err(wait);
        }
        for (key, _) in keys {
            if !slots.contains_key(key) && slots.len() >= self.max_keys {
                let window = self.window;
                slots.retain(|_, (start, _)| now.duration_since(*start) < window);
                if slots.len() >= self.max_keys
                    && let Some(oldest) = slots.iter().min_by_key(|(_, (start, _))| *start).map(|(k, _)| k.clone())
                {
                    slots.remove(&oldest);
                }
            }
            let slot = slots.entry(key.clone()).or_insert((now, 0));
            if now.duration_since(slot.0) >= self.window {
                *slot = (now, 0);
            }
            slot.1 += 1;
        }
        Ok(())
    }

    /// How many keys are remembered.
    pub fn len(&self) -> usize {
        self.slots.lock().map(|g| g.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The limits of public submissions.
#[derive(Debug)]
pub struct TipLimits {
    /// Tips, keyed `addr:<ip>` and `device:<id>` (in memory).
    pub tips: Counter,
    /// Anonymous photo uploads, keyed by address (in memory).
    pub photos: Counter,
    /// On PostgreSQL, the table every instance counts in (keys `tip:addr:…`, `tip:device:…`,
    /// `photo:…`) instead of the counters above.
    shared: Option<SharedLimits>,
}

impl Default for TipLimits {
    fn default() -> Self {
        Self { tips: Counter::new(WINDOW, MAX_KEYS), photos: Counter::new(WINDOW, MAX_KEYS), shared: None }
    }
}

/// The `rate_limited` error with its `Retry-After` seconds.
pub fn rate_limited(wait: Duration, what: &str) -> ApiError {
    let secs = wait.as_secs().max(1);
    ApiError::new(ErrorCode::RateLimited, format!("too many {what} from here; retry in {secs} seconds"))
        .with_details(json!({ "retry_after_secs": secs }))
}

impl TipLimits {
    /// Shared through `shared` when given (PostgreSQL), in memory otherwise.
    pub fn new(shared: Option<SharedLimits>) -> Self {
        Self { shared, ..Self::default() }
    }

    async fn take(&self, counter: &Counter, prefix: &str, keys: &[(String, u32)], what: &str) -> ApiResult<()> {
        let taken = match &self.shared {
            Some(shared) => {
                let keys: Vec<(String, u32)> = keys.iter().map(|(k, n)| (format!("{prefix}{k}"), *n)).collect();
                shared.take(&keys, counter.window).await?
            }
            None => counter.acquire(keys, Instant::now()),
        };
        taken.map_err(|w| rate_limited(w, what))
    }

    /// Counts one tip for the client address and the device (if any).
    pub async fn tip(&self, cfg: &TipSettings, addr: Option<&str>, device: Option<&str>) -> ApiResult<()> {
        let mut keys = Vec::with_capacity(2);
        if let Some(a) = addr {
            keys.push((format!("addr:{a}"), cfg.per_address_per_hour));
        }
        if let Some(d) = device {
            keys.push((format!("device:{d}"), cfg.per_device_per_hour));
        }
        self.take(&self.tips, "tip:", &keys, "tips").await
    }

    /// Counts one anonymous photo upload for the client address.
    pub async fn photo(&self, cfg: &TipSettings, addr: Option<&str>) -> ApiResult<()> {
        let Some(a) = addr else { return Ok(()) };
        self.take(&self.photos, "photo:", &[(a.to_owned(), cfg.photo_uploads_per_address_per_hour)], "photo uploads")
            .await
    }
}

/// The client's address: the peer, or the first `X-Forwarded-For` entry when
/// the proxy in front is trusted (`tips.trust_forwarded_for`).
pub fn client_addr(req: &HttpRequest, cfg: &TipSettings) -> Option<String> {
    crate::net::client_addr(req, cfg.trust_forwarded_for)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_key_within_the_window() {
        let c = Counter::new(Duration::from_secs(60), 100);
        let t0 = Instant::now();
        let k = |s: &str, n| (s.to_owned(), n);
        assert!(c.acquire(&[k("a", 2)], t0).is_ok());
        assert!(c.acquire(&[k("a", 2)], t0).is_ok());
        let wait = c.acquire(&[k("a", 2)], t0 + Duration::from_secs(10)).unwrap_err();
        assert_eq!(wait, Duration::from_secs(50));
        assert!(c.acquire(&[k("b", 2)], t0).is_ok(), "another key has its own count");
        assert!(c.acquire(&[k("a", 2)], t0 + Duration::from_secs(60)).is_ok(), "a new window");
    }

    #[test]
    fn takes_nothing_when_one_key_is_full() {
        let c = Counter::new(Duration::from_secs(60), 100);
        let t0 = Instant::now();
        assert!(c.acquire(&[("dev".into(), 1)], t0).is_ok());
        assert!(c.acquire(&[("addr".into(), 5), ("dev".into(), 1)], t0).is_err());
        // The address was not charged for the refused request.
        for _ in 0..5 {
            assert!(c.acquire(&[("addr".into(), 5)], t0).is_ok());
        }
        assert!(c.acquire(&[("addr".into(), 5)], t0).is_err());
    }

    #[test]
    fn memory_is_bounded() {
        let c = Counter::new(Duration::from_secs(60), 10);
        let t0 = Instant::now();
        for i in 0..1000 {
            assert!(c.acquire(&[(format!("k{i}"), 1)], t0 + Duration::from_millis(i)).is_ok());
        }
        assert!(c.len() <= 10);
    }
}
