//! Deterministic synthetic registry exports, for benchmarks, tests and the bundled sample
//! registry (`config/sample-registry.ndjson`).
//!
//! Owns: [`record`], the i-th synthetic filing as a pure function of `(seed, i)`, so a bench or a
//! test can know which ids are filed without storing them; [`generate`], which writes records
//! `0..n` as NDJSON snapshot lines; and [`unknown_id`], well-formed ids no record ever lists.
//! Must not: read the clock, the environment or any other state (the same `(records, seed)` gives
//! byte-identical output on every machine), or write a line `parse_line` rejects.
//! Invariant: for `i != j` below [`MAX_RECORDS`], records `i` and `j` have different filing
//! numbers and list different ids on every platform (iOS compared case-folded), except on
//! purpose: about 1% of android packages are listed by two filings of different entities with
//! different signers. `unknown_id` draws from indices at or above `MAX_RECORDS` of the same
//! injective id functions, so it never meets a generated id.
//!
//! How uniqueness is kept without memory: every id embeds an injective function of the record
//! index (a base-36 tag or a digit block from a keyed permutation of the index, or a bijective
//! 64-bit mix), and every filing number is the entity's subject number, itself an injective function
//! of the entity index, plus a sequence number strictly increasing within the entity. Entities
//! own consecutive records (groups of six records are partitioned into one to three entities,
//! about three filings each), so no table is needed to find a record's entity.
//!
//! Shape (domain.md §1, §2, §4, §5): ~55% app filings (android + ios mostly, some harmony;
//! android MD5 signers, sometimes with SHA-256 or two signers, ios SHA-1, harmony SHA-256),
//! ~40% mini programs (one host each: wechat, alipay, douyin, baidu, qq, kuaishou, no signers),
//! ~5% quick apps; subject numbers in all four forms across all 34 province abbreviations; ~90%
//! active, the rest cancelled, revoked or restricted; `updated` between 2023-09 and 2026-04.

use crate::filing::{
    FilingNumber, FilingRecord, Platform, PlatformFiling, ServiceKind, Signer, Status,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::io::{self, Write};

/// The largest `records` [`generate`] accepts. Ids of indices `MAX_RECORDS..2 * MAX_RECORDS`
/// are reserved for [`unknown_id`]; every id function is injective up to `2 * MAX_RECORDS`.
pub const MAX_RECORDS: u64 = 50_000_000;

/// What [`generate`] wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GenerateSummary {
    pub records: u64,
    /// Ids listed, over all platforms (a shared package counts once per filing).
    pub ids: u64,
    /// Ids listed, by `Platform as usize`.
    pub ids_by: [u64; 10],
    /// Records by `Status as usize`.
    pub records_by_status: [u64; 4],
    /// Filings whose android package another filing (of another entity) also lists.
    pub shared_android: u64,
    /// Bytes written, newlines included.
    pub bytes: u64,
}

/// Writes records `0..records` of `seed` to `out`, one NDJSON snapshot line each.
///
/// Fails when `records > MAX_RECORDS` (InvalidInput) or when `out` fails.
pub fn generate<W: Write>(records: u64, seed: u64, out: W) -> io::Result<GenerateSummary> {
    generate_range(seed, 0..records, out)
}

/// Writes records `range` of `seed` to `out`: the lines `generate` writes for those indices, so
/// a large snapshot can be built in parallel chunks and concatenated in order.
///
/// Fails when `range.end > MAX_RECORDS` (InvalidInput) or when `out` fails.
pub fn generate_range<W: Write>(
    seed: u64,
    range: std::ops::Range<u64>,
    out: W,
) -> io::Result<GenerateSummary> {
    if range.end > MAX_RECORDS {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "at most {MAX_RECORDS} records keep ids unique, {} asked",
                range.end
            ),
        ));
    }
    let mut w = io::BufWriter::with_capacity(1 << 16, out);
    let mut s = GenerateSummary::default();
    let mut line = Vec::with_capacity(1024);
    for i in range {
        let (r, shared) = build(seed, i);
        line.clear();
        serde_json::to_writer(&mut line, &r.to_wire()).map_err(io::Error::other)?;
        line.push(b'\n');
        w.write_all(&line)?;
        s.records += 1;
        s.bytes += line.len() as u64;
        s.records_by_status[r.status as usize] += 1;
        for p in &r.platforms {
            s.ids += p.ids.len() as u64;
            s.ids_by[p.platform as usize] += p.ids.len() as u64;
        }
        if shared {
            // Record i re-lists record i - 1's package: both filings share it.
            s.shared_android += 2;
        }
    }
    w.flush()?;
    Ok(s)
}

