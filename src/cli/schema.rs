//! `flowform schema`: the configuration format as a JSON Schema.

use super::{Exit, Io};

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: &Args, io: &mut Io<'_>) -> anyhow::Result<Exit> {
    let schema = crate::schema::config_schema();
    serde_json::to_writer_pretty(&mut *io.out, &schema)?;
    writeln!(io.out)?;
    Ok(Exit::Success)
}
