//! The snapshot fast path: a byte scanner for the canonical NDJSON shape of a record
//! (`FilingRecord::canonical_line`: fields in declaration order, no whitespace, no escapes),
//! validated with the same rules as `record::from_wire` into a borrowed `RecordRef`.
//!
//! Owns `RecordRef` / `PlatformRef` (a validated record borrowing its strings from the line)
//! and `scan_canonical`.
//! Must not: decide that a line is invalid. Anything it does not recognise, valid or not, is
//! `None`, and the caller asks `record::parse_line` (serde_json) for the verdict and reason.
//! Invariant: `scan_canonical(l) == Some(r)` implies `parse_line(l) == Ok(f)` with
//! `r == f.borrowed()` (the differential tests in `scan/tests.rs` check it).

use super::check;
use super::id::{validate, Platform};
use super::number::FilingNumber;
use super::record::{FilingRecord, PlatformFiling, Signer, Status};
use smallvec::SmallVec;

/// A validated record whose strings borrow from the line (or from a `FilingRecord`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordRef<'a> {
    pub number: FilingNumber,
    pub status: Status,
    pub entity: &'a str,
    pub app_name: &'a str,
    pub updated: u64,
    pub platforms: SmallVec<[PlatformRef<'a>; 2]>,
}

/// One platform section of a `RecordRef`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlatformRef<'a> {
    pub platform: Platform,
    pub ids: SmallVec<[&'a str; 4]>,
    pub signers: SmallVec<[Signer; 1]>,
}

impl FilingRecord {
    /// This record as a `RecordRef` borrowing its strings.
    pub fn borrowed(&self) -> RecordRef<'_> {
        RecordRef {
            number: self.number,
            status: self.status,
            entity: &self.entity,
            app_name: &self.app_name,
            updated: self.updated,
            platforms: self
                .platforms
                .iter()
                .map(|p| PlatformRef {
                    platform: p.platform,
                    ids: p.ids.iter().map(String::as_str).collect(),
                    signers: p.signers.iter().cloned().collect(),
                })
                .collect(),
        }
    }
}

impl RecordRef<'_> {
    /// The owned record (what `parse_line` gives for the same line).
    pub fn to_record(&self) -> FilingRecord {
        FilingRecord {
            number: self.number,
            status: self.status,
            entity: self.entity.to_string(),
            app_name: self.app_name.to_string(),
            updated: self.updated,
            platforms: self
                .platforms
                .iter()
                .map(|p| PlatformFiling {
                    platform: p.platform,
                    ids: p.ids.iter().map(|s| s.to_string()).collect(),
                    signers: p.signers.to_vec(),
                })
                .collect(),
        }
    }
}

/// A cursor over one line; every method returns `None` when the bytes are not canonical.
struct Cur<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Cur<'a> {
    fn rest(&self) -> &'a [u8] {
        &self.s.as_bytes()[self.pos..]
    }

    /// Consumes `lit` if the input continues with it. Inlined so that each literal's length
    /// is a constant and the comparison needs no `memcmp` call.
    #[inline(always)]
    fn eat(&mut self, lit: &str) -> bool {
        let hit = self.rest().starts_with(lit.as_bytes());
        if hit {
            self.pos += lit.len();
        }
        hit
    }

    #[inline(always)]
    fn lit(&mut self, lit: &str) -> Option<()> {
        self.eat(lit).then_some(())
    }

    /// The body of a string whose opening quote was consumed: up to the next `"`, refusing
    /// escapes and control characters (serde_json refuses the latter too).
    fn string(&mut self) -> Option<&'a str> {
        let len = string_end(self.rest())?;
        if self.rest()[len] != b'"' {
            return None;
        }
        let start = self.pos;
        self.pos += len + 1;
        // Both ends are ASCII quotes, so these are character boundaries.
        self.s.get(start..start + len)
    }

    /// `"a","b",…]` after the `[` of a non-empty string array.
    fn strings(&mut self, mut each: impl FnMut(&'a str) -> Option<()>) -> Option<()> {
        loop {
            self.lit("\"")?;
            each(self.string()?)?;
            if !self.eat(",") {
                return self.lit("]");
            }
        }
    }
}

/// The index of the first `"`, `\\` or control byte of `b`, eight bytes at a time (strings
/// here are short: names, ids, dates; a SIMD search would not pay for its set-up).
pub(crate) fn string_end(b: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // Per byte, the high bit is set where the byte is zero; only the lowest such mark is
    // exact (a borrow can mark the bytes above it), which is the one taken.
    let zero_at = |w: u64| w.wrapping_sub(ONES) & !w & HIGH;
    let mut at = 0;
    for chunk in b.chunks_exact(8) {
        let w = u64::from_le_bytes(chunk.try_into().ok()?);
        let below_space = w.wrapping_sub(0x20 * ONES) & !w & HIGH;
        let hit =
            below_space | zero_at(w ^ (b'"' as u64 * ONES)) | zero_at(w ^ (b'\\' as u64 * ONES));
        if hit != 0 {
            return Some(at + hit.trailing_zeros() as usize / 8);
        }
        at += 8;
    }
    b[at..]
        .iter()
        .position(|&c| c == b'"' || c == b'\\' || c < 0x20)
        .map(|i| at + i)
}