/// The `i`-th synthetic filing of `seed` (the record on line `i + 1` of `generate`'s output).
pub fn record(seed: u64, i: u64) -> FilingRecord {
    build(seed, i).0
}

/// A well-formed `platform` id that no record of `seed` lists, distinct for each `i` below
/// `MAX_RECORDS` (larger `i` wrap around).
pub fn unknown_id(seed: u64, i: u64, platform: Platform) -> String {
    id_for(seed, platform, MAX_RECORDS + i % MAX_RECORDS)
}

// ---------------------------------------------------------------------------------------------
// Randomness. Each kind of draw has its own keystream (domain) and one stream per index, so a
// change to one kind of draw never shifts another, and any index is reachable in O(1).

const D_META: u64 = 1;
const D_GROUP: u64 = 2;
const D_ENTITY: u64 = 3;
const D_RECORD: u64 = 4;
const D_ID: u64 = 5;
const D_KEYS: u64 = 6;

fn rng(seed: u64, domain: u64, index: u64) -> ChaCha8Rng {
    let mut r = ChaCha8Rng::seed_from_u64(seed ^ domain.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    r.set_stream(index);
    r
}

/// A bijection on u64 (the splitmix64 finaliser): xor-shifts and odd multiplies are invertible.
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A keyed bijection on `0..m` (m ≤ 2^62): a keyed mix that is a bijection on the smallest
/// power of two ≥ m, cycle-walked until it lands below m (at most two rounds on average). A
/// permutation of the domain, so distinct inputs below m give distinct outputs.
fn permute(x: u64, m: u64, key: u64) -> u64 {
    let bits = 64 - (m - 1).leading_zeros();
    let mask = if bits >= 64 {
        u64::MAX
    } else {
        (1 << bits) - 1
    };
    let half = bits.div_ceil(2).max(1);
    let mut x = x;
    loop {
        // Each step is invertible modulo 2^bits: add, odd multiply, xor with a right shift.
        x = x.wrapping_add(key) & mask;
        x = x.wrapping_mul(0x9E37_79B9_7F4A_7C15 | 1) & mask;
        x ^= x >> half;
        x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9 | 1) & mask;
        x ^= x >> half;
        if x < m {
            return x;
        }
    }
}

/// Per-seed keys of the id functions, one per use.
fn key(seed: u64, which: u64) -> u64 {
    mix64(seed ^ mix64(D_KEYS << 32 | which))
}

mod names;
use names::*;

// ---------------------------------------------------------------------------------------------
// Per-record metadata: what kind of filing, on which platforms, in which state.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layout {
    AndroidIos,
    Android,
    Ios,
    AndroidIosHarmony,
    AndroidHarmony,
    Harmony,
}

impl Layout {
    fn android(self) -> bool {
        !matches!(self, Layout::Ios | Layout::Harmony)
    }
    fn ios(self) -> bool {
        matches!(
            self,
            Layout::AndroidIos | Layout::Ios | Layout::AndroidIosHarmony
        )
    }
    fn harmony(self) -> bool {
        matches!(
            self,
            Layout::AndroidIosHarmony | Layout::AndroidHarmony | Layout::Harmony
        )
    }
}

#[derive(Clone, Copy, Debug)]
struct Meta {
    kind: ServiceKind,
    layout: Layout,
    host: Platform,
    status: Status,
    /// Wants to re-list the previous record's package (see [`shares_previous`]).
    share_coin: bool,
}

impl Meta {
    fn android_app(&self) -> bool {
        self.kind == ServiceKind::App && self.layout.android()
    }
}

