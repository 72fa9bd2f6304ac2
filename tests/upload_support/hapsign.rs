//! Test-only HAP signer: builds a HAP signing block (docs/inspection.md "HarmonyOS
//! signatures") around a CMS SignedData made with an rcgen test key and ring, and inserts it
//! before the central directory of an unsigned HAP.
//!
//! Owns: the test signing layout (one profile sub-block, one signature sub-block, version 3).
//! Must not: be compiled outside tests (used by `src/inspect/hapsig.rs` tests via `#[path]`
//! and by the integration tests through `upload_support`), or depend on icpgate's parser.
//! Invariant: `sign` of a ZIP whose EOCD has no comment yields a file the documented layout
//! describes, with a correct SHA-256 content digest unless `Tamper` says otherwise.
#![allow(dead_code)]

use sha2::{Digest, Sha256};

/// A self-signed ECDSA P-256 test certificate and its PKCS#8 key.
pub struct TestKey {
    pub cert_der: Vec<u8>,
    pub pkcs8: Vec<u8>,
}

impl TestKey {
    pub fn new(cn: &str) -> TestKey {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
        let mut params = rcgen::CertificateParams::new(vec![format!("{cn}.example")]).expect("p");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, cn);
        let cert = params.self_signed(&key).expect("cert");
        TestKey {
            cert_der: cert.der().to_vec(),
            pkcs8: key.serialize_der(),
        }
    }

    pub fn sha256_hex(&self) -> String {
        hex_of(&Sha256::digest(&self.cert_der))
    }
}

fn hex_of(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Ways to make the signed HAP wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tamper {
    None,
    /// The signed content digest is not the file's.
    WrongDigest,
    /// The SignedData signature is flipped.
    BadSignature,
}

const OID_SHA256: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01];
const OID_ECDSA_SHA256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02];
const OID_DATA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01];
const OID_SIGNED_DATA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02];
const OID_CONTENT_TYPE: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x03];
const OID_MESSAGE_DIGEST: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x04];
pub const PROFILE: &[u8] = br#"{"bundle-info":{"bundle-name":"test"}}"#;

/// A DER TLV (tag < 0x1f).
pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = content.len();
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let bytes: Vec<u8> = n
            .to_be_bytes()
            .iter()
            .copied()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend_from_slice(&bytes);
    }
    out.extend_from_slice(content);
    out
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// (header length, content) of the DER item at the start of `b`.
fn item(b: &[u8]) -> (usize, usize) {
    let l0 = b[1] as usize;
    if l0 < 0x80 {
        return (2, l0);
    }
    let n = l0 & 0x7f;
    let len = b[2..2 + n]
        .iter()
        .fold(0usize, |v, x| (v << 8) | *x as usize);
    (2 + n, len)
}

/// The issuer Name TLV and serial INTEGER TLV of a certificate.
fn issuer_and_serial(cert: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let (h, _) = item(cert);
    let tbs = &cert[h..];
    let (h, _) = item(tbs);
    let mut p = &tbs[h..];
    let next = |p: &mut &[u8]| {
        let (h, l) = item(p);
        let whole = p[..h + l].to_vec();
        *p = &p[h + l..];
        whole
    };
    if p[0] == 0xa0 {
        next(&mut p);
    }
    let serial = next(&mut p);
    let _alg = next(&mut p);
    let issuer = next(&mut p);
    (issuer, serial)
}

