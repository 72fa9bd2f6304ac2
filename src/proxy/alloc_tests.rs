//! Heap allocations on the decision path, counted on this thread (allocation-counter's global
//! allocator, in the lib's test binary only).
//!
//! Owns the pins for "no allocation per request beyond hyper's": routing with
//! captures, extraction from path/query/header, the policy decision, and preparing the
//! upstream request allocate nothing; the filing header value is the one allocation.
//! Must not: count work done before the measured closure (config, index, request parsing).
//! Invariant: each measured closure does exactly the per-request work the pipeline does.

use super::filing::filing_value;
use super::forward::{strip_url_headers, ClientSide, Upstream};
use super::target::{self, PathMode};
use super::{authority, route};
use crate::code::Code;
use crate::config::Config;
use crate::extract;
use crate::filing::record::parse_line;
use crate::index::Revision;
use crate::policy::{self, Decision};
use allocation_counter::measure;
use http::{HeaderName, HeaderValue};

const CONFIG: &str = r#"[[listener]]
name = "public"
address = "127.0.0.1:0"

[index]
snapshot = "snap.ndjson"

[[upstream]]
name = "store"
url = "http://127.0.0.1:9"

[[route]]
name = "mini"
host = "open.example.cn"
path = "/mp/{appid}/qrcode"
upstream = "store"
platform = "wechat"
extract = [{ path = "appid" }]

[[route]]
name = "update"
path = "/apps/{package}/update"
upstream = "store"
platform = "android"
extract = [{ path = "package" }, { query = "pkg" }, { header = "x-app-id" }]
"#;

/// Counts the allocations of `f`'s second run: the first warms what lives for the process
/// (regex-automata's per-thread search cache; the first clone of a configured `Bytes`, which
/// moves it to a shared buffer), as the gateway's first request does.
fn steady(mut f: impl FnMut()) -> allocation_counter::AllocationInfo {
    f();
    measure(f)
}

fn config() -> Config {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("snap.ndjson"), "").unwrap();
    Config::parse(CONFIG, &dir.path().join("gw.toml")).unwrap()
}

fn revision() -> Revision {
    let line = r#"{"number":"粤ICP备2023123456号-3A","status":"active","entity":"e","app_name":"a","platforms":[{"platform":"android","ids":["com.filed.app"]}]}"#;
    Revision::from_records(1, "t", &[parse_line(line).unwrap()], false)
}

fn request(uri: &str, app_id: &str) -> http::request::Parts {
    let req = http::Request::builder()
        .uri(uri)
        .header("host", "store.example.cn")
        .header("x-app-id", app_id)
        .header("user-agent", "test");
    req.body(()).unwrap().into_parts().0
}

#[test]
fn routing_extraction_and_decision_allocate_nothing() {
    let cfg = config();
    let rev = revision();
    let mut parts = request(
        "/apps/com.filed.app/update?pkg=com.filed.app",
        "com.filed.app",
    );
    let mut decision = None;
    let info = steady(|| {
        authority::check(&parts).expect("one host");
        target::canonicalize(&mut parts.uri, PathMode::Refuse).expect("canonical");
        let (route, caps) = route::find(&cfg.routes, &parts).expect("routed");
        if !route.allow_url_headers {
            strip_url_headers(&mut parts.headers);
        }
        let who = extract::identify(route, &parts, &caps, None);
        let who = who.as_ref().map(Option::as_ref).map_err(|c| *c);
        decision = Some(policy::decide(route, who, &rev, false));
    });
    assert!(
        matches!(&decision, Some(Decision::Allow(n)) if n.len() == 1),
        "{decision:?}"
    );
    assert_eq!(info.count_total, 0, "allocations: {info:?}");
    // Dropping the decision frees nothing either: its numbers are inline.
    let info = measure(|| drop(decision.take()));
    assert_eq!(info.count_total, 0, "{info:?}");
}

#[test]
fn a_canonical_path_costs_no_allocation_in_either_mode() {
    for mode in [PathMode::Refuse, PathMode::Normalize] {
        let mut parts = request("/mp/wechat/qr-code_v2~x.y/a:b@c!$&'()*+,=/", "x");
        let info = steady(|| target::canonicalize(&mut parts.uri, mode).expect("canonical"));
        assert_eq!(info.count_total, 0, "{mode:?}: {info:?}");
    }
}

#[test]
fn a_refusal_allocates_nothing_before_its_answer() {
    let cfg = config();
    let rev = revision();
    let parts = request("/apps/com.unfiled.app/update", "com.unfiled.app");
    let mut decision = None;
    let info = steady(|| {
        let (route, caps) = route::find(&cfg.routes, &parts).expect("routed");
        let who = extract::identify(route, &parts, &caps, None);
        decision = Some(policy::decide(
            route,
            who.as_ref().map(Option::as_ref).map_err(|c| *c),
            &rev,
            false,
        ));
    });
    assert!(
        matches!(decision, Some(Decision::Refuse(Code::NotFiled))),
        "{decision:?}"
    );
    assert_eq!(info.count_total, 0, "{info:?}");
}

