//! Android binary XML (AXML) reader for AndroidManifest.xml: package, version and SDK levels.
//!
//! Owns: the chunk walk (string pool, resource map, start-element chunks) and the attribute
//! lookup by resource id first, name second (as the platform does for `android:` attributes).
//! Hand-written: no maintained crate reads AXML defensively. It tolerates the packer tricks in
//! the fixtures (unknown chunk types, non-terminated strings, masking namespaces, prefixed
//! attribute names, zero-sized trailing chunks) and rejects a declared size beyond the data.
//! Must not: build a DOM, decode strings it does not need, or index outside the buffer.
//! Invariant: every read is bounds-checked via `get`; strings are decoded lossily.

const STRING_POOL: u16 = 0x0001;
const RESOURCE_MAP: u16 = 0x0180;
const START_ELEMENT: u16 = 0x0102;
const NO_INDEX: u32 = 0xffff_ffff;

const ATTR_VERSION_CODE: u32 = 0x0101_021b;
const ATTR_VERSION_NAME: u32 = 0x0101_021c;
const ATTR_MIN_SDK: u32 = 0x0101_020c;
const ATTR_TARGET_SDK: u32 = 0x0101_0270;
const ATTR_TARGET_SANDBOX: u32 = 0x0101_054c;

/// What the inspector needs from the manifest.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Manifest {
    pub package: Option<String>,
    pub version_code: Option<String>,
    pub version_name: Option<String>,
    pub min_sdk: Option<u32>,
    pub target_sdk: Option<u32>,
    /// `<manifest android:targetSandboxVersion>` (absent: 1).
    pub target_sandbox: Option<u32>,
}

fn u16at(b: &[u8], o: usize) -> Option<u16> {
    Some(u16::from_le_bytes(
        b.get(o..o.checked_add(2)?)?.try_into().ok()?,
    ))
}
fn u32at(b: &[u8], o: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        b.get(o..o.checked_add(4)?)?.try_into().ok()?,
    ))
}

/// The string pool: decoded on demand.
struct Pool<'a> {
    data: &'a [u8],
    count: usize,
    offsets_at: usize,
    strings_at: usize,
    utf8: bool,
}

impl Pool<'_> {
    fn parse(data: &[u8], chunk: usize, hsize: usize, size: usize) -> Option<Pool<'_>> {
        let count = u32at(data, chunk + 8)? as usize;
        let flags = u32at(data, chunk + 16)?;
        let strings_start = u32at(data, chunk + 20)? as usize;
        Some(Pool {
            data,
            count: count.min(size / 4),
            offsets_at: chunk + hsize,
            strings_at: chunk.checked_add(strings_start)?,
            utf8: flags & 0x100 != 0,
        })
    }

    fn get(&self, i: u32) -> Option<String> {
        let i = i as usize;
        if i >= self.count {
            return None;
        }
        let off = u32at(self.data, self.offsets_at.checked_add(i.checked_mul(4)?)?)? as usize;
        let p = self.strings_at.checked_add(off)?;
        let mut s = if self.utf8 {
            self.utf8_at(p)
        } else {
            self.utf16_at(p)
        }?;
        // Platform strings end at the first NUL (packers hide bytes after one).
        if let Some(i) = s.find('\0') {
            s.truncate(i);
        }
        Some(s)
    }

    fn utf8_at(&self, mut p: usize) -> Option<String> {
        let skip_len = |p: &mut usize| -> Option<usize> {
            let b0 = *self.data.get(*p)? as usize;
            if b0 & 0x80 != 0 {
                let b1 = *self.data.get(*p + 1)? as usize;
                *p += 2;
                Some(((b0 & 0x7f) << 8) | b1)
            } else {
                *p += 1;
                Some(b0)
            }
        };
        skip_len(&mut p)?; // UTF-16 length
        let n = skip_len(&mut p)?;
        let bytes = self.data.get(p..p.checked_add(n)?)?;
        Some(String::from_utf8_lossy(bytes).into_owned())
    }

    fn utf16_at(&self, mut p: usize) -> Option<String> {
        let mut n = u16at(self.data, p)? as usize;
        p += 2;
        if n & 0x8000 != 0 {
            n = ((n & 0x7fff) << 16) | u16at(self.data, p)? as usize;
            p += 2;
        }
        let bytes = self.data.get(p..p.checked_add(n.checked_mul(2)?)?)?;
        let units = bytes
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]));
        // What String::from_utf16_lossy gives, without collecting the units first.
        Some(
            char::decode_utf16(units)
                .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
                .collect(),
        )
    }
}

