//! The access log: one JSON line per request (time, request id, listener, route, method, path,
//! status, decision, code, bytes, upstream, durations, client), written by a dedicated thread
//! to a file or stdout. Also the request's id (`requestid`) from the moment it is read to the
//! response that echoes it.
//!
//! Owns the per-request `Draft` (filled in by the pipeline as the request goes) and the record
//! it queues; `writer.rs` owns the writer thread and the line's shape. A request hands its
//! record to a bounded queue with `try_send` and never waits: when the queue is full the
//! record is dropped and counted (`icpgate_access_log_dropped_total`). A request whose future
//! is dropped before it was answered (the client went away) is logged with status 499, as
//! nginx does.
//! Must not: block, lock or allocate on the request path (the queue is preallocated and a
//! record holds shared handles only).
//! Invariant: every request that reaches the pipeline queues one record, or counts one drop.

mod writer;

pub use writer::{AccessLogWriter, LogFiles};

use crate::metrics::Metrics;
use crate::policy::{Outcome, Reason};
use crate::requestid;
use http::request::Parts;
use http::{HeaderValue, Method, Response, Uri};
use http_body::Body;
use prometheus::IntCounter;
use std::net::SocketAddr;
use std::sync::mpsc::SyncSender;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// Records the queue holds while the writer is busy (preallocated).
pub const QUEUE: usize = 8192;
/// The longest path written; longer ones are cut at a character boundary.
pub const MAX_PATH: usize = 1024;
/// The status of a request whose client went away before the answer (nginx's 499).
pub const CLIENT_CLOSED: u16 = 499;

/// The route and upstream names of one configuration, which records name by index, and each
/// upstream's servers (`host:port`).
pub struct Names {
    routes: Vec<String>,
    upstreams: Vec<String>,
    servers: Vec<Vec<String>>,
}

/// Queued by value: boxing would be an allocation per request, and the queue's slots are
/// allocated once.
#[allow(clippy::large_enum_variant)]
enum Msg {
    Entry(Entry),
    Close,
}

/// One request's record, as queued.
struct Entry {
    time: SystemTime,
    id: HeaderValue,
    names: Arc<Names>,
    listener: Arc<str>,
    client: SocketAddr,
    method: Method,
    uri: Uri,
    bytes_in: Option<u64>,
    route: Option<usize>,
    outcome: Option<(Outcome, Reason)>,
    upstream: Option<(usize, usize)>,
    upstream_time: Option<Duration>,
    status: u16,
    bytes_out: Option<u64>,
    duration: Duration,
}

/// A configuration's handle on the access log (in the pipeline's shared state).
pub struct AccessLog {
    tx: Option<SyncSender<Msg>>,
    names: Arc<Names>,
    dropped: IntCounter,
}

/// What the access log records about a request while it goes through the pipeline. The record
/// is queued when the draft is dropped: after `answered`, or when the request is abandoned.
pub struct Draft<'a> {
    log: &'a AccessLog,
    listener: &'a Arc<str>,
    client: SocketAddr,
    /// When the request head was handed to the gateway.
    pub start: Instant,
    id: HeaderValue,
    /// What only the log needs; `None` when the access log is off.
    received: Option<Received>,
    route: Option<usize>,
    outcome: Option<(Outcome, Reason)>,
    upstream: Option<(usize, usize)>,
    upstream_time: Option<Duration>,
    answer: Option<(u16, Option<u64>)>,
}

/// The request as it arrived.
struct Received {
    time: SystemTime,
    method: Method,
    uri: Uri,
    bytes_in: Option<u64>,
}

/// The writer's queue, as every configuration's `AccessLog` needs it (`None`: the access log
/// is off).
#[derive(Clone)]
pub struct AccessQueue(Option<SyncSender<Msg>>);

impl AccessQueue {
    pub fn of(writer: Option<&AccessLogWriter>) -> AccessQueue {
        AccessQueue(writer.map(|w| w.tx.clone()))
    }
}

impl AccessLog {
    /// The handle for one configuration.
    pub fn new<'a>(
        queue: &AccessQueue,
        routes: impl Iterator<Item = &'a str>,
        upstreams: impl Iterator<Item = (&'a str, Vec<String>)>,
        metrics: &Metrics,
    ) -> AccessLog {
        let (upstreams, servers) = upstreams.map(|(u, s)| (u.to_string(), s)).unzip();
        AccessLog {
            tx: queue.0.clone(),
            names: Arc::new(Names {
                routes: routes.map(str::to_string).collect(),
                upstreams,
                servers,
            }),
            dropped: metrics.access_log_dropped.clone(),
        }
    }

