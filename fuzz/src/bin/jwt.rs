//! Fuzzes JWT verification (`tokens::jwt::verify`): any token against a one-key Ed25519 JWKS.
//! It must answer and never panic, and it must accept exactly one token: the one signed at
//! start. A mutated copy that still verifies (a second base64 spelling of a part, a malleable
//! signature, a header or payload read two ways) fails the run.
//!
//! `ICPGATE_FUZZ_PRINT=1` prints the signed token (fuzz/seeds/jwt/valid is that token).

use icpgate::config::{Config, Source, TokenKind};
use icpgate::tokens::jwt::verify;
use ring::signature::{Ed25519KeyPair, KeyPair};

/// Base64url without padding.
fn b64(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

/// The verification spec of a config with one JWT route over a JWKS holding `key`'s public key.
fn spec(key: &Ed25519KeyPair) -> icpgate::config::JwtSpec {
    let dir = std::env::temp_dir().join(format!("icpgate-fuzz-jwt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let x = b64(key.public_key().as_ref());
    let jwks = format!(r#"{{"keys":[{{"kty":"OKP","crv":"Ed25519","kid":"k","x":"{x}"}}]}}"#);
    std::fs::write(dir.join("jwks.json"), jwks).unwrap();
    std::fs::write(dir.join("snap.ndjson"), "").unwrap();
    let text = r#"[[listener]]
name = "l"
address = "127.0.0.1:0"
[index]
snapshot = "snap.ndjson"
[[upstream]]
name = "u"
url = "http://127.0.0.1:9"
[[route]]
name = "r"
path = "/api"
upstream = "u"
platform = "wechat"
extract = [{ jwt = { header = "authorization", claim = "/appid", keys = "jwks.json" } }]
"#;
    let cfg = Config::parse(text, &dir.join("gw.toml")).unwrap_or_else(|e| panic!("{e}"));
    let _ = std::fs::remove_dir_all(&dir);
    match &cfg.routes[0].extract[0] {
        Source::Token(t) => match &t.kind {
            TokenKind::Jwt(spec) => spec.clone(),
            _ => unreachable!("the route reads a jwt"),
        },
        _ => unreachable!("the route reads a token"),
    }
}

fn main() {
    let key = Ed25519KeyPair::from_seed_unchecked(&[7; 32]).unwrap();
    let spec = spec(&key);
    let signed = format!(
        "{}.{}",
        b64(br#"{"alg":"EdDSA","kid":"k","typ":"JWT"}"#),
        b64(br#"{"appid":"wx84c222762738ce75","exp":4102444800,"nbf":1700000000}"#)
    );
    let valid = format!("{signed}.{}", b64(key.sign(signed.as_bytes()).as_ref()));
    let now = 1_800_000_000.0;
    assert!(
        verify(&valid, &spec, now).is_ok(),
        "the signed token verifies"
    );
    if std::env::var_os("ICPGATE_FUZZ_PRINT").is_some() {
        println!("{valid}");
        return;
    }
    afl::fuzz!(|data: &[u8]| {
        let Ok(token) = std::str::from_utf8(data) else {
            return;
        };
        if verify(token, &spec, now).is_ok() {
            assert_eq!(token, valid, "a second token verifies");
        }
    });
}
