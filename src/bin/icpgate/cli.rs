//! The command line: clap's definition of every subcommand and its arguments.
//!
//! Owns the names, help texts and defaults that `--help`, the man pages and the completion
//! scripts show (`docs_cmd.rs` renders them from this definition).
//! Must not: act on arguments or print anything; `main.rs` dispatches each subcommand.
//! Invariant: a usage error is clap's, before any subcommand runs.

use crate::feed_cmd;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// `icpgate --version`: the package version and the commit it was built from (build.rs).
pub(crate) const VERSION: &str =
    concat!(env!("CARGO_PKG_VERSION"), " (", env!("ICPGATE_COMMIT"), ")");

#[derive(Parser)]
#[command(
    name = "icpgate",
    version = VERSION,
    about = "Gateway that enforces China's ICP filing rules for apps and mini programs"
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) cmd: Cmd,
}

#[derive(Subcommand)]
pub(crate) enum Cmd {
    /// Run the gateway.
    Serve {
        /// The configuration file (docs/configuration.md); `check-config` validates it first.
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Validate a configuration file: exit 0, or 64 listing each problem with file, line and key.
    CheckConfig { config: PathBuf },
    /// Load a snapshot file as `serve` would: counts, rejected lines (FILE:LINE: reason), load
    /// time and memory. Exit: 0 every line loaded, 1 some rejected, 65 unreadable.
    CheckSnapshot {
        file: PathBuf,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Look an identifier up in a snapshot file, offline.
    Lookup {
        #[arg(long)]
        snapshot: PathBuf,
        /// android, ios, harmony, quickapp, wechat, alipay, douyin, baidu, qq or kuaishou.
        platform: String,
        id: String,
    },
    /// Publish and check registry feeds (docs/feed.md).
    #[command(subcommand)]
    Feed(feed_cmd::FeedCmd),
    /// Show what the gateway sees in a package (kind, id, version, signers) and, with a
    /// snapshot or a running gateway's admin URL, what an upload route would decide.
    /// Exit: 0 allow (or inspected), 1 would block, 65 unreadable package, 64 usage,
    /// 69 snapshot or admin API unavailable.
    Inspect(InspectCli),
    /// Serve the demo echo upstream (answers with what it received).
    #[cfg(feature = "demo")]
    Echo {
        #[arg(long, default_value = "127.0.0.1:8081")]
        listen: std::net::SocketAddr,
    },
    /// GET an admin probe URL: exit 0 on a 2xx answer, 1 otherwise. The container image's
    /// HEALTHCHECK (the image has no curl).
    Probe {
        #[arg(default_value = "http://127.0.0.1:9901/healthz")]
        url: String,
        /// Give up after this long (e.g. 2s, 500ms).
        #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
        timeout: std::time::Duration,
    },
    /// Print a shell completion script, e.g. `icpgate completions bash >
    /// /usr/share/bash-completion/completions/icpgate`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) to stdout, or write one page per subcommand into a folder.
    Man {
        /// Write icpgate.1, icpgate-serve.1, … into this folder and list them.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
}

/// `icpgate inspect`'s arguments.
#[derive(Args)]
pub(crate) struct InspectCli {
    /// The APK, IPA or HAP file.
    pub(crate) file: PathBuf,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub(crate) json: bool,
    /// Decide against this snapshot file (NDJSON filing records).
    #[arg(long, conflicts_with = "admin")]
    pub(crate) snapshot: Option<PathBuf>,
    /// Decide against a running gateway's index via its admin API (`/v1/lookup`), e.g.
    /// http://127.0.0.1:9901.
    #[arg(long)]
    pub(crate) admin: Option<String>,
    /// Bearer token for the admin API (default: $ICPGATE_ADMIN_TOKEN).
    #[arg(long, env = "ICPGATE_ADMIN_TOKEN", hide_env_values = true)]
    pub(crate) admin_token: Option<String>,
    /// Decide as a route with `require_signer = false` would.
    #[arg(long)]
    pub(crate) no_signer_check: bool,
    /// Skip the content digests (APK v2/v3, HAP, v1 entries), as a route with
    /// `verify_digests = false`: only the signature metadata is checked.
    #[arg(long)]
    pub(crate) no_verify_digests: bool,
    /// The default; accepted so that older scripts keep working.
    #[arg(long, hide = true, conflicts_with = "no_verify_digests")]
    pub(crate) verify_digests: bool,
    /// Decide as a route pinned to this platform would.
    #[arg(long)]
    pub(crate) platform: Option<String>,
}