fn meta(seed: u64, j: u64) -> Meta {
    let mut r = rng(seed, D_META, j);
    let kind = match r.gen_range(0..100u32) {
        0..=54 => ServiceKind::App,
        55..=94 => ServiceKind::MiniProgram,
        _ => ServiceKind::QuickApp,
    };
    let layout = match r.gen_range(0..100u32) {
        0..=54 => Layout::AndroidIos,
        55..=79 => Layout::Android,
        80..=89 => Layout::Ios,
        90..=95 => Layout::AndroidIosHarmony,
        96..=98 => Layout::AndroidHarmony,
        _ => Layout::Harmony,
    };
    let host = match r.gen_range(0..100u32) {
        0..=49 => Platform::Wechat,
        50..=64 => Platform::Alipay,
        65..=79 => Platform::Douyin,
        80..=86 => Platform::Baidu,
        87..=93 => Platform::Qq,
        _ => Platform::Kuaishou,
    };
    let status = match r.gen_range(0..1000u32) {
        0..=899 => Status::Active,
        900..=939 => Status::Cancelled,
        940..=969 => Status::Revoked,
        _ => Status::Restricted,
    };
    let share_coin = r.gen_range(0..1000u32) < 55;
    Meta {
        kind,
        layout,
        host,
        status,
        share_coin,
    }
}

/// Record `i` lists record `i - 1`'s android package instead of its own. Pairs only: a record
/// whose coin is up never lends its package, so no package is listed three times.
fn shares_previous(seed: u64, i: u64, m: &Meta, entity: u64) -> bool {
    if i == 0 || !m.share_coin || !m.android_app() {
        return false;
    }
    let prev = meta(seed, i - 1);
    !prev.share_coin && prev.android_app() && entity_of(seed, i - 1).0 != entity
}

// ---------------------------------------------------------------------------------------------
// Entities: groups of six consecutive records split into entities of consecutive records.

const GROUP: u64 = 6;
const PARTITIONS: [&[u64]; 10] = [
    &[3, 3],
    &[2, 4],
    &[4, 2],
    &[1, 5],
    &[6],
    &[2, 2, 2],
    &[1, 2, 3],
    &[3, 1, 2],
    &[6],
    &[5, 1],
];

/// (entity id = index of its first record, position of `j` within the entity).
fn entity_of(seed: u64, j: u64) -> (u64, usize) {
    let g = j / GROUP;
    let off = j % GROUP;
    let part = PARTITIONS[rng(seed, D_GROUP, g).gen_range(0..PARTITIONS.len())];
    let mut start = 0;
    for &size in part {
        if off < start + size {
            return (g * GROUP + start, (off - start) as usize);
        }
        start += size;
    }
    (j, 0)
}

/// How an entity's subject number is formed (domain.md §1.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Form {
    Bei10,
    Bei8,
    B2,
    Zheng6,
}

/// Share of entities per form, in percent, and the layout of each form's number space:
/// (years, first year, serials per year). Provinces multiply every space by 34.
const FORMS: [(Form, u64, u64, u64, u64); 4] = [
    (Form::Bei10, 70, 8, 2019, 1_000_000),
    (Form::Bei8, 22, 14, 5, 1_000_000),
    (Form::B2, 5, 20, 2005, 10_000),
    (Form::Zheng6, 3, 1, 0, 1_000_000),
];

struct Entity {
    name: String,
    /// The subject number (主体备案号) its filings extend, and the first year it could be used.
    subject: String,
    since: u64,
    /// ASCII word for package names (pinyin of the brand or the person).
    word: String,
    /// Sequence numbers of the entity's filings, in record order (strictly increasing).
    seqs: [u32; GROUP as usize],
}

fn form_of(seed: u64, e: u64) -> (Form, u64) {
    // (e / 100, e % 100) ↦ (e / 100, r) is a bijection; each form owns a range of r, so the
    // index within the form is injective too.
    let r = ((e % 100) * 71 + seed % 100) % 100;
    let mut start = 0;
    for (form, share, ..) in FORMS {
        if r < start + share {
            return (form, (e / 100) * share + (r - start));
        }
        start += share;
    }
    (Form::Bei10, e)
}

