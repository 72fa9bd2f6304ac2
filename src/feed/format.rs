//! The feed format (docs/feed.md): a directory of static files any HTTP server or CDN can
//! serve. `manifest.json` names a zstd-compressed snapshot and a chain of deltas with their
//! sha256, size and the state checksum after each; `manifest.json.sig` is an Ed25519 signature
//! over the exact manifest bytes.
//!
//! Owns the manifest schema, keys and signatures, the canonical record line, the
//! order-independent state checksum and the delta line schema.
//! Must not: fetch or write files (publisher and sync do), or trust a manifest whose signature
//! it has not checked against a configured key.
//! Invariant: `Checksum` is a commutative sum, so applying records in any order gives the same
//! value, and removing a record subtracts exactly what adding it added.

use crate::filing::record::{from_wire, WireRecord};
use crate::filing::FilingNumber;
pub use crate::index::Change;
use ring::signature::{Ed25519KeyPair, KeyPair, UnparsedPublicKey, ED25519};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub const FORMAT: &str = "icpgate-feed/1";
pub const MANIFEST: &str = "manifest.json";
pub const SIGNATURE: &str = "manifest.json.sig";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: String,
    /// The revision a gateway holds after applying the snapshot and every delta.
    pub revision: u64,
    /// RFC 3339 time up to which the registry export behind this revision is complete.
    pub complete_as_of: String,
    /// Gateways must not poll more often than this.
    pub min_poll_interval_seconds: u64,
    /// Id of the key that signed this manifest (first 8 bytes of sha256(public key), hex).
    pub key_id: String,
    pub snapshot: SnapshotRef,
    /// Deltas after the snapshot, in order: each `parent` is the previous `revision`.
    pub deltas: Vec<DeltaRef>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnapshotRef {
    pub file: String,
    pub revision: u64,
    pub sha256: String,
    pub size: u64,
    pub records: u64,
    pub state_checksum: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeltaRef {
    pub file: String,
    pub parent: u64,
    pub revision: u64,
    pub sha256: String,
    pub size: u64,
    pub upserts: u64,
    pub removals: u64,
    pub state_checksum: String,
}

/// Why a feed file or manifest is unusable. The variant names are the `cause` metric label.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    #[error("manifest signature does not verify with any configured public key")]
    Signature,
    #[error("manifest is not valid: {0}")]
    Manifest(String),
    #[error("{file}: sha256 {got} does not match the manifest's {want}")]
    Sha256 {
        file: String,
        want: String,
        got: String,
    },
    #[error("{file}: size {got} does not match the manifest's {want}")]
    Size { file: String, want: u64, got: u64 },
    #[error("{file}: cannot decompress: {reason}")]
    Decompress { file: String, reason: String },
    #[error("{file}:{line}: {reason}")]
    Line {
        file: String,
        line: usize,
        reason: String,
    },
    #[error("key file {path}: {reason}")]
    Key { path: String, reason: String },
}

impl Manifest {
    /// Parses and checks the internal consistency of a manifest (the chain of revisions).
    pub fn parse(bytes: &[u8]) -> Result<Manifest, FormatError> {
        let m: Manifest =
            serde_json::from_slice(bytes).map_err(|e| FormatError::Manifest(e.to_string()))?;
        if m.format != FORMAT {
            return Err(FormatError::Manifest(format!(
                "format {:?} is not {FORMAT:?}",
                m.format
            )));
        }
        humantime::parse_rfc3339_weak(&m.complete_as_of).map_err(|_| {
            FormatError::Manifest(format!(
                "complete_as_of {:?} is not RFC 3339",
                m.complete_as_of
            ))
        })?;
        let mut rev = m.snapshot.revision;
        for d in &m.deltas {
            if d.parent != rev || d.revision <= d.parent {
                return Err(FormatError::Manifest(format!(
                    "delta {} has parent {} but follows revision {rev}",
                    d.revision, d.parent
                )));
            }
            rev = d.revision;
        }
        if rev != m.revision {
            return Err(FormatError::Manifest(format!(
                "chain ends at {rev}, manifest says {}",
                m.revision
            )));
        }
        for f in std::iter::once(&m.snapshot.file).chain(m.deltas.iter().map(|d| &d.file)) {
            if f.starts_with('/')
                || f.split('/').any(|s| s == ".." || s.is_empty())
                || f.contains('\\')
            {
                return Err(FormatError::Manifest(format!(
                    "file name {f:?} must be a relative path inside the feed"
                )));
            }
        }
        Checksum::from_hex(&m.snapshot.state_checksum)
            .ok_or_else(|| FormatError::Manifest("bad snapshot state_checksum".into()))?;
        Ok(m)
    }

    pub fn complete_as_of(&self) -> std::time::SystemTime {
        humantime::parse_rfc3339_weak(&self.complete_as_of).unwrap_or(std::time::UNIX_EPOCH)
    }

