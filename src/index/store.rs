//! Compact record arena: every filing of a revision encoded back to back in one byte vector,
//! addressed by a `u32` offset, with entity names interned in a second arena.
//!
//! Owns the binary layout (below) and the zero-copy `RecordView` over it.
//! Must not: be mutated after the revision that owns it is published, or decode anything it did
//! not encode (offsets come only from `push`).
//! Invariant: `view(push(r)).to_record() == r` for every record that fits the limits below.
//!
//! Layout of one record: number (8) | status (1) | updated (4, LE) | entity id (4, LE) |
//! platform count (1) | per platform: platform (1) | id count (1) | ids (u8 len + bytes each) |
//! signer count (1) | signers (flags (1) | md5 16? | sha1 20? | sha256 32?) | app name (u16 len +
//! bytes). The ids come right after the fixed head and the name last, so the lookup's check
//! (`lists_id`) and the hit's number and status usually sit in the record's first cache line.

use crate::filing::scan::RecordRef;
use crate::filing::{FilingNumber, FilingRecord, Platform, PlatformFiling, Signer, Status};
use std::collections::HashMap;

/// Limits the encoding relies on (lengths in one byte, names cut at `MAX_NAME_BYTES`); record
/// validation enforces them before a record gets here.
pub use crate::filing::fields::{MAX_ID_BYTES, MAX_LIST, MAX_NAME_BYTES};

#[derive(Default)]
pub struct Entities {
    blob: String,
    ends: Vec<u32>,
    /// Name hash → id of the first name with that hash; the name itself lives only in `blob`,
    /// so interning allocates nothing per name (millions of small allocations would stay in
    /// the allocator's arenas after the build).
    intern: HashMap<u64, u32, ahash::RandomState>,
    /// Ids whose name hash collided with an earlier, different name (scanned linearly; rare).
    collided: Vec<u32>,
}

impl Entities {
    pub fn intern(&mut self, name: &str) -> u32 {
        let h = self.intern.hasher().hash_one(name);
        match self.intern.get(&h) {
            Some(&id) if self.get(id) == name => return id,
            Some(_) => {
                if let Some(&id) = self.collided.iter().find(|&&id| self.get(id) == name) {
                    return id;
                }
                let id = self.append(name);
                self.collided.push(id);
                return id;
            }
            None => {}
        }
        let id = self.append(name);
        self.intern.insert(h, id);
        id
    }

    fn append(&mut self, name: &str) -> u32 {
        self.blob.push_str(name);
        self.ends.push(self.blob.len() as u32);
        (self.ends.len() - 1) as u32
    }

    pub fn get(&self, id: u32) -> &str {
        let i = id as usize;
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        self.blob
            .get(start..self.ends.get(i).map_or(start, |&e| e as usize))
            .unwrap_or("")
    }

    /// Drops the build-time intern table; lookups by id keep working.
    pub fn freeze(&mut self) {
        self.intern = HashMap::default();
        self.collided = Vec::new();
        self.blob.shrink_to_fit();
        self.ends.shrink_to_fit();
    }

    /// A frozen arena from its parts (as `parts` gave them): names back to back, and the end
    /// offset of each. `None` when the ends are not increasing, overrun the names or split a
    /// UTF-8 character.
    pub fn from_parts(blob: String, ends: Vec<u32>) -> Option<Entities> {
        let mut start = 0usize;
        for &e in &ends {
            let e = e as usize;
            if e < start || e > blob.len() || !blob.is_char_boundary(e) {
                return None;
            }
            start = e;
        }
        Some(Entities {
            blob,
            ends,
            ..Entities::default()
        })
    }

