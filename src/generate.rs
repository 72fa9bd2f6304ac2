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

// ---------------------------------------------------------------------------------------------
// Word lists: (hanzi, pinyin) so that package names read like the entity and the app.

/// A city of each province abbreviation, in `PROVINCES` order, so that a company's name and its
/// subject number agree on where it is domiciled.
const CITIES: [&[&str]; 34] = [
    &["北京"],
    &["天津"],
    &["石家庄"],
    &["太原"],
    &["呼和浩特"],
    &["沈阳", "大连"],
    &["长春"],
    &["哈尔滨"],
    &["上海"],
    &["南京", "苏州"],
    &["杭州", "宁波"],
    &["合肥"],
    &["福州", "厦门"],
    &["南昌"],
    &["济南", "青岛"],
    &["郑州"],
    &["武汉"],
    &["长沙"],
    &["广州", "深圳市"],
    &["南宁"],
    &["海口"],
    &["重庆"],
    &["成都"],
    &["成都"],
    &["贵阳"],
    &["贵阳"],
    &["昆明"],
    &["拉萨"],
    &["西安"],
    &["兰州"],
    &["兰州"],
    &["西宁"],
    &["银川"],
    &["乌鲁木齐"],
];

const SYLLABLES: [(&str, &str); 40] = [
    ("华", "hua"),
    ("信", "xin"),
    ("云", "yun"),
    ("智", "zhi"),
    ("创", "chuang"),
    ("联", "lian"),
    ("达", "da"),
    ("通", "tong"),
    ("天", "tian"),
    ("星", "xing"),
    ("海", "hai"),
    ("博", "bo"),
    ("飞", "fei"),
    ("航", "hang"),
    ("易", "yi"),
    ("乐", "le"),
    ("新", "xin"),
    ("盛", "sheng"),
    ("嘉", "jia"),
    ("锐", "rui"),
    ("恒", "heng"),
    ("远", "yuan"),
    ("明", "ming"),
    ("辰", "chen"),
    ("鼎", "ding"),
    ("泰", "tai"),
    ("安", "an"),
    ("宇", "yu"),
    ("腾", "teng"),
    ("源", "yuan"),
    ("启", "qi"),
    ("科", "ke"),
    ("捷", "jie"),
    ("迅", "xun"),
    ("和", "he"),
    ("众", "zhong"),
    ("蓝", "lan"),
    ("禾", "he"),
    ("青", "qing"),
    ("极", "ji"),
];

const INDUSTRIES: [&str; 12] = [
    "网络科技",
    "信息技术",
    "软件",
    "科技",
    "互动娱乐",
    "数字科技",
    "电子商务",
    "文化传媒",
    "教育科技",
    "健康科技",
    "计算机系统",
    "智能科技",
];

const SURNAMES: [(&str, &str); 24] = [
    ("王", "wang"),
    ("李", "li"),
    ("张", "zhang"),
    ("刘", "liu"),
    ("陈", "chen"),
    ("杨", "yang"),
    ("赵", "zhao"),
    ("黄", "huang"),
    ("周", "zhou"),
    ("吴", "wu"),
    ("徐", "xu"),
    ("孙", "sun"),
    ("胡", "hu"),
    ("朱", "zhu"),
    ("高", "gao"),
    ("林", "lin"),
    ("何", "he"),
    ("郭", "guo"),
    ("马", "ma"),
    ("罗", "luo"),
    ("梁", "liang"),
    ("宋", "song"),
    ("郑", "zheng"),
    ("谢", "xie"),
];

const GIVEN: [(&str, &str); 24] = [
    ("伟", "wei"),
    ("芳", "fang"),
    ("娜", "na"),
    ("敏", "min"),
    ("静", "jing"),
    ("磊", "lei"),
    ("洋", "yang"),
    ("勇", "yong"),
    ("杰", "jie"),
    ("婷", "ting"),
    ("强", "qiang"),
    ("军", "jun"),
    ("涛", "tao"),
    ("明", "ming"),
    ("超", "chao"),
    ("霞", "xia"),
    ("平", "ping"),
    ("刚", "gang"),
    ("浩", "hao"),
    ("宇", "yu"),
    ("欣", "xin"),
    ("晨", "chen"),
    ("思", "si"),
    ("佳", "jia"),
];

