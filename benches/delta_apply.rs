//! Where a large delta's apply time goes (`cargo bench --bench delta_apply`): a 10M-id base
//! built in memory, then a 100k-change delta (status flips, as `feed_sync` publishes)
//! parsed and applied the way the sync loop does, each phase timed, best of 3.
//!
//! Env: `ICPGATE_FEED_RECORDS` (default 7,040,000 filings ≈ 10M ids),
//! `ICPGATE_DELTA_CHANGES` (default 100,000). No network, no load: `feed_sync` measures the
//! apply under load; this one says which part of it costs what.

use icpgate::feed::delta::parse_delta;
use icpgate::feed::format::delta_line;
use icpgate::filing::Status;
use icpgate::index::{parse_snapshot, Change};
use std::time::{Duration, Instant, SystemTime};

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let n = env("ICPGATE_FEED_RECORDS", 7_040_000);
    let changes = env("ICPGATE_DELTA_CHANGES", 100_000) as usize;
    let mut text = Vec::new();
    icpgate::generate::generate(n, 1, &mut text).unwrap();
    let t = Instant::now();
    let (base, _) = parse_snapshot(&text, 1, "bench", false);
    println!(
        "base: {} records, {} ids, built in {:.2}s",
        base.stats.records,
        base.stats.ids,
        t.elapsed().as_secs_f64()
    );
    drop(text);
    let step = (n as usize / changes.max(1)).max(1);
    let delta: String = (0..n)
        .step_by(step)
        .take(changes)
        .map(|i| {
            let mut r = icpgate::generate::record(1, i);
            r.status = if r.status == Status::Active {
                Status::Revoked
            } else {
                Status::Active
            };
            delta_line(&Change::Upsert(r)) + "\n"
        })
        .collect();
    println!("delta: {changes} upserts, {} MiB", delta.len() >> 20);
    let (mut parse, mut apply) = (Duration::MAX, Duration::MAX);
    for _ in 0..3 {
        let t = Instant::now();
        let parsed = parse_delta("delta", delta.as_bytes()).unwrap();
        let p = t.elapsed();
        let next = base
            .apply_digested(2, &parsed.changes, &parsed.digests, SystemTime::now())
            .unwrap();
        let a = t.elapsed() - p;
        assert_eq!(next.stats.records, base.stats.records);
        (parse, apply) = (parse.min(p), apply.min(a));
    }
    println!(
        "best of 3: parse {:.0} ms, apply (lookups, checksum, overlay build) {:.0} ms",
        parse.as_secs_f64() * 1e3,
        apply.as_secs_f64() * 1e3,
    );
}
