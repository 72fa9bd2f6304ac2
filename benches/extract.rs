//! Extractor benchmarks: `extract::identify` for each source kind (path capture, query, header,
//! JSON pointer on a ~1 KB and a 64 KB body, urlencoded form), as the handler calls it.
//!
//! Owns only measurement; routes are built by hand the way `src/extract/tests.rs` does.
//! Must not: time request construction (parts and bodies are built once, outside the loop).
//! Invariant: every benchmarked call identifies the expected id (checked before timing).

use criterion::{BenchmarkId, Criterion, Throughput};
use http::request::Parts;
use icpgate::config::{PlatformSpec, RouteConfig, Source};
use icpgate::extract::identify;
use icpgate::filing::Platform;
use std::hint::black_box;

const ID: &str = "com.tencent.mm";

fn route(extract: Vec<Source>) -> RouteConfig {
    RouteConfig::new("bench", PlatformSpec::Fixed(Platform::Android), extract)
}

fn parts(uri: &str, headers: &[(&str, &str)]) -> Parts {
    let mut b = http::Request::builder().method("POST").uri(uri);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(()).unwrap().into_parts().0
}

/// A JSON upload description of about `size` bytes: filler metadata first, the app object last,
/// so the extractor has to walk past everything else (the common shape of store upload APIs).
fn json_body(size: usize) -> Vec<u8> {
    let mut s = String::from(
        r#"{"version":{"code":1024,"name":"10.2.4"},"changelog":"修复已知问题，提升稳定性","files":["#,
    );
    let mut i = 0;
    while s.len() + 120 < size {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&format!(
            r#"{{"path":"assets/img_{i:05}.webp","sha256":"{:064x}","size":{}}}"#,
            i as u128 * 0x9E37_79B9_7F4A_7C15,
            1000 + i * 7
        ));
        i += 1;
    }
    s.push_str(&format!(
        r#"],"app":{{"platform":"android","package":"{ID}","channel":"official"}}}}"#
    ));
    s.into_bytes()
}

fn form_body() -> Vec<u8> {
    format!("version_code=1024&version_name=10.2.4&channel=official&changelog=%E4%BF%AE%E5%A4%8D&sha256={:064x}&package={ID}&signed=1", 7u128)
        .into_bytes()
}

/// One benchmarked request: a route with one source, the request head, the buffered body.
struct Case<'a> {
    name: &'static str,
    route: RouteConfig,
    parts: Parts,
    body: Option<&'a [u8]>,
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    let json_1k = json_body(1024);
    let json_64k = json_body(64 * 1024);
    let form = form_body();
    let pointer = vec!["app".to_string(), "package".to_string()];
    let plain = parts(
        "/v1/apps/update",
        &[
            ("content-type", "application/json"),
            ("user-agent", "bench/1.0"),
        ],
    );
    // The span of ID in the path case's "/v1/apps/{ID}/update".
    let caps = [("package", 9..9 + ID.len())];
    let json = |p: &[String]| route(vec![Source::Json(p.to_vec())]);
    let cases = [
        Case {
            name: "path",
            route: route(vec![Source::Path("package".into())]),
            parts: parts(&format!("/v1/apps/{ID}/update"), &[]),
            body: None,
        },
        Case {
            name: "query",
            route: route(vec![Source::Query("package".into())]),
            parts: parts(
                &format!(
                    "/v1/apps/update?version_code=1024&channel=official&package={ID}&lang=zh-CN"
                ),
                &[],
            ),
            body: None,
        },
        Case {
            name: "header",
            route: route(vec![Source::Header(http::HeaderName::from_static(
                "x-app-id",
            ))]),
            parts: parts(
                "/v1/apps/update",
                &[
                    ("user-agent", "bench/1.0"),
                    ("accept", "application/json"),
                    ("x-app-id", ID),
                    ("x-request-id", "0af7651916cd43dd8448eb211c80319c"),
                ],
            ),
            body: None,
        },
        Case {
            name: "json-1k",
            route: json(&pointer),
            parts: plain.clone(),
            body: Some(&json_1k),
        },
        Case {
            name: "json-64k",
            route: json(&pointer),
            parts: plain.clone(),
            body: Some(&json_64k),
        },
        Case {
            name: "form",
            route: route(vec![Source::Form("package".into())]),
            parts: plain.clone(),
            body: Some(&form),
        },
    ];
    let mut g = c.benchmark_group("identify");
    for Case {
        name,
        route,
        parts,
        body,
    } in &cases
    {
        let got = identify(route, parts, &caps, *body).unwrap().unwrap();
        assert_eq!((got.platform, &*got.id), (Platform::Android, ID), "{name}");
        g.throughput(Throughput::Elements(1));
        let id = match body {
            Some(b) => format!("{name} ({} B)", b.len()),
            None => name.to_string(),
        };
        g.bench_function(BenchmarkId::from_parameter(id), |b| {
            b.iter(|| identify(route, parts, black_box(&caps), black_box(*body)))
        });
    }
    g.finish();
    c.final_summary();
}
