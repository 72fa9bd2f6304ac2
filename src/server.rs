//! Listeners: accept loops, TLS handshakes, HTTP/1.1 + HTTP/2 connections, connection limits,
//! timeouts and graceful drain.
//!
//! Each worker (`workers.rs`) runs one accept loop per listener on its own `SO_REUSEPORT`
//! socket; the loops of one listener share a `ListenerState` (its reloadable settings, its
//! connection limit and its close signal), and each worker's requests read that worker's
//! request state (`Shared`) from a slot a reload swaps.
//!
//! Owns the client-connection lifecycle: a connection is refused at accept past
//! `max_connections`, its TLS handshake must finish within `header_read_timeout`, HTTP/1 request
//! heads must arrive within `header_read_timeout`, and a connection with no request in flight
//! and no bytes moving for `idle_timeout` is closed gracefully. On shutdown every connection is
//! told to finish its in-flight requests and close.
//! Must not: make decisions about requests (that is `proxy`), or block the accept loop on a
//! slow client.
//! Invariant: every accepted connection is tracked until it ends, so drain waits for all of them.

use crate::accept::Acceptor;
use crate::config::{Limits, ListenerConfig, PathMode};
use crate::fold::{Folded, Level};
use crate::proxy::{Conn, Shared};
use arc_swap::ArcSwap;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio_util::task::TaskTracker;

/// Milliseconds since `epoch` of the last byte read or written on a connection.
struct Activity {
    epoch: Instant,
    last_ms: AtomicU64,
}

impl Activity {
    fn touch(&self) {
        self.last_ms
            .store(self.epoch.elapsed().as_millis() as u64, Ordering::Relaxed);
    }
    fn idle_for(&self) -> Duration {
        let now = self.epoch.elapsed().as_millis() as u64;
        Duration::from_millis(now.saturating_sub(self.last_ms.load(Ordering::Relaxed)))
    }
}

