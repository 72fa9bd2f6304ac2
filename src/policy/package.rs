//! The decision for an uploaded package: the identity comes from the package itself, the
//! request's own claims must agree with it, and on signer routes the signing certificate
//! selects the filing (design.md §4, "signer_not_filed").
//!
//! Owns the upload rows of the decision table, in this order: stale index → package problem
//! (4xx) → claim problem (400) → pinned platform (422) → claim disagrees (400) → unsigned (422)
//! → not filed / filed elsewhere → no filing lists a signer (451) → status of the filings the
//! signer selects.
//! Must not: do I/O or look at anything but its arguments (`proxy::upload` inspects, this decides).
//! Invariant: on signer routes `Allow` carries only active filings that list, for the
//! package's platform, a certificate the package is signed with.

use super::{by_mode, inactive_code, stale_gate, unfiled, Decision};
use crate::code::Code;
use crate::config::{PlatformSpec, RouteConfig};
use crate::filing::{Platform, Signer, Status};
use crate::index::{Hit, Revision};

/// What inspecting an upload found, reduced to what deciding needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Package {
    /// From the package kind: apk → android, ipa → ios, hap → harmony.
    pub platform: Platform,
    /// Package name / bundle id, grammatical for `platform`.
    pub id: String,
    /// Certificates the platform would accept the package as signed by.
    pub signers: Vec<Signer>,
    /// When `signers` is empty: `Unsigned` (no signature at all) or `SignatureInvalid`.
    pub unsigned: Option<Code>,
}

/// What the request itself says the package is (the route's `extract` sources and
/// `platform_from`), each `None` when the request does not say.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Claim {
    pub platform: Option<Platform>,
    pub id: Option<String>,
}

/// Same app id? iOS bundle ids are case-insensitive (as the index treats them), others exact.
fn same_id(platform: Platform, a: &str, b: &str) -> bool {
    match platform {
        Platform::Ios => a.eq_ignore_ascii_case(b),
        _ => a == b,
    }
}

/// True when the filing behind `hit` lists, for `platform`, one of `signers`.
fn lists_signer(rev: &Revision, hit: &Hit, platform: Platform, signers: &[Signer]) -> bool {
    rev.view(hit)
        .and_then(|v| v.platform(platform))
        .is_some_and(|p| p.signers().any(|f| signers.iter().any(|s| s.matches(&f))))
}

fn enforce_package(
    route: &RouteConfig,
    package: Result<&Package, Code>,
    claim: Result<&Claim, Code>,
    rev: &Revision,
    stale: bool,
) -> Decision {
    if let Some(d) = stale_gate(route, rev, stale) {
        return d;
    }
    let (pkg, claim) = match (package, claim) {
        (Err(code), _) | (_, Err(code)) => return Decision::Refuse(code),
        (Ok(p), Ok(c)) => (p, c),
    };
    if matches!(route.platform, PlatformSpec::Fixed(pin) if pin != pkg.platform) {
        return Decision::Refuse(Code::PackagePlatformMismatch);
    }
    let disagrees = claim.platform.is_some_and(|p| p != pkg.platform)
        || claim
            .id
            .as_deref()
            .is_some_and(|id| !same_id(pkg.platform, id, &pkg.id));
    if disagrees {
        return Decision::Refuse(Code::AmbiguousRequest);
    }
    let require_signer = route.upload.as_ref().is_none_or(|u| u.require_signer);
    if require_signer && pkg.signers.is_empty() {
        return Decision::Refuse(pkg.unsigned.unwrap_or(Code::Unsigned));
    }
    let hits = rev.lookup(pkg.platform, &pkg.id);
    if hits.is_empty() {
        return unfiled(route, rev, pkg.platform, &pkg.id);
    }
    // Several entities may file the same package name: the signer says whose package this is.
    let chosen: Vec<Hit> = hits
        .iter()
        .filter(|h| !require_signer || lists_signer(rev, h, pkg.platform, &pkg.signers))
        .copied()
        .collect();
    if chosen.is_empty() {
        return Decision::Refuse(Code::SignerNotFiled);
    }
    let active: super::Numbers = chosen
        .iter()
        .filter(|h| h.status == Status::Active)
        .map(|h| h.number)
        .collect();
    if active.is_empty() {
        return Decision::Refuse(inactive_code(&chosen));
    }
    Decision::Allow(active)
}

