//! List filtering: one 1,000-item JSON list (items of several fields, about 10% of them not
//! filed) decided against a 1M-id index and spliced, as a filter route does per response.
//!
//! Owns only measurement: the index is generated with `icpgate::generate` and loaded like a
//! snapshot file; the list is built once, outside the timed loop. A peer reads the same body in
//! the same run: serde_json checking it without building values (`IgnoredAny`), the floor of a
//! validating reader in Rust; `benches/lists_peers.sh` adds simdjson (C++) on the body this
//! bench writes to `$ICPGATE_LISTS_BODY_OUT`.
//! Must not: time index or list construction (`decide-only` times the decisions and the
//! splice alone, on a list located before the timed loop).
//! Invariant: the benchmarked list has exactly the unfiled items it was built with (checked
//! before timing).

use criterion::{Criterion, Throughput};
use icpgate::config::{ItemPlatform, ListSpec, PlatformSpec, RouteConfig};
use icpgate::filing::{Platform, Status};
use icpgate::generate;
use icpgate::index::parse_snapshot;
use icpgate::lists;
use std::hint::black_box;

const SEED: u64 = 22;
const IDS: u64 = 1_000_000;
const ITEMS: usize = 1_000;

/// The NDJSON of records `0..n`.
fn snapshot(n: u64) -> Vec<u8> {
    let mut out = Vec::new();
    generate::generate_range(SEED, 0..n, &mut out).unwrap();
    out
}

/// Records listing about `IDS` ids, measured on a prefix.
fn records_for_ids() -> u64 {
    let probe = 20_000u64;
    let ids: u64 = (0..probe)
        .map(|i| {
            generate::record(SEED, i)
                .platforms
                .iter()
                .map(|p| p.ids.len() as u64)
                .sum::<u64>()
        })
        .sum();
    IDS * probe / ids.max(1)
}

/// A store search answer: `ITEMS` apps, every tenth one not filed.
fn list(records: u64) -> (Vec<u8>, usize) {
    let mut filed = (0..records).filter_map(|i| {
        let r = generate::record(SEED, i * 7919 % records);
        (r.status == Status::Active).then_some(())?;
        r.platforms
            .iter()
            .find(|p| p.platform == Platform::Android)
            .map(|p| p.ids[0].clone())
    });
    let mut items = Vec::with_capacity(ITEMS);
    let mut unfiled = 0;
    for i in 0..ITEMS {
        let id = if i % 10 == 9 {
            unfiled += 1;
            format!("com.unfiled.vendor{i}.app")
        } else {
            filed.next().expect("enough android records")
        };
        items.push(format!(
            r#"{{"package":"{id}","name":"应用 {i}","version":"3.{i}.1","size":{},"icon":"https://cdn.example.com/icons/{i:05}.png","rating":4.{},"downloads":{},"tags":["tools","效率"]}}"#,
            10_000_000 + i * 7919,
            i % 10,
            i * 1013
        ));
    }
    let body = format!(
        r#"{{"total":{ITEMS},"page":1,"results":[{}],"next":"cursor-2"}}"#,
        items.join(",")
    );
    (body.into_bytes(), unfiled)
}

fn main() {
    let records = records_for_ids();
    let (rev, report) = parse_snapshot(&snapshot(records), 1, "bench", true);
    assert_eq!(report.rejected, 0);
    let ids = rev.stats.ids;
    let (body, unfiled) = list(records);
    eprintln!(
        "lists bench: {records} records, {ids} ids; list of {ITEMS} items, {} bytes, {unfiled} unfiled",
        body.len()
    );
    let route = RouteConfig::new("bench", PlatformSpec::Fixed(Platform::Android), vec![]);
    let spec = ListSpec {
        pointer: vec!["results".into()],
        id: vec!["package".into()],
        platform: ItemPlatform::Fixed(Platform::Android),
    };
    let d = lists::decide(&route, &spec, &body, &rev, false).unwrap();
    assert_eq!((d.items, d.total), (ITEMS, unfiled));
    if let Some(path) = std::env::var_os("ICPGATE_LISTS_BODY_OUT") {
        std::fs::write(&path, &body).expect("ICPGATE_LISTS_BODY_OUT is writable");
    }
    let mut c = Criterion::default().configure_from_args();
    let mut g = c.benchmark_group("lists");
    g.throughput(Throughput::Elements(ITEMS as u64));
    g.bench_function("filter-1000-items-1M-ids", |b| {
        b.iter(|| lists::decide(&route, &spec, black_box(&body), &rev, false))
    });
    g.bench_function("decide-only-1000-items", |b| {
        let text = std::str::from_utf8(&body).unwrap();
        let p = lists::scan::Pointers {
            list: &spec.pointer,
            id: &spec.id,
            platform: None,
        };
        let located = lists::scan::locate_text(text, &p).unwrap();
        b.iter(|| lists::decide_located(&route, &spec, black_box(text), &located, &rev, false))
    });
    g.bench_function("scan-only-1000-items", |b| {
        let p = lists::scan::Pointers {
            list: &spec.pointer,
            id: &spec.id,
            platform: None,
        };
        b.iter(|| lists::scan::locate(black_box(&body), &p))
    });
    g.bench_function("peer-serde-json-validate", |b| {
        b.iter(|| serde_json::from_slice::<serde::de::IgnoredAny>(black_box(&body)).unwrap())
    });
    g.finish();
    c.final_summary();
}
