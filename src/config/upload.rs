//! Upload configuration: the global `[upload]` spool settings and a route's `upload = { … }`
//! table, in their TOML shape and validated.
//!
//! Owns the raw shapes of those two tables (kept here rather than in `raw.rs` so the upload
//! feature stays in one file), byte-size parsing (`1048576`, `"512KiB"`, `"1GiB"`) and every
//! check on them.
//! Must not: create or touch spool files beyond a writability probe that leaves nothing behind
//! (an unnamed temp file).
//! Invariant: a validated `UploadRoute` has a non-empty field name, `max_bytes > 0` and at
//! least one raw content type in lowercase.

use super::Problems;
use serde::Deserialize;
use std::path::PathBuf;

/// A byte count written as an integer or as a string with a unit.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum RawSize {
    Bytes(u64),
    Text(String),
}

/// `[upload]`: where and how request bodies of upload routes are spooled.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawUploadGlobal {
    /// Directory for spool files; `None` = the system temp dir (`$TMPDIR`, else `/tmp`).
    pub spool_dir: Option<String>,
    pub memory_threshold: RawSize,
}

impl Default for RawUploadGlobal {
    fn default() -> Self {
        RawUploadGlobal {
            spool_dir: None,
            memory_threshold: RawSize::Bytes(DEFAULT_MEMORY_THRESHOLD),
        }
    }
}

/// A route's `upload = { … }` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUploadRoute {
    #[serde(default = "default_field")]
    pub field: String,
    #[serde(default = "default_max_bytes")]
    pub max_bytes: RawSize,
    #[serde(default = "yes")]
    pub require_signer: bool,
    #[serde(default = "yes")]
    pub verify_digests: bool,
    #[serde(default = "default_raw_types")]
    pub raw_types: Vec<String>,
}

pub const DEFAULT_MEMORY_THRESHOLD: u64 = 1 << 20;
/// Largest accepted `memory_threshold`: more belongs on disk, not in every request's memory.
pub const MAX_MEMORY_THRESHOLD: u64 = 64 << 20;

fn default_field() -> String {
    "file".into()
}
fn default_max_bytes() -> RawSize {
    RawSize::Text("1GiB".into())
}
fn yes() -> bool {
    true
}
fn default_raw_types() -> Vec<String> {
    DEFAULT_RAW_TYPES.iter().map(|s| s.to_string()).collect()
}

/// Content types taken as a whole-body package when a route does not list its own.
pub const DEFAULT_RAW_TYPES: &[&str] = &[
    "application/vnd.android.package-archive",
    "application/octet-stream",
    "application/zip",
];

/// Validated `[upload]`.
#[derive(Clone, Debug)]
pub struct UploadGlobal {
    pub spool_dir: PathBuf,
    /// Bodies up to this many bytes stay in memory; larger ones go to an unnamed temp file.
    pub memory_threshold: usize,
}

/// Validated `upload = { … }` of one route.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadRoute {
    /// The multipart/form-data field that carries the package.
    pub field: String,
    /// Largest request body accepted (413 `body_too_large` past it).
    pub max_bytes: u64,
    /// Require a signer that a matching filing lists (else 451 `signer_not_filed`).
    pub require_signer: bool,
    /// Verify the content digests (APK v2/v3 and HAP, or the v1 entry digests when v1 decides;
    /// one pass over the package), so that a package whose entries changed after signing has
    /// no accepted signer (422). On unless the route says `verify_digests = false`.
    pub verify_digests: bool,
    /// Content types (lowercase, no parameters) whose whole body is the package.
    pub raw_types: Vec<String>,
}

/// Parses `1048576`, `"1048576"`, `"512KiB"`, `"100MB"`, `"1 GiB"`.
pub fn parse_size(s: &RawSize) -> Result<u64, String> {
    let text = match s {
        RawSize::Bytes(n) => return Ok(*n),
        RawSize::Text(t) => t.trim(),
    };
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (num, unit) = text.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{text:?} is not a size (e.g. 1048576, \"512KiB\", \"1GiB\")"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        other => {
            return Err(format!(
                "{text:?}: unknown unit {other:?} (B, KB, MB, GB, KiB, MiB, GiB)"
            ))
        }
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("{text:?} is too large"))
}

