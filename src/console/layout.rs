//! The console's page shell (head, navigation, footer) and its small shared pieces: the
//! message box a form error shows in, and a page that is only a problem.
//!
//! Owns the markup every page shares. The shell names only the console's own stylesheet and
//! script; the one external link (the MIIT registry) is a plain `<a>` with no referrer.
//! Must not: inline a script or a style (the CSP forbids both), or interpolate outside maud.
//! Invariant: every page is one complete HTML document with the same navigation.

use maud::{html, Markup, DOCTYPE};

/// The public ICP filing registry of the MIIT, where a filing number can be checked.
pub const MIIT_REGISTRY: &str = "https://beian.miit.gov.cn/";

/// The console's pages, for the navigation.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Health,
    Decisions,
    Search,
}

pub fn page(title: &str, active: Option<Nav>, body: Markup) -> Markup {
    let tab = |nav: Nav, href: &'static str, label: &'static str| {
        html! { a href=(href) class=[(active == Some(nav)).then_some("active")] { (label) } }
    };
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="referrer" content="no-referrer";
                title { (title) " · icpgate console" }
                link rel="stylesheet" href="/console/console.css";
                script src="/console/console.js" defer {}
            }
            body {
                header {
                    span class="brand" { "icpgate" }
                    nav {
                        (tab(Nav::Health, "/", "Health"))
                        (tab(Nav::Decisions, "/console/decisions", "Recent decisions"))
                        (tab(Nav::Search, "/console/search", "Search"))
                    }
                    form method="post" action="/console/logout" class="logout" {
                        button type="submit" { "Sign out" }
                    }
                }
                main {
                    h1 { (title) }
                    (body)
                }
                footer {
                    "icpgate " (env!("CARGO_PKG_VERSION")) " · read-only console · "
                    a href=(MIIT_REGISTRY) rel="noreferrer noopener" target="_blank" { "MIIT ICP registry" }
                }
            }
        }
    }
}

/// The message a form error shows, in the box the tests and the eye look for.
pub fn error(message: &str) -> Markup {
    html! { p id="error" class="error" role="alert" { (message) } }
}

/// A page that is only a problem (unknown page, wrong method).
pub fn problem(title: &str, message: &str) -> Markup {
    page(title, None, error(message))
}

/// "yes" / "no" with a class the stylesheet colours.
pub fn flag(on: bool, good_when: bool) -> Markup {
    let class = if on == good_when { "ok" } else { "bad" };
    html! { span class={"flag " (class)} { @if on { "yes" } @else { "no" } } }
}
