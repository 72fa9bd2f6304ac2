//! The data plane: the worker threads, each worker's request state, and the listeners with
//! their per-worker sockets; built from a `Config` at start and reconciled with a new one on
//! reload.
//!
//! Owns which sockets exist and what request state each worker serves with. A listener is one
//! configured address with one `SO_REUSEPORT` socket per worker, so the kernel spreads new
//! connections over the workers and no accept is shared between threads.
//! Must not: read configuration files (it receives validated `Config`s) or touch the index.
//! Invariant: `apply` changes nothing unless every new socket it needs is bound; a listener
//! whose address is in both configurations keeps its sockets (never closed, never rebound).

use crate::accesslog::{AccessLog, AccessQueue};
use crate::audit::Audit;
use crate::config::{Config, ListenerConfig};
use crate::console::recent::Recent;
use crate::index::Index;
use crate::metrics::Metrics;
use crate::proxy::forward::Upstream;
use crate::proxy::observe::Observer;
use crate::proxy::peers::Peers;
use crate::proxy::Shared;
use crate::server::{accept_loop, ListenerState};
use crate::tokens::Tokens;
use crate::workers::Workers;
use arc_swap::ArcSwap;
use socket2::{Domain, Protocol, Socket, Type};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio_util::task::TaskTracker;

/// A listener that could not be bound.
#[derive(Debug, thiserror::Error)]
#[error("cannot bind listener {name:?} on {addr}: {source}")]
pub struct BindError {
    pub name: String,
    pub addr: SocketAddr,
    pub source: io::Error,
}

/// What every worker's request state is built from besides the configuration.
#[derive(Clone)]
pub struct Base {
    pub index: Arc<Index>,
    pub metrics: Arc<Metrics>,
    pub audit: Audit,
    pub access: AccessQueue,
    /// The console's ring of recent block and monitor decisions.
    pub recent: Recent,
}

struct Bound {
    /// The address it is configured with: its identity across reloads.
    configured: SocketAddr,
    /// The bound address (the configured one, with the port filled in when it was 0).
    local: SocketAddr,
    state: Arc<ListenerState>,
}

impl Bound {
    /// Whether `lc` names this listener: the address it is configured with or bound to (a
    /// `:0` listener pinned to the port it got keeps its sockets). A `:0` address names no
    /// particular port, so it names the listener only together with its name.
    fn is(&self, lc: &ListenerConfig) -> bool {
        if lc.addr.port() == 0 {
            self.configured == lc.addr && *self.state.name() == *lc.name
        } else {
            self.configured == lc.addr || self.local == lc.addr
        }
    }
}

/// What a reload changed in the listener set.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct ListenerChanges {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub kept: Vec<String>,
}

pub struct DataPlane {
    workers: Workers,
    slots: Vec<Arc<ArcSwap<Shared>>>,
    listeners: Vec<Bound>,
    tracker: TaskTracker,
    base: Base,
    /// The introspection endpoints every worker shares (one cache and call limit each).
    tokens: Arc<Tokens>,
}

/// Each upstream's servers, shared by every worker's client of it; their series at 0. A
/// configuration starts every server in rotation (as an nginx reload does).
fn peers_for(cfg: &Config, metrics: &Arc<Metrics>) -> Vec<Arc<Peers>> {
    metrics.servers.declare(cfg.upstreams.iter().map(|u| {
        let servers = u.servers.iter().map(|s| s.as_str()).collect();
        (u.name.as_str(), servers)
    }));
    cfg.upstreams
        .iter()
        .map(|u| Arc::new(Peers::new(u, metrics.clone())))
        .collect()
}

