//! Errors of package inspection and their stable machine codes.
//!
//! Owns: `InspectError` and the mapping to the codes documented in `docs/inspection.md`.
//! Must not: carry attacker-controlled bytes unbounded into messages (details are short,
//! fixed texts or numbers).
//! Invariant: `code()` returns one of a closed set of snake_case strings that never change.

use std::io;

/// Why a package could not be inspected. `code()` is the stable identifier for clients.
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    /// Not a ZIP archive, or its ZIP structure (EOCD, central directory, local header,
    /// compressed data) is broken beyond what the platforms tolerate.
    #[error("package unreadable: {0}")]
    PackageUnreadable(&'static str),
    /// A ZIP archive that is none of APK, IPA or HAP (e.g. an empty ZIP, or no `Payload/*.app`).
    #[error("unsupported package: {0}")]
    UnsupportedPackage(&'static str),
    /// The archive looks like an app package but its manifest file is absent.
    #[error("manifest missing: {0}")]
    ManifestMissing(&'static str),
    /// The manifest (binary AXML, Info.plist, module.json) is present but cannot be parsed or
    /// lacks the app id.
    #[error("manifest invalid: {0}")]
    ManifestInvalid(&'static str),
    /// A configured limit (`Limits`) was exceeded; the package is refused, not truncated.
    #[error("package too large: {0}")]
    PackageTooLarge(&'static str),
    /// Never returned by `inspect_*`: produced by `PackageIdentity::require_signed` when no
    /// signature scheme is present at all.
    #[error("package is unsigned")]
    Unsigned,
    /// Never returned by `inspect_*`: produced by `PackageIdentity::require_signed` when
    /// signatures are present but the platform would not accept any of them.
    #[error("signature invalid: the platform would not accept the package's signature")]
    SignatureInvalid,
    /// The ZIP structure can be read in more than one way (duplicate names, a second end
    /// record, a local header that disagrees with the central directory, bytes outside every
    /// entry): refused under `Limits::strict_zip` whatever the signatures say.
    #[error("package ambiguous: {0}")]
    PackageAmbiguous(&'static str),
    /// Reading the source failed for a reason other than the package being short.
    #[error("i/o error: {0}")]
    Io(#[source] io::Error),
}

impl InspectError {
    /// The stable, documented machine code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            InspectError::PackageUnreadable(_) => "package_unreadable",
            InspectError::UnsupportedPackage(_) => "unsupported_package",
            InspectError::ManifestMissing(_) => "manifest_missing",
            InspectError::ManifestInvalid(_) => "manifest_invalid",
            InspectError::PackageTooLarge(_) => "package_too_large",
            InspectError::Unsigned => "unsigned",
            InspectError::SignatureInvalid => "signature_invalid",
            InspectError::PackageAmbiguous(_) => "package_ambiguous",
            InspectError::Io(_) => "io_error",
        }
    }
}

impl From<io::Error> for InspectError {
    fn from(e: io::Error) -> Self {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            InspectError::PackageUnreadable("unexpected end of data")
        } else {
            InspectError::Io(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable() {
        assert_eq!(
            InspectError::PackageUnreadable("x").code(),
            "package_unreadable"
        );
        assert_eq!(
            InspectError::ManifestInvalid("x").code(),
            "manifest_invalid"
        );
        assert_eq!(
            InspectError::PackageAmbiguous("x").code(),
            "package_ambiguous"
        );
        let eof: InspectError = io::Error::from(io::ErrorKind::UnexpectedEof).into();
        assert_eq!(eof.code(), "package_unreadable");
        let other: InspectError = io::Error::from(io::ErrorKind::PermissionDenied).into();
        assert_eq!(other.code(), "io_error");
    }
}
