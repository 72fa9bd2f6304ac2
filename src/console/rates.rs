//! Per-route decision rates over the last 15 minutes, for the console's health page.
//!
//! Owns a bounded ring of samples of `icpgate_requests_total`, summed per route and decision:
//! a sampler task on the admin listener's runtime takes one every 10 seconds; a page adds a
//! live sample of its own as the last point. Reading the counters is what a scrape does, so
//! the request path pays nothing for the charts.
//! Must not: touch the request path, or keep more than `POINTS` samples.
//! Invariant: samples are in time order; a rate is never negative (a series that vanished
//! reads as 0).

use crate::metrics::Metrics;
use crate::policy::Outcome;
use prometheus::core::Collector;
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Time between two samples.
pub const PERIOD: Duration = Duration::from_secs(10);
/// How far back the charts reach.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Samples kept: a whole window of intervals.
const POINTS: usize = (WINDOW.as_secs() / PERIOD.as_secs()) as usize + 1;

const OUTCOMES: usize = Outcome::ALL.len();

/// Request counts by route, per decision in `Outcome::ALL` order.
type Totals = BTreeMap<String, [u64; OUTCOMES]>;

struct Point {
    at: Instant,
    totals: Totals,
}

pub struct Rates {
    metrics: Arc<Metrics>,
    points: Mutex<VecDeque<Point>>,
}

/// One route's decisions over the window.
#[derive(Debug)]
pub struct RouteRates {
    pub route: String,
    /// Per decision (`Outcome::ALL` order): (seconds before now, requests per second over the
    /// interval ending then), oldest first.
    pub lines: [Vec<(f64, f64)>; OUTCOMES],
    /// Per decision: requests within the window's samples.
    pub totals: [u64; OUTCOMES],
}

impl RouteRates {
    /// The highest rate on any line (requests per second).
    pub fn peak(&self) -> f64 {
        self.lines
            .iter()
            .flatten()
            .map(|&(_, r)| r)
            .fold(0.0, f64::max)
    }
}

fn outcome_at(label: &str) -> Option<usize> {
    Outcome::ALL.iter().position(|o| o.as_str() == label)
}

impl Rates {
    pub fn new(metrics: Arc<Metrics>) -> Rates {
        Rates {
            metrics,
            points: Mutex::new(VecDeque::with_capacity(POINTS + 1)),
        }
    }

    /// The request counters now, summed per route and decision.
    fn read(&self) -> Totals {
        let mut totals = Totals::new();
        for family in self.metrics.requests.collect() {
            for m in family.get_metric() {
                let (mut route, mut outcome) = (None, None);
                for l in m.get_label() {
                    match l.name() {
                        "route" => route = Some(l.value()),
                        "decision" => outcome = outcome_at(l.value()),
                        _ => {}
                    }
                }
                if let (Some(route), Some(o)) = (route, outcome) {
                    let n = m.get_counter().get_value() as u64;
                    totals.entry(route.to_string()).or_default()[o] += n;
                }
            }
        }
        totals
    }

    /// Takes one sample, dropping the earliest past `POINTS`.
    pub fn sample(&self) {
        self.sample_at(Instant::now(), self.read());
    }

    fn sample_at(&self, at: Instant, totals: Totals) {
        let mut p = self.points.lock().unwrap_or_else(PoisonError::into_inner);
        p.push_back(Point { at, totals });
        while p.len() > POINTS {
            p.pop_front();
        }
    }

    /// Samples every `PERIOD` until `shutdown` changes.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let mut tick = tokio::time::interval(PERIOD);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => self.sample(),
                _ = shutdown.changed() => return,
            }
        }
    }

    /// Every route's rates over the window, the last interval ending now.
    pub fn routes(&self) -> Vec<RouteRates> {
        let live = Point {
            at: Instant::now(),
            totals: self.read(),
        };
        let p = self.points.lock().unwrap_or_else(PoisonError::into_inner);
        rates_of(p.iter().take(kept(&p, live.at)).chain([&live]), &live)
    }
}