/// The request state one worker serves `cfg` with; each worker gets its own upstream clients,
/// so its upstream connections are pooled and driven on its own thread.
fn shared_for(cfg: &Config, base: &Base, tokens: &Arc<Tokens>, peers: &[Arc<Peers>]) -> Shared {
    // Every listener's connection series exists, at 0, before its first connection.
    base.metrics
        .declare_listeners(cfg.listeners.iter().map(|l| l.name.as_str()));
    base.metrics.tokens.declare(
        cfg.routes
            .iter()
            .filter(|r| r.tokens)
            .map(|r| r.name.as_str()),
        cfg.introspection.iter().map(|e| e.name.as_str()),
    );
    let shared = Shared {
        limits: cfg.limits.clone(),
        routes: cfg.routes.clone(),
        default: cfg.default.clone(),
        upstreams: cfg
            .upstreams
            .iter()
            .zip(peers)
            .map(|(u, p)| Upstream::new(u.clone(), p.clone()))
            .collect(),
        index: base.index.clone(),
        metrics: base.metrics.clone(),
        audit: base.audit.clone(),
        filing_header: cfg.filing_header.clone(),
        filing_on_response: cfg.filing_header_on_response,
        max_body_bytes: cfg.limits.max_body_bytes,
        body_read_timeout: cfg.limits.body_read_timeout,
        stale_after: cfg.index.stale_after,
        upload: cfg.upload.clone(),
        observer: Observer::new(
            base.metrics.clone(),
            cfg.routes.iter().map(|r| r.name.as_str()),
            cfg.upstreams.iter().map(|u| u.name.as_str()),
        ),
        access: AccessLog::new(
            &base.access,
            cfg.routes.iter().map(|r| r.name.as_str()),
            cfg.upstreams.iter().map(|u| {
                let servers = u.servers.iter().map(|s| s.to_string()).collect();
                (u.name.as_str(), servers)
            }),
            &base.metrics,
        ),
        tokens: tokens.clone(),
        recent: base.recent.clone(),
    };
    // Every series a dashboard or alert reads exists, at 0, before the first request.
    shared.observer.seed(&shared.routes);
    shared
}

fn socket(addr: SocketAddr, reuse_port: bool) -> io::Result<Socket> {
    let s = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    s.set_reuse_address(true)?;
    s.set_reuse_port(reuse_port)?;
    s.set_nonblocking(true)?;
    Ok(s)
}

/// One listening socket per worker on `addr`, all with `SO_REUSEPORT`. A port another process
/// holds is refused first (with `SO_REUSEPORT` alone, a second gateway of the same user would
/// silently share the port instead of failing to start).
fn bind_group(addr: SocketAddr, n: usize) -> io::Result<(SocketAddr, Vec<std::net::TcpListener>)> {
    if addr.port() != 0 {
        socket(addr, false)?.bind(&addr.into())?;
    }
    let mut out = Vec::with_capacity(n);
    let mut local = addr;
    for _ in 0..n {
        let s = socket(local, true)?;
        s.bind(&local.into())?;
        s.listen(4096)?;
        let l: std::net::TcpListener = s.into();
        local = l.local_addr()?;
        out.push(l);
    }
    Ok((local, out))
}

impl DataPlane {
    /// Starts the workers and binds every configured listener; accepting starts at once.
    pub fn start(cfg: &Config, base: Base, tracker: TaskTracker) -> Result<DataPlane, StartFail> {
        let n = match cfg.workers {
            0 => crate::workers::default_count(),
            n => n,
        };
        let workers = Workers::start(n).map_err(StartFail::Workers)?;
        let tokens = Arc::new(Tokens::new(&cfg.introspection, None, &base.metrics));
        let peers = peers_for(cfg, &base.metrics);
        let slots = (0..workers.len())
            .map(|_| {
                let shared = shared_for(cfg, &base, &tokens, &peers);
                Arc::new(ArcSwap::from_pointee(shared))
            })
            .collect();
        let mut plane = DataPlane {
            workers,
            slots,
            listeners: Vec::new(),
            tracker,
            base,
            tokens,
        };
        let all: Vec<&ListenerConfig> = cfg.listeners.iter().collect();
        let groups = plane.bind_all(&all).map_err(StartFail::Bind)?;
        for (lc, (local, socks)) in cfg.listeners.iter().zip(groups) {
            plane.launch(lc, cfg.limits.max_connections, local, socks);
        }
        Ok(plane)
    }

