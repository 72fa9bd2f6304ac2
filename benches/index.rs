//! Index benchmarks: lookup latency at 10k, 1M and 10M ids, with and without the bloom
//! pre-filter, for filed and unknown ids; plus a load report (snapshot parse + build time,
//! process RSS after build, where the memory goes) printed for each size before its lookups.
//!
//! Owns only measurement: every revision is built through the public snapshot path
//! (`parse_snapshot` over NDJSON from `icpgate::generate`), exactly as the gateway loads a file.
//! Must not: time anything but the operation named (generation and query preparation happen
//! outside the timed loops).
//! Invariant: every filed query hits and every unknown query misses (checked before timing).
//!
//! Environment:
//! - `ICPGATE_BENCH_SIZES=10k,1m,10m` (default): index sizes in ids (k = 1e3, m = 1e6).
//! - `ICPGATE_BENCH_FLOOR=0`: skip `floor/dependent-random-read/{4MiB,16MiB,256MiB,1GiB}`, the
//!   machine's latency for one dependent random read in that much memory on huge pages (1 GiB:
//!   the cold-lookup floor at 10M ids, measured in the same run).
//! - `ICPGATE_BENCH_BLOOM=0`: build and measure only the revision without the bloom filter.
//! - `ICPGATE_BENCH_REPORT=0`: skip the load/memory report. `ICPGATE_BENCH_REPORT=only`: print
//!   the report and skip criterion (run one size alone for a clean RSS figure).
//!
//! Run: `cargo bench --bench index` (add `-- --quick` for a short run).

use criterion::{BenchmarkId, Criterion};
use icpgate::filing::Platform;
use icpgate::generate;
use icpgate::index::{parse_snapshot, Revision};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::hint::black_box;
use std::time::{Duration, Instant};

const SEED: u64 = 42;
/// Queries per kind: one per id up to 2^21, a power of two. Each query touches two or three cache
/// lines (table bucket, record), so at 10M ids the queries' working set (~300 MiB) exceeds this
/// machine's L3: lookups pay the DRAM misses a gateway with many distinct apps
/// pays. A small set (a few thousand) would stay cache-resident and flatter every variant.
fn query_count(ids: u64) -> usize {
    (ids as usize).next_power_of_two().clamp(4096, 1 << 21)
}

fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim().to_ascii_lowercase();
    let (num, mult) = match s.strip_suffix('m') {
        Some(n) => (n, 1_000_000),
        None => match s.strip_suffix('k') {
            Some(n) => (n, 1_000),
            None => (s.as_str(), 1),
        },
    };
    num.parse::<u64>().ok().map(|n| n * mult)
}

fn sizes() -> Vec<(String, u64)> {
    let spec = std::env::var("ICPGATE_BENCH_SIZES").unwrap_or_else(|_| "10k,1m,10m".into());
    spec.split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| {
            (
                s.trim().to_string(),
                parse_size(s).unwrap_or_else(|| panic!("bad size {s:?}")),
            )
        })
        .collect()
}

fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Anonymous memory backed by transparent huge pages (the index arena and tables ask for them).
fn huge_mib() -> f64 {
    let rollup = std::fs::read_to_string("/proc/self/smaps_rollup").unwrap_or_default();
    rollup
        .lines()
        .find_map(|l| l.strip_prefix("AnonHugePages:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

fn rss_mib() -> f64 {
    status_kib("VmRSS:") as f64 / 1024.0
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// How many records list about `ids` ids (measured on a prefix; the report prints the real count).
fn records_for(ids: u64) -> u64 {
    let probe = 20_000.min(ids);
    let listed: u64 = (0..probe)
        .map(|i| {
            generate::record(SEED, i)
                .platforms
                .iter()
                .map(|p| p.ids.len() as u64)
                .sum::<u64>()
        })
        .sum();
    (ids as f64 * probe as f64 / listed.max(1) as f64).ceil() as u64
}

/// The NDJSON snapshot of records `0..n`, generated on every core.
fn snapshot_text(n: u64) -> Vec<u8> {
    let threads = std::thread::available_parallelism().map_or(1, |t| t.get()) as u64;
    let chunks: Vec<Vec<u8>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    let mut out = Vec::new();
                    generate::generate_range(
                        SEED,
                        n * t / threads..n * (t + 1) / threads,
                        &mut out,
                    )
                    .unwrap();
                    out
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut chunks = chunks.into_iter();
    let mut text = chunks.next().unwrap_or_default();
    for c in chunks {
        text.extend_from_slice(&c);
    }
    text
}

struct Built {
    rev: Revision,
    records: u64,
    text_bytes: usize,
    gen: Duration,
    load: Duration,
}

/// Generates the snapshot for `ids`, parses it into a revision and drops the text.
fn build(ids: u64, bloom: bool) -> Built {
    let records = records_for(ids);
    let t = Instant::now();
    let text = snapshot_text(records);
    let gen = t.elapsed();
    let t = Instant::now();
    let (rev, report) = parse_snapshot(&text, 1, "bench", bloom);
    let load = t.elapsed();
    assert_eq!(report.rejected, 0, "{:?}", report.rejected_lines.first());
    Built {
        rev,
        records,
        text_bytes: text.len(),
        gen,
        load,
    }
}

struct Queries {
    filed: Vec<(Platform, String)>,
    unknown: Vec<(Platform, String)>,
    /// Filed ids drawn Zipf(1)-skewed over the records (the record of popularity rank r is
    /// asked with probability ∝ 1/r, ranks scattered over the arena): what a store's traffic
    /// looks like, where a few apps take most requests.
    skewed: Vec<(Platform, String)>,
}

/// The record index of a Zipf(1)-distributed popularity rank among `records`: rank `n^u - 1`
/// for uniform `u` has density ∝ 1/rank; ranks are scattered over the records by a mix.
fn zipf_record(rng: &mut ChaCha8Rng, records: u64) -> u64 {
    let rank = (records as f64).powf(rng.gen::<f64>()) as u64 - 1;
    let mut z = rank.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (z ^ (z >> 31)) % records
}

fn random_id(rng: &mut ChaCha8Rng, i: u64) -> (Platform, String) {
    let r = generate::record(SEED, i);
    let p = &r.platforms[rng.gen_range(0..r.platforms.len())];
    (p.platform, p.ids[rng.gen_range(0..p.ids.len())].clone())
}

/// `n` random filed ids of records `0..records`, and as many unknown ids on the same platforms,
/// built on every core.
fn queries(records: u64, n: usize) -> Queries {
    let threads = std::thread::available_parallelism().map_or(1, |t| t.get());
    let parts: Vec<Queries> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    let mut rng = ChaCha8Rng::seed_from_u64(7 + t as u64);
                    let range = n * t / threads..n * (t + 1) / threads;
                    let mut q = Queries {
                        filed: Vec::with_capacity(range.len()),
                        unknown: Vec::with_capacity(range.len()),
                        skewed: Vec::with_capacity(range.len()),
                    };
                    for k in range {
                        let i = rng.gen_range(0..records);
                        let (p, id) = random_id(&mut rng, i);
                        q.filed.push((p, id));
                        q.unknown.push((p, generate::unknown_id(SEED, k as u64, p)));
                        let popular = zipf_record(&mut rng, records);
                        q.skewed.push(random_id(&mut rng, popular));
                    }
                    q
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut q = Queries {
        filed: Vec::with_capacity(n),
        unknown: Vec::with_capacity(n),
        skewed: Vec::with_capacity(n),
    };
    for p in parts {
        q.filed.extend(p.filed);
        q.unknown.extend(p.unknown);
        q.skewed.extend(p.skewed);
    }
    q
}

/// Query ids back to back in one buffer, in query order: a gateway looks up an id it has just
/// read from the request (in cache), so the timed loop must not pay a cache miss fetching each
/// id from a scattered heap allocation. Sequential spans are what the prefetcher follows.
struct Packed {
    text: String,
    spans: Vec<(Platform, u32, u32)>,
}

impl Packed {
    fn new(q: &[(Platform, String)]) -> Packed {
        let mut text = String::with_capacity(q.iter().map(|(_, id)| id.len()).sum());
        let spans = q
            .iter()
            .map(|(p, id)| {
                let at = text.len() as u32;
                text.push_str(id);
                (*p, at, id.len() as u32)
            })
            .collect();
        Packed { text, spans }
    }

    #[inline]
    fn get(&self, k: usize) -> (Platform, &str) {
        let (p, at, len) = self.spans[k];
        (p, &self.text[at as usize..(at + len) as usize])
    }
}

fn check(rev: &Revision, q: &Queries) {
    assert!(
        q.filed
            .iter()
            .chain(&q.skewed)
            .all(|(p, id)| !rev.lookup(*p, id).is_empty()),
        "a filed id missed"
    );
    assert!(
        q.unknown
            .iter()
            .all(|(p, id)| rev.lookup(*p, id).is_empty()),
        "an unknown id hit"
    );
}

fn report_header() {
    println!(
        "== index load report (seed {SEED}, {} cores)",
        std::thread::available_parallelism().map_or(1, |t| t.get())
    );
    println!(
        "{:>6} {:>10} {:>10} {:>9} {:>8} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}",
        "size",
        "records",
        "ids",
        "text MiB",
        "gen s",
        "load s",
        "load+b s",
        "store MiB",
        "entities",
        "RSS MiB",
        "+bloom MiB"
    );
}

/// One report row. `base`, `rss_plain` and `rss_both` are VmRSS before the builds, after the
/// plain revision was built (its text dropped) and after the bloom one was too.
fn report_row(
    label: &str,
    plain: &Built,
    bloom: Option<&Built>,
    base: f64,
    rss_plain: f64,
    rss_both: f64,
) {
    let s = &plain.rev.stats;
    println!(
        "{:>6} {:>10} {:>10} {:>9.0} {:>8.2} {:>10.2} {:>10.2} {:>10.1} {:>10} {:>10.0} {:>10.0}",
        label,
        plain.records,
        s.ids,
        mib(plain.text_bytes as u64),
        plain.gen.as_secs_f64(),
        plain.load.as_secs_f64(),
        bloom.map_or(f64::NAN, |b| b.load.as_secs_f64()),
        mib(s.store_bytes),
        s.entities,
        rss_plain,
        rss_both - rss_plain,
    );
    if s.ids >= 500_000 {
        let filter = bloom.map_or(f64::NAN, |b| mib(b.rev.stats.filter_bytes));
        println!(
            "       revision +{:.0} MiB RSS ({:.0} → {:.0}): store {:.0} MiB, id table + number index {:.0} MiB ({} ids), \
             entity arena {:.0} MiB ({} names), record offsets {:.0} MiB, bloom pre-filter {:.1} MiB; \
             peak RSS {:.0} MiB; on huge pages {:.0} MiB",
            rss_plain - base,
            base,
            rss_plain,
            mib(s.store_bytes),
            mib(s.map_bytes),
            s.ids,
            mib(s.entity_bytes),
            s.entities,
            mib(s.records * 4),
            filter,
            status_kib("VmHWM:") as f64 / 1024.0,
            huge_mib(),
        );
    }
}

fn lookups(c: &mut Criterion, label: &str, plain: &Built, bloom: Option<&Built>) {
    let n = query_count(plain.rev.stats.ids);
    let mask = n - 1;
    let q = queries(plain.records, n);
    check(&plain.rev, &q);
    let (filed, unknown, skewed) = (
        Packed::new(&q.filed),
        Packed::new(&q.unknown),
        Packed::new(&q.skewed),
    );
    if let Some(b) = bloom {
        check(&b.rev, &q);
    }
    drop(q);
    let mut g = c.benchmark_group(format!("lookup/{label}"));
    let revs = std::iter::once(("no-bloom", &plain.rev)).chain(bloom.map(|b| ("bloom", &b.rev)));
    for (name, rev) in revs {
        let kinds = [
            ("filed", &filed),
            ("unknown", &unknown),
            ("filed-zipf", &skewed),
        ];
        for (kind, qs) in kinds {
            g.bench_function(BenchmarkId::new(kind, name), |b| {
                let mut k = 0;
                b.iter(|| {
                    let (p, id) = qs.get(k & mask);
                    k += 1;
                    rev.lookup(p, black_box(id))
                })
            });
        }
        // What the policy does for an id that misses: also ask the sibling platforms (so it can
        // say platform_not_filed), 3 more lookups for apps, 5 for mini programs.
        g.bench_function(BenchmarkId::new("unknown+elsewhere", name), |b| {
            let mut k = 0;
            b.iter(|| {
                let (p, id) = unknown.get(k & mask);
                k += 1;
                (rev.lookup(p, black_box(id)), rev.filed_elsewhere(p, id))
            })
        });
    }
    g.finish();
}

/// The machine's floor for a cache-cold lookup: one dependent random read (a pointer chase
/// through a random cycle) in a region of about the index's size, on 2 MiB pages as the index
/// asks for. A lookup that must read k unrelated cache lines cannot beat k times this. The
/// smaller regions show where the cost starts: past what the TLB and caches cover, each
/// dependent read pays a page walk (on a VM, a nested one) and then DRAM.
fn floor(c: &mut Criterion) {
    let mut g = c.benchmark_group("floor/dependent-random-read");
    for (mib, label) in [
        (4usize, "4MiB"),
        (16, "16MiB"),
        (256, "256MiB"),
        (1024, "1GiB"),
    ] {
        let slots = mib << 17; // u64 slots in `mib` MiB
        let Ok(mut map) = memmap2::MmapMut::map_anon(slots * 8) else {
            continue;
        };
        let _ = map.advise(memmap2::Advice::HugePage);
        let a: &mut [u64] = bytemuck::cast_slice_mut(&mut map[..]);
        // One cycle through every 8th slot (one per cache line), in random order.
        let lines = slots / 8;
        let mut order: Vec<u32> = (0..lines as u32).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for i in (1..order.len()).rev() {
            order.swap(i, rng.gen_range(0..=i));
        }
        for w in 0..lines {
            a[order[w] as usize * 8] = order[(w + 1) % lines] as u64 * 8;
        }
        drop(order);
        let a: &[u64] = a;
        let mut p = 0usize;
        g.bench_function(label, |b| {
            b.iter(|| {
                p = a[p] as usize;
                p
            })
        });
    }
    g.finish();
}

fn main() {
    let mode = std::env::var("ICPGATE_BENCH_REPORT").unwrap_or_default();
    let mut c = (mode != "only").then(|| Criterion::default().configure_from_args());
    if mode != "0" {
        report_header();
    }
    let with_bloom = std::env::var("ICPGATE_BENCH_BLOOM").as_deref() != Ok("0");
    for (label, ids) in sizes() {
        let base = rss_mib();
        let plain = build(ids, false);
        let rss_plain = rss_mib();
        let bloom = with_bloom.then(|| build(ids, true));
        let rss_both = rss_mib();
        if mode != "0" {
            report_row(&label, &plain, bloom.as_ref(), base, rss_plain, rss_both);
        }
        if let Some(c) = c.as_mut() {
            lookups(c, &label, &plain, bloom.as_ref());
        }
    }
    if let Some(mut c) = c {
        if std::env::var("ICPGATE_BENCH_FLOOR").as_deref() != Ok("0") {
            floor(&mut c);
        }
        c.final_summary();
    }
}
