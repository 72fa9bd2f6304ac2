//! One decision as the console shows it, from the recent ring or from an audit file line, and
//! its two renderings: a table row and the full record.
//!
//! Owns the fields shown and their order. Every field can carry attacker-chosen text (path,
//! identifier, client, route names), and enters the page through maud, which escapes it.
//! Must not: trust an audit file line to be well formed (a line that does not read is not
//! shown), or link anywhere but to the console's own search and the MIIT registry.
//! Invariant: the decision id links to `/console/search?decision=ID` with the id URL-encoded.

use super::layout::MIIT_REGISTRY;
use crate::audit::AuditRecord;
use crate::code::Code;
use maud::{html, Markup};
use serde::Deserialize;

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Shown {
    pub decision_id: String,
    pub request_id: String,
    pub time: String,
    pub listener: String,
    pub route: String,
    pub method: String,
    pub path: String,
    pub platform: Option<String>,
    pub identifier: Option<String>,
    pub filings: Vec<String>,
    pub decision: String,
    pub reason: String,
    pub index_revision: u64,
    pub client: String,
    pub count: u64,
}

impl Shown {
    pub fn of(r: &AuditRecord) -> Shown {
        Shown {
            decision_id: r.decision_id.clone(),
            request_id: r.request_id.clone(),
            time: r.time.clone(),
            listener: r.listener.clone(),
            route: r.route.clone(),
            method: r.method.clone(),
            path: r.path.clone(),
            platform: r.platform.map(str::to_string),
            identifier: r.identifier.clone(),
            filings: r.filings.clone(),
            decision: r.decision.to_string(),
            reason: r.reason.to_string(),
            index_revision: r.index_revision,
            client: r.client.to_string(),
            count: r.count,
        }
    }

    /// An audit file line; `None` when it is not an audit record.
    pub fn from_line(line: &[u8]) -> Option<Shown> {
        serde_json::from_slice(line).ok()
    }
}

fn search_id(id: &str, platform: Option<&str>) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    q.append_pair("id", id);
    if let Some(p) = platform {
        q.append_pair("platform", p);
    }
    format!("/console/search?{}", q.finish())
}

fn search_decision(id: &str) -> String {
    let q = form_urlencoded::Serializer::new(String::new())
        .append_pair("decision", id)
        .finish();
    format!("/console/search?{q}")
}

/// The code's English message, for a reason that is a refusal code.
pub fn explain(reason: &str) -> Option<&'static str> {
    Code::ALL
        .iter()
        .find(|c| c.as_str() == reason)
        .map(|c| c.message_en())
}

/// A table of decisions, newest first.
pub fn table(rows: &[Shown]) -> Markup {
    html! {
        table class="decisions" {
            thead { tr {
                th { "time (UTC)" } th { "decision" } th { "code" } th { "route" }
                th { "platform" } th { "identifier" } th { "request" } th { "client" } th { "decision id" }
            } }
            tbody {
                @for r in rows {
                    tr class={"d-" (r.decision)} {
                        td { time datetime=(r.time) { (r.time) } }
                        td { span class={"badge " (r.decision)} { (r.decision) } }
                        td { code { (r.reason) } }
                        td { (r.route) }
                        td { (r.platform.as_deref().unwrap_or("—")) }
                        td class="id" {
                            @if let Some(id) = &r.identifier {
                                a href=(search_id(id, r.platform.as_deref())) { (id) }
                            } @else { "—" }
                        }
                        td class="path" { (r.method) " " (r.path) }
                        td { (r.client) }
                        td class="uuid" { a href=(search_decision(&r.decision_id)) { (r.decision_id) } }
                    }
                }
            }
        }
    }
}

/// One decision in full, with why it was made and where its filing numbers can be checked.
pub fn detail(r: &Shown, found_in: &str) -> Markup {
    html! {
        section class="record" id="decision" {
            h2 { "Decision " code { (r.decision_id) } }
            p class="why" {
                span class={"badge " (r.decision)} { (r.decision) } " "
                code { (r.reason) }
                @if let Some(text) = explain(&r.reason) { " — " (text) }
            }
            dl {
                dt { "time (UTC)" } dd { time datetime=(r.time) { (r.time) } }
                dt { "route" } dd { (r.route) " (listener " (r.listener) ")" }
                dt { "request" } dd class="path" { (r.method) " " (r.path) }
                dt { "platform" } dd { (r.platform.as_deref().unwrap_or("—")) }
                dt { "identifier" } dd {
                    @if let Some(id) = &r.identifier {
                        a href=(search_id(id, r.platform.as_deref())) { (id) }
                    } @else { "—" }
                }
                dt { "filing numbers at the time" } dd class="filings" {
                    @if r.filings.is_empty() { "none (no filing lists this identifier)" }
                    @for f in &r.filings { span class="filing" { (f) } " " }
                }
                dt { "index revision" } dd { (r.index_revision) }
                dt { "client" } dd { (r.client) }
                dt { "request id" } dd { code { (r.request_id) } }
                @if r.count > 1 { dt { "folded" } dd { (r.count) " identical decisions" } }
                dt { "found in" } dd { (found_in) }
            }
            p class="note" {
                "Check a filing number at the "
                a href=(MIIT_REGISTRY) rel="noreferrer noopener" target="_blank" { "MIIT ICP registry (beian.miit.gov.cn)" }
                "."
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::console::recent::tests::record;

    #[test]
    fn every_attacker_chosen_field_is_escaped() {
        let mut rec = record("block", "com.a");
        rec.path = "/apps/<script>alert(1)</script>?q=\"'&".into();
        rec.identifier = Some("<img src=x onerror=alert(1)>".into());
        rec.route = "<b>r</b>".into();
        let shown = Shown::of(&rec);
        for html in [
            table(std::slice::from_ref(&shown)),
            detail(&shown, "memory"),
        ] {
            let s = html.into_string();
            assert!(
                !s.contains("<script>") && !s.contains("<img") && !s.contains("<b>"),
                "{s}"
            );
            assert!(s.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{s}");
        }
    }

    #[test]
    fn an_audit_line_reads_back_and_a_foreign_line_does_not() {
        let line = serde_json::to_vec(&record("monitor", "com.b")).unwrap();
        let s = Shown::from_line(&line).unwrap();
        assert_eq!(
            (s.decision.as_str(), s.client.as_str()),
            ("monitor", "127.0.0.1:1")
        );
        assert_eq!(s.identifier.as_deref(), Some("com.b"));
        assert!(Shown::from_line(b"[1,2]").is_none());
        assert_eq!(
            search_id("a&b=<c>", Some("ios")),
            "/console/search?id=a%26b%3D%3Cc%3E&platform=ios"
        );
        assert_eq!(explain("not_filed"), Some(Code::NotFiled.message_en()));
    }
}
