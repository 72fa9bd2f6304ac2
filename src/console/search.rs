//! The search page: by identifier (its filings on every platform it can be an id of, from the
//! served index, and its recent decisions from the ring) or by decision id (from the ring,
//! else from the audit file's last `auditscan::MAX_SCAN_BYTES`), so "why was this app
//! blocked?" is answered in one step, with the filing numbers and the MIIT registry's link.
//!
//! Owns the search form and its checks: an identifier of at most `MAX_ID_CHARS` that is valid
//! on the platform asked (or on at least one), a known platform, a decision id that is a UUID.
//! Every problem is a message on the page (400), a file that cannot be read one too (200).
//! Must not: read the audit file on the admin listener's runtime thread (the scan runs on
//! the blocking pool), or hold an index revision across that scan.
//! Invariant: filings shown are those of one index revision, named on the page.

use super::auditscan::{self, MAX_SCAN_BYTES};
use super::decisions::platform_names;
use super::layout::{self, Nav, MIIT_REGISTRY};
use super::query;
use super::recent::Recent;
use super::record::{self, Shown};
use crate::filing::{validate, FilingRecord, Platform};
use crate::index::Index;
use http::StatusCode;
use maud::{html, Markup};
use std::path::Path;

/// The longest identifier searched for (longer than any platform's ids).
pub const MAX_ID_CHARS: usize = 256;

pub struct Sources<'a> {
    pub index: &'a Index,
    pub recent: &'a Recent,
    pub audit_path: Option<&'a Path>,
}

/// What a search found, or why there is nothing to show.
type Found = Result<Markup, (StatusCode, String)>;

pub async fn page(at: Sources<'_>, query: &str) -> (StatusCode, Markup) {
    let fields = query::read(query, &["id", "platform", "decision"]);
    let value = |n: &str| {
        fields
            .as_ref()
            .ok()
            .and_then(|f| f.get(n))
            .unwrap_or("")
            .to_string()
    };
    let found: Option<Found> = match &fields {
        Err(e) => Some(Err((StatusCode::BAD_REQUEST, e.clone()))),
        Ok(f) => match (f.get("id"), f.get("decision")) {
            (Some(_), Some(_)) => Some(Err((
                StatusCode::BAD_REQUEST,
                "search by identifier or by decision id, not both".into(),
            ))),
            (Some(id), None) => Some(by_id(&at, id, f.get("platform"))),
            (None, Some(d)) => Some(by_decision(&at, d).await),
            (None, None) if f.get("platform").is_some() => Some(Err((
                StatusCode::BAD_REQUEST,
                "enter an identifier to search on that platform".into(),
            ))),
            (None, None) => None,
        },
    };
    let status = match &found {
        Some(Err((s, _))) => *s,
        _ => StatusCode::OK,
    };
    let platform = value("platform");
    let body = html! {
        form method="get" action="/console/search" class="search" {
            label { "identifier " input type="search" name="id" value=(value("id")) placeholder="com.example.app or wx…" size="32"; }
            label { "platform " select name="platform" {
                option value="" { "every platform" }
                @for p in Platform::ALL { option value=(p.as_str()) selected[platform == p.as_str()] { (p.as_str()) } }
            } }
            button type="submit" { "Search" }
        }
        form method="get" action="/console/search" class="search" {
            label { "decision id " input type="search" name="decision" value=(value("decision")) placeholder="0190…-…" size="40"; }
            button type="submit" { "Find decision" }
        }
        @match &found {
            None => p class="note" { "An identifier shows its filings on every platform and its recent decisions; a decision id (from a 451 answer's " code { "decision_id" } " or the audit trail) shows why it was made." },
            Some(Err((_, message))) => (layout::error(message)),
            Some(Ok(m)) => (m),
        }
    };
    (status, layout::page("Search", Some(Nav::Search), body))
}

/// Search by identifier: its filings on each platform asked where it is valid, and its recent
/// decisions.
fn by_id(at: &Sources<'_>, id: &str, platform: Option<&str>) -> Found {
    let bad = |m: String| Err((StatusCode::BAD_REQUEST, m));
    if id.chars().count() > MAX_ID_CHARS {
        return bad(format!(
            "an identifier has at most {MAX_ID_CHARS} characters"
        ));
    }
    let valid = match valid_platforms(id, platform) {
        Ok(v) => v,
        Err(why) => return bad(why),
    };
    let rev = at.index.current();
    let per_platform: Vec<(Platform, Vec<FilingRecord>)> = valid
        .iter()
        .map(|&p| {
            let hits = rev.lookup(p, id);
            (p, hits.iter().filter_map(|h| rev.record(h)).collect())
        })
        .collect();
    let revision = rev.revision;
    drop(rev);
    let (recent, _) = at.recent.list();
    let decisions: Vec<Shown> = recent
        .iter()
        .filter(|r| r.identifier.as_deref() == Some(id))
        .filter(|r| platform.is_none_or(|p| r.platform == Some(p)))
        .map(|r| Shown::of(r))
        .collect();
    Ok(id_found(id, revision, &per_platform, &decisions))
}

