//! Approved-but-unsupplied land (批而未供): approvals per town, the land
//! supplied under each, the supply rate, CSV import, and the approvals'
//! place in sync (read-only for clients).

pub mod routes;
pub mod service;
pub mod types;