/// Parses the manifest. Errors carry a short reason for `manifest_invalid`.
pub fn parse(b: &[u8]) -> Result<Manifest, &'static str> {
    // The platform does not check the document chunk type (packers write 0x0000 there).
    let _doc_type = u16at(b, 0).ok_or("not a binary XML document")?;
    let hsize = u16at(b, 2).unwrap_or(8) as usize;
    let total = u32at(b, 4).ok_or("truncated header")? as usize;
    if total > b.len() {
        return Err("declared document size larger than data");
    }
    let data = &b[..total];
    let mut walker = Walker {
        data,
        pool: None,
        resmap: Vec::new(),
        out: Manifest::default(),
        seen_manifest: false,
        seen_sdk: false,
    };
    let mut p = if (8..total).contains(&hsize) {
        hsize
    } else {
        8
    };
    while let (Some(ty), Some(ch), Some(size)) =
        (u16at(data, p), u16at(data, p + 2), u32at(data, p + 4))
    {
        let (ch, size) = (ch as usize, size as usize);
        // A zero-sized or overlong chunk ends the document (what we need comes first).
        if size < 8 || p.checked_add(size).is_none_or(|e| e > total) {
            break;
        }
        walker.chunk(ty, p, ch, size);
        p += size;
        if walker.seen_manifest && walker.seen_sdk {
            // Nothing later is read: stop instead of decoding every element's name.
            break;
        }
    }
    if walker.pool.is_none() {
        return Err("no string pool");
    }
    if !walker.seen_manifest {
        return Err("no <manifest> element");
    }
    Ok(walker.out)
}

struct Walker<'a> {
    data: &'a [u8],
    pool: Option<Pool<'a>>,
    resmap: Vec<u32>,
    out: Manifest,
    seen_manifest: bool,
    seen_sdk: bool,
}

/// One attribute: name index, raw string index, value type and data.
struct Attr {
    name: u32,
    raw: u32,
    ty: u8,
    data: u32,
}