/// A ContentInfo(SignedData) over attached `content`, signed with signed attributes.
pub fn signed_data(key: &TestKey, content: &[u8], tamper: Tamper) -> Vec<u8> {
    let md = Sha256::digest(content);
    let attrs = cat(&[
        &tlv(
            0x30,
            &cat(&[
                &tlv(0x06, OID_CONTENT_TYPE),
                &tlv(0x31, &tlv(0x06, OID_DATA)),
            ]),
        ),
        &tlv(
            0x30,
            &cat(&[&tlv(0x06, OID_MESSAGE_DIGEST), &tlv(0x31, &tlv(0x04, &md))]),
        ),
    ]);
    let rng = ring::rand::SystemRandom::new();
    let alg = &ring::signature::ECDSA_P256_SHA256_ASN1_SIGNING;
    let kp = ring::signature::EcdsaKeyPair::from_pkcs8(alg, &key.pkcs8, &rng).expect("pkcs8");
    let mut sig = kp
        .sign(&rng, &tlv(0x31, &attrs))
        .expect("sign")
        .as_ref()
        .to_vec();
    if tamper == Tamper::BadSignature {
        let last = sig.len() - 1;
        sig[last] ^= 1;
    }
    let (issuer, serial) = issuer_and_serial(&key.cert_der);
    let sha256_alg = tlv(0x30, &tlv(0x06, OID_SHA256));
    let signer_info = tlv(
        0x30,
        &cat(&[
            &tlv(0x02, &[1]),
            &tlv(0x30, &cat(&[&issuer, &serial])),
            &sha256_alg,
            &tlv(0xa0, &attrs),
            &tlv(0x30, &tlv(0x06, OID_ECDSA_SHA256)),
            &tlv(0x04, &sig),
        ]),
    );
    let encap = tlv(
        0x30,
        &cat(&[&tlv(0x06, OID_DATA), &tlv(0xa0, &tlv(0x04, content))]),
    );
    let sd = tlv(
        0x30,
        &cat(&[
            &tlv(0x02, &[1]),
            &tlv(0x31, &sha256_alg),
            &encap,
            &tlv(0xa0, &key.cert_der),
            &tlv(0x31, &signer_info),
        ]),
    );
    tlv(0x30, &cat(&[&tlv(0x06, OID_SIGNED_DATA), &tlv(0xa0, &sd)]))
}

fn chunk_digest(b: &[u8]) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update([0xa5]);
    h.update((b.len() as u32).to_le_bytes());
    h.update(b);
    h.finalize().to_vec()
}

/// The HAP content digest (SHA-256) of entries | CD | EOCD plus the optional values.
fn content_digest(entries: &[u8], cd: &[u8], eocd: &[u8], optional: &[&[u8]]) -> Vec<u8> {
    let mut chunks = Vec::new();
    let mut count = 0u32;
    for part in [entries, cd, eocd] {
        for c in part.chunks(1 << 20) {
            chunks.extend(chunk_digest(c));
            count += 1;
        }
    }
    let mut h = Sha256::new();
    h.update([0x5a]);
    h.update(count.to_le_bytes());
    h.update(&chunks);
    for o in optional {
        h.update(o);
    }
    h.finalize().to_vec()
}

/// The signing block (heads, values, 32-byte head) for `subs` = (type, value).
pub fn block(subs: &[(u32, &[u8])], version: u32) -> Vec<u8> {
    let heads_len = 12 * subs.len();
    let values_len: usize = subs.iter().map(|(_, v)| v.len()).sum();
    let size = heads_len + values_len + 32;
    let mut out = Vec::new();
    let mut off = heads_len;
    for (t, v) in subs {
        out.extend_from_slice(&t.to_le_bytes());
        out.extend_from_slice(&(v.len() as u32).to_le_bytes());
        out.extend_from_slice(&(off as u32).to_le_bytes());
        off += v.len();
    }
    for (_, v) in subs {
        out.extend_from_slice(v);
    }
    out.extend_from_slice(&(subs.len() as u32).to_le_bytes());
    out.extend_from_slice(&(size as u64).to_le_bytes());
    out.extend_from_slice(if version < 3 {
        b"HAP Sig Block 42"
    } else {
        b"<hap sign block>"
    });
    out.extend_from_slice(&version.to_le_bytes());
    out
}

/// (CD offset, EOCD offset) of a ZIP whose EOCD carries no comment.
fn layout(zip: &[u8]) -> (usize, usize) {
    let eocd = zip.len() - 22;
    assert_eq!(&zip[eocd..eocd + 4], b"PK\x05\x06", "EOCD with a comment");
    let cd = u32::from_le_bytes(zip[eocd + 16..eocd + 20].try_into().expect("4")) as usize;
    (cd, eocd)
}

