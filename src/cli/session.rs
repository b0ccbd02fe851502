//! What `plan`, `apply`, `destroy`, `drift` and `import` share: load the configuration,
//! open the state, connect to AEP, check against the live specs, refresh, plan.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use flowform_emulator::{Emulator, Options as EmulatorOptions, ims};

use super::state::StateArgs;
use super::{ClientArgs, Exit, Io};
use crate::config::{self, Desired, LoadOptions};
use crate::diagnostic::Diagnostics;
use crate::flow::settings::{Credentials, RetryPolicy, Settings};
use crate::flow::{Client, specs};
use crate::plan::{self, Live, Mode, Options, Plan};
use crate::project::{self, Project, StateLocation};
use crate::secret::Secret;
use crate::settings::Environment;
use crate::state::file::StateError;
use crate::state::store::{Missing, Store};

/// The flags every planning command takes.
#[derive(Debug, Clone, clap::Args)]
pub struct Target {
    /// Narrow the plan to these of the project's configuration files or directories
    /// (repeatable); the state is always the project's
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
    /// of its own in `emulator/` beside the project's state: a demo that never touches AEP or
    /// the real state
    #[arg(long)]
    pub emulator: bool,
}

pub struct Session {
    pub desired: Desired,
    store: Option<Store>,
    pub client: Option<Arc<Client>>,
    pub runtime: tokio::runtime::Runtime,
    pub refresh: bool,
    pub targets: Vec<String>,
    /// The addresses `-c` narrowed the plan to (every declared one when not narrowed).
    pub narrowed: Option<BTreeSet<String>>,
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

/// Which configuration and which state a command works on: the project's, found by walking
/// up from the working directory; or, outside any project, exactly the `-c` and `--state`
/// given. Never derived from how the command happened to be called.
#[derive(Clone, Debug)]
pub struct Scope {
    pub project: Option<Project>,
    /// Every configuration input of the project.
    pub config: Vec<PathBuf>,
    /// The `-c` inputs that narrow what is planned, when given inside a project.
    pub narrowed: Vec<PathBuf>,
    /// The state file.
    pub state: PathBuf,
    /// `--emulator`: where the emulator keeps its data (its state is `state`, in there).
    pub emulator_dir: Option<PathBuf>,
}

/// Why no scope could be settled; printed as it is.
#[derive(Debug)]
pub enum ScopeError {
    Project(Diagnostics),
    Message(String),
}

impl std::fmt::Display for ScopeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ScopeError::Project(d) => write!(f, "{}", d.to_string().trim_end()),
            ScopeError::Message(m) => write!(f, "error: {m}"),
        }
    }
}

