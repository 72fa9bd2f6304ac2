//! The console's recent decisions: a bounded in-memory ring of the last N block and monitor
//! audit records, fed by the request pipeline (`proxy/pipeline.rs`) on every worker thread and
//! read by the console pages.
//!
//! Owns the ring and its one lock. A record enters by move (the pipeline's own audit record,
//! once the answer is built), so keeping it costs a block one short lock and one `Arc`; the
//! record it evicts is dropped after the lock is released. An allowed request has no audit
//! record and never reaches the lock.
//! Must not: allocate, format or drop a record while holding the lock, or import the proxy.
//! Invariant: the ring holds at most `capacity` records, each a block or a monitor decision; a
//! ring of capacity 0 holds no state at all.

use crate::audit::AuditRecord;
use crate::policy::Outcome;
use std::sync::{Arc, Mutex, PoisonError};

/// A handle on the ring; cheap to clone, shared by every worker and the admin listener.
#[derive(Clone, Default)]
pub struct Recent(Option<Arc<Inner>>);

struct Inner {
    slots: Mutex<Slots>,
    capacity: usize,
}

struct Slots {
    /// `capacity` slots, filled in order and then overwritten oldest first.
    buf: Vec<Option<Arc<AuditRecord>>>,
    /// The slot the next record goes into.
    next: usize,
    /// Records kept since start (the ring's own count, shown on the page).
    total: u64,
}

impl Recent {
    /// A ring of `capacity` records; 0 keeps none.
    pub fn new(capacity: usize) -> Recent {
        if capacity == 0 {
            return Recent(None);
        }
        Recent(Some(Arc::new(Inner {
            slots: Mutex::new(Slots {
                buf: vec![None; capacity],
                next: 0,
                total: 0,
            }),
            capacity,
        })))
    }

    /// How many records the ring holds at most (0: off).
    pub fn capacity(&self) -> usize {
        self.0.as_ref().map_or(0, |i| i.capacity)
    }

    /// Keeps `rec` if it records a block or a monitor decision.
    #[inline]
    pub fn keep(&self, rec: Option<AuditRecord>) {
        if let (Some(inner), Some(rec)) = (&self.0, rec) {
            if rec.decision == Outcome::Block.as_str() || rec.decision == Outcome::Monitor.as_str()
            {
                inner.push(Arc::new(rec));
            }
        }
    }

    /// The records held, newest first, and how many were kept since start.
    pub fn list(&self) -> (Vec<Arc<AuditRecord>>, u64) {
        let Some(inner) = &self.0 else {
            return (Vec::new(), 0);
        };
        let mut out = Vec::with_capacity(inner.capacity);
        let total = {
            let s = inner.slots.lock().unwrap_or_else(PoisonError::into_inner);
            let (older, newer) = s.buf.split_at(s.next);
            out.extend(newer.iter().chain(older).flatten().cloned());
            s.total
        };
        out.reverse();
        (out, total)
    }

    /// The held record with this decision id.
    pub fn find(&self, decision_id: &str) -> Option<Arc<AuditRecord>> {
        let (all, _) = self.list();
        all.into_iter().find(|r| r.decision_id == decision_id)
    }
}

impl Inner {
    fn push(&self, rec: Arc<AuditRecord>) {
        let evicted = {
            let mut s = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
            let at = s.next;
            s.next = (at + 1) % self.capacity;
            s.total += 1;
            s.buf[at].replace(rec)
        };
        drop(evicted);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::client::ClientAddr;

    pub(crate) fn record(decision: &'static str, id: &str) -> AuditRecord {
        AuditRecord {
            decision_id: format!("d-{id}"),
            request_id: "r".into(),
            time: "2026-01-01T00:00:00Z".into(),
            last_time: None,
            listener: "public".into(),
            route: "apps".into(),
            method: "GET".into(),
            path: format!("/apps/{id}"),
            platform: Some("android"),
            identifier: Some(id.into()),
            filings: Vec::new(),
            decision,
            reason: "not_filed",
            index_revision: 1,
            client: ClientAddr::from(std::net::SocketAddr::from(([127, 0, 0, 1], 1))),
            count: 1,
            package: None,
            list: None,
        }
    }

    #[test]
    fn keeps_the_last_capacity_blocks_and_monitors_newest_first() {
        let r = Recent::new(3);
        for (i, d) in ["block", "allow", "monitor", "pass", "block", "block"]
            .into_iter()
            .enumerate()
        {
            r.keep(Some(record(d, &format!("a{i}"))));
        }
        let (held, total) = r.list();
        let ids: Vec<&str> = held.iter().map(|r| r.decision_id.as_str()).collect();
        assert_eq!(ids, ["d-a5", "d-a4", "d-a2"], "allow and pass are not kept");
        assert_eq!(total, 4);
        assert!(r.find("d-a4").is_some());
        assert!(r.find("d-a0").is_none(), "evicted");
    }

    #[test]
    fn a_ring_of_zero_keeps_nothing() {
        let r = Recent::new(0);
        r.keep(Some(record("block", "x")));
        assert_eq!(r.list().1, 0);
        assert_eq!(r.capacity(), 0);
    }

    #[test]
    fn workers_on_several_threads_share_one_ring() {
        let r = Recent::new(100);
        std::thread::scope(|s| {
            for t in 0..4 {
                let r = r.clone();
                s.spawn(move || {
                    for i in 0..50 {
                        r.keep(Some(record("block", &format!("{t}-{i}"))));
                    }
                });
            }
        });
        let (held, total) = r.list();
        assert_eq!((held.len(), total), (100, 200));
    }
}