/// Signs an unsigned HAP: a profile and a signature sub-block inserted before the CD.
pub fn sign(zip: &[u8], key: &TestKey, tamper: Tamper) -> Vec<u8> {
    let (cd, eocd) = layout(zip);
    let mut digest = content_digest(&zip[..cd], &zip[cd..eocd], &zip[eocd..], &[PROFILE]);
    if tamper == Tamper::WrongDigest {
        digest[0] ^= 1;
    }
    let mut content = Vec::new();
    for v in [2u32, 1, 8 + 32, 0x201, 32] {
        content.extend_from_slice(&v.to_le_bytes());
    }
    content.extend_from_slice(&digest);
    let sd = signed_data(key, &content, tamper);
    let blk = block(&[(0x2000_0002, PROFILE), (0x2000_0000, &sd)], 3);
    insert(zip, &blk)
}

/// `zip` with `blk` inserted before its central directory (EOCD CD offset moved).
pub fn insert(zip: &[u8], blk: &[u8]) -> Vec<u8> {
    let (cd, eocd) = layout(zip);
    let mut out = cat(&[&zip[..cd], blk, &zip[cd..]]);
    let at = eocd + blk.len() + 16;
    out[at..at + 4].copy_from_slice(&((cd + blk.len()) as u32).to_le_bytes());
    out
}

/// A stored-only ZIP (no comment, CRC fields zero as icpgate's reader tolerates) of `files`.
pub fn stored_zip(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut cd = Vec::new();
    for (name, data) in files {
        let lho = out.len() as u32;
        let (n, len) = (name.len() as u16, data.len() as u32);
        out.extend_from_slice(b"PK\x03\x04");
        out.extend_from_slice(&[20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&n.to_le_bytes());
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(data);
        cd.extend_from_slice(b"PK\x01\x02");
        cd.extend_from_slice(&[20, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        cd.extend_from_slice(&len.to_le_bytes());
        cd.extend_from_slice(&len.to_le_bytes());
        cd.extend_from_slice(&n.to_le_bytes());
        cd.extend_from_slice(&[0; 12]);
        cd.extend_from_slice(&lho.to_le_bytes());
        cd.extend_from_slice(name.as_bytes());
    }
    let cd_off = out.len() as u32;
    out.extend_from_slice(&cd);
    out.extend_from_slice(b"PK\x05\x06");
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(&(files.len() as u16).to_le_bytes());
    out.extend_from_slice(&(files.len() as u16).to_le_bytes());
    out.extend_from_slice(&(cd.len() as u32).to_le_bytes());
    out.extend_from_slice(&cd_off.to_le_bytes());
    out.extend_from_slice(&[0, 0]);
    out
}

/// An unsigned HAP (module.json + one entry) for `bundle`.
pub fn unsigned_hap(bundle: &str) -> Vec<u8> {
    let module = format!(
        r#"{{"app":{{"bundleName":"{bundle}","versionCode":1000000,"versionName":"1.0.0"}}}}"#
    );
    stored_zip(&[
        ("module.json", module.as_bytes()),
        ("ets/modules.abc", &[0x5au8; 2048]),
    ])
}

/// `zip` without the HAP signing block before its central directory (if it has one): the
/// bytes an unsigned build of the same HAP would have (EOCD CD offset moved back).
pub fn strip(zip: &[u8]) -> Vec<u8> {
    let (cd, eocd) = layout(zip);
    let magic = &zip[cd - 20..cd - 4];
    if magic != b"<hap sign block>" && magic != b"HAP Sig Block 42" {
        return zip.to_vec();
    }
    let size = u64::from_le_bytes(zip[cd - 28..cd - 20].try_into().expect("8")) as usize;
    let start = cd - size;
    let mut out = cat(&[&zip[..start], &zip[cd..]]);
    let at = eocd - size + 16;
    out[at..at + 4].copy_from_slice(&(start as u32).to_le_bytes());
    out
}
