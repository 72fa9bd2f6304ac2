//! Platforms and app identifiers: the grammar of each platform's id (domain.md §2) and the
//! index key derived from it.
//!
//! Owns: `Platform`, `validate`, and `index_key` (iOS bundle ids are case-insensitive at Apple's
//! registration layer, so they are indexed ASCII-lowercased; every other id matches exactly).
//! Must not: allocate on the hot path except when an iOS id needs case folding, or accept an id
//! its platform's grammar rejects.
//! Invariant: `validate(p, id).is_ok()` implies `index_key(p, id)` is non-empty ASCII.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

/// Where an app runs: an app platform or a mini-program host. Ids are unique only within one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Platform {
    Android = 0,
    Ios = 1,
    Harmony = 2,
    QuickApp = 3,
    Wechat = 4,
    Alipay = 5,
    Douyin = 6,
    Baidu = 7,
    Qq = 8,
    Kuaishou = 9,
}

impl Platform {
    pub const ALL: [Platform; 10] = [
        Platform::Android,
        Platform::Ios,
        Platform::Harmony,
        Platform::QuickApp,
        Platform::Wechat,
        Platform::Alipay,
        Platform::Douyin,
        Platform::Baidu,
        Platform::Qq,
        Platform::Kuaishou,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Android => "android",
            Platform::Ios => "ios",
            Platform::Harmony => "harmony",
            Platform::QuickApp => "quickapp",
            Platform::Wechat => "wechat",
            Platform::Alipay => "alipay",
            Platform::Douyin => "douyin",
            Platform::Baidu => "baidu",
            Platform::Qq => "qq",
            Platform::Kuaishou => "kuaishou",
        }
    }

    pub fn from_u8(v: u8) -> Option<Platform> {
        Platform::ALL.get(v as usize).copied()
    }

    /// True for the mini-program hosts, whose filings carry the X suffix.
    pub fn is_mini_program_host(self) -> bool {
        self as u8 >= Platform::Wechat as u8
    }

    /// The platforms an id of this platform could also have been filed under; used to tell
    /// "filed for another platform only" from "not filed".
    pub fn siblings(self) -> &'static [Platform] {
        const APPS: [Platform; 4] = [
            Platform::Android,
            Platform::Ios,
            Platform::Harmony,
            Platform::QuickApp,
        ];
        const HOSTS: [Platform; 6] = [
            Platform::Wechat,
            Platform::Alipay,
            Platform::Douyin,
            Platform::Baidu,
            Platform::Qq,
            Platform::Kuaishou,
        ];
        if self.is_mini_program_host() {
            &HOSTS
        } else {
            &APPS
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown platform name.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown platform {0:?} (expected one of android, ios, harmony, quickapp, wechat, alipay, douyin, baidu, qq, kuaishou)")]
pub struct UnknownPlatform(pub String);

impl FromStr for Platform {
    type Err = UnknownPlatform;
    fn from_str(s: &str) -> Result<Platform, UnknownPlatform> {
        Platform::ALL
            .iter()
            .copied()
            .find(|p| p.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownPlatform(s.to_string()))
    }
}

/// Why an identifier does not fit its platform's grammar.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{platform} identifier {id:?} is invalid: {rule}")]
pub struct InvalidId {
    pub platform: Platform,
    pub id: String,
    pub rule: &'static str,
}

fn is_alnum(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}

/// Dot-separated segments, each checked by `seg`; at least `min_segments` of them.
fn segments(id: &str, min_segments: usize, seg: impl Fn(&[u8]) -> bool) -> bool {
    let mut n = 0;
    for s in id.as_bytes().split(|&b| b == b'.') {
        if s.is_empty() || !seg(s) {
            return false;
        }
        n += 1;
    }
    n >= min_segments
}

fn hex_lower(b: &[u8]) -> bool {
    b.iter()
        .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c))
}

