//! Folding of repeated diagnostic events: a cause that fires on every request (an upstream
//! down, connections over the limit, bad TLS handshakes, a full disk under the audit trail)
//! is logged at most once per interval, with the count of what was folded into it.
//!
//! Owns `Folded` (one cause: atomic counters and the time of its last line) and the flusher
//! thread that writes the count of a burst that ended between two lines. The first event of a
//! cause is logged at once; while the cause keeps firing the interval doubles from
//! `FIRST_INTERVAL` to `MAX_INTERVAL`, and after an interval without events it starts over.
//! Must not: take a lock or allocate on `hit`, or drop an event from the counts (a cause writes
//! its count when it is dropped, and `flush_pending` at shutdown).
//! Invariant: every `hit` is either the event of one line or counted in the `repeated` of a
//! later line (the event's own, or the flusher's summary).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

/// The interval after a line with nothing folded into it.
pub const FIRST_INTERVAL: Duration = Duration::from_secs(1);
/// The longest interval between two lines of a cause that keeps firing.
pub const MAX_INTERVAL: Duration = Duration::from_secs(10);
/// How often the flusher looks for counts to write.
const FLUSH_EVERY: Duration = Duration::from_millis(250);
/// `last` before the first line.
const NEVER: u64 = u64::MAX;

/// The level of a cause's lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Info,
    Warn,
    Error,
}

/// What a line folds: `count` events since the previous line, over `window`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repeats {
    pub count: u64,
    pub window: Duration,
}

impl Repeats {
    /// The window in seconds, for a log field.
    pub fn secs(&self) -> f64 {
        (self.window.as_millis() as f64 / 1000.0 * 10.0).round() / 10.0
    }
}

/// One cause of a repeated event.
pub struct Folded {
    event: &'static str,
    /// What tells this cause apart from others of the same event (`upstream=store`).
    key: String,
    level: Level,
    /// Milliseconds since the process epoch of the last line, `NEVER` before the first.
    last: AtomicU64,
    /// The current interval in milliseconds.
    interval: AtomicU64,
    /// Events since the last line.
    pending: AtomicU64,
}

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn now_ms() -> u64 {
    epoch().elapsed().as_millis() as u64
}

fn registry() -> &'static Mutex<Vec<Weak<Folded>>> {
    static REGISTRY: Mutex<Vec<Weak<Folded>>> = Mutex::new(Vec::new());
    &REGISTRY
}

impl Folded {
    /// A cause whose folded counts the flusher writes when its events stop; `key` is written
    /// on the flusher's lines (`upstream=store cause=connect`).
    pub fn new(event: &'static str, key: impl Into<String>, level: Level) -> Arc<Folded> {
        let f = Arc::new(Folded::detached(event, key, level));
        if let Ok(mut r) = registry().lock() {
            r.retain(|w| w.strong_count() > 0);
            r.push(Arc::downgrade(&f));
        }
        start_flusher();
        f
    }

    /// A cause the flusher does not see (its owner calls `flush_at`, or lets the next event
    /// carry the count).
    pub fn detached(event: &'static str, key: impl Into<String>, level: Level) -> Folded {
        let _ = epoch();
        Folded {
            event,
            key: key.into(),
            level,
            last: AtomicU64::new(NEVER),
            interval: AtomicU64::new(FIRST_INTERVAL.as_millis() as u64),
            pending: AtomicU64::new(0),
        }
    }

    /// One event: `Some` when it is to be logged (with what was folded since the previous
    /// line), `None` when it is counted into a later line.
    pub fn hit(&self) -> Option<Repeats> {
        self.hit_at(now_ms())
    }

    fn hit_at(&self, now: u64) -> Option<Repeats> {
        let last = self.last.load(Relaxed);
        let due = last == NEVER || now.saturating_sub(last) >= self.interval.load(Relaxed);
        if !due
            || self
                .last
                .compare_exchange(last, now, Relaxed, Relaxed)
                .is_err()
        {
            self.pending.fetch_add(1, Relaxed);
            return None;
        }
        let count = self.pending.swap(0, Relaxed);
        self.adapt(count);
        let window = if last == NEVER { 0 } else { now - last };
        Some(Repeats {
            count,
            window: Duration::from_millis(window),
        })
    }

    /// The count of events folded since the last line, if the interval has passed: for a
    /// summary line. Takes the line's turn like `hit` does.
    pub fn flush_at(&self, now: u64) -> Option<Repeats> {
        let last = self.last.load(Relaxed);
        if self.pending.load(Relaxed) == 0
            || last == NEVER
            || now.saturating_sub(last) < self.interval.load(Relaxed)
            || self
                .last
                .compare_exchange(last, now, Relaxed, Relaxed)
                .is_err()
        {
            return None;
        }
        let count = self.pending.swap(0, Relaxed);
        self.adapt(count);
        (count > 0).then(|| Repeats {
            count,
            window: Duration::from_millis(now - last),
        })
    }

    /// A line that folded events doubles the interval (the cause is still firing); one that
    /// folded none starts it over.
    fn adapt(&self, folded: u64) {
        let max = MAX_INTERVAL.as_millis() as u64;
        let next = match folded {
            0 => FIRST_INTERVAL.as_millis() as u64,
            _ => (self.interval.load(Relaxed) * 2).min(max),
        };
        self.interval.store(next, Relaxed);
    }

