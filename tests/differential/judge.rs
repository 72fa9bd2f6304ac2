//! The criterion of the differential suite: compares what each upstream reader read with what
//! the gateway decided.
//!
//! A case passes when the gateway refused it (4xx/5xx, decision block or reject, and the
//! application readers received nothing), when nginx refused what the gateway forwarded, or
//! when, for every reader whose normalised path lands on an enforcing route, the gateway
//! applied that same route, allowed the request, and every identifier the reader takes for
//! that route names the filing the gateway attached. Readers whose path lands on an `off` or
//! `monitor` route, or on no route, act on no filing decision and are not judged.
//! Must not: pass a case because a reader failed; a reader error is a harness error.

use serde_json::Value;
use std::collections::BTreeMap;

pub enum Mode {
    Enforce,
    Monitor,
    Off,
}

/// The route table of the suite's gateway config, as an upstream application would route.
pub struct Mirror {
    pub name: &'static str,
    /// Empty: any method.
    pub methods: &'static [&'static str],
    /// Path segments; `{}` captures the identifier, `*` any one segment. A trailing `**`
    /// makes it a prefix.
    pub pattern: &'static str,
    /// The variable names the route's identifier is read from (readings named so count).
    pub names: &'static [&'static str],
    pub mode: Mode,
}

pub const ROUTES: &[Mirror] = &[
    Mirror {
        name: "android-update",
        methods: &["GET"],
        pattern: "/v1/android/apps/{}/update",
        names: &["package"],
        mode: Mode::Enforce,
    },
    Mirror {
        name: "app-check",
        methods: &["GET", "HEAD"],
        pattern: "/v1/*/apps/{}",
        names: &["id"],
        mode: Mode::Enforce,
    },
    Mirror {
        name: "header-check",
        methods: &["GET"],
        pattern: "/v1/apps/current",
        names: &["x-app-id"],
        mode: Mode::Enforce,
    },
    Mirror {
        name: "upload-metadata",
        methods: &["POST", "PUT"],
        pattern: "/v1/uploads",
        names: &["app.id", "x-app-id"],
        mode: Mode::Enforce,
    },
    Mirror {
        name: "package-metadata",
        methods: &["POST"],
        pattern: "/v1/metadata",
        names: &["package"],
        mode: Mode::Enforce,
    },
    Mirror {
        name: "package-upload",
        methods: &["POST", "PUT"],
        pattern: "/v1/packages",
        names: &["x-app-id", "package", "file"],
        mode: Mode::Enforce,
    },
    Mirror {
        name: "release-form",
        methods: &["POST"],
        pattern: "/v1/releases",
        names: &["package"],
        mode: Mode::Enforce,
    },
    Mirror {
        name: "miniprogram-api",
        methods: &[],
        pattern: "/mp/*/*",
        names: &["appid", "x-mp-appid"],
        mode: Mode::Enforce,
    },
    Mirror {
        name: "harmony-monitor",
        methods: &[],
        pattern: "/v1/harmony/**",
        names: &["bundle"],
        mode: Mode::Monitor,
    },
    Mirror {
        name: "static",
        methods: &[],
        pattern: "/static/**",
        names: &[],
        mode: Mode::Off,
    },
];

/// The first route `path` matches for `method`, with the path's identifier capture.
pub fn route_of(method: &str, path: &str) -> Option<(&'static Mirror, Option<String>)> {
    ROUTES.iter().find_map(|r| {
        if !r.methods.is_empty() && !r.methods.contains(&method) {
            return None;
        }
        let mut capture = None;
        let (pat, prefix) = match r.pattern.strip_suffix("**") {
            Some(p) => (p, true),
            None => (r.pattern, false),
        };
        if prefix {
            return path.starts_with(pat).then_some((r, None));
        }
        let (a, b): (Vec<_>, Vec<_>) = (pat.split('/').collect(), path.split('/').collect());
        if a.len() != b.len() {
            return None;
        }
        for (p, s) in a.iter().zip(&b) {
            match *p {
                "{}" if !s.is_empty() => capture = Some(s.to_string()),
                "*" if !s.is_empty() => {}
                lit if lit == *s => {}
                _ => return None,
            }
        }
        Some((r, capture))
    })
}

