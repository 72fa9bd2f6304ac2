//! Listeners: accept loops, TLS handshakes, HTTP/1.1 + HTTP/2 connections, connection limits,
//! timeouts and graceful drain.
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
use crate::config::{Limits, ListenerConfig};
use crate::fold::{Folded, Level};
use crate::metrics::Metrics;
use crate::proxy::{Conn, Shared};
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

/// Everything an accept loop needs.
pub struct ListenerCtx {
    pub cfg: ListenerConfig,
    pub limits: Limits,
    pub shared: Arc<Shared>,
    pub metrics: Arc<Metrics>,
    pub tracker: TaskTracker,
    pub shutdown: watch::Receiver<bool>,
}

/// Accepts connections until shutdown is signalled.
pub async fn accept_loop(listener: TcpListener, ctx: ListenerCtx) {
    let name: Arc<str> = ctx.cfg.name.clone().into();
    let permits = Arc::new(Semaphore::new(ctx.limits.max_connections));
    let tls = ctx.cfg.tls.clone().map(tokio_rustls::TlsAcceptor::from);
    let mut shutdown = ctx.shutdown.clone();
    let mut acceptor = Acceptor::new(listener, &*name);
    // Logged folded (`fold.rs`): these fire per connection under a flood.
    let key = format!("listener={name}");
    let rejected = Folded::new("connection_rejected", key.clone(), Level::Warn);
    let tls_failed = Folded::new("tls_handshake_failed", key, Level::Info);
    loop {
        let (stream, peer) = tokio::select! {
            c = acceptor.accept() => c,
            _ = shutdown.changed() => break,
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            ctx.metrics
                .connections_rejected
                .with_label_values(&[&name])
                .inc();
            if let Some(r) = rejected.hit() {
                let (repeated, window_s) = (r.count, r.secs());
                let max_connections = ctx.limits.max_connections;
                tracing::warn!(event = "connection_rejected", listener = %name, max_connections, repeated, window_s);
            }
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        ctx.metrics
            .connections_total
            .with_label_values(&[&name])
            .inc();
        let conn = Arc::new(Conn::new(name.clone(), peer, tls.is_some(), ctx.cfg.path));
        let (shared, metrics, limits, tls, sd) = (
            ctx.shared.clone(),
            ctx.metrics.clone(),
            ctx.limits.clone(),
            tls.clone(),
            ctx.shutdown.clone(),
        );
        let tls_failed = tls.as_ref().map(|_| tls_failed.clone());
        ctx.tracker.spawn(async move {
            let _permit = permit;
            let active = metrics.connections_active.with_label_values(&[&conn.listener]);
            active.inc();
            let activity = Arc::new(Activity { epoch: Instant::now(), last_ms: AtomicU64::new(0) });
            match tls {
                None => serve_conn(Tracked { inner: stream, activity: activity.clone() }, conn, shared, &limits, sd, activity).await,
                Some(acc) => match tokio::time::timeout(limits.header_read_timeout, acc.accept(stream)).await {
                    Ok(Ok(s)) => serve_conn(Tracked { inner: s, activity: activity.clone() }, conn, shared, &limits, sd, activity).await,
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
    shared: Arc<Shared>,
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
        let (shared, conn) = (shared.clone(), conn.clone());
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
