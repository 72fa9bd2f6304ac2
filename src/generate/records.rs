//! Records: a filing assembled from its metadata, entity and ids, with its app name, update
//! time and signers.
//!
//! Owns the order of a record's draws from `D_RECORD` (name, time, then signers platform by
//! platform): output stays byte-identical only while that order does.
//! Must not: produce a filing number outside the grammar (`FilingNumber::parse` accepts it).
//! Invariant: `build(seed, i)` is a pure function of `(seed, i)`.

use super::draw::{rng, D_RECORD};
use super::entities::{entity, entity_of};
use super::ids::{android_id, app_id, app_words, id_for, mini_id, AppWords};
use super::meta::{meta, shares_previous, Meta};
use super::names::*;
use crate::filing::{FilingNumber, FilingRecord, Platform, PlatformFiling, ServiceKind, Signer};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// 2023-09-01T00:00:00Z, when app filing began, and 2026-05-01T00:00:00Z (exclusive).
pub(super) const UPDATED_FROM: u64 = 1_693_526_400;
pub(super) const UPDATED_TO: u64 = 1_777_593_600;

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
pub(super) fn build(seed: u64, i: u64) -> (FilingRecord, bool) {
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
    let platforms = match m.kind {
        ServiceKind::App => app_platforms(seed, i, &m, &ent.word, &w, shared, &mut r),
        ServiceKind::MiniProgram => vec![PlatformFiling {
            platform: m.host,
            ids: vec![mini_id(seed, m.host, i)],
            signers: Vec::new(),
        }],
        ServiceKind::QuickApp => vec![PlatformFiling {
            platform: Platform::QuickApp,
            ids: vec![app_id(seed, Platform::QuickApp, i, &ent.word, &w, false)],
            signers: Vec::new(),
        }],
    };
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

/// An app filing's platforms in the order android, ios, harmony, as its layout lists them;
/// the signers are drawn from `r` in that order.
fn app_platforms(
    seed: u64,
    i: u64,
    m: &Meta,
    word: &str,
    w: &AppWords,
    shared: bool,
    r: &mut ChaCha8Rng,
) -> Vec<PlatformFiling> {
    let mut platforms = Vec::with_capacity(3);
    let has_android = m.layout.android();
    if has_android {
        platforms.push(android(seed, i, word, w, shared, r));
    }
    for (on, p, sha1) in [
        (m.layout.ios(), Platform::Ios, true),
        (m.layout.harmony(), Platform::Harmony, false),
    ] {
        if on {
            platforms.push(PlatformFiling {
                platform: p,
                ids: vec![app_id(seed, p, i, word, w, has_android)],
                signers: vec![signer(r, false, sha1, !sha1)],
            });
        }
    }
    platforms
}

/// The android filing: its own package (and sometimes a lite one), or the previous record's
/// when `shared`; an MD5 signer, sometimes with SHA-256, sometimes a second signer.
fn android(
    seed: u64,
    i: u64,
    word: &str,
    w: &AppWords,
    shared: bool,
    r: &mut ChaCha8Rng,
) -> PlatformFiling {
    let own = android_id(seed, i, word, w);
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
    let mut signers = vec![signer(r, true, false, with_sha256)];
    if r.gen_range(0..100u32) < 2 {
        signers.push(signer(r, true, false, false));
    }
    PlatformFiling {
        platform: Platform::Android,
        ids,
        signers,
    }
}
