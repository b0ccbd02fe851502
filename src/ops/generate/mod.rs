//! `generate`: write the project's configuration from what AEP has (see
//! `crate::generate`, which does the writing; this is the IO around it: the project, its
//! state, listing each sandbox, and the files). What is listed, and where, is settled in
//! `select`.

mod select;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::scope::Scope;
use super::session::start_emulator;
use super::{Error, Exit, Io, Outcome, StateOptions};
use crate::config::{self, Desired, LoadOptions, Loader, Param};
use crate::flow::Client;
use crate::flow::settings::{Overrides, Settings};
use crate::generate::{self, Existing, Generated, Listed};
use crate::secret::SecretRef;
use crate::settings::Environment;

/// `flowform generate`.
#[derive(Clone, Debug, Default)]
pub struct GenerateRequest {
    /// The sandboxes to read, in this order (default: those the configuration names).
    pub sandboxes: Vec<String>,
    /// Only connections of these sources (`salesforce`, …) or spec ids; all when empty.
    pub sources: Vec<String>,
    pub specs: Vec<String>,
    /// Only resources whose own name matches one of these patterns (`*`, `?`); all when empty.
    pub names: Vec<String>,
    /// Where to write (default: the project's configuration directory).
    pub out: Option<PathBuf>,
    /// Overwrite files that exist.
    pub force: bool,
    pub client: Overrides,
    pub emulator: bool,
}

/// The project's configuration inputs that hold something to read (an empty `connections/`
/// is where a project starts).
fn present_inputs(inputs: &[PathBuf]) -> Vec<PathBuf> {
    inputs
        .iter()
        .filter(|input| match std::fs::read_dir(input) {
            Ok(entries) => entries.filter_map(Result::ok).any(|e| {
                let path = e.path();
                path.is_file() && path.extension().is_some_and(|x| x == "yaml" || x == "yml")
            }),
            Err(_) => input.exists(),
        })
        .cloned()
        .collect()
}

/// What the project already has that generated configuration must not collide with;
/// `dropped`: files about to be overwritten, whose declarations go.
fn existing(desired: &Desired, state: &crate::state::State, dropped: &BTreeSet<PathBuf>) -> Existing {
    let mut out = Existing::default();
    for (address, r) in &state.resources {
        out.managed.insert(r.id.clone(), address.clone());
        out.keys.insert(r.key.clone());
    }
    for r in desired.resources.values().filter(|r| !r.kind.is_default()) {
        if !dropped.contains(&real(&r.origin.file)) {
            out.linked_names.insert(
                (r.kind.name.to_owned(), r.sandbox.clone(), r.name().to_owned()),
                format!("{}:{}", r.kind.name, r.key),
            );
            out.keys.insert(r.key.clone());
            if let Some(id) = &r.import {
                out.imported.insert(id.clone(), r.address());
            }
        }
    }
    for c in desired.of(crate::kind::default()) {
        if dropped.contains(&real(&c.origin.file)) {
            continue;
        }
        out.keys.insert(c.key.clone());
        if let Some(id) = &c.import {
            out.imported.insert(id.clone(), c.key.clone());
        }
        out.names.insert(
            (
                c.sandbox.clone(),
                crate::kind::connection::spec_id(c).to_ascii_lowercase(),
                c.name().to_owned(),
            ),
            c.key.clone(),
        );
        for p in c.params().into_iter().flat_map(|p| p.values()) {
            if let Param::Secret {
                reference: SecretRef::Env(name),
                ..
            } = p
            {
                out.variables.insert(name.clone());
            }
        }
    }
    for m in &desired.moved {
        out.keys.insert(m.from.key.clone());
    }
    for r in &desired.removed {
        out.keys.insert(r.key.key.clone());
    }
    out
}

/// A path's real form where it exists (a file about to be written: its directory's).
fn real(path: &Path) -> PathBuf {
    crate::state::file::real_path(path).unwrap_or_else(|_| path.to_owned())
}