    /// The names back to back, and the end offset of each.
    pub fn parts(&self) -> (&str, &[u32]) {
        (&self.blob, &self.ends)
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Bytes held: the names plus a 4-byte end offset each.
    pub fn bytes(&self) -> usize {
        self.blob.len() + 4 * self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Every name, in id order.
    pub fn names(&self) -> impl Iterator<Item = &str> + '_ {
        (0..self.ends.len() as u32).map(move |i| self.get(i))
    }
}

/// Appends `r` to `blob`, returning its offset.
pub fn push(blob: &mut Vec<u8>, r: &FilingRecord, entity: u32) -> u32 {
    push_ref(blob, &r.borrowed(), entity)
}

/// Appends a validated borrowed record (`filing::scan`) to `blob`, returning its offset: the
/// one encoder, so a line read by either reader encodes to the same bytes.
pub fn push_ref(blob: &mut Vec<u8>, r: &RecordRef<'_>, entity: u32) -> u32 {
    let off = blob.len() as u32;
    blob.extend_from_slice(&r.number.to_bytes());
    blob.push(r.status as u8);
    // Record validation keeps `updated` below 2^32 seconds (year 2106).
    blob.extend_from_slice(&(r.updated.min(u32::MAX as u64) as u32).to_le_bytes());
    blob.extend_from_slice(&entity.to_le_bytes());
    blob.push(r.platforms.len().min(MAX_LIST) as u8);
    for p in r.platforms.iter().take(MAX_LIST) {
        blob.push(p.platform as u8);
        blob.push(p.ids.len().min(MAX_LIST) as u8);
        for id in p.ids.iter().take(MAX_LIST) {
            let b = &id.as_bytes()[..id.len().min(MAX_ID_BYTES)];
            blob.push(b.len() as u8);
            blob.extend_from_slice(b);
        }
        blob.push(p.signers.len().min(MAX_LIST) as u8);
        for s in p.signers.iter().take(MAX_LIST) {
            let flags = s.md5.is_some() as u8
                | (s.sha1.is_some() as u8) << 1
                | (s.sha256.is_some() as u8) << 2;
            blob.push(flags);
            if let Some(d) = &s.md5 {
                blob.extend_from_slice(d);
            }
            if let Some(d) = &s.sha1 {
                blob.extend_from_slice(d);
            }
            if let Some(d) = &s.sha256 {
                blob.extend_from_slice(d);
            }
        }
    }
    let name = &r.app_name.as_bytes()[..r.app_name.len().min(MAX_NAME_BYTES)];
    blob.extend_from_slice(&(name.len() as u16).to_le_bytes());
    blob.extend_from_slice(name);
    off
}

/// Byte offset of the entity id inside an encoded record.
const ENTITY_AT: usize = 8 + 1 + 4;
/// Byte offset of the platform count, the end of the fixed head.
const PLATFORMS_AT: usize = ENTITY_AT + 4;

/// The entity id of the record encoded at `off`, read without decoding the record.
pub fn entity_of(blob: &[u8], off: usize) -> Option<u32> {
    let b = blob.get(off + ENTITY_AT..off + ENTITY_AT + 4)?;
    Some(u32::from_le_bytes(b.try_into().ok()?))
}

/// Rewrites the entity id of the record encoded at `off` (used when moving records between
/// layers, whose entity tables differ).
pub fn set_entity(blob: &mut [u8], off: usize, entity: u32) {
    if let Some(slot) = blob.get_mut(off + ENTITY_AT..off + ENTITY_AT + 4) {
        slot.copy_from_slice(&entity.to_le_bytes());
    }
}

/// Length in bytes of the record encoded at `off`, `None` if it is not a whole record.
pub fn encoded_len(blob: &[u8], off: u32) -> Option<usize> {
    let v = RecordView::decode(blob, off)?;
    Some(v.end - off as usize)
}

/// Skips `count` platform sections from the cursor's position; `None` if they overrun.
fn skip_platforms(c: &mut Cur<'_>, count: u8) -> Option<()> {
    for _ in 0..count {
        c.take(1)?;
        for _ in 0..c.u8()? {
            let n = c.u8()? as usize;
            c.take(n)?;
        }
        for _ in 0..c.u8()? {
            let f = c.u8()?;
            c.take(signer_len(f))?;
        }
    }
    Some(())
}

/// Bytes of a signer's digests after its flags byte.
#[inline]
fn signer_len(f: u8) -> usize {
    16 * (f & 1) as usize + 20 * (f >> 1 & 1) as usize + 32 * (f >> 2 & 1) as usize
}

/// The filing number and status of the record at `off`, without decoding the rest.
pub fn head(blob: &[u8], off: u32) -> Option<(FilingNumber, Status)> {
    let at = off as usize;
    let number = FilingNumber::from_bytes(blob.get(at..at + 8)?.try_into().ok()?)?;
    Some((number, Status::from_u8(*blob.get(at + 8)?)?))
}

/// True when the record at `off` lists `id` under `platform`: a byte walk of the platform
/// sections (ASCII case-insensitive when `fold`), re-validating nothing that `push` wrote.
pub fn lists_id(blob: &[u8], off: u32, platform: Platform, id: &[u8], fold: bool) -> bool {
    // Reading the byte where the first listed id ends (when it has the asked id's length)
    // starts its cache line's miss together with the head's, instead of after the walk has
    // read the lengths in front of it: a record's first id often crosses a line boundary.
    let at = off as usize + PLATFORMS_AT;
    std::hint::black_box(blob.get(at + 3 + id.len()).copied());
    // The common hit: the first section is `platform` and its first id is `id`, bytes
    // `count, platform, id count, len, id...` (count and id count at least 1).
    if let Some(h) = blob.get(at..at + 4 + id.len()) {
        let (stored, same_len) = (&h[4..], h[3] as usize == id.len());
        if h[0] >= 1 && h[1] == platform as u8 && h[2] >= 1 && same_len {
            let same = if fold {
                stored.eq_ignore_ascii_case(id)
            } else {
                stored == id
            };
            if same {
                return true;
            }
        }
    }
    let walk = || -> Option<bool> {
        let mut c = Cur {
            b: blob,
            pos: off as usize + PLATFORMS_AT,
        };
        for _ in 0..c.u8()? {
            let p = c.u8()?;
            let ids = c.u8()?;
            for _ in 0..ids {
                let n = c.u8()? as usize;
                let stored = c.take(n)?;
                let same = if fold {
                    stored.eq_ignore_ascii_case(id)
                } else {
                    stored == id
                };
                if p == platform as u8 && same {
                    return Some(true);
                }
            }
            if p == platform as u8 {
                return Some(false);
            }
            for _ in 0..c.u8()? {
                let f = c.u8()?;
                c.take(signer_len(f))?;
            }
        }
        Some(false)
    };
    walk().unwrap_or(false)
}

/// A cursor over encoded bytes; every read is bounds-checked so a bad offset yields `None`.
struct Cur<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Cur<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.b.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(s)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|s| s[0])
    }
}

