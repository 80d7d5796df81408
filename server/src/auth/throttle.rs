//! Login throttling: failed logins are counted per username and per client
//! address; past a threshold each key is locked out for a time that doubles
//! with every further failure (capped), and a login while locked is answered
//! `429 rate_limited` with `Retry-After`, without checking the password. A
//! successful login clears its username's count. On PostgreSQL the counts are
//! shared by every instance ([`SharedLimits`], keys `login:user:…` and
//! `login:addr:…`), so a load balancer of N instances gives an attacker no more
//! attempts than one; on SQLite (one instance) they live in memory.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::config::AuthSettings;
use crate::db::rate_limits::SharedLimits;
use crate::error::ApiError;

/// Most keys remembered; past this the oldest unlocked ones are forgotten.
const MAX_KEYS: usize = 100_000;
/// Failures older than this are forgotten.
const WINDOW: Duration = Duration::from_secs(15 * 60);
/// The longest lockout.
const MAX_LOCKOUT: Duration = Duration::from_secs(15 * 60);

#[derive(Clone, Copy)]
struct Entry {
    first: Instant,
    failures: u32,
    locked_until: Option<Instant>,
}

#[derive(Default)]
pub struct LoginThrottle {
    keys: Mutex<HashMap<String, Entry>>,
    shared: Option<SharedLimits>,
}

fn refused(wait: Duration) -> ApiError {
    crate::tips::ratelimit::rate_limited(wait + Duration::from_millis(999), "failed logins")
}

/// The keys of one login attempt with their thresholds.
fn keys(cfg: &AuthSettings, username: &str, addr: Option<&str>) -> Vec<(String, u32)> {
    let mut k = vec![(format!("user:{}", username.trim().to_lowercase()), cfg.login_failures_per_user)];
    if let Some(a) = addr {
        k.push((format!("addr:{a}"), cfg.login_failures_per_address));
    }
    k
}

impl LoginThrottle {
    /// Shared through `shared` when given (PostgreSQL), in memory otherwise.
    pub fn new(shared: Option<SharedLimits>) -> Self {
        Self { keys: Mutex::default(), shared }
    }

    /// Refuses while the username or the address is locked out.
    pub async fn check(&self, cfg: &AuthSettings, username: &str, addr: Option<&str>) -> Result<(), ApiError> {
        let Some(shared) = &self.shared else { return self.check_at(cfg, username, addr, Instant::now()) };
        let keys: Vec<String> = keys(cfg, username, addr).into_iter().map(|(k, _)| format!("login:{k}")).collect();
        match shared.locked_for(&keys).await? {
            Some(wait) => Err(refused(wait)),
            None => Ok(()),
        }
    }

    /// Counts a failed login (see [`LoginThrottle::failed_at`]).
    pub async fn failed(&self, cfg: &AuthSettings, username: &str, addr: Option<&str>) -> Result<(), ApiError> {
        let Some(shared) = &self.shared else {
            self.failed_at(cfg, username, addr, Instant::now());
            return Ok(());
        };
        let keys: Vec<(String, u32)> =
            keys(cfg, username, addr).into_iter().map(|(k, n)| (format!("login:{k}"), n)).collect();
        shared.failed(&keys, WINDOW, Duration::from_secs(cfg.login_lockout_secs), MAX_LOCKOUT).await?;
        Ok(())
    }

    /// A successful login clears its username (see [`LoginThrottle::succeeded_in_memory`]).
    pub async fn succeeded(&self, username: &str) -> Result<(), ApiError> {
        match &self.shared {
            Some(shared) => Ok(shared.clear(&format!("login:user:{}", username.trim().to_lowercase())).await?),
            None => {
                self.succeeded_in_memory(username);
                Ok(())
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        match self.keys.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// Refuses while the username or the address is locked out (in memory).
    fn check_at(&self, cfg: &AuthSettings, username: &str, addr: Option<&str>, now: Instant) -> Result<(), ApiError> {
        let map = self.lock();
        let wait = keys(cfg, username, addr)
            .iter()
            .filter_map(|(k, _)| map.get(k)?.locked_until)
            .filter(|until| *until > now)
            .map(|until| until - now)
            .max();
        match wait {
            Some(w) => Err(refused(w)),
            None => Ok(()),
        }
    }

    /// Counts a failed login; past a key's threshold it is locked for
    /// `login_lockout_secs`, doubled for each failure beyond.
    fn failed_at(&self, cfg: &AuthSettings, username: &str, addr: Option<&str>, now: Instant) {
        let mut map = self.lock();
        if map.len() >= MAX_KEYS {
            map.retain(|_, e| e.locked_until.is_some_and(|u| u > now) || now - e.first < WINDOW);
        }
        for (key, threshold) in keys(cfg, username, addr) {
            let e = map.entry(key).or_insert(Entry { first: now, failures: 0, locked_until: None });
            if now - e.first >= WINDOW && e.locked_until.is_none_or(|u| u <= now) {
                *e = Entry { first: now, failures: 0, locked_until: None };
            }
            e.failures += 1;
            if e.failures >= threshold.max(1) {
                let doublings = (e.failures - threshold.max(1)).min(16);
                let lockout =
                    Duration::from_secs(cfg.login_lockout_secs).saturating_mul(1 << doublings).min(MAX_LOCKOUT);
                e.locked_until = Some(now + lockout);
            }
        }
    }

    /// A successful login clears its username (not its address: one account's
    /// success says nothing of the others tried from there).
    fn succeeded_in_memory(&self, username: &str) {
        self.lock().remove(&format!("user:{}", username.trim().to_lowercase()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> AuthSettings {
        crate::config::Settings::defaults().unwrap().auth
    }

    #[test]
    fn locks_a_username_after_its_threshold_with_doubling_backoff() {
        let (t, c, now) = (LoginThrottle::default(), cfg(), Instant::now());
        for _ in 0..c.login_failures_per_user - 1 {
            t.failed_at(&c, "Admin", Some("10.0.0.1"), now);
            assert!(t.check_at(&c, "admin", Some("10.0.0.2"), now).is_ok());
        }
        t.failed_at(&c, "admin", Some("10.0.0.1"), now);
        let err = t.check_at(&c, " ADMIN ", Some("10.0.0.9"), now).unwrap_err();
        assert_eq!(err.code, landpatrol_sync::ErrorCode::RateLimited);
        let first = Duration::from_secs(c.login_lockout_secs);
        assert!(t.check_at(&c, "admin", None, now + first + Duration::from_millis(1)).is_ok(), "the lockout ends");
        // One more failure after it: twice as long.
        let later = now + first + Duration::from_millis(1);
        t.failed_at(&c, "admin", None, later);
        assert!(t.check_at(&c, "admin", None, later + first + Duration::from_millis(1)).is_err());
        assert!(t.check_at(&c, "admin", None, later + 2 * first + Duration::from_millis(1)).is_ok());
        // Another username from another address is not affected; success clears.
        assert!(t.check_at(&c, "inspector", Some("10.0.0.5"), now).is_ok());
        t.succeeded_in_memory("ADMIN");
        assert!(t.check_at(&c, "admin", None, now).is_ok());
    }

    #[test]
    fn locks_an_address_trying_many_usernames() {
        let (t, c, now) = (LoginThrottle::default(), cfg(), Instant::now());
        for i in 0..c.login_failures_per_address {
            t.failed_at(&c, &format!("user{i}"), Some("192.0.2.7"), now);
        }
        assert!(t.check_at(&c, "someone-new", Some("192.0.2.7"), now).is_err());
        assert!(t.check_at(&c, "someone-new", Some("192.0.2.8"), now).is_ok());
    }
}
