//! Per-request metric samples without a lock on the request path.
//!
//! Owns the handles behind `icpgate_requests_total`, `icpgate_request_duration_seconds` and
//! `icpgate_upstream_duration_seconds`. A prometheus `*Vec` resolves labels on every call: it
//! hashes the label strings and takes a read lock, a shared cache line both cores write. Here
//! every label combination has a slot, resolved through the `Vec` the first time it is used
//! (so only series that occurred are exported, as before); after that a sample is an atomic
//! load of the slot and the counter's or histogram's own atomic adds.
//! Must not: create a series for a combination that did not occur, or take a lock once a
//! combination has been seen.
//! Invariant: a sample lands in exactly the series `Metrics` would give for the same labels.

use crate::filing::Platform;
use crate::metrics::Metrics;
use crate::policy::{Outcome, Reason};
use prometheus::{Histogram, IntCounter};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

/// Platforms plus "none" (no identified platform).
const PLATFORMS: usize = Platform::ALL.len() + 1;
const OUTCOMES: usize = Outcome::ALL.len();

pub struct Observer {
    metrics: Arc<Metrics>,
    /// Route names, then "default" (requests that matched no route).
    routes: Vec<String>,
    upstreams: Vec<String>,
    requests: Box<[OnceLock<IntCounter>]>,
    durations: Box<[OnceLock<Histogram>]>,
    upstream_durations: Box<[OnceLock<Histogram>]>,
}

fn slots<T>(n: usize) -> Box<[OnceLock<T>]> {
    (0..n).map(|_| OnceLock::new()).collect()
}

impl Observer {
    pub fn new<'a>(
        metrics: Arc<Metrics>,
        routes: impl Iterator<Item = &'a str>,
        upstreams: impl Iterator<Item = &'a str>,
    ) -> Observer {
        let routes: Vec<String> = routes
            .map(str::to_string)
            .chain(["default".into()])
            .collect();
        let upstreams: Vec<String> = upstreams.map(str::to_string).collect();
        let (r, u) = (routes.len(), upstreams.len());
        Observer {
            metrics,
            requests: slots(r * PLATFORMS * OUTCOMES * Reason::COUNT),
            durations: slots(r * OUTCOMES),
            upstream_durations: slots(u),
            routes,
            upstreams,
        }
    }

    /// One request's sample. `route` is the index of the route it matched, `None` for the
    /// default action.
    pub fn request(
        &self,
        route: Option<usize>,
        platform: Option<Platform>,
        outcome: Outcome,
        reason: Reason,
        start: Instant,
    ) {
        let default = self.routes.len() - 1;
        let route = route.filter(|&r| r < default).unwrap_or(default);
        let (o, p) = (outcome as usize, platform.map_or(0, |p| p as usize + 1));
        let name = &self.routes[route];
        let at = ((route * PLATFORMS + p) * OUTCOMES + o) * Reason::COUNT + reason.index();
        let platform = platform.map_or("none", Platform::as_str);
        let labels = [name.as_str(), platform, outcome.as_str(), reason.as_str()];
        let requests = || self.metrics.requests.with_label_values(&labels);
        with(&self.requests, at, requests, IntCounter::inc);
        let duration = || {
            self.metrics
                .request_duration
                .with_label_values(&[name.as_str(), outcome.as_str()])
        };
        let seconds = start.elapsed().as_secs_f64();
        with(&self.durations, route * OUTCOMES + o, duration, |h| {
            h.observe(seconds)
        });
    }

    /// The time one upstream took to answer (its response head).
    pub fn upstream(&self, upstream: usize, seconds: f64) {
        let name = self.upstreams.get(upstream).map_or("", String::as_str);
        let make = || self.metrics.upstream_duration.with_label_values(&[name]);
        with(&self.upstream_durations, upstream, make, |h| {
            h.observe(seconds)
        });
    }
}

/// Calls `f` with the handle in `slots[at]`, made by `make` on first use. Borrowed, not
/// cloned: a clone would bump the handle's shared reference count on every request. Out of
/// range (a label set larger than the slots were sized for) the handle is made every time:
/// still the right series, only slower.
fn with<T>(slots: &[OnceLock<T>], at: usize, make: impl FnOnce() -> T, f: impl FnOnce(&T)) {
    match slots.get(at) {
        Some(s) => f(s.get_or_init(make)),
        None => f(&make()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::code::Code;
    use crate::policy::PassReason;

    #[test]
    fn samples_land_in_the_series_the_labels_name() {
        let m = Arc::new(Metrics::new());
        let o = Observer::new(m.clone(), ["a", "b"].into_iter(), ["up"].into_iter());
        let t = Instant::now();
        o.request(
            Some(1),
            Some(Platform::Ios),
            Outcome::Block,
            Reason::Code(Code::Revoked),
            t,
        );
        o.request(
            Some(1),
            Some(Platform::Ios),
            Outcome::Block,
            Reason::Code(Code::Revoked),
            t,
        );
        o.request(
            None,
            None,
            Outcome::Pass,
            Reason::Pass(PassReason::ModeOff),
            t,
        );
        o.request(
            Some(0),
            Some(Platform::Android),
            Outcome::Allow,
            Reason::Filed,
            t,
        );
        o.upstream(0, 0.5);
        let get = |l: [&str; 4]| m.requests.with_label_values(&l).get();
        assert_eq!(get(["b", "ios", "block", "revoked"]), 2);
        assert_eq!(get(["default", "none", "pass", "mode_off"]), 1);
        assert_eq!(get(["a", "android", "allow", "filed"]), 1);
        assert_eq!(get(["a", "ios", "block", "revoked"]), 0);
        let count = |r: &str, d: &str| {
            m.request_duration
                .with_label_values(&[r, d])
                .get_sample_count()
        };
        assert_eq!((count("b", "block"), count("default", "pass")), (2, 1));
        let up = m.upstream_duration.with_label_values(&["up"]);
        assert_eq!(up.get_sample_sum(), 0.5);
    }
}
