//! The recent decisions page: the ring's block and monitor decisions, newest first, filtered
//! by route, platform and code.
//!
//! Owns the filter form and its checks: a platform must be one the gateway knows, a code one
//! of `Code::ALL`, a route one the request counters name; anything else is a message on the
//! page (400), never an empty table that looks like "nothing happened".
//! Must not: show more than `MAX_ROWS` rows, or hold the ring's lock while rendering.
//! Invariant: every row shown matches every filter given.

use super::layout::{self, Nav};
use super::query;
use super::recent::Recent;
use super::record::{self, Shown};
use crate::code::Code;
use crate::filing::Platform;
use http::StatusCode;
use maud::{html, Markup};

/// The most rows one page shows.
pub const MAX_ROWS: usize = 500;

struct Filter<'a> {
    route: Option<&'a str>,
    platform: Option<Platform>,
    code: Option<Code>,
}

fn filter<'a>(f: &'a query::Fields, routes: &[String]) -> Result<Filter<'a>, String> {
    let route = f.get("route");
    if let Some(r) = route {
        if !routes.iter().any(|x| x == r) {
            return Err(format!("unknown route {:?}", query::truncate(r)));
        }
    }
    let platform = match f.get("platform") {
        None => None,
        Some(p) => Some(p.parse::<Platform>().map_err(|_| {
            format!(
                "unknown platform {:?} (one of: {})",
                query::truncate(p),
                platform_names()
            )
        })?),
    };
    let code = match f.get("code") {
        None => None,
        Some(c) => Some(
            Code::ALL
                .into_iter()
                .find(|x| x.as_str() == c)
                .ok_or_else(|| format!("unknown code {:?}", query::truncate(c)))?,
        ),
    };
    Ok(Filter {
        route,
        platform,
        code,
    })
}

pub fn platform_names() -> String {
    Platform::ALL.map(Platform::as_str).join(", ")
}

/// The page for `query`, with 400 when a filter is not valid.
pub fn page(recent: &Recent, routes: Vec<String>, query: &str) -> (StatusCode, Markup) {
    let fields = query::read(query, &["route", "platform", "code"]);
    let (status, problem, rows, kept) = match fields
        .as_ref()
        .map_err(String::clone)
        .and_then(|f| filter(f, &routes))
    {
        Err(e) => (StatusCode::BAD_REQUEST, Some(e), Vec::new(), 0),
        Ok(f) => {
            let (all, kept) = recent.list();
            let rows: Vec<Shown> = all
                .iter()
                .filter(|r| f.route.is_none_or(|x| r.route == x))
                .filter(|r| f.platform.is_none_or(|p| r.platform == Some(p.as_str())))
                .filter(|r| f.code.is_none_or(|c| r.reason == c.as_str()))
                .take(MAX_ROWS)
                .map(|r| Shown::of(r))
                .collect();
            (StatusCode::OK, None, rows, kept)
        }
    };
    let chosen = |name: &str| {
        fields
            .as_ref()
            .ok()
            .and_then(|f| f.get(name))
            .map(str::to_string)
    };
    let body = html! {
        form method="get" action="/console/decisions" class="filters" {
            label { "route " select name="route" {
                option value="" { "any" }
                @for r in &routes { option value=(r) selected[chosen("route").as_deref() == Some(r)] { (r) } }
            } }
            label { "platform " select name="platform" {
                option value="" { "any" }
                @for p in Platform::ALL { option value=(p.as_str()) selected[chosen("platform").as_deref() == Some(p.as_str())] { (p.as_str()) } }
            } }
            label { "code " select name="code" {
                option value="" { "any" }
                @for c in Code::ALL { option value=(c.as_str()) selected[chosen("code").as_deref() == Some(c.as_str())] { (c.as_str()) } }
            } }
            button type="submit" { "Filter" }
        }
        @if let Some(p) = &problem { (layout::error(p)) }
        @if recent.capacity() == 0 {
            p class="note" { "The recent-decision ring is off (admin.console_recent = 0); the audit trail has every decision." }
        } @else if problem.is_none() {
            p class="note" id="count" {
                (rows.len()) " shown"
                @if rows.len() == MAX_ROWS { " (the first " (MAX_ROWS) ")" }
                "; the ring keeps the last " (recent.capacity()) " block and monitor decisions (" (kept) " since start)."
            }
            (record::table(&rows))
        }
    };
    (
        status,
        layout::page("Recent decisions", Some(Nav::Decisions), body),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::console::recent::tests::record;

    fn ring() -> Recent {
        let r = Recent::new(10);
        let mut a = record("block", "com.a");
        a.reason = "revoked";
        r.keep(Some(a));
        let mut b = record("monitor", "wx1");
        b.platform = Some("wechat");
        b.route = "mp".into();
        r.keep(Some(b));
        r
    }

    #[test]
    fn filters_narrow_the_rows_and_bad_ones_say_why() {
        let routes = vec!["apps".to_string(), "mp".to_string()];
        let (s, page_) = page(&ring(), routes.clone(), "code=revoked");
        let html = page_.into_string();
        assert_eq!(s, StatusCode::OK);
        assert!(html.contains("com.a") && !html.contains(">wx1<"), "{html}");
        let (_, html) = page(&ring(), routes.clone(), "platform=wechat&route=mp");
        let html = html.into_string();
        assert!(
            html.contains(">wx1<") && !html.contains(">com.a<"),
            "{html}"
        );
        for (q, want) in [
            ("platform=symbian", "unknown platform &quot;symbian&quot;"),
            ("code=nope", "unknown code &quot;nope&quot;"),
            ("route=%3Cx%3E", "unknown route &quot;&lt;x&gt;&quot;"),
            ("route=a&route=b", "given twice"),
        ] {
            let (s, html) = page(&ring(), routes.clone(), q);
            let html = html.into_string();
            assert_eq!(s, StatusCode::BAD_REQUEST, "{q}");
            assert!(html.contains(want), "{q}: {html}");
        }
    }
}
