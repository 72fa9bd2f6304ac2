//! The ceiling of the HTTP stack icpgate is built on, for the data-path comparison
//! (`benches/gates.sh`, BENCHMARKS.md "Data path"): a bare hyper 1 reverse proxy shaped like
//! icpgate's data path (one `current_thread` runtime per core, an `SO_REUSEPORT` socket each, a
//! per-worker pool of hyper `client::conn` upstream connections) with a `HashSet` gate on the
//! `package` query parameter and nothing else: no routing, no canonical path, no metrics, no
//! audit, no request id. Not part of the product.
//!
//!     cargo bench --bench bare_proxy --no-run       # builds target/release/deps/bare_proxy-*
//!     BIN serve --config FILE                       # what ../shared/bench/run.sh runs
//!
//! It reads the harness's icpgate config (`[[listener]] address`, `[admin] address`,
//! `[index] snapshot`, `[[upstream]] url`), answers filed ids by forwarding and the rest with a
//! 451 JSON body, and `/readyz` on the admin address. Run without arguments it prints this
//! usage and exits (so `cargo bench` does not hang on it).

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::cell::RefCell;
use std::collections::HashSet;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;

type Body = http_body_util::combinators::UnsyncBoxBody<Bytes, hyper::Error>;

fn value(text: &str, section: &str, key: &str) -> Option<String> {
    let start = text.find(section)?;
    let rest = &text[start..];
    let line = rest.lines().find(|l| l.trim_start().starts_with(key))?;
    Some(line.split('"').nth(1)?.to_string())
}

fn load_ids(path: &str) -> HashSet<String> {
    let text = std::fs::read_to_string(path).expect("snapshot");
    let mut ids = HashSet::new();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("snapshot line");
        for p in v["platforms"].as_array().into_iter().flatten() {
            for id in p["ids"].as_array().into_iter().flatten() {
                ids.insert(id.as_str().unwrap_or_default().to_string());
            }
        }
    }
    ids
}

fn package(query: Option<&str>) -> Option<&str> {
    query?.split('&').find_map(|kv| kv.strip_prefix("package="))
}

struct Worker {
    ids: Arc<HashSet<String>>,
    upstream: SocketAddr,
    idle: RefCell<Vec<SendRequest<Incoming>>>,
}

impl Worker {
    async fn handle(self: Rc<Self>, req: Request<Incoming>) -> Response<Body> {
        let filed = package(req.uri().query()).is_some_and(|p| self.ids.contains(p));
        if !filed {
            let body = Full::new(Bytes::from_static(
                br#"{"error":"unavailable_for_legal_reasons","status":451}"#,
            ));
            let mut r = Response::new(body.map_err(|never| match never {}).boxed_unsync());
            *r.status_mut() = hyper::StatusCode::UNAVAILABLE_FOR_LEGAL_REASONS;
            return r;
        }
        let mut tx = loop {
            let popped = self.idle.borrow_mut().pop();
            match popped {
                Some(tx) if tx.is_ready() => break tx,
                Some(_) => continue,
                None => {
                    let s = tokio::net::TcpStream::connect(self.upstream)
                        .await
                        .expect("upstream");
                    let _ = s.set_nodelay(true);
                    let (tx, conn) = hyper::client::conn::http1::handshake(TokioIo::new(s))
                        .await
                        .expect("handshake");
                    tokio::task::spawn_local(conn);
                    break tx;
                }
            }
        };
        let resp = tx.send_request(req).await.expect("upstream exchange");
        self.idle.borrow_mut().push(tx);
        resp.map(|b| b.boxed_unsync())
    }
}

fn serve_worker(addr: SocketAddr, ids: Arc<HashSet<String>>, upstream: SocketAddr) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async move {
        let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        s.set_reuse_address(true).unwrap();
        s.set_reuse_port(true).unwrap();
        s.set_nonblocking(true).unwrap();
        s.bind(&addr.into()).unwrap();
        s.listen(4096).unwrap();
        let l = tokio::net::TcpListener::from_std(s.into()).unwrap();
        let w = Rc::new(Worker {
            ids,
            upstream,
            idle: RefCell::new(Vec::new()),
        });
        loop {
            let Ok((stream, _)) = l.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let w = w.clone();
            tokio::task::spawn_local(async move {
                let svc = service_fn(move |req| {
                    let w = w.clone();
                    async move { Ok::<_, std::convert::Infallible>(w.handle(req).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
}

fn serve_admin(addr: SocketAddr) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let l = tokio::net::TcpListener::bind(addr).await.expect("admin");
        loop {
            let Ok((stream, _)) = l.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let svc = service_fn(|_req| async {
                    Ok::<_, std::convert::Infallible>(Response::new(Full::new(Bytes::from_static(
                        b"{\"ready\":true}",
                    ))))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(cfg) = args
        .windows(3)
        .find(|w| w[0] == "serve" && w[1] == "--config")
    else {
        println!("bare_proxy: usage: bare_proxy serve --config FILE (see the file's header)");
        return;
    };
    let text = std::fs::read_to_string(&cfg[2]).expect("config");
    let listen: SocketAddr = value(&text, "[[listener]]", "address")
        .unwrap()
        .parse()
        .unwrap();
    let admin: SocketAddr = value(&text, "[admin]", "address").unwrap().parse().unwrap();
    let snapshot = value(&text, "[index]", "snapshot").unwrap();
    let url = value(&text, "[[upstream]]", "url").unwrap();
    let upstream: SocketAddr = url.trim_start_matches("http://").parse().unwrap();
    let ids = Arc::new(load_ids(&snapshot));
    let n = std::thread::available_parallelism().map_or(1, |n| n.get());
    let workers: Vec<_> = (0..n)
        .map(|_| {
            let ids = ids.clone();
            std::thread::spawn(move || serve_worker(listen, ids, upstream))
        })
        .collect();
    std::thread::spawn(move || serve_admin(admin));
    for w in workers {
        let _ = w.join();
    }
}
