//! Retry with exponential backoff and full jitter.
//!
//! Attempt `n` (0-based) that failed with a retryable error waits a delay drawn
//! uniformly from `0 ..= min(max_delay, base_delay · 2ⁿ)` ("full jitter", so many
//! phones coming back online at once spread out), but at least the server's
//! `Retry-After` (itself capped at `max_delay`). The client gives up after
//! `max_attempts` attempts or once the delays add up past `max_elapsed`.

use std::sync::Mutex;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::transport::BoxFuture;

/// When and how often the client retries a failed request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per request, the first included (at least 1).
    pub max_attempts: u32,
    /// The delay cap of the first retry.
    pub base_delay: Duration,
    /// No single delay is longer.
    pub max_delay: Duration,
    /// Gives up when the delays slept for one request would add up to more.
    pub max_elapsed: Duration,
    /// Seed of the jitter RNG; `None` seeds from the OS.
    pub seed: Option<u64>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 8,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(30),
            max_elapsed: Duration::from_secs(120),
            seed: None,
        }
    }
}

impl RetryPolicy {
    /// The jitter RNG this policy asks for.
    pub(crate) fn rng(&self) -> StdRng {
        match self.seed {
            Some(seed) => StdRng::seed_from_u64(seed),
            None => StdRng::from_entropy(),
        }
    }

    /// The delay before retrying after failed attempt `attempt` (0-based).
    pub fn delay(&self, rng: &mut impl Rng, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let cap = self.max_delay.min(self.base_delay.saturating_mul(2u32.saturating_pow(attempt.min(31))));
        let cap_ms = u64::try_from(cap.as_millis()).unwrap_or(u64::MAX);
        let jitter = Duration::from_millis(rng.gen_range(0..=cap_ms));
        match retry_after {
            Some(floor) => jitter.max(floor.min(self.max_delay)),
            None => jitter,
        }
    }
}

/// How the client waits between attempts; injectable so tests do not sleep.
pub trait Sleeper: Send + Sync {
    /// Waits for `duration`.
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()>;
}

/// Waits on the tokio timer.
#[derive(Clone, Copy, Debug, Default)]
pub struct TokioSleeper;

impl Sleeper for TokioSleeper {
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// Does not wait; remembers the delays asked for (for tests and simulations).
#[derive(Debug, Default)]
pub struct RecordingSleeper {
    slept: Mutex<Vec<Duration>>,
}

impl RecordingSleeper {
    /// Every delay asked for so far, in order.
    pub fn delays(&self) -> Vec<Duration> {
        self.slept.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }
}

impl Sleeper for RecordingSleeper {
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        self.slept.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(duration);
        Box::pin(std::future::ready(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_exponentially_within_the_cap_and_respect_retry_after() {
        let policy = RetryPolicy {
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
            seed: Some(7),
            ..RetryPolicy::default()
        };
        let mut rng = policy.rng();
        for attempt in 0..40 {
            let cap =
                Duration::from_millis(100).saturating_mul(2u32.saturating_pow(attempt.min(31))).min(policy.max_delay);
            for _ in 0..50 {
                assert!(policy.delay(&mut rng, attempt, None) <= cap, "attempt {attempt}");
            }
        }
        // Full jitter: the draws spread over the whole range, not bunched at the cap.
        let draws: Vec<Duration> = (0..200).map(|_| policy.delay(&mut rng, 10, None)).collect();
        assert!(draws.iter().any(|d| *d < Duration::from_millis(500)));
        assert!(draws.iter().any(|d| *d > Duration::from_millis(1500)));
        // Retry-After is a floor, capped by max_delay.
        assert!(policy.delay(&mut rng, 0, Some(Duration::from_secs(1))) >= Duration::from_secs(1));
        assert_eq!(policy.delay(&mut rng, 0, Some(Duration::from_secs(3600))), Duration::from_secs(2));
    }

    #[test]
    fn a_seed_gives_the_same_delays() {
        let policy = RetryPolicy { seed: Some(42), ..RetryPolicy::default() };
        let (mut a, mut b) = (policy.rng(), policy.rng());
        let da: Vec<_> = (0..10).map(|n| policy.delay(&mut a, n, None)).collect();
        let db: Vec<_> = (0..10).map(|n| policy.delay(&mut b, n, None)).collect();
        assert_eq!(da, db);
    }
}