/// Decides an upload. `package` is the inspection result (or the 4xx/5xx code of why there is
/// none); `claim` is what the request says (or the 400 code of a malformed or ambiguous claim).
pub fn decide_package(
    route: &RouteConfig,
    package: Result<&Package, Code>,
    claim: Result<&Claim, Code>,
    rev: &Revision,
    stale: bool,
) -> Decision {
    by_mode(route, || enforce_package(route, package, claim, rev, stale))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Mode, OnStale, OnUnknown, UploadRoute, DEFAULT_RAW_TYPES};
    use crate::filing::record::parse_line;
    use crate::policy::PassReason;

    const KEY_A: &str = "aa";
    const KEY_B: &str = "bb";
    const KEY_C: &str = "cc";

    fn sha(k: &str) -> String {
        k.repeat(32)
    }

    fn signer(k: &str) -> Signer {
        let mut d = [0u8; 32];
        hex::decode_to_slice(sha(k), &mut d).unwrap();
        Signer {
            sha256: Some(d),
            ..Signer::default()
        }
    }

    fn route(mode: Mode, platform: PlatformSpec, require_signer: bool) -> RouteConfig {
        RouteConfig {
            mode,
            upload: Some(UploadRoute {
                field: "file".into(),
                max_bytes: 1 << 20,
                require_signer,
                verify_digests: false,
                raw_types: DEFAULT_RAW_TYPES.iter().map(|s| s.to_string()).collect(),
            }),
            ..RouteConfig::new("upload", platform, vec![])
        }
    }

    fn enforce() -> RouteConfig {
        route(Mode::Enforce, PlatformSpec::Package, true)
    }

    /// (number, status, platform, id, signer sha256 keys)
    fn rev() -> Revision {
        let rows: &[(&str, &str, &str, &str, &[&str])] = &[
            (
                "京ICP备12345678号-1A",
                "active",
                "android",
                "com.one.app",
                &[KEY_A],
            ),
            // Two entities filed the same package name with different certificates.
            (
                "沪ICP备2023000001号-1A",
                "active",
                "android",
                "com.shared.app",
                &[KEY_A],
            ),
            (
                "粤ICP备2023000002号-1A",
                "active",
                "android",
                "com.shared.app",
                &[KEY_B],
            ),
            // The signer's filing is revoked; another entity's filing is active.
            (
                "浙ICP备2023000003号-1A",
                "revoked",
                "android",
                "com.mixed.app",
                &[KEY_A],
            ),
            (
                "浙ICP备2023000004号-1A",
                "active",
                "android",
                "com.mixed.app",
                &[KEY_B],
            ),
            // Filed without any signer fingerprint.
            (
                "苏ICP备2023000005号-1A",
                "active",
                "android",
                "com.nosigner.app",
                &[],
            ),
            (
                "京ICP备12345678号-2A",
                "active",
                "ios",
                "com.Example.Phone",
                &[KEY_A],
            ),
            (
                "京ICP备12345678号-3A",
                "active",
                "harmony",
                "com.example.hm",
                &[KEY_A],
            ),
        ];
        let recs: Vec<_> = rows
            .iter()
            .map(|(n, st, p, id, keys)| {
                let signers: Vec<String> = keys
                    .iter()
                    .map(|k| format!(r#"{{"sha256":"{}"}}"#, sha(k)))
                    .collect();
                parse_line(&format!(
                    r#"{{"number":"{n}","status":"{st}","entity":"e{n}","app_name":"a","platforms":[{{"platform":"{p}","ids":["{id}"],"signers":[{}]}}]}}"#,
                    signers.join(",")
                ))
                .unwrap()
            })
            .collect();
        Revision::from_records(1, "t", &recs, false)
    }

    fn pkg(platform: Platform, id: &str, keys: &[&str]) -> Package {
        Package {
            platform,
            id: id.into(),
            signers: keys.iter().map(|k| signer(k)).collect(),
            unsigned: keys.is_empty().then_some(Code::Unsigned),
        }
    }

    fn apk(id: &str, keys: &[&str]) -> Package {
        pkg(Platform::Android, id, keys)
    }

    fn d(route: &RouteConfig, p: &Package, claim: &Claim) -> Decision {
        decide_package(route, Ok(p), Ok(claim), &rev(), false)
    }

    fn numbers(d: &Decision) -> Vec<String> {
        match d {
            Decision::Allow(n) => n.iter().map(|n| n.to_string()).collect(),
            other => panic!("expected allow, got {other:?}"),
        }
    }

    #[test]
    fn filed_and_signed_by_a_listed_certificate_is_allowed() {
        let r = enforce();
        let none = Claim::default();
        assert_eq!(
            numbers(&d(&r, &apk("com.one.app", &[KEY_A]), &none)),
            ["京ICP备12345678号-1A"]
        );
        // One listed signer among several accepted ones is enough.
        assert!(matches!(
            d(&r, &apk("com.one.app", &[KEY_C, KEY_A]), &none),
            Decision::Allow(_)
        ));
        // iOS and Harmony by their package kinds; iOS ids compare case-insensitively.
        assert!(matches!(
            d(
                &r,
                &pkg(Platform::Ios, "com.example.phone", &[KEY_A]),
                &none
            ),
            Decision::Allow(_)
        ));
        assert!(matches!(
            d(
                &r,
                &pkg(Platform::Harmony, "com.example.hm", &[KEY_A]),
                &none
            ),
            Decision::Allow(_)
        ));
    }

    #[test]
    fn the_signer_selects_the_filing_among_entities_sharing_a_package_name() {
        let r = enforce();
        let none = Claim::default();
        assert_eq!(
            numbers(&d(&r, &apk("com.shared.app", &[KEY_A]), &none)),
            ["沪ICP备2023000001号-1A"]
        );
        assert_eq!(
            numbers(&d(&r, &apk("com.shared.app", &[KEY_B]), &none)),
            ["粤ICP备2023000002号-1A"]
        );
        // The selected filing's status counts, not another entity's active filing.
        assert_eq!(
            d(&r, &apk("com.mixed.app", &[KEY_A]), &none),
            Decision::Refuse(Code::Revoked)
        );
        assert_eq!(
            numbers(&d(&r, &apk("com.mixed.app", &[KEY_B]), &none)),
            ["浙ICP备2023000004号-1A"]
        );
    }

    #[test]
    fn a_certificate_no_filing_lists_is_signer_not_filed() {
        let r = enforce();
        let none = Claim::default();
        assert_eq!(
            d(&r, &apk("com.one.app", &[KEY_B]), &none),
            Decision::Refuse(Code::SignerNotFiled)
        );
        assert_eq!(
            d(&r, &apk("com.shared.app", &[KEY_C]), &none),
            Decision::Refuse(Code::SignerNotFiled)
        );
        // A filing without fingerprints cannot vouch for any certificate.
        assert_eq!(
            d(&r, &apk("com.nosigner.app", &[KEY_A]), &none),
            Decision::Refuse(Code::SignerNotFiled)
        );
        // Fingerprints are compared by any digest both sides carry: md5 only on the filing
        // side and sha256 only on the package side never match.
        let mut md5_only = apk("com.one.app", &[]);
        md5_only.signers = vec![Signer {
            md5: Some([0xaa; 16]),
            ..Signer::default()
        }];
        md5_only.unsigned = None;
        assert_eq!(
            d(&r, &md5_only, &none),
            Decision::Refuse(Code::SignerNotFiled)
        );
    }

    #[test]
    fn unsigned_packages_are_refused_only_where_a_signer_is_required() {
        let none = Claim::default();
        assert_eq!(
            d(&enforce(), &apk("com.one.app", &[]), &none),
            Decision::Refuse(Code::Unsigned)
        );
        let mut invalid = apk("com.one.app", &[]);
        invalid.unsigned = Some(Code::SignatureInvalid);
        assert_eq!(
            d(&enforce(), &invalid, &none),
            Decision::Refuse(Code::SignatureInvalid)
        );
        let lax = route(Mode::Enforce, PlatformSpec::Package, false);
        // Without the signer rule, every filing for the id counts (as on id-only routes).
        assert_eq!(numbers(&d(&lax, &apk("com.one.app", &[]), &none)).len(), 1);
        assert_eq!(
            numbers(&d(&lax, &apk("com.shared.app", &[KEY_C]), &none)).len(),
            2
        );
        assert_eq!(
            numbers(&d(&lax, &apk("com.nosigner.app", &[]), &none)).len(),
            1
        );
    }

    #[test]
    fn unfiled_packages_follow_the_id_rules() {
        let r = enforce();
        let none = Claim::default();
        assert_eq!(
            d(&r, &apk("com.nobody.app", &[KEY_A]), &none),
            Decision::Refuse(Code::NotFiled)
        );
        // Filed for iOS only, uploaded as an APK.
        assert_eq!(
            d(&r, &apk("com.Example.Phone", &[KEY_A]), &none),
            Decision::Refuse(Code::PlatformNotFiled)
        );
        let mut open = enforce();
        open.on_unknown = OnUnknown::Forward;
        assert_eq!(
            d(&open, &apk("com.nobody.app", &[KEY_A]), &none),
            Decision::Pass(PassReason::UnknownForwarded)
        );
    }

    #[test]
    fn claims_must_agree_with_the_package() {
        let r = enforce();
        let p = apk("com.one.app", &[KEY_A]);
        let claim = |platform: Option<Platform>, id: Option<&str>| Claim {
            platform,
            id: id.map(String::from),
        };
        assert!(matches!(
            d(&r, &p, &claim(Some(Platform::Android), Some("com.one.app"))),
            Decision::Allow(_)
        ));
        assert_eq!(
            d(&r, &p, &claim(None, Some("com.other.app"))),
            Decision::Refuse(Code::AmbiguousRequest)
        );
        assert_eq!(
            d(&r, &p, &claim(None, Some("com.ONE.app"))),
            Decision::Refuse(Code::AmbiguousRequest),
            "Android package names are case-sensitive"
        );
        assert_eq!(
            d(&r, &p, &claim(Some(Platform::Ios), None)),
            Decision::Refuse(Code::AmbiguousRequest)
        );
        assert_eq!(
            decide_package(&r, Ok(&p), Err(Code::PlatformInvalid), &rev(), false),
            Decision::Refuse(Code::PlatformInvalid)
        );
        // The package's own problems come first.
        assert_eq!(
            decide_package(
                &r,
                Err(Code::ManifestMissing),
                Err(Code::AmbiguousRequest),
                &rev(),
                false
            ),
            Decision::Refuse(Code::ManifestMissing)
        );
    }

    #[test]
    fn a_pinned_platform_refuses_other_package_kinds() {
        let r = route(Mode::Enforce, PlatformSpec::Fixed(Platform::Android), true);
        let none = Claim::default();
        assert_eq!(
            d(
                &r,
                &pkg(Platform::Ios, "com.Example.Phone", &[KEY_A]),
                &none
            ),
            Decision::Refuse(Code::PackagePlatformMismatch)
        );
        assert!(matches!(
            d(&r, &apk("com.one.app", &[KEY_A]), &none),
            Decision::Allow(_)
        ));
    }

    #[test]
    fn modes_and_staleness_apply_to_uploads_too() {
        let none = Claim::default();
        let bad = apk("com.one.app", &[KEY_B]);
        let monitor = route(Mode::Monitor, PlatformSpec::Package, true);
        assert_eq!(
            d(&monitor, &bad, &none),
            Decision::Monitor(Code::SignerNotFiled)
        );
        assert_eq!(
            decide_package(&monitor, Err(Code::Unsigned), Ok(&none), &rev(), false),
            Decision::Monitor(Code::Unsigned)
        );
        let off = route(Mode::Off, PlatformSpec::Package, true);
        assert_eq!(d(&off, &bad, &none), Decision::Pass(PassReason::ModeOff));
        let mut closed = enforce();
        closed.on_stale = OnStale::Closed;
        assert_eq!(
            decide_package(&closed, Ok(&bad), Ok(&none), &rev(), true),
            Decision::Refuse(Code::IndexStale)
        );
        let mut open = enforce();
        open.on_stale = OnStale::Open;
        assert_eq!(
            decide_package(&open, Ok(&bad), Ok(&none), &rev(), true),
            Decision::Pass(PassReason::StaleOpen)
        );
        // Stale but enforcing: decided as usual.
        assert_eq!(
            decide_package(&enforce(), Ok(&bad), Ok(&none), &rev(), true),
            Decision::Refuse(Code::SignerNotFiled)
        );
    }
}