pub fn generate(request: &GenerateRequest, env: &Environment, io: &mut Io<'_>) -> Outcome {
    let scope = Scope::settle(&[], None, request.emulator).map_err(|e| e.report(io))?;
    let Some(project) = &scope.project else {
        return Err(super::scope::no_project().report(io));
    };
    // The project as it is: what generated configuration must not collide with.
    let inputs = present_inputs(&scope.config);
    let desired = if inputs.is_empty() {
        Desired::default()
    } else {
        let options = LoadOptions {
            resolve_secrets: false,
            secrets_only_in: None,
        };
        match config::load(&inputs, env, &options) {
            Ok(loaded) => loaded.desired,
            Err(d) => {
                write!(io.err, "{d}")?;
                return Err(Error::message(
                    "the project's configuration must load before flowform can add to it",
                    Some("fix the errors above (`flowform validate --skip-secrets` shows them), then generate again".to_owned()),
                ));
            }
        }
    };
    let options = StateOptions {
        lock: false,
        ..StateOptions::default()
    };
    let store = scope.open_state(&options, false, "flowform generate", env)?;
    let state = store.state().clone();
    drop(store);

    let out_dir = match &request.out {
        Some(out) => out.clone(),
        None => match project
            .config
            .iter()
            .find(|c| c.is_dir() || c.extension().is_none())
        {
            Some(dir) => dir.clone(),
            None => {
                return Err(Error::message(
                    format!(
                        "`{}` names no configuration directory to write into",
                        project.file.display()
                    ),
                    Some(
                        "say where with `--out DIR` (and add it to `config` in the project file)".to_owned(),
                    ),
                ));
            }
        },
    };
    let sandboxes = select::settle_sandboxes(request, &desired)?;
    let specs = select::settle_specs(request)?;

    // Refuse before reading anything: files in the way, or files that would drop managed
    // connections from the configuration.
    let targets: Vec<(String, PathBuf)> = sandboxes
        .iter()
        .map(|s| (s.clone(), out_dir.join(format!("{s}.yaml"))))
        .collect();
    let existing_files: Vec<&PathBuf> = targets.iter().map(|(_, p)| p).filter(|p| p.exists()).collect();
    if !existing_files.is_empty() && !request.force {
        let names: Vec<String> = existing_files
            .iter()
            .map(|p| format!("`{}`", p.display()))
            .collect();
        return Err(Error::message(
            format!(
                "{} already exist{}; flowform generate never overwrites a file unasked",
                names.join(", "),
                if names.len() == 1 { "s" } else { "" }
            ),
            Some("generate into another directory with `--out DIR` (and add it to `config` in the project file), or `--force` to write over them".to_owned()),
        ));
    }
    let dropped: BTreeSet<PathBuf> = existing_files.iter().map(|p| real(p)).collect();
    let kept_managed: Vec<String> = desired
        .resources
        .values()
        .filter(|c| dropped.contains(&real(&c.origin.file)))
        .map(crate::config::Resource::address)
        .filter(|a| state.resources.contains_key(a))
        .collect();
    if !kept_managed.is_empty() {
        return Err(Error::message(
            format!(
                "overwriting would drop {} from the configuration, and the next plan would delete {} in AEP: {}",
                if kept_managed.len() == 1 { "a managed connection" } else { "managed connections" },
                if kept_managed.len() == 1 { "it" } else { "them" },
                kept_managed.iter().map(|a| format!("`{a}`")).collect::<Vec<_>>().join(", ")
            ),
            Some("generate into another directory with `--out DIR`; connections already managed are skipped anyway".to_owned()),
        ));
    }

    // Read AEP.
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let (emulator, client) = match &scope.emulator_dir {
        Some(dir) => {
            let (started, settings) = start_emulator(&runtime, &request.client, Some(dir))?;
            (Some(started), Client::new(settings)?)
        }
        None => (None, Client::new(Settings::from_env(env, &request.client)?)?),
    };
    let client = Arc::new(client);
    if let Some(recorded) = &state.org
        && *recorded != client.settings().org_id
    {
        return Err(Error::message(
            format!(
                "the state belongs to the organization `{recorded}`, and this run reaches `{}`",
                client.settings().org_id
            ),
            Some(format!(
                "set `AEP_ORG_ID` to `{recorded}` (and that organization's credentials)"
            )),
        ));
    }
    let listed = runtime.block_on(select::list(&client, &sandboxes, &specs, &request.names, &state));
    if let Some(emulator) = emulator
        && let Err(e) = runtime.block_on(emulator.shutdown())
    {
        writeln!(io.err, "error: the emulator could not save its data: {e:#}")?;
    }
    let listed = listed?;

    let generated = generate::generate(&listed, &existing(&desired, &state, &dropped));
    check_whole(&inputs, &dropped, &targets, &generated, env, io)?;
    report(&generated, &listed, &targets, io)?;
    if generated.files.is_empty() && !request.force {
        writeln!(io.err, "\nNothing to generate: no file was written.")?;
        return Ok(Exit::Success);
    }
    std::fs::create_dir_all(&out_dir).map_err(|e| {
        anyhow::anyhow!(
            "cannot make `{}`: {}",
            out_dir.display(),
            crate::secret::io_reason(&e)
        )
    })?;
    for (sandbox, path) in &targets {
        let text = match generated.files.iter().find(|f| f.sandbox == *sandbox) {
            Some(f) => f.text.clone(),
            // `--force` over a file, with nothing left to write: it declares nothing now.
            None if path.exists() => format!(
                "# Generated by `flowform generate`: AEP has no connection in sandbox `{sandbox}` to add.\nsandbox: {}\nconnections: {{}}\n",
                generate::emit::key(sandbox)
            ),
            None => continue,
        };
        crate::atomic::write(path, text.as_bytes()).map_err(|e| {
            anyhow::anyhow!(
                "cannot write `{}`: {}",
                path.display(),
                crate::secret::io_reason(&e)
            )
        })?;
    }
    let in_project = project.config.iter().any(|c| real(c) == real(&out_dir));
    if !in_project {
        writeln!(
            io.err,
            "\nwarning: `{}` is not part of the project's configuration; add it to `config` in `{}` for plan and apply to read it",
            out_dir.display(),
            project.file.display()
        )?;
    }
    let count: usize = generated.files.iter().map(|f| f.connections.len()).sum();
    let mut steps = Vec::new();
    if !in_project {
        steps.push(format!(
            "add `{}` to `config` in `{}`",
            out_dir.display(),
            project.file.display()
        ));
    }
    if !generated.variables.is_empty() {
        steps.push(
            "set the variables printed on stdout (AEP never returns secrets; they are not sent on import)"
                .to_owned(),
        );
    }
    steps.push(format!(
        "`flowform plan`: it shows {count} to import, 0 to add, 0 to change, 0 to destroy."
    ));
    writeln!(io.err, "\nNext: {}", steps.join(", then "))?;
    Ok(Exit::Success)
}