const PREFIXES: [(&str, &str); 20] = [
    ("快乐", "kuaile"),
    ("小鹿", "xiaolu"),
    ("口袋", "koudai"),
    ("掌上", "zhangshang"),
    ("极速", "jisu"),
    ("云", "yun"),
    ("轻", "qing"),
    ("每日", "meiri"),
    ("悦", "yue"),
    ("智慧", "zhihui"),
    ("随手", "suishou"),
    ("简单", "jiandan"),
    ("懒人", "lanren"),
    ("全民", "quanmin"),
    ("小熊", "xiaoxiong"),
    ("星辰", "xingchen"),
    ("万能", "wanneng"),
    ("指尖", "zhijian"),
    ("爱", "ai"),
    ("叮咚", "dingdong"),
];

const NOUNS: [(&str, &str); 30] = [
    ("记账", "jizhang"),
    ("日记", "riji"),
    ("天气", "tianqi"),
    ("阅读", "yuedu"),
    ("音乐", "yinyue"),
    ("健身", "jianshen"),
    ("外卖", "waimai"),
    ("出行", "chuxing"),
    ("相机", "xiangji"),
    ("笔记", "biji"),
    ("课堂", "ketang"),
    ("商城", "shangcheng"),
    ("停车", "tingche"),
    ("医生", "yisheng"),
    ("翻译", "fanyi"),
    ("地图", "ditu"),
    ("视频", "shipin"),
    ("消消乐", "xiaoxiaole"),
    ("象棋", "xiangqi"),
    ("打车", "dache"),
    ("招聘", "zhaopin"),
    ("租房", "zufang"),
    ("菜谱", "caipu"),
    ("日历", "rili"),
    ("闹钟", "naozhong"),
    ("计步", "jibu"),
    ("题库", "tiku"),
    ("点餐", "diancan"),
    ("快递", "kuaidi"),
    ("壁纸", "bizhi"),
];

const TLDS: [&str; 10] = [
    "com", "com", "com", "com", "com", "com", "com", "cn", "cn", "net",
];

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
mod tests {
    use super::*;
    use crate::filing::index_key;
    use crate::filing::record::parse_line;
    use crate::index::{load_snapshot, parse_snapshot, Revision};
    use std::collections::{HashMap, HashSet};

    fn lines(records: u64, seed: u64) -> (String, GenerateSummary) {
        let mut out = Vec::new();
        let s = generate(records, seed, &mut out).unwrap();
        (String::from_utf8(out).unwrap(), s)
    }

    #[test]
    fn same_records_and_seed_give_the_same_bytes() {
        let (a, sa) = lines(3_000, 7);
        let (b, sb) = lines(3_000, 7);
        assert_eq!(a, b);
        assert_eq!(sa, sb);
        assert_eq!(sa.bytes, a.len() as u64);
        let (c, _) = lines(3_000, 8);
        assert_ne!(a, c);
        // A prefix of a longer run: record i does not depend on how many are generated, and
        // chunks concatenate to the whole.
        let (short, _) = lines(1_000, 7);
        assert!(a.starts_with(&short));
        let mut rest = Vec::new();
        generate_range(7, 1_000..3_000, &mut rest).unwrap();
        assert_eq!(format!("{short}{}", String::from_utf8(rest).unwrap()), a);
    }

    #[test]
    fn every_line_parses_back_to_its_record() {
        let (text, s) = lines(10_000, 11);
        assert_eq!(text.lines().count(), 10_000);
        let mut ids = 0;
        for (i, line) in text.lines().enumerate() {
            let r = parse_line(line).unwrap_or_else(|e| panic!("line {}: {e}: {line}", i + 1));
            assert_eq!(r, record(11, i as u64), "line {}", i + 1);
            ids += r.platforms.iter().map(|p| p.ids.len() as u64).sum::<u64>();
        }
        assert_eq!(ids, s.ids);
        let (_, report) = parse_snapshot(text.as_bytes(), 1, "gen", false);
        assert_eq!((report.accepted, report.rejected), (10_000, 0));
    }