pub(super) fn global(p: &mut Problems<'_>, r: &RawUploadGlobal) -> UploadGlobal {
    let memory_threshold = match parse_size(&r.memory_threshold) {
        Ok(n) if n <= MAX_MEMORY_THRESHOLD => n as usize,
        Ok(_) => {
            p.add(
                "upload.memory_threshold",
                format!("must be at most {MAX_MEMORY_THRESHOLD} bytes (64MiB)"),
            );
            0
        }
        Err(e) => {
            p.add("upload.memory_threshold", e);
            0
        }
    };
    let spool_dir = match &r.spool_dir {
        None => std::env::temp_dir(),
        Some(d) if d.is_empty() => {
            p.add("upload.spool_dir", "must not be empty");
            std::env::temp_dir()
        }
        Some(d) => {
            let dir = p.dir.join(d);
            if !dir.is_dir() {
                p.add(
                    "upload.spool_dir",
                    format!("{} does not exist or is not a directory", dir.display()),
                );
            } else if let Err(e) = tempfile::tempfile_in(&dir) {
                p.add(
                    "upload.spool_dir",
                    format!("cannot create a spool file in {}: {e}", dir.display()),
                );
            }
            dir
        }
    };
    UploadGlobal {
        spool_dir,
        memory_threshold,
    }
}

pub(super) fn route(p: &mut Problems<'_>, key: &str, r: &RawUploadRoute) -> Option<UploadRoute> {
    let mut ok = true;
    if r.field.is_empty() {
        p.add(&format!("{key}.field"), "must not be empty");
        ok = false;
    }
    let max_bytes = match parse_size(&r.max_bytes) {
        Ok(0) => {
            p.add(&format!("{key}.max_bytes"), "must be greater than 0");
            None
        }
        Ok(n) => Some(n),
        Err(e) => {
            p.add(&format!("{key}.max_bytes"), e);
            None
        }
    };
    if r.raw_types.is_empty() {
        p.add(
            &format!("{key}.raw_types"),
            "list at least one content type (the default list is used when the key is absent)",
        );
        ok = false;
    }
    for (i, t) in r.raw_types.iter().enumerate() {
        let valid = t.split_once('/').is_some_and(|(a, b)| {
            !a.is_empty()
                && !b.is_empty()
                && t.bytes()
                    .all(|c| c.is_ascii_alphanumeric() || b"/.+-_".contains(&c))
        });
        if !valid {
            p.add(
                &format!("{key}.raw_types[{i}]"),
                format!("{t:?} is not a content type such as \"application/octet-stream\""),
            );
            ok = false;
        } else if t.eq_ignore_ascii_case("multipart/form-data") {
            p.add(
                &format!("{key}.raw_types[{i}]"),
                "multipart/form-data is always read as a form; it cannot be a raw type",
            );
            ok = false;
        }
    }
    Some(UploadRoute {
        field: r.field.clone(),
        max_bytes: max_bytes?,
        require_signer: r.require_signer,
        verify_digests: r.verify_digests,
        raw_types: r.raw_types.iter().map(|t| t.to_ascii_lowercase()).collect(),
    })
    .filter(|_| ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_units() {
        let t = |s: &str| parse_size(&RawSize::Text(s.into()));
        assert_eq!(parse_size(&RawSize::Bytes(7)), Ok(7));
        assert_eq!(t("1048576"), Ok(1 << 20));
        assert_eq!(t("512KiB"), Ok(512 << 10));
        assert_eq!(t("1 GiB"), Ok(1 << 30));
        assert_eq!(t("100MB"), Ok(100_000_000));
        assert_eq!(t("2gib"), Ok(2 << 30));
        assert!(t("").is_err());
        assert!(t("MiB").is_err());
        assert!(t("1.5GiB").unwrap_err().contains("unknown unit"));
        assert!(t("10 parsecs").unwrap_err().contains("unknown unit"));
        assert!(t("99999999999999999999GiB").is_err());
        assert!(t("18446744073709551615GiB")
            .unwrap_err()
            .contains("too large"));
    }
}
