//! The field rules of a filing record (domain.md §1.4, §2, §4), shared by the two readers of a
//! snapshot line: `record::from_wire` (serde_json, any valid JSON) and `scan::scan_canonical`
//! (the byte scanner for the canonical shape).
//!
//! Owns: one function per rule, taking borrowed input and allocating only for an error message.
//! Must not: differ between the two readers; each rule exists once, here.
//! Invariant: a value that passes a rule here passes it in both readers.

use super::fields::{RecordError, Signer, Status, MAX_LIST, MAX_NAME_BYTES};
use super::id::{Platform, UnknownPlatform};
use super::number::{FilingNumber, ServiceKind};
use std::time::{SystemTime, UNIX_EPOCH};

/// The service number and its kind; a subject or website number is refused.
pub(crate) fn service_number(raw: &str) -> Result<(FilingNumber, ServiceKind), RecordError> {
    let number = FilingNumber::parse(raw).map_err(|e| RecordError::Number {
        value: raw.to_string(),
        reason: e.to_string(),
    })?;
    match (number.kind(), number.seq()) {
        (Some(k), Some(_)) => Ok((number, k)),
        _ => Err(RecordError::NotAService(raw.to_string())),
    }
}

/// A declared `kind` must name the number's kind.
pub(crate) fn declared_kind(
    declared: &str,
    number: &FilingNumber,
    kind: ServiceKind,
) -> Result<(), RecordError> {
    let k: ServiceKind = declared
        .parse()
        .map_err(|_| RecordError::Kind(declared.to_string()))?;
    if k != kind {
        return Err(RecordError::KindMismatch {
            kind: declared.to_string(),
            number: number.to_string(),
        });
    }
    Ok(())
}

pub(crate) fn status(s: &str) -> Result<Status, RecordError> {
    match s {
        "active" => Ok(Status::Active),
        "cancelled" => Ok(Status::Cancelled),
        "revoked" => Ok(Status::Revoked),
        "restricted" => Ok(Status::Restricted),
        other => Err(RecordError::Status(other.to_string())),
    }
}

/// The entity must not be blank.
pub(crate) fn entity_present(entity: &str) -> Result<(), RecordError> {
    if entity.trim().is_empty() {
        return Err(RecordError::Empty { field: "entity" });
    }
    Ok(())
}

/// Entity and app name fit the store's length prefix.
pub(crate) fn name_lengths(entity: &str, app_name: &str) -> Result<(), RecordError> {
    for (field, v) in [("entity", entity), ("app_name", app_name)] {
        if v.len() > MAX_NAME_BYTES {
            return Err(RecordError::TooLong {
                field,
                max: MAX_NAME_BYTES,
            });
        }
    }
    Ok(())
}

/// Seconds since the epoch of an RFC 3339 time, at most 2^32 - 1.
pub(crate) fn updated(t: &str) -> Result<u64, RecordError> {
    humantime::parse_rfc3339_weak(t)
        .ok()
        .and_then(|st: SystemTime| st.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_secs())
        .filter(|&secs| secs <= u32::MAX as u64)
        .ok_or_else(|| RecordError::Updated(t.to_string()))
}

/// The platform named, which must be able to carry a filing of `kind`.
pub(crate) fn platform(kind: ServiceKind, name: &str) -> Result<Platform, String> {
    let platform: Platform = name.parse().map_err(|e: UnknownPlatform| e.to_string())?;
    let expected = match platform {
        Platform::QuickApp => ServiceKind::QuickApp,
        p if p.is_mini_program_host() => ServiceKind::MiniProgram,
        _ => ServiceKind::App,
    };
    if expected != kind {
        return Err(format!(
            "platform {platform} cannot carry a {} filing",
            kind.as_str()
        ));
    }
    Ok(platform)
}

