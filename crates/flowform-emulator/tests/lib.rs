//! The emulator over real HTTP: every behaviour the Flow Service has, as a client sees it.
//!
//! One test binary with a module per concern, so that cargo links it once. [`api::Api`]
//! starts an in-process emulator and talks to it as a client does.

// Test and benchmark code: a failed `unwrap` is a failed run, which is what it should be.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod admin;
mod api;
mod catalog;
mod connections;
mod explore;
mod faults;
mod flow_connections;
mod flow_listing;
mod flows;
mod flows_patch;
mod gateway;
mod listing;
mod mapping_sets;
mod openapi;
mod openapi_flows;
mod runs;
