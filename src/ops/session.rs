//! What `plan`, `apply`, `destroy`, `drift` and `import` share: load the configuration,
//! open the state, connect to AEP, check against the live specs, refresh, plan.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

use flowform_emulator::{Emulator, Options as EmulatorOptions, ims};

use super::scope::Scope;
use super::{Error, Exit, Io, Target};
use crate::config::{self, Desired, LoadOptions};
use crate::diagnostic::Diagnostics;
use crate::flow::Client;
use crate::flow::settings::{Credentials, Overrides, RetryPolicy, Settings};
use crate::plan::{self, Live, Mode, Options, Plan};
use crate::secret::Secret;
use crate::settings::Environment;
use crate::state::store::Store;

/// A planning command's configuration, state and connection to AEP.
pub struct Session {
    pub desired: Desired,
    /// Plans need no configuration digest (neither saved nor rendered as JSON).
    pub without_digest: bool,
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
    /// Show the refresh's progress on a terminal (not for `--format json`).
    pub progress: bool,
    /// The managed connections' batches, sent while the configuration was read
    /// ([`Session::open_reading`]); taken by the first refresh.
    prefetch: std::sync::Mutex<Option<crate::refresh::Prefetch>>,
    /// What the live checks could not check yet, by address (said on the plan's changes).
    deferred: Vec<(String, String)>,
    /// What the live checks learnt, for a saved plan.
    learnt: Vec<crate::plan::Learnt>,
    /// The configuration as written, before what the live checks learnt was filled in.
    declared: Option<Desired>,
}

/// The state opened, and AEP's client with its runtime.
struct Connected {
    store: Store,
    runtime: tokio::runtime::Runtime,
    emulator: Option<Emulator>,
    client: Option<Arc<Client>>,
    prefetch: Option<crate::refresh::Prefetch>,
}

/// Opens the state and connects to AEP (or the emulator). `prefetch`: start the managed
/// connections' batches by id too, unless the state belongs to another organization (which
/// the session refuses before reading anything).
fn connect(
    scope: &Scope,
    args: &Target,
    env: &Environment,
    io: &mut Io<'_>,
    command: &str,
    write: bool,
    prefetch: bool,
) -> Result<Connected, Error> {
    let store = scope.open_state(&args.state, write, command, env)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let needs_aep = args.refresh || write;
    let mut emulator = None;
    let client = if let Some(dir) = &scope.emulator_dir {
        let (started, settings) = start_emulator(&runtime, &args.client, Some(dir))?;
        emulator = Some(started);
        Some(Arc::new(Client::new(settings)?))
    } else if needs_aep {
        Some(Arc::new(Client::new(Settings::from_env(env, &args.client)?)?))
    } else {
        // Not needed for a plan from the state alone, but applying it will be: a missing
        // credential is said now, not first at the apply.
        if let Err(e) = Settings::from_env(env, &args.client) {
            writeln!(
                io.err,
                "warning: {e}; this plan does not read AEP (--refresh=false), but applying it will"
            )?;
            if let Some(help) = e.help() {
                writeln!(io.err, "help: {help}\n")?;
            }
        }
        None
    };
    let prefetch = match &client {
        Some(client)
            if prefetch
                && store
                    .state()
                    .org
                    .as_ref()
                    .is_none_or(|recorded| *recorded == client.settings().org_id) =>
        {
            let _entered = runtime.enter();
            Some(crate::refresh::Prefetch::start(client, store.state()))
        }
        _ => None,
    };
    Ok(Connected {
        store,
        runtime,
        emulator,
        client,
        prefetch,
    })
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

/// Starts the in-process emulator of `--emulator` (data in `dir`) and the client settings
/// that reach it with its demo credential.
pub fn start_emulator(
    runtime: &tokio::runtime::Runtime,
    client: &Overrides,
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
        command_timeout: client
            .timeout
            .unwrap_or(crate::flow::limits::DEFAULT_COMMAND_TIMEOUT),
        max_url_length: client
            .max_url_length
            .unwrap_or(crate::flow::limits::DEFAULT_MAX_URL_LENGTH)
            .max(crate::flow::limits::MIN_MAX_URL_LENGTH),
    };
    Ok((started, settings))
}

