//! Fault injection around any [`Transport`], for tests and the simulator: drop a
//! request before it is sent, drop a response after the server processed the
//! request, or answer with a server error. Deterministic for a given seed.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;

use super::transport::{BoxFuture, Request, Response, Transport, TransportError};

/// What to do to one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Fail with [`TransportError::NotSent`]; the server never sees the request.
    DropRequest,
    /// Send the request, let the server process it, then fail with
    /// [`TransportError::NoResponse`] instead of returning its response.
    DropResponse,
    /// Answer with this status (for example 503 or 429) without sending the request.
    Status(u16),
}

/// What a [`FaultyTransport`] did so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FaultStats {
    /// Requests handed to the transport.
    pub requests: u64,
    /// Requests that reached the inner transport.
    pub forwarded: u64,
    pub dropped_requests: u64,
    pub dropped_responses: u64,
    pub injected_statuses: u64,
}

#[derive(Debug)]
struct Plan {
    rng: StdRng,
    offline: bool,
    drop_request: f64,
    drop_response: f64,
    server_error: f64,
    paths: Vec<String>,
    script: VecDeque<Option<Fault>>,
    stats: FaultStats,
}

impl Plan {
    fn decide(&mut self, request: &Request) -> Option<Fault> {
        self.stats.requests += 1;
        if self.offline {
            return Some(Fault::DropRequest);
        }
        if !self.paths.is_empty() && !self.paths.iter().any(|p| request.path.starts_with(p.as_str())) {
            return None;
        }
        if let Some(scripted) = self.script.pop_front() {
            return scripted;
        }
        // One draw per kind, in a fixed order, so a seed gives the same run.
        let (a, b, c): (f64, f64, f64) = (self.rng.r#gen(), self.rng.r#gen(), self.rng.r#gen());
        if a < self.drop_request {
            Some(Fault::DropRequest)
        } else if b < self.server_error {
            Some(Fault::Status(503))
        } else if c < self.drop_response {
            Some(Fault::DropResponse)
        } else {
            None
        }
    }
}

/// A [`Transport`] that injects faults into the requests it passes to `inner`.
///
/// Faults come from a script first ([`FaultyTransport::script`]), then at random
/// with the configured probabilities, drawn from an RNG seeded at construction.
/// [`FaultyTransport::only_paths`] limits faults to some endpoints.
#[derive(Debug)]
pub struct FaultyTransport<T> {
    inner: T,
    plan: Mutex<Plan>,
}

impl<T: Transport> FaultyTransport<T> {
    /// No faults yet; add them with the builder methods.
    pub fn new(inner: T, seed: u64) -> Self {
        let plan = Plan {
            rng: StdRng::seed_from_u64(seed),
            offline: false,
            drop_request: 0.0,
            drop_response: 0.0,
            server_error: 0.0,
            paths: Vec::new(),
            script: VecDeque::new(),
            stats: FaultStats::default(),
        };
        Self { inner, plan: Mutex::new(plan) }
    }

    fn plan(&self) -> MutexGuard<'_, Plan> {
        self.plan.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Drops this share of requests before sending them.
    pub fn drop_requests(self, probability: f64) -> Self {
        self.plan().drop_request = probability;
        self
    }

    /// Drops this share of responses after the server processed the request.
    pub fn drop_responses(self, probability: f64) -> Self {
        self.plan().drop_response = probability;
        self
    }

    /// Answers this share of requests with a 503 without sending them.
    pub fn server_errors(self, probability: f64) -> Self {
        self.plan().server_error = probability;
        self
    }

    /// Injects faults only into requests whose path starts with one of these.
    pub fn only_paths(self, prefixes: &[&str]) -> Self {
        self.plan().paths = prefixes.iter().map(|p| (*p).to_owned()).collect();
        self
    }

    /// Queues faults for the next requests (`None`: deliver that one untouched),
    /// used before the random ones.
    pub fn script(&self, faults: impl IntoIterator<Item = Option<Fault>>) {
        self.plan().script.extend(faults);
    }

    /// While offline, every request is dropped before sending.
    pub fn set_offline(&self, offline: bool) {
        self.plan().offline = offline;
    }

    /// What was done so far.
    pub fn stats(&self) -> FaultStats {
        self.plan().stats
    }

    /// The wrapped transport.
    pub fn inner(&self) -> &T {
        &self.inner
    }

    async fn send_now(&self, request: Request) -> Result<Response, TransportError> {
        let fault = self.plan().decide(&request);
        match fault {
            Some(Fault::DropRequest) => {
                self.plan().stats.dropped_requests += 1;
                Err(TransportError::NotSent(format!("fault injected: {} dropped before sending", request.path)))
            }
            Some(Fault::Status(status)) => {
                self.plan().stats.injected_statuses += 1;
                let code = if status == 429 { "rate_limited" } else { "service_unavailable" };
                Ok(Response::json(status, json!({"error": {"code": code, "message": "fault injected"}})))
            }
            Some(Fault::DropResponse) => {
                self.plan().stats.forwarded += 1;
                let outcome = self.inner.send(request.clone()).await;
                self.plan().stats.dropped_responses += 1;
                Err(TransportError::NoResponse(format!(
                    "fault injected: the response to {} was dropped ({})",
                    request.path,
                    match outcome {
                        Ok(r) => format!("it was {}", r.status),
                        Err(e) => e.to_string(),
                    }
                )))
            }
            None => {
                self.plan().stats.forwarded += 1;
                self.inner.send(request).await
            }
        }
    }
}

impl<T: Transport> Transport for FaultyTransport<T> {
    fn send(&self, request: Request) -> BoxFuture<'_, Result<Response, TransportError>> {
        Box::pin(self.send_now(request))
    }
}
