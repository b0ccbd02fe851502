//! Which files make up the configuration, and reading them as text.

use std::path::{Path, PathBuf};

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::secret::io_reason;

/// Where flowform looks when no `--config` is given, in order.
pub const DEFAULT_FILE: &str = "flowform.yaml";
pub const DEFAULT_DIR: &str = "connections";

/// Configuration files larger than this are refused (a million-connection file is ~400 MiB;
/// nothing sane comes near this).
const MAX_FILE: u64 = 256 * 1024 * 1024;

/// Resolves the `--config` inputs to a list of files: a file is taken as it is; a directory
/// contributes its `*.yaml` and `*.yml` files (not its subdirectories, as Terraform reads one
/// directory), in name order. The same file named twice is read once.
pub fn discover(inputs: &[PathBuf]) -> Result<Vec<PathBuf>, Diagnostics> {
    let mut problems = Diagnostics::default();
    let defaulted;
    let inputs = if inputs.is_empty() {
        match default_input() {
            Ok(input) => defaulted = [input],
            Err(d) => {
                problems.push(*d);
                return Err(problems);
            }
        }
        &defaulted[..]
    } else {
        inputs
    };
    let mut files: Vec<PathBuf> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for input in inputs {
        match files_of(input) {
            Ok(found) => {
                for file in found {
                    let identity = std::fs::canonicalize(&file).unwrap_or_else(|_| file.clone());
                    if seen.insert(identity) {
                        files.push(file);
                    }
                }
            }
            Err(d) => problems.push(*d),
        }
    }
    if problems.is_empty() {
        Ok(files)
    } else {
        Err(problems)
    }
}

fn files_of(input: &Path) -> Result<Vec<PathBuf>, Box<Diagnostic>> {
    let meta = std::fs::metadata(input)
        .map_err(|e| Diagnostic::error(format!("cannot read `{}`: {}", input.display(), io_reason(&e))))?;
    if !meta.is_dir() {
        return Ok(vec![input.to_owned()]);
    }
    let in_dir = yaml_files_in(input)?;
    if in_dir.is_empty() {
        return Err(Box::new(
            Diagnostic::error(format!(
                "directory `{}` holds no `.yaml` or `.yml` file",
                input.display()
            ))
            .help("flowform reads the YAML files directly inside a directory, not its subdirectories"),
        ));
    }
    Ok(in_dir)
}

fn default_input() -> Result<PathBuf, Box<Diagnostic>> {
    for candidate in [DEFAULT_FILE, DEFAULT_DIR] {
        if Path::new(candidate).exists() {
            return Ok(PathBuf::from(candidate));
        }
    }
    Err(Box::new(
        Diagnostic::error(format!(
            "no configuration given, and neither `{DEFAULT_FILE}` nor `{DEFAULT_DIR}/` exists here"
        ))
        .help("name the files or directories with `-c`, e.g. `flowform validate -c examples/`"),
    ))
}

fn yaml_files_in(dir: &Path) -> Result<Vec<PathBuf>, Box<Diagnostic>> {
    let unreadable = |e: std::io::Error| {
        Box::new(Diagnostic::error(format!(
            "cannot read directory `{}`: {}",
            dir.display(),
            io_reason(&e)
        )))
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(unreadable)? {
        let entry = entry.map_err(unreadable)?;
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let is_yaml = name.ends_with(".yaml") || name.ends_with(".yml");
        if is_yaml && !name.starts_with('.') && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Reads a configuration file as UTF-8 text.
pub fn read(path: &Path) -> Result<String, Box<Diagnostic>> {
    let unreadable = |e: std::io::Error| {
        Box::new(Diagnostic::error(format!(
            "cannot read `{}`: {}",
            path.display(),
            io_reason(&e)
        )))
    };
    let meta = std::fs::metadata(path).map_err(unreadable)?;
    if meta.len() > MAX_FILE {
        return Err(Box::new(
            Diagnostic::error("the file is larger than 256 MiB").in_file(path),
        ));
    }
    let bytes = std::fs::read(path).map_err(unreadable)?;
    String::from_utf8(bytes).map_err(|e| {
        let valid = e.utf8_error().valid_up_to();
        let bytes = e.as_bytes();
        let line = 1 + bytes[..valid].iter().filter(|&&b| b == b'\n').count();
        let column = 1 + String::from_utf8_lossy(&bytes[..valid])
            .rsplit('\n')
            .next()
            .map_or(0, |l| l.chars().count());
        Box::new(
            Diagnostic::error("the file is not UTF-8 text")
                .at(path, crate::yaml::Location { line, column })
                .help("configuration files are UTF-8 YAML"),
        )
    })
}