    #[test]
    fn numbers_and_ids_are_unique_except_the_deliberate_shared_packages() {
        const N: u64 = 50_000;
        let recs: Vec<FilingRecord> = (0..N).map(|i| record(3, i)).collect();
        let numbers: HashSet<String> = recs.iter().map(|r| r.number.to_string()).collect();
        assert_eq!(numbers.len() as u64, N);
        let mut by_key: HashMap<(Platform, String), Vec<usize>> = HashMap::new();
        for (i, r) in recs.iter().enumerate() {
            for p in &r.platforms {
                for id in &p.ids {
                    by_key
                        .entry((p.platform, index_key(p.platform, id).into_owned()))
                        .or_default()
                        .push(i);
                }
            }
        }
        let mut shared = 0;
        for ((platform, id), who) in &by_key {
            match who[..] {
                [_] => {}
                [a, b] => {
                    assert_eq!(
                        *platform,
                        Platform::Android,
                        "{id} listed twice on {platform}"
                    );
                    assert_eq!(a + 1, b, "{id}: a shared package pairs neighbours");
                    assert_ne!(entity_of(3, a as u64).0, entity_of(3, b as u64).0);
                    let sa = &recs[a].platforms[0].signers[0];
                    let sb = &recs[b].platforms[0].signers[0];
                    assert!(!sa.matches(sb), "{id}: shared package with the same signer");
                    shared += 1;
                }
                _ => panic!("{platform} {id} listed by {who:?}"),
            }
        }
        let android = by_key
            .keys()
            .filter(|(p, _)| *p == Platform::Android)
            .count();
        let ratio = shared as f64 / android as f64;
        assert!(
            (0.005..0.02).contains(&ratio),
            "{shared} shared of {android} android packages"
        );
    }

    #[test]
    fn the_mix_matches_the_domain() {
        let (text, s) = lines(20_000, 5);
        let recs: Vec<FilingRecord> = text.lines().map(|l| parse_line(l).unwrap()).collect();
        let share = |f: &dyn Fn(&FilingRecord) -> bool| {
            recs.iter().filter(|r| f(r)).count() as f64 / recs.len() as f64
        };
        let app = share(&|r| r.kind() == ServiceKind::App);
        let mini = share(&|r| r.kind() == ServiceKind::MiniProgram);
        let quick = share(&|r| r.kind() == ServiceKind::QuickApp);
        assert!(
            (0.53..0.57).contains(&app)
                && (0.38..0.42).contains(&mini)
                && (0.04..0.06).contains(&quick)
        );
        let active = s.records_by_status[Status::Active as usize] as f64 / s.records as f64;
        assert!((0.88..0.92).contains(&active), "{active}");
        assert!(s.records_by_status.iter().all(|&n| n > 0));
        assert!(s.ids_by.iter().all(|&n| n > 0), "{:?}", s.ids_by);
        let provinces: HashSet<char> = recs.iter().map(|r| r.number.province()).collect();
        assert_eq!(provinces.len(), crate::filing::number::PROVINCES.len());
        let forms: HashSet<_> = recs
            .iter()
            .map(|r| format!("{:?}", r.number.form()))
            .collect();
        assert_eq!(forms.len(), 4, "{forms:?}");
        let entities: HashSet<&str> = recs.iter().map(|r| r.entity.as_str()).collect();
        let per_entity = recs.len() as f64 / entities.len() as f64;
        assert!(
            (2.5..3.5).contains(&per_entity),
            "{per_entity} filings per entity"
        );
        for r in &recs {
            for p in &r.platforms {
                let want = match p.platform {
                    Platform::Android => (true, false, None),
                    Platform::Ios => (false, true, Some(false)),
                    Platform::Harmony => (false, false, Some(true)),
                    _ => {
                        assert!(p.signers.is_empty());
                        continue;
                    }
                };
                for sg in &p.signers {
                    assert_eq!((sg.md5.is_some(), sg.sha1.is_some()), (want.0, want.1));
                    if let Some(sha256) = want.2 {
                        assert_eq!(sg.sha256.is_some(), sha256);
                    }
                }
            }
            let t = r.updated;
            assert!((UPDATED_FROM..UPDATED_TO).contains(&t));
        }
        assert_eq!(s.shared_android % 2, 0);
        assert!(s.shared_android > 0);
    }