/// The platforms to look `id` up on: the one asked, or every platform, kept where `id` is
/// valid; why there are none otherwise.
fn valid_platforms(id: &str, platform: Option<&str>) -> Result<Vec<Platform>, String> {
    let platforms: Vec<Platform> = match platform {
        Some(p) => match p.parse::<Platform>() {
            Ok(p) => vec![p],
            Err(_) => {
                let p = query::truncate(p);
                return Err(format!(
                    "unknown platform {p:?} (one of: {})",
                    platform_names()
                ));
            }
        },
        None => Platform::ALL.to_vec(),
    };
    let valid: Vec<Platform> = platforms
        .iter()
        .copied()
        .filter(|p| validate(*p, id).is_ok())
        .collect();
    if valid.is_empty() {
        return Err(match (platform, validate(platforms[0], id)) {
            (Some(_), Err(e)) => e.to_string(),
            _ => format!(
                "{:?} is not a valid identifier on any platform",
                query::truncate(id)
            ),
        });
    }
    Ok(valid)
}

/// What a search by identifier shows: filings per platform, then recent decisions.
fn id_found(
    id: &str,
    revision: u64,
    per_platform: &[(Platform, Vec<FilingRecord>)],
    decisions: &[Shown],
) -> Markup {
    html! {
        section id="filings" {
            h2 { "Filings for " code { (id) } }
            p class="note" { "From index revision " span id="index-revision" { (revision) } "; checked on every platform this identifier is valid for." }
            @for (p, recs) in per_platform {
                h3 { (p.as_str()) }
                @if recs.is_empty() { p class="bad" { "no filing lists " code { (id) } " for " (p.as_str()) } }
                @else { (filings(recs)) }
            }
            p class="note" { "Filing numbers can be checked at the " a href=(MIIT_REGISTRY) rel="noreferrer noopener" target="_blank" { "MIIT ICP registry (beian.miit.gov.cn)" } "." }
        }
        section id="recent" {
            h2 { "Recent decisions for " code { (id) } }
            @if decisions.is_empty() { p class="note" { "none in the recent-decision ring" } }
            @else { (record::table(decisions)) }
        }
    }
}

fn filings(recs: &[FilingRecord]) -> Markup {
    html! {
        table class="filings" {
            thead { tr { th { "filing number" } th { "status" } th { "entity" } th { "app name" } th { "kind" } th { "identifiers" } } }
            tbody {
                @for r in recs {
                    tr class={"s-" (r.status.as_str())} {
                        td class="filing" { (r.number.to_string()) }
                        td { span class={"status " (r.status.as_str())} { (r.status.as_str()) } }
                        td { (r.entity) }
                        td { (r.app_name) }
                        td { (r.kind().as_str()) }
                        td { @for pf in &r.platforms { (pf.platform.as_str()) ": " (pf.ids.join(", ")) br; } }
                    }
                }
            }
        }
    }
}

/// Search by decision id: the decision, from the ring or the audit file, and the filings of
/// its identifier in the current index.
async fn by_decision(at: &Sources<'_>, given: &str) -> Found {
    let Ok(uuid) = uuid::Uuid::try_parse(given) else {
        let g = query::truncate(given);
        return Err((
            StatusCode::BAD_REQUEST,
            format!(
                "{g:?} is not a decision id (a UUID such as 0190a5b2-7c1e-7d3f-8a9b-0c1d2e3f4a5b)"
            ),
        ));
    };
    let id = uuid.hyphenated().to_string();
    let Some((shown, found_in)) = find_decision(at, &id).await? else {
        return Err((StatusCode::NOT_FOUND, not_found(at, &id)));
    };
    let now = filed_now(at.index, &shown);
    Ok(html! {
        (record::detail(&shown, &found_in))
        @if let Some((p, id, recs, revision)) = &now {
            section id="filings" {
                h2 { "Filings for " code { (id) } " on " (p.as_str()) " now" }
                p class="note" { "From index revision " span id="index-revision" { (revision) } "." }
                @if recs.is_empty() { p class="bad" { "no filing lists it" } } @else { (filings(recs)) }
            }
        }
    })
}

/// The decision `id` and where it was found: the ring, else the audit file (scanned on the
/// blocking pool).
async fn find_decision(
    at: &Sources<'_>,
    id: &str,
) -> Result<Option<(Shown, String)>, (StatusCode, String)> {
    if let Some(r) = at.recent.find(id) {
        return Ok(Some((
            Shown::of(&r),
            "the recent-decision ring (memory)".to_string(),
        )));
    }
    let Some(path) = at.audit_path else {
        return Ok(None);
    };
    let (p, i) = (path.to_path_buf(), id.to_string());
    let scan =
        tokio::task::spawn_blocking(move || auditscan::find_with_rotated(&p, &i, MAX_SCAN_BYTES))
            .await;
    match scan {
        Ok(Ok(found)) => {
            Ok(found.map(|(s, file)| (s, format!("the audit file {}", file.display()))))
        }
        Ok(Err(e)) => Err((
            StatusCode::OK,
            format!("cannot read the audit file {}: {e}", path.display()),
        )),
        Err(_) => Err((StatusCode::OK, "the audit file scan stopped".into())),
    }
}

