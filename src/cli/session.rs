//! What `plan`, `apply`, `destroy`, `drift` and `import` share: load the configuration,
//! open the state, connect to AEP, check against the live specs, refresh, plan.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::state::StateArgs;
use super::{ClientArgs, Exit, Io};
use crate::config::{self, Desired, LoadOptions};
use crate::diagnostic::Diagnostics;
use crate::emulator::{Emulator, Options as EmulatorOptions, ims};
use crate::flow::settings::{Credentials, RetryPolicy, Settings};
use crate::flow::{Client, specs};
use crate::plan::{self, Live, Mode, Options, Plan};
use crate::secret::Secret;
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
    /// Work against a Flow Service emulator run in this process, with its data and a state
    /// of its own under `state/emulator/`: a demo that never touches AEP or the real state
    #[arg(long)]
    pub emulator: bool,
}

/// Where `--emulator` keeps its data and states.
pub const EMULATOR_DIR: &str = "state/emulator";

pub struct Session {
    pub desired: Desired,
    store: Option<Store>,
    pub client: Option<Arc<Client>>,
    pub runtime: tokio::runtime::Runtime,
    pub refresh: bool,
    pub targets: Vec<String>,
    /// The in-process emulator (`--emulator`), saved and stopped when the session ends.
    emulator: Option<Emulator>,
    /// What a saved plan records of how it was made.
    origin: crate::plan::PlanOrigin,
}

impl Drop for Session {
    fn drop(&mut self) {
        if let Some(emulator) = self.emulator.take()
            && let Err(e) = self.runtime.block_on(emulator.shutdown())
        {
            eprintln!("error: the emulator could not save its data: {e:#}");
        }
    }
}

/// Starts the in-process emulator of `--emulator` (data under [`EMULATOR_DIR`]) and the
/// client settings that reach it with its demo credential.
pub fn start_emulator(
    runtime: &tokio::runtime::Runtime,
    client: &ClientArgs,
) -> anyhow::Result<(Emulator, Settings)> {
    let started = runtime.block_on(Emulator::start(EmulatorOptions {
        data: Some(Path::new(EMULATOR_DIR).join("aep.json")),
        initializing_ms: 1_500,
        ..EmulatorOptions::default()
    }))?;
    crate::info!(
        "using the in-process emulator at {} (data in {EMULATOR_DIR}/aep.json)",
        started.base_url()
    );
    let settings = Settings {
        endpoint: reqwest::Url::parse(&started.flow_url())?,
        org_id: ims::DEMO_ORG.to_owned(),
        client_id: ims::DEMO_CLIENT_ID.to_owned(),
        credentials: Credentials::Ims {
            url: reqwest::Url::parse(&started.base_url())?,
            client_secret: Secret::new(ims::DEMO_CLIENT_SECRET),
            scopes: crate::flow::settings::DEFAULT_SCOPES.to_owned(),
        },
        parallelism: client.parallelism.unwrap_or(8).max(1),
        requests_per_second: client.requests_per_second,
        retry: RetryPolicy::default(),
        timeout: std::time::Duration::from_secs(30),
        command_timeout: client.command_timeout(),
    };
    Ok((started, settings))
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
        let state_path = match (&args.state.path, args.emulator) {
            (Some(path), _) => path.clone(),
            (None, true) => {
                let default = crate::state::default_path(&args.config);
                Path::new(EMULATOR_DIR).join(default.file_name().unwrap_or_default())
            }
            (None, false) => crate::state::default_path(&args.config),
        };
        let store = match args.state.open_at(&state_path, write, command, env) {
            Ok(store) => store,
            Err(e) => {
                writeln!(io.err, "error: {e}")?;
                return Ok(Err(Exit::Failure));
            }
        };
        let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
        let needs_aep = args.refresh || write;
        let mut emulator = None;
        let client = if args.emulator {
            let (started, settings) = start_emulator(&runtime, &args.client)?;
            emulator = Some(started);
            Some(Arc::new(Client::new(settings)?))
        } else if needs_aep {
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
            store: Some(store),
            client,
            runtime,
            refresh: args.refresh,
            targets: args.targets.clone(),
            origin: crate::plan::PlanOrigin {
                config: args.config.clone(),
                state: Some(state_path.clone()),
                emulator: args.emulator,
            },
            emulator,
        }))
    }

    pub fn store(&self) -> &Store {
        match &self.store {
            Some(store) => store,
            None => unreachable!("the store is only lent out while applying"),
        }
    }

    pub fn store_mut(&mut self) -> &mut Store {
        match &mut self.store {
            Some(store) => store,
            None => unreachable!("the store is only lent out while applying"),
        }
    }

    /// Lends the store out (to the applier), to be given back with [`Session::give_back`].
    pub fn take_store(&mut self) -> Store {
        match self.store.take() {
            Some(store) => store,
            None => unreachable!("the store is lent out once"),
        }
    }

    /// Records the declared `protect` flags (see [`crate::apply::sync_lifecycle`]).
    pub fn sync_lifecycle(&mut self) -> Result<usize, crate::state::file::StateError> {
        match &mut self.store {
            Some(store) => crate::apply::sync_lifecycle(&self.desired, store),
            None => Ok(0),
        }
    }

    pub fn give_back(&mut self, store: Store) {
        self.store = Some(store);
    }

    /// Checks the configuration against the live specs, refreshes, and plans.
    pub fn plan(&self, mode: Mode, io: &mut Io<'_>) -> anyhow::Result<Result<(Plan, Live), Exit>> {
        let live = match (&self.client, self.refresh) {
            (Some(client), true) => {
                let desired = &self.desired;
                let state = self.store().state();
                let checked = self.runtime.block_on(async {
                    let diagnostics = specs::check_all(client, desired).await?;
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
            digest_salt: crate::state::random_salt(),
        };
        let mut planned = plan::plan(&self.desired, self.store().state(), &live, &options);
        planned.origin = self.origin.clone();
        // Targets that match nothing are a mistake, not an empty plan.
        let state = self.store().state();
        for target in &self.targets {
            let known = self
                .desired
                .connections
                .values()
                .any(|c| c.key == *target || crate::state::address(&c.sandbox, &c.key) == *target)
                || state.find(target).is_some();
            if !known {
                planned.errors.push(format!(
                    "--target `{target}` matches no declared or managed connection"
                ));
            }
        }
        if !self.targets.is_empty() && planned.errors.is_empty() {
            planned.warnings.push(
                "the plan is limited to --target; other connections may have changes it does not show. Targeting is for exceptional cases, not routine use".to_owned(),
            );
        }
        Ok(Ok((planned, live)))
    }
}
