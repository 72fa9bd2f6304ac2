//! Unit tests of the per-request samples: series, status classes, gateway-added time, seeds,
//! and no allocation once a series exists.

use super::*;
use crate::config::Source;
use crate::policy::PassReason;

fn sample(platform: Option<Platform>, outcome: Outcome, reason: Reason, status: u16) -> Sample {
    Sample {
        platform,
        outcome,
        reason,
        status: StatusCode::from_u16(status).unwrap(),
        upstream: Duration::ZERO,
    }
}

#[test]
fn samples_land_in_the_series_the_labels_name() {
    let m = Arc::new(Metrics::new());
    let o = Observer::new(m.clone(), ["a", "b"].into_iter(), ["up"].into_iter());
    let t = Instant::now();
    let revoked = sample(
        Some(Platform::Ios),
        Outcome::Block,
        Reason::Code(Code::Revoked),
        451,
    );
    o.request(Some(1), revoked, t);
    o.request(Some(1), revoked, t);
    let off = sample(None, Outcome::Pass, Reason::Pass(PassReason::ModeOff), 302);
    o.request(None, off, t);
    let filed = sample(Some(Platform::Android), Outcome::Allow, Reason::Filed, 200);
    o.request(Some(0), filed, t);
    o.request(
        Some(0),
        Sample {
            status: StatusCode::SERVICE_UNAVAILABLE,
            ..filed
        },
        t,
    );
    o.upstream(0, 0.5);
    let get = |l: [&str; 5]| m.requests.with_label_values(&l).get();
    assert_eq!(get(["b", "ios", "block", "revoked", "4xx"]), 2);
    assert_eq!(get(["default", "none", "pass", "mode_off", "3xx"]), 1);
    assert_eq!(get(["a", "android", "allow", "filed", "2xx"]), 1);
    assert_eq!(get(["a", "android", "allow", "filed", "5xx"]), 1);
    assert_eq!(get(["a", "ios", "block", "revoked", "4xx"]), 0);
    let count = |r: &str, d: &str| {
        m.request_duration
            .with_label_values(&[r, d])
            .get_sample_count()
    };
    assert_eq!((count("b", "block"), count("default", "pass")), (2, 1));
    let up = m.upstream_duration.with_label_values(&["up"]);
    assert_eq!(up.get_sample_sum(), 0.5);
}

#[test]
fn the_gateway_adds_the_total_less_the_upstream_time() {
    let m = Arc::new(Metrics::new());
    let o = Observer::new(m.clone(), ["a"].into_iter(), ["up"].into_iter());
    let start = Instant::now() - Duration::from_millis(300);
    let filed = sample(Some(Platform::Android), Outcome::Allow, Reason::Filed, 200);
    o.request(
        Some(0),
        Sample {
            upstream: Duration::from_millis(290),
            ..filed
        },
        start,
    );
    let added = m.gateway_duration.with_label_values(&["a"]);
    let total = m.request_duration.with_label_values(&["a", "allow"]);
    assert_eq!(added.get_sample_count(), 1);
    assert!(
        added.get_sample_sum() >= 0.009 && added.get_sample_sum() < 0.1,
        "{}",
        added.get_sample_sum()
    );
    assert!(total.get_sample_sum() >= 0.3);
    // An answer of the gateway's own: all of the time is the gateway's.
    let block = sample(
        Some(Platform::Android),
        Outcome::Block,
        Reason::Code(Code::NotFiled),
        451,
    );
    o.request(Some(0), block, start);
    assert!(added.get_sample_sum() >= 0.309);
}

#[test]
fn seeds_create_each_route_and_upstream_series_at_zero() {
    let m = Arc::new(Metrics::new());
    let fixed = RouteConfig::new("fixed", PlatformSpec::Fixed(Platform::Android), vec![]);
    let from = RouteConfig {
        mode: Mode::Monitor,
        ..RouteConfig::new(
            "from",
            PlatformSpec::From(Source::Header(http::HeaderName::from_static("x"))),
            vec![],
        )
    };
    let off = RouteConfig {
        mode: Mode::Off,
        ..RouteConfig::new("off", PlatformSpec::Fixed(Platform::Ios), vec![])
    };
    let routes = [fixed, from, off];
    let o = Observer::new(
        m.clone(),
        routes.iter().map(|r| r.name.as_str()),
        ["up"].into_iter(),
    );
    o.seed(&routes);
    let text = m.render();
    for s in [
        r#"icpgate_requests_total{decision="allow",platform="android",reason="filed",route="fixed",status_class="2xx"} 0"#,
        r#"icpgate_requests_total{decision="block",platform="android",reason="not_filed",route="fixed",status_class="4xx"} 0"#,
        r#"icpgate_requests_total{decision="monitor",platform="wechat",reason="not_filed",route="from",status_class="2xx"} 0"#,
        r#"icpgate_requests_total{decision="pass",platform="none",reason="mode_off",route="off",status_class="2xx"} 0"#,
        r#"icpgate_request_duration_seconds_count{decision="block",route="fixed"} 0"#,
        r#"icpgate_gateway_duration_seconds_count{route="off"} 0"#,
        r#"icpgate_upstream_duration_seconds_count{upstream="up"} 0"#,
        r#"icpgate_upstream_errors_total{cause="timeout",upstream="up"} 0"#,
        r#"icpgate_upstream_errors_total{cause="connect",upstream="up"} 0"#,
    ] {
        assert!(text.contains(s), "{s} missing");
    }
    assert!(!text.contains(r#"platform="ios",reason="filed",route="fixed""#));
}

#[test]
fn in_flight_counts_until_the_guard_drops() {
    let m = Arc::new(Metrics::new());
    let o = Observer::new(m.clone(), std::iter::empty(), std::iter::empty());
    let g = o.in_flight();
    let h = o.in_flight();
    assert_eq!(m.requests_in_flight.get(), 2);
    drop(g);
    drop(h);
    assert_eq!(m.requests_in_flight.get(), 0);
}

#[test]
fn a_sample_allocates_nothing_once_its_series_exists() {
    let m = Arc::new(Metrics::new());
    let o = Observer::new(m.clone(), ["a"].into_iter(), ["up"].into_iter());
    let s = sample(Some(Platform::Android), Outcome::Allow, Reason::Filed, 200);
    let start = Instant::now();
    let once = || {
        let _f = o.in_flight();
        o.request(Some(0), s, start);
        o.upstream(0, 0.001);
    };
    once();
    let info = allocation_counter::measure(once);
    assert_eq!(info.count_total, 0, "{info:?}");
}