    /// The deltas that lead from `revision` to the manifest's revision, if the chain has them.
    pub fn deltas_after(&self, revision: u64) -> Option<&[DeltaRef]> {
        if revision == self.snapshot.revision {
            return Some(&self.deltas);
        }
        let i = self.deltas.iter().position(|d| d.revision == revision)?;
        Some(&self.deltas[i + 1..])
    }
}

/// Order-independent state checksum: the sum, modulo 2^128, of XXH3-128 of every record's
/// canonical line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Checksum(pub u128);

impl Checksum {
    pub fn digest(line: &[u8]) -> u128 {
        crate::index::record_digest(line)
    }
    pub fn add(&mut self, line: &[u8]) {
        self.0 = self.0.wrapping_add(Self::digest(line));
    }
    pub fn remove(&mut self, line: &[u8]) {
        self.0 = self.0.wrapping_sub(Self::digest(line));
    }
    pub fn to_hex(self) -> String {
        format!("{:032x}", self.0)
    }
    pub fn from_hex(s: &str) -> Option<Checksum> {
        (s.len() == 32)
            .then(|| u128::from_str_radix(s, 16).ok().map(Checksum))
            .flatten()
    }
}

/// One line of a delta file: exactly one of `upsert` (a whole record, replacing any record
/// with its number) or `remove` (a filing number).
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeltaLine<'a> {
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub upsert: Option<WireRecord<'a>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remove: Option<String>,
}

pub fn parse_delta_line(line: &str) -> Result<Change, String> {
    let d: DeltaLine<'_> = serde_json::from_str(line).map_err(|e| e.to_string())?;
    match (d.upsert, d.remove) {
        (Some(w), None) => from_wire(&w).map(Change::Upsert).map_err(|e| e.to_string()),
        (None, Some(n)) => FilingNumber::parse(&n)
            .map(Change::Remove)
            .map_err(|e| format!("remove {n:?}: {e}")),
        _ => Err("a delta line has exactly one of upsert or remove".into()),
    }
}

