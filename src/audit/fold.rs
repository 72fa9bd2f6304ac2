//! Folding of identical audit records: a flood of one blocked request writes one record per
//! window with a count, not one line per request.
//!
//! Owns the fold table: records are identical when listener, client address (without its
//! port), route, platform, identifier, decision and reason are equal. The first such record
//! is held; each later one within the window adds to its `count` and sets its `last_time`.
//! Upload records (which describe a package) and list records (which name removed items) are
//! never folded.
//! Must not: hold more than `cap` records, or hold any record past the window that began with
//! the first record of the table.
//! Invariant: every record given to `add` comes back exactly once, from `add` or `drain`, or
//! is counted into a held record's `count`.

use super::AuditRecord;
use std::collections::HashMap;
use std::time::{Duration, Instant};

pub(super) struct Folder {
    window: Duration,
    cap: usize,
    hasher: ahash::RandomState,
    /// Fold key hash → position in `held`.
    index: HashMap<u64, usize>,
    held: Vec<AuditRecord>,
    /// When the held records are due: the first one's arrival plus the window.
    closes: Option<Instant>,
}

/// What `add` did with a record.
pub(super) enum Added {
    /// Counted into an identical held record.
    Folded,
    /// Held as the first of its kind in this window.
    Held,
    /// Not foldable (folding off, an upload record): to be written now.
    Write(Box<AuditRecord>),
    /// The table is full: to be written now, unfolded.
    Overflow(Box<AuditRecord>),
}

/// Same decision about the same thing from the same client.
fn same(a: &AuditRecord, b: &AuditRecord) -> bool {
    a.client.ip == b.client.ip
        && a.route == b.route
        && a.identifier == b.identifier
        && a.decision == b.decision
        && a.reason == b.reason
        && a.platform == b.platform
        && a.listener == b.listener
}

impl Folder {
    /// `window` zero turns folding off.
    pub(super) fn new(window: Duration, cap: usize) -> Folder {
        Folder {
            window,
            cap,
            hasher: ahash::RandomState::new(),
            index: HashMap::new(),
            held: Vec::new(),
            closes: None,
        }
    }

    /// When `drain` is due; `None` while nothing is held.
    pub(super) fn closes_at(&self) -> Option<Instant> {
        self.closes
    }

    pub(super) fn add(&mut self, r: Box<AuditRecord>, now: Instant) -> Added {
        if self.window.is_zero() || r.package.is_some() || r.list.is_some() {
            return Added::Write(r);
        }
        let key = self.hasher.hash_one((
            &r.listener,
            r.client.ip,
            &r.route,
            r.platform,
            &r.identifier,
            r.decision,
            r.reason,
        ));
        if let Some(&at) = self.index.get(&key) {
            let h = &mut self.held[at];
            // A hash collision between different records: the newcomer is written on its own.
            if !same(h, &r) {
                return Added::Write(r);
            }
            h.count += r.count;
            h.last_time = Some(r.time);
            return Added::Folded;
        }
        if self.held.len() >= self.cap {
            return Added::Overflow(r);
        }
        if self.held.is_empty() {
            self.closes = Some(now + self.window);
        }
        self.index.insert(key, self.held.len());
        self.held.push(*r);
        Added::Held
    }

    /// Every held record, in the order each first arrived; the table starts empty again.
    pub(super) fn drain(&mut self) -> std::vec::Drain<'_, AuditRecord> {
        self.closes = None;
        self.index.clear();
        self.held.drain(..)
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::rec;
    use super::*;

    #[test]
    fn identical_records_fold_and_different_ones_do_not() {
        let mut f = Folder::new(Duration::from_secs(1), 10);
        let t = Instant::now();
        assert!(matches!(f.add(Box::new(rec(0)), t), Added::Held));
        assert_eq!(f.closes_at(), Some(t + Duration::from_secs(1)));
        for i in 1..1000 {
            let mut r = rec(i);
            r.time = format!("t{i}");
            // Another connection of the same client: the port does not matter.
            r.client.port = Some(1000 + i as u16);
            assert!(matches!(f.add(Box::new(r), t), Added::Folded));
        }
        let mut other = rec(1000);
        other.identifier = Some("com.other".into());
        assert!(matches!(f.add(Box::new(other), t), Added::Held));
        let mut upload = rec(1001);
        upload.package = Some(crate::audit::PackageAudit {
            kind: "apk",
            id: "com.a.b".into(),
            version_code: None,
            version_name: None,
            signers: vec![],
            bytes: 1,
        });
        assert!(matches!(f.add(Box::new(upload), t), Added::Write(_)));
        let out: Vec<AuditRecord> = f.drain().collect();
        assert_eq!(out.len(), 2);
        assert_eq!((out[0].count, out[0].decision_id.as_str()), (1000, "d0"));
        assert_eq!(out[0].last_time.as_deref(), Some("t999"));
        assert_eq!((out[1].count, out[1].last_time.as_deref()), (1, None));
        assert_eq!(f.closes_at(), None);
    }

    #[test]
    fn past_the_cap_records_are_written_unfolded() {
        let mut f = Folder::new(Duration::from_secs(1), 2);
        let t = Instant::now();
        let with_id = |i: usize| {
            let mut r = rec(i);
            r.identifier = Some(format!("com.a{i}"));
            Box::new(r)
        };
        assert!(matches!(f.add(with_id(0), t), Added::Held));
        assert!(matches!(f.add(with_id(1), t), Added::Held));
        assert!(matches!(f.add(with_id(2), t), Added::Overflow(_)));
        // A key already held still folds.
        assert!(matches!(f.add(with_id(1), t), Added::Folded));
        assert_eq!(f.drain().len(), 2);
    }

    #[test]
    fn a_zero_window_folds_nothing() {
        let mut f = Folder::new(Duration::ZERO, 10);
        let t = Instant::now();
        assert!(matches!(f.add(Box::new(rec(0)), t), Added::Write(_)));
        assert!(matches!(f.add(Box::new(rec(0)), t), Added::Write(_)));
        assert_eq!(f.closes_at(), None);
    }
}
