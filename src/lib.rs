//! flowform: a declarative reconciler for Adobe Experience Platform Flow Service base
//! connections.
//!
//! # Map
//!
//! Data flows one way:
//!
//! ```text
//! YAML files ──config::load────► Desired ┐
//! state file ──state::Store::open─► State   ├─► plan::plan(&desired, &state, &live) ──► Plan ──► render
//! Flow Service ─refresh::refresh──► Live    ┘                                          └──► apply::apply
//!                                                                       (Flow Service + state journal)
//! ```
//!
//! Commands run top-down and never back up: `main` → [`cli`] (flags → one request value)
//! → [`ops`] (one operation per command: which project and state, a session, approval,
//! saved plans) → the library below. The modules, from the top:
//!
//! - [`cli`]: the command line; each file maps its flags to a request of [`ops`]
//!   (Terraform's single-dash long options read as double-dash ones first).
//! - [`ops`]: the operations, with no command-line parsing; one error type carrying its exit
//!   code and its help, printed once.
//! - `apply`: carries a plan out, journalling every mutation, never duplicating a create
//!   (split by concern: requests — where secrets leave flowform —, create, update, delete
//!   and replace, adopt, saved plans, state-only changes, interrupts, typed errors).
//! - `generate`: configuration written from what AEP has, whole pipelines (`flowform
//!   generate`), read back through the loader before it is kept.
//! - `render`: plans and drift reports as text, Markdown and JSON.
//! - `refresh`: reads AEP before planning, in parallel batches: the managed connections by
//!   id, the names to check by name; a listing only where everything must be seen, or where
//!   it takes fewer requests.
//! - `plan`: the pure `plan()`, the `plan::Plan` value every command shares, and the
//!   rules planner and applier share (an interrupted create's candidates, a move's rekeying,
//!   the chain an import takes with it).
//! - `specs`: the configuration checked against AEP's live connection specs.
//! - [`state`]: the state file (what flowform manages, never a secret), its journal, backups,
//!   lock and secret fingerprints.
//! - [`config`]: the desired state: finds the configuration files, reads each document into
//!   [`config::Connection`]s (and `moved:` / `removed:` entries), checks them against the
//!   `catalog`, resolves secret references.
//! - `project`: the project file (`flowform.toml`), found by walking up from the working
//!   directory: which configuration belongs to the project and where its one state lives.
//! - [`flow`]: the Flow Service client, the only module that talks to AEP: credentials,
//!   retries that never duplicate a create, bounded answers read by pure parsers, pagination.
//! - [`secret`]: `${env:…}`/`${file:…}` references and the [`secret::Secret`] type that
//!   redacts itself everywhere.
//! - `schema`, [`diagnostic`], [`yaml`], `catalog`: the editor schema, problems with
//!   their place, YAML that knows its lines, the connection specs known offline (and the
//!   advisories about their auth specs that a connection may acknowledge).
//! - [`settings`], `log`, `atomic`, `sync`: the environment read once, leveled
//!   progress on stderr (never a secret), atomic file writes, locks that outlive a panic.
//! - [`fuzzing`]: the properties the fuzz targets check on local inputs (the server answers'
//!   are in `flow::fuzzing`).
//!
//! The Flow Service and IMS emulator (for tests, demos and offline trials) is a crate of its
//! own, `flowform_emulator` (`crates/flowform-emulator/`); nothing here uses it but
//! `--emulator` and the `emulator` command.

pub(crate) mod apply;
pub(crate) mod atomic;
pub(crate) mod catalog;
pub mod cli;
pub mod config;
pub mod diagnostic;
pub mod flow;
#[doc(hidden)]
pub mod fuzzing;
pub(crate) mod generate;
pub mod kind;
pub(crate) mod log;
pub mod ops;
pub(crate) mod plan;
pub(crate) mod project;
pub mod reader;
pub(crate) mod refresh;
pub(crate) mod render;
pub(crate) mod schema;
pub mod secret;
pub mod settings;

pub mod state;
pub(crate) mod sync;
pub mod yaml;
