//! The proxy: request pipeline (`handler`), route matching, body plumbing, forwarding and the
//! responses the gateway writes itself.
//!
//! Must not: know about listeners, TLS or shutdown (that is `server`).

pub mod body;
pub mod forward;
pub mod handler;
pub mod observe;
pub mod respond;
pub mod route;
pub mod spool;
pub mod target;
pub mod upload;

pub use handler::{Conn, Shared};

#[cfg(test)]
mod alloc_tests;
