//! Whole-file validation: the typed raw configuration (`raw.rs`) → a `Config`.
//!
//! Owns the order in which sections are checked and the rules that span sections (route and
//! default upstream names, `index.snapshot` versus `[feed]`, `[demo]` in a build without it);
//! each section's own rules are one function here or in the section's module.
//! Must not: stop at the first problem or read anything but the files a key names; every problem
//! is recorded in `Problems` and validation carries on with a placeholder value.
//! Invariant: sections are checked in file-section order, so problems that share a line keep
//! one order from run to run.

use super::raw::{
    RawAdmin, RawConfig, RawDefault, RawDemo, RawFeed, RawFilingHeader, RawIndex, RawLimits,
    RawListener, RawRoute, RawUpstream,
};
use super::{
    audit, client, feed, route, tls, token, upload, upstream, AdminConfig, Config, DefaultAction,
    FeedConfig, IndexConfig, Limits, ListenerConfig, LogTarget, PathMode, Problems, RouteConfig,
    UpstreamConfig, DEFAULT_CONSOLE_RECENT, MAX_CONSOLE_RECENT, MAX_WORKERS,
};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Validates every section of `raw` into a `Config`, recording problems in `p`.
pub(super) fn validate(raw: RawConfig, path: &Path, p: &mut Problems<'_>) -> Config {
    let listeners = listeners(p, &raw.listener);
    workers(p, raw.server.workers);
    let limits = limits(p, &raw.limits);
    let admin = admin(p, &raw.admin);
    let index = index(p, &raw.index);
    let audit_path = (raw.audit.path != "-").then(|| log_path(p, "audit.path", &raw.audit.path));
    let access_log = raw.access_log.as_ref().map(|a| match a.path.as_str() {
        "-" => LogTarget::Stdout,
        v => LogTarget::File(log_path(p, "access_log.path", v)),
    });
    let filing_header = filing_header(p, &raw.filing_header);
    let upstreams = upstreams(p, &raw.upstream);
    let names: Vec<&str> = raw.upstream.iter().map(|u| u.name.as_str()).collect();
    let introspection = token::endpoints(p, &raw.introspection);
    let endpoint_names: Vec<&str> = raw.introspection.iter().map(|e| e.name.as_str()).collect();
    let routes = routes(p, &raw.route, &names, &endpoint_names);
    let default = default_action(p, &raw.default, &names);
    let (demo_echo, demo_feed) = demo(p, raw.demo.as_ref());
    let feed = index_source(p, &index, raw.feed.as_ref(), demo_feed.is_some());
    Config {
        source: path.to_path_buf(),
        workers: raw.server.workers,
        listeners,
        limits,
        admin,
        index,
        audit_path,
        audit: audit::audit(p, &raw.audit),
        access_log,
        filing_header,
        filing_header_on_response: raw.filing_header.response,
        upstreams,
        routes,
        default,
        demo_echo,
        demo_feed,
        feed,
        upload: upload::global(p, &raw.upload),
        introspection,
    }
}

/// `[[listener]]`: at least one, unique names, address, TLS, path mode, trusted proxies.
fn listeners(p: &mut Problems<'_>, raw: &[RawListener]) -> Vec<ListenerConfig> {
    if raw.is_empty() {
        p.add("listener", "at least one [[listener]] is required");
    }
    let mut listeners = Vec::new();
    for (i, l) in raw.iter().enumerate() {
        let key = format!("listener[{i}]");
        unique_name(
            p,
            &key,
            "listener",
            raw[..i].iter().any(|o| o.name == l.name),
            &l.name,
        );
        let addr = p.addr(&format!("{key}.address"), &l.address);
        let tls = l
            .tls
            .as_ref()
            .and_then(|t| tls::server_config(p, &format!("{key}.tls"), t));
        let path = path_mode(p, &format!("{key}.path"), &l.path);
        listeners.push(ListenerConfig {
            name: l.name.clone(),
            addr,
            tls,
            path,
            trusted_proxies: client::trusted_proxies(p, &key, &l.trusted_proxies),
            proxy_protocol: l.proxy_protocol,
        });
    }
    listeners
}

/// A problem at `KEY.name` when an earlier table of the section has the same name.
fn unique_name(p: &mut Problems<'_>, key: &str, section: &str, taken: bool, name: &str) {
    if taken {
        p.add(
            &format!("{key}.name"),
            format!("duplicate {section} name {name:?}"),
        );
    }
}

