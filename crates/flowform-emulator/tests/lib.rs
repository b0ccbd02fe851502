//! The emulator over real HTTP: every behaviour the Flow Service has, as a client sees it.

mod admin;
mod api;
mod cli;
mod connections;
mod faults;
mod gateway;
mod listing;
mod openapi;
