//! The error a feed sync fails with, shared by the fetcher and the sync loop.
//!
//! Owns `SyncError`: a bounded `cause` label (the metrics' `cause` label value) and a message.
//! Must not: depend on the fetcher or the sync loop; both build on it.
//! Invariant: `cause` is one of a small fixed set of static labels, never request data.

/// A failed sync, with the bounded `cause` label it is counted under.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{cause}: {message}")]
pub struct SyncError {
    pub cause: &'static str,
    pub message: String,
}

impl SyncError {
    pub fn new(cause: &'static str, message: impl Into<String>) -> SyncError {
        SyncError {
            cause,
            message: message.into(),
        }
    }
}
