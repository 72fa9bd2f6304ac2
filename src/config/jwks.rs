//! The JWKS file of a `jwt` extractor: the public keys its tokens may be signed with, each
//! bound to the one algorithm it verifies.
//!
//! Owns reading the file (at config load, so a reload re-reads it) and the rule that gives
//! every key its algorithm: the key's own `alg` when it has one, else the one its type implies
//! (RSA → RS256, EC P-256 → ES256, EC P-384 → ES384, OKP Ed25519 → EdDSA). A token's `alg`
//! header only selects among keys; it never chooses how a key is used, so an RSA public key
//! can never serve as an HMAC secret (algorithm confusion).
//! Must not: accept a symmetric (`oct`) key, an HMAC or encryption algorithm, a key whose
//! `alg` does not fit its type, two keys with one `kid`, or an RSA modulus under 2048 bits.
//! Invariant: every `VerifyKey` verifies exactly one asymmetric algorithm.

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use std::path::{Path, PathBuf};

/// The most keys one JWKS file may hold: a token without `kid` is tried against every key of
/// its algorithm, so this bounds the work an unverifiable token costs.
pub const MAX_KEYS: usize = 32;

/// The largest JWKS file read.
const MAX_FILE_BYTES: u64 = 1 << 20;

/// One public key and the algorithm it verifies.
#[derive(Clone)]
pub struct VerifyKey {
    pub kid: Option<String>,
    pub alg: Algorithm,
    pub key: DecodingKey,
}

/// The keys of one JWKS file.
#[derive(Clone)]
pub struct JwtKeys {
    pub file: PathBuf,
    pub keys: Vec<VerifyKey>,
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys: Vec<_> = self.keys.iter().map(|k| (&k.kid, k.alg)).collect();
        f.debug_struct("JwtKeys")
            .field("file", &self.file)
            .field("keys", &keys)
            .finish()
    }
}

/// The algorithm a JWK's `alg` names, when it is an asymmetric signature algorithm.
fn signing_alg(a: KeyAlgorithm) -> Option<Algorithm> {
    Some(match a {
        KeyAlgorithm::RS256 => Algorithm::RS256,
        KeyAlgorithm::RS384 => Algorithm::RS384,
        KeyAlgorithm::RS512 => Algorithm::RS512,
        KeyAlgorithm::PS256 => Algorithm::PS256,
        KeyAlgorithm::PS384 => Algorithm::PS384,
        KeyAlgorithm::PS512 => Algorithm::PS512,
        KeyAlgorithm::ES256 => Algorithm::ES256,
        KeyAlgorithm::ES384 => Algorithm::ES384,
        KeyAlgorithm::EdDSA => Algorithm::EdDSA,
        _ => return None,
    })
}

/// The algorithms a key's parameters can verify; the first is the one it gets without `alg`.
fn fitting(params: &AlgorithmParameters) -> Result<&'static [Algorithm], String> {
    use Algorithm::*;
    match params {
        AlgorithmParameters::RSA(_) => Ok(&[RS256, RS384, RS512, PS256, PS384, PS512]),
        AlgorithmParameters::EllipticCurve(p) => match p.curve {
            EllipticCurve::P256 => Ok(&[ES256]),
            EllipticCurve::P384 => Ok(&[ES384]),
            ref c => Err(format!("EC curve {c:?} is not supported (P-256, P-384)")),
        },
        AlgorithmParameters::OctetKeyPair(p) => match p.curve {
            EllipticCurve::Ed25519 => Ok(&[EdDSA]),
            ref c => Err(format!("OKP curve {c:?} is not supported (Ed25519)")),
        },
        AlgorithmParameters::OctetKey(_) => Err(
            "symmetric (kty \"oct\") keys are refused: whoever can verify with them can sign"
                .into(),
        ),
    }
}

