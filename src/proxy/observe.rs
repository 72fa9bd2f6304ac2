//! Per-request metric samples without a lock on the request path.
//!
//! Owns the handles behind `icpgate_requests_total`, `icpgate_requests_in_flight`,
//! `icpgate_request_duration_seconds`, `icpgate_gateway_duration_seconds`,
//! `icpgate_upstream_duration_seconds` and the start-time series of
//! `icpgate_upstream_errors_total`. A prometheus `*Vec` resolves labels on every call: it
//! hashes the label strings and takes a read lock, a shared cache line both cores write. Here
//! every label combination has a slot, resolved through the `Vec` the first time it is used;
//! after that a sample is an atomic load of the slot and the counter's or histogram's own
//! atomic adds, with no allocation. At start (`new`, `seed`) each upstream's series and each
//! route's usual series (a filed and an unfiled request on each of its platforms) are created
//! at 0, so every family is exported before the first request.
//! Must not: take a lock or allocate once a combination has been seen.
//! Invariant: a sample lands in exactly the series `Metrics` would give for the same labels.

use super::forward::UpstreamError;
use crate::code::Code;
use crate::config::{Mode, PlatformSpec, RouteConfig};
use crate::filing::Platform;
use crate::metrics::{status_class, Metrics, STATUS_CLASSES};
use crate::policy::{Outcome, PassReason, Reason};
use http::StatusCode;
use prometheus::{Histogram, IntCounter, IntGauge};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// Platforms plus "none" (no identified platform).
const PLATFORMS: usize = Platform::ALL.len() + 1;
const OUTCOMES: usize = Outcome::ALL.len();
const CLASSES: usize = STATUS_CLASSES.len();

/// The status-class counters of one (route, platform, decision, reason), made on first use.
type ByClass = Box<[OnceLock<IntCounter>; CLASSES]>;

/// What one request's metrics record says.
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    pub platform: Option<Platform>,
    pub outcome: Outcome,
    pub reason: Reason,
    /// The status of the response head the client gets.
    pub status: StatusCode,
    /// Time spent waiting for the upstream's response head (or its failure); zero for an
    /// answer of the gateway's own.
    pub upstream: Duration,
}

pub struct Observer {
    metrics: Arc<Metrics>,
    /// Route names, then "default" (requests that matched no route).
    routes: Vec<String>,
    upstreams: Vec<String>,
    requests: Box<[OnceLock<ByClass>]>,
    durations: Box<[OnceLock<Histogram>]>,
    gateway: Box<[OnceLock<Histogram>]>,
    upstream_durations: Box<[OnceLock<Histogram>]>,
}

/// Counts a request as in flight until dropped.
pub struct InFlight<'a>(&'a IntGauge);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

fn slots<T>(n: usize) -> Box<[OnceLock<T>]> {
    (0..n).map(|_| OnceLock::new()).collect()
}

