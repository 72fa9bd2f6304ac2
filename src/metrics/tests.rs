//! Unit tests of the metric definitions: names, families at start, label helpers.

use super::*;
use std::collections::BTreeSet;

#[test]
fn names_are_prefixed_and_render() {
    let m = Metrics::new();
    m.requests
        .with_label_values(&["r", "android", "block", "not_filed", "4xx"])
        .inc();
    m.observe_revision(&Revision::empty());
    let text = m.render();
    assert!(text.contains("icpgate_requests_total{decision=\"block\",platform=\"android\",reason=\"not_filed\",route=\"r\",status_class=\"4xx\"} 1"));
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        assert!(line.starts_with("icpgate_"), "{line}");
    }
}

#[test]
fn every_exported_family_is_listed_once() {
    let m = Metrics::new();
    m.declare_listeners(["public"]);
    m.tokens.declare(["mp"], ["wechat"]);
    let listed: BTreeSet<&str> = FAMILIES
        .iter()
        .chain(PROCESS_FAMILIES)
        .chain(tokens::FAMILIES)
        .copied()
        .collect();
    assert_eq!(
        listed.len(),
        FAMILIES.len() + PROCESS_FAMILIES.len() + tokens::FAMILIES.len(),
        "a name listed twice"
    );
    for f in m.exported() {
        assert!(
            listed.contains(f.as_str()),
            "{f} is exported but not in FAMILIES"
        );
    }
}

#[test]
fn fixed_label_sets_exist_at_zero_from_the_start() {
    let m = Metrics::new();
    m.declare_listeners(["public", "tls"]);
    let text = m.render();
    for sample in [
        r#"icpgate_index_loads_total{result="ok"} 0"#,
        r#"icpgate_index_loads_total{result="error"} 0"#,
        r#"icpgate_reloads_total{result="failed"} 0"#,
        r#"icpgate_feed_sync_failures_total{cause="fetch"} 0"#,
        r#"icpgate_feed_sync_failures_total{cause="cache"} 0"#,
        r#"icpgate_connections_rejected_total{listener="tls"} 0"#,
        r#"icpgate_tls_handshake_failures_total{listener="public"} 0"#,
        r#"icpgate_index_identifiers{platform="wechat"} 0"#,
    ] {
        assert!(text.contains(sample), "{sample} missing:\n{text}");
    }
    for c in crate::feed::error::Cause::ALL {
        assert!(text.contains(&format!("cause=\"{c}\"")), "{c}");
    }
}

#[test]
fn before_the_first_load_the_index_is_stale_with_no_age() {
    let m = Metrics::new();
    let text = m.render();
    assert!(text.contains("\nicpgate_index_stale 1\n"), "{text}");
    assert!(text.contains("\nicpgate_index_age_seconds NaN\n"), "{text}");
    m.observe_freshness(Some(std::time::Duration::from_secs(5)), false);
    let text = m.render();
    assert!(text.contains("\nicpgate_index_stale 0\n"), "{text}");
    assert!(text.contains("\nicpgate_index_age_seconds 5\n"), "{text}");
    m.observe_freshness(None, false);
    assert_eq!(m.index_stale.get(), 1);
}

#[test]
fn build_info_names_version_and_commit() {
    let text = Metrics::new().render();
    let want = format!(
        "icpgate_build_info{{commit=\"{COMMIT}\",version=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION")
    );
    assert!(text.contains(&want), "{text}");
}

#[test]
fn request_buckets_resolve_25_microseconds_to_10_seconds() {
    assert_eq!(REQUEST_BUCKETS.first(), Some(&0.000_025));
    assert_eq!(REQUEST_BUCKETS.last(), Some(&10.0));
    // No bucket is more than 2.5 times the one below it.
    for w in REQUEST_BUCKETS.windows(2) {
        assert!(w[1] > w[0] && w[1] <= w[0] * 2.5 + 1e-12, "{w:?}");
    }
}

#[test]
fn status_classes_by_hundreds() {
    use http::StatusCode;
    let class = |s: u16| STATUS_CLASSES[status_class(StatusCode::from_u16(s).unwrap())];
    assert_eq!(
        [
            class(101),
            class(200),
            class(304),
            class(451),
            class(503),
            class(599)
        ],
        ["1xx", "2xx", "3xx", "4xx", "5xx", "5xx"]
    );
}

#[test]
fn reloads_count_by_result_and_time_the_last_success() {
    let m = Metrics::new();
    m.reload_last_success.set(0.0);
    m.reloaded(ReloadResult::Failed);
    assert_eq!(m.reload_last_success.get(), 0.0);
    m.reloaded(ReloadResult::Ok);
    assert!(m.reload_last_success.get() > 1.0e9);
    assert_eq!(m.reloads.with_label_values(&["failed"]).get(), 1);
}

#[test]
fn process_metrics_are_exported() {
    let text = Metrics::new().render();
    for f in PROCESS_FAMILIES {
        assert!(text.contains(&format!("\n{f} ")), "{f} missing");
    }
}

#[test]
fn docs_admin_lists_every_family() {
    let doc = include_str!("../../docs/admin.md");
    for f in FAMILIES.iter().chain(PROCESS_FAMILIES) {
        assert!(
            doc.contains(&format!("`{f}`")),
            "docs/admin.md does not list {f}"
        );
    }
}
