//! Small inline SVG line charts of a route's decision rates (`rates.rs`), one line per
//! decision, drawn with presentation attributes only (the page's CSP allows no inline style).
//!
//! Owns the chart's geometry and colours. Every coordinate is a number formatted here; the
//! route name enters through maud, which escapes it.
//! Must not: take text from a request into an attribute unescaped, or draw outside its box.
//! Invariant: every point lies inside the view box, whatever the rates.

use super::rates::{RouteRates, WINDOW};
use crate::policy::Outcome;
use maud::{html, Markup};
use std::fmt::Write;

const W: f64 = 300.0;
const H: f64 = 64.0;
/// Room for the labels under the plot.
const PLOT_H: f64 = 50.0;

/// The colour of a decision's line (and of its legend entry).
pub fn colour(o: Outcome) -> &'static str {
    match o {
        Outcome::Allow => "#2e7d32",
        Outcome::Pass => "#78909c",
        Outcome::Monitor => "#ef6c00",
        Outcome::Block => "#c62828",
        Outcome::Reject => "#6a1b9a",
        Outcome::Error => "#212121",
    }
}

/// The polyline points of one line: x from the window's start (left) to now (right), y
/// from 0 (bottom) to `peak` (top).
fn points(line: &[(f64, f64)], peak: f64) -> String {
    let span = WINDOW.as_secs_f64();
    let mut out = String::new();
    for &(ago, rate) in line {
        let x = (W * (1.0 - ago.min(span) / span)).clamp(0.0, W);
        let y = (PLOT_H - PLOT_H * (rate / peak)).clamp(0.0, PLOT_H);
        let _ = write!(out, "{x:.1},{y:.1} ");
    }
    out
}

/// Where the last point of a line is drawn (a dot, so a line of one point shows).
fn last(line: &[(f64, f64)], peak: f64) -> Option<(String, String)> {
    let p = points(line.last().map(std::slice::from_ref)?, peak);
    let (x, y) = p.trim().split_once(',')?;
    Some((x.to_string(), y.to_string()))
}

/// A chart of `r`; decisions with no request in the window are left out.
pub fn chart(r: &RouteRates) -> Markup {
    let peak = r.peak().max(1.0);
    html! {
        svg class="chart" width=(W) height=(H) viewBox={"0 0 " (W) " " (H)}
            role="img" aria-label={"decision rates of route " (r.route)} {
            title { "decisions per second, route " (r.route) ", last 15 minutes" }
            rect x="0" y="0" width=(W) height=(PLOT_H) fill="#fafafa" stroke="#ddd" {}
            @for (i, o) in Outcome::ALL.iter().enumerate() {
                @if r.totals[i] > 0 {
                    polyline fill="none" stroke=(colour(*o)) stroke-width="1.5"
                        data-decision=(o.as_str()) points=(points(&r.lines[i], peak)) {}
                    @if let Some((x, y)) = last(&r.lines[i], peak) {
                        circle cx=(x) cy=(y) r="2" fill=(colour(*o)) {}
                    }
                }
            }
            text x="2" y="10" font-size="9" fill="#555" { (format!("{peak:.1}/s")) }
            text x="0" y=(H - 2.0) font-size="9" fill="#555" { "−15 min" }
            text x=(W) y=(H - 2.0) font-size="9" fill="#555" text-anchor="end" { "now" }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_stay_inside_the_plot() {
        let line = [(5000.0, 1e9), (0.0, -3.0), (450.0, 0.5)];
        for p in points(&line, 1.0).split_whitespace() {
            let (x, y) = p.split_once(',').unwrap();
            let (x, y): (f64, f64) = (x.parse().unwrap(), y.parse().unwrap());
            assert!((0.0..=W).contains(&x) && (0.0..=PLOT_H).contains(&y), "{p}");
        }
    }

    #[test]
    fn a_route_name_is_escaped_in_the_chart() {
        let r = RouteRates {
            route: "<script>x</script>".into(),
            lines: Default::default(),
            totals: [0; 6],
        };
        let s = chart(&r).into_string();
        assert!(!s.contains("<script>"), "{s}");
        assert!(s.contains("&lt;script&gt;"), "{s}");
    }
}
