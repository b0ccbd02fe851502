//! `init`: make the working directory a flowform project — write `flowform.toml` naming its
//! configuration and state — and start its state. The only operation that starts an empty
//! state.

use std::path::{Component, Path, PathBuf};

use super::scope::open_state;
use super::{Error, Exit, Io, Outcome, StateOptions};
use crate::project::{self, Project, StateLocation};
use crate::settings::Environment;
use crate::state::file::StateError;
use crate::state::store::Missing;

/// `flowform init`.
#[derive(Clone, Debug, Default)]
pub struct InitRequest {
    /// The project's configuration files or directories (default `connections`).
    pub config: Vec<PathBuf>,
    pub state: StateOptions,
    /// `--migrate-state FROM`: move the state at FROM (a path or a `postgres://` URL) to
    /// where the project's `state` now says it lives.
    pub migrate_from: Option<PathBuf>,
}

/// `path` as it goes in the project file: relative to the working directory (the new
/// project's root), tidy, and inside it.
fn in_project(path: &Path) -> Result<String, String> {
    let here = std::env::current_dir().map_err(|e| format!("cannot tell the working directory: {e}"))?;
    let relative = if path.is_absolute() {
        path.strip_prefix(&here)
            .map_err(|_| {
                format!(
                    "`{}` is outside this directory, the project's root",
                    path.display()
                )
            })?
            .to_owned()
    } else {
        path.to_owned()
    };
    let tidy: PathBuf = relative
        .components()
        .filter(|c| !matches!(c, Component::CurDir))
        .collect();
    if tidy.components().any(|c| matches!(c, Component::ParentDir)) || tidy.as_os_str().is_empty() {
        return Err(format!(
            "`{}` is not inside this directory, the project's root",
            path.display()
        ));
    }
    tidy.to_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("`{}` is not UTF-8", path.display()))
}

/// An error about a path given to `init`.
fn outside(e: String) -> Error {
    Error::message(
        e,
        Some("run `flowform init` at the root of the infra repository".to_owned()),
    )
}

/// States already in `dir` (a flowform that named them after `-c`).
fn existing_states(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json") && p.is_file())
        .map(|p| p.strip_prefix(".").map(Path::to_owned).unwrap_or(p))
        .filter(|p| {
            std::fs::read(p)
                .ok()
                .is_some_and(|b| crate::state::file::parse(p, &b).is_ok())
        })
        .collect();
    found.sort();
    found
}

const GITIGNORE: &str = "\
# flowform: a lock or a journal belongs to one run on one machine, backups are for this
# machine's recovery, and the embedded emulator's demo data (--emulator) is local. The state
# file itself may be committed.
*.lock
*.journal
*.journal.damaged
*.backup.*
.*.tmp
emulator/
";

pub fn init(request: &InitRequest, env: &Environment, io: &mut Io<'_>) -> Outcome {
    let found = Project::discover(Path::new(".")).map_err(|d| match write!(io.err, "{d}") {
        Ok(()) => Error::reported(Exit::Failure),
        Err(e) => Error::from(e),
    })?;
    let project = match found {
        Some(p) => {
            if !request.config.is_empty() || request.state.path.is_some() {
                return Err(Error::message(
                    format!(
                        "this is already a flowform project (`{}`); `init` with `-c` or `--state` would write a new project file",
                        p.file.display()
                    ),
                    Some(format!("edit `{}` instead", p.file.display())),
                ));
            }
            writeln!(io.out, "Found the flowform project `{}`.", p.file.display())?;
            p
        }
        None => write_project(request, io)?,
    };
    if let Some(from) = &request.migrate_from {
        return migrate(request, &project, from, env, io);
    }
    let location = &project.state;
    let command = "flowform init";
    match open_state(&request.state, location, true, command, env, Missing::Refuse) {
        Ok(store) => {
            let s = store.state();
            writeln!(
                io.out,
                "The state `{location}` exists: {} connection{} managed, serial {}.",
                s.resources.len(),
                if s.resources.len() == 1 { "" } else { "s" },
                s.serial
            )?;
        }
        Err(StateError::NotInitialized { .. }) => match location {
            StateLocation::File(path) => start_state(request, &project, path, env, io)?,
            StateLocation::Postgres(_) => start_shared_state(request, &project, env, io)?,
        },
        Err(e) => return Err(e.into()),
    }
    writeln!(
        io.out,
        "\nflowform is ready. Every command run here or below uses this project's configuration and state:\n  flowform plan            what apply would do\n  flowform plan --emulator try it against the embedded emulator first"
    )?;
    Ok(Exit::Success)
}

