//! The gateway's lifecycle: `start(config)` binds and serves, `Running` is the handle that
//! reports bound addresses and shuts down with a drain. This is the seam tests and `main` use.
//!
//! Owns the start order (admin first so probes answer while the index loads, then the index,
//! the audit trail, and last the data plane: worker threads, upstream clients, public
//! listeners), the control task that applies reloads one at a time (`reload.rs`) and carries
//! out the stop order (`control_task.rs`; lame duck: `/readyz` 503 while the listeners keep
//! accepting for `drain_delay`; then stop accepting, drain in-flight requests up to
//! `drain_timeout`, flush the audit trail).
//! Must not: parse configuration (it receives a validated `Config`), or exit the process.
//! Invariant: no public listener accepts a request before an index revision is published.

mod control_task;

use crate::accept::Acceptor;
use crate::accesslog::{AccessLogWriter, AccessQueue, LogFiles};
use crate::admin::Admin;
use crate::audit::{Audit, AuditWriter};
use crate::config::Config;
use crate::console::recent::Recent;
use crate::control::{Control, ReloadReport};
use crate::dataplane::{Base, DataPlane, StartFail};
use crate::feed::sync::Syncer;
use crate::index::{Index, LoadError, Revision};
use crate::metrics::Metrics;
use crate::source::{SnapshotSource, Source};
use crate::streams::Streams;
use control_task::ControlTask;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use std::net::SocketAddr;
use std::path::PathBuf;
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
    #[error("cannot start the worker threads: {0}")]
    Workers(std::io::Error),
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
    /// (listener name, bound address) at start, in configuration order.
    pub listeners: Vec<(String, SocketAddr)>,
    pub admin: SocketAddr,
    pub demo_echo: Option<SocketAddr>,
    /// Demo only: (feed URL, feed directory, signing key file).
    pub demo_feed: Option<(String, PathBuf, PathBuf)>,
    pub index: Arc<Index>,
    pub source: Arc<Source>,
    pub metrics: Arc<Metrics>,
    /// Worker threads serving the listeners.
    pub workers: usize,
    control: Control,
    done: Option<tokio::task::JoinHandle<()>>,
    finished: watch::Receiver<bool>,
    /// The files SIGUSR1 reopens.
    pub logs: LogFiles,
}

impl Running {
    /// Stops accepting and starts draining at once; `wait` returns when the drain is over.
    pub fn shutdown(&self) {
        self.control.shutdown(false);
    }

    /// Stops as on SIGTERM: `/readyz` answers 503 at once, the listeners keep accepting for
    /// `limits.drain_delay`, then the drain starts.
    pub fn terminate(&self) {
        self.control.shutdown(true);
    }

    /// Waits until the gateway has stopped (after `shutdown` or `terminate`).
    pub async fn wait(mut self) {
        if let Some(done) = self.done.take() {
            let _ = done.await;
        }
    }

    /// Resolves once the gateway has stopped (the drain is over), without consuming the handle.
    pub fn stopped(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut rx = self.finished.clone();
        async move {
            let _ = rx.wait_for(|f| *f).await;
        }
    }

    /// Reloads the configuration file the gateway was started with (`None`) or the given
    /// configuration; on failure the running configuration stays.
    pub async fn reload(&self, cfg: Option<Config>) -> ReloadReport {
        self.control.reload(cfg).await
    }

    /// The control handle (reloads, drain state) the admin API also uses.
    pub fn control(&self) -> &Control {
        &self.control
    }

    /// The bound address of the named listener, as bound at start.
    pub fn addr(&self, name: &str) -> Option<SocketAddr> {
        self.listeners
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, a)| *a)
    }
}

