//! Unit tests of JWT verification with keys made at test time (Ed25519 and P-256 with ring,
//! RSA with the `rsa` crate).

use super::*;
use crate::config::{JwtKeys, VerifyKey};
use jsonwebtoken::DecodingKey;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, Ed25519KeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use std::sync::Arc;
use std::time::Duration;

const NOW: f64 = 1_700_000_000.0;

fn b64(b: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(b)
}

enum Signer {
    Ed(Ed25519KeyPair),
    Es(EcdsaKeyPair),
    Rs(Box<rsa::pkcs1v15::SigningKey<sha2::Sha256>>),
}

impl Signer {
    fn sign(&self, msg: &[u8]) -> Vec<u8> {
        match self {
            Signer::Ed(k) => k.sign(msg).as_ref().to_vec(),
            Signer::Es(k) => k.sign(&SystemRandom::new(), msg).unwrap().as_ref().to_vec(),
            Signer::Rs(k) => {
                use rsa::signature::{SignatureEncoding, Signer as _};
                k.sign(msg).to_vec()
            }
        }
    }
}

fn ed() -> (Signer, VerifyKey) {
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
    let k = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
    let key = DecodingKey::from_ed_components(&b64(k.public_key().as_ref())).unwrap();
    let vk = VerifyKey {
        kid: Some("ed".into()),
        alg: Algorithm::EdDSA,
        key,
    };
    (Signer::Ed(k), vk)
}

fn es() -> (Signer, VerifyKey) {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let k =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap();
    let pt = k.public_key().as_ref();
    let key = DecodingKey::from_ec_components(&b64(&pt[1..33]), &b64(&pt[33..65])).unwrap();
    let vk = VerifyKey {
        kid: Some("es".into()),
        alg: Algorithm::ES256,
        key,
    };
    (Signer::Es(k), vk)
}

fn rs() -> (Signer, VerifyKey) {
    use rsa::traits::PublicKeyParts;
    let k = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap();
    let key = DecodingKey::from_rsa_raw_components(&k.n().to_bytes_be(), &k.e().to_bytes_be());
    let vk = VerifyKey {
        kid: Some("rs".into()),
        alg: Algorithm::RS256,
        key,
    };
    (Signer::Rs(Box::new(rsa::pkcs1v15::SigningKey::new(k))), vk)
}

fn spec(keys: Vec<VerifyKey>) -> JwtSpec {
    JwtSpec {
        keys: Arc::new(JwtKeys {
            file: "jwks.json".into(),
            keys,
        }),
        claim: "/appid".into(),
        leeway: Duration::from_secs(5),
        require_exp: true,
        issuer: vec![],
        audience: vec![],
    }
}

fn token(s: &Signer, header: &str, payload: &str) -> String {
    let msg = format!("{}.{}", b64(header.as_bytes()), b64(payload.as_bytes()));
    let sig = s.sign(msg.as_bytes());
    format!("{msg}.{}", b64(&sig))
}

const GOOD: &str = r#"{"appid":"wx1234567890abcdef","exp":1700000100}"#;