/// Prints configuration diagnostics and the count line; the command then exits 1.
pub fn report(diagnostics: &Diagnostics, io: &mut Io<'_>) -> Error {
    let errors = diagnostics.error_count();
    let plural = if errors == 1 { "" } else { "s" };
    // Formatted first and written at once: stderr is unbuffered, and thousands of
    // diagnostics written piece by piece cost a system call per piece.
    let text = format!("{diagnostics}\nerror: the configuration has {errors} error{plural}\n");
    let printed = io.err.write_all(text.as_bytes());
    match printed {
        Ok(()) => Error::reported(Exit::Failure),
        Err(e) => Error::from(e),
    }
}

impl Session {
    /// Loads, opens and connects.
    pub fn open(
        args: &Target,
        env: &Environment,
        io: &mut Io<'_>,
        command: &str,
        write: bool,
    ) -> Result<Session, Error> {
        Session::open_with(args, env, io, command, write, false)
    }

    /// [`Session::open`] for a command that plans with a refresh: the state is opened and the
    /// managed connections' batches by id are sent ([`crate::refresh::Prefetch`]) while
    /// another thread reads the configuration, which they do not depend on. The
    /// configuration's errors are still said first, and nothing is written before it loads.
    pub fn open_reading(
        args: &Target,
        env: &Environment,
        io: &mut Io<'_>,
        command: &str,
        write: bool,
    ) -> Result<Session, Error> {
        Session::open_with(args, env, io, command, write, args.refresh)
    }

