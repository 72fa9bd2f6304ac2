//! The health page: what `/v1/status` reports (index revision, age, staleness, counts by
//! platform and status, the index source and its last error, reloads), and each route's
//! decision rates over the last 15 minutes as small charts.
//!
//! Owns the page's layout. Its data is `/v1/status`'s JSON, read here by pointer, so the
//! status logic stays in one place (`admin.rs`).
//! Must not: compute any status of its own, or fail on a field that is missing (it shows "—").
//! Invariant: the revision is in the element with id `revision`, the staleness in `stale`.

use super::layout::{self, flag, Nav};
use super::rates::RouteRates;
use super::svg;
use crate::filing::Status;
use crate::policy::Outcome;
use maud::{html, Markup};
use serde_json::Value;

/// A JSON value as text: strings bare, null and absent as "—".
fn text(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "—".into(),
        Some(Value::String(s)) => s.clone(),
        // A feed's outcome and the like: `key value` pairs, strings bare.
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| format!("{k} {}", text(Some(v))))
            .collect::<Vec<_>>()
            .join(", "),
        Some(v) => v.to_string(),
    }
}

/// Seconds as "3 h 12 min", "42 s".
fn age(v: Option<&Value>) -> String {
    let Some(s) = v.and_then(Value::as_f64) else {
        return "— (never loaded)".into();
    };
    let s = s.max(0.0) as u64;
    match s {
        0..=119 => format!("{s} s"),
        120..=7199 => format!("{} min", s / 60),
        _ => format!("{} h {} min", s / 3600, s % 3600 / 60),
    }
}

pub fn page(status: &Value, rates: &[RouteRates], recent: usize) -> Markup {
    let at = |p: &str| status.pointer(p);
    let stale = at("/index/stale").and_then(Value::as_bool).unwrap_or(true);
    let body = html! {
        p class="controls" {
            label { input type="checkbox" id="autorefresh"; " refresh every 10 s" }
        }
        section class="cards" {
            div class="card" { div class="k" { "index revision" } div class="v" id="revision" { (text(at("/index/revision"))) } }
            div class="card" { div class="k" { "data age" } div class="v" id="age" { (age(at("/index/age_seconds"))) } }
            div class={"card " (if stale { "bad" } else { "ok" })} {
                div class="k" { "stale" } div class="v" id="stale" { @if stale { "stale" } @else { "fresh" } }
            }
            div class="card" { div class="k" { "filings" } div class="v" { (text(at("/index/records"))) } }
            div class="card" { div class="k" { "identifiers" } div class="v" { (text(at("/index/ids"))) } }
        }
        h2 { "Decision rates, last 15 minutes" }
        (legend())
        div class="charts" {
            @for r in rates {
                figure class="route" data-route=(r.route) {
                    figcaption { (r.route) }
                    (svg::chart(r))
                    table class="totals" { tr {
                        @for (i, o) in Outcome::ALL.iter().enumerate() {
                            @if r.totals[i] > 0 { td class=(o.as_str()) { (o.as_str()) " " (r.totals[i]) } }
                        }
                    } }
                }
            }
        }
        p class="note" {
            "Rates come from the request counters, one sample every 10 s. "
            @if recent > 0 { a href="/console/decisions" { "The last " (recent) " block and monitor decisions" } " are kept in memory." }
            @else { "The recent-decision ring is off (admin.console_recent = 0)." }
        }
        h2 { "Index" }
        dl {
            dt { "ready" } dd { (flag(at("/ready").and_then(Value::as_bool).unwrap_or(false), true)) }
            dt { "as of" } dd { (text(at("/index/as_of"))) }
            dt { "stale after" } dd { (text(at("/index/stale_after_seconds"))) " s" }
            dt { "unconfirmed (restored from cache)" } dd { (flag(at("/index/unconfirmed").and_then(Value::as_bool).unwrap_or(false), false)) }
            dt { "entities" } dd { (text(at("/index/entities"))) }
            dt { "checksum" } dd { code { (text(at("/index/checksum"))) } }
            dt { "draining" } dd { (flag(at("/draining").and_then(Value::as_bool).unwrap_or(false), false)) }
            dt { "version, started" } dd { (text(at("/version"))) ", " (text(at("/started"))) }
        }
        (platforms(at("/index/by_platform")))
        (source(at("/source")))
        (reloads(at("/config")))
    };
    layout::page("Health", Some(Nav::Health), body)
}