/// Android's package-name grammar without its length limit, in one pass: dot-separated
/// segments (at least two), each a letter followed by letters, digits and `_`. The same
/// language as `segments(id, 2, |s| s[0] is a letter && every byte is alnum or _)`, which
/// the tests check it against; it is every list item's and request's check, so it runs as
/// one loop with no split.
fn android_name(b: &[u8]) -> bool {
    let mut dots = 0usize;
    // At the start of a segment: the next byte must be a letter.
    let mut start = true;
    for &c in b {
        if start {
            if !c.is_ascii_alphabetic() {
                return false;
            }
            start = false;
        } else if c == b'.' {
            dots += 1;
            start = true;
        } else if !(is_alnum(c) || c == b'_') {
            return false;
        }
    }
    !start && dots >= 1
}

/// Checks `id` against `platform`'s grammar. Returns the rule that failed.
pub fn validate(platform: Platform, id: &str) -> Result<(), InvalidId> {
    match broken_rule(platform, id) {
        None => Ok(()),
        Some(rule) => Err(InvalidId {
            platform,
            id: id.to_string(),
            rule,
        }),
    }
}

/// True when `id` fits `platform`'s grammar (`validate` without building the error).
pub fn fits(platform: Platform, id: &str) -> bool {
    broken_rule(platform, id).is_none()
}

/// The grammar rule of `platform` that `id` breaks, if any.
fn broken_rule(platform: Platform, id: &str) -> Option<&'static str> {
    let b = id.as_bytes();
    match platform {
        Platform::Android => (b.len() > 223 || !android_name(b))
        .then_some("letters, digits and _ in at least two dot-separated segments, each starting with a letter, at most 223 bytes"),
        Platform::Ios => (b.len() > 255
            || !segments(id, 2, |s| s.iter().all(|&c| is_alnum(c) || c == b'-')))
        .then_some("letters, digits and - in at least two dot-separated segments, at most 255 bytes"),
        Platform::Harmony => (!(7..=128).contains(&b.len())
            || !segments(id, 3, |s| {
                s.iter().all(|&c| is_alnum(c) || c == b'_') && is_alnum(s[s.len() - 1])
            })
            || !b[0].is_ascii_alphabetic())
        .then_some("7-128 bytes, at least three dot-separated segments of letters, digits and _, starting with a letter, no segment ending in _"),
        Platform::QuickApp => (b.len() > 255
            || !b.first().is_some_and(|c| c.is_ascii_alphabetic())
            || !b.contains(&b'.')
            || b.last() == Some(&b'.')
            || !b.iter().all(|&c| is_alnum(c) || c == b'_' || c == b'.'))
        .then_some("letters, digits, . and _, starting with a letter, containing a dot, not ending in a dot, at most 255 bytes"),
        Platform::Wechat => (b.len() != 18 || !id.starts_with("wx") || !hex_lower(&b[2..]))
            .then_some("wx followed by 16 lowercase hex digits"),
        Platform::Alipay => (!b.iter().all(u8::is_ascii_digit)
            || !(b.len() == 8 || (b.len() == 16 && id.starts_with("20"))))
        .then_some("16 digits starting 20, or an 8-digit built-in app id"),
        Platform::Douyin => (!(b.len() == 18 || b.len() == 20)
            || !id.starts_with("tt")
            || !hex_lower(&b[2..]))
        .then_some("tt followed by 16 or 18 lowercase hex digits"),
        Platform::Baidu => (b.len() != 32 || !b.iter().all(|&c| is_alnum(c)))
            .then_some("32 letters and digits"),
        Platform::Qq => (b.len() != 10 || !b.iter().all(u8::is_ascii_digit)).then_some("10 digits"),
        Platform::Kuaishou => (b.len() != 20
            || !id.starts_with("ks")
            || !b[2..].iter().all(u8::is_ascii_digit))
        .then_some("ks followed by 18 digits"),
    }
}