    #[test]
    fn unknown_ids_are_well_formed_and_never_filed() {
        let recs: Vec<FilingRecord> = (0..20_000).map(|i| record(9, i)).collect();
        for bloom in [false, true] {
            let rev = Revision::from_records(1, "gen", &recs, bloom);
            for i in 0..2_000 {
                for p in Platform::ALL {
                    let id = unknown_id(9, i, p);
                    crate::filing::validate(p, &id).unwrap();
                    assert!(rev.lookup(p, &id).is_empty(), "{p} {id}");
                }
            }
            for i in (0..20_000).step_by(97) {
                let r = &recs[i];
                for p in &r.platforms {
                    assert!(rev
                        .lookup(p.platform, &p.ids[0])
                        .iter()
                        .any(|h| h.number == r.number));
                }
            }
        }
        assert_ne!(
            unknown_id(9, 0, Platform::Wechat),
            unknown_id(9, 1, Platform::Wechat)
        );
    }

    #[test]
    fn permute_is_a_bijection() {
        for m in [1, 2, 7, 1000, 36u64.pow(3), 65_536] {
            let seen: HashSet<u64> = (0..m).map(|x| permute(x, m, 12345)).collect();
            assert_eq!(seen.len() as u64, m);
            assert!(seen.iter().all(|&y| y < m));
        }
    }

    #[test]
    fn too_many_records_is_refused() {
        let e = generate(MAX_RECORDS + 1, 1, io::sink()).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    }

    // ---- the bundled sample registry -------------------------------------------------------

    const SAMPLE_SEED: u64 = 2026;
    const SAMPLE_GENERATED: u64 = 250;

