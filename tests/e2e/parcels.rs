//! Idle land: parcels, the sweep, disposals.