    /// Starts a request's draft: reads (or makes, and sets in `parts`) its request id, and
    /// notes what arrived before anything rewrites it.
    pub fn begin<'a, B: Body>(
        &'a self,
        listener: &'a Arc<str>,
        client: SocketAddr,
        parts: &mut Parts,
        body: &B,
    ) -> Draft<'a> {
        let start = Instant::now();
        let id = requestid::take(&mut parts.headers);
        let received = self.tx.as_ref().map(|_| Received {
            time: SystemTime::now(),
            method: parts.method.clone(),
            uri: parts.uri.clone(),
            bytes_in: body.size_hint().exact(),
        });
        Draft {
            log: self,
            listener,
            client,
            start,
            id,
            received,
            route: None,
            outcome: None,
            upstream: None,
            upstream_time: None,
            answer: None,
        }
    }
}

impl Draft<'_> {
    /// The request id (for the audit record and the gateway's own answers).
    pub fn id(&self) -> &str {
        requestid::as_str(&self.id)
    }

    /// The request's outcome, where its metrics sample is taken; `route` is the index of the
    /// route it matched.
    pub fn decided(&mut self, route: Option<usize>, outcome: Outcome, reason: Reason) {
        self.route = route;
        self.outcome = Some((outcome, reason));
    }

    /// The upstream the request went to, its server that answered (or failed last), and how
    /// long it took.
    pub fn upstream(&mut self, upstream: usize, server: usize, took: Duration) {
        self.upstream = Some((upstream, server));
        self.upstream_time = Some(took);
    }

    /// The answer: echoes the request id to the client and notes the status and the body size
    /// (when known before the body is sent).
    pub fn answered<B: Body>(&mut self, mut resp: Response<B>) -> Response<B> {
        self.answer = Some((resp.status().as_u16(), resp.body().size_hint().exact()));
        resp.headers_mut()
            .insert(requestid::HEADER, self.id.clone());
        resp
    }
}

