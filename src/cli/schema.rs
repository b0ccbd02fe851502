//! `flowform schema`: the configuration format as a JSON Schema.

use crate::ops::{Exit, Io, Outcome};

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: &Args, io: &mut Io<'_>) -> Outcome {
    let schema = crate::schema::config_schema();
    // Rendered first, so a closed pipe (`flowform schema | head`) is an io error main knows.
    let mut text = serde_json::to_string_pretty(&schema)?;
    text.push('\n');
    io.out.write_all(text.as_bytes())?;
    Ok(Exit::Success)
}