    /// Writes the summary of what is folded, interval over or not.
    fn flush_now(&self) {
        let last = self.last.load(Relaxed);
        let count = self.pending.swap(0, Relaxed);
        if count > 0 && last != NEVER {
            self.summary(Repeats {
                count,
                window: Duration::from_millis(now_ms().saturating_sub(last)),
            });
        }
    }

    /// Writes the flusher's summary line.
    fn summary(&self, r: Repeats) {
        let (event, key, n, secs) = (self.event, &self.key, r.count, r.secs());
        match self.level {
            Level::Info => tracing::info!(
                event,
                key = %key,
                repeated = n,
                window_s = secs,
                "{event} {key} repeated {n} times in the last {secs}s"
            ),
            Level::Warn => tracing::warn!(
                event,
                key = %key,
                repeated = n,
                window_s = secs,
                "{event} {key} repeated {n} times in the last {secs}s"
            ),
            Level::Error => tracing::error!(
                event,
                key = %key,
                repeated = n,
                window_s = secs,
                "{event} {key} repeated {n} times in the last {secs}s"
            ),
        }
    }
}

/// A cause that goes away (its upstream or listener with a configuration, or the process)
/// writes what it folded.
impl Drop for Folded {
    fn drop(&mut self) {
        self.flush_now();
    }
}

/// Writes the summary of every registered cause whose interval has passed with events folded.
fn flush_all() {
    let now = now_ms();
    for f in live() {
        if let Some(r) = f.flush_at(now) {
            f.summary(r);
        }
    }
}

/// Writes the summary of every registered cause with events folded, interval over or not: at
/// shutdown, so the last counts are not lost.
pub fn flush_pending() {
    for f in live() {
        f.flush_now();
    }
}

fn live() -> Vec<Arc<Folded>> {
    match registry().lock() {
        Ok(r) => r.iter().filter_map(Weak::upgrade).collect(),
        Err(_) => Vec::new(),
    }
}

/// Starts the flusher thread once per process.
fn start_flusher() {
    static STARTED: OnceLock<()> = OnceLock::new();
    STARTED.get_or_init(|| {
        let spawned = std::thread::Builder::new()
            .name("icpgate-fold".into())
            .spawn(|| loop {
                std::thread::sleep(FLUSH_EVERY);
                flush_all();
            });
        if let Err(e) = spawned {
            tracing::warn!(event = "fold_flusher_failed", error = %e);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cause() -> Folded {
        Folded::detached("e", "k", Level::Warn)
    }

    #[test]
    fn the_first_event_is_logged_at_once_and_a_burst_is_one_line_per_interval() {
        let f = cause();
        assert_eq!(
            f.hit_at(100),
            Some(Repeats {
                count: 0,
                window: Duration::ZERO
            })
        );
        let mut lines = 0;
        let mut folded = 0;
        // 1,000 events over 3 s.
        for i in 0..1000u64 {
            if let Some(r) = f.hit_at(100 + i * 3) {
                lines += 1;
                folded += r.count;
            }
        }
        // Lines at 1 s, then 2 s later (the interval doubled), then 4 s: two within 3 s.
        assert!(lines <= 2, "{lines}");
        let tail = f.flush_at(100 + 20_000).map_or(0, |r| r.count);
        assert_eq!(
            1 + lines + folded + tail,
            1001,
            "every event is accounted for"
        );
    }

    #[test]
    fn the_interval_doubles_to_the_cap_and_starts_over_after_a_quiet_one() {
        let f = cause();
        let mut t = 0;
        f.hit_at(t);
        let mut gaps = Vec::new();
        let mut prev = t;
        while t < 60_000 {
            t += 10;
            if f.hit_at(t).is_some() {
                gaps.push(t - prev);
                prev = t;
            }
        }
        assert_eq!(&gaps[..5], &[1000, 2000, 4000, 8000, 10_000]);
        assert!(gaps.iter().all(|g| *g <= 10_000));
        // Quiet for longer than the interval: the next line folds nothing and the next
        // interval is the first one again.
        let r = f.hit_at(t + 30_000).unwrap();
        let folded_before = r.count;
        assert!(folded_before > 0, "the events since the last line");
        assert_eq!(f.hit_at(t + 90_000).unwrap().count, 0);
        assert!(f.hit_at(t + 90_500).is_none());
        assert!(f.hit_at(t + 91_000).is_some());
    }

    #[test]
    fn flush_writes_the_tail_of_a_burst_once_and_only_after_the_interval() {
        let f = cause();
        f.hit_at(0);
        for t in 1..=5 {
            assert!(f.hit_at(t).is_none());
        }
        assert_eq!(f.flush_at(500), None, "interval not over");
        let r = f.flush_at(1000).unwrap();
        assert_eq!((r.count, r.window), (5, Duration::from_secs(1)));
        assert_eq!(f.flush_at(60_000), None, "nothing left");
    }

    #[test]
    fn registered_causes_are_flushed_by_the_thread() {
        let f = Folded::new("fold_test", "k=v", Level::Info);
        assert!(f.hit().is_some());
        assert!(f.hit().is_none());
        let deadline = Instant::now() + Duration::from_secs(10);
        while f.pending.load(Relaxed) != 0 {
            assert!(Instant::now() < deadline, "the flusher never ran");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