pub fn delta_line(c: &Change) -> String {
    match c {
        Change::Upsert(r) => format!("{{\"upsert\":{}}}", r.canonical_line()),
        Change::Remove(n) => serde_json::to_string(&serde_json::json!({ "remove": n.to_string() }))
            .unwrap_or_default(),
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Checks a fetched file against its manifest entry.
pub fn check_file(file: &str, bytes: &[u8], sha256: &str, size: u64) -> Result<(), FormatError> {
    if bytes.len() as u64 != size {
        return Err(FormatError::Size {
            file: file.into(),
            want: size,
            got: bytes.len() as u64,
        });
    }
    let got = sha256_hex(bytes);
    if !got.eq_ignore_ascii_case(sha256) {
        return Err(FormatError::Sha256 {
            file: file.into(),
            want: sha256.into(),
            got,
        });
    }
    Ok(())
}

/// Decompresses a zstd file, refusing to produce more than `limit` bytes.
pub fn decompress(file: &str, bytes: &[u8], limit: u64) -> Result<Vec<u8>, FormatError> {
    use std::io::Read;
    let err = |reason: String| FormatError::Decompress {
        file: file.into(),
        reason,
    };
    let mut out = Vec::new();
    let dec = zstd::stream::read::Decoder::new(bytes).map_err(|e| err(e.to_string()))?;
    dec.take(limit + 1)
        .read_to_end(&mut out)
        .map_err(|e| err(e.to_string()))?;
    if out.len() as u64 > limit {
        return Err(err(format!("larger than the {limit}-byte limit")));
    }
    Ok(out)
}

pub fn compress(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    zstd::stream::encode_all(bytes, 3)
}

/// An Ed25519 public key a gateway trusts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKey(pub [u8; 32]);

impl PublicKey {
    pub fn id(&self) -> String {
        hex::encode(&Sha256::digest(self.0)[..8])
    }
    /// Parses the text of a `.pub` file: 64 hex digits.
    pub fn parse(text: &str) -> Option<PublicKey> {
        let mut k = [0u8; 32];
        hex::decode_to_slice(text.trim(), &mut k).ok()?;
        Some(PublicKey(k))
    }
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

/// The publisher's signing key (PKCS#8 v2, stored as hex).
pub struct SigningKey(Ed25519KeyPair);

impl SigningKey {
    /// Generates a key; returns it with the text of its `.key` file.
    pub fn generate() -> Result<(SigningKey, String), FormatError> {
        let rng = ring::rand::SystemRandom::new();
        let doc = Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| FormatError::Key {
            path: "-".into(),
            reason: "key generation failed".into(),
        })?;
        let text = hex::encode(doc.as_ref());
        let key = SigningKey::parse("-", &text)?;
        Ok((key, text + "\n"))
    }

    pub fn parse(path: &str, text: &str) -> Result<SigningKey, FormatError> {
        let bad = |reason: &str| FormatError::Key {
            path: path.into(),
            reason: reason.into(),
        };
        let der = hex::decode(text.trim()).map_err(|_| bad("not hex"))?;
        Ed25519KeyPair::from_pkcs8(&der)
            .map(SigningKey)
            .map_err(|_| bad("not an Ed25519 PKCS#8 key"))
    }

    pub fn public(&self) -> PublicKey {
        let mut k = [0u8; 32];
        k.copy_from_slice(self.0.public_key().as_ref());
        PublicKey(k)
    }

    /// The text of `manifest.json.sig` for these manifest bytes.
    pub fn sign(&self, manifest: &[u8]) -> String {
        hex::encode(self.0.sign(manifest).as_ref()) + "\n"
    }
}

/// Verifies `manifest.json.sig` against any of `keys`; returns the key that verified.
pub fn verify<'k>(
    manifest: &[u8],
    sig_text: &[u8],
    keys: &'k [PublicKey],
) -> Result<&'k PublicKey, FormatError> {
    let sig = std::str::from_utf8(sig_text)
        .ok()
        .and_then(|s| hex::decode(s.trim()).ok())
        .ok_or(FormatError::Signature)?;
    keys.iter()
        .find(|k| {
            UnparsedPublicKey::new(&ED25519, k.0)
                .verify(manifest, &sig)
                .is_ok()
        })
        .ok_or(FormatError::Signature)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filing::record::parse_line;

    #[test]
    fn signatures_verify_only_with_the_right_key_and_bytes() {
        let (k1, text) = SigningKey::generate().unwrap();
        let k1 = SigningKey::parse("k", &text).unwrap_or(k1);
        let (k2, _) = SigningKey::generate().unwrap();
        let sig = k1.sign(b"manifest");
        assert_eq!(
            verify(b"manifest", sig.as_bytes(), &[k2.public(), k1.public()]).unwrap(),
            &k1.public()
        );
        assert!(verify(b"manifest", sig.as_bytes(), &[k2.public()]).is_err());
        assert!(verify(b"manifesT", sig.as_bytes(), &[k1.public()]).is_err());
        assert!(verify(b"manifest", b"zz", &[k1.public()]).is_err());
        assert_eq!(PublicKey::parse(&k1.public().to_hex()), Some(k1.public()));
    }

    #[test]
    fn checksum_is_order_independent_and_reversible() {
        let lines: Vec<&[u8]> = vec![b"a", b"b", b"c"];
        let mut x = Checksum::default();
        let mut y = Checksum::default();
        lines.iter().for_each(|l| x.add(l));
        lines.iter().rev().for_each(|l| y.add(l));
        assert_eq!(x, y);
        x.remove(b"b");
        let mut z = Checksum::default();
        z.add(b"c");
        z.add(b"a");
        assert_eq!(x, z);
        assert_eq!(Checksum::from_hex(&x.to_hex()), Some(x));
    }

    #[test]
    fn delta_lines_round_trip_and_reject_both_or_neither() {
        let r = parse_line(r#"{"number":"京ICP备12345678号-1A","status":"active","entity":"e","app_name":"a","platforms":[{"platform":"android","ids":["com.a.b"]}]}"#).unwrap();
        let up = Change::Upsert(r.clone());
        assert_eq!(parse_delta_line(&delta_line(&up)).unwrap(), up);
        let rm = Change::Remove(r.number);
        assert_eq!(parse_delta_line(&delta_line(&rm)).unwrap(), rm);
        assert!(parse_delta_line("{}").is_err());
        assert!(
            parse_delta_line(r#"{"remove":"京ICP备12345678号-1A","upsert":null,"x":1}"#).is_err()
        );
    }

    #[test]
    fn manifest_chain_is_checked() {
        let snap = SnapshotRef {
            file: "s.zst".into(),
            revision: 3,
            sha256: "00".into(),
            size: 1,
            records: 0,
            state_checksum: Checksum::default().to_hex(),
        };
        let d = |p, r| DeltaRef {
            file: format!("d{r}.zst"),
            parent: p,
            revision: r,
            sha256: "00".into(),
            size: 1,
            upserts: 0,
            removals: 0,
            state_checksum: Checksum::default().to_hex(),
        };
        let mut m = Manifest {
            format: FORMAT.into(),
            revision: 5,
            complete_as_of: "2026-01-01T00:00:00Z".into(),
            min_poll_interval_seconds: 1,
            key_id: "x".into(),
            snapshot: snap,
            deltas: vec![d(3, 4), d(4, 5)],
        };
        let ok = serde_json::to_vec(&m).unwrap();
        assert_eq!(
            Manifest::parse(&ok).unwrap().deltas_after(4).unwrap().len(),
            1
        );
        assert!(Manifest::parse(&ok).unwrap().deltas_after(2).is_none());
        m.deltas[1].parent = 3;
        assert!(Manifest::parse(&serde_json::to_vec(&m).unwrap()).is_err());
        m.deltas[1].parent = 4;
        m.deltas[0].file = "../etc/passwd".into();
        assert!(Manifest::parse(&serde_json::to_vec(&m).unwrap()).is_err());
    }
}