/// A platform section lists at least one id, and at most `MAX_LIST` ids and signers.
pub(crate) fn list_sizes(ids: usize, signers: usize) -> Result<(), String> {
    if ids == 0 {
        return Err("ids is empty".into());
    }
    if ids > MAX_LIST || signers > MAX_LIST {
        return Err(format!("more than {MAX_LIST} ids or signers"));
    }
    Ok(())
}

/// `N` bytes of hex, upper or lower case, with `:` and whitespace ignored; no copy.
pub(crate) fn hex_digest<const N: usize>(field: &str, s: &str) -> Result<[u8; N], String> {
    let bad = || format!("{field} {s:?} is not {N} bytes of hex");
    if let Some(out) = hex_exact::<N>(s.as_bytes()) {
        return Ok(out);
    }
    let mut out = [0u8; N];
    let mut n = 0usize;
    for c in s.chars() {
        if c == ':' || c.is_whitespace() {
            continue;
        }
        let v = c.to_digit(16).ok_or_else(bad)? as u8;
        let slot = out.get_mut(n / 2).ok_or_else(bad)?;
        *slot = if n % 2 == 0 { v << 4 } else { *slot | v };
        n += 1;
    }
    if n != 2 * N {
        return Err(bad());
    }
    Ok(out)
}

/// The canonical form: exactly 2N hex digits (either case), decoded a pair at a time.
pub(crate) fn hex_exact<const N: usize>(b: &[u8]) -> Option<[u8; N]> {
    if b.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    let mut ok = true;
    for (o, pair) in out.iter_mut().zip(b.chunks_exact(2)) {
        let (hi, lo) = (NIBBLE[pair[0] as usize], NIBBLE[pair[1] as usize]);
        ok &= (hi | lo) < 16;
        *o = hi << 4 | lo & 15;
    }
    ok.then_some(out)
}

/// Hex digit values; 0xff for every other byte.
const NIBBLE: [u8; 256] = {
    let mut t = [0xffu8; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        t[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

/// A signer from its optional digests; at least one must be present.
pub(crate) fn signer(
    md5: Option<&str>,
    sha1: Option<&str>,
    sha256: Option<&str>,
) -> Result<Signer, String> {
    let s = Signer {
        md5: md5.map(|v| hex_digest::<16>("md5", v)).transpose()?,
        sha1: sha1.map(|v| hex_digest::<20>("sha1", v)).transpose()?,
        sha256: sha256.map(|v| hex_digest::<32>("sha256", v)).transpose()?,
    };
    if s.md5.is_none() && s.sha1.is_none() && s.sha256.is_none() {
        return Err("signer has no md5, sha1 or sha256".into());
    }
    Ok(s)
}

/// The index of the first platform listed a second time, if any.
pub(crate) fn repeated_platform(
    platforms: impl Iterator<Item = Platform>,
) -> Option<(usize, Platform)> {
    let mut seen = 0u16;
    for (i, p) in platforms.enumerate() {
        if seen & 1 << p as u8 != 0 {
            return Some((i, p));
        }
        seen |= 1 << p as u8;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The copy-free `hex_digest` agrees with filtering then `hex::decode_to_slice` (the old rule).
    #[test]
    fn hex_matches_filter_then_decode() {
        let old = |s: &str| -> Option<[u8; 4]> {
            let clean: String = s
                .chars()
                .filter(|c| *c != ':' && !c.is_whitespace())
                .collect();
            let mut out = [0u8; 4];
            hex::decode_to_slice(&clean, &mut out).ok().map(|_| out)
        };
        for s in [
            "00112233",
            "AABBccdd",
            "aabbcc:d",
            "aabbcc d",
            "g0112233",
            "0011223G",
            "FFffFFff",
            "aa:bb:cc:dd",
            " a a b b c c d d ",
            "aabbccd",
            "aabbccdde",
            "aabbccdg",
            "",
            "ａabbccd",
            "aa\u{3000}bbccdd",
            "+abbccdd",
            "aabbccdd:",
            "٣abbccdd",
        ] {
            assert_eq!(hex_digest::<4>("x", s).ok(), old(s), "{s:?}");
        }
    }
}
