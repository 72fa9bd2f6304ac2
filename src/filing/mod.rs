//! The filing domain: identifiers, filing numbers and filing records (domain.md §1–§4).
//!
//! Owns the pure rules; knows nothing of HTTP, the index layout or configuration.
//! Invariant: every value constructed here has passed its grammar.

mod check;
pub mod fields;
pub mod id;
pub mod number;
pub mod record;
pub mod scan;

pub use id::{index_key, validate, InvalidId, Platform};
pub use number::{FilingNumber, ServiceKind};
pub use record::{FilingRecord, PlatformFiling, RecordError, Signer, Status};