impl Walker<'_> {
    fn chunk(&mut self, ty: u16, p: usize, ch: usize, size: usize) {
        match ty {
            STRING_POOL if self.pool.is_none() => self.pool = Pool::parse(self.data, p, ch, size),
            RESOURCE_MAP => self.read_resmap(p, ch, size),
            START_ELEMENT => match self.element_name(p, ch).as_deref() {
                Some("manifest") if !self.seen_manifest => {
                    self.seen_manifest = true;
                    self.manifest_attrs(p, ch);
                }
                Some("uses-sdk") if self.seen_manifest && !self.seen_sdk => {
                    self.seen_sdk = true;
                    self.sdk_attrs(p, ch);
                }
                _ => {}
            },
            _ => {}
        }
    }

    fn read_resmap(&mut self, p: usize, ch: usize, size: usize) {
        let n = size.saturating_sub(ch) / 4;
        self.resmap = (0..n)
            .filter_map(|i| u32at(self.data, p + ch + i * 4))
            .collect();
    }

    fn string(&self, i: u32) -> Option<String> {
        self.pool.as_ref()?.get(i)
    }

    fn element_name(&self, p: usize, ch: usize) -> Option<String> {
        self.string(u32at(self.data, p + ch + 4)?)
    }

    fn attrs(&self, p: usize, ch: usize) -> Vec<Attr> {
        let ext = p + ch;
        let (Some(start), Some(asize), Some(count)) = (
            u16at(self.data, ext + 8),
            u16at(self.data, ext + 10),
            u16at(self.data, ext + 12),
        ) else {
            return Vec::new();
        };
        let asize = usize::from(asize).max(20);
        (0..usize::from(count))
            .map_while(|i| {
                let a = ext + usize::from(start) + i * asize;
                Some(Attr {
                    name: u32at(self.data, a + 4)?,
                    raw: u32at(self.data, a + 8)?,
                    ty: *self.data.get(a + 15)?,
                    data: u32at(self.data, a + 16)?,
                })
            })
            .collect()
    }

    /// True when the attribute is `id` (by resource id) or, lacking one, named `name`.
    fn is(&self, a: &Attr, id: u32, name: &str) -> bool {
        match self.resmap.get(a.name as usize) {
            Some(&rid) if rid != 0 => rid == id,
            _ => self
                .string(a.name)
                .is_some_and(|n| n.rsplit(':').next() == Some(name)),
        }
    }

    fn value(&self, a: &Attr) -> Option<String> {
        match a.ty {
            0x03 => self.string(if a.raw != NO_INDEX { a.raw } else { a.data }),
            0x10 | 0x11 => Some((a.data as i32).to_string()),
            _ if a.raw != NO_INDEX => self.string(a.raw),
            _ => None,
        }
    }

    fn manifest_attrs(&mut self, p: usize, ch: usize) {
        for a in self.attrs(p, ch) {
            let no_res = self.resmap.get(a.name as usize).is_none_or(|&r| r == 0);
            if no_res
                && self.out.package.is_none()
                && self.string(a.name).as_deref() == Some("package")
            {
                self.out.package = self.value(&a);
            } else if self.is(&a, ATTR_VERSION_CODE, "versionCode") {
                self.out.version_code = self.value(&a);
            } else if self.is(&a, ATTR_VERSION_NAME, "versionName") {
                self.out.version_name = self.value(&a);
            } else if self.is(&a, ATTR_TARGET_SANDBOX, "targetSandboxVersion") {
                self.out.target_sandbox = self.value(&a).and_then(|s| s.trim().parse().ok());
            }
        }
    }

    fn sdk_attrs(&mut self, p: usize, ch: usize) {
        for a in self.attrs(p, ch) {
            let v = self.value(&a).and_then(|s| s.trim().parse::<u32>().ok());
            if self.is(&a, ATTR_MIN_SDK, "minSdkVersion") {
                self.out.min_sdk = v;
            } else if self.is(&a, ATTR_TARGET_SDK, "targetSdkVersion") {
                self.out.target_sdk = v;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A UTF-16 string pool chunk.
    fn pool(strings: &[&str]) -> Vec<u8> {
        let mut body = Vec::new();
        let mut offs = Vec::new();
        for s in strings {
            offs.push(body.len() as u32);
            let units: Vec<u16> = s.encode_utf16().collect();
            body.extend_from_slice(&(units.len() as u16).to_le_bytes());
            units
                .iter()
                .for_each(|u| body.extend_from_slice(&u.to_le_bytes()));
            body.extend_from_slice(&[0, 0]);
        }
        let start = 28 + 4 * strings.len();
        let mut c = vec![];
        c.extend_from_slice(&STRING_POOL.to_le_bytes());
        c.extend_from_slice(&28u16.to_le_bytes());
        c.extend_from_slice(&((start + body.len()) as u32).to_le_bytes());
        for v in [strings.len() as u32, 0, 0, start as u32, 0] {
            c.extend_from_slice(&v.to_le_bytes());
        }
        offs.iter()
            .for_each(|o| c.extend_from_slice(&o.to_le_bytes()));
        c.extend_from_slice(&body);
        c
    }

    /// START_ELEMENT chunk with (name idx, raw idx, type, data) attributes.
    fn element(name: u32, attrs: &[(u32, u32, u8, u32)]) -> Vec<u8> {
        let mut c = vec![];
        c.extend_from_slice(&START_ELEMENT.to_le_bytes());
        c.extend_from_slice(&16u16.to_le_bytes());
        c.extend_from_slice(&((36 + 20 * attrs.len()) as u32).to_le_bytes());
        c.extend_from_slice(&[0; 8]);
        c.extend_from_slice(&NO_INDEX.to_le_bytes());
        c.extend_from_slice(&name.to_le_bytes());
        c.extend_from_slice(&20u16.to_le_bytes());
        c.extend_from_slice(&20u16.to_le_bytes());
        c.extend_from_slice(&(attrs.len() as u16).to_le_bytes());
        c.extend_from_slice(&[0; 6]);
        for (n, raw, ty, data) in attrs {
            c.extend_from_slice(&NO_INDEX.to_le_bytes());
            c.extend_from_slice(&n.to_le_bytes());
            c.extend_from_slice(&raw.to_le_bytes());
            c.extend_from_slice(&[8, 0, 0, *ty]);
            c.extend_from_slice(&data.to_le_bytes());
        }
        c
    }

    fn doc(chunks: &[Vec<u8>]) -> Vec<u8> {
        let body: Vec<u8> = chunks.concat();
        let mut d = vec![3, 0, 8, 0]; // RES_XML_TYPE
        d.extend_from_slice(&((8 + body.len()) as u32).to_le_bytes());
        d.extend_from_slice(&body);
        d
    }

    #[test]
    fn reads_package_versions_and_sdk() {
        let strings = [
            "manifest",
            "package",
            "versionCode",
            "versionName",
            "com.a.b",
            "1.2",
            "uses-sdk",
            "minSdkVersion",
            "targetSandboxVersion",
        ];
        let m = element(
            0,
            &[
                (1, 4, 3, 4),
                (2, NO_INDEX, 0x10, 42),
                (3, 5, 3, 5),
                (8, NO_INDEX, 0x10, 2),
            ],
        );
        let u = element(6, &[(7, NO_INDEX, 0x10, 21)]);
        let d = doc(&[pool(&strings), m, u]);
        let got = parse(&d).unwrap();
        assert_eq!(got.package.as_deref(), Some("com.a.b"));
        assert_eq!(got.version_code.as_deref(), Some("42"));
        assert_eq!(got.version_name.as_deref(), Some("1.2"));
        assert_eq!(got.min_sdk, Some(21));
        assert_eq!(got.target_sandbox, Some(2));
    }

    #[test]
    fn resource_ids_win_over_names() {
        // attribute named "versionName" but carrying the versionCode resource id
        let strings = ["versionName", "manifest"];
        let mut rm = vec![0x80, 0x01, 8, 0, 12, 0, 0, 0];
        rm.extend_from_slice(&ATTR_VERSION_CODE.to_le_bytes());
        let d = doc(&[pool(&strings), rm, element(1, &[(0, NO_INDEX, 0x10, 7)])]);
        let got = parse(&d).unwrap();
        assert_eq!(
            (got.version_code.as_deref(), got.version_name),
            (Some("7"), None)
        );
    }

    #[test]
    fn malformed_documents_fail_or_truncate_cleanly() {
        assert!(parse(&[]).is_err());
        let d = doc(&[pool(&["manifest"]), element(0, &[])]);
        let mut big = d.clone();
        big[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(parse(&big).is_err());
        for cut in 0..d.len() {
            let mut t = d[..cut].to_vec();
            if t.len() >= 8 {
                let n = t.len() as u32;
                t[4..8].copy_from_slice(&n.to_le_bytes());
            }
            let _ = parse(&t);
        }
    }
}
