//! A plain-HTTP/1.1 upstream's connection pool, one per worker: hyper's `client::conn`
//! connections, each driven by a task on the worker that opened it, reused last-in first-out.
//!
//! Owns opening, reusing and retiring upstream connections of one `http://` upstream on one
//! worker. A request goes out on an idle connection that is ready for one, else on a new one;
//! a request the pooled connection did not start to send (it closed under us) is sent again on
//! a fresh connection, never one that may have reached the upstream.
//! Must not: share a connection between workers (the pool belongs to one worker's request
//! state), hold more than `MAX_IDLE` idle connections, or keep one idle past `IDLE_TIMEOUT`.
//! Invariant: a request is written to at most one connection.

use super::body::ProxyBody;
use http::{Request, Response};
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

/// Idle connections kept per worker and upstream.
const MAX_IDLE: usize = 256;
/// An idle connection older than this is closed rather than reused.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Why an exchange on the pool failed.
pub enum PoolError {
    /// No connection could be opened (resolution, refusal, `connect_timeout`); the request,
    /// which no server saw, comes back.
    Connect(std::io::Error, Box<Request<ProxyBody>>),
    /// The exchange failed on an open connection.
    Exchange(hyper::Error),
}

struct Idle {
    tx: SendRequest<ProxyBody>,
    since: Instant,
}

pub struct Pool {
    /// `host:port` to connect to (a server of the upstream).
    target: String,
    connect_timeout: Duration,
    /// The idle (and recently used) connections; the most recent last. Locked only by its own
    /// worker, so never contended.
    idle: Mutex<Vec<Idle>>,
}

impl Pool {
    /// The pool of connections to `authority` (a server of the upstream).
    pub fn new(authority: &http::uri::Authority, connect_timeout: Duration) -> Pool {
        let target = match authority.port_u16() {
            Some(_) => authority.as_str().to_string(),
            None => format!("{}:80", authority.host()),
        };
        Pool {
            target,
            connect_timeout,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Sends `req` (origin-form URI, `Host` set) and waits for the response head.
    pub async fn send(&self, mut req: Request<ProxyBody>) -> Result<Response<Incoming>, PoolError> {
        while let Some(mut tx) = self.checkout() {
            match tx.try_send_request(req).await {
                Ok(resp) => {
                    self.checkin(tx);
                    return Ok(resp);
                }
                Err(mut e) => match e.take_message() {
                    // Not written: the connection closed (or turned busy) first.
                    Some(back) => req = back,
                    None => return Err(PoolError::Exchange(e.into_error())),
                },
            }
        }
        let mut tx = match self.connect().await {
            Ok(tx) => tx,
            Err(e) => return Err(PoolError::Connect(e, Box::new(req))),
        };
        let resp = tx.send_request(req).await.map_err(PoolError::Exchange)?;
        self.checkin(tx);
        Ok(resp)
    }

    /// The most recently used connection that can take a request now; closed and expired
    /// connections met on the way are dropped.
    fn checkout(&self) -> Option<SendRequest<ProxyBody>> {
        let mut idle = self.idle.lock().ok()?;
        let now = Instant::now();
        let mut i = idle.len();
        while i > 0 {
            i -= 1;
            let c = &idle[i];
            if c.tx.is_closed() || now.duration_since(c.since) > IDLE_TIMEOUT {
                idle.swap_remove(i);
            } else if c.tx.is_ready() {
                return Some(idle.swap_remove(i).tx);
            }
        }
        None
    }

    /// Keeps a connection for the next request. One still carrying its response body is kept
    /// too: `checkout` takes it once it is ready again.
    fn checkin(&self, tx: SendRequest<ProxyBody>) {
        if tx.is_closed() {
            return;
        }
        if let Ok(mut idle) = self.idle.lock() {
            if idle.len() >= MAX_IDLE {
                // The oldest goes: the least likely to be warm.
                idle.remove(0);
            }
            idle.push(Idle {
                tx,
                since: Instant::now(),
            });
        }
    }

    async fn connect(&self) -> std::io::Result<SendRequest<ProxyBody>> {
        let stream = tokio::time::timeout(self.connect_timeout, self.dial())
            .await
            .map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out")
            })??;
        let _ = stream.set_nodelay(true);
        // The handshake only sets up the connection's state: it reads and writes nothing.
        let (tx, conn) = http1::Builder::new()
            .handshake(TokioIo::new(stream))
            .await
            .map_err(std::io::Error::other)?;
        // Driven on this worker; it ends when the upstream closes or the last handle is gone.
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(event = "upstream_connection_ended", error = %e);
            }
        });
        Ok(tx)
    }

    /// Connects to the first address of `target` that accepts.
    async fn dial(&self) -> std::io::Result<TcpStream> {
        let mut last = None;
        for addr in tokio::net::lookup_host(self.target.as_str()).await? {
            match TcpStream::connect(addr).await {
                Ok(s) => return Ok(s),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::NotFound, "no address for the upstream")
        }))
    }
}