    /// (name, bound address) of every listener, in configuration order.
    pub fn bound(&self) -> Vec<(String, SocketAddr)> {
        self.listeners
            .iter()
            .map(|b| (b.state.name().to_string(), b.local))
            .collect()
    }

    pub fn workers(&self) -> usize {
        self.workers.len()
    }

    fn bind_all(
        &self,
        wanted: &[&ListenerConfig],
    ) -> Result<Vec<(SocketAddr, Vec<std::net::TcpListener>)>, BindError> {
        wanted
            .iter()
            .map(|lc| {
                bind_group(lc.addr, self.workers.len()).map_err(|source| BindError {
                    name: lc.name.clone(),
                    addr: lc.addr,
                    source,
                })
            })
            .collect()
    }

    fn launch(
        &mut self,
        lc: &ListenerConfig,
        max_connections: usize,
        local: SocketAddr,
        socks: Vec<std::net::TcpListener>,
    ) {
        let state = Arc::new(ListenerState::new(lc, max_connections));
        for ((sock, handle), slot) in socks
            .into_iter()
            .zip(self.workers.handles())
            .zip(&self.slots)
        {
            let (state, slot, tracker) = (state.clone(), slot.clone(), self.tracker.clone());
            handle.spawn(async move {
                match tokio::net::TcpListener::from_std(sock) {
                    Ok(l) => accept_loop(l, state, slot, tracker).await,
                    Err(e) => tracing::error!(event = "listener_failed", error = %e),
                }
            });
        }
        self.listeners.push(Bound {
            configured: lc.addr,
            local,
            state,
        });
    }

    /// Reconciles with a new configuration, with the audit and access-log handles `streams`
    /// gives when a reload opened new ones: binds the listeners it adds (and fails, changing
    /// nothing, if one cannot be bound), then swaps every worker's request state, updates the
    /// listeners kept, and closes the ones it removes (their connections finish gracefully).
    pub fn apply(
        &mut self,
        cfg: &Config,
        streams: Option<(Audit, AccessQueue)>,
    ) -> Result<ListenerChanges, BindError> {
        let added: Vec<&ListenerConfig> = cfg
            .listeners
            .iter()
            .filter(|lc| !self.listeners.iter().any(|b| b.is(lc)))
            .collect();
        let groups = self.bind_all(&added)?;
        if let Some((audit, access)) = streams {
            self.base.audit = audit;
            self.base.access = access;
        }
        let mut changes = ListenerChanges::default();
        self.tokens = Arc::new(Tokens::new(
            &cfg.introspection,
            Some(&self.tokens),
            &self.base.metrics,
        ));
        let peers = peers_for(cfg, &self.base.metrics);
        for slot in &self.slots {
            slot.store(Arc::new(shared_for(cfg, &self.base, &self.tokens, &peers)));
        }
        let old = std::mem::take(&mut self.listeners);
        for mut b in old {
            match cfg.listeners.iter().find(|lc| b.is(lc)) {
                Some(lc) => {
                    b.configured = lc.addr;
                    b.state.update(lc, cfg.limits.max_connections);
                    changes.kept.push(lc.name.clone());
                    self.listeners.push(b);
                }
                None => {
                    changes.removed.push(b.state.name().to_string());
                    b.state.close();
                }
            }
        }
        for (lc, (local, socks)) in added.into_iter().zip(groups) {
            changes.added.push(lc.name.clone());
            self.launch(lc, cfg.limits.max_connections, local, socks);
        }
        // Configuration order for `bound`.
        self.listeners.sort_by_key(|b| {
            cfg.listeners
                .iter()
                .position(|lc| b.is(lc))
                .unwrap_or(usize::MAX)
        });
        Ok(changes)
    }

    /// Stops accepting on every listener and asks every connection to finish.
    pub fn close(&self) {
        for b in &self.listeners {
            b.state.close();
        }
    }

    /// Ends the worker threads (after the drain); blocks until they are gone.
    pub fn stop(self) {
        self.workers.stop();
    }
}

/// Why the data plane could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartFail {
    #[error("cannot start the worker threads: {0}")]
    Workers(io::Error),
    #[error(transparent)]
    Bind(BindError),
}