#[test]
fn an_encoded_id_costs_its_decoding_only() {
    let cfg = config();
    let parts = request("/apps/com.filed%2Eapp/update", "com.filed.app");
    let info = steady(|| {
        let (route, caps) = route::find(&cfg.routes, &parts).expect("routed");
        let who = extract::identify(route, &parts, &caps, None);
        assert!(matches!(who, Ok(Some(_))), "{who:?}");
    });
    // percent-encoding copies the bytes before the first escape, then grows that buffer once
    // for the rest: the decoded id, and nothing else, is on the heap.
    assert!(info.count_total <= 2, "{info:?}");
    assert_eq!(info.bytes_current, 0, "{info:?}");
    assert!(
        info.bytes_max <= 3 * "com.filed.app".len() as u64,
        "{info:?}"
    );
}

#[test]
fn the_filing_header_is_the_one_allocation() {
    let rev = revision();
    let Decision::Allow(numbers) = policy::decide(
        &config().routes[1],
        Ok(Some(&policy::Identified {
            platform: crate::filing::Platform::Android,
            id: "com.filed.app".into(),
        })),
        &rev,
        false,
    ) else {
        panic!("not allowed");
    };
    let mut value = None;
    let info = steady(|| value = filing_value(&numbers));
    assert_eq!(info.count_total, 1, "{info:?}");
    assert_eq!(
        value.unwrap().to_str().unwrap(),
        "%E7%B2%A4ICP%E5%A4%872023123456%E5%8F%B7-3A"
    );
}

#[test]
fn preparing_the_upstream_request_allocates_nothing() {
    let cfg = config();
    let metrics = std::sync::Arc::new(crate::metrics::Metrics::new());
    let peers = std::sync::Arc::new(crate::proxy::peers::Peers::new(&cfg.upstreams[0], metrics));
    let up = Upstream::new(cfg.upstreams[0].clone(), peers);
    let filing_header = HeaderName::from_static("x-icp-filing");
    let forwarded_for = HeaderValue::from_static("192.0.2.7");
    let filing = HeaderValue::from_static("x");
    let side = ClientSide {
        forwarded_for: &forwarded_for,
        tls: false,
        filing_header: &filing_header,
        filing: Some(filing),
    };
    let fresh = || {
        let mut p = request(
            "/apps/com.filed.app/update?pkg=com.filed.app",
            "com.filed.app",
        );
        // Room for the headers the gateway adds, as hyper's parsed maps have.
        p.headers.reserve(8);
        p
    };
    let mut warm = fresh();
    up.prepare(&mut warm, &side);
    let mut parts = fresh();
    let info = measure(|| up.prepare(&mut parts, &side));
    assert_eq!(info.count_total, 0, "{info:?}");
    assert_eq!(
        parts.uri.to_string(),
        "http://127.0.0.1:9/apps/com.filed.app/update?pkg=com.filed.app"
    );
    assert_eq!(parts.headers["x-forwarded-for"], "192.0.2.7");
    assert_eq!(parts.headers["via"], "1.1 icpgate");
}

/// The access log's part of a request: reading the client's id, the draft and its queued
/// record cost no allocation (the record holds shared handles, the queue is preallocated,
/// the line is formatted on the writer's thread). A request without a usable id costs one:
/// the new id's header value (a `HeaderValue` owns its bytes).
#[test]
fn the_request_id_and_the_access_record_cost_only_a_generated_id() {
    use crate::accesslog::{AccessLog, AccessLogWriter};
    use crate::config::LogTarget;
    use crate::policy::{Outcome, Reason};
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let metrics = Arc::new(crate::metrics::Metrics::new());
    let target = LogTarget::File(dir.path().join("access.jsonl"));
    let writer = AccessLogWriter::start(&target, metrics.clone()).unwrap();
    let log = AccessLog::new(
        &crate::accesslog::AccessQueue::of(Some(&writer)),
        ["update"].into_iter(),
        [("store", vec!["127.0.0.1:9".to_string()])].into_iter(),
        &metrics,
    );
    let listener: Arc<str> = "public".into();
    let peer = "192.0.2.7:40000".parse().unwrap();
    let body = http_body_util::Empty::<bytes::Bytes>::new();
    let response = || {
        let mut r = http::Response::new(http_body_util::Empty::<bytes::Bytes>::new());
        r.headers_mut().reserve(8);
        r
    };
    for (client_id, allocations) in [(Some("req-42"), 0), (None, 1)] {
        let mut parts = request("/apps/com.filed.app/update", "com.filed.app");
        parts.headers.reserve(8);
        let mut responses = vec![response(), response()];
        let info = steady(|| {
            if let Some(id) = client_id {
                parts
                    .headers
                    .insert("x-request-id", HeaderValue::from_static(id));
            } else {
                parts.headers.remove("x-request-id");
            }
            let mut d = log.begin(&listener, peer, &mut parts, &body);
            d.decided(Some(0), Outcome::Allow, Reason::Filed);
            d.upstream(0, 0, std::time::Duration::from_micros(300));
            let r = d.answered(responses.pop().unwrap());
            assert!(r.headers().contains_key("x-request-id"));
            drop(d);
            std::mem::forget(r);
        });
        assert_eq!(info.count_total, allocations, "{client_id:?}: {info:?}");
    }
    assert_eq!(metrics.access_log_dropped.get(), 0);
}
