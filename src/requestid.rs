//! Request ids: the `x-request-id` a request carries through the gateway, the upstream, the
//! access log, the audit trail and the gateway's own error bodies.
//!
//! Owns which client ids are kept (`well_formed`) and how new ones are made: 128 random bits
//! as 32 lowercase hex digits (as nginx's `$request_id`), from a per-thread ChaCha8 generator
//! seeded once from the OS, so a request costs no system call.
//! Must not: keep a client id that could break a log line or a header (only
//! `[A-Za-z0-9._:-]`, 1 to `MAX_LEN` bytes), or keep a second one.
//! Invariant: after `take`, the request has exactly one `x-request-id`, the one returned.

use http::{HeaderMap, HeaderName, HeaderValue};
use rand::{Rng, SeedableRng};
use std::cell::RefCell;

/// The header the id travels in, both ways.
pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");
/// The longest client id kept.
pub const MAX_LEN: usize = 128;

/// True for an id the gateway keeps: 1 to `MAX_LEN` bytes of `[A-Za-z0-9._:-]`.
pub fn well_formed(v: &[u8]) -> bool {
    !v.is_empty()
        && v.len() <= MAX_LEN
        && v.iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

/// The request's id: the client's, when it sent exactly one and it is well formed; otherwise a
/// new one, which replaces whatever the client sent so the upstream sees the same id.
pub fn take(headers: &mut HeaderMap) -> HeaderValue {
    let mut sent = headers.get_all(&HEADER).iter();
    if let (Some(v), None) = (sent.next(), sent.next()) {
        if well_formed(v.as_bytes()) {
            return v.clone();
        }
    }
    let id = generate();
    headers.insert(HEADER, id.clone());
    id
}

/// A new id. Its bytes and their reference count are one allocation (`Bytes::from_owner`),
/// so the copies the upstream request, the response and the log take cost none.
pub fn generate() -> HeaderValue {
    thread_local! {
        static RNG: RefCell<rand_chacha::ChaCha8Rng> =
            RefCell::new(rand_chacha::ChaCha8Rng::from_entropy());
    }
    let bits: u128 = RNG.with(|r| r.borrow_mut().gen());
    let mut hex = [0u8; 32];
    // 16 bytes always fit 32 hex digits, which are always a valid header value.
    let _ = hex::encode_to_slice(bits.to_be_bytes(), &mut hex);
    HeaderValue::from_maybe_shared(bytes::Bytes::from_owner(hex))
        .unwrap_or(HeaderValue::from_static("0"))
}

/// The id as text (always ASCII: a kept client id or hex).
pub fn as_str(id: &HeaderValue) -> &str {
    id.to_str().unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_well_formed_client_id_is_kept_as_sent() {
        let mut h = HeaderMap::new();
        h.insert(HEADER, HeaderValue::from_static("req-1.a_b:C"));
        assert_eq!(take(&mut h), "req-1.a_b:C");
        assert_eq!(h.get_all(HEADER).iter().count(), 1);
        let long = "a".repeat(MAX_LEN);
        h.insert(HEADER, HeaderValue::from_str(&long).unwrap());
        assert_eq!(take(&mut h), long.as_str());
    }

    #[test]
    fn a_missing_malformed_or_repeated_id_is_replaced_by_a_new_one() {
        let too_long = "a".repeat(MAX_LEN + 1);
        for sent in [
            vec![],
            vec![""],
            vec!["has space"],
            vec!["quote\"d"],
            vec!["slash/"],
            vec![too_long.as_str()],
            vec!["one", "two"],
        ] {
            let mut h = HeaderMap::new();
            for s in &sent {
                h.append(HEADER, HeaderValue::from_str(s).unwrap());
            }
            let id = take(&mut h);
            let text = as_str(&id);
            assert_eq!(text.len(), 32, "{sent:?}");
            assert!(text.bytes().all(|b| b.is_ascii_hexdigit()), "{text}");
            let after: Vec<_> = h.get_all(HEADER).iter().collect();
            assert_eq!(after, vec![&id], "{sent:?}");
        }
        let mut obs = HeaderMap::new();
        obs.insert(HEADER, HeaderValue::from_bytes(b"caf\xc3\xa9").unwrap());
        assert_eq!(as_str(&take(&mut obs)).len(), 32);
    }

    #[test]
    fn generated_ids_differ() {
        let ids: std::collections::HashSet<_> = (0..1000).map(|_| generate()).collect();
        assert_eq!(ids.len(), 1000);
        let other = std::thread::spawn(generate).join().unwrap();
        assert!(!ids.contains(&other));
    }
}
