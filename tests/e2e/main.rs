//! End-to-end tests: a real server per test, real HTTP, SQLite or PostgreSQL
//! (`LANDPATROL_TEST_POSTGRES=postgres://postgres@127.0.0.1:5432`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod accounts;
mod alerts;
mod approvals;
mod auth;
mod bad_input;
mod cases;
mod cli;
mod concurrency;
mod console;
mod open311;
mod ops;
mod parcels;
mod photos;
mod projects;
mod replays;
mod reports;
mod routing;
mod scope;
mod sync;
mod tips;
mod uploads;
mod watermelon;
mod webhook_egress;
