//! The gateway's lifecycle: `start(config)` binds and serves, `Running` is the handle that
//! reports bound addresses and shuts down with a drain. This is the seam tests and `main` use.
//!
//! Owns the start order (admin first so probes answer while the index loads, then the index,
//! the audit trail, upstream clients, and last the public listeners) and the stop order (stop
//! accepting, drain in-flight requests up to `drain_timeout`, flush the audit trail).
//! Must not: parse configuration (it receives a validated `Config`), or exit the process.
//! Invariant: no public listener accepts a request before an index revision is published.

use crate::accept::Acceptor;
use crate::accesslog::{AccessLog, AccessLogWriter, LogFiles};
use crate::admin::Admin;
use crate::audit::Audit;
use crate::config::Config;
use crate::feed::sync::Syncer;
use crate::index::{Index, LoadError, Revision};
use crate::metrics::Metrics;
use crate::proxy::forward::Upstream;
use crate::proxy::Shared;
use crate::server::{accept_loop, ListenerCtx};
use crate::source::{SnapshotSource, Source};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::task::TaskTracker;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot bind {what} on {addr}: {source}")]
    Bind {
        what: String,
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Snapshot(#[from] LoadError),
    #[error("demo feed: {0}")]
    DemoFeed(String),
    #[error("cannot open audit trail {path}: {source}")]
    Audit {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot open access log {path}: {source}")]
    AccessLog {
        path: String,
        source: std::io::Error,
    },
}

/// A started gateway.
pub struct Running {
    /// (listener name, bound address), in configuration order.
    pub listeners: Vec<(String, SocketAddr)>,
    pub admin: SocketAddr,
    pub demo_echo: Option<SocketAddr>,
    /// Demo only: (feed URL, feed directory, signing key file).
    pub demo_feed: Option<(String, std::path::PathBuf, std::path::PathBuf)>,
    pub index: Arc<Index>,
    pub source: Arc<Source>,
    pub metrics: Arc<Metrics>,
    /// The files SIGUSR1 reopens.
    pub logs: LogFiles,
    shutdown: watch::Sender<bool>,
    done: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Stops accepting and starts draining; `wait` returns when the drain is over.
    pub fn shutdown(&self) {
        let _ = self.shutdown.send(true);
    }

    /// Waits until the gateway has stopped (after `shutdown`).
    pub async fn wait(self) {
        let _ = self.done.await;
    }

    /// The bound address of the named listener.
    pub fn addr(&self, name: &str) -> Option<SocketAddr> {
        self.listeners
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, a)| *a)
    }
}

async fn bind(what: &str, addr: SocketAddr) -> Result<TcpListener, StartError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Bind {
            what: what.to_string(),
            addr,
            source,
        })
}

