//! `icpgate completions SHELL` and `icpgate man`: documentation generated from the clap
//! definition of the command line, so it cannot drift from what the binary accepts.
//!
//! Owns rendering (clap_complete for shell completions, clap_mangen for roff man pages).
//! Must not: define arguments of its own for other subcommands; it reads the `Command` it is given.
//! Invariant: every page and script names the binary `icpgate` and covers every visible
//! subcommand.

use anyhow::Context;
use std::path::Path;
use std::process::ExitCode;

/// The manual's name in each page's `.TH` line.
const MANUAL: &str = "icpgate manual";

/// Writes the completion script for `shell` to stdout.
pub fn completions(mut cmd: clap::Command, shell: clap_complete::Shell) -> ExitCode {
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut cmd, "icpgate", &mut buf);
    out_raw!("{}", String::from_utf8_lossy(&buf));
    ExitCode::SUCCESS
}

/// Writes the top-level page to stdout, or with `out` one page per command and subcommand
/// (`icpgate.1`, `icpgate-serve.1`, `icpgate-feed-build.1`, …) into that folder.
pub fn man(cmd: clap::Command, out: Option<&Path>) -> anyhow::Result<ExitCode> {
    let mut cmd = cmd.disable_help_subcommand(true);
    cmd.build();
    match out {
        None => {
            let mut buf = Vec::new();
            page(&cmd, &source(&cmd)).render(&mut buf)?;
            out_raw!("{}", String::from_utf8_lossy(&buf));
        }
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            write_pages(&cmd, &source(&cmd), dir)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The `.TH` source field of every page: `icpgate 0.1.0 (abc1234)`. Subcommands carry no
/// version of their own, so they take the binary's.
fn source(root: &clap::Command) -> String {
    format!(
        "{} {}",
        root.get_name(),
        root.get_version().unwrap_or_default()
    )
}

/// A page titled in capitals as man pages are (`ICPGATE-FEED-BUILD`), in section 1.
fn page(cmd: &clap::Command, source: &str) -> clap_mangen::Man {
    let name = cmd.get_display_name().unwrap_or_else(|| cmd.get_name());
    clap_mangen::Man::new(cmd.clone())
        .title(name.to_uppercase())
        .source(source)
        .manual(MANUAL)
}

fn write_pages(cmd: &clap::Command, source: &str, dir: &Path) -> anyhow::Result<()> {
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_pages(sub, source, dir)?;
    }
    let man = page(cmd, source);
    let path = dir.join(man.get_filename());
    let mut buf = Vec::new();
    man.render(&mut buf)?;
    std::fs::write(&path, buf).with_context(|| format!("cannot write {}", path.display()))?;
    out!("{}", path.display());
    Ok(())
}