fn entity(seed: u64, e: u64) -> Entity {
    let mut r = rng(seed, D_ENTITY, e);
    let (form, _) = form_of(seed, e);
    let (subject, since, province) = subject(seed, e);
    let person = matches!(form, Form::Bei10 | Form::Bei8) && r.gen_range(0..100u32) < 20;
    let (name, word) = if person {
        let (sh, sp) = SURNAMES[r.gen_range(0..SURNAMES.len())];
        let (g1, p1) = GIVEN[r.gen_range(0..GIVEN.len())];
        if r.gen_bool(0.6) {
            let (g2, p2) = GIVEN[r.gen_range(0..GIVEN.len())];
            (format!("{sh}{g1}{g2}"), format!("{sp}{p1}{p2}"))
        } else {
            (format!("{sh}{g1}"), format!("{sp}{p1}"))
        }
    } else {
        let cities = CITIES.get(province).copied().unwrap_or(&["北京"]);
        let city = cities[r.gen_range(0..cities.len())];
        let (h1, p1) = SYLLABLES[r.gen_range(0..SYLLABLES.len())];
        let (h2, p2) = SYLLABLES[r.gen_range(0..SYLLABLES.len())];
        // A third syllable for most: registered company names are unique, so the entity arena
        // should see about as many names as entities.
        let (h3, p3) = if r.gen_bool(0.6) {
            SYLLABLES[r.gen_range(0..SYLLABLES.len())]
        } else {
            ("", "")
        };
        let industry = INDUSTRIES[r.gen_range(0..INDUSTRIES.len())];
        let suffix = match r.gen_range(0..20u32) {
            0..=16 => "有限公司",
            17..=18 => "股份有限公司",
            _ => "有限责任公司",
        };
        (
            format!("{city}{h1}{h2}{h3}{industry}{suffix}"),
            format!("{p1}{p2}{p3}"),
        )
    };
    // Licence holders are large: their counters are far along (粤B2-20090059-1626X).
    let mut seq = match form {
        Form::B2 | Form::Zheng6 => r.gen_range(1..1500u32),
        _ => r.gen_range(1..5u32),
    };
    let mut seqs = [0u32; GROUP as usize];
    for s in &mut seqs {
        *s = seq;
        // Websites take numbers from the same counter (domain.md §1.1).
        seq += r.gen_range(1..4u32);
    }
    Entity {
        name,
        subject,
        since,
        word,
        seqs,
    }
}

/// The subject number of entity `e`, rendered, the first year it could have been used, and its
/// province (index into `PROVINCES`).
fn subject(seed: u64, e: u64) -> (String, u64, usize) {
    let (form, k) = form_of(seed, e);
    let Some(&(_, _, years, first, serials)) = FORMS.iter().find(|f| f.0 == form) else {
        return (String::new(), 2023, 0);
    };
    let n = crate::filing::number::PROVINCES.len() as u64;
    let x = permute(k, n * years * serials, key(seed, form as u64));
    let pi = (x % n) as usize;
    let province = crate::filing::number::PROVINCES[pi];
    let rest = x / n;
    let year = first + rest % years;
    let serial = rest / years;
    match form {
        Form::Bei10 => (format!("{province}ICP备{year:04}{serial:06}号"), year, pi),
        Form::Bei8 => (
            format!("{province}ICP备{year:02}{serial:06}号"),
            2000 + year,
            pi,
        ),
        Form::B2 => (format!("{province}B2-{year:04}{serial:04}"), year, pi),
        Form::Zheng6 => (format!("{province}ICP证{serial:06}号"), 2000, pi),
    }
}

// ---------------------------------------------------------------------------------------------
// Ids. Each is an injective function of the index `j` (below 2 * MAX_RECORDS).

const BASE36: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

fn fixed_base(mut x: u64, digits: &[u8], width: usize, out: &mut String) {
    let b = digits.len() as u64;
    let mut buf = [0u8; 16];
    for c in buf[..width].iter_mut().rev() {
        *c = digits[(x % b) as usize];
        x /= b;
    }
    out.extend(buf[..width].iter().map(|&c| c as char));
}

/// Six lowercase base-36 characters, unique per index (36^6 > 2 * MAX_RECORDS).
fn tag(seed: u64, j: u64) -> String {
    let mut s = String::with_capacity(6);
    fixed_base(permute(j, 36u64.pow(6), key(seed, 100)), BASE36, 6, &mut s);
    s
}

