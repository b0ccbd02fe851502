//! `flowform version` (and `--version`): the version and the commit it was built from.

use crate::ops::{Exit, Io, Outcome};

/// `0.1.0 (1a2b3c4)`, `0.1.0 (1a2b3c4-dirty)` for a build with uncommitted changes, or
/// `0.1.0 (unknown)` outside a git checkout (see `build.rs`).
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (", env!("FLOWFORM_COMMIT"), ")");

pub fn run(io: &mut Io<'_>) -> Outcome {
    writeln!(io.out, "flowform {VERSION}")?;
    Ok(Exit::Success)
}
