//! The filing record: one filing (one number) with its status, entity, app name and, per
//! platform, the identifiers and signer fingerprints it covers. Also the NDJSON wire form used
//! by snapshot files and `/v1/lookup`.
//!
//! Owns: `FilingRecord`, `Status`, `Signer`, and `parse_line`, which validates everything a
//! registry export can get wrong (number grammar, kind/platform agreement, id grammar, hex).
//! Must not: accept a record that could let an app through on a malformed field.
//! Invariant: every `FilingRecord` returned by `parse_line` has a service number whose kind
//! matches all of its platforms, at least one platform, and only grammatical ids.

use super::check;
pub use super::fields::{RecordError, Signer, Status};
use super::id::{validate, Platform};
use super::number::{FilingNumber, ServiceKind};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::time::{Duration, UNIX_EPOCH};

/// One platform's part of a filing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlatformFiling {
    pub platform: Platform,
    pub ids: Vec<String>,
    pub signers: Vec<Signer>,
}

/// One filing, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilingRecord {
    pub number: FilingNumber,
    pub status: Status,
    pub entity: String,
    pub app_name: String,
    /// Seconds since the Unix epoch of the registry's last change to this filing.
    pub updated: u64,
    pub platforms: Vec<PlatformFiling>,
}

impl FilingRecord {
    pub fn kind(&self) -> ServiceKind {
        // parse_line guarantees a kind; a bare number never becomes a record.
        self.number.kind().unwrap_or(ServiceKind::App)
    }

    /// The canonical NDJSON line of this record: the wire form with fields in declaration
    /// order, no whitespace, lowercase hex. Feed checksums hash exactly these bytes.
    pub fn canonical_line(&self) -> String {
        serde_json::to_string(&self.to_wire()).unwrap_or_default()
    }

    /// The wire form (snapshot line and API output).
    pub fn to_wire(&self) -> WireRecord<'static> {
        WireRecord {
            number: Cow::Owned(self.number.to_string()),
            kind: Some(Cow::Borrowed(self.kind().as_str())),
            status: Cow::Borrowed(self.status.as_str()),
            entity: Cow::Owned(self.entity.clone()),
            app_name: Cow::Owned(self.app_name.clone()),
            updated: (self.updated != 0).then(|| {
                Cow::Owned(
                    humantime::format_rfc3339_seconds(
                        UNIX_EPOCH + Duration::from_secs(self.updated),
                    )
                    .to_string(),
                )
            }),
            platforms: self
                .platforms
                .iter()
                .map(|p| WirePlatform {
                    platform: Cow::Borrowed(p.platform.as_str()),
                    ids: p.ids.iter().map(|s| Cow::Owned(s.clone())).collect(),
                    signers: p.signers.iter().map(WireSigner::from_signer).collect(),
                })
                .collect(),
        }
    }
}

/// The NDJSON shape of a record. Unknown fields are rejected so that a renamed field in an
/// export cannot silently drop data.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WireRecord<'a> {
    #[serde(borrow)]
    pub number: Cow<'a, str>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub status: Cow<'a, str>,
    #[serde(borrow)]
    pub entity: Cow<'a, str>,
    #[serde(borrow)]
    pub app_name: Cow<'a, str>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub updated: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub platforms: Vec<WirePlatform<'a>>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WirePlatform<'a> {
    #[serde(borrow)]
    pub platform: Cow<'a, str>,
    #[serde(borrow)]
    pub ids: Vec<Cow<'a, str>>,
    #[serde(borrow, default, skip_serializing_if = "Vec::is_empty")]
    pub signers: Vec<WireSigner<'a>>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WireSigner<'a> {
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub md5: Option<Cow<'a, str>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub sha1: Option<Cow<'a, str>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<Cow<'a, str>>,
}

impl WireSigner<'static> {
    pub fn from_signer(s: &Signer) -> Self {
        WireSigner {
            md5: s.md5.map(|d| Cow::Owned(hex::encode(d))),
            sha1: s.sha1.map(|d| Cow::Owned(hex::encode(d))),
            sha256: s.sha256.map(|d| Cow::Owned(hex::encode(d))),
        }
    }
}

