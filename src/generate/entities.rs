//! Entities: groups of six consecutive records split into entities of consecutive records,
//! each with a name, a subject number and the sequence numbers of its filings.
//!
//! Owns the partitions of a group, the subject number forms and their number spaces.
//! Must not: keep a table; an index's entity is computed from the index.
//! Invariant: subject numbers are an injective function of the entity index, and an entity's
//! sequence numbers strictly increase in record order.

use super::draw::{key, permute, rng, D_ENTITY, D_GROUP};
use super::names::*;
use rand::Rng;

pub(super) const GROUP: u64 = 6;
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
pub(super) fn entity_of(seed: u64, j: u64) -> (u64, usize) {
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

pub(super) struct Entity {
    pub(super) name: String,
    /// The subject number (主体备案号) its filings extend, and the first year it could be used.
    pub(super) subject: String,
    pub(super) since: u64,
    /// ASCII word for package names (pinyin of the brand or the person).
    pub(super) word: String,
    /// Sequence numbers of the entity's filings, in record order (strictly increasing).
    pub(super) seqs: [u32; GROUP as usize],
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

pub(super) fn entity(seed: u64, e: u64) -> Entity {
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
