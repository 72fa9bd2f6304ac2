//! Parsers of untrusted input never panic: deterministic random bytes and mutations of valid
//! inputs through the filing-number parser, the record parser, the snapshot loader and the JSON
//! pointer extractor. (Property tests that run on the stable toolchain in CI.)

use icpgate::extract::json;
use icpgate::filing::record::parse_line;
use icpgate::filing::{validate, FilingNumber, Platform};
use icpgate::index::parse_snapshot;
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

const SEEDS: &[&str] = &[
    r#"{"number":"陕ICP备2024026116号-1A","status":"active","entity":"西安电子科技大学","app_name":"XDYou","updated":"2024-03-01T00:00:00Z","platforms":[{"platform":"ios","ids":["xyz.superbart.xdyou"],"signers":[{"sha1":"aabbccddeeff00112233445566778899aabbccdd"}]},{"platform":"android","ids":["io.github.benderblog.traintime_pda"],"signers":[{"md5":"00112233445566778899aabbccddeeff"}]}]}"#,
    r#"{"number":"粤B2-20090059-1626X","status":"revoked","entity":"腾讯","app_name":"客服","platforms":[{"platform":"wechat","ids":["wx84c222762738ce75"]}]}"#,
    r#"{"app":{"platform":"ios","id":"xyz.superbart.xdyou","list":[1,2,{"x":null}]},"n":2021001102642986}"#,
];

fn mutate(rng: &mut ChaCha8Rng, seed: &[u8]) -> Vec<u8> {
    let mut b = seed.to_vec();
    for _ in 0..rng.gen_range(1..6) {
        if b.is_empty() {
            break;
        }
        let at = rng.gen_range(0..b.len());
        match rng.gen_range(0..4) {
            0 => b[at] = rng.gen(),
            1 => b.truncate(at),
            2 => {
                let pool = "{}[]\",:\\0-ICP备号".as_bytes();
                b.insert(at, pool[rng.gen_range(0..pool.len())]);
            }
            _ => {
                let end = (at + rng.gen_range(1..20)).min(b.len());
                let chunk = b[at..end].to_vec();
                b.splice(at..at, chunk);
            }
        }
    }
    b
}

fn inputs(n: usize) -> impl Iterator<Item = Vec<u8>> {
    let mut rng = ChaCha8Rng::seed_from_u64(0x1c9_9a7e);
    (0..n).map(move |i| {
        if i % 4 == 0 {
            let mut b = vec![0u8; rng.gen_range(0..300)];
            rng.fill_bytes(&mut b);
            b
        } else {
            let seed = SEEDS[i % SEEDS.len()].as_bytes();
            mutate(&mut rng, seed)
        }
    })
}

#[test]
fn record_and_number_parsers_never_panic() {
    let mut accepted = 0;
    for b in inputs(20_000) {
        let s = String::from_utf8_lossy(&b);
        if let Ok(r) = parse_line(&s) {
            accepted += 1;
            let again = serde_json::to_string(&r.to_wire()).unwrap();
            assert_eq!(
                parse_line(&again).unwrap(),
                r,
                "accepted records round-trip"
            );
        }
        let _ = FilingNumber::parse(&s);
        for p in Platform::ALL {
            let _ = validate(p, &s);
        }
    }
    assert!(accepted > 0, "mutations should sometimes stay valid");
}

#[test]
fn snapshot_loader_never_panics_and_counts_every_line() {
    let mut text = Vec::new();
    let mut lines = 0;
    for b in inputs(3_000) {
        let line: Vec<u8> = b.into_iter().filter(|&c| c != b'\n').collect();
        text.extend_from_slice(&line);
        text.push(b'\n');
        lines += 1;
    }
    let (rev, report) = parse_snapshot(&text, 1, "fuzz", true);
    let blank = text
        .split(|&c| c == b'\n')
        .filter(|l| l.iter().all(u8::is_ascii_whitespace))
        .count()
        - 1;
    assert_eq!(report.accepted + report.rejected, (lines - blank) as u64);
    assert_eq!(rev.stats.records, report.accepted);
    for r in rev.records() {
        for p in &r.platforms {
            for id in &p.ids {
                assert!(!rev.lookup(p.platform, id).is_empty());
            }
        }
    }
}

#[test]
fn json_pointer_extractor_never_panics() {
    let ptrs: Vec<Vec<String>> = ["/app/id", "/n", "/app/list/2/x", "/", "/app/list/99"]
        .iter()
        .map(|p| p[1..].split('/').map(String::from).collect())
        .collect();
    for b in inputs(20_000) {
        for p in &ptrs {
            let _ = json::extract(&b, p);
        }
    }
    let deep = "[".repeat(100_000);
    assert!(
        json::extract(deep.as_bytes(), &ptrs[0]).is_err(),
        "deep nesting is refused, not a stack overflow"
    );
}