/// Validates and borrows a canonical line; `None` for anything else (see the module header).
pub fn scan_canonical(line: &str) -> Option<RecordRef<'_>> {
    let mut c = Cur { s: line, pos: 0 };
    c.lit("{\"number\":\"")?;
    let (number, kind) = check::service_number(c.string()?).ok()?;
    if c.eat(",\"kind\":\"") {
        check::declared_kind(c.string()?, &number, kind).ok()?;
    }
    c.lit(",\"status\":\"")?;
    let status = check::status(c.string()?).ok()?;
    c.lit(",\"entity\":\"")?;
    let entity = c.string()?;
    check::entity_present(entity).ok()?;
    c.lit(",\"app_name\":\"")?;
    let app_name = c.string()?;
    check::name_lengths(entity, app_name).ok()?;
    let mut updated = 0;
    if c.eat(",\"updated\":\"") {
        updated = check::updated(c.string()?).ok()?;
    }
    c.lit(",\"platforms\":[")?;
    let mut platforms = SmallVec::new();
    loop {
        platforms.push(platform(&mut c, kind)?);
        if !c.eat(",") {
            break;
        }
    }
    c.lit("]}")?;
    if c.pos != line.len()
        || check::repeated_platform(platforms.iter().map(|p: &PlatformRef| p.platform)).is_some()
    {
        return None;
    }
    Some(RecordRef {
        number,
        status,
        entity,
        app_name,
        updated,
        platforms,
    })
}

/// `{"platform":…,"ids":[…](,"signers":[…])?}`
fn platform<'a>(c: &mut Cur<'a>, kind: crate::filing::ServiceKind) -> Option<PlatformRef<'a>> {
    c.lit("{\"platform\":\"")?;
    let platform = check::platform(kind, c.string()?).ok()?;
    c.lit(",\"ids\":[")?;
    let mut ids = SmallVec::new();
    c.strings(|id| {
        ids.push(id);
        validate(platform, id).ok()
    })?;
    let mut signers = SmallVec::new();
    if c.eat(",\"signers\":[") {
        loop {
            signers.push(signer(c)?);
            if !c.eat(",") {
                break;
            }
        }
        c.lit("]")?;
    }
    c.lit("}")?;
    check::list_sizes(ids.len(), signers.len()).ok()?;
    Some(PlatformRef {
        platform,
        ids,
        signers,
    })
}

/// `{"md5":…,"sha1":…,"sha256":…}` with any non-empty subset of the fields, in that order.
fn signer(c: &mut Cur<'_>) -> Option<Signer> {
    c.lit("{")?;
    let mut first = true;
    // Each key is a literal at its call site, so `eat` compares constants (no memcmp call).
    let md5 = digest_field::<16>(c, &mut first, "\"md5\":\"", ",\"md5\":\"", "md5")?;
    let sha1 = digest_field::<20>(c, &mut first, "\"sha1\":\"", ",\"sha1\":\"", "sha1")?;
    let sha256 = digest_field::<32>(c, &mut first, "\"sha256\":\"", ",\"sha256\":\"", "sha256")?;
    c.lit("}")?;
    let s = Signer { md5, sha1, sha256 };
    (s.md5.is_some() || s.sha1.is_some() || s.sha256.is_some()).then_some(s)
}

/// One optional `"key":"value"` digest of a signer: `key` when it is the first field,
/// `comma_key` after one. `Some(None)` when the field is absent, `None` when its value is
/// not a digest (`check::hex_digest` decides; exactly 2N hex digits are decoded in place).
#[inline(always)]
fn digest_field<const N: usize>(
    c: &mut Cur<'_>,
    first: &mut bool,
    key: &str,
    comma_key: &str,
    field: &str,
) -> Option<Option<[u8; N]>> {
    let hit = if *first { c.eat(key) } else { c.eat(comma_key) };
    if !hit {
        return Some(None);
    }
    *first = false;
    if let Some(d) = c.rest().get(..2 * N + 1).and_then(|r| {
        let (hex, quote) = r.split_at(2 * N);
        (quote == b"\"")
            .then(|| check::hex_exact::<N>(hex))
            .flatten()
    }) {
        c.pos += 2 * N + 1;
        return Some(Some(d));
    }
    check::hex_digest::<N>(field, c.string()?).ok().map(Some)
}

#[cfg(test)]
mod tests;