/// The words an app's name and package share: (prefix, noun, tld).
struct AppWords {
    prefix: usize,
    noun: usize,
    tld: &'static str,
    ios_same: bool,
    ios_capital: bool,
    ios_hyphen: bool,
    harmony_same: bool,
    lite: bool,
}

fn app_words(seed: u64, j: u64) -> AppWords {
    let mut r = rng(seed, D_ID, j);
    AppWords {
        prefix: r.gen_range(0..PREFIXES.len()),
        noun: r.gen_range(0..NOUNS.len()),
        tld: TLDS[r.gen_range(0..TLDS.len())],
        ios_same: r.gen_range(0..100u32) < 60,
        ios_capital: r.gen_range(0..100u32) < 10,
        ios_hyphen: r.gen_range(0..100u32) < 10,
        harmony_same: r.gen_range(0..100u32) < 70,
        lite: r.gen_range(0..100u32) < 3,
    }
}

/// `{tld}.{entity word}.{noun}{tag}`: exactly three segments, ending in the index's tag.
fn android_id(seed: u64, j: u64, word: &str, w: &AppWords) -> String {
    format!("{}.{word}.{}{}", w.tld, NOUNS[w.noun].1, tag(seed, j))
}

fn app_id(seed: u64, p: Platform, j: u64, word: &str, w: &AppWords, has_android: bool) -> String {
    match p {
        Platform::Ios if w.ios_same && has_android => android_id(seed, j, word, w),
        Platform::Ios => {
            let company = if w.ios_capital {
                let mut c = word.to_string();
                c[..1].make_ascii_uppercase();
                c
            } else {
                word.to_string()
            };
            let sep = if w.ios_hyphen { "-" } else { "" };
            format!(
                "{}.{company}.{}{sep}{}{}",
                w.tld,
                PREFIXES[w.prefix].1,
                NOUNS[w.noun].1,
                tag(seed, j)
            )
        }
        Platform::Harmony if w.harmony_same && has_android => android_id(seed, j, word, w),
        Platform::Harmony => format!("{}.{word}.hm{}{}", w.tld, NOUNS[w.noun].1, tag(seed, j)),
        Platform::QuickApp => format!(
            "{}.{word}.quickapp.{}{}",
            w.tld,
            NOUNS[w.noun].1,
            tag(seed, j)
        ),
        _ => android_id(seed, j, word, w),
    }
}

fn mini_id(seed: u64, p: Platform, j: u64) -> String {
    let k = key(seed, p as u64);
    match p {
        Platform::Wechat => format!("wx{:016x}", mix64(j.wrapping_add(k))),
        Platform::Douyin => {
            let long = rng(seed, D_ID, j).gen_range(0..100u32) < 30;
            format!(
                "tt{:016x}{}",
                mix64(j.wrapping_add(k)),
                if long { "01" } else { "" }
            )
        }
        Platform::Alipay => format!("2021{:012}", permute(j, 1_000_000_000_000, k)),
        Platform::Qq => format!("11{:08}", permute(j, 100_000_000, k)),
        Platform::Kuaishou => format!("ks{:018}", permute(j, 1_000_000_000_000_000_000, k)),
        _ => {
            // Baidu: 11 base-62 characters of a bijective mix, then 21 random ones.
            let mut s = String::with_capacity(32);
            fixed_base(mix64(j.wrapping_add(k)), BASE62, 11, &mut s);
            let mut r = rng(seed, D_ID, j);
            s.extend((0..21).map(|_| BASE62[r.gen_range(0..62)] as char));
            s
        }
    }
}

/// The id record `j` lists (or would list) on `p`, computed from scratch.
fn id_for(seed: u64, p: Platform, j: u64) -> String {
    if p.is_mini_program_host() {
        return mini_id(seed, p, j);
    }
    let word = entity(seed, entity_of(seed, j).0).word;
    let has_android =
        matches!(p, Platform::Ios | Platform::Harmony) && meta(seed, j).layout.android();
    app_id(seed, p, j, &word, &app_words(seed, j), has_android)
}

