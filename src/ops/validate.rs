//! `validate`: load the configuration and report every problem, touching nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::session::report;
use super::{Exit, Io, Outcome};
use crate::catalog;
use crate::config::{self, Desired, LoadOptions};
use crate::flow::Client;
use crate::flow::settings::{Overrides, Settings};
use crate::project::Project;
use crate::settings::Environment;

/// `flowform validate`.
#[derive(Clone, Debug, Default)]
pub struct ValidateRequest {
    /// Files or directories; default: the project's, or `flowform.yaml`, else `connections/`.
    pub config: Vec<PathBuf>,
    /// Check references' syntax without resolving them.
    pub skip_secrets: bool,
    /// Also check against AEP's live connection specs.
    pub live: bool,
    /// With `live`: against the in-process emulator.
    pub emulator: bool,
    pub client: Overrides,
}

pub fn validate(request: &ValidateRequest, env: &Environment, io: &mut Io<'_>) -> Outcome {
    let args = request;
    let mut options = LoadOptions {
        resolve_secrets: !args.skip_secrets,
        secrets_only_in: None,
    };
    // Validating reads no state: `-c` names any files; without it, the project's
    // configuration, or outside a project `flowform.yaml`, else `connections/`.
    let project = match Project::discover(Path::new(".")) {
        Ok(project) => project,
        Err(diagnostics) => return Err(report(&diagnostics, io)),
    };
    let narrowed = project.as_ref().and_then(|p| narrowed_files(p, &args.config));
    let inputs = match (&project, args.config.is_empty(), &narrowed) {
        (Some(p), true, _) | (Some(p), false, Some(_)) => p.config.clone(),
        _ => args.config.clone(),
    };
    // Files of the project named with `-c` are validated as part of it (what they refer to
    // may be declared in its other files), as `plan -c` plans them; their secrets alone are
    // read.
    options.secrets_only_in = narrowed.clone();
    let mut loaded = config::load(&inputs, env, &options).map_err(|d| report(&d, io))?;
    if let Some(files) = &narrowed {
        let desired = &mut loaded.desired;
        desired
            .resources
            .retain(|_, r| std::fs::canonicalize(&r.origin.file).is_ok_and(|real| files.contains(&real)));
        desired.sandboxes = desired.resources.values().map(|r| r.sandbox.clone()).collect();
    }
    // Formatted first and written at once (stderr is unbuffered).
    let mut warnings = String::new();
    for warning in loaded.warnings.iter() {
        writeln!(warnings, "{warning}\n")?;
    }
    io.err.write_all(warnings.as_bytes())?;
    if args.live {
        let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
        let (settings, emulator) = if args.emulator {
            let dir = project.as_ref().map(Project::emulator_dir);
            let (emulator, settings) =
                super::session::start_emulator(&runtime, &args.client, dir.as_deref())?;
            (settings, Some(emulator))
        } else {
            (Settings::from_env(env, &args.client)?, None)
        };
        let client = std::sync::Arc::new(Client::new(settings)?);
        // What the state knows resolves references to what AEP has (a source connection's
        // base connection, to explore its tables); validating writes nothing, and works
        // without a state too.
        let state = known_state(&args.config, args.emulator, env);
        let checked = runtime.block_on(crate::kind::live::check(&client, &loaded.desired, &state, true));
        if let Some(emulator) = emulator {
            runtime.block_on(emulator.shutdown())?;
        }
        let learned = checked.map_err(anyhow::Error::from)?;
        let mut notes = String::new();
        for (address, note) in &learned.notes {
            writeln!(notes, "note: `{address}`: {note}")?;
        }
        io.err.write_all(notes.as_bytes())?;
        let diagnostics = learned.diagnostics;
        crate::info!(
            "checked against {} live connection specs, the sources' tables and the datasets, in {} requests",
            count_specs(&loaded.desired),
            client.requests()
        );
        if diagnostics.has_errors() {
            return Err(report(&diagnostics, io));
        }
        let mut warnings = String::new();
        for warning in diagnostics.iter() {
            writeln!(warnings, "{warning}\n")?;
        }
        io.err.write_all(warnings.as_bytes())?;
    }
    for line in summary(&loaded.desired) {
        writeln!(io.out, "{line}")?;
    }
    Ok(Exit::Success)
}

