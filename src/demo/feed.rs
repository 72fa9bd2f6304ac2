//! The demo feed: a registry feed the gateway builds from a bundled export at start, signs with
//! a key of its own and serves to itself, so the quick start runs the real sync path.
//!
//! Owns: building that feed directory and its key file.
//! Must not: be trusted by anything but the process that built it (the key is made here and
//! trusted only by this gateway's `[demo]` start).
//! Invariant: the returned public key is the key the directory's manifest is signed with.

use crate::feed::format::PublicKey;
use crate::feed::publish::{build, key_file, BuildOptions, PublishError};
use std::path::Path;
use std::time::Duration;

/// (Re)builds a feed in `dir` from `export` with the key in `key_path` (created on first use)
/// and returns the public key the gateway must trust.
pub fn build_feed(export: &Path, dir: &Path, key_path: &Path) -> Result<PublicKey, PublishError> {
    let key = key_file(key_path, true)?;
    let records = crate::feed::export::read_export(export)
        .map_err(|e| PublishError::Invalid(e.to_string()))?;
    let opts = BuildOptions {
        min_poll_interval: Duration::from_secs(1),
        ..Default::default()
    };
    build(&records, dir, &key, &[], &opts)?;
    Ok(key.public())
}