// ---------------------------------------------------------------------------------------------
// Records.

/// 2023-09-01T00:00:00Z, when app filing began, and 2026-05-01T00:00:00Z (exclusive).
const UPDATED_FROM: u64 = 1_693_526_400;
const UPDATED_TO: u64 = 1_777_593_600;

fn jan_first(year: u64) -> u64 {
    match year {
        2024 => 1_704_067_200,
        2025 => 1_735_689_600,
        2026 => 1_767_225_600,
        _ => 0,
    }
}

fn signer(r: &mut ChaCha8Rng, md5: bool, sha1: bool, sha256: bool) -> Signer {
    Signer {
        md5: md5.then(|| r.gen()),
        sha1: sha1.then(|| r.gen()),
        sha256: sha256.then(|| r.gen()),
    }
}

/// Record `i` and whether its android package is the previous record's.
fn build(seed: u64, i: u64) -> (FilingRecord, bool) {
    let m = meta(seed, i);
    let (e, pos) = entity_of(seed, i);
    let ent = entity(seed, e);
    let seq = ent.seqs[pos];
    let text = format!("{}-{seq}{}", ent.subject, m.kind.letter());
    // Every form above renders the §1.4 grammar; the tests parse every form and kind.
    let number = FilingNumber::parse(&text).expect("generated filing numbers follow the grammar");
    let w = app_words(seed, i);
    let mut r = rng(seed, D_RECORD, i);
    let (prefix, noun) = (PREFIXES[w.prefix].0, NOUNS[w.noun].0);
    let app_name = match m.kind {
        ServiceKind::App if r.gen_bool(0.1) => format!("{prefix}{noun}Pro"),
        ServiceKind::App => format!("{prefix}{noun}"),
        ServiceKind::MiniProgram if r.gen_bool(0.2) => format!("{prefix}{noun}小程序"),
        ServiceKind::MiniProgram => format!("{prefix}{noun}"),
        ServiceKind::QuickApp => format!("{prefix}{noun}快应用"),
    };
    let from = UPDATED_FROM.max(jan_first(ent.since));
    let updated = r.gen_range(from..UPDATED_TO);
    let shared = shares_previous(seed, i, &m, e);
    let mut platforms = Vec::with_capacity(3);
    match m.kind {
        ServiceKind::App => {
            let has_android = m.layout.android();
            if has_android {
                let own = android_id(seed, i, &ent.word, &w);
                let mut ids = Vec::with_capacity(2);
                if shared {
                    ids.push(id_for(seed, Platform::Android, i - 1));
                } else {
                    if w.lite {
                        ids.push(format!("{own}.lite"));
                    }
                    ids.insert(0, own);
                }
                let with_sha256 = r.gen_range(0..100u32) < 20;
                let mut signers = vec![signer(&mut r, true, false, with_sha256)];
                if r.gen_range(0..100u32) < 2 {
                    signers.push(signer(&mut r, true, false, false));
                }
                platforms.push(PlatformFiling {
                    platform: Platform::Android,
                    ids,
                    signers,
                });
            }
            for (on, p, sha1) in [
                (m.layout.ios(), Platform::Ios, true),
                (m.layout.harmony(), Platform::Harmony, false),
            ] {
                if on {
                    platforms.push(PlatformFiling {
                        platform: p,
                        ids: vec![app_id(seed, p, i, &ent.word, &w, has_android)],
                        signers: vec![signer(&mut r, false, sha1, !sha1)],
                    });
                }
            }
        }
        ServiceKind::MiniProgram => platforms.push(PlatformFiling {
            platform: m.host,
            ids: vec![mini_id(seed, m.host, i)],
            signers: Vec::new(),
        }),
        ServiceKind::QuickApp => platforms.push(PlatformFiling {
            platform: Platform::QuickApp,
            ids: vec![app_id(seed, Platform::QuickApp, i, &ent.word, &w, false)],
            signers: Vec::new(),
        }),
    }
    let rec = FilingRecord {
        number,
        status: m.status,
        entity: ent.name,
        app_name,
        updated,
        platforms,
    };
    (rec, shared)
}

#[cfg(test)]
mod tests;