    fn open_with(
        args: &Target,
        env: &Environment,
        io: &mut Io<'_>,
        command: &str,
        write: bool,
        early: bool,
    ) -> Result<Session, Error> {
        let scope = Scope::settle(&args.config, args.state.path.as_deref(), args.emulator)
            .map_err(|e| e.report(io))?;
        let narrowed_files = scope.narrowed_files().map_err(|e| e.report(io))?;
        let options = LoadOptions {
            secrets_only_in: narrowed_files.clone(),
            ..LoadOptions::default()
        };
        // Not for the emulator, whose first run creates the state and which keeps data of its
        // own: nothing of it may start before the configuration is known to load.
        let (loaded, connected) = if early && scope.emulator_dir.is_none() {
            std::thread::scope(|threads| {
                let loading = threads.spawn(|| config::load(&scope.config, env, &options));
                // Only if the lock is free now: a configuration error is never kept waiting for
                // another holder. Whatever stops this early try (the lock, a missing state or
                // credential) is met again, and said, in order, after the configuration loads.
                let at_once = Target {
                    state: crate::ops::StateOptions {
                        lock_timeout: std::time::Duration::ZERO,
                        ..args.state.clone()
                    },
                    ..args.clone()
                };
                let connected = connect(&scope, &at_once, env, io, command, write, true).ok();
                let loaded = loading
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
                (loaded, connected)
            })
        } else {
            (config::load(&scope.config, env, &options), None)
        };
        // The configuration's errors first, whatever came of the rest (a state opened early
        // is closed, its lock released, nothing written).
        let loaded = loaded.map_err(|d| report(&d, io))?;
        // Formatted first and written at once (stderr is unbuffered).
        let mut warnings = String::new();
        for warning in loaded.warnings.iter() {
            writeln!(warnings, "{warning}\n")?;
        }
        io.err.write_all(warnings.as_bytes())?;
        // What the narrowed files declare, and what that refers to (as `--target` pulls in
        // what a target depends on).
        let narrowed = narrowed_files.map(|files| {
            let mut wanted: Vec<String> = loaded
                .desired
                .resources
                .values()
                .filter(|c| std::fs::canonicalize(&c.origin.file).is_ok_and(|real| files.contains(&real)))
                .map(crate::config::Resource::address)
                .collect();
            let mut out = BTreeSet::new();
            while let Some(address) = wanted.pop() {
                if let Some(r) = loaded.desired.resources.get(&address)
                    && out.insert(address)
                {
                    wanted.extend(crate::plan::references(r));
                }
            }
            out
        });
        let Connected {
            mut store,
            runtime,
            emulator,
            client,
            prefetch,
        } = match connected {
            Some(connected) => connected,
            None => connect(&scope, args, env, io, command, write, false)?,
        };
        for warning in store.warnings() {
            writeln!(io.err, "warning: {warning}")?;
        }
        if let Some(client) = &client {
            let org = &client.settings().org_id;
            match &store.state().org {
                Some(recorded) if recorded != org => {
                    return Err(Error::message(
                        format!(
                            "the state `{}` belongs to the organization `{recorded}`, and this run reaches `{org}`; nothing was read or changed, since every connection of the state would look deleted there",
                            scope.state
                        ),
                        Some(format!(
                            "set `AEP_ORG_ID` to `{recorded}` (and the credentials of that organization), or run in the project that belongs to `{org}`"
                        )),
                    ));
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
        Ok(Session {
            without_digest: false,
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
            progress: true,
            prefetch: std::sync::Mutex::new(prefetch),
            deferred: Vec::new(),
            learnt: Vec::new(),
            declared: None,
        })
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

    /// Ends a session that only read (`plan`), its output written: the store is closed as
    /// ever (lock released), but the configuration and the state are not freed one
    /// allocation at a time — the process ends right after.
    pub fn close_leaking(mut self) {
        if let Some(store) = self.store.take() {
            store.close_leaking_state();
        }
        std::mem::forget(std::mem::take(&mut self.desired));
    }

    pub fn give_back(&mut self, store: Store) {
        self.store = Some(store);
    }

    /// Checks the configuration against AEP, refreshes, and plans.
    pub fn plan(&mut self, mode: Mode, io: &mut Io<'_>) -> Result<(Plan, Live), Error> {
        self.plan_replacing(mode, &[], io)
    }

    /// [`Session::plan`], replacing the resources `replace` names (`plan --replace`).
    pub fn plan_replacing(
        &mut self,
        mode: Mode,
        replace: &[String],
        io: &mut Io<'_>,
    ) -> Result<(Plan, Live), Error> {
        let live = self.refresh(mode == Mode::RefreshOnly, io)?;
        let mut plan = self.plan_against(mode, replace, &live);
        self.say_replacements(&mut plan)?;
        Ok((plan, live))
    }

    /// What each kind says of its replacements, from AEP (a dataflow: from when the new one
    /// reads), on the changes that make them: a replacement, or the create of a resource
    /// whose old one an earlier apply deposed.
    fn say_replacements(&self, plan: &mut Plan) -> Result<(), Error> {
        let (Some(client), true) = (&self.client, self.refresh) else {
            return Ok(());
        };
        // Per kind: (address, sandbox, the old id) of each replacement.
        type Replaced = Vec<(String, String, String)>;
        let mut by_kind: Vec<(&'static crate::kind::Kind, Replaced)> = Vec::new();
        {
            let state = self.store().state();
            for c in &plan.changes {
                let old = match c.action {
                    crate::plan::Action::Replace => c.id.clone(),
                    crate::plan::Action::Create => state
                        .resources
                        .get(&format!("{}#deposed", c.address))
                        .map(|r| r.id.clone()),
                    _ => None,
                };
                let Some(old) = old else { continue };
                let entry = (c.address.clone(), c.sandbox.clone(), old);
                match by_kind.iter_mut().find(|(k, _)| *k == c.kind()) {
                    Some((_, list)) => list.push(entry),
                    None => by_kind.push((c.kind(), vec![entry])),
                }
            }
        }
        for (kind, replaced) in by_kind {
            let notes = self
                .runtime
                .block_on(kind.hooks.replacing(crate::kind::Replacing { client, replaced }))?;
            for said in notes {
                if let Some(c) = plan.changes.iter_mut().find(|c| {
                    c.address == said.address
                        && matches!(
                            c.action,
                            crate::plan::Action::Replace | crate::plan::Action::Create
                        )
                }) {
                    c.notes.push(said.note);
                    // What the new one will be created with, shown as such.
                    for (path, value) in said.values {
                        // A `once` flow takes no backfill: only what the plan shows is changed.
                        if let Some(f) = c.fields.iter_mut().find(|f| f.path == path) {
                            if let Some(declared) = f.after.as_ref().filter(|a| **a != value) {
                                c.notes.push(format!(
                                    "`{path}`: the declared {} gives way to continuity",
                                    crate::render::show(declared)
                                ));
                            }
                            f.after = Some(value);
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Checks the configuration against AEP (each kind's live check: the connection specs,
    /// the sources' tables, the datasets; what only AEP knows is filled in) and reads AEP
    /// (`list_all`: every group in full, as drift detection needs); without a refresh, an
    /// empty view.
    pub fn refresh(&mut self, list_all: bool, io: &mut Io<'_>) -> Result<Live, Error> {
        let mut learned_values = None;
        let live = match (&self.client, self.refresh) {
            (Some(client), true) => {
                let desired = &self.desired;
                let state = self.store().state();
                // The specs' check and the refresh at once: neither needs the other's answers,
                // and one round trip less is what a small plan takes (a configuration the
                // specs refuse throws the refresh's reading away).
                // Sent while the configuration was read, and counted in the total.
                let prefetch = crate::sync::lock(&self.prefetch).take();
                let before = if prefetch.is_some() { 0 } else { client.requests() };
                let (diagnostics, refreshed) = self.runtime.block_on(async {
                    let reading =
                        super::reading::Reading::start(client, super::reading::wanted(self.progress));
                    let expect = |requests| reading.expect(requests);
                    let both = tokio::join!(
                        crate::kind::live::check(client, desired, state, false),
                        crate::refresh::refresh(client, desired, state, list_all, prefetch, &expect)
                    );
                    reading.finish();
                    both
                });
                // One total: the two share the client, so their requests cannot be told
                // apart by its counter (each sandbox and spec's own is said above).
                crate::info!(
                    "refresh: {} requests in all, the live checks included",
                    client.requests().saturating_sub(before)
                );
                let learned = diagnostics?;
                if learned.diagnostics.has_errors() {
                    return Err(report(&learned.diagnostics, io));
                }
                let mut warnings = String::new();
                for warning in learned.diagnostics.iter() {
                    writeln!(warnings, "{warning}\n")?;
                }
                io.err.write_all(warnings.as_bytes())?;
                learned_values = Some(learned);
                refreshed?.0
            }
            _ => Live::default(),
        };
        if let Some(learned) = learned_values {
            if !learned.values.is_empty() {
                // A saved plan's digest is of the configuration as written, which `apply FILE`
                // reads again, not of what AEP taught this plan.
                self.declared = Some(self.desired.clone());
            }
            crate::kind::live::fill(&mut self.desired, &learned);
            self.learnt = learned
                .values
                .iter()
                .map(|(address, path, value)| crate::plan::Learnt {
                    address: address.clone(),
                    path: (*path).to_owned(),
                    value: value.clone(),
                })
                .collect();
            self.deferred = learned.notes;
        }
        Ok(live)
    }

    /// Plans against what a refresh read.
    pub fn plan_against(&self, mode: Mode, replace: &[String], live: &Live) -> Plan {
        let options = Options {
            targets: self.targets.iter().cloned().collect(),
            scope: self.narrowed.clone(),
            mode,
            digest_salt: crate::state::random_salt(),
            replace: replace.iter().cloned().collect(),
            without_digest: self.without_digest,
        };
        let mut planned = plan::plan(&self.desired, self.store().state(), live, &options);
        planned.origin = self.origin.clone();
        planned.learned = self.learnt.clone();
        if let Some(declared) = self.declared.as_ref().filter(|_| !self.without_digest) {
            let state = self.store().state();
            planned.config_digest = plan::config_digest(declared, &options.digest_salt, &state.digester);
        }
        // What the live checks could not check yet is said on the change that sends it.
        for (address, note) in &self.deferred {
            if let Some(change) = planned.changes.iter_mut().find(|c| {
                &c.address == address
                    && matches!(
                        c.action,
                        crate::plan::Action::Create | crate::plan::Action::Replace
                    )
            }) {
                change.notes.push(note.clone());
            }
        }
        // Targets that match nothing are a mistake, not an empty plan.
        let state = self.store().state();
        for target in &self.targets {
            let key = crate::kind::KeyRef::parse(target).ok();
            let known = self
                .desired
                .resources
                .keys()
                .chain(state.resources.keys())
                .any(|a| a == target || key.as_ref().is_some_and(|k| k.names_address(a)));
            if !known {
                planned.errors.push(crate::plan::Problem::new(format!(
                    "--target `{target}` matches no declared or managed resource"
                )));
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
                "the plan is limited to the {} declared in `{}`, against the project's one state; resources declared elsewhere, or no longer declared, are not shown. A plan without `-c` covers the whole project",
                crate::kind::tally(narrowed.iter().map(|a| crate::kind::address::kind_of(a))),
                inputs.join(" ")
            ));
        }
        if !self.targets.is_empty() && planned.errors.is_empty() {
            planned.warnings.push(
                "the plan is limited to --target and what it depends on; other resources may have changes it does not show. Targeting is for exceptional cases, not routine use".to_owned(),
            );
        }
        planned
    }

    /// Whether a resource is within the plan's reach (`--target`, `-c` narrowing).
    pub fn in_scope(&self, address: &str, key: &str) -> bool {
        let targeted = |t: &String| {
            t == address || t == key || crate::kind::KeyRef::parse(t).is_ok_and(|k| k.names_address(address))
        };
        (self.targets.is_empty() || self.targets.iter().any(targeted))
            && self.narrowed.as_ref().is_none_or(|n| n.contains(address))
    }
}