impl Drop for Draft<'_> {
    fn drop(&mut self) {
        let (Some(tx), Some(r)) = (&self.log.tx, self.received.take()) else {
            return;
        };
        let (status, bytes_out) = self.answer.unwrap_or((CLIENT_CLOSED, None));
        let entry = Entry {
            time: r.time,
            id: std::mem::replace(&mut self.id, HeaderValue::from_static("")),
            names: self.log.names.clone(),
            listener: self.listener.clone(),
            client: self.client,
            method: r.method,
            uri: r.uri,
            bytes_in: r.bytes_in,
            route: self.route,
            outcome: self.outcome,
            upstream: self.upstream,
            upstream_time: self.upstream_time,
            status,
            bytes_out,
            duration: self.start.elapsed(),
        };
        if tx.try_send(Msg::Entry(entry)).is_err() {
            self.log.dropped.inc();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::Audit;
    use crate::code::Code;
    use crate::config::LogTarget;
    use std::sync::mpsc::sync_channel;

    fn parts(uri: &str, id: Option<&str>) -> Parts {
        let mut b = http::Request::builder().method("POST").uri(uri);
        if let Some(id) = id {
            b = b.header("x-request-id", id);
        }
        b.body(()).unwrap().into_parts().0
    }

    fn lines(path: &std::path::Path) -> Vec<serde_json::Value> {
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    fn log(w: Option<&AccessLogWriter>, m: &Metrics) -> AccessLog {
        AccessLog::new(
            &AccessQueue::of(w),
            ["r0", "r1"].into_iter(),
            [("up", vec!["10.0.0.5:8080".to_string()])].into_iter(),
            m,
        )
    }

    #[tokio::test]
    async fn a_request_is_one_line_with_every_field() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("access.jsonl");
        let m = Arc::new(Metrics::new());
        let w = AccessLogWriter::start(&LogTarget::File(path.clone()), m.clone()).unwrap();
        let log = log(Some(&w), &m);
        let listener: Arc<str> = "public".into();
        let client: SocketAddr = "192.0.2.1:5555".parse().unwrap();
        let body = http_body_util::Full::new(bytes::Bytes::from_static(b"abc"));
        let mut p = parts("/a/../b?token=secret", Some("abc-1"));
        {
            let mut d = log.begin(&listener, client, &mut p, &body);
            assert_eq!(d.id(), "abc-1");
            d.decided(Some(1), Outcome::Block, Reason::Code(Code::NotFiled));
            d.upstream(0, 0, Duration::from_micros(1500));
            let resp = Response::builder()
                .status(451)
                .body(http_body_util::Full::new(bytes::Bytes::from_static(
                    b"12345",
                )))
                .unwrap();
            let resp = d.answered(resp);
            assert_eq!(resp.headers()["x-request-id"], "abc-1");
        }
        let mut p = parts("/gone", None);
        drop(log.begin(
            &listener,
            client,
            &mut p,
            &http_body_util::Empty::<bytes::Bytes>::new(),
        ));
        w.close().await;
        let l = lines(&path);
        assert_eq!(l.len(), 2, "{l:?}");
        let keys: Vec<&str> = l[0].as_object().unwrap().keys().map(|k| &**k).collect();
        assert_eq!(keys.len(), 16, "{keys:?}");
        assert_eq!(l[0]["request_id"], "abc-1");
        assert_eq!(l[0]["listener"], "public");
        assert_eq!(l[0]["route"], "r1");
        assert_eq!(l[0]["method"], "POST");
        assert_eq!(l[0]["path"], "/a/../b", "as received, without the query");
        assert_eq!(l[0]["status"], 451);
        assert_eq!(l[0]["decision"], "block");
        assert_eq!(l[0]["code"], "not_filed");
        assert_eq!(
            (l[0]["bytes_in"].clone(), l[0]["bytes_out"].clone()),
            (3.into(), 5.into())
        );
        assert_eq!(l[0]["upstream"], "up");
        assert_eq!(l[0]["upstream_addr"], "10.0.0.5:8080");
        assert_eq!(l[0]["upstream_ms"], 1.5);
        assert!(l[0]["duration_ms"].as_f64().unwrap() >= 0.0);
        assert_eq!(l[0]["client"], "192.0.2.1:5555");
        let time = l[0]["time"].as_str().unwrap();
        assert!(
            humantime::parse_rfc3339(time).is_ok() && time.len() == 24,
            "{time}"
        );
        // Abandoned before an answer: 499, a generated id, no decision.
        assert_eq!(l[1]["status"], CLIENT_CLOSED);
        assert_eq!(l[1]["request_id"].as_str().unwrap().len(), 32);
        assert!(l[1]["decision"].is_null() && l[1]["route"].is_null());
        assert_eq!(m.access_log_records.get(), 2);
    }

    #[test]
    fn a_full_queue_drops_and_counts_and_never_waits() {
        let m = Metrics::new();
        let (tx, _rx) = sync_channel(2);
        let log = AccessLog {
            tx: Some(tx),
            ..log(None, &m)
        };
        let listener: Arc<str> = "l".into();
        let client: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let body = http_body_util::Empty::<bytes::Bytes>::new();
        for _ in 0..5 {
            let mut p = parts("/", None);
            drop(log.begin(&listener, client, &mut p, &body));
        }
        assert_eq!(m.access_log_dropped.get(), 3);
    }

    #[test]
    fn off_it_still_sets_and_echoes_the_id() {
        let m = Metrics::new();
        let log = log(None, &m);
        let listener: Arc<str> = "l".into();
        let mut p = parts("/", Some("bad id"));
        let body = http_body_util::Empty::<bytes::Bytes>::new();
        let mut d = log.begin(&listener, "127.0.0.1:1".parse().unwrap(), &mut p, &body);
        let id = d.id().to_string();
        assert_eq!(p.headers["x-request-id"], id.as_str(), "forwarded upstream");
        let resp = d.answered(Response::new(body));
        assert_eq!(resp.headers()["x-request-id"], id.as_str());
    }

    #[tokio::test]
    async fn reopen_moves_the_next_lines_to_a_new_file_at_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("access.jsonl");
        let rotated = dir.path().join("access.jsonl.1");
        let m = Arc::new(Metrics::new());
        let w = AccessLogWriter::start(&LogTarget::File(path.clone()), m.clone()).unwrap();
        let (audit, audit_writer) = Audit::spawn(
            Box::new(std::io::sink()),
            &crate::config::AuditConfig::default(),
            m.clone(),
        )
        .unwrap();
        let files = LogFiles::new(audit, Some(&w));
        let log = log(Some(&w), &m);
        let listener: Arc<str> = "l".into();
        let body = http_body_util::Empty::<bytes::Bytes>::new();
        let one = |uri: &str| {
            let mut p = parts(uri, None);
            drop(log.begin(&listener, "127.0.0.1:1".parse().unwrap(), &mut p, &body));
        };
        one("/before");
        let deadline = Instant::now() + Duration::from_secs(10);
        while m.access_log_records.get() < 1 {
            assert!(Instant::now() < deadline);
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        std::fs::rename(&path, &rotated).unwrap();
        files.reopen();
        one("/after");
        w.close().await;
        audit_writer.close().await;
        assert_eq!(lines(&rotated)[0]["path"], "/before");
        let new = lines(&path);
        assert_eq!((new.len(), &new[0]["path"]), (1, &"/after".into()));
    }
}
