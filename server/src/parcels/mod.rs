//! Idle land (闲置土地): parcels of supplied land with their agreed
//! construction start, the daily sweep that finds the ones idle for a year
//! (each gets one `idle_land` case and an alert for its town), and the
//! disposals (construction started, idle fee, repossession, …) that close
//! them. Town officers pull their town's parcels through sync.

pub mod routes;
pub mod service;
pub mod sweep;
pub mod types;