/// The files `-c` names, when each is one of the project's configuration files (`None`:
/// `-c` names files of its own, or none).
fn narrowed_files(project: &Project, config: &[PathBuf]) -> Option<BTreeSet<PathBuf>> {
    if config.is_empty() {
        return None;
    }
    let real = |files: Vec<PathBuf>| -> BTreeSet<PathBuf> {
        files
            .into_iter()
            .map(|f| std::fs::canonicalize(&f).unwrap_or(f))
            .collect()
    };
    let all = real(config::files::discover(&project.config).ok()?);
    let named = real(config::files::discover(config).ok()?);
    (!named.is_empty() && named.is_subset(&all)).then_some(named)
}

/// The project's state, read without its lock, if there is one (the emulator's under
/// `--emulator`); else an empty one.
fn known_state(config: &[PathBuf], emulator: bool, env: &Environment) -> crate::state::State {
    let Ok(scope) = super::scope::Scope::settle(config, None, emulator) else {
        return crate::state::State::new();
    };
    let options = super::StateOptions {
        lock: false,
        ..super::StateOptions::default()
    };
    match super::scope::open_state(
        &options,
        &scope.state,
        false,
        "flowform validate",
        env,
        crate::state::store::Missing::Refuse,
    ) {
        Ok(store) => store.state().clone(),
        Err(_) => crate::state::State::new(),
    }
}

fn count_specs(desired: &Desired) -> usize {
    desired
        .of(crate::kind::default())
        .map(crate::kind::connection::spec_id)
        .collect::<BTreeSet<_>>()
        .len()
}

/// One line per sandbox: `prod: 3 connections valid (Salesforce 3)`.
fn summary(desired: &Desired) -> Vec<String> {
    let mut by_sandbox: BTreeMap<&str, BTreeMap<String, usize>> = desired
        .sandboxes
        .iter()
        .map(|s| (s.as_str(), BTreeMap::new()))
        .collect();
    // Other kinds, counted after the base connections.
    let mut others: BTreeMap<&str, BTreeMap<&str, usize>> = BTreeMap::new();
    for c in desired.resources.values() {
        if !c.kind.is_default() {
            *others
                .entry(&c.sandbox)
                .or_default()
                .entry(c.kind.noun)
                .or_default() += 1;
            continue;
        }
        let id = crate::kind::connection::spec_id(c);
        let spec = match catalog::by_id(id) {
            Some(s) => s.title.to_owned(),
            None => format!("spec {id}"),
        };
        *by_sandbox.entry(&c.sandbox).or_default().entry(spec).or_default() += 1;
    }
    by_sandbox
        .into_iter()
        .map(|(sandbox, specs)| {
            let total: usize = specs.values().sum();
            let noun = if total == 1 { "connection" } else { "connections" };
            let detail: Vec<String> = specs.iter().map(|(s, n)| format!("{s} {n}")).collect();
            let others: Vec<String> = others
                .get(sandbox)
                .into_iter()
                .flatten()
                .map(|(noun, n)| format!("{n} {noun}{}", if *n == 1 { "" } else { "s" }))
                .collect();
            match (detail.is_empty(), others.is_empty()) {
                (true, true) => format!("{sandbox}: 0 connections, valid"),
                (true, false) => format!("{sandbox}: {} valid", others.join(", ")),
                (false, true) => format!("{sandbox}: {total} {noun} valid ({})", detail.join(", ")),
                (false, false) => format!(
                    "{sandbox}: {total} {noun} valid ({}), {}",
                    detail.join(", "),
                    others.join(", ")
                ),
            }
        })
        .collect()
}