/// How many samples precede a live point taken at `now`. A live interval shorter than half a
/// period would show one request as a spike, so it replaces the last sample's interval
/// instead; the first sample always stays.
fn kept(p: &VecDeque<Point>, now: Instant) -> usize {
    match p.back() {
        Some(last) if p.len() > 1 && now.saturating_duration_since(last.at) < PERIOD / 2 => {
            p.len() - 1
        }
        _ => p.len(),
    }
}

/// The rates between consecutive points, per route of `last`, as seconds before `last.at`.
fn rates_of<'a>(points: impl Iterator<Item = &'a Point> + Clone, last: &Point) -> Vec<RouteRates> {
    let pairs = points.clone().zip(points.skip(1));
    let mut out: Vec<RouteRates> = last
        .totals
        .keys()
        .map(|route| RouteRates {
            route: route.clone(),
            lines: Default::default(),
            totals: [0; OUTCOMES],
        })
        .collect();
    for (a, b) in pairs {
        let dt = b.at.saturating_duration_since(a.at).as_secs_f64();
        if dt <= 0.0 {
            continue;
        }
        let ago = last.at.saturating_duration_since(b.at).as_secs_f64();
        for r in &mut out {
            let before = a.totals.get(&r.route).copied().unwrap_or_default();
            let after = b.totals.get(&r.route).copied().unwrap_or_default();
            for o in 0..OUTCOMES {
                let n = after[o].saturating_sub(before[o]);
                r.totals[o] += n;
                r.lines[o].push((ago, n as f64 / dt));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(at: Instant, route: &str, block: u64) -> Point {
        let mut counts = [0; OUTCOMES];
        counts[outcome_at("block").unwrap()] = block;
        Point {
            at,
            totals: [(route.to_string(), counts)].into(),
        }
    }

    #[test]
    fn rates_are_per_second_per_interval_and_totals_sum_them() {
        let t0 = Instant::now();
        let pts = [
            point(t0, "apps", 0),
            point(t0 + PERIOD, "apps", 50),
            point(t0 + 2 * PERIOD, "apps", 70),
        ];
        let last = &pts[2];
        let r = rates_of(pts.iter(), last);
        let block = outcome_at("block").unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].lines[block], [(10.0, 5.0), (0.0, 2.0)]);
        assert_eq!(r[0].totals[block], 70);
        assert_eq!(r[0].peak(), 5.0);
    }

    #[test]
    fn a_short_live_interval_replaces_the_last_one() {
        let t0 = Instant::now();
        let p: VecDeque<Point> = [point(t0, "a", 0), point(t0 + PERIOD, "a", 1)].into();
        assert_eq!(kept(&p, t0 + PERIOD + Duration::from_secs(1)), 1);
        assert_eq!(kept(&p, t0 + PERIOD + Duration::from_secs(6)), 2);
        let first: VecDeque<Point> = [point(t0, "a", 0)].into();
        assert_eq!(kept(&first, t0 + Duration::from_millis(10)), 1);
    }

    #[test]
    fn the_ring_keeps_one_window_of_samples() {
        let rates = Rates::new(Arc::new(Metrics::new()));
        let t0 = Instant::now();
        for i in 0..(POINTS as u32 + 20) {
            rates.sample_at(t0 + PERIOD * i, Totals::new());
        }
        assert_eq!(rates.points.lock().unwrap().len(), POINTS);
    }

    #[test]
    fn a_live_read_sums_the_request_counters_by_route_and_decision() {
        let m = Arc::new(Metrics::new());
        m.requests
            .with_label_values(&["apps", "android", "block", "not_filed", "4xx"])
            .inc_by(3);
        m.requests
            .with_label_values(&["apps", "ios", "block", "revoked", "4xx"])
            .inc_by(2);
        let rates = Rates::new(m);
        let t = rates.read();
        assert_eq!(t["apps"][outcome_at("block").unwrap()], 5);
    }
}
