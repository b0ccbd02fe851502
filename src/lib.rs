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
//! The modules, in that order:
//!
//! - [`project`]: the project file (`flowform.toml`), found by walking up from the working
//!   directory: which configuration belongs to the project and where its one state lives.
//! - [`yaml`]: YAML text → a tree of nodes that know their line and column.
//! - [`config`]: the desired state. Finds the configuration files, reads each document into
//!   [`config::Connection`]s, checks them against the [`catalog`], resolves secret references.
//! - [`catalog`]: the connection specs flowform knows offline (Salesforce first).
//! - [`secret`]: `${env:…}`/`${file:…}` references and the [`secret::Secret`] type that
//!   redacts itself everywhere.
//! - [`diagnostic`]: problems in the input, with file, line, column, key, field and help.
//! - [`schema`]: the configuration format as a JSON Schema, for editors.
//! - [`state`]: the state file (what flowform manages, never a secret), its journal, backups
//!   and lock.
//! - [`flow`]: the Flow Service client, the only module that talks to AEP: credentials,
//!   retries that never duplicate a create, pagination, live checks against connection specs.
//! - [`refresh`]: reads AEP before planning, by the cheaper of listing and fetching by id.
//! - [`plan`]: the pure `plan()` and the [`plan::Plan`] value every command shares.
//! - [`render`]: plans and drift reports as text, Markdown and JSON.
//! - [`apply`]: carries a plan out, journalling every mutation, never duplicating a create.
//! - The Flow Service and IMS emulator (for tests, demos and offline trials) is a crate of
//!   its own, `flowform_emulator` (`crates/flowform-emulator/`); nothing here uses it but
//!   `--emulator` and the `emulator` command.
//! - [`settings`]: the process environment, read once and passed down. [`log`]: leveled
//!   progress on stderr (`-v`…`-vvv`), never a secret.
//! - [`cli`]: the commands, each a thin adapter over the above; `main` maps its result to an
//!   exit code.

pub(crate) mod apply;
pub(crate) mod atomic;
pub(crate) mod catalog;
pub mod cli;
pub mod config;
pub mod diagnostic;
pub mod flow;
#[doc(hidden)]
pub mod fuzzing;
pub(crate) mod log;
pub mod ops;
pub(crate) mod plan;
pub(crate) mod project;
pub(crate) mod refresh;
pub(crate) mod render;
pub(crate) mod schema;
pub mod secret;
pub mod settings;
pub(crate) mod specs;
pub mod state;
pub(crate) mod sync;
pub mod yaml;