/// Loads the project as it will be, generated files included: they must load with the rest
/// (keys unique across files, names unique per sandbox and spec). A failure here is
/// flowform's own mistake; nothing is written.
fn check_whole(
    inputs: &[PathBuf],
    dropped: &BTreeSet<PathBuf>,
    targets: &[(String, PathBuf)],
    generated: &Generated,
    env: &Environment,
    io: &mut Io<'_>,
) -> Result<(), Error> {
    let options = LoadOptions {
        resolve_secrets: false,
        secrets_only_in: None,
    };
    let mut loader = Loader::new(env, &options);
    let files = if inputs.is_empty() {
        Vec::new()
    } else {
        config::files::discover(inputs).unwrap_or_default()
    };
    for file in files.iter().filter(|f| !dropped.contains(&real(f))) {
        if let Ok(text) = config::files::read(file) {
            loader.add(file, &text);
        }
    }
    for f in &generated.files {
        let path = targets.iter().find(|(s, _)| *s == f.sandbox).map_or_else(
            || PathBuf::from(format!("{}.yaml", f.sandbox)),
            |(_, p)| p.clone(),
        );
        loader.add(&path, &f.text);
    }
    match loader.finish() {
        Ok(_) => Ok(()),
        Err(d) => {
            write!(io.err, "{d}")?;
            Err(Error::message(
                "the generated configuration does not load with the project's; nothing was written",
                Some("this is flowform's mistake: please report it, with the errors above".to_owned()),
            ))
        }
    }
}

/// Says what was generated, what was left out and why (stderr), and the variables the files
/// need (stdout: the product a person or a script takes on).
fn report(
    generated: &Generated,
    listed: &[Listed],
    targets: &[(String, PathBuf)],
    io: &mut Io<'_>,
) -> Result<(), Error> {
    for l in listed {
        let file = generated.files.iter().find(|f| f.sandbox == l.sandbox);
        let path = targets
            .iter()
            .find(|(s, _)| *s == l.sandbox)
            .map(|(_, p)| p.display().to_string())
            .unwrap_or_default();
        let skipped: Vec<_> = generated
            .skipped
            .iter()
            .filter(|s| s.sandbox == l.sandbox)
            .collect();
        match file {
            Some(f) => writeln!(
                io.err,
                "{path}: {} to import ({} listed, {} skipped)",
                crate::kind::tally(
                    f.connections
                        .iter()
                        .map(|(key, _)| crate::generate::written_kind(key))
                ),
                l.connections.len() + l.sources.len() + l.targets.len() + l.mappings.len() + l.flows.len(),
                skipped.len()
            )?,
            None => writeln!(
                io.err,
                "sandbox `{}`: nothing to generate ({} listed, {} skipped)",
                l.sandbox,
                l.connections.len() + l.sources.len() + l.targets.len() + l.mappings.len() + l.flows.len(),
                skipped.len()
            )?,
        }
        for s in skipped {
            writeln!(io.err, "  skipped {} \"{}\": {}", s.id, s.name, s.reason)?;
        }
    }
    for (address, param, why) in &generated.left_out {
        writeln!(io.err, "  {address}: left out `auth.params.{param}`: {why}")?;
    }
    if !generated.variables.is_empty() {
        writeln!(
            io.err,
            "\nThe generated configuration reads {} secret{} from the environment (on stdout, as an env file to fill in).",
            generated.variables.len(),
            if generated.variables.len() == 1 { "" } else { "s" }
        )?;
        // An env file as it is: a shell (`set -a; . FILE`), docker's `--env-file` and dotenv
        // readers take it; each value is left empty for whoever holds the secret.
        writeln!(
            io.out,
            "# The secrets the generated configuration reads. AEP never returns them: fill in each\n\
             # value (NAME='value'), keep this file out of git, and load it with\n\
             # `set -a; . ./FILE; set +a`, or set the same names in your CI's secret store."
        )?;
        for v in &generated.variables {
            writeln!(io.out, "\n# {} auth.params.{}\n{}=", v.address, v.param, v.name)?;
        }
    }
    Ok(())
}
