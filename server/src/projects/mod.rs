//! Village construction projects and their five-in-place (五到位) steps:
//! each step recorded once with its date, the person in place and photo
//! evidence; the steps due and missing as of a date.

pub mod routes;
pub mod service;
pub mod types;