/// `[[listener]] path`: `refuse` or `normalize`.
fn path_mode(p: &mut Problems<'_>, key: &str, v: &str) -> PathMode {
    match v {
        "refuse" => PathMode::Refuse,
        "normalize" => PathMode::Normalize,
        other => {
            p.add(key, format!("{other:?} is not \"refuse\" or \"normalize\""));
            PathMode::Refuse
        }
    }
}

/// `[server] workers`: at most `MAX_WORKERS`.
fn workers(p: &mut Problems<'_>, workers: usize) {
    if workers > MAX_WORKERS {
        p.add(
            "server.workers",
            format!("{workers} worker threads is more than {MAX_WORKERS}; 0 means one per core"),
        );
    }
}

/// `[limits]`: durations, and sizes that must be positive (headers: at least hyper's buffer).
fn limits(p: &mut Problems<'_>, r: &RawLimits) -> Limits {
    let limits = Limits {
        max_connections: r.max_connections,
        header_read_timeout: p.duration("limits.header_read_timeout", &r.header_read_timeout),
        idle_timeout: p.duration("limits.idle_timeout", &r.idle_timeout),
        max_header_bytes: r.max_header_bytes,
        max_body_bytes: r.max_body_bytes,
        body_read_timeout: p.duration("limits.body_read_timeout", &r.body_read_timeout),
        drain_delay: p.duration("limits.drain_delay", &r.drain_delay),
        drain_timeout: p.duration("limits.drain_timeout", &r.drain_timeout),
    };
    for (k, v) in [
        ("max_connections", r.max_connections),
        ("max_header_bytes", r.max_header_bytes),
        ("max_body_bytes", r.max_body_bytes),
    ] {
        if v == 0 {
            p.add(&format!("limits.{k}"), "must be greater than 0");
        }
    }
    if limits.body_read_timeout.is_zero() && humantime::parse_duration(&r.body_read_timeout).is_ok()
    {
        p.add("limits.body_read_timeout", "must be greater than 0");
    }
    if limits.max_header_bytes < 8192 && limits.max_header_bytes != 0 {
        p.add(
            "limits.max_header_bytes",
            "must be at least 8192 (hyper's minimum read buffer)",
        );
    }
    limits
}

/// `[admin]`: address, token, console ring size.
fn admin(p: &mut Problems<'_>, a: &RawAdmin) -> AdminConfig {
    AdminConfig {
        addr: p.addr("admin.address", &a.address),
        token: admin_token(p, a),
        console_recent: console_recent(p, a.console_recent),
    }
}

/// `[index]`: the local snapshot (which must exist), bloom, staleness.
fn index(p: &mut Problems<'_>, r: &RawIndex) -> IndexConfig {
    IndexConfig {
        snapshot: r
            .snapshot
            .as_ref()
            .map(|s| p.file_path("index.snapshot", s, true)),
        bloom: r.bloom,
        stale_after: p.duration("index.stale_after", &r.stale_after),
    }
}

/// `[filing_header] request`: a valid header name.
fn filing_header(p: &mut Problems<'_>, r: &RawFilingHeader) -> http::HeaderName {
    http::HeaderName::from_bytes(r.request.as_bytes()).unwrap_or_else(|_| {
        p.add(
            "filing_header.request",
            format!("{:?} is not a valid header name", r.request),
        );
        http::HeaderName::from_static("icp-filing-number")
    })
}

/// `[[upstream]]`: unique names, each upstream on its own (`upstream.rs`).
fn upstreams(p: &mut Problems<'_>, raw: &[RawUpstream]) -> Vec<UpstreamConfig> {
    raw.iter()
        .enumerate()
        .filter_map(|(i, u)| {
            let key = format!("upstream[{i}]");
            unique_name(
                p,
                &key,
                "upstream",
                raw[..i].iter().any(|o| o.name == u.name),
                &u.name,
            );
            upstream::upstream(p, &key, u)
        })
        .collect()
}

/// The position of the upstream `name` among `names`; a problem at `key` (and 0) when none is.
fn upstream_index(p: &mut Problems<'_>, names: &[&str], key: &str, name: &str) -> usize {
    names.iter().position(|n| *n == name).unwrap_or_else(|| {
        p.add(
            key,
            format!("no [[upstream]] is named {name:?} (defined: {names:?})"),
        );
        0
    })
}