/// Whether two paths name one file (symlinks resolved; a file not there yet by its
/// directory).
fn same_file(a: &Path, b: &Path) -> bool {
    match (crate::state::file::real_path(a), crate::state::file::real_path(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// The message for a command run outside any project.
pub fn no_project() -> String {
    let here = std::env::current_dir()
        .map(|d| d.display().to_string())
        .unwrap_or_else(|_| ".".to_owned());
    format!(
        "no flowform project here: no `{}` in `{here}` or any directory above it\nhelp: run `flowform init` at the root of your infra repository (it uses `connections/` and keeps the state in `state/`), or `flowform -C DIR …` to run in another directory",
        project::FILE
    )
}

impl Scope {
    /// Settles the scope from the flags. `config`: the `-c` inputs; `state`: `--state`.
    pub fn settle(config: &[PathBuf], state: Option<&Path>, emulator: bool) -> Result<Scope, ScopeError> {
        let found = Project::discover(Path::new(".")).map_err(ScopeError::Project)?;
        let (project, all, narrowed, state_path) = match found {
            Some(p) => {
                let StateLocation::File(own) = &p.state;
                // Inside a project, `--state` may only name the project's own state: a
                // project has one, and another project's would plan its connections away.
                if let Some(given) = state
                    && !same_file(given, own)
                {
                    return Err(ScopeError::Message(format!(
                        "`--state {}` is not this project's state: `{}` names `{}`, and a project has one state\nhelp: drop `--state`; to keep the state elsewhere, change `state` in `{}`",
                        given.display(),
                        p.file.display(),
                        own.display(),
                        p.file.display()
                    )));
                }
                let state_path = own.clone();
                let all = p.config.clone();
                (Some(p), all, config.to_vec(), state_path)
            }
            None => match (config.is_empty(), state) {
                // Outside a project, both named explicitly: nothing is derived.
                (false, Some(state)) => (None, config.to_vec(), Vec::new(), state.to_owned()),
                _ => return Err(ScopeError::Message(no_project())),
            },
        };
        let emulator_dir = emulator.then(|| match &project {
            Some(p) if state.is_none() => p.emulator_dir(),
            _ => state_path
                .parent()
                .map_or_else(|| PathBuf::from("emulator"), |d| d.join("emulator")),
        });
        let state_path = match (&emulator_dir, state) {
            (Some(dir), None) => dir.join(state_path.file_name().unwrap_or_default()),
            _ => state_path,
        };
        Ok(Scope {
            project,
            config: all,
            narrowed,
            state: state_path,
            emulator_dir,
        })
    }

    /// Settles which state a command that reads no configuration works on (`flowform
    /// state …`).
    pub fn settle_state(state: Option<&Path>, emulator: bool) -> Result<Scope, ScopeError> {
        match (
            Project::discover(Path::new(".")).map_err(ScopeError::Project)?,
            state,
        ) {
            (Some(p), _) => Scope::settle(&p.config.clone(), state, emulator).map(|mut scope| {
                scope.narrowed.clear();
                scope
            }),
            (None, Some(given)) => Scope::settle(&[PathBuf::from(".")], Some(given), emulator),
            (None, None) => Err(ScopeError::Message(no_project())),
        }
    }

    /// The project's configuration files that `-c` names (real paths), or an error naming a
    /// `-c` input outside the project.
    fn narrowed_files(&self) -> Result<Option<BTreeSet<PathBuf>>, Diagnostics> {
        if self.narrowed.is_empty() {
            return Ok(None);
        }
        let real = |files: Vec<PathBuf>| -> BTreeSet<PathBuf> {
            files
                .into_iter()
                .map(|f| std::fs::canonicalize(&f).unwrap_or(f))
                .collect()
        };
        let all = real(config::files::discover(&self.config)?);
        let mut problems = Diagnostics::default();
        let mut narrowed = BTreeSet::new();
        for input in &self.narrowed {
            for file in real(config::files::discover(std::slice::from_ref(input))?) {
                if all.contains(&file) {
                    narrowed.insert(file);
                } else {
                    let project_file = self
                        .project
                        .as_ref()
                        .map(|p| p.file.display().to_string())
                        .unwrap_or_default();
                    problems.push(
                        crate::diagnostic::Diagnostic::error(format!(
                            "`-c {}` is not part of this project's configuration (`{}` in `{project_file}`); `-c` narrows a plan to some of the project's files, it never selects another configuration or state",
                            input.display(),
                            self.config.iter().map(|c| c.display().to_string()).collect::<Vec<_>>().join("`, `")
                        ))
                        .help(format!(
                            "add it to `config` in `{project_file}`, or run flowform in the project it belongs to (`flowform -C DIR …`)"
                        )),
                    );
                    break;
                }
            }
        }
        if !problems.is_empty() {
            Err(problems)
        } else if narrowed == all {
            // Every file of the project: nothing is narrowed.
            Ok(None)
        } else {
            Ok(Some(narrowed))
        }
    }

    /// Opens the state: under the lock when `write`; the emulator's own state is started on
    /// first use, the project's only by `flowform init`.
    pub fn open_state(
        &self,
        args: &StateArgs,
        write: bool,
        command: &str,
        env: &Environment,
    ) -> Result<Store, StateError> {
        let missing = if self.emulator_dir.is_some() {
            Missing::Create
        } else {
            Missing::Refuse
        };
        args.open_at(
            &self.state,
            write || missing == Missing::Create,
            command,
            env,
            missing,
        )
    }
}

/// Starts the in-process emulator of `--emulator` (data in `dir`) and the client settings
/// that reach it with its demo credential.
pub fn start_emulator(
    runtime: &tokio::runtime::Runtime,
    client: &ClientArgs,
    dir: Option<&Path>,
) -> anyhow::Result<(Emulator, Settings)> {
    let data = dir.map(|d| d.join("aep.json"));
    let started = runtime.block_on(Emulator::start(EmulatorOptions {
        data: data.clone(),
        initializing_ms: 1_500,
        ..EmulatorOptions::default()
    }))?;
    crate::info!(
        "using the in-process emulator at {}{}",
        started.base_url(),
        data.map(|d| format!(" (data in {})", d.display()))
            .unwrap_or_default()
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
        let scope = match Scope::settle(&args.config, args.state.path.as_deref(), args.emulator) {
            Ok(scope) => scope,
            Err(e) => {
                writeln!(io.err, "{e}")?;
                return Ok(Err(Exit::Failure));
            }
        };
        let narrowed_files = match scope.narrowed_files() {
            Ok(files) => files,
            Err(diagnostics) => {
                write!(io.err, "{diagnostics}")?;
                return Ok(Err(Exit::Failure));
            }
        };
        let options = LoadOptions {
            secrets_only_in: narrowed_files.clone(),
            ..LoadOptions::default()
        };
        let loaded = match config::load(&scope.config, env, &options) {
            Ok(loaded) => loaded,
            Err(diagnostics) => {
                report(&diagnostics, io)?;
                return Ok(Err(Exit::Failure));
            }
        };
        for warning in loaded.warnings.iter() {
            writeln!(io.err, "{warning}\n")?;
        }
        let narrowed = narrowed_files.map(|files| {
            loaded
                .desired
                .connections
                .values()
                .filter(|c| std::fs::canonicalize(&c.origin.file).is_ok_and(|real| files.contains(&real)))
                .map(|c| crate::state::address(&c.sandbox, &c.key))
                .collect::<BTreeSet<String>>()
        });
        let store = match scope.open_state(&args.state, write, command, env) {
            Ok(store) => store,
            Err(e) => {
                writeln!(io.err, "error: {e}")?;
                return Ok(Err(Exit::Failure));
            }
        };
        for warning in store.warnings() {
            writeln!(io.err, "warning: {warning}")?;
        }
        let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
        let needs_aep = args.refresh || write;
        let mut emulator = None;
        let client = if let Some(dir) = &scope.emulator_dir {
            let (started, settings) = start_emulator(&runtime, &args.client, Some(dir))?;
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
        let mut store = store;
        if let Some(client) = &client {
            let org = &client.settings().org_id;
            match &store.state().org {
                Some(recorded) if recorded != org => {
                    writeln!(
                        io.err,
                        "error: the state `{}` belongs to the organization `{recorded}`, and this run reaches `{org}`; nothing was read or changed, since every connection of the state would look deleted there\nhelp: set `AEP_ORG_ID` to `{recorded}` (and the credentials of that organization), or run in the project that belongs to `{org}`",
                        scope.state.display()
                    )?;
                    return Ok(Err(Exit::Failure));
                }
                Some(_) => {}
                // The first run that writes, with an organization, binds the state to it.
                None if write => {
                    let org = org.clone();
                    store.edit(|s| s.org = Some(org))?;
                }
                None => {}
            }
        }
        Ok(Ok(Session {
            desired: loaded.desired,
            store: Some(store),
            client,
            runtime,
            refresh: args.refresh,
            targets: args.targets.clone(),
            narrowed,
            origin: crate::plan::PlanOrigin {
                config: args.config.clone(),
                state: args.state.path.clone(),
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
            scope: self.narrowed.clone(),
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
        if let Some(narrowed) = &self.narrowed
            && planned.errors.is_empty()
        {
            let inputs: Vec<String> = self
                .origin
                .config
                .iter()
                .map(|c| format!("-c {}", c.display()))
                .collect();
            planned.warnings.push(format!(
                "the plan is limited to the {} connection{} declared in `{}`, against the project's one state; connections declared elsewhere, or no longer declared, are not shown. A plan without `-c` covers the whole project",
                narrowed.len(),
                if narrowed.len() == 1 { "" } else { "s" },
                inputs.join(" ")
            ));
        }
        if !self.targets.is_empty() && planned.errors.is_empty() {
            planned.warnings.push(
                "the plan is limited to --target; other connections may have changes it does not show. Targeting is for exceptional cases, not routine use".to_owned(),
            );
        }
        Ok(Ok((planned, live)))
    }

    /// Whether a connection is within the plan's reach (`--target`, `-c` narrowing).
    pub fn in_scope(&self, address: &str, key: &str) -> bool {
        (self.targets.is_empty() || self.targets.iter().any(|t| t == address || t == key))
            && self.narrowed.as_ref().is_none_or(|n| n.contains(address))
    }
}
