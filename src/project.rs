//! The project: the file at the root of an infra repository, `flowform.toml`, that says which
//! configuration belongs to the project and where its state lives (Terraform's root module
//! and backend block; Cargo's `Cargo.toml`).
//!
//! Which state a command uses is declared here, never derived from how the command happened
//! to be called: `flowform apply -c connections/prod.yaml` plans the connections of that file
//! against the project's one state, from the root, a subdirectory or with `-C`. Commands find
//! the file by walking up from the working directory, as cargo and git do.
//!
//! ```toml
//! # The configuration this project owns and where its state lives; paths are relative to
//! # this file.
//! config = ["connections"]
//! state = "state/flowform.json"
//! ```

use std::fmt::Write as _;
use std::path::{Component, Path, PathBuf};

use serde::Deserialize;

use crate::diagnostic::{Diagnostic, Diagnostics, did_you_mean};
use crate::yaml::Location;

/// The project file's name.
pub const FILE: &str = "flowform.toml";

/// Where `flowform init` puts a new project's configuration and state unless told otherwise.
pub const DEFAULT_CONFIG: &str = "connections";
pub const DEFAULT_STATE: &str = "state/flowform.json";

/// Where a project whose state is in a database keeps what is local to one machine (the
/// embedded emulator's demo data and state).
pub const LOCAL_DIR: &str = ".flowform";

/// Project files larger than this are refused: a real one is a few lines.
const MAX_FILE: u64 = 1024 * 1024;

/// A project, as found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Project {
    /// The directory holding the project file, relative to the working directory when it was
    /// found by walking up from it (`""` for the working directory itself, `..` for its
    /// parent), so that the paths below read as the user would type them.
    pub root: PathBuf,
    /// The project file.
    pub file: PathBuf,
    /// The configuration files and directories, joined to `root`.
    pub config: Vec<PathBuf>,
    /// Where the state lives.
    pub state: StateLocation,
}

/// Where a state lives: a local file (joined to the project root), or a PostgreSQL URL.
pub use crate::state::Location as StateLocation;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    config: toml::Spanned<Vec<toml::Spanned<String>>>,
    state: toml::Spanned<String>,
}

impl Project {
    /// Finds the project file in `start` or the nearest directory above it. `Ok(None)`: there
    /// is none up to the filesystem's root.
    pub fn discover(start: &Path) -> Result<Option<Project>, Diagnostics> {
        let absolute = std::path::absolute(start).map_err(|e| {
            one(Diagnostic::error(format!(
                "cannot tell where `{}` is: {}",
                start.display(),
                crate::secret::io_reason(&e)
            )))
        })?;
        let mut dir: &Path = &absolute;
        let mut up = 0usize;
        loop {
            let candidate = dir.join(FILE);
            if candidate.is_file() {
                let mut root = start.to_owned();
                for _ in 0..up {
                    root.push("..");
                }
                return Project::read(&tidy(&root)).map(Some);
            }
            match dir.parent() {
                Some(parent) => {
                    dir = parent;
                    up += 1;
                }
                None => return Ok(None),
            }
        }
    }

    /// Reads the project file in directory `root`; every configuration path it names must
    /// exist.
    pub fn read(root: &Path) -> Result<Project, Diagnostics> {
        let file = root.join(FILE);
        let unreadable = |e: std::io::Error| {
            one(Diagnostic::error(format!(
                "cannot read the project file `{}`: {}",
                file.display(),
                crate::secret::io_reason(&e)
            )))
        };
        let meta = std::fs::metadata(&file).map_err(unreadable)?;
        if meta.len() > MAX_FILE {
            return Err(one(
                Diagnostic::error("the project file is larger than 1 MiB").in_file(&file)
            ));
        }
        let bytes = std::fs::read(&file).map_err(unreadable)?;
        let text = String::from_utf8(bytes)
            .map_err(|_| one(Diagnostic::error("the project file is not UTF-8 text").in_file(&file)))?;
        let project = Project::parse(root, &file, &text)?;
        let mut problems = Diagnostics::default();
        for (path, entry) in project.config.iter().zip(config_entries(&text)) {
            if !path.exists() {
                problems.push(
                    Diagnostic::error(format!("`{}` (in `config`) does not exist", entry.0))
                        .at(&file, entry.1)
                        .field("config")
                        .help("create it, or correct the path (relative to the project file)"),
                );
            }
        }
        if problems.is_empty() {
            Ok(project)
        } else {
            Err(problems)
        }
    }

