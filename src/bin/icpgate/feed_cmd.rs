//! `icpgate feed ...`: the registry-feed subcommands (keygen, build, verify, generate, serve).
//!
//! Owns only argument handling and what the commands print; publishing, verifying and serving
//! are `icpgate::feed`, generation is `icpgate::generate`.
//! Must not: publish anything when the export has errors (exit 65, nothing written).
//! Invariant: every file error names the file.

use crate::EX_DATAERR;
use anyhow::Context;
use clap::Subcommand;
use icpgate::feed::{export, publish};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

#[derive(Subcommand)]
pub(crate) enum FeedCmd {
    /// Create a signing key pair: PREFIX.key (private, mode 0600) and PREFIX.pub.
    Keygen {
        #[arg(long)]
        out: PathBuf,
    },
    /// Publish the next revision of a feed from a registry export (NDJSON or .csv).
    Build {
        #[arg(long)]
        input: PathBuf,
        #[arg(long)]
        out: PathBuf,
        #[arg(long)]
        key: PathBuf,
        /// Write a fresh snapshot instead of a delta once this many deltas are listed.
        #[arg(long, default_value_t = 20)]
        fold_after: usize,
        /// Minimum poll interval announced to gateways.
        #[arg(long, default_value = "30s")]
        min_poll: humantime::Duration,
        /// Also accept the existing feed's signature from these public keys (key rotation).
        #[arg(long)]
        trust: Vec<PathBuf>,
    },
    /// Check a feed directory completely: signature, every file, every state checksum.
    Verify {
        dir: PathBuf,
        #[arg(long, required = true)]
        pubkey: Vec<PathBuf>,
    },
    /// Write a deterministic synthetic registry export (NDJSON) for tests and benchmarks.
    Generate {
        #[arg(long)]
        records: u64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Output file; standard output when omitted.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Serve a feed directory over HTTP (development; production uses any web server).
    Serve {
        dir: PathBuf,
        #[arg(long, default_value = "127.0.0.1:8090")]
        listen: std::net::SocketAddr,
    },
}

fn read_pubkeys(paths: &[PathBuf]) -> anyhow::Result<Vec<icpgate::feed::format::PublicKey>> {
    paths
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read {}", p.display()))?;
            icpgate::feed::format::PublicKey::parse(&text).with_context(|| {
                format!("{}: not an Ed25519 public key (64 hex digits)", p.display())
            })
        })
        .collect()
}

pub(crate) fn run(cmd: FeedCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        FeedCmd::Keygen { out } => keygen(&out),
        FeedCmd::Build {
            input,
            out,
            key,
            fold_after,
            min_poll,
            trust,
        } => build(&input, &out, &key, fold_after, *min_poll, &trust),
        FeedCmd::Verify { dir, pubkey } => verify(&dir, &pubkey),
        FeedCmd::Generate { records, seed, out } => generate(records, seed, out.as_deref()),
        FeedCmd::Serve { dir, listen } => serve(dir, listen),
    }
}

/// `feed keygen`: PREFIX.key and PREFIX.pub, never over an existing key.
fn keygen(out: &Path) -> anyhow::Result<ExitCode> {
    let key_path = out.with_extension("key");
    let pub_path = out.with_extension("pub");
    anyhow::ensure!(
        !key_path.exists(),
        "{} exists; refusing to overwrite a key",
        key_path.display()
    );
    let key = publish::key_file(&key_path, true)?;
    std::fs::write(&pub_path, key.public().to_hex() + "\n")
        .with_context(|| format!("cannot write {}", pub_path.display()))?;
    out!(
        "{}\n{}  (key id {})",
        key_path.display(),
        pub_path.display(),
        key.public().id()
    );
    Ok(ExitCode::SUCCESS)
}

/// `feed build`: the next revision from an export; nothing is written when it has errors.
fn build(
    input: &Path,
    out: &Path,
    key: &Path,
    fold_after: usize,
    min_poll: Duration,
    trust: &[PathBuf],
) -> anyhow::Result<ExitCode> {
    let key = publish::key_file(key, false)?;
    let trust = read_pubkeys(trust)?;
    let records = match export::read_export(input) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{e}");
            eprintln!("the export has errors; nothing was published");
            return Ok(ExitCode::from(EX_DATAERR));
        }
    };
    let opts = publish::BuildOptions {
        fold_after: fold_after.max(1),
        min_poll_interval: min_poll,
        ..Default::default()
    };
    let summary = publish::build(&records, out, &key, &trust, &opts)?;
    out!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(ExitCode::SUCCESS)
}

/// `feed verify`: the whole feed against the public keys.
fn verify(dir: &Path, pubkey: &[PathBuf]) -> anyhow::Result<ExitCode> {
    let keys = read_pubkeys(pubkey)?;
    match publish::load_feed(dir, &keys) {
        Ok(Some((m, state))) => {
            out!(
                "{}: ok: revision {}, {} records, snapshot {} + {} deltas, complete as of {}",
                dir.display(),
                m.revision,
                state.len(),
                m.snapshot.revision,
                m.deltas.len(),
                m.complete_as_of
            );
            Ok(ExitCode::SUCCESS)
        }
        Ok(None) => {
            eprintln!("{}: no manifest.json", dir.display());
            Ok(ExitCode::from(EX_DATAERR))
        }
        Err(e) => {
            eprintln!("{}: {e}", dir.display());
            Ok(ExitCode::from(EX_DATAERR))
        }
    }
}

/// `feed generate`: a synthetic export to `out` or stdout; the summary on stderr.
fn generate(records: u64, seed: u64, out: Option<&Path>) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        records <= icpgate::generate::MAX_RECORDS,
        "--records is at most {}",
        icpgate::generate::MAX_RECORDS
    );
    let summary = match out {
        Some(p) => {
            let f = std::fs::File::create(p)
                .with_context(|| format!("cannot create {}", p.display()))?;
            icpgate::generate::generate(
                records,
                seed,
                std::io::BufWriter::with_capacity(1 << 20, f),
            )?
        }
        None => icpgate::generate::generate(
            records,
            seed,
            std::io::BufWriter::new(std::io::stdout().lock()),
        )?,
    };
    eprintln!("{summary:?}");
    Ok(ExitCode::SUCCESS)
}

/// `feed serve`: the directory over HTTP until the process is killed.
fn serve(dir: PathBuf, listen: SocketAddr) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(dir.is_dir(), "{} is not a directory", dir.display());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let l = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot bind {listen}"))?;
        eprintln!(
            "icpgate: serving feed {} on http://{}/",
            dir.display(),
            l.local_addr()?
        );
        let (_tx, rx) = tokio::sync::watch::channel(false);
        icpgate::feed::serve::serve(l, dir, rx).await;
        Ok(ExitCode::SUCCESS)
    })
}