/// A borrowed view of one encoded record.
#[derive(Clone, Copy)]
pub struct RecordView<'a> {
    pub number: FilingNumber,
    pub status: Status,
    pub updated: u64,
    pub entity: u32,
    pub app_name: &'a str,
    platforms: &'a [u8],
    platform_count: u8,
    /// Offset just past the record.
    end: usize,
}

/// One platform section of a record view.
#[derive(Clone, Copy)]
pub struct PlatformView<'a> {
    pub platform: Platform,
    ids: &'a [u8],
    id_count: u8,
    signers: &'a [u8],
    signer_count: u8,
}

impl<'a> RecordView<'a> {
    pub fn decode(blob: &'a [u8], off: u32) -> Option<RecordView<'a>> {
        let mut c = Cur {
            b: blob,
            pos: off as usize,
        };
        let number = FilingNumber::from_bytes(c.take(8)?.try_into().ok()?)?;
        let status = Status::from_u8(c.u8()?)?;
        let updated = u32::from_le_bytes(c.take(4)?.try_into().ok()?) as u64;
        let entity = u32::from_le_bytes(c.take(4)?.try_into().ok()?);
        let platform_count = c.u8()?;
        let start = c.pos;
        skip_platforms(&mut c, platform_count)?;
        let platforms = &blob[start..c.pos];
        let name_len = u16::from_le_bytes(c.take(2)?.try_into().ok()?) as usize;
        let app_name = std::str::from_utf8(c.take(name_len)?).ok()?;
        Some(RecordView {
            number,
            status,
            updated,
            entity,
            app_name,
            platforms,
            platform_count,
            end: c.pos,
        })
    }

    pub fn platforms(&self) -> impl Iterator<Item = PlatformView<'a>> + 'a {
        let mut c = Cur {
            b: self.platforms,
            pos: 0,
        };
        (0..self.platform_count).map_while(move |_| {
            let platform = Platform::from_u8(c.u8()?)?;
            let id_count = c.u8()?;
            let ids_start = c.pos;
            for _ in 0..id_count {
                let n = c.u8()? as usize;
                c.take(n)?;
            }
            let ids = &c.b[ids_start..c.pos];
            let signer_count = c.u8()?;
            let s_start = c.pos;
            for _ in 0..signer_count {
                let f = c.u8()?;
                c.take(signer_len(f))?;
            }
            Some(PlatformView {
                platform,
                ids,
                id_count,
                signers: &c.b[s_start..c.pos],
                signer_count,
            })
        })
    }

    pub fn platform(&self, p: Platform) -> Option<PlatformView<'a>> {
        self.platforms().find(|v| v.platform == p)
    }

