//! Build script: sets `ICPGATE_COMMIT` for `icpgate --version` and the build-info metric.
//!
//! Owns the one fact the compiler cannot know: which commit is being built. The value is the
//! short hash of HEAD, with `-dirty` when tracked files differ from it; `unknown` outside a git
//! checkout of this crate or without git. A value given in the environment at build time (a
//! container build without `.git`) is taken as it is.
//! Must not: fail the build. Every git problem degrades to `unknown`.
//! Invariant: cargo reruns this script when HEAD moves (a commit, a checkout, a reset), when the
//! index or a source file changes (the dirty mark), or when the override changes.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=ICPGATE_COMMIT");
    let commit = match std::env::var("ICPGATE_COMMIT") {
        Ok(v) if !v.trim().is_empty() => v.trim().to_string(),
        _ => from_git().unwrap_or_else(|| "unknown".to_string()),
    };
    println!("cargo:rustc-env=ICPGATE_COMMIT={commit}");
}

/// Runs git in the crate's folder; `None` on any failure or non-zero exit.
fn git(args: &[&str]) -> Option<String> {
    let dir = std::env::var_os("CARGO_MANIFEST_DIR")?;
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    Some(String::from_utf8(out.stdout).ok()?.trim().to_string())
}

fn from_git() -> Option<String> {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR")?);
    // A crate unpacked inside some other repository is not a checkout of this crate.
    let top = PathBuf::from(git(&["rev-parse", "--show-toplevel"])?);
    if !same_dir(&top, &manifest) {
        return None;
    }
    watch_head(&manifest);
    let hash = git(&["rev-parse", "--short=7", "HEAD"])?;
    // `status` compares content where stat data is stale, so a touched but unchanged file is
    // not reported; untracked files do not make a build dirty. `--no-optional-locks` keeps it
    // from writing the refreshed index back: that write would change `.git/index`, which this
    // script watches, and make cargo rebuild the crate on its next run.
    let dirty = git(&[
        "--no-optional-locks",
        "status",
        "--porcelain",
        "--untracked-files=no",
    ])
    .is_some_and(|s| !s.is_empty());
    Some(if dirty { format!("{hash}-dirty") } else { hash })
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Tells cargo which files decide the value: HEAD (per worktree), the branch's ref and
/// packed-refs (shared by worktrees), the index, and the sources.
fn watch_head(manifest: &Path) {
    let abs = |p: String| {
        let p = PathBuf::from(p);
        if p.is_absolute() {
            p
        } else {
            manifest.join(p)
        }
    };
    let mut watched = Vec::new();
    if let Some(dir) = git(&["rev-parse", "--git-dir"]).map(abs) {
        watched.push(dir.join("HEAD"));
        watched.push(dir.join("index"));
    }
    if let Some(common) = git(&["rev-parse", "--git-common-dir"]).map(abs) {
        watched.push(common.join("packed-refs"));
        if let Some(r) = git(&["symbolic-ref", "-q", "HEAD"]) {
            watched.push(common.join(r));
        }
    }
    for p in watched.iter().filter(|p| p.exists()) {
        println!("cargo:rerun-if-changed={}", p.display());
    }
    for p in ["src", "Cargo.toml", "Cargo.lock", "build.rs"] {
        println!("cargo:rerun-if-changed={p}");
    }
}
