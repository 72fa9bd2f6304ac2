//! The error a feed sync fails with, shared by the fetcher and the sync loop.
//!
//! Owns `SyncError` (a `Cause`, the metrics' `cause` label, and a message) and `Cause::ALL`,
//! from which the metrics create every `cause` series at start.
//! Must not: depend on the fetcher or the sync loop; both build on it.
//! Invariant: a failure's `cause` label is one of `Cause::ALL`, never request data.

/// Why a sync failed: the `cause` label of `icpgate_feed_sync_failures_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// The server could not be reached, answered an error status or an unexpected 304.
    Fetch,
    /// A file is larger than `feed.max_file_bytes` or than the manifest says.
    Size,
    Signature,
    Manifest,
    Sha256,
    Decompress,
    Parse,
    /// The state after a step does not match the manifest's checksum.
    Checksum,
    Apply,
    /// The manifest names an older revision than the one served.
    Replay,
    /// The persisted state cannot be read or written.
    Cache,
}

impl Cause {
    pub const ALL: [Cause; 11] = [
        Cause::Fetch,
        Cause::Size,
        Cause::Signature,
        Cause::Manifest,
        Cause::Sha256,
        Cause::Decompress,
        Cause::Parse,
        Cause::Checksum,
        Cause::Apply,
        Cause::Replay,
        Cause::Cache,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Cause::Fetch => "fetch",
            Cause::Size => "size",
            Cause::Signature => "signature",
            Cause::Manifest => "manifest",
            Cause::Sha256 => "sha256",
            Cause::Decompress => "decompress",
            Cause::Parse => "parse",
            Cause::Checksum => "checksum",
            Cause::Apply => "apply",
            Cause::Replay => "replay",
            Cause::Cache => "cache",
        }
    }
}

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed sync, with the bounded `cause` label it is counted under.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{cause}: {message}")]
pub struct SyncError {
    pub cause: Cause,
    pub message: String,
}

impl SyncError {
    pub fn new(cause: Cause, message: impl Into<String>) -> SyncError {
        SyncError {
            cause,
            message: message.into(),
        }
    }
}