    pub fn to_record(&self, entities: &Entities) -> FilingRecord {
        FilingRecord {
            number: self.number,
            status: self.status,
            entity: entities.get(self.entity).to_string(),
            app_name: self.app_name.to_string(),
            updated: self.updated,
            platforms: self
                .platforms()
                .map(|p| PlatformFiling {
                    platform: p.platform,
                    ids: p.ids().map(str::to_string).collect(),
                    signers: p.signers().collect(),
                })
                .collect(),
        }
    }
}

impl<'a> PlatformView<'a> {
    /// How many ids the section lists (without decoding them).
    pub fn id_count(&self) -> usize {
        self.id_count as usize
    }

    pub fn ids(&self) -> impl Iterator<Item = &'a str> + 'a {
        let mut c = Cur {
            b: self.ids,
            pos: 0,
        };
        (0..self.id_count).map_while(move |_| {
            let n = c.u8()? as usize;
            std::str::from_utf8(c.take(n)?).ok()
        })
    }

    pub fn signers(&self) -> impl Iterator<Item = Signer> + 'a {
        let mut c = Cur {
            b: self.signers,
            pos: 0,
        };
        (0..self.signer_count).map_while(move |_| {
            let f = c.u8()?;
            let mut s = Signer::default();
            if f & 1 != 0 {
                s.md5 = Some(c.take(16)?.try_into().ok()?);
            }
            if f & 2 != 0 {
                s.sha1 = Some(c.take(20)?.try_into().ok()?);
            }
            if f & 4 != 0 {
                s.sha256 = Some(c.take(32)?.try_into().ok()?);
            }
            Some(s)
        })
    }

    pub fn signer_count(&self) -> usize {
        self.signer_count as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filing::record::parse_line;

    #[test]
    fn round_trips_records() {
        let line = r#"{"number":"粤B2-20090059-1824A","status":"restricted","entity":"腾讯","app_name":"某应用","updated":"2024-05-01T08:00:00Z","platforms":[{"platform":"android","ids":["com.tencent.a","com.tencent.b"],"signers":[{"md5":"00112233445566778899aabbccddeeff","sha256":"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"}]},{"platform":"ios","ids":["com.tencent.A"]}]}"#;
        let r = parse_line(line).unwrap();
        let mut ents = Entities::default();
        let mut blob = vec![9, 9, 9];
        let e = ents.intern(&r.entity);
        let off = push(&mut blob, &r, e);
        let off2 = push(&mut blob, &r, ents.intern("腾讯"));
        let v = RecordView::decode(&blob, off).unwrap();
        assert_eq!(v.to_record(&ents), r);
        assert_eq!(RecordView::decode(&blob, off2).unwrap().to_record(&ents), r);
        assert_eq!(ents.len(), 1);
        assert!(RecordView::decode(&blob, blob.len() as u32 - 3).is_none());
        assert_eq!(encoded_len(&blob, off), Some((off2 - off) as usize));
        assert_eq!(encoded_len(&blob, off2), Some(blob.len() - off2 as usize));
        assert_eq!(encoded_len(&blob[..blob.len() - 1], off2), None);
    }
}
