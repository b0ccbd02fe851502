//! What `plan`, `apply`, `destroy`, `drift` and `import` share: load the configuration,
//! open the state, connect to AEP, check against the live specs, refresh, plan.

use std::path::PathBuf;
use std::sync::Arc;

use super::state::StateArgs;
use super::{ClientArgs, Exit, Io};
use crate::config::{self, Desired, LoadOptions};
use crate::diagnostic::Diagnostics;
use crate::flow::settings::Settings;
use crate::flow::{Client, specs};
use crate::plan::{self, Live, Mode, Options, Plan};
use crate::settings::Environment;
use crate::state::store::Store;

/// The flags every planning command takes.
#[derive(Debug, Clone, clap::Args)]
pub struct Target {
    /// Configuration files or directories (repeatable); default `flowform.yaml`, else `connections/`
    #[arg(short = 'c', long = "config", value_name = "PATH")]
    pub config: Vec<PathBuf>,
    #[command(flatten)]
    pub state: StateArgs,
    #[command(flatten)]
    pub client: ClientArgs,
    /// Read AEP before planning (`--refresh=false` plans from the state alone)
    #[arg(long, value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set)]
    pub refresh: bool,
    /// Limit the plan to these connections (key or sandbox/key; repeatable)
    #[arg(long = "target", value_name = "KEY")]
    pub targets: Vec<String>,
}

pub struct Session {
    pub desired: Desired,
    pub store: Store,
    pub client: Option<Arc<Client>>,
    pub runtime: tokio::runtime::Runtime,
    pub refresh: bool,
    pub targets: Vec<String>,
}

/// Prints diagnostics and the count line; the command then exits 1.
pub fn report(diagnostics: &Diagnostics, io: &mut Io<'_>) -> std::io::Result<()> {
    write!(io.err, "{diagnostics}")?;
    let errors = diagnostics.error_count();
    let plural = if errors == 1 { "" } else { "s" };
    writeln!(io.err, "\nerror: the configuration has {errors} error{plural}")
}

impl Session {
    /// Loads, opens and connects. `Err(exit)` once the problem has been printed.
    pub fn open(
        args: &Target,
        env: &Environment,
        io: &mut Io<'_>,
        command: &str,
        write: bool,
    ) -> anyhow::Result<Result<Session, Exit>> {
        let loaded = match config::load(&args.config, env, &LoadOptions::default()) {
            Ok(loaded) => loaded,
            Err(diagnostics) => {
                report(&diagnostics, io)?;
                return Ok(Err(Exit::Failure));
            }
        };
        for warning in loaded.warnings.iter() {
            writeln!(io.err, "{warning}\n")?;
        }
        let store = match args.state.open(&args.config, write, command, env) {
            Ok(store) => store,
            Err(e) => {
                writeln!(io.err, "error: {e}")?;
                return Ok(Err(Exit::Failure));
            }
        };
        let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
        let needs_aep = args.refresh || write;
        let client = if needs_aep {
            match Settings::from_env(env, &args.client.overrides()) {
                Ok(settings) => Some(Arc::new(Client::new(settings)?)),
                Err(e) => {
                    writeln!(io.err, "error: {e}")?;
                    return Ok(Err(Exit::Failure));
                }
            }
        } else {
            None
        };
        Ok(Ok(Session {
            desired: loaded.desired,
            store,
            client,
            runtime,
            refresh: args.refresh,
            targets: args.targets.clone(),
        }))
    }

    /// Checks the configuration against the live specs, refreshes, and plans.
    pub fn plan(&self, mode: Mode, io: &mut Io<'_>) -> anyhow::Result<Result<(Plan, Live), Exit>> {
        let live = match (&self.client, self.refresh) {
            (Some(client), true) => {
                let desired = &self.desired;
                let state = self.store.state();
                let checked = self.runtime.block_on(async {
                    let mut diagnostics = Diagnostics::default();
                    for conn in desired.connections.values() {
                        let spec = client
                            .connection_spec(&conn.sandbox, &conn.connection_spec.id)
                            .await?;
                        for d in specs::check(conn, spec.as_deref()) {
                            diagnostics.push(d);
                        }
                    }
                    diagnostics.sort();
                    let refreshed =
                        crate::refresh::refresh(client, desired, state, mode == Mode::RefreshOnly).await?;
                    Ok::<_, crate::flow::FlowError>((diagnostics, refreshed.0))
                });
                let (diagnostics, live) = match checked {
                    Ok(done) => done,
                    Err(e) => {
                        writeln!(io.err, "error: {e}")?;
                        return Ok(Err(Exit::Failure));
                    }
                };
                if diagnostics.has_errors() {
                    report(&diagnostics, io)?;
                    return Ok(Err(Exit::Failure));
                }
                live
            }
            _ => Live::default(),
        };
        let options = Options {
            targets: self.targets.iter().cloned().collect(),
            mode,
        };
        let planned = plan::plan(&self.desired, self.store.state(), &live, &options);
        Ok(Ok((planned, live)))
    }
}
