//! landpatrol: the backend and sync service of an offline-first field
//! inspection system for land-use enforcement.
#![forbid(unsafe_code)]

pub mod alerts;
pub mod approvals;
pub mod auth;
pub mod campaigns;
pub mod cases;
pub mod cli;
pub mod config;
pub mod console;
pub mod csv;
pub mod db;
pub mod demo;
pub mod error;
pub mod ids;
pub mod net;
pub mod open311;
pub mod openapi;
pub mod ops;
pub mod parcels;
pub mod photos;
pub mod projects;
pub mod reports;
pub mod startup;
pub mod state;
pub mod sync;
pub mod telemetry;
pub mod tips;
pub mod towns;