/// Starts the project's empty state at `path`, unless another state is beside it.
fn start_state(
    request: &InitRequest,
    project: &Project,
    path: &Path,
    env: &Environment,
    io: &mut Io<'_>,
) -> Result<(), Error> {
    // Another state beside where this one would go: the project file was changed to a new
    // name, or a state was moved. An empty one beside it would plan every connection as new.
    let others = existing_states(
        path.parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new(".")),
    );
    if !others.is_empty() {
        let names: Vec<String> = others.iter().map(|p| format!("`{}`", p.display())).collect();
        return Err(Error::message(
            format!(
                "`{}` names the state `{}`, which does not exist, but {} beside it; refusing to start an empty state next to another",
                project.file.display(),
                path.display(),
                if others.len() == 1 {
                    format!("{} is", names[0])
                } else {
                    format!("{} are", names.join(", "))
                }
            ),
            Some(format!(
                "if that is this project's state, point `state` in `{}` at it (or rename it); to start afresh on purpose, move it away first",
                project.file.display()
            )),
        ));
    }
    let store = open_state(
        &request.state,
        &StateLocation::File(path.to_owned()),
        true,
        "flowform init",
        env,
        Missing::Create,
    )?;
    writeln!(
        io.out,
        "Started an empty state `{}` (lineage {}).",
        path.display(),
        store.state().lineage
    )?;
    if let Some(dir) = path.parent() {
        let ignore = dir.join(".gitignore");
        if !ignore.exists() {
            crate::atomic::write(&ignore, GITIGNORE.as_bytes())
                .map_err(|e| anyhow::anyhow!("cannot write `{}`: {e}", ignore.display()))?;
            writeln!(
                io.out,
                "Wrote `{}`: locks, journals and the emulator's data stay out of git.",
                ignore.display()
            )?;
        }
    }
    Ok(())
}

/// Starts the project's empty state in its database, and keeps what is local to one machine
/// (the emulator's demo data) out of git.
fn start_shared_state(
    request: &InitRequest,
    project: &Project,
    env: &Environment,
    io: &mut Io<'_>,
) -> Result<(), Error> {
    let store = open_state(
        &request.state,
        &project.state,
        true,
        "flowform init",
        env,
        Missing::Create,
    )?;
    writeln!(
        io.out,
        "Started an empty state `{}` (lineage {}). Every clone and CI runner of the project shares it.",
        project.state,
        store.state().lineage
    )?;
    let local = project.root.join(project::LOCAL_DIR);
    let ignore = local.join(".gitignore");
    if !ignore.exists() {
        std::fs::create_dir_all(&local)
            .map_err(|e| anyhow::anyhow!("cannot create `{}`: {e}", local.display()))?;
        crate::atomic::write(
            &ignore,
            b"# flowform: what is local to this machine (the embedded emulator's demo data).\n*\n",
        )
        .map_err(|e| anyhow::anyhow!("cannot write `{}`: {e}", ignore.display()))?;
    }
    Ok(())
}

