//! The field types of a filing record that its validation rules speak about: lifecycle status,
//! signer fingerprints, the rejection reasons, and the size limits a record may not pass.
//!
//! Owns `Status`, `Signer`, `RecordError` and the record limits (the index's encoding relies
//! on them: `index::store` writes lengths in one byte and names up to `MAX_NAME_BYTES`).
//! Must not: depend on the record's wire form or on any reader of it; `check.rs` and
//! `record.rs` build on this module, never the reverse.
//! Invariant: a limit here is the one both record readers enforce and the index encodes.

use serde::{Deserialize, Serialize};

/// Longest entity or app name, in bytes.
pub const MAX_NAME_BYTES: usize = 1024;
/// Longest identifier, in bytes.
pub const MAX_ID_BYTES: usize = 255;
/// Most ids, or signers, in one platform section (and most platforms in a record).
pub const MAX_LIST: usize = 255;

/// Lifecycle state of a filing (domain.md §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Filed (已备案) and not restricted.
    Active = 0,
    /// Cancelled by its holder (注销).
    Cancelled = 1,
    /// Removed by the regulator (撤销).
    Revoked = 2,
    /// Filed but access-restricted (`limitAccess`, blacklist, 限制更新).
    Restricted = 3,
}

impl Status {
    pub const ALL: [Status; 4] = [
        Status::Active,
        Status::Cancelled,
        Status::Revoked,
        Status::Restricted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Cancelled => "cancelled",
            Status::Revoked => "revoked",
            Status::Restricted => "restricted",
        }
    }

    pub fn from_u8(v: u8) -> Option<Status> {
        Status::ALL.get(v as usize).copied()
    }
}

/// Fingerprints of one signing certificate (digests of the DER certificate). At least one set.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Signer {
    pub md5: Option<[u8; 16]>,
    pub sha1: Option<[u8; 20]>,
    pub sha256: Option<[u8; 32]>,
}

impl Signer {
    /// True when any digest present in both is equal and no digest present in both differs.
    pub fn matches(&self, other: &Signer) -> bool {
        let mut same = false;
        macro_rules! cmp {
            ($f:ident) => {
                if let (Some(a), Some(b)) = (&self.$f, &other.$f) {
                    if a != b {
                        return false;
                    }
                    same = true;
                }
            };
        }
        cmp!(md5);
        cmp!(sha1);
        cmp!(sha256);
        same
    }
}

/// Why a snapshot line is rejected. The message names the field.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("not a record: {0}")]
    Json(String),
    #[error("number {value:?}: {reason}")]
    Number { value: String, reason: String },
    #[error(
        "number {0:?} is a subject or website number, not an app, mini-program or quick-app filing"
    )]
    NotAService(String),
    #[error("kind {0:?} is not app, mini_program or quick_app")]
    Kind(String),
    #[error("kind {kind} disagrees with the number's suffix ({number})")]
    KindMismatch { kind: String, number: String },
    #[error("status {0:?} is not active, cancelled, revoked or restricted")]
    Status(String),
    #[error("{field} is empty")]
    Empty { field: &'static str },
    #[error("updated {0:?} is not an RFC 3339 time")]
    Updated(String),
    #[error("{field} is longer than {max} bytes")]
    TooLong { field: &'static str, max: usize },
    #[error("platforms[{index}]: {reason}")]
    Platform { index: usize, reason: String },
}
