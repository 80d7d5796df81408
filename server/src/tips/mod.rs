//! Public tips (群众举报): anonymous submission with a receipt token, rate
//! limits and idempotency, the office's view with duplicates nearby, and
//! triage into a new case or an existing one. Open311 builds on the same
//! service (`crate::open311`).

pub mod ratelimit;
pub mod routes;
pub mod service;
pub mod types;