/// `init --migrate-state FROM`: moves the state at `from` to the project's `state`, as it is
/// (lineage, serial, salt, org, records, pending), both locked; then retires `from`, so that
/// nothing goes on using a stale copy.
fn migrate(
    request: &InitRequest,
    project: &Project,
    from: &Path,
    env: &Environment,
    io: &mut Io<'_>,
) -> Outcome {
    let source =
        StateLocation::parse(from.as_os_str()).map_err(|e| Error::message(e.to_string(), Some(e.help())))?;
    let destination = &project.state;
    let same = match (&source, destination) {
        (StateLocation::File(a), StateLocation::File(b)) => {
            crate::state::file::real_path(a).ok() == crate::state::file::real_path(b).ok()
        }
        (a, b) => a == b,
    };
    if same {
        return Err(Error::message(
            format!("`{source}` is already this project's state; there is nothing to move"),
            Some(format!(
                "change `state` in `{}` to where the state should go, then run `flowform init --migrate-state {}` again",
                project.file.display(),
                from.display()
            )),
        ));
    }
    let command = format!("flowform init --migrate-state {source}");
    let mut old = open_state(&request.state, &source, true, &command, env, Missing::Refuse)?;
    let mut new = open_state(&request.state, destination, true, &command, env, Missing::Migrate)?;
    for warning in old.warnings() {
        writeln!(io.err, "warning: {warning}")?;
    }
    let moving = old.state().clone();
    let there = new.state();
    let already = !new.is_blank()
        && there.lineage == moving.lineage
        && there.serial == moving.serial
        && there.resources == moving.resources;
    if !already && !new.is_blank() {
        return Err(Error::message(
            format!(
                "`{destination}` already holds a state (lineage {}, serial {}, {} connections); moving `{source}` there would replace it, so nothing was changed",
                there.lineage,
                there.serial,
                there.resources.len()
            ),
            Some(format!(
                "if that state is not needed, save it (`flowform state pull --state {destination} > old.json`) and empty it first; if it is this project's state already, point `state` in `{}` at it and drop `--migrate-state`",
                project.file.display()
            )),
        ));
    }
    if !already {
        new.replace(&moving)?;
    }
    let retired = old.retire(&destination.to_string())?;
    let n = moving.resources.len();
    writeln!(
        io.out,
        "Moved the state from `{source}` to `{destination}`: {n} connection{}, {} pending, lineage {}, serial {}.\nThe old one: {retired}.",
        if n == 1 { "" } else { "s" },
        moving.pending.len(),
        moving.lineage,
        moving.serial
    )?;
    writeln!(
        io.out,
        "\nCommit `{}` now, so that every clone and CI runner uses the new state; a clone on an older commit uses the old one until it pulls.",
        project.file.display()
    )?;
    Ok(Exit::Success)
}

/// Writes a new project file in the working directory.
fn write_project(request: &InitRequest, io: &mut Io<'_>) -> Result<Project, Error> {
    let inputs = if request.config.is_empty() {
        vec![PathBuf::from(project::DEFAULT_CONFIG)]
    } else {
        request.config.clone()
    };
    let mut config = Vec::new();
    for input in &inputs {
        if !input.exists() {
            let help = if request.config.is_empty() {
                "create `connections/` with your connections' YAML files, or name the configuration with `flowform init -c PATH`"
            } else {
                "name an existing file or directory"
            };
            return Err(Error::message(
                format!(
                    "`{}` does not exist; a project needs its configuration",
                    input.display()
                ),
                Some(help.to_owned()),
            ));
        }
        config.push(in_project(input).map_err(outside)?);
    }
    let state = match &request.state.path {
        Some(url) if url.to_str().is_some_and(crate::state::postgres::url::is_postgres) => {
            // Checked (no password in it, ever) before it is written to a committed file.
            let text = url.to_str().unwrap_or_default().to_owned();
            crate::state::postgres::url::PgUrl::parse(&text)
                .map_err(|e| Error::message(e.to_string(), Some(e.help())))?;
            text
        }
        Some(path) => in_project(path).map_err(outside)?,
        None => {
            // A flowform before projects named its state after `-c`: carry such a state on
            // rather than start an empty one beside it.
            let default = Path::new(project::DEFAULT_STATE);
            let existing = existing_states(default.parent().unwrap_or(Path::new(".")));
            match existing.as_slice() {
                [] => project::DEFAULT_STATE.to_owned(),
                [one] => {
                    writeln!(io.out, "Using the existing state `{}`.", one.display())?;
                    in_project(one).map_err(outside)?
                }
                several => {
                    let names: Vec<String> = several.iter().map(|p| format!("`{}`", p.display())).collect();
                    return Err(Error::message(
                        format!(
                            "`state/` already holds several states ({}); a project has one",
                            names.join(", ")
                        ),
                        Some("name the one this project owns with `flowform init --state PATH`".to_owned()),
                    ));
                }
            }
        }
    };
    let text = Project::text(&config, &state);
    let file = PathBuf::from(project::FILE);
    let project = Project::parse(Path::new(""), &file, &text).map_err(|d| match write!(io.err, "{d}") {
        Ok(()) => Error::reported(Exit::Failure),
        Err(e) => Error::from(e),
    })?;
    crate::atomic::write(&file, text.as_bytes())
        .map_err(|e| anyhow::anyhow!("cannot write `{}`: {e}", file.display()))?;
    let shown: Vec<String> = config.iter().map(|c| format!("`{c}`")).collect();
    writeln!(
        io.out,
        "Wrote `{}`: the configuration is {}, the state `{state}`.",
        file.display(),
        shown.join(", ")
    )?;
    Ok(project)
}