fn platforms(by: Option<&Value>) -> Markup {
    let Some(Value::Object(by)) = by else {
        return html! {};
    };
    html! {
        h2 { "Identifiers and filings by platform" }
        table class="platforms" {
            thead { tr { th { "platform" } th { "ids" } @for s in Status::ALL { th { (s.as_str()) } } } }
            tbody {
                @for (p, v) in by {
                    tr { td { (p) } td { (text(v.get("ids"))) }
                        @for s in Status::ALL { td { (text(v.pointer(&format!("/records/{}", s.as_str())))) } }
                    }
                }
            }
        }
    }
}

fn source(src: Option<&Value>) -> Markup {
    let Some(src) = src else { return html! {} };
    let feed = src.get("feed");
    let error = feed
        .and_then(|f| f.get("last_error"))
        .filter(|e| !e.is_null());
    html! {
        h2 { "Source: " (text(src.get("kind"))) }
        dl {
            @if let Some(f) = feed {
                dt { "feed" } dd { (text(f.get("url"))) }
                dt { "last attempt" } dd { (text(f.get("last_attempt"))) }
                dt { "last success" } dd { (text(f.get("last_success"))) }
                dt { "last outcome" } dd { (text(f.get("last_outcome"))) }
                dt { "consecutive failures" } dd { (text(f.get("consecutive_failures"))) }
                dt { "complete as of" } dd { (text(f.get("complete_as_of"))) }
                dt { "cache" } dd { (text(f.get("cache"))) }
                dt { "last error" } dd id="feed-error" class=[error.map(|_| "bad")] { (text(error)) }
            } @else {
                dt { "snapshot" } dd { (text(src.get("path"))) }
            }
        }
    }
}

fn reloads(cfg: Option<&Value>) -> Markup {
    let Some(cfg) = cfg else { return html! {} };
    let last = cfg.get("last");
    html! {
        h2 { "Configuration reloads" }
        dl {
            dt { "succeeded, failed" } dd { (text(cfg.get("succeeded"))) ", " (text(cfg.get("failed"))) }
            dt { "last success" } dd { (text(cfg.get("last_success"))) }
            @if let Some(l) = last.filter(|l| !l.is_null()) {
                dt { "last reload" } dd id="reload" { (text(l.get("result"))) " at " (text(l.get("time"))) " (" (text(l.get("file"))) ")" }
                @if let Some(e) = l.get("error").filter(|e| !e.is_null()) { dt { "its error" } dd class="bad" { pre { (text(Some(e))) } } }
                @if let Some(Value::Array(keys)) = l.get("restart_required") {
                    dt { "needs a restart" } dd { @for k in keys { code { (text(Some(k))) } " " } }
                }
            } @else {
                dt { "last reload" } dd id="reload" { "none since start" }
            }
        }
    }
}

fn legend() -> Markup {
    html! {
        p class="legend" {
            @for o in Outcome::ALL {
                span { svg width="10" height="10" { rect width="10" height="10" fill=(svg::colour(o)) {} } " " (o.as_str()) }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_reads_status_and_shows_a_dash_for_what_is_missing() {
        let status = serde_json::json!({
            "ready": true,
            "index": { "revision": 7, "age_seconds": 30.5, "stale": false,
                       "by_platform": { "android": { "ids": 3, "records": { "active": 2 } } } },
            "source": { "kind": "feed", "feed": { "url": "http://f/", "last_error": "<b>boom</b>" } },
            "config": { "succeeded": 1, "failed": 0, "last": null },
        });
        let s = page(&status, &[], 10).into_string();
        assert!(s.contains(r#"id="revision">7<"#), "{s}");
        assert!(s.contains(r#"id="stale">fresh<"#), "{s}");
        assert!(s.contains("30 s"), "{s}");
        assert!(s.contains("&lt;b&gt;boom&lt;/b&gt;"), "{s}");
        assert!(s.contains("none since start"), "{s}");
        let empty = page(&serde_json::json!({}), &[], 0).into_string();
        assert!(empty.contains(r#"id="stale">stale<"#), "{empty}");
    }
}