/// `[[route]]`: unique names, a defined upstream, each route on its own (`route.rs`).
fn routes(
    p: &mut Problems<'_>,
    raw: &[RawRoute],
    upstreams: &[&str],
    endpoints: &[&str],
) -> Vec<RouteConfig> {
    let mut routes = Vec::new();
    for (i, r) in raw.iter().enumerate() {
        let key = format!("route[{i}]");
        unique_name(
            p,
            &key,
            "route",
            raw[..i].iter().any(|o| o.name == r.name),
            &r.name,
        );
        let up = upstream_index(p, upstreams, &format!("{key}.upstream"), &r.upstream);
        if let Some(rc) = route::route(p, &key, r, up, endpoints) {
            routes.push(rc);
        }
    }
    routes
}

/// `[default]`: `not_found`, or `forward` to a defined upstream.
fn default_action(p: &mut Problems<'_>, r: &RawDefault, upstreams: &[&str]) -> DefaultAction {
    match r.action.as_str() {
        "not_found" => DefaultAction::NotFound,
        "forward" => match &r.upstream {
            Some(u) => DefaultAction::Forward(upstream_index(p, upstreams, "default.upstream", u)),
            None => {
                p.add("default.upstream", "action \"forward\" needs an upstream");
                DefaultAction::NotFound
            }
        },
        other => {
            p.add(
                "default.action",
                format!("{other:?} is not \"not_found\" or \"forward\""),
            );
            DefaultAction::NotFound
        }
    }
}

/// The echo upstream and the demo feed from `[demo]`, refused in a build without the demo.
fn demo(
    p: &mut Problems<'_>,
    demo: Option<&RawDemo>,
) -> (Option<SocketAddr>, Option<(PathBuf, SocketAddr)>) {
    #[cfg(not(feature = "demo"))]
    if demo.is_some() {
        p.add(
            "demo",
            "this build leaves the demo out (built without the `demo` feature): remove [demo]",
        );
    }
    let echo = demo
        .and_then(|d| d.echo_upstream.as_ref())
        .map(|a| p.addr("demo.echo_upstream", a));
    let feed = demo.and_then(|d| match (&d.feed_export, &d.feed_address) {
        (Some(e), Some(a)) => Some((
            p.file_path("demo.feed_export", e, true),
            p.addr("demo.feed_address", a),
        )),
        (None, None) => None,
        _ => {
            p.add("demo", "set both feed_export and feed_address, or neither");
            None
        }
    });
    (echo, feed)
}

/// `[feed]` (`feed.rs`), and exactly one index source: `index.snapshot` or `[feed]`.
fn index_source(
    p: &mut Problems<'_>,
    index: &IndexConfig,
    raw: Option<&RawFeed>,
    demo_feed: bool,
) -> Option<FeedConfig> {
    let feed = raw.and_then(|f| feed::feed(p, f, demo_feed));
    match (&index.snapshot, raw) {
        (Some(_), Some(_)) => p.add("feed", "set index.snapshot or [feed], not both"),
        (None, None) => p.add(
            "index.snapshot",
            "set index.snapshot (a local file) or a [feed] section",
        ),
        _ => {}
    }
    feed
}

/// `audit.path`, `access_log.path`: the file may not exist yet (the gateway creates it), but
/// its folder must, and the path must not name a folder; `serve` opens it before binding any
/// port.
fn log_path(p: &mut Problems<'_>, key: &str, v: &str) -> PathBuf {
    let path = p.file_path(key, v, false);
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if path.is_dir() {
        p.add(key, format!("{} is a folder, not a file", path.display()));
    } else if !dir.is_dir() {
        p.add(key, format!("folder {} does not exist", dir.display()));
    }
    path
}

fn console_recent(p: &mut Problems<'_>, n: u64) -> usize {
    if n > MAX_CONSOLE_RECENT as u64 {
        p.add(
            "admin.console_recent",
            format!("{n} is more than {MAX_CONSOLE_RECENT} decisions (0 turns the ring off)"),
        );
        return DEFAULT_CONSOLE_RECENT;
    }
    n as usize
}

fn admin_token(p: &mut Problems<'_>, a: &RawAdmin) -> Option<String> {
    match (&a.token, &a.token_file) {
        (Some(_), Some(_)) => {
            p.add("admin.token_file", "set token or token_file, not both");
            None
        }
        (Some(t), None) if t.is_empty() => {
            p.add("admin.token", "must not be empty");
            None
        }
        (Some(t), None) => Some(t.clone()),
        (None, Some(f)) => {
            let path = p.file_path("admin.token_file", f, true);
            match std::fs::read_to_string(&path) {
                Ok(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
                Ok(_) => {
                    p.add("admin.token_file", format!("{} is empty", path.display()));
                    None
                }
                Err(_) => None,
            }
        }
        (None, None) => None,
    }
}
