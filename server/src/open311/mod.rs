//! Open311 GeoReport v2 at `/open311/v2/`, JSON and XML, on top of the tips service.

pub mod format;
pub mod routes;
