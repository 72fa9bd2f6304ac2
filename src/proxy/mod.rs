//! The proxy: request pipeline (`pipeline`), route matching, body plumbing, forwarding and the
//! responses the gateway writes itself.
//!
//! Must not: know about listeners, TLS or shutdown (that is `server`).

pub mod authority;
pub mod body;
pub mod conn;
pub mod filing;
pub mod forward;
pub mod lists;
pub mod observe;
pub mod peers;
pub mod pipeline;
pub mod pool;
pub mod prehash;
pub mod request;
pub mod respond;
pub mod route;
pub mod spool;
mod spool_range;
pub mod subject;
pub mod target;
pub mod upload;

pub use conn::Conn;
pub use pipeline::Shared;

#[cfg(test)]
mod alloc_tests;