/// Why the decision `id` was not found: where it was looked for.
fn not_found(at: &Sources<'_>, id: &str) -> String {
    let where_ = match at.audit_path {
        Some(p) => format!(
            "the recent-decision ring or the last {} MiB of {} and {}",
            MAX_SCAN_BYTES >> 20,
            p.display(),
            auditscan::rotated(p).display()
        ),
        None => {
            "the recent-decision ring (the audit trail goes to stdout, which cannot be searched)"
                .into()
        }
    };
    format!("no decision {id} in {where_}")
}

/// The filings that list a decision's identifier on its platform in the current index, with
/// its revision; `None` when the decision has no valid identifier and platform.
fn filed_now(index: &Index, shown: &Shown) -> Option<(Platform, String, Vec<FilingRecord>, u64)> {
    let p = shown
        .platform
        .as_deref()
        .and_then(|p| p.parse::<Platform>().ok())?;
    let id = shown.identifier.as_ref()?;
    if validate(p, id).is_err() {
        return None;
    }
    let rev = index.current();
    let recs: Vec<FilingRecord> = rev
        .lookup(p, id)
        .iter()
        .filter_map(|h| rev.record(h))
        .collect();
    Some((p, id.clone(), recs, rev.revision))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::console::recent::tests::record;
    use crate::index::Revision;

    fn index() -> Index {
        let line = r#"{"number":"京ICP备2026059598号-4A","status":"revoked","entity":"丙公司","app_name":"L","platforms":[{"platform":"android","ids":["com.example.revokedapp"]}]}"#;
        let rec = crate::filing::record::parse_line(line).unwrap();
        Index::new(Revision::from_records(1, "t", &[rec], false))
    }

    async fn run(
        ix: &Index,
        recent: &Recent,
        audit: Option<&Path>,
        q: &str,
    ) -> (StatusCode, String) {
        let at = Sources {
            index: ix,
            recent,
            audit_path: audit,
        };
        let (s, m) = page(at, q).await;
        (s, m.into_string())
    }

    #[tokio::test]
    async fn an_identifier_shows_its_filings_and_decisions() {
        let ix = index();
        let recent = Recent::new(4);
        recent.keep(Some(record("block", "com.example.revokedapp")));
        let (s, html) = run(&ix, &recent, None, "id=com.example.revokedapp").await;
        assert_eq!(s, StatusCode::OK);
        assert!(
            html.contains("京ICP备2026059598号-4A") && html.contains("revoked"),
            "{html}"
        );
        assert!(
            html.contains("d-com.example.revokedapp"),
            "its decision: {html}"
        );
        assert!(html.contains(MIIT_REGISTRY));
    }

    #[tokio::test]
    async fn bad_input_is_a_message_not_an_error() {
        let ix = index();
        let recent = Recent::new(4);
        for (q, want) in [
            ("id=com.a&platform=nokia", "unknown platform"),
            ("id=%3Cscript%3E", "not a valid identifier on any platform"),
            ("decision=12345", "is not a decision id"),
            (
                "decision=0190a5b2-7c1e-7d3f-8a9b-0c1d2e3f4a5b",
                "no decision 0190a5b2-7c1e-7d3f-8a9b-0c1d2e3f4a5b",
            ),
            ("id=a&decision=b", "not both"),
        ] {
            let (s, html) = run(&ix, &recent, None, q).await;
            assert!(s.is_client_error(), "{q}: {s}");
            assert!(html.contains(want), "{q}: {html}");
            assert!(!html.contains("<script>"), "{q}");
        }
    }

    #[tokio::test]
    async fn a_decision_not_in_the_ring_is_read_from_the_audit_file() {
        let ix = index();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let mut r = record("block", "com.example.revokedapp");
        r.decision_id = "0190a5b2-7c1e-7d3f-8a9b-0c1d2e3f4a5b".into();
        r.filings = vec!["京ICP备2026059598号-4A".into()];
        r.reason = "revoked";
        std::fs::write(&path, serde_json::to_string(&r).unwrap() + "\n").unwrap();
        let q = "decision=0190A5B2-7C1E-7D3F-8A9B-0C1D2E3F4A5B";
        let (s, html) = run(&ix, &Recent::new(4), Some(&path), q).await;
        assert_eq!(s, StatusCode::OK, "{html}");
        assert!(html.contains("the audit file"), "{html}");
        assert!(
            html.contains(crate::code::Code::Revoked.message_en()),
            "{html}"
        );
        assert!(html.contains("index-revision"), "the filings now: {html}");
    }
}
