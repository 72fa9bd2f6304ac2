//! Content digests of packages large enough to be hashed on every core: an APK signed by
//! Debian's apksigner with v1, v2, v3 and verity digests, a byte of it changed, and the
//! chunk digests an upload route computes while the body streams in.
//!
//! Owns: end-to-end checks of `inspect_file` / `inspect_aided` against apksigner's verdict.
//! Must not: depend on timing (speed is measured in benches/inspect.rs).
//! Invariant: every signer reported is the one apksigner prints for the same file.

#[path = "upload_support/mod.rs"]
mod upload_support;

use icpgate::inspect::{inspect_aided, inspect_file, ChunkDigests, DigestAid, Limits};
use std::sync::{Arc, OnceLock};
use upload_support::Own;

/// 20 MB of stored filler: more than the 8 MiB from which the digest pass uses threads.
fn verity_apk() -> Option<&'static Own> {
    static OWN: OnceLock<Option<Own>> = OnceLock::new();
    OWN.get_or_init(|| {
        upload_support::build_apks(
            "verity-apks",
            &[
                ("SIGN_FLAGS", "--verity-enabled"),
                ("FILLER_BYTES", "20000000"),
            ],
        )
    })
    .as_ref()
}

fn digests_on() -> Limits {
    Limits {
        verify_digests: true,
        ..Limits::default()
    }
}

fn accepted_sha256(id: &icpgate::inspect::PackageIdentity) -> Vec<String> {
    id.accepted_signers
        .iter()
        .map(|c| hex::encode(c.signer.sha256.unwrap()))
        .collect()
}

fn prehash(bytes: &[u8]) -> Arc<ChunkDigests> {
    let mut pre = ChunkDigests::new();
    for c in bytes.chunks(1 << 20) {
        pre.push(c);
    }
    Arc::new(pre)
}

#[test]
fn verity_signed_apk_verifies_on_every_core_and_a_changed_byte_is_refused() {
    let Some(own) = verity_apk() else { return };
    let path = own.dir.join("signed.apk");
    let id = inspect_file(&path, &digests_on()).unwrap();
    assert_eq!(accepted_sha256(&id), [own.signed[0].clone()]);
    let names: Vec<&str> = id.schemes.iter().map(|s| s.scheme).collect();
    assert_eq!(names, ["v1", "v2", "v3"]);

    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes.len() / 2; // inside the stored filler
    bytes[at] ^= 0x40;
    let changed = own.dir.join("changed.apk");
    std::fs::write(&changed, &bytes).unwrap();
    let c = inspect_file(&changed, &digests_on()).unwrap();
    assert!(
        c.accepted_signers.is_empty(),
        "a changed byte must not verify"
    );
    assert_eq!(c.require_signed().unwrap_err().code(), "signature_invalid");
}

#[test]
fn chunk_digests_from_the_upload_are_used_and_give_the_same_verdict() {
    let Some(own) = verity_apk() else { return };
    let bytes = std::fs::read(own.dir.join("signed.apk")).unwrap();
    let aided = |pre: Arc<ChunkDigests>| {
        let aid = DigestAid {
            reader: Some(Arc::new(bytes::Bytes::from(bytes.clone()))),
            prehashed: Some(pre),
        };
        inspect_aided(std::io::Cursor::new(&bytes), &digests_on(), aid).unwrap()
    };
    let id = aided(prehash(&bytes));
    assert_eq!(accepted_sha256(&id), [own.signed[0].clone()]);
    // Digests of other bytes are taken as given: the verdict follows them, which shows that
    // the chunks they cover are not hashed again.
    let mut other = bytes.clone();
    other[bytes.len() / 3] ^= 1;
    assert!(aided(prehash(&other)).accepted_signers.is_empty());
}
