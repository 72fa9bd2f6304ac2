//! From an inspected package to what the policy decides on: the id checked against its
//! platform's grammar, the signers the platform would accept, and the refusal code of an
//! inspection that failed.
//!
//! Owns `package_of` and `inspect_code`, shared by upload routes and `icpgate inspect`, so the
//! CLI's verdict and the gateway's decision start from the same `Package`.
//! Must not: read bytes or do I/O (`inspect` does that), or decide (`package.rs` does that).
//! Invariant: every `InspectError` has exactly one code, and a `Package` only ever carries an
//! id that is grammatical for its platform.

use super::Package;
use crate::code::Code;
use crate::filing::validate;
use crate::inspect::{InspectError, PackageIdentity};

/// The gateway code for an inspection error.
pub fn inspect_code(e: &InspectError) -> Code {
    match e {
        InspectError::PackageUnreadable(_) => Code::PackageUnreadable,
        InspectError::UnsupportedPackage(_) => Code::UnsupportedPackage,
        InspectError::ManifestMissing(_) => Code::ManifestMissing,
        InspectError::ManifestInvalid(_) => Code::ManifestInvalid,
        InspectError::PackageTooLarge(_) => Code::PackageTooLarge,
        InspectError::Unsigned => Code::Unsigned,
        InspectError::SignatureInvalid => Code::SignatureInvalid,
        InspectError::PackageAmbiguous(_) => Code::PackageAmbiguous,
        InspectError::Io(_) => Code::SpoolFailed,
    }
}

/// What the policy needs from an identity; `Err` when the id breaks its platform's grammar.
pub fn package_of(id: &PackageIdentity) -> Result<Package, Code> {
    validate(id.platform, &id.id).map_err(|_| Code::IdentifierInvalid)?;
    Ok(Package {
        platform: id.platform,
        id: id.id.clone(),
        signers: id
            .accepted_signers
            .iter()
            .map(|c| c.signer.clone())
            .collect(),
        unsigned: id.require_signed().err().as_ref().map(inspect_code),
    })
}
