//! Wire types shared by the landpatrol server and its clients.
//!
//! Pure data and rules, no I/O: typed ids, [`GeoPoint`] with its coordinate
//! reference system, the case lifecycle table and the stable error codes.

pub mod case;
pub mod coords;
pub mod error;
pub mod geo;
pub mod ids;
pub mod lifecycle;

pub use case::{Disposition, InspectionKind, InspectionResult, LandClass, ViolationType};
pub use error::ErrorCode;
pub use geo::{Crs, GeoPoint, GeoPointError};
pub use ids::*;
pub use lifecycle::{CaseSource, CaseStatus, Role, Transition, TransitionDenied};