    fn sample_path() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/sample-registry.ndjson")
    }

    /// The sample is the hand-written block, one blank line (loaders skip it), then the
    /// generated tail.
    fn sample_parts(text: &str) -> (&str, &str) {
        text.split_once("\n\n").unwrap_or((text, ""))
    }

    #[test]
    fn sample_registry_loads_clean_and_answers_the_readme_lookups() {
        let (rev, report) = load_snapshot(&sample_path(), 1, false).unwrap();
        assert_eq!(report.rejected, 0, "{:?}", report.rejected_lines);
        assert!(report.accepted >= 200, "{}", report.accepted);
        for p in Platform::ALL {
            assert!(rev.stats.ids_by[p as usize] > 0, "no {p} ids");
        }
        for st in Status::ALL {
            assert!(
                rev.records().any(|v| v.status == st),
                "no {} record",
                st.as_str()
            );
        }
        let one = |p: Platform, id: &str| -> (String, Status) {
            let h = rev.lookup(p, id);
            assert_eq!(h.len(), 1, "{p} {id}: {h:?}");
            (h[0].number.to_string(), h[0].status)
        };
        use Status::*;
        let cases: [(Platform, &str, &str, Status); 16] = [
            (
                Platform::Ios,
                "xyz.superbart.xdyou",
                "陕ICP备2024026116号-1A",
                Active,
            ),
            (
                Platform::Android,
                "io.github.benderblog.traintime_pda",
                "陕ICP备2024026116号-1A",
                Active,
            ),
            (
                Platform::Android,
                "com.yucore.swashbucklerdiary",
                "辽ICP备2023009191号-2A",
                Active,
            ),
            (
                Platform::Android,
                "com.example.revokedapp",
                "粤ICP备2023123456号-3A",
                Revoked,
            ),
            (
                Platform::Android,
                "com.example.cancelledapp",
                "浙ICP备2024071295号-2A",
                Cancelled,
            ),
            (
                Platform::Android,
                "com.example.restrictedapp",
                "京ICP备2026059598号-4A",
                Restricted,
            ),
            (
                Platform::Wechat,
                "wx84c222762738ce75",
                "京ICP备2026059598号-1X",
                Active,
            ),
            (
                Platform::Wechat,
                "wx358a2cd2bf7c5dfe",
                "粤B2-20090059-1626X",
                Active,
            ),
            (
                Platform::Alipay,
                "2021001102642986",
                "京ICP证030173号-216X",
                Revoked,
            ),
            (
                Platform::Douyin,
                "tt411d37a0de37d565",
                "蜀ICP备2024062329号-1X",
                Active,
            ),
            (
                Platform::Baidu,
                "4fecoAqgCIUtzIyA4FAPgoyrc4oUc25c",
                "黔ICP备2025044274号-1X",
                Active,
            ),
            (Platform::Qq, "1112112167", "川ICP备10200063号-2X", Active),
            (
                Platform::Kuaishou,
                "ks717479719227682172",
                "滇ICP备2020009854号-3X",
                Active,
            ),
            (
                Platform::QuickApp,
                "com.example.quickgame",
                "闽ICP备2024111111号-1B",
                Active,
            ),
            (
                Platform::Harmony,
                "com.example.hmos.notes",
                "鄂ICP备2024222222号-2A",
                Active,
            ),
            (
                Platform::Ios,
                "com.example.iosonly",
                "豫ICP备2024333333号-1A",
                Active,
            ),
        ];
        for (p, id, number, status) in cases {
            assert_eq!(one(p, id), (number.to_string(), status), "{p} {id}");
        }
        let xdyou = rev
            .record(&rev.lookup(Platform::Ios, "xyz.superbart.xdyou")[0])
            .unwrap();
        assert_eq!(
            (xdyou.app_name.as_str(), xdyou.entity.as_str()),
            ("XDYou", "西安电子科技大学")
        );
        assert!(xdyou
            .platforms
            .iter()
            .any(|p| p.platform == Platform::Ios && p.signers[0].sha1.is_some()));
        assert!(xdyou
            .platforms
            .iter()
            .any(|p| p.platform == Platform::Android && p.signers[0].md5.is_some()));
        let diary = rev
            .record(&rev.lookup(Platform::Android, "com.yucore.swashbucklerdiary")[0])
            .unwrap();
        assert_eq!(diary.app_name, "侠客日记");
        let harmony = rev
            .record(&rev.lookup(Platform::Harmony, "com.example.hmos.notes")[0])
            .unwrap();
        assert!(harmony.platforms[0].signers[0].sha256.is_some());
        // One package, two entities, two signers, one active and one revoked.
        let shared = rev.lookup(Platform::Android, "com.example.shared");
        let got: Vec<(String, Status)> = shared
            .iter()
            .map(|h| (h.number.to_string(), h.status))
            .collect();
        assert_eq!(
            got,
            [
                ("沪ICP备2024000001号-1A".to_string(), Active),
                ("苏ICP备2024000002号-1A".to_string(), Revoked)
            ]
        );
        let (a, b) = (
            rev.record(&shared[0]).unwrap(),
            rev.record(&shared[1]).unwrap(),
        );
        assert_ne!(a.entity, b.entity);
        assert!(!a.platforms[0].signers[0].matches(&b.platforms[0].signers[0]));
        // Filed for ios only: android finds nothing, but the index knows it is filed elsewhere.
        assert!(rev
            .lookup(Platform::Android, "com.example.iosonly")
            .is_empty());
        assert_eq!(
            rev.filed_elsewhere(Platform::Android, "com.example.iosonly"),
            Some(Platform::Ios)
        );
    }

    #[test]
    fn sample_registry_tail_is_the_generator_output() {
        let text = std::fs::read_to_string(sample_path()).unwrap();
        let (head, tail) = sample_parts(&text);
        assert!(
            head.lines().count() >= 17,
            "hand-written block has {} lines",
            head.lines().count()
        );
        let (generated, _) = lines(SAMPLE_GENERATED, SAMPLE_SEED);
        assert!(
            tail == generated,
            "the generated tail differs from generate({SAMPLE_GENERATED}, {SAMPLE_SEED}); rewrite it with \
             `cargo test --lib generate::tests::write_sample_registry -- --ignored`"
        );
    }

    /// Rewrites the generated tail of the sample registry, keeping the hand-written block.
    #[test]
    #[ignore = "writes config/sample-registry.ndjson"]
    fn write_sample_registry() {
        let old = std::fs::read_to_string(sample_path()).unwrap();
        let (head, _) = sample_parts(&old);
        let (generated, _) = lines(SAMPLE_GENERATED, SAMPLE_SEED);
        std::fs::write(sample_path(), format!("{}\n\n{generated}", head.trim_end())).unwrap();
    }
}