fn serve_admin(listener: TcpListener, admin: Arc<Admin>, mut shutdown: watch::Receiver<bool>) {
    tokio::spawn(async move {
        let mut acceptor = Acceptor::new(listener, "admin");
        loop {
            let (stream, _) = tokio::select! {
                c = acceptor.accept() => c,
                _ = shutdown.changed() => return,
            };
            let admin = admin.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req| {
                    let admin = admin.clone();
                    async move { Ok::<_, std::convert::Infallible>(admin.handle(req).await) }
                });
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
}

/// Starts the gateway described by `cfg`.
pub async fn start(cfg: Config) -> Result<Running, StartError> {
    let metrics = Arc::new(Metrics::new());
    // The audit trail opens first: a destination that cannot be written stops the start
    // before any port is bound or any index is read.
    let (audit, audit_writer) =
        Audit::start(cfg.audit_path.clone(), metrics.clone()).map_err(|source| {
            StartError::Audit {
                path: cfg
                    .audit_path
                    .as_ref()
                    .map_or("-".into(), |p| p.display().to_string()),
                source,
            }
        })?;
    let access_writer = access_log(&cfg, &metrics)?;
    let logs = LogFiles::new(audit.clone(), access_writer.as_ref());
    let index = Arc::new(Index::new(Revision::empty()));
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let (source, demo_feed) = index_source(&cfg, &index, &metrics, &shutdown_rx).await?;
    let source = Arc::new(source);

    let admin_listener = bind("admin listener", cfg.admin.addr).await?;
    let admin_addr = admin_listener.local_addr().unwrap_or(cfg.admin.addr);
    let admin = Arc::new(Admin {
        index: index.clone(),
        metrics: metrics.clone(),
        source: source.clone(),
        stale_after: cfg.index.stale_after,
        token: cfg.admin.token.clone(),
        started: std::time::SystemTime::now(),
    });
    serve_admin(admin_listener, admin, shutdown_rx.clone());

    match &*source {
        // A local snapshot is loaded before the public listeners bind: a failure stops the start.
        Source::Snapshot(s) => {
            s.reload().await?;
        }
        // A feed may be down at start: serve the cached state (stale) or nothing (not ready,
        // routes follow on_stale) while the sync loop keeps trying.
        Source::Feed(syncer) => {
            syncer.restore_cache().await;
            tokio::spawn(syncer.clone().run(shutdown_rx.clone()));
        }
    }
    let shared = Arc::new(Shared {
        routes: cfg.routes.clone(),
        default: cfg.default.clone(),
        upstreams: cfg.upstreams.iter().cloned().map(Upstream::new).collect(),
        index: index.clone(),
        metrics: metrics.clone(),
        audit,
        filing_header: cfg.filing_header.clone(),
        filing_on_response: cfg.filing_header_on_response,
        max_body_bytes: cfg.limits.max_body_bytes,
        body_read_timeout: cfg.limits.body_read_timeout,
        stale_after: cfg.index.stale_after,
        upload: cfg.upload.clone(),
        observer: crate::proxy::observe::Observer::new(
            metrics.clone(),
            cfg.routes.iter().map(|r| r.name.as_str()),
            cfg.upstreams.iter().map(|u| u.name.as_str()),
        ),
        access: AccessLog::new(
            access_writer.as_ref(),
            cfg.routes.iter().map(|r| r.name.as_str()),
            cfg.upstreams.iter().map(|u| u.name.as_str()),
            &metrics,
        ),
    });

    let demo_echo = match cfg.demo_echo {
        Some(addr) => {
            let l = bind("demo echo upstream", addr).await?;
            let a = l.local_addr().unwrap_or(addr);
            tokio::spawn(crate::echo::serve(l, shutdown_rx.clone()));
            Some(a)
        }
        None => None,
    };

    let tracker = TaskTracker::new();
    let mut bound = Vec::new();
    let mut loops = Vec::new();
    for l in &cfg.listeners {
        let listener = bind(&format!("listener {:?}", l.name), l.addr).await?;
        bound.push((l.name.clone(), listener.local_addr().unwrap_or(l.addr)));
        loops.push((listener, l.clone()));
    }
    let mut accept_tasks = Vec::new();
    for (listener, lc) in loops {
        let ctx = ListenerCtx {
            cfg: lc,
            limits: cfg.limits.clone(),
            shared: shared.clone(),
            metrics: metrics.clone(),
            tracker: tracker.clone(),
            shutdown: shutdown_rx.clone(),
        };
        accept_tasks.push(tokio::spawn(accept_loop(listener, ctx)));
    }
    drop(shared);

    let drain = cfg.limits.drain_timeout;
    let mut sd = shutdown_rx.clone();
    let done = tokio::spawn(async move {
        let _ = sd.wait_for(|stop| *stop).await;
        tracing::info!(
            event = "shutdown_started",
            drain_timeout_ms = drain.as_millis() as u64
        );
        for t in accept_tasks {
            let _ = t.await;
        }
        tracker.close();
        if tokio::time::timeout(drain, tracker.wait()).await.is_err() {
            tracing::warn!(event = "drain_timeout", connections_left = tracker.len());
        }
        audit_writer.close().await;
        if let Some(w) = access_writer {
            w.close().await;
        }
        crate::fold::flush_pending();
        tracing::info!(event = "shutdown_complete");
    });
    Ok(Running {
        listeners: bound,
        admin: admin_addr,
        demo_echo,
        demo_feed,
        index,
        source,
        metrics,
        logs,
        shutdown: shutdown_tx,
        done,
    })
}

/// Opens the access log (`[access_log]`), like the audit trail before any port is bound.
fn access_log(cfg: &Config, metrics: &Arc<Metrics>) -> Result<Option<AccessLogWriter>, StartError> {
    let Some(target) = &cfg.access_log else {
        return Ok(None);
    };
    AccessLogWriter::start(target, metrics.clone())
        .map(Some)
        .map_err(|source| StartError::AccessLog {
            path: match target {
                crate::config::LogTarget::Stdout => "-".into(),
                crate::config::LogTarget::File(p) => p.display().to_string(),
            },
            source,
        })
}

type DemoFeed = Option<(String, std::path::PathBuf, std::path::PathBuf)>;

/// The index source the config names; in demo mode also builds and serves the demo feed.
async fn index_source(
    cfg: &Config,
    index: &Arc<Index>,
    metrics: &Arc<Metrics>,
    shutdown: &watch::Receiver<bool>,
) -> Result<(Source, DemoFeed), StartError> {
    if let Some(path) = &cfg.index.snapshot {
        let s = SnapshotSource::new(
            path.clone(),
            cfg.index.bloom,
            index.clone(),
            metrics.clone(),
        );
        return Ok((Source::Snapshot(s), None));
    }
    let Some(feed) = cfg.feed.clone() else {
        return Err(StartError::DemoFeed("no index source configured".into()));
    };
    let mut extra_keys = Vec::new();
    let mut demo = None;
    if let Some((export, addr)) = &cfg.demo_feed {
        let dir = feed.cache_dir.join("demo-feed");
        let key_file = feed.cache_dir.join("demo-feed.key");
        let (export, d, k) = (export.clone(), dir.clone(), key_file.clone());
        let public =
            tokio::task::spawn_blocking(move || crate::feed::publish::demo_feed(&export, &d, &k))
                .await
                .map_err(|e| StartError::DemoFeed(e.to_string()))?
                .map_err(|e| StartError::DemoFeed(e.to_string()))?;
        extra_keys.push(public);
        let listener = bind("demo feed server", *addr).await?;
        let bound = listener.local_addr().unwrap_or(*addr);
        tokio::spawn(crate::feed::serve::serve(
            listener,
            dir.clone(),
            shutdown.clone(),
        ));
        demo = Some((format!("http://{bound}/"), dir, key_file));
    }
    let syncer = Syncer::new(
        feed,
        extra_keys,
        cfg.index.bloom,
        index.clone(),
        metrics.clone(),
    );
    Ok((Source::Feed(Arc::new(syncer)), demo))
}