/// The key an id is indexed under: iOS bundle ids ASCII-lowercased, everything else as is.
pub fn index_key(platform: Platform, id: &str) -> Cow<'_, str> {
    if platform == Platform::Ios && id.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(id.to_ascii_lowercase())
    } else {
        Cow::Borrowed(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(p: Platform, id: &str) {
        assert!(
            validate(p, id).is_ok(),
            "{p} {id} should be valid: {:?}",
            validate(p, id)
        );
    }
    fn bad(p: Platform, id: &str) {
        assert!(validate(p, id).is_err(), "{p} {id} should be invalid");
    }

    #[test]
    fn android() {
        ok(Platform::Android, "com.tencent.mm");
        ok(Platform::Android, "com.BV.LinearGradient");
        ok(Platform::Android, "io.github.benderblog.traintime_pda");
        bad(Platform::Android, "tencent");
        bad(Platform::Android, "com.1tencent");
        bad(Platform::Android, "com._x");
        bad(Platform::Android, "com..x");
        bad(Platform::Android, "com.x.");
        bad(Platform::Android, "com.x-y");
        bad(Platform::Android, &format!("a.{}", "b".repeat(222)));
    }

    #[test]
    fn android_in_one_pass_is_the_segment_grammar() {
        let by_segments = |id: &str| {
            segments(id, 2, |s| {
                s[0].is_ascii_alphabetic() && s.iter().all(|&c| is_alnum(c) || c == b'_')
            })
        };
        let alphabet = ['a', 'Z', '0', '9', '_', '.', '-', 'é', ' '];
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = (x % 9) as usize;
            let id: String = (0..len)
                .map(|i| alphabet[(x >> (8 + 4 * i)) as usize % alphabet.len()])
                .collect();
            assert_eq!(android_name(id.as_bytes()), by_segments(&id), "{id:?}");
        }
        for id in [
            "", ".", "a.", ".a", "a.b", "a..b", "a.1", "a_.b_", "_a.b", "a.b.c9",
        ] {
            assert_eq!(android_name(id.as_bytes()), by_segments(id), "{id:?}");
        }
    }

    #[test]
    fn ios() {
        ok(Platform::Ios, "xyz.superbart.xdyou");
        ok(Platform::Ios, "com.my-app.Foo");
        bad(Platform::Ios, "com.my_app");
        bad(Platform::Ios, "single");
    }

    #[test]
    fn harmony_and_quickapp() {
        ok(Platform::Harmony, "com.huawei.hmos.demo");
        bad(Platform::Harmony, "com.demo");
        bad(Platform::Harmony, "com.demo_.app");
        ok(Platform::QuickApp, "com.example.quick_game");
        bad(Platform::QuickApp, "1com.example");
        bad(Platform::QuickApp, "example");
    }

    #[test]
    fn mini_programs() {
        ok(Platform::Wechat, "wx84c222762738ce75");
        bad(Platform::Wechat, "wx84C222762738CE75");
        bad(Platform::Wechat, "wx84c222762738ce7");
        ok(Platform::Alipay, "2021001102642986");
        ok(Platform::Alipay, "20000056");
        bad(Platform::Alipay, "1021001102642986");
        ok(Platform::Douyin, "tt411d37a0de37d565");
        ok(Platform::Douyin, "tt444232ffdb7d201201");
        bad(Platform::Douyin, "tt411d37a0de37d5650");
        ok(Platform::Baidu, "4fecoAqgCIUtzIyA4FAPgoyrc4oUc25c");
        bad(Platform::Baidu, "4fecoAqgCIUtzIyA4FAPgoyrc4oUc25");
        ok(Platform::Qq, "1112112167");
        bad(Platform::Qq, "111211216");
        ok(Platform::Kuaishou, "ks717479719227682172");
        bad(Platform::Kuaishou, "ks71747971922768217x");
    }

    #[test]
    fn ios_keys_fold_case_others_do_not() {
        assert_eq!(index_key(Platform::Ios, "Com.Foo.Bar"), "com.foo.bar");
        assert_eq!(index_key(Platform::Android, "com.BV.X"), "com.BV.X");
    }

    #[test]
    fn platform_names_round_trip() {
        for p in Platform::ALL {
            assert_eq!(p.as_str().parse::<Platform>(), Ok(p));
            assert_eq!(Platform::from_u8(p as u8), Some(p));
        }
        assert!("symbian".parse::<Platform>().is_err());
    }
}
