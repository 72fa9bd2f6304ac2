//! A small echo upstream for demos and manual testing: answers every request with a JSON
//! description of what it received (method, path, query, headers, body size and sha256), and
//! a path ending in `/search` with a demo search list (`demo_list`) for filter routes.
//!
//! Owns nothing the gateway depends on; it exists so the quick start runs with no other server.
//! Must not: be used as a production upstream.
//! Invariant: `body_sha256` is the digest of exactly the bytes received.

use crate::accept::Acceptor;
use crate::proxy::body::full;
use http_body_util::BodyExt;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tokio::sync::watch;

async fn answer(
    req: http::Request<hyper::body::Incoming>,
) -> Result<http::Response<crate::proxy::body::ProxyBody>, hyper::Error> {
    let (parts, body) = req.into_parts();
    let bytes = body.collect().await?.to_bytes();
    if parts.uri.path().ends_with("/search") {
        let mut resp = http::Response::new(full(demo_list()));
        resp.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json"),
        );
        return Ok(resp);
    }
    let headers: serde_json::Map<String, serde_json::Value> = parts
        .headers
        .iter()
        .map(|(k, v)| {
            (
                k.to_string(),
                serde_json::Value::String(String::from_utf8_lossy(v.as_bytes()).into_owned()),
            )
        })
        .collect();
    let v = serde_json::json!({
        "upstream": "icpgate-demo-echo",
        "method": parts.method.as_str(),
        "path": parts.uri.path(),
        "query": parts.uri.query(),
        "headers": headers,
        "body_bytes": bytes.len(),
        "body_sha256": hex::encode(Sha256::digest(&bytes)),
    });
    let mut resp = http::Response::new(full(serde_json::to_vec_pretty(&v).unwrap_or_default()));
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    Ok(resp)
}

/// The demo search list: Android apps of config/sample-registry.ndjson (filed, revoked,
/// cancelled, filed only for iOS) and one in no filing, for a filter route to decide.
fn demo_list() -> &'static str {
    r#"{"query":"demo","results":[
  {"package":"io.github.benderblog.traintime_pda","name":"XDYou","rating":4.8},
  {"package":"com.example.revokedapp","name":"示例已撤销应用","rating":3.1},
  {"package":"com.yucore.swashbucklerdiary","name":"侠客日记","rating":4.6},
  {"package":"com.example.cancelledapp","name":"示例已注销应用","rating":2.0},
  {"package":"com.example.iosonly","name":"示例仅iOS应用","rating":4.0},
  {"package":"com.nobody.unfiled","name":"未备案应用","rating":5.0}
],"next":null}
"#
}

/// Serves the echo upstream until `shutdown` changes.
pub async fn serve(listener: TcpListener, mut shutdown: watch::Receiver<bool>) {
    let mut acceptor = Acceptor::new(listener, "echo");
    loop {
        let (stream, _) = tokio::select! {
            c = acceptor.accept() => c,
            _ = shutdown.changed() => return,
        };
        tokio::spawn(async move {
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service_fn(answer))
                .await;
        });
    }
}
