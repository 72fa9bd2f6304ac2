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

    /// `siblings` without this platform, in their order.
    pub fn other_siblings(self) -> &'static [Platform] {
        use Platform::*;
        match self {
            Android => &[Ios, Harmony, QuickApp],
            Ios => &[Android, Harmony, QuickApp],
            Harmony => &[Android, Ios, QuickApp],
            QuickApp => &[Android, Ios, Harmony],
            Wechat => &[Alipay, Douyin, Baidu, Qq, Kuaishou],
            Alipay => &[Wechat, Douyin, Baidu, Qq, Kuaishou],
            Douyin => &[Wechat, Alipay, Baidu, Qq, Kuaishou],
            Baidu => &[Wechat, Alipay, Douyin, Qq, Kuaishou],
            Qq => &[Wechat, Alipay, Douyin, Baidu, Kuaishou],
            Kuaishou => &[Wechat, Alipay, Douyin, Baidu, Qq],
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
/// the tests check it against; it is every list item's and request's check, so it reads
/// eight bytes at a time (`word_classes`) with no branch on the id's bytes: every byte is a
/// letter, digit, `_` or `.`, and the byte after each `.` (and the first byte, as if a dot
/// came before it) is a letter. A last, partial word is padded with zero bytes, which are no
/// letter: a trailing dot fails on the padding, or past a full last word on the lane it
/// leaves for the next.
#[inline]
fn android_name(b: &[u8]) -> bool {
    // Byte lanes that must hold a letter: the first, and each one after a dot.
    let mut after_dot = 0x80u64;
    let (mut bad, mut dots) = (0u64, 0u64);
    let mut check = |w: u64, lanes: u64| {
        let c = word_classes(w);
        bad |= lanes & !(c.letter | c.digit | c.underscore | c.dot);
        bad |= (c.dot << 8 | after_dot) & !c.letter;
        dots |= c.dot & lanes;
        after_dot = c.dot >> 56;
    };
    let mut words = b.chunks_exact(8);
    for w in &mut words {
        check(u64::from_le_bytes(w.try_into().unwrap_or_default()), HIGH);
    }
    let rest = words.remainder();
    if !rest.is_empty() {
        // The last eight bytes of the id, shifted down past the ones already checked (no copy
        // of a short tail); an id shorter than a word is gathered byte by byte.
        let w = match b.len().checked_sub(8) {
            Some(at) => {
                let last = u64::from_le_bytes(b[at..].try_into().unwrap_or_default());
                last >> (64 - 8 * rest.len())
            }
            None => rest.iter().rev().fold(0u64, |w, &c| w << 8 | u64::from(c)),
        };
        check(w, HIGH >> (64 - 8 * rest.len()));
    }
    (bad | after_dot) == 0 && dots != 0
}

/// The high bit of every byte lane of a word.
const HIGH: u64 = 0x8080_8080_8080_8080;
/// Every byte lane of a word set to 1.
const ONES: u64 = 0x0101_0101_0101_0101;

/// The ASCII classes of a word's eight bytes, each as the high bit of its lane; a byte of
/// 0x80 or above is in none of them.
struct Classes {
    letter: u64,
    digit: u64,
    underscore: u64,
    dot: u64,
}

/// Classifies the bytes of `w` (SWAR: on the low seven bits of each lane, where adding a
/// constant below 0x80 cannot carry into the next lane, the high bit says how it compared).
#[inline]
fn word_classes(w: u64) -> Classes {
    let ascii = !w & HIGH;
    let low = w & !HIGH;
    // High bit set where the lane is at least `lo` / more than `hi`.
    let at_least = |x: u64, lo: u8| x + (0x80 - lo as u64) * ONES;
    let above = |x: u64, hi: u8| x + (0x7f - hi as u64) * ONES;
    let within = |x: u64, lo: u8, hi: u8| at_least(x, lo) & !above(x, hi);
    let equal = |x: u64, c: u8| !((x ^ (c as u64 * ONES)) + 0x7f * ONES);
    Classes {
        // ASCII letters are the lanes that OR 0x20 into a..=z.
        letter: ascii & within(low | (0x20 * ONES), b'a', b'z'),
        digit: ascii & within(low, b'0', b'9'),
        underscore: ascii & equal(low, b'_'),
        dot: ascii & equal(low, b'.'),
    }
}

/// Checks `id` against `platform`'s grammar. Returns the rule that failed.
#[inline]
pub fn validate(platform: Platform, id: &str) -> Result<(), InvalidId> {
    // Android's check, the one of nearly every list item and request, inline in the caller;
    // every other platform's, and the error, out of line.
    if platform == Platform::Android && fits_android(id.as_bytes()) {
        return Ok(());
    }
    check(platform, id)
}

/// `validate` out of line.
fn check(platform: Platform, id: &str) -> Result<(), InvalidId> {
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

/// True when `b` is an Android package name of at most 223 bytes.
#[inline]
fn fits_android(b: &[u8]) -> bool {
    b.len() <= 223 && android_name(b)
}

/// The grammar rule of `platform` that `id` breaks, if any.
fn broken_rule(platform: Platform, id: &str) -> Option<&'static str> {
    let b = id.as_bytes();
    match platform {
        Platform::Android => (!fits_android(b))
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

    /// The reference: Android's rule written segment by segment.
    fn android_by_segments(id: &str) -> bool {
        segments(id, 2, |s| {
            s[0].is_ascii_alphabetic() && s.iter().all(|&c| is_alnum(c) || c == b'_')
        })
    }

    #[test]
    fn android_in_one_pass_is_the_segment_grammar() {
        // Short ids over a small alphabet (every byte class, a two-byte character, a space),
        // then ids of up to 48 bytes (six words) built as segments and then damaged or not, so
        // that valid ids are common and every byte position of a word meets a dot, a segment
        // start and a wrong byte; each compared with the segment-by-segment rule.
        let alphabet = ['a', 'Z', '0', '9', '_', '.', '-', 'é', ' '];
        let (letters, rest) = (b"aqzAMZ", b"aqzAMZ0479_");
        let wrong = [
            b'-', b' ', b'/', b':', b'@', b'[', b'`', b'{', b'.', b'_', b'5', 0x7f, 0x80, 0xc3,
            0xff, 0,
        ];
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let (mut valid_seen, mut total) = (0, 0);
        for _ in 0..200_000 {
            let r = next();
            let len = (r % 9) as usize;
            let id: String = (0..len)
                .map(|i| alphabet[(r >> (8 + 4 * i)) as usize % alphabet.len()])
                .collect();
            assert_eq!(
                android_name(id.as_bytes()),
                android_by_segments(&id),
                "{id:?}"
            );
        }
        for _ in 0..400_000 {
            let mut b = Vec::new();
            for s in 0..1 + next() % 5 {
                if s > 0 {
                    b.push(b'.');
                }
                b.push(letters[next() as usize % letters.len()]);
                for _ in 0..next() % 10 {
                    b.push(rest[next() as usize % rest.len()]);
                }
            }
            b.truncate(48);
            // Half the ids keep their shape; the others get one to three bytes replaced.
            if next() % 2 == 0 {
                for _ in 0..1 + next() % 3 {
                    let at = next() as usize % b.len();
                    b[at] = wrong[next() as usize % wrong.len()];
                }
            }
            // Only a str can be an id; bytes that are not UTF-8 fit no grammar.
            let reference = std::str::from_utf8(&b).is_ok_and(android_by_segments);
            assert_eq!(
                android_name(&b),
                reference,
                "{:?}",
                String::from_utf8_lossy(&b)
            );
            valid_seen += reference as usize;
            total += 1;
        }
        assert!(
            valid_seen > total / 4,
            "{valid_seen} of {total} ids valid: too few to test"
        );
        assert!(
            valid_seen < total * 3 / 4,
            "{valid_seen} of {total} ids valid: too many"
        );
        for id in [
            "",
            ".",
            "a.",
            ".a",
            "a.b",
            "a..b",
            "a.1",
            "a_.b_",
            "_a.b",
            "a.b.c9",
            "abcdefg.",
            "abcdefgh.",
            "abcdefgh.i",
            "abcdefg.h",
            "abcdefg.1",
            "abcdefghijklmno.",
            "a.bcdefgh",
            "a.bcdefghijklmnop",
            "abcdefgh",
            "abcdefghijklmnop",
            "com.tencent.mm",
            "com.example.éa",
            "com.exa\u{0}mple",
        ] {
            assert_eq!(
                android_name(id.as_bytes()),
                android_by_segments(id),
                "{id:?}"
            );
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
    fn other_siblings_are_the_siblings_but_self() {
        for p in Platform::ALL {
            let others: Vec<Platform> = p.siblings().iter().copied().filter(|&s| s != p).collect();
            assert_eq!(p.other_siblings(), others, "{p}");
        }
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
