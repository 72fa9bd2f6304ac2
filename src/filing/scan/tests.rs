//! Differential tests: the canonical scanner against serde_json + `from_wire` on generated
//! lines and on mutations of them.

use super::*;
use crate::filing::record::parse_line;
use crate::generate;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The property: whatever the scanner accepts, the reference accepts as the same record.
/// Returns whether the scanner accepted.
fn agree(line: &str) -> bool {
    let slow = parse_line(line);
    let Some(fast) = scan_canonical(line) else {
        return false;
    };
    match &slow {
        Ok(slow) => {
            assert_eq!(fast, slow.borrowed(), "{line}");
            assert_eq!(&fast.to_record(), slow, "{line}");
        }
        Err(e) => panic!("scanner accepted a line the reference rejects ({e}): {line}"),
    }
    true
}

fn lines(n: u64) -> Vec<String> {
    let mut out = Vec::new();
    generate::generate_range(7, 0..n, &mut out).unwrap();
    String::from_utf8(out)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn every_generated_line_takes_the_fast_path() {
    for l in lines(3_000) {
        assert!(agree(&l), "not scanned: {l}");
    }
}

const BYTES: &[u8] = b"\"\\,:{}[] aA09-._xXBf\t\x01";
const PIECES: &[&str] = &[
    "号", "Ａ", "\u{3000}", "京", "\u{0301}", "é", "\\u0041", "null",
];

fn mutate(rng: &mut ChaCha8Rng, line: &str) -> Option<String> {
    let mut b = line.as_bytes().to_vec();
    let p = rng.gen_range(0..b.len());
    match rng.gen_range(0..5) {
        0 => {
            b.remove(p);
        }
        1 => b[p] = BYTES[rng.gen_range(0..BYTES.len())],
        2 => b.insert(p, BYTES[rng.gen_range(0..BYTES.len())]),
        3 => {
            let piece = PIECES[rng.gen_range(0..PIECES.len())].as_bytes();
            b.splice(p..p, piece.iter().copied());
        }
        _ => {
            let q = rng.gen_range(p..b.len().min(p + 40));
            let dup = b[p..q].to_vec();
            b.splice(q..q, dup);
        }
    }
    String::from_utf8(b).ok()
}

#[test]
fn mutated_lines_never_diverge() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let (mut tried, mut scanned) = (0, 0);
    for l in lines(1_500) {
        for _ in 0..25 {
            let Some(m) = mutate(&mut rng, &l) else {
                continue;
            };
            tried += 1;
            scanned += agree(&m) as u32;
        }
    }
    // Many mutations (a changed letter in a name or id) stay valid and canonical; the property
    // must have been exercised on accepted lines, not only on bailed-out ones.
    assert!(
        tried > 30_000 && scanned > 3_000,
        "{tried} tried, {scanned} scanned"
    );
}

/// Targeted edits: each is either still canonical and valid, or must not be scanned.
#[test]
fn edge_cases_agree() {
    let base = r#"{"number":"京ICP备12345678号-1A","status":"active","entity":"某公司","app_name":"x","updated":"2024-03-01T00:00:00Z","platforms":[{"platform":"android","ids":["com.a.b"],"signers":[{"md5":"00112233445566778899aabbccddeeff"}]}]}"#;
    let cases: &[(&str, &str, bool)] = &[
        ("", "", true),
        ("\"android\"", "\"Android\"", true),
        ("号-1A", "号-1a", false),
        ("京ICP备", "京ＩＣＰ备", true),
        ("\"com.a.b\"", "\"com.a.b\",\"com.a.b\"", true),
        ("\"md5\":\"0011", "\"md5\":\"00:11", true),
        ("\"md5\":\"0011", "\"md5\":\"AABB", true),
        (
            "[{\"md5\"",
            "[{\"sha1\":\"00112233445566778899aabbccddeeff00112233\",\"md5\"",
            false,
        ),
        (
            "\"signers\":[{\"md5\":\"00112233445566778899aabbccddeeff\"}]",
            "\"signers\":[]",
            false,
        ),
        (
            "{\"md5\":\"00112233445566778899aabbccddeeff\"}",
            "{}",
            false,
        ),
        ("\"x\"", "\"x\\n\"", false),
        ("\"某公司\"", "\" \"", false),
        ("\"active\"", "\"Active\"", false),
        (",\"updated\":\"2024-03-01T00:00:00Z\"", "", true),
        ("\"status\"", "\"kind\":\"app\",\"status\"", true),
        (
            "\"number\":\"京ICP备12345678号-1A\",",
            "\"number\":\"京ICP备12345678号-1A\",\"kind\":\"app\",",
            true,
        ),
        (
            "\"number\":\"京ICP备12345678号-1A\",",
            "\"number\":\"京ICP备12345678号-1A\",\"kind\":\"mini_program\",",
            false,
        ),
        (
            "}]}]}",
            "}]},{\"platform\":\"android\",\"ids\":[\"com.c.d\"]}]}",
            false,
        ),
        (
            "}]}]}",
            "}]},{\"platform\":\"ios\",\"ids\":[\"com.C.d\"]}]}",
            true,
        ),
        (
            "}]}]}",
            "}]},{\"platform\":\"wechat\",\"ids\":[\"wx84c222762738ce75\"]}]}",
            false,
        ),
        ("}]}]}", "}]}]} ", false),
        ("{\"number\"", "{ \"number\"", false),
        ("\"platforms\":[", "\"platforms\":[],\"x\":[", false),
    ];
    for (from, to, fast) in cases {
        let line = base.replacen(from, to, 1);
        assert_eq!(agree(&line), *fast, "{line}");
    }
}

/// The eight-at-a-time search finds exactly the first quote, backslash or control byte.
#[test]
fn string_end_finds_the_first_special_byte() {
    let naive = |b: &[u8]| b.iter().position(|&c| c == b'"' || c == b'\\' || c < 0x20);
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let alphabet: &[u8] = b"\"\\\x00\x1f\x20\x21\x7f\x80\xff\x5b\x5d\x22aZ09";
    for _ in 0..20_000 {
        let n = rng.gen_range(0..40);
        let b: Vec<u8> = (0..n)
            .map(|_| {
                if rng.gen_bool(0.85) {
                    rng.gen_range(0x23..0x5b)
                } else {
                    alphabet[rng.gen_range(0..alphabet.len())]
                }
            })
            .collect();
        assert_eq!(string_end(&b), naive(&b), "{b:?}");
    }
}
