//! Offline sync (SYNC.md): exactly-once push with field-level merge, and a
//! scoped, paged, resumable pull over the global change sequence.

pub mod observations;
pub mod pull;
pub mod push;
pub mod routes;
pub mod watermelon;
