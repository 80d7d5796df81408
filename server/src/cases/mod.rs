//! Cases (图斑/案件): creation with routing and deadlines, field edits, the
//! lifecycle, inspections, reassignment, patch import and the ledger.

pub mod import;
pub mod routes;
pub mod service;
pub mod store;
pub mod types;