#[test]
fn every_algorithm_verifies_with_its_key() {
    for ((s, k), alg) in [(ed(), "EdDSA"), (es(), "ES256"), (rs(), "RS256")] {
        let kid = k.kid.clone().unwrap();
        let sp = spec(vec![k]);
        let t = token(&s, &format!(r#"{{"alg":"{alg}","kid":"{kid}"}}"#), GOOD);
        let v = verify(&t, &sp, NOW).unwrap();
        assert_eq!(claim(&v, "/appid"), Ok(Some("wx1234567890abcdef")));
        // Without kid: tried against the keys of its alg.
        let t = token(&s, &format!(r#"{{"alg":"{alg}"}}"#), GOOD);
        assert!(verify(&t, &sp, NOW).is_ok(), "{alg} without kid");
        // One flipped payload byte.
        let forged = token(&s, &format!(r#"{{"alg":"{alg}"}}"#), GOOD);
        let mut parts: Vec<String> = forged.split('.').map(String::from).collect();
        parts[1] = b64(GOOD.replace("wx12", "wx13").as_bytes());
        assert_eq!(verify(&parts.join("."), &sp, NOW), Err(Cause::Signature));
    }
}

#[test]
fn time_claims_with_leeway() {
    let (s, k) = ed();
    let sp = spec(vec![k]);
    let h = r#"{"alg":"EdDSA"}"#;
    let at = |p: &str| verify(&token(&s, h, p), &sp, NOW);
    assert!(at(r#"{"exp":1700000003}"#).is_ok());
    assert!(at(r#"{"exp":1699999996}"#).is_ok(), "within the leeway");
    assert_eq!(at(r#"{"exp":1699999990}"#), Err(Cause::Expired));
    assert_eq!(at(r#"{"appid":"x"}"#), Err(Cause::Claims), "exp required");
    assert_eq!(
        at(r#"{"exp":"1700000100"}"#),
        Err(Cause::Claims),
        "a string exp"
    );
    assert_eq!(
        at(r#"{"exp":1700000100,"nbf":1700000060}"#),
        Err(Cause::NotYetValid)
    );
    assert!(at(r#"{"exp":1700000100,"nbf":1700000004}"#).is_ok());
    assert_eq!(
        at(r#"{"exp":1700000100,"nbf":"later"}"#),
        Err(Cause::Claims)
    );
    let lax = JwtSpec {
        require_exp: false,
        ..sp.clone()
    };
    assert!(verify(&token(&s, h, r#"{"appid":"x"}"#), &lax, NOW).is_ok());
}

#[test]
fn issuer_and_audience() {
    let (s, k) = ed();
    let sp = JwtSpec {
        issuer: vec!["https://id.example".into()],
        audience: vec!["gw".into()],
        ..spec(vec![k])
    };
    let h = r#"{"alg":"EdDSA"}"#;
    let at = |p: &str| verify(&token(&s, h, p), &sp, NOW);
    assert!(at(r#"{"exp":1700000100,"iss":"https://id.example","aud":"gw"}"#).is_ok());
    assert!(at(r#"{"exp":1700000100,"iss":"https://id.example","aud":["x","gw"]}"#).is_ok());
    assert_eq!(
        at(r#"{"exp":1700000100,"iss":"https://evil","aud":"gw"}"#),
        Err(Cause::Issuer)
    );
    assert_eq!(at(r#"{"exp":1700000100,"aud":"gw"}"#), Err(Cause::Issuer));
    assert_eq!(
        at(r#"{"exp":1700000100,"iss":["https://id.example"],"aud":"gw"}"#),
        Err(Cause::Issuer)
    );
    assert_eq!(
        at(r#"{"exp":1700000100,"iss":"https://id.example","aud":"other"}"#),
        Err(Cause::Audience)
    );
    assert_eq!(
        at(r#"{"exp":1700000100,"iss":"https://id.example","aud":[1]}"#),
        Err(Cause::Claims)
    );
}

#[test]
fn classic_attacks_are_refused() {
    let (s, k) = ed();
    let (_, rk) = es();
    let sp = spec(vec![k, rk]);
    // alg none, with an empty or any signature.
    let none = format!("{}.{}.", b64(br#"{"alg":"none"}"#), b64(GOOD.as_bytes()));
    assert_eq!(verify(&none, &sp, NOW), Err(Cause::Malformed));
    let none = format!("{}.{}.eA", b64(br#"{"alg":"none"}"#), b64(GOOD.as_bytes()));
    assert_eq!(verify(&none, &sp, NOW), Err(Cause::Algorithm));
    // HS256 with the public key as the secret: no key verifies HS256.
    let hs = format!(
        "{}.{}.c2ln",
        b64(br#"{"alg":"HS256"}"#),
        b64(GOOD.as_bytes())
    );
    assert_eq!(verify(&hs, &sp, NOW), Err(Cause::UnknownKey));
    let hs = format!(
        "{}.{}.c2ln",
        b64(br#"{"alg":"HS256","kid":"ed"}"#),
        b64(GOOD.as_bytes())
    );
    assert_eq!(verify(&hs, &sp, NOW), Err(Cause::Algorithm));
    // A kid naming another algorithm's key, an unknown kid.
    let t = token(&s, r#"{"alg":"EdDSA","kid":"es"}"#, GOOD);
    assert_eq!(verify(&t, &sp, NOW), Err(Cause::Algorithm));
    let t = token(&s, r#"{"alg":"EdDSA","kid":"nope"}"#, GOOD);
    assert_eq!(verify(&t, &sp, NOW), Err(Cause::UnknownKey));
    // Embedded or remote keys are not followed: the token's own jwk does not verify it.
    let (s2, _) = ed();
    let t = token(
        &s2,
        r#"{"alg":"EdDSA","jku":"https://evil/jwks","jwk":{"kty":"OKP"}}"#,
        GOOD,
    );
    assert_eq!(verify(&t, &sp, NOW), Err(Cause::Signature));
    // crit, duplicate header keys, duplicate payload keys anywhere.
    let t = token(&s, r#"{"alg":"EdDSA","crit":["b64"],"b64":false}"#, GOOD);
    assert_eq!(verify(&t, &sp, NOW), Err(Cause::Malformed));
    let t = token(&s, r#"{"alg":"HS256","alg":"EdDSA"}"#, GOOD);
    assert_eq!(verify(&t, &sp, NOW), Err(Cause::Malformed));
    let dup = r#"{"appid":"wx1234567890abcdef","appid":"wx0000000000000000","exp":1700000100}"#;
    assert_eq!(
        verify(&token(&s, r#"{"alg":"EdDSA"}"#, dup), &sp, NOW),
        Err(Cause::Claims)
    );
    let dup = r#"{"exp":1700000100,"x":{"a":1,"a":2}}"#;
    assert_eq!(
        verify(&token(&s, r#"{"alg":"EdDSA"}"#, dup), &sp, NOW),
        Err(Cause::Claims)
    );
    // Shape: four parts, padding, empty parts.
    let t = token(&s, r#"{"alg":"EdDSA"}"#, GOOD);
    assert_eq!(verify(&format!("{t}.x"), &sp, NOW), Err(Cause::Malformed));
    assert_eq!(verify(&format!("{t}="), &sp, NOW), Err(Cause::Signature));
    assert_eq!(verify("..", &sp, NOW), Err(Cause::Malformed));
}

#[test]
fn claims_must_be_strings() {
    let v: Value =
        serde_json::from_str(r#"{"appid":"wx1","n":2021,"o":{"id":"a"},"z":null}"#).unwrap();
    assert_eq!(claim(&v, "/appid"), Ok(Some("wx1")));
    assert_eq!(claim(&v, "/o/id"), Ok(Some("a")));
    assert_eq!(claim(&v, "/missing"), Ok(None));
    assert_eq!(claim(&v, "/n"), Err(Code::IdentifierInvalid));
    assert_eq!(claim(&v, "/o"), Err(Code::IdentifierInvalid));
    assert_eq!(claim(&v, "/z"), Err(Code::IdentifierInvalid));
}

/// A member a case-insensitive binder reads as the wanted one is ambiguous, beside it or alone,
/// at any depth of the pointer; case variants of other members change nothing.
#[test]
fn case_variants_of_the_claim_are_ambiguous() {
    for doc in [
        r#"{"appid":"wx1","AppId":"wx2"}"#,
        r#"{"APPID":"wx2"}"#,
        r#"{"appıd":"wx2","appid":"wx1"}"#,
    ] {
        let v: Value = serde_json::from_str(doc).unwrap();
        assert_eq!(claim(&v, "/appid"), Err(Code::AmbiguousRequest), "{doc}");
    }
    let v: Value = serde_json::from_str(r#"{"o":{"id":"a","ID":"b"},"Sub":1,"sub":2}"#).unwrap();
    assert_eq!(claim(&v, "/o/id"), Err(Code::AmbiguousRequest));
    let v: Value = serde_json::from_str(r#"{"O":{"id":"b"},"o":{"id":"a"}}"#).unwrap();
    assert_eq!(claim(&v, "/o/id"), Err(Code::AmbiguousRequest));
    let v: Value = serde_json::from_str(r#"{"appid":"wx1","Sub":1,"sub":2}"#).unwrap();
    assert_eq!(claim(&v, "/appid"), Ok(Some("wx1")));
    let v: Value = serde_json::from_str(r#"{"a~b":{"x/y":"v"}}"#).unwrap();
    assert_eq!(claim(&v, "/a~0b/x~1y"), Ok(Some("v")));
}