    /// Parses a project file's text; `root` is its directory, `file` names it in messages.
    pub fn parse(root: &Path, file: &Path, text: &str) -> Result<Project, Diagnostics> {
        let raw: Raw = toml::from_str(text).map_err(|e| {
            let location = e.span().map_or(Location { line: 1, column: 1 }, |s| locate(text, s.start));
            let message = e.message().trim_end().to_owned();
            let mut d = Diagnostic::error(format!("invalid project file: {message}")).at(file, location);
            if let Some(unknown) = message
                .strip_prefix("unknown field `")
                .and_then(|m| m.split('`').next())
            {
                d = match did_you_mean(unknown, ["config", "state"]) {
                    Some(s) => d.help(format!("did you mean `{s}`?")),
                    None => d.help("a project file holds `config = [\"connections\"]` and `state = \"state/flowform.json\"`"),
                };
            } else {
                d = d.help("a project file holds `config = [\"connections\"]` (a list of paths) and `state = \"state/flowform.json\"`");
            }
            one(d)
        })?;
        let mut problems = Diagnostics::default();
        let at = |span: std::ops::Range<usize>| locate(text, span.start);
        if raw.config.get_ref().is_empty() {
            problems.push(
                Diagnostic::error("`config` names no configuration")
                    .at(file, at(raw.config.span()))
                    .field("config")
                    .help("name the directories or files of the project's connections: `config = [\"connections\"]`"),
            );
        }
        let mut config = Vec::new();
        for entry in raw.config.get_ref() {
            match relative(entry.get_ref()) {
                Ok(path) => config.push(root.join(path)),
                Err(why) => problems.push(
                    Diagnostic::error(format!("`{}` {why}", entry.get_ref()))
                        .at(file, at(entry.span()))
                        .field("config")
                        .help("name the configuration by its path under the project's directory, e.g. `connections`"),
                ),
            }
        }
        let state = match relative(raw.state.get_ref()) {
            _ if crate::state::postgres::url::is_postgres(raw.state.get_ref()) => {
                match crate::state::postgres::url::PgUrl::parse(raw.state.get_ref()) {
                    Ok(url) => Some(StateLocation::Postgres(Box::new(url))),
                    Err(e) => {
                        problems.push(
                            Diagnostic::error(e.to_string())
                                .at(file, at(raw.state.span()))
                                .field("state")
                                .help(e.help()),
                        );
                        None
                    }
                }
            }
            Ok(path) if path.file_name().is_some() => Some(StateLocation::File(root.join(path))),
            Ok(_) => {
                problems.push(
                    Diagnostic::error(format!("`{}` names no file", raw.state.get_ref()))
                        .at(file, at(raw.state.span()))
                        .field("state")
                        .help("`state = \"state/flowform.json\"`"),
                );
                None
            }
            Err(why) => {
                problems.push(
                    Diagnostic::error(format!("`{}` {why}", raw.state.get_ref()))
                        .at(file, at(raw.state.span()))
                        .field("state")
                        .help("keep the state under the project's directory, e.g. `state = \"state/flowform.json\"`"),
                );
                None
            }
        };
        match state {
            Some(state) if problems.is_empty() => Ok(Project {
                root: root.to_owned(),
                file: file.to_owned(),
                config,
                state,
            }),
            _ => Err(problems),
        }
    }

    /// The text of a new project file.
    pub fn text(config: &[String], state: &str) -> String {
        let mut text = String::from(
            "# The flowform project: the configuration it owns and where its state lives.\n\
             # Paths are relative to this file. Every flowform command run in this directory or\n\
             # below uses them; `-c` only narrows what is planned, never which state is used.\n",
        );
        let list: Vec<String> = config.iter().map(|c| toml_string(c)).collect();
        let _ = writeln!(text, "config = [{}]", list.join(", "));
        let _ = writeln!(text, "state = {}", toml_string(state));
        text
    }

    /// Where the embedded emulator (`--emulator`) keeps its data and a state of its own:
    /// `emulator/` beside the project's state, so a demo never touches AEP or the real state.
    /// A project whose state is in a database keeps the emulator's in `.flowform/emulator`
    /// (git-ignored by `init`).
    pub fn emulator_dir(&self) -> PathBuf {
        match &self.state {
            StateLocation::File(path) => path
                .parent()
                .map_or_else(|| PathBuf::from("emulator"), |p| p.join("emulator")),
            StateLocation::Postgres(_) => self.root.join(LOCAL_DIR).join("emulator"),
        }
    }
}

