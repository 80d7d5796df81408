//! Wire types shared by the landpatrol server and its clients.
//!
//! Pure data and rules, no I/O: typed ids, [`GeoPoint`] with its coordinate
//! reference system, the case lifecycle table and the stable error codes; the sync
//! protocol's wire messages ([`sync`]), hybrid logical clocks ([`hlc`]) and the
//! field-level merge ([`merge`]).
//!
//! With the feature `client`, the reference client (module `client`): outbox and replica
//! in SQLite, HTTP with retries. Without it the crate does no I/O.

pub mod case;
#[cfg(feature = "client")]
pub mod client;
pub mod coords;
pub mod error;
pub mod geo;
pub mod hlc;
pub mod ids;
pub mod lifecycle;
pub mod merge;
pub mod sync;

pub use case::{Disposition, InspectionKind, InspectionResult, LandClass, ViolationType};
pub use error::ErrorCode;
pub use geo::{Crs, GeoPoint, GeoPointError};
pub use hlc::{Hlc, HlcClock, HlcError, Observed};
pub use ids::*;
pub use lifecycle::{CaseSource, CaseStatus, Role, Transition, TransitionDenied};
pub use merge::{FieldClock, MergeOutcome, check_patch, merge_patch};
pub use sync::{
    Change, ChangeOp, Op, OpCase, OpError, OpKind, OpResult, OpStatus, PullRequest, PullResponse, PushRequest,
    PushResponse, Table,
};