/// One JWK as a verification key; `Ok(None)` for an encryption key, which is skipped.
fn key(jwk: &Jwk) -> Result<Option<VerifyKey>, String> {
    match &jwk.common.public_key_use {
        Some(PublicKeyUse::Encryption) => return Ok(None),
        Some(PublicKeyUse::Other(u)) => return Err(format!("\"use\": {u:?} is not \"sig\"")),
        _ => {}
    }
    let fits = fitting(&jwk.algorithm)?;
    let alg = match jwk.common.key_algorithm {
        None => fits[0],
        Some(a) => match signing_alg(a) {
            Some(alg) if fits.contains(&alg) => alg,
            Some(alg) => return Err(format!("\"alg\": {alg:?} does not fit the key's type")),
            None => {
                return Err(format!(
                    "\"alg\": {a} is not an asymmetric signature algorithm"
                ))
            }
        },
    };
    if let AlgorithmParameters::RSA(p) = &jwk.algorithm {
        use base64::Engine;
        let n = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&p.n)
            .map_err(|e| format!("\"n\" is not base64url: {e}"))?;
        let n = &n[n.iter().take_while(|b| **b == 0).count()..];
        let bits = n.len() * 8 - n.first().map_or(8, |b| b.leading_zeros() as usize);
        if bits < 2048 {
            return Err(format!("RSA modulus of {bits} bits is under 2048"));
        }
    }
    let key = DecodingKey::from_jwk(jwk).map_err(|e| format!("unusable key: {e}"))?;
    Ok(Some(VerifyKey {
        kid: jwk.common.key_id.clone(),
        alg,
        key,
    }))
}

/// Reads and checks a JWKS file (`{"keys": [...]}`). An error names the key (its index and
/// `kid`) and what is wrong with it.
pub fn load(path: &Path) -> Result<JwtKeys, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read: {e}"))?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(format!("larger than {MAX_FILE_BYTES} bytes"));
    }
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read: {e}"))?;
    let doc = crate::extract::json::strict(&bytes).map_err(|e| format!("not a JWKS: {e}"))?;
    let Some(list) = doc.get("keys").and_then(|k| k.as_array()) else {
        return Err("not a JWKS: no \"keys\" array".into());
    };
    let mut keys: Vec<VerifyKey> = Vec::new();
    for (i, v) in list.iter().enumerate() {
        let kid = v.get("kid").and_then(|k| k.as_str()).unwrap_or("");
        let named = |m: String| format!("keys[{i}] (kid {kid:?}): {m}");
        let jwk: Jwk = serde_json::from_value(v.clone()).map_err(|e| named(e.to_string()))?;
        let Some(k) = key(&jwk).map_err(named)? else {
            continue;
        };
        if k.kid.is_some() && keys.iter().any(|o| o.kid == k.kid) {
            return Err(named("a second key with this kid".into()));
        }
        keys.push(k);
    }
    if keys.is_empty() {
        return Err("no signature key in the file".into());
    }
    if keys.len() > MAX_KEYS {
        return Err(format!("{} signature keys; at most {MAX_KEYS}", keys.len()));
    }
    Ok(JwtKeys {
        file: path.to_path_buf(),
        keys,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_text(text: &str) -> Result<JwtKeys, String> {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("jwks.json");
        std::fs::write(&f, text).unwrap();
        load(&f)
    }

    const ED: &str =
        r#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;

    #[test]
    fn algorithm_comes_from_the_key() {
        let k = load_text(&format!(r#"{{"keys":[{ED}]}}"#)).unwrap();
        assert_eq!(k.keys[0].alg, Algorithm::EdDSA);
        let with_alg = ED.replace('{', r#"{"alg":"EdDSA","kid":"a","#);
        let k = load_text(&format!(r#"{{"keys":[{with_alg}]}}"#)).unwrap();
        assert_eq!(k.keys[0].kid.as_deref(), Some("a"));
    }

    #[test]
    fn refuses_symmetric_mismatched_and_repeated_keys() {
        let oct = r#"{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}"#;
        assert!(load_text(oct).unwrap_err().contains("symmetric"));
        let hs = ED.replace('{', r#"{"alg":"HS256","#);
        assert!(load_text(&format!(r#"{{"keys":[{hs}]}}"#))
            .unwrap_err()
            .contains("keys[0]"));
        let rs = ED.replace('{', r#"{"alg":"RS256","#);
        assert!(load_text(&format!(r#"{{"keys":[{rs}]}}"#))
            .unwrap_err()
            .contains("does not fit"));
        let a = ED.replace('{', r#"{"kid":"a","#);
        assert!(load_text(&format!(r#"{{"keys":[{a},{a}]}}"#))
            .unwrap_err()
            .contains("keys[1] (kid \"a\")"));
        assert!(load_text(r#"{"keys":[]}"#).is_err());
        assert!(load_text(r#"{"keys":[],"keys":[]}"#).is_err());
        let small_rsa = r#"{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"}]}"#;
        assert!(load_text(small_rsa).unwrap_err().contains("under 2048"));
        let enc = ED.replace('{', r#"{"use":"enc","#);
        assert!(load_text(&format!(r#"{{"keys":[{enc}]}}"#))
            .unwrap_err()
            .contains("no signature key"));
    }
}
