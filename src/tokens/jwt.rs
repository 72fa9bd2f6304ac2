//! JWT verification: a compact JWS checked against the route's JWKS keys, then its claims.
//!
//! Owns the order that keeps an unverified byte from deciding anything: the header is read
//! (strict JSON: a repeated key anywhere is refused) only to pick keys, the signature is
//! verified with the algorithm the key is bound to (`config/jwks.rs`), and only then is the
//! payload read, strictly again, and its `exp`, `nbf`, `iss` and `aud` checked.
//! Key choice: a token with `kid` is tried against the one key with that `kid`, whose
//! algorithm must be the token's `alg`; a token without `kid` is tried against every key whose
//! algorithm is its `alg` (at most `MAX_JWKS_KEYS`). `jku`, `x5u`, `jwk` and `x5c` headers are
//! never followed; a `crit` header is refused (no extension is understood).
//! Must not: fetch keys, accept `alg: none` or an HMAC algorithm, or return a payload whose
//! signature did not verify.
//! Invariant: `verify` returns `Ok` only for a token signed by a configured key, within its
//! validity (with the leeway), whose payload is a JSON object with no repeated key.

use crate::code::Code;
use crate::config::{JwtSpec, VerifyKey};
use crate::extract::{json, jsonkeys};
use crate::metrics::tokens::Cause;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::Algorithm;
use serde_json::Value;
use std::str::FromStr;

/// Decodes one base64url part (no padding, canonical) and reads it as a strict JSON object.
fn part(b64: &str) -> Result<Value, Cause> {
    let bytes = URL_SAFE_NO_PAD.decode(b64).map_err(|_| Cause::Malformed)?;
    match json::strict(&bytes) {
        Ok(v) if v.is_object() => Ok(v),
        _ => Err(Cause::Claims),
    }
}

/// The keys a token with this `alg` and `kid` may be verified with.
fn candidates<'k>(
    keys: &'k [VerifyKey],
    alg: Algorithm,
    kid: Option<&str>,
) -> Result<Vec<&'k VerifyKey>, Cause> {
    match kid {
        Some(kid) => match keys.iter().find(|k| k.kid.as_deref() == Some(kid)) {
            Some(k) if k.alg == alg => Ok(vec![k]),
            Some(_) => Err(Cause::Algorithm),
            None => Err(Cause::UnknownKey),
        },
        None => {
            let fit: Vec<_> = keys.iter().filter(|k| k.alg == alg).collect();
            if fit.is_empty() {
                return Err(Cause::UnknownKey);
            }
            Ok(fit)
        }
    }
}

/// A NumericDate claim (RFC 7519 §2): absent, or a JSON number; anything else is refused.
fn date(claims: &Value, name: &str) -> Result<Option<f64>, Cause> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => n
            .as_f64()
            .filter(|f| f.is_finite())
            .map(Some)
            .ok_or(Cause::Claims),
        Some(_) => Err(Cause::Claims),
    }
}

/// True when `claim` (a string or an array of strings) has one of `accepted`; any other
/// shape is refused.
fn one_of(claim: Option<&Value>, accepted: &[String]) -> Result<bool, Cause> {
    let has = |s: &str| accepted.iter().any(|a| a == s);
    match claim {
        None => Ok(false),
        Some(Value::String(s)) => Ok(has(s)),
        Some(Value::Array(items)) => {
            let mut found = false;
            for i in items {
                found |= has(i.as_str().ok_or(Cause::Claims)?);
            }
            Ok(found)
        }
        Some(_) => Err(Cause::Claims),
    }
}

/// Checks the time and audience claims of a verified payload at `now` (Unix seconds).
fn check_claims(spec: &JwtSpec, claims: &Value, now: f64) -> Result<(), Cause> {
    let leeway = spec.leeway.as_secs_f64();
    match date(claims, "exp")? {
        Some(exp) if now >= exp + leeway => return Err(Cause::Expired),
        None if spec.require_exp => return Err(Cause::Claims),
        _ => {}
    }
    if date(claims, "nbf")?.is_some_and(|nbf| now + leeway < nbf) {
        return Err(Cause::NotYetValid);
    }
    if !spec.issuer.is_empty() {
        match claims.get("iss") {
            Some(Value::String(iss)) if spec.issuer.contains(iss) => {}
            _ => return Err(Cause::Issuer),
        }
    }
    if !spec.audience.is_empty() && !one_of(claims.get("aud"), &spec.audience)? {
        return Err(Cause::Audience);
    }
    Ok(())
}

/// Verifies `token` against `spec` at `now` (Unix seconds) and returns its payload.
pub fn verify(token: &str, spec: &JwtSpec, now: f64) -> Result<Value, Cause> {
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Cause::Malformed);
    };
    if h.is_empty() || p.is_empty() || sig.is_empty() {
        return Err(Cause::Malformed);
    }
    let header = part(h).map_err(|_| Cause::Malformed)?;
    if header.get("crit").is_some() {
        return Err(Cause::Malformed);
    }
    let alg = match header.get("alg") {
        Some(Value::String(a)) => Algorithm::from_str(a).map_err(|_| Cause::Algorithm)?,
        _ => return Err(Cause::Malformed),
    };
    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(k)) => Some(k.as_str()),
        Some(_) => return Err(Cause::Malformed),
    };
    let signed = &token[..h.len() + 1 + p.len()];
    let keys = candidates(&spec.keys.keys, alg, kid)?;
    let verified = keys.iter().any(|k| {
        matches!(
            jsonwebtoken::crypto::verify(sig, signed.as_bytes(), &k.key, k.alg),
            Ok(true)
        )
    });
    if !verified {
        return Err(Cause::Signature);
    }
    let claims = part(p)?;
    check_claims(spec, &claims, now)?;
    Ok(claims)
}

/// The member at `pointer` (RFC 6901) of a verified payload or introspection answer:
/// `Ok(None)` when absent, `identifier_invalid` for anything but a string (`null` included),
/// `ambiguous_request` when an object on the way has a member that differs from the pointer's
/// token only in case (Go's `encoding/json`, decoding claims into a struct, reads `AppId` as
/// `appid`; `extract::jsonkeys::json_key_aliases`).
pub fn claim<'v>(doc: &'v Value, pointer: &str) -> Result<Option<&'v str>, Code> {
    let mut at = doc;
    for raw in pointer.split('/').skip(1) {
        let token = raw.replace("~1", "/").replace("~0", "~");
        let next = match at {
            Value::Object(m) => {
                if m.keys().any(|k| jsonkeys::json_key_aliases(k, &token)) {
                    return Err(Code::AmbiguousRequest);
                }
                m.get(&token)
            }
            Value::Array(a) => token.parse::<usize>().ok().and_then(|i| a.get(i)),
            _ => None,
        };
        match next {
            Some(v) => at = v,
            None => break,
        }
    }
    match doc.pointer(pointer) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(Code::IdentifierInvalid),
    }
}

#[cfg(test)]
mod tests;