impl Drop for Running {
    /// A gateway whose handle is dropped stops (at once) rather than running on unowned.
    fn drop(&mut self) {
        if self.done.is_some() {
            self.control.shutdown(false);
        }
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

/// Starts the gateway described by `cfg`, in the start order: the log streams, the index
/// source, the admin listener, the first index load, the demo echo upstream, the data plane,
/// and the control task that owns it.
pub async fn start(cfg: Config) -> Result<Running, StartError> {
    let metrics = Arc::new(Metrics::new());
    let (audit, audit_writer, access_writer) = open_streams(&cfg, &metrics)?;
    let logs = LogFiles::new(audit.clone(), access_writer.as_ref());
    let index = Arc::new(Index::new(Revision::empty()));
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let (control, inbox) = Control::new();
    let (source, demo_feed) = index_source(&cfg, &index, &metrics, &shutdown_rx).await?;
    let source = Arc::new(source);
    let admin = AdminParts {
        index: index.clone(),
        metrics: metrics.clone(),
        source: source.clone(),
        control: control.clone(),
    };
    let (admin_addr, recent) = start_admin(&cfg, admin, shutdown_rx.clone()).await?;
    first_load(&source, &shutdown_rx).await?;
    let demo_echo = demo_echo(&cfg, &shutdown_rx).await?;
    let tracker = TaskTracker::new();
    let base = Base {
        index: index.clone(),
        metrics: metrics.clone(),
        audit,
        access: AccessQueue::of(access_writer.as_ref()),
        recent,
    };
    let plane = data_plane(&cfg, base, &tracker)?;
    let listeners = plane.bound();
    let workers = plane.workers();
    tracing::info!(event = "started", workers, listeners = listeners.len());
    let (done, finished) = control_task::spawn(ControlTask {
        metrics: metrics.clone(),
        plane,
        inbox,
        control: control.clone(),
        cfg,
        shutdown: shutdown_tx,
        tracker,
        streams: Streams::new(metrics.clone(), logs.clone(), audit_writer, access_writer),
    });
    Ok(Running {
        listeners,
        admin: admin_addr,
        demo_echo,
        demo_feed,
        index,
        source,
        metrics,
        workers,
        logs,
        control,
        done: Some(done),
        finished,
    })
}

/// Opens the audit trail, then the access log. The audit trail opens first: a destination
/// that cannot be written stops the start before any port is bound or any index is read.
fn open_streams(
    cfg: &Config,
    metrics: &Arc<Metrics>,
) -> Result<(Audit, AuditWriter, Option<AccessLogWriter>), StartError> {
    let (audit, audit_writer) =
        Audit::start(cfg, metrics.clone()).map_err(|source| StartError::Audit {
            path: cfg
                .audit_path
                .as_ref()
                .map_or("-".into(), |p| p.display().to_string()),
            source,
        })?;
    let access_writer = access_log(cfg, metrics)?;
    Ok((audit, audit_writer, access_writer))
}

/// What the admin API shares with the rest of the gateway.
struct AdminParts {
    index: Arc<Index>,
    metrics: Arc<Metrics>,
    source: Arc<Source>,
    control: Control,
}

/// Binds the admin listener and serves the admin API and console on it, so probes answer
/// while the index loads: the bound address, and the console's ring of recent decisions for
/// the data plane to fill.
async fn start_admin(
    cfg: &Config,
    parts: AdminParts,
    shutdown: watch::Receiver<bool>,
) -> Result<(SocketAddr, Recent), StartError> {
    let admin_listener = bind("admin listener", cfg.admin.addr).await?;
    let admin_addr = admin_listener.local_addr().unwrap_or(cfg.admin.addr);
    let console = crate::console::Console::new(cfg, parts.index.clone(), parts.metrics.clone());
    console.start_sampler(shutdown.clone());
    let recent = console.recent();
    let admin = Arc::new(Admin {
        index: parts.index,
        metrics: parts.metrics,
        source: parts.source,
        stale_after: cfg.index.stale_after,
        token: cfg.admin.token.clone(),
        started: std::time::SystemTime::now(),
        control: parts.control,
        console,
    });
    serve_admin(admin_listener, admin, shutdown);
    Ok((admin_addr, recent))
}

/// The first index load, before the public listeners bind.
async fn first_load(source: &Source, shutdown: &watch::Receiver<bool>) -> Result<(), StartError> {
    match source {
        // A local snapshot is loaded before the public listeners bind: a failure stops the start.
        Source::Snapshot(s) => {
            s.reload().await?;
        }
        // A feed may be down at start: serve the cached state (stale) or nothing (not ready,
        // routes follow on_stale) while the sync loop keeps trying.
        Source::Feed(syncer) => {
            syncer.restore_cache().await;
            tokio::spawn(syncer.clone().run(shutdown.clone()));
        }
    }
    Ok(())
}

/// Binds and serves the demo echo upstream when the config names one: its bound address.
async fn demo_echo(
    cfg: &Config,
    #[cfg_attr(not(feature = "demo"), allow(unused_variables))] shutdown: &watch::Receiver<bool>,
) -> Result<Option<SocketAddr>, StartError> {
    Ok(match cfg.demo_echo {
        #[cfg(feature = "demo")]
        Some(addr) => {
            let l = bind("demo echo upstream", addr).await?;
            let a = l.local_addr().unwrap_or(addr);
            tokio::spawn(crate::demo::echo::serve(l, shutdown.clone()));
            Some(a)
        }
        // Without the demo feature the config refuses `[demo]`, so this is always None.
        _ => None,
    })
}

/// Starts the worker threads and binds the public listeners.
fn data_plane(cfg: &Config, base: Base, tracker: &TaskTracker) -> Result<DataPlane, StartError> {
    DataPlane::start(cfg, base, tracker.clone()).map_err(|e| match e {
        StartFail::Workers(source) => StartError::Workers(source),
        StartFail::Bind(b) => StartError::Bind {
            what: format!("listener {:?}", b.name),
            addr: b.addr,
            source: b.source,
        },
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

type DemoFeed = Option<(String, PathBuf, PathBuf)>;

/// The index source the config names; in demo mode also builds and serves the demo feed.
async fn index_source(
    cfg: &Config,
    index: &Arc<Index>,
    metrics: &Arc<Metrics>,
    #[cfg_attr(not(feature = "demo"), allow(unused_variables))] shutdown: &watch::Receiver<bool>,
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
    let (extra_keys, demo) = match &cfg.demo_feed {
        #[cfg(feature = "demo")]
        Some((export, addr)) => {
            let (key, served) = demo_feed(&feed.cache_dir, export, *addr, shutdown).await?;
            (vec![key], Some(served))
        }
        // Without the demo feature the config refuses `[demo]`, so this is always None.
        _ => (Vec::new(), None),
    };
    let syncer = Syncer::new(
        feed,
        extra_keys,
        cfg.index.bloom,
        index.clone(),
        metrics.clone(),
    );
    Ok((Source::Feed(Arc::new(syncer)), demo))
}

/// Builds the demo feed from `export` under `cache_dir` and serves it on `addr`: the key the
/// gateway must trust, and (feed URL, directory, key file) for the start banner.
#[cfg(feature = "demo")]
async fn demo_feed(
    cache_dir: &std::path::Path,
    export: &std::path::Path,
    addr: SocketAddr,
    shutdown: &watch::Receiver<bool>,
) -> Result<(crate::feed::format::PublicKey, (String, PathBuf, PathBuf)), StartError> {
    let dir = cache_dir.join("demo-feed");
    let key_file = cache_dir.join("demo-feed.key");
    let (export, d, k) = (export.to_path_buf(), dir.clone(), key_file.clone());
    let public =
        tokio::task::spawn_blocking(move || crate::demo::feed::build_feed(&export, &d, &k))
            .await
            .map_err(|e| StartError::DemoFeed(e.to_string()))?
            .map_err(|e| StartError::DemoFeed(e.to_string()))?;
    let listener = bind("demo feed server", addr).await?;
    let bound = listener.local_addr().unwrap_or(addr);
    tokio::spawn(crate::feed::serve::serve(
        listener,
        dir.clone(),
        shutdown.clone(),
    ));
    Ok((public, (format!("http://{bound}/"), dir, key_file)))
}