/// What the gateway did with one case.
pub struct Gateway {
    pub status: u16,
    /// (route, decision, reason) from `icpgate_requests_total`.
    pub decided: Option<[String; 3]>,
    /// Requests the application readers received for this case.
    pub relayed: u64,
    /// The tee's answer when the request was relayed.
    pub tee: Option<Value>,
}

pub enum Verdict {
    Refused(String),
    Consistent,
    Bypass(Vec<String>),
    HarnessError(String),
}

/// Identifier and filing tables of the suite's index, and the manifest digests of the
/// packages the suite builds.
pub struct Truth {
    /// Filing number → the identifiers it lists.
    pub filings: BTreeMap<String, Vec<String>>,
    /// `sha256:<manifest digest>` → the package it names, and `file-sha256:<digest>` of a
    /// whole package file → its package (for readers that do not open the ZIP).
    pub manifests: BTreeMap<String, String>,
}

impl Truth {
    /// The identifier a reading names; `None` for the digest of a file the suite cannot
    /// attribute (a ZIP construction, read by a reader that does not open it).
    fn id_of(&self, value: &str) -> Option<String> {
        match self.manifests.get(value) {
            Some(id) => Some(id.clone()),
            None if value.starts_with("file-sha256:") => None,
            None => Some(value.to_string()),
        }
    }
}

pub fn judge(method: &str, g: &Gateway, truth: &Truth, readers: &[&str]) -> Verdict {
    let [route, decision, reason] = match &g.decided {
        Some(d) => d.clone(),
        None => return Verdict::HarnessError("no metrics sample for the request".into()),
    };
    let Some(tee) = &g.tee else {
        if g.relayed != 0 {
            return Verdict::HarnessError("relayed, but no tee answer came back".into());
        }
        return Verdict::Refused(match decision.as_str() {
            "block" | "reject" => format!("gateway {} {decision} {reason} ({route})", g.status),
            _ => format!("upstream {} after gateway {decision} ({route})", g.status),
        });
    };
    if g.relayed != 1 {
        return Verdict::HarnessError(format!("relayed {} times", g.relayed));
    }
    let filing = tee["filing"].as_str().map(|f| {
        percent_encoding::percent_decode_str(f)
            .decode_utf8_lossy()
            .into_owned()
    });
    let allowed: Vec<String> = filing
        .iter()
        .flat_map(|f| f.split(','))
        .flat_map(|f| truth.filings.get(f).cloned().unwrap_or_default())
        .collect();
    let mut problems = Vec::new();
    let mut views = vec![("nginx", &tee["nginx"])];
    for r in readers {
        views.push((r, &tee["readers"][*r]));
    }
    for (who, view) in views {
        if let Some(e) = view.get("error") {
            return Verdict::HarnessError(format!("{who}: {e}"));
        }
        let path = view["path"].as_str().unwrap_or("");
        let Some((mirror, capture)) = route_of(method, path) else {
            continue;
        };
        if !matches!(mirror.mode, Mode::Enforce) {
            continue;
        }
        if mirror.name != route {
            let id = capture.map(|c| format!(" (id {c:?})")).unwrap_or_default();
            problems.push(format!(
                "{who} routes {path:?} to {}{id}; the gateway applied {route} ({decision})",
                mirror.name
            ));
            continue;
        }
        let mut ids: Vec<(String, String)> = capture
            .map(|c| ("path".to_string(), c))
            .into_iter()
            .collect();
        for r in view["readings"].as_array().into_iter().flatten() {
            let (name, value) = (
                r["name"].as_str().unwrap_or(""),
                r["value"].as_str().unwrap_or(""),
            );
            if mirror.names.contains(&name) && !value.is_empty() {
                ids.push((
                    format!("{} {name}", r["via"].as_str().unwrap_or("?")),
                    value.to_string(),
                ));
            }
        }
        for (via, value) in ids {
            let Some(id) = truth.id_of(&value) else {
                continue;
            };
            if !allowed.contains(&id) {
                problems.push(format!(
                    "{who} {via} = {id:?}; the gateway {decision} {route} with filing {:?}",
                    filing.as_deref().unwrap_or("none")
                ));
            }
        }
    }
    if problems.is_empty() {
        Verdict::Consistent
    } else {
        Verdict::Bypass(problems)
    }
}