impl Observer {
    /// The observer of a configuration's routes and upstreams (in configuration order).
    /// Creates each upstream's duration and error series.
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
        for u in &upstreams {
            for cause in UpstreamError::ALL {
                metrics
                    .upstream_errors
                    .with_label_values(&[u, cause.cause()]);
            }
        }
        let (r, u) = (routes.len(), upstreams.len());
        let o = Observer {
            metrics,
            requests: slots(r * PLATFORMS * OUTCOMES * Reason::COUNT),
            durations: slots(r * OUTCOMES),
            gateway: slots(r),
            upstream_durations: slots(u),
            routes,
            upstreams,
        };
        (0..u).for_each(|i| o.upstream_histogram(i, |_| {}));
        o
    }

    /// Creates, at 0, each route's usual series: on every platform it can name, the answer to
    /// a filed request (allow, 2xx) and to an unfiled one (block 4xx, or monitor 2xx; pass for
    /// a route in mode off). `routes` are the ones `new` was given, in the same order.
    pub fn seed(&self, routes: &[RouteConfig]) {
        for (i, r) in routes.iter().enumerate().take(self.routes.len() - 1) {
            let platforms: Vec<Option<Platform>> = match (&r.platform, r.mode) {
                (_, Mode::Off) => vec![None],
                (PlatformSpec::Fixed(p), _) => vec![Some(*p)],
                _ => Platform::ALL.into_iter().map(Some).collect(),
            };
            let filed = (Outcome::Allow, Reason::Filed, StatusCode::OK);
            let not_filed = Reason::Code(Code::NotFiled);
            let answers = match r.mode {
                Mode::Off => vec![(
                    Outcome::Pass,
                    Reason::Pass(PassReason::ModeOff),
                    StatusCode::OK,
                )],
                Mode::Monitor => vec![filed, (Outcome::Monitor, not_filed, StatusCode::OK)],
                Mode::Enforce => vec![filed, (Outcome::Block, not_filed, Code::NotFiled.status())],
            };
            for platform in platforms {
                for &(outcome, reason, status) in &answers {
                    let s = Sample {
                        platform,
                        outcome,
                        reason,
                        status,
                        upstream: Duration::ZERO,
                    };
                    self.counter(i, &s, |_| {});
                    self.duration(i, outcome, |_| {});
                }
            }
            self.gateway_histogram(i, |_| {});
        }
        super::lists::declare(&self.metrics, routes);
    }

    /// Counts a request in flight until the guard drops (when its response head is ready).
    pub fn in_flight(&self) -> InFlight<'_> {
        self.metrics.requests_in_flight.inc();
        InFlight(&self.metrics.requests_in_flight)
    }

    /// One request's sample. `route` is the index of the route it matched, `None` for the
    /// default action; `start` is when its head arrived.
    pub fn request(&self, route: Option<usize>, s: Sample, start: Instant) {
        let default = self.routes.len() - 1;
        let route = route.filter(|&r| r < default).unwrap_or(default);
        let total = start.elapsed();
        self.counter(route, &s, IntCounter::inc);
        let seconds = total.as_secs_f64();
        self.duration(route, s.outcome, |h| h.observe(seconds));
        let added = total.saturating_sub(s.upstream).as_secs_f64();
        self.gateway_histogram(route, |h| h.observe(added));
    }

    /// The time one upstream took to answer (its response head).
    pub fn upstream(&self, upstream: usize, seconds: f64) {
        self.upstream_histogram(upstream, |h| h.observe(seconds));
    }

    fn counter(&self, route: usize, s: &Sample, f: impl FnOnce(&IntCounter)) {
        let (o, p) = (s.outcome as usize, s.platform.map_or(0, |p| p as usize + 1));
        let at = ((route * PLATFORMS + p) * OUTCOMES + o) * Reason::COUNT + s.reason.index();
        let class = status_class(s.status);
        let make = || {
            let platform = s.platform.map_or("none", Platform::as_str);
            let labels = [
                self.routes[route].as_str(),
                platform,
                s.outcome.as_str(),
                s.reason.as_str(),
                STATUS_CLASSES[class],
            ];
            self.metrics.requests.with_label_values(&labels)
        };
        let by_class = || -> ByClass { Box::new(std::array::from_fn(|_| OnceLock::new())) };
        match self.requests.get(at) {
            Some(slot) => f(slot.get_or_init(by_class)[class].get_or_init(make)),
            None => f(&make()),
        }
    }

    fn duration(&self, route: usize, outcome: Outcome, f: impl FnOnce(&Histogram)) {
        let make = || {
            let labels = [self.routes[route].as_str(), outcome.as_str()];
            self.metrics.request_duration.with_label_values(&labels)
        };
        with(
            &self.durations,
            route * OUTCOMES + outcome as usize,
            make,
            f,
        );
    }

    fn gateway_histogram(&self, route: usize, f: impl FnOnce(&Histogram)) {
        let make = || {
            let name = self.routes[route].as_str();
            self.metrics.gateway_duration.with_label_values(&[name])
        };
        with(&self.gateway, route, make, f);
    }

    fn upstream_histogram(&self, upstream: usize, f: impl FnOnce(&Histogram)) {
        let name = self.upstreams.get(upstream).map_or("", String::as_str);
        let make = || self.metrics.upstream_duration.with_label_values(&[name]);
        with(&self.upstream_durations, upstream, make, f);
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
mod tests;
