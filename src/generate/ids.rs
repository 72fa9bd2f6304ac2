//! Ids: each an injective function of the record index `j` (below 2 * MAX_RECORDS).
//!
//! Owns the id shapes of every platform: app packages and bundle ids built from the entity's
//! word, an app noun and the index's tag; mini program ids from keyed bijections of the index.
//! Must not: list one id for two indices (except the shared android packages `meta` decides).
//! Invariant: `id_for(seed, p, j)` is the id record `j` lists on `p`, computed from scratch.

use super::draw::{key, mix64, permute, rng, D_ID};
use super::entities::{entity, entity_of};
use super::meta::meta;
use super::names::*;
use crate::filing::Platform;
use rand::Rng;

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
pub(super) struct AppWords {
    pub(super) prefix: usize,
    pub(super) noun: usize,
    pub(super) tld: &'static str,
    pub(super) ios_same: bool,
    pub(super) ios_capital: bool,
    pub(super) ios_hyphen: bool,
    pub(super) harmony_same: bool,
    pub(super) lite: bool,
}

pub(super) fn app_words(seed: u64, j: u64) -> AppWords {
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
pub(super) fn android_id(seed: u64, j: u64, word: &str, w: &AppWords) -> String {
    format!("{}.{word}.{}{}", w.tld, NOUNS[w.noun].1, tag(seed, j))
}

pub(super) fn app_id(
    seed: u64,
    p: Platform,
    j: u64,
    word: &str,
    w: &AppWords,
    has_android: bool,
) -> String {
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

pub(super) fn mini_id(seed: u64, p: Platform, j: u64) -> String {
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
pub(super) fn id_for(seed: u64, p: Platform, j: u64) -> String {
    if p.is_mini_program_host() {
        return mini_id(seed, p, j);
    }
    let word = entity(seed, entity_of(seed, j).0).word;
    let has_android =
        matches!(p, Platform::Ios | Platform::Harmony) && meta(seed, j).layout.android();
    app_id(seed, p, j, &word, &app_words(seed, j), has_android)
}