/// A stream that records when bytes last moved.
struct Tracked<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Tracked<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if r.is_ready() {
            self.activity.touch();
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tracked<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if r.is_ready() {
            self.activity.touch();
        }
        r
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if r.is_ready() {
            self.activity.touch();
        }
        r
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// Decrements a counter when dropped, so aborted requests are not counted as in flight.
struct InFlight(Arc<AtomicUsize>);

impl InFlight {
    fn enter(c: &Arc<AtomicUsize>) -> InFlight {
        c.fetch_add(1, Ordering::AcqRel);
        InFlight(c.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// What a listener's accept loops (one per worker) share, across reloads.
pub struct ListenerState {
    view: ArcSwap<ListenerView>,
    /// `limits.max_connections` open connections at most, over all workers.
    permits: Arc<Semaphore>,
    max: AtomicUsize,
    /// `true` stops the accept loops and closes the listener's connections gracefully.
    close: watch::Sender<bool>,
    /// Logged folded (`fold.rs`): these fire per connection under a flood.
    rejected: Arc<Folded>,
    tls_failed: Arc<Folded>,
}

/// The part of a listener a reload may change; read once per connection.
pub struct ListenerView {
    pub name: Arc<str>,
    pub tls: Option<tokio_rustls::TlsAcceptor>,
    pub path: PathMode,
    pub trusted_proxies: Arc<[ipnet::IpNet]>,
    pub proxy_protocol: bool,
}

impl ListenerView {
    fn of(cfg: &ListenerConfig) -> ListenerView {
        ListenerView {
            name: cfg.name.as_str().into(),
            tls: cfg.tls.clone().map(tokio_rustls::TlsAcceptor::from),
            path: cfg.path,
            trusted_proxies: cfg.trusted_proxies.clone(),
            proxy_protocol: cfg.proxy_protocol,
        }
    }
}

impl ListenerState {
    pub fn new(cfg: &ListenerConfig, max_connections: usize) -> ListenerState {
        ListenerState {
            view: ArcSwap::from_pointee(ListenerView::of(cfg)),
            permits: Arc::new(Semaphore::new(max_connections)),
            max: AtomicUsize::new(max_connections),
            close: watch::channel(false).0,
            rejected: Folded::new(
                "connection_rejected",
                format!("listener={}", cfg.name),
                Level::Warn,
            ),
            tls_failed: Folded::new(
                "tls_handshake_failed",
                format!("listener={}", cfg.name),
                Level::Info,
            ),
        }
    }

    /// Applies a reloaded configuration of the same listener: name, TLS, path mode and the
    /// connection limit take effect for the next connection accepted.
    pub fn update(&self, cfg: &ListenerConfig, max_connections: usize) {
        self.view.store(Arc::new(ListenerView::of(cfg)));
        let old = self.max.swap(max_connections, Ordering::AcqRel);
        if max_connections > old {
            self.permits.add_permits(max_connections - old);
        } else if old > max_connections {
            // Only idle permits can be taken back; connections open past the new limit finish.
            self.permits.forget_permits(old - max_connections);
        }
    }

    pub fn name(&self) -> Arc<str> {
        self.view.load().name.clone()
    }

    /// Stops accepting on every worker and asks the open connections to finish.
    pub fn close(&self) {
        self.close.send_replace(true);
    }
}

/// Accepts connections on one worker's socket of a listener until the listener closes. Each
/// connection is served on this worker, with the request state `slot` holds when a request
/// arrives.
pub async fn accept_loop(
    listener: TcpListener,
    state: Arc<ListenerState>,
    slot: Arc<ArcSwap<Shared>>,
    tracker: TaskTracker,
) {
    let mut close = state.close.subscribe();
    if *close.borrow_and_update() {
        return;
    }
    let mut acceptor = Acceptor::new(listener, format!("{:?}", &*state.name()));
    loop {
        let (mut stream, peer) = tokio::select! {
            c = acceptor.accept() => c,
            _ = close.changed() => break,
        };
        let view = state.view.load_full();
        let shared = slot.load_full();
        let metrics = shared.metrics.clone();
        let Ok(permit) = state.permits.clone().try_acquire_owned() else {
            metrics
                .connections_rejected
                .with_label_values(&[&view.name])
                .inc();
            if let Some(r) = state.rejected.hit() {
                let (repeated, window_s) = (r.count, r.secs());
                let max_connections = state.max.load(Ordering::Relaxed);
                tracing::warn!(event = "connection_rejected", listener = %view.name, max_connections, repeated, window_s);
            }
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        metrics
            .connections_total
            .with_label_values(&[&view.name])
            .inc();
        let conn = Conn::new(view.name.clone(), peer, view.tls.is_some(), view.path)
            .trusting(view.trusted_proxies.clone());
        let conn = Arc::new(conn);
        let proxy_protocol = view.proxy_protocol;
        let limits = shared.limits.clone();
        let (slot, close) = (slot.clone(), state.close.subscribe());
        drop(shared);
        let tls_failed = view.tls.as_ref().map(|_| state.tls_failed.clone());
        tracker.spawn(async move {
            let _permit = permit;
            let active = metrics.connections_active.with_label_values(&[&conn.listener]);
            active.inc();
            // A PROXY protocol header, where the listener expects one, names the client.
            let timeout = limits.header_read_timeout;
            let Some(conn) = crate::proxy_protocol::accept(proxy_protocol, &mut stream, conn, timeout, &metrics).await else {
                active.dec();
                return;
            };
            let activity = Arc::new(Activity { epoch: Instant::now(), last_ms: AtomicU64::new(0) });
            match &view.tls {
                None => serve_conn(Tracked { inner: stream, activity: activity.clone() }, conn, slot, &limits, close, activity).await,
                Some(acc) => match tokio::time::timeout(limits.header_read_timeout, acc.accept(stream)).await {
                    Ok(Ok(s)) => serve_conn(Tracked { inner: s, activity: activity.clone() }, conn, slot, &limits, close, activity).await,
                    Ok(Err(e)) => {
                        metrics.tls_handshake_failures.with_label_values(&[&conn.listener]).inc();
                        if let Some(r) = tls_failed.as_ref().and_then(|f| f.hit()) {
                            tracing::info!(event = "tls_handshake_failed", listener = %conn.listener, peer = %conn.peer, error = %e, repeated = r.count, window_s = r.secs());
                        }
                    }
                    Err(_) => {
                        metrics.tls_handshake_failures.with_label_values(&[&conn.listener]).inc();
                        if let Some(r) = tls_failed.as_ref().and_then(|f| f.hit()) {
                            tracing::info!(event = "tls_handshake_failed", listener = %conn.listener, peer = %conn.peer, error = "timeout", repeated = r.count, window_s = r.secs());
                        }
                    }
                },
            }
            active.dec();
        });
    }
}

async fn serve_conn<S>(
    io: S,
    conn: Arc<Conn>,
    slot: Arc<ArcSwap<Shared>>,
    limits: &Limits,
    mut shutdown: watch::Receiver<bool>,
    activity: Arc<Activity>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(limits.max_header_bytes)
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(limits.max_header_bytes as u32);
    let in_flight = Arc::new(AtomicUsize::new(0));
    let counter = in_flight.clone();
    let svc = service_fn(move |req| {
        // Each request runs on the configuration current when it arrives.
        let (shared, conn) = (slot.load_full(), conn.clone());
        let guard = InFlight::enter(&counter);
        async move {
            let resp = shared.handle(conn, req).await;
            drop(guard);
            Ok::<_, std::convert::Infallible>(resp)
        }
    });
    let c = builder.serve_connection(TokioIo::new(io), svc);
    tokio::pin!(c);
    let tick_every =
        (limits.idle_timeout / 4).clamp(Duration::from_millis(50), Duration::from_secs(5));
    let mut tick = tokio::time::interval(tick_every);
    let mut closing = false;
    loop {
        tokio::select! {
            r = c.as_mut() => {
                if let Err(e) = r {
                    tracing::debug!(event = "connection_error", error = %e);
                }
                break;
            }
            _ = shutdown.changed(), if !closing => {
                c.as_mut().graceful_shutdown();
                closing = true;
            }
            _ = tick.tick(), if !closing => {
                if in_flight.load(Ordering::Acquire) == 0 && activity.idle_for() >= limits.idle_timeout {
                    c.as_mut().graceful_shutdown();
                    closing = true;
                }
            }
        }
    }
}
