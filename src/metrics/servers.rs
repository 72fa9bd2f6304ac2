//! The families of an upstream's servers (`proxy::peers`): failed attempts and times taken out,
//! by upstream and server, and requests sent on to a next server.
//!
//! Owns their handles and the series declared at 0 for a configuration; the names are
//! `metrics::name`'s. Must not: decide which server is up (the peers do), or label by anything
//! but the configured upstream names and `host:port` servers.
//! Invariant: `declare` creates every series a configuration can produce.

use super::{counter_vec, name};
use prometheus::{IntCounterVec, Registry};

pub struct ServerMetrics {
    /// Failed attempts on a server: connect, timeout or protocol.
    pub failures: IntCounterVec,
    /// Times a server is taken out of rotation for `fail_timeout`.
    pub marked_down: IntCounterVec,
    /// Requests sent to a next server after one could not be connected to.
    pub retries: IntCounterVec,
}

impl ServerMetrics {
    pub(super) fn new(r: &Registry) -> ServerMetrics {
        ServerMetrics {
            failures: counter_vec(
                r,
                name::UPSTREAM_SERVER_FAILURES,
                "Failed attempts on an upstream server (connect, timeout, protocol), by upstream and server.",
                &["upstream", "server"],
            ),
            marked_down: counter_vec(
                r,
                name::UPSTREAM_SERVER_MARKED_DOWN,
                "Times an upstream server was taken out of rotation for fail_timeout after max_fails failures.",
                &["upstream", "server"],
            ),
            retries: counter_vec(
                r,
                name::UPSTREAM_RETRIES,
                "Requests sent to a next server of their upstream after one could not be connected to.",
                &["upstream"],
            ),
        }
    }

    /// Creates, at 0, the series of each upstream and its servers. Idempotent: a reload calls
    /// it again with the new configuration.
    pub fn declare<'a>(&self, upstreams: impl IntoIterator<Item = (&'a str, Vec<&'a str>)>) {
        for (upstream, servers) in upstreams {
            self.retries.with_label_values(&[upstream]);
            for s in servers {
                self.failures.with_label_values(&[upstream, s]);
                self.marked_down.with_label_values(&[upstream, s]);
            }
        }
    }
}