fn parse_platform(kind: ServiceKind, w: &WirePlatform<'_>) -> Result<PlatformFiling, String> {
    let platform = check::platform(kind, &w.platform)?;
    check::list_sizes(w.ids.len(), w.signers.len())?;
    let mut ids = Vec::with_capacity(w.ids.len());
    for (i, id) in w.ids.iter().enumerate() {
        validate(platform, id).map_err(|e| format!("ids[{i}]: {e}"))?;
        ids.push(id.to_string());
    }
    let signers = w
        .signers
        .iter()
        .enumerate()
        .map(|(i, s)| {
            check::signer(s.md5.as_deref(), s.sha1.as_deref(), s.sha256.as_deref())
                .map_err(|e| format!("signers[{i}]: {e}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(PlatformFiling {
        platform,
        ids,
        signers,
    })
}

/// Validates a decoded wire record.
pub fn from_wire(w: &WireRecord<'_>) -> Result<FilingRecord, RecordError> {
    let (number, kind) = check::service_number(&w.number)?;
    if let Some(k) = &w.kind {
        check::declared_kind(k, &number, kind)?;
    }
    let status = check::status(&w.status)?;
    check::entity_present(&w.entity)?;
    if w.platforms.is_empty() {
        return Err(RecordError::Empty { field: "platforms" });
    }
    check::name_lengths(&w.entity, &w.app_name)?;
    let updated = w.updated.as_deref().map_or(Ok(0), check::updated)?;
    let platforms = w
        .platforms
        .iter()
        .enumerate()
        .map(|(index, p)| {
            parse_platform(kind, p).map_err(|reason| RecordError::Platform { index, reason })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if let Some((index, p)) = check::repeated_platform(platforms.iter().map(|p| p.platform)) {
        return Err(RecordError::Platform {
            index,
            reason: format!("platform {p} listed twice"),
        });
    }
    Ok(FilingRecord {
        number,
        status,
        entity: w.entity.to_string(),
        app_name: w.app_name.to_string(),
        updated,
        platforms,
    })
}

/// Parses and validates one NDJSON line.
pub fn parse_line(line: &str) -> Result<FilingRecord, RecordError> {
    let w: WireRecord<'_> =
        serde_json::from_str(line).map_err(|e| RecordError::Json(e.to_string()))?;
    from_wire(&w)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{"number":"陕ICP备2024026116号-1A","status":"active","entity":"西安电子科技大学","app_name":"XDYou","updated":"2024-03-01T00:00:00Z","platforms":[{"platform":"ios","ids":["xyz.superbart.xdyou"],"signers":[{"sha1":"AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd"}]}]}"#;

    #[test]
    fn parses_a_good_line_and_round_trips() {
        let r = parse_line(GOOD).unwrap();
        assert_eq!(r.number.to_string(), "陕ICP备2024026116号-1A");
        assert_eq!(r.platforms[0].signers[0].sha1.unwrap()[0], 0xaa);
        let again = serde_json::to_string(&r.to_wire()).unwrap();
        assert_eq!(parse_line(&again).unwrap(), r);
    }

    #[test]
    fn rejects_with_the_field_named() {
        let cases = [
            (
                GOOD.replace("陕ICP备2024026116号-1A", "青ICP备案026000119号-2A"),
                "number",
            ),
            (GOOD.replace("号-1A", "号"), "subject"),
            (GOOD.replace("-1A", "-1X"), "platforms[0]"),
            (GOOD.replace("active", "pending"), "status"),
            (
                GOOD.replace("xyz.superbart.xdyou", "xyz_superbart"),
                "ids[0]",
            ),
            (GOOD.replace("2024-03-01T00:00:00Z", "yesterday"), "updated"),
            (GOOD.replace("\"entity\"", "\"entitty\""), "unknown field"),
            (GOOD.replace("AA:BB", "AA:B"), "sha1"),
            ("{".to_string(), "not a record"),
        ];
        for (line, needle) in cases {
            let e = parse_line(&line).unwrap_err().to_string();
            assert!(e.contains(needle), "{e:?} should mention {needle}");
        }
    }

    #[test]
    fn signer_matching_needs_one_common_digest_and_no_conflict() {
        let a = Signer {
            md5: Some([1; 16]),
            sha1: None,
            sha256: Some([2; 32]),
        };
        let b = Signer {
            md5: Some([1; 16]),
            ..Default::default()
        };
        let c = Signer {
            md5: Some([1; 16]),
            sha256: Some([3; 32]),
            ..Default::default()
        };
        let d = Signer {
            sha1: Some([1; 20]),
            ..Default::default()
        };
        assert!(a.matches(&b));
        assert!(!a.matches(&c));
        assert!(!a.matches(&d));
    }
}
