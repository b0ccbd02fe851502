//! Gives the binary the commit it was built from (`flowform version`), as `FLOWFORM_COMMIT`:
//! `git rev-parse --short HEAD`, with `-dirty` when tracked files differ from it, or
//! `unknown` where there is no git (a tarball, a crate unpacked elsewhere). A packager may
//! set `FLOWFORM_COMMIT` itself.
//!
//! The script runs again when HEAD moves (a commit, a checkout), when the index changes, and
//! when the sources change, so the commit and the `-dirty` mark stay true without a
//! `cargo clean`. In a worktree `.git` is a file, so the git directories come from git itself.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=FLOWFORM_COMMIT");
    println!("cargo:rerun-if-changed=build.rs");
    let commit = match std::env::var("FLOWFORM_COMMIT") {
        Ok(given) if !given.trim().is_empty() => given.trim().to_owned(),
        _ => from_git().unwrap_or_else(|| "unknown".to_owned()),
    };
    println!("cargo:rustc-env=FLOWFORM_COMMIT={commit}");
}

fn from_git() -> Option<String> {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR")?);
    // Only this repository's own checkout: a tarball unpacked inside some other repository
    // must not report that repository's commit.
    let top = git(&manifest, &["rev-parse", "--show-toplevel"])?;
    if std::fs::canonicalize(&top).ok()? != std::fs::canonicalize(&manifest).ok()? {
        return None;
    }
    let git_dir = absolute(&manifest, &git(&manifest, &["rev-parse", "--git-dir"])?);
    let common_dir = absolute(&manifest, &git(&manifest, &["rev-parse", "--git-common-dir"])?);
    watch(&git_dir.join("HEAD"));
    watch(&git_dir.join("index"));
    watch(&common_dir.join("packed-refs"));
    if let Some(branch) = git(&manifest, &["symbolic-ref", "-q", "HEAD"]) {
        watch(&common_dir.join(branch));
    }
    for source in ["src", "crates", "Cargo.toml", "Cargo.lock"] {
        watch(&manifest.join(source));
    }
    let short = git(&manifest, &["rev-parse", "--short", "HEAD"])?;
    // Without optional locks, git does not refresh the index as it looks, which would change
    // the index watched above and run this script again on the next build.
    let dirty = git(
        &manifest,
        &[
            "--no-optional-locks",
            "status",
            "--porcelain",
            "--untracked-files=no",
        ],
    )
    .is_some_and(|changes| !changes.is_empty());
    Some(if dirty { format!("{short}-dirty") } else { short })
}

/// The trimmed output of a successful `git` command.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let output = Command::new("git").args(args).current_dir(dir).output().ok()?;
    if !output.status.success() {
        return None;
    }
    Some(String::from_utf8(output.stdout).ok()?.trim().to_owned())
}

fn absolute(base: &Path, path: &str) -> PathBuf {
    let path = Path::new(path);
    if path.is_absolute() {
        path.to_owned()
    } else {
        base.join(path)
    }
}

fn watch(path: &Path) {
    // Cargo takes a watched path that does not exist as changed on every build, which would
    // rebuild flowform every time: a packed ref (no file of its own) is watched through
    // `packed-refs`, and a commit writes the loose ref file anew.
    if path.exists() {
        println!("cargo:rerun-if-changed={}", path.display());
    }
}
