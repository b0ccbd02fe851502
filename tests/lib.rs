//! End-to-end tests: they run the real `flowform` binary, as a user would.
//!
//! One test binary with a module per command (as casey/just does), so that cargo links it
//! once. [`common::flowform`] builds an invocation; the modules say what must come of it.

// Test and benchmark code: a failed `unwrap` is a failed run, which is what it should be.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod adopt;
mod apply;
mod chains;
mod client;
mod common;
mod docs;
mod drift;
mod emulator;
mod examples;
mod flows;
mod graph;
mod graph_kill;
mod hints;
mod hostile;
mod interrupt;
mod live;
mod mappings;
mod parsers;
mod plan;
mod postgres;
mod progress;
mod project;
mod props;
mod refresh;
mod reliability;
mod retirement;
mod reviews;
mod safety;
mod schema;
mod state;
mod usage;
mod validate;
mod world;