/// The `config` entries of a project file that parsed, with where each is written.
fn config_entries(text: &str) -> Vec<(String, Location)> {
    match toml::from_str::<Raw>(text) {
        Ok(raw) => raw
            .config
            .into_inner()
            .into_iter()
            .map(|e| (e.get_ref().clone(), locate(text, e.span().start)))
            .collect(),
        Err(_) => Vec::new(),
    }
}

fn one(d: Diagnostic) -> Diagnostics {
    let mut all = Diagnostics::default();
    all.push(d);
    all
}

/// A path in the project file: relative, and never climbing out of the project.
fn relative(text: &str) -> Result<PathBuf, &'static str> {
    let path = Path::new(text);
    if text.trim().is_empty() {
        return Err("is empty");
    }
    if path.is_absolute() {
        return Err("is absolute; paths in the project file are relative to it");
    }
    if path.components().any(|c| matches!(c, Component::ParentDir)) {
        return Err("leaves the project directory; paths in the project file stay under it");
    }
    Ok(path.to_owned())
}

/// `a/./b` → `a/b`; `./..` → `..`; the empty path stays empty.
fn tidy(path: &Path) -> PathBuf {
    path.components()
        .filter(|c| !matches!(c, Component::CurDir))
        .collect()
}

/// The line and column (1-based, in characters) of byte `offset` in `text`.
fn locate(text: &str, offset: usize) -> Location {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    Location { line, column }
}

/// A TOML basic string.
fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Project, String> {
        Project::parse(Path::new("infra"), Path::new("infra/flowform.toml"), text).map_err(|d| d.to_string())
    }

    #[test]
    fn paths_are_joined_to_the_root() {
        let p = parse("config = [\"connections\", \"more/x.yaml\"]\nstate = \"state/s.json\"\n").unwrap();
        assert_eq!(
            p.config,
            [
                PathBuf::from("infra/connections"),
                PathBuf::from("infra/more/x.yaml")
            ]
        );
        assert_eq!(p.state, StateLocation::File(PathBuf::from("infra/state/s.json")));
        assert_eq!(p.emulator_dir(), PathBuf::from("infra/state/emulator"));
    }

    #[test]
    fn mistakes_name_their_line_and_the_fix() {
        let cases = [
            (
                "config = [\"c\"]\nstat = \"s.json\"\n",
                "infra/flowform.toml:2:1",
                "did you mean `state`?",
            ),
            (
                "config = [\"c\"]\n",
                "missing field `state`",
                "a project file holds",
            ),
            (
                "config = []\nstate = \"s.json\"\n",
                "`config` names no configuration",
                "infra/flowform.toml:1:10",
            ),
            (
                "config = [\"../other\"]\nstate = \"s.json\"\n",
                "leaves the project directory",
                "infra/flowform.toml:1:11",
            ),
            (
                "config = [\"c\"]\nstate = \"/tmp/s.json\"\n",
                "is absolute",
                "infra/flowform.toml:2:9",
            ),
            ("config = \"c\"\nstate = \"s.json\"\n", "invalid type", "1:10"),
            (
                "config = [\"c\"\n",
                "invalid project file",
                "infra/flowform.toml:",
            ),
        ];
        for (text, one, other) in cases {
            let err = parse(text).unwrap_err();
            assert!(err.contains(one) && err.contains(other), "{text:?}:\n{err}");
        }
    }

    #[test]
    fn new_files_read_back() {
        let text = Project::text(
            &["connections".into(), "odd \"name\"".into()],
            "state/flowform.json",
        );
        let p = parse(&text).unwrap();
        assert_eq!(p.config[1], PathBuf::from("infra/odd \"name\""));
        assert!(text.starts_with('#'));
    }

    #[test]
    fn discovery_walks_up_and_stays_relative() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(
            root.join(FILE),
            Project::text(&["connections".into()], DEFAULT_STATE),
        )
        .unwrap();
        std::fs::create_dir_all(root.join("connections/deep")).unwrap();
        let here = Project::discover(root).unwrap().unwrap();
        assert_eq!(here.root, root);
        let below = Project::discover(&root.join("connections/deep"))
            .unwrap()
            .unwrap();
        assert_eq!(below.root, root.join("connections/deep/../.."));
        assert_eq!(
            std::fs::canonicalize(&below.config[0]).unwrap(),
            std::fs::canonicalize(root.join("connections")).unwrap()
        );
        let none = tempfile::tempdir().unwrap();
        // A temporary directory has no project above it (unless the machine's /tmp does).
        if !Path::new("/tmp").join(FILE).exists() && !Path::new("/").join(FILE).exists() {
            assert!(Project::discover(none.path()).unwrap().is_none());
        }
    }
}
