//! The registry feed: the signed static-file format (`format`), the publisher that writes it
//! (`publish`), a development file server (`serve`) and the gateway's sync loop (`sync`).
//!
//! Must not: let a feed fault make the index worse than the last good state.

mod cache;
pub mod delta;
pub mod error;
pub mod export;
mod fetch;
pub mod format;
pub mod publish;
pub mod serve;
pub mod sync;
