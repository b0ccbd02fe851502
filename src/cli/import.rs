//! `flowform import KEY ID`.

use super::TargetArgs;
use crate::ops::import::ImportRequest;
use crate::ops::{Io, Outcome};
use crate::settings::Environment;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The declared resource's key (`kind:key` for any kind but a base connection)
    pub key: String,
    /// Its id in AEP
    pub id: String,
    #[command(flatten)]
    pub target: TargetArgs,
}

pub fn run(args: &Args, env: &Environment, io: &mut Io<'_>) -> Outcome {
    let request = ImportRequest {
        key: args.key.clone(),
        id: args.id.clone(),
        target: args.target.target(),
    };
    crate::ops::import::import(&request, env, io)
}
