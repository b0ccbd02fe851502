//! Which configuration and which state a command works on: the project's, found by walking
//! up from the working directory (`flowform.toml`); or, outside any project, exactly the
//! `-c` and `--state` given. Never derived from how the command happened to be called.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::error::Message;
use super::{Error, Exit, Io, StateOptions};
use crate::config;
use crate::diagnostic::Diagnostics;
use crate::project::{self, Project, StateLocation};
use crate::settings::Environment;
use crate::state::Digester;
use crate::state::file::StateError;
use crate::state::lock::Holder;
use crate::state::store::{Locking, Missing, Store};

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
    /// The state: a file, or a database.
    pub state: StateLocation,
    /// `--emulator`: where the emulator keeps its data (its state is `state`, in there).
    pub emulator_dir: Option<PathBuf>,
}

/// Why no scope could be settled.
#[derive(Debug)]
pub enum ScopeError {
    /// The project file is wrong: its diagnostics.
    Project(Diagnostics),
    /// `-c` names files outside the project: its diagnostics.
    Narrowing(Diagnostics),
    Message(Message),
}

impl ScopeError {
    fn message(message: String, help: String) -> ScopeError {
        ScopeError::Message(Message {
            message,
            help: Some(help),
        })
    }

    /// Says it: diagnostics as they are, a message as an error. The command then exits 1.
    pub fn report(self, io: &mut Io<'_>) -> Error {
        let printed = match self {
            ScopeError::Project(d) | ScopeError::Narrowing(d) => write!(io.err, "{d}"),
            ScopeError::Message(m) => return Error::from(m),
        };
        match printed {
            Ok(()) => Error::reported(Exit::Failure),
            Err(e) => Error::from(e),
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

/// The error of a command run outside any project.
pub fn no_project() -> ScopeError {
    let here = std::env::current_dir()
        .map(|d| d.display().to_string())
        .unwrap_or_else(|_| ".".to_owned());
    ScopeError::message(
        format!(
            "no flowform project here: no `{}` in `{here}` or any directory above it",
            project::FILE
        ),
        "run `flowform init` at the root of your infra repository (it uses `connections/` and keeps the state in `state/`), or `flowform -C DIR …` to run in another directory".to_owned(),
    )
}

impl Scope {
    /// Settles the scope from the flags. `config`: the `-c` inputs; `state`: `--state`.
    pub fn settle(config: &[PathBuf], state: Option<&Path>, emulator: bool) -> Result<Scope, ScopeError> {
        let found = Project::discover(Path::new(".")).map_err(ScopeError::Project)?;
        let given = match state {
            Some(given) => Some(
                StateLocation::parse(given.as_os_str())
                    .map_err(|e| ScopeError::message(e.to_string(), e.help()))?,
            ),
            None => None,
        };
        let (project, all, narrowed, state_path) = match found {
            Some(p) => {
                let own = &p.state;
                // Inside a project, `--state` may only name the project's own state: a
                // project has one, and another project's would plan its connections away.
                let same = |given: &StateLocation| match (given, own) {
                    (StateLocation::File(a), StateLocation::File(b)) => same_file(a, b),
                    (a, b) => a == b,
                };
                if let Some(given) = &given
                    && !same(given)
                {
                    return Err(ScopeError::message(
                        format!(
                            "`--state {given}` is not this project's state: `{}` names `{own}`, and a project has one state",
                            p.file.display(),
                        ),
                        format!(
                            "drop `--state`; to keep the state elsewhere, change `state` in `{}`",
                            p.file.display()
                        ),
                    ));
                }
                let state_path = own.clone();
                let all = p.config.clone();
                (Some(p), all, config.to_vec(), state_path)
            }
            None => match (config.is_empty(), given) {
                // Outside a project, both named explicitly: nothing is derived.
                (false, Some(state)) => (None, config.to_vec(), Vec::new(), state),
                _ => return Err(no_project()),
            },
        };
        let emulator_dir = emulator.then(|| match (&project, &state_path) {
            (Some(p), _) if state.is_none() => p.emulator_dir(),
            (_, StateLocation::File(path)) => path
                .parent()
                .map_or_else(|| PathBuf::from("emulator"), |d| d.join("emulator")),
            (_, StateLocation::Postgres(_)) => PathBuf::from(project::LOCAL_DIR).join("emulator"),
        });
        // `--emulator` keeps a state file of its own beside its data: never the real state.
        let state_path = match (&emulator_dir, state, &state_path) {
            (Some(dir), None, StateLocation::File(path)) => {
                StateLocation::File(dir.join(path.file_name().unwrap_or_default()))
            }
            (Some(dir), _, StateLocation::Postgres(_)) => StateLocation::File(dir.join("flowform.json")),
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
            (None, None) => Err(no_project()),
        }
    }

    /// The project's configuration files that `-c` names (real paths), or an error naming a
    /// `-c` input outside the project.
    pub fn narrowed_files(&self) -> Result<Option<BTreeSet<PathBuf>>, ScopeError> {
        if self.narrowed.is_empty() {
            return Ok(None);
        }
        let real = |files: Vec<PathBuf>| -> BTreeSet<PathBuf> {
            files
                .into_iter()
                .map(|f| std::fs::canonicalize(&f).unwrap_or(f))
                .collect()
        };
        let all = real(config::files::discover(&self.config).map_err(ScopeError::Narrowing)?);
        let mut problems = Diagnostics::default();
        let mut narrowed = BTreeSet::new();
        for input in &self.narrowed {
            let files =
                config::files::discover(std::slice::from_ref(input)).map_err(ScopeError::Narrowing)?;
            for file in real(files) {
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
            Err(ScopeError::Narrowing(problems))
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
        options: &StateOptions,
        write: bool,
        command: &str,
        env: &Environment,
    ) -> Result<Store, StateError> {
        let missing = if self.emulator_dir.is_some() {
            Missing::Create
        } else {
            Missing::Refuse
        };
        open_state(
            options,
            &self.state,
            write || missing == Missing::Create,
            command,
            env,
            missing,
        )
    }
}

/// Opens the state at `location`: under the lock when `write` (or unless `--lock=false`),
/// with this run's secret fingerprints (`FLOWFORM_DIGEST_KEY`).
pub fn open_state(
    options: &StateOptions,
    location: &StateLocation,
    write: bool,
    command: &str,
    env: &Environment,
    missing: Missing,
) -> Result<Store, StateError> {
    let locking = if write || options.lock {
        Locking::Wait(options.lock_timeout)
    } else {
        Locking::None
    };
    let digester = Digester::from_env(env).map_err(StateError::Digest)?;
    Ok(Store::open(location, locking, &Holder::me(command, env), missing, env)?.with_digester(digester))
}
