//! `icpgate inspect FILE`: what the gateway sees in a package and, against a snapshot file or
//! a running gateway's admin API, what an upload route would decide.
//!
//! Owns only argument handling, the admin API client and the output; inspection is
//! `icpgate::inspect`, the decision `icpgate::verdict` (the upload route's own code).
//! Must not: decide differently from a route with the same options.
//! Invariant: exit 0 allow (or inspected only), 1 would block, 65 unreadable package, 69 snapshot
//! or admin API unavailable.

use crate::{EX_DATAERR, EX_UNAVAILABLE};
use anyhow::Context;
use icpgate::filing::Platform;
use std::path::PathBuf;
use std::process::ExitCode;

/// Fetches `/v1/lookup` for (platform, id) from a running gateway's admin API.
async fn admin_lookup(
    base: &str,
    token: Option<&str>,
    platform: Platform,
    id: &str,
) -> anyhow::Result<serde_json::Value> {
    use http_body_util::BodyExt;
    let q: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("platform", platform.as_str())
        .append_pair("id", id)
        .finish();
    let url = format!("{}/v1/lookup?{q}", base.trim_end_matches('/'));
    let mut req = http::Request::get(&url);
    if let Some(t) = token {
        req = req.header(http::header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let req = req
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .with_context(|| format!("bad admin URL {url:?}"))?;
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http();
    let resp = tokio::time::timeout(std::time::Duration::from_secs(10), client.request(req))
        .await
        .with_context(|| format!("{url}: no answer in 10s"))?
        .with_context(|| format!("{url}: request failed"))?;
    let status = resp.status();
    let body = resp.into_body().collect().await?.to_bytes();
    anyhow::ensure!(
        status.is_success(),
        "{url}: {status}: {}",
        String::from_utf8_lossy(&body)
    );
    Ok(serde_json::from_slice(&body)?)
}

/// The filings a decision for (platform, id) needs, from the admin API: the id's own and,
/// when it has none, those of the sibling platform it is filed under.
async fn admin_revision(
    base: &str,
    token: Option<&str>,
    platform: Platform,
    id: &str,
) -> anyhow::Result<icpgate::index::Revision> {
    let answer = admin_lookup(base, token, platform, id).await?;
    let mut records = icpgate::verdict::records_of_lookup(&answer).map_err(anyhow::Error::msg)?;
    if let Some(other) = answer["filed_elsewhere"]
        .as_str()
        .and_then(|p| p.parse::<Platform>().ok())
    {
        let more = admin_lookup(base, token, other, id).await?;
        records.extend(icpgate::verdict::records_of_lookup(&more).map_err(anyhow::Error::msg)?);
    }
    let revision = answer["index_revision"].as_u64().unwrap_or(0);
    Ok(icpgate::index::Revision::from_records(
        revision, base, &records, false,
    ))
}

pub(crate) struct InspectArgs {
    pub(crate) file: PathBuf,
    pub(crate) json: bool,
    pub(crate) snapshot: Option<PathBuf>,
    pub(crate) admin: Option<String>,
    pub(crate) admin_token: Option<String>,
    pub(crate) opts: icpgate::verdict::Options,
}

pub(crate) fn run(a: InspectArgs) -> anyhow::Result<ExitCode> {
    let limits = icpgate::inspect::Limits {
        verify_digests: a.opts.verify_digests,
        ..icpgate::inspect::Limits::default()
    };
    let identity = match icpgate::inspect::inspect_file(&a.file, &limits) {
        Ok(id) => id,
        Err(e) => {
            if a.json {
                let out = serde_json::json!({"file": a.file, "error": e.code(), "message": e.to_string()});
                out!("{out}");
            } else {
                eprintln!("{}: {} ({})", a.file.display(), e, e.code());
            }
            return Ok(ExitCode::from(EX_DATAERR));
        }
    };
    let rev = match (&a.snapshot, &a.admin) {
        (Some(path), _) => match icpgate::index::load_snapshot(path, 1, false) {
            Ok((rev, _)) => Some(rev),
            Err(e) => {
                eprintln!("icpgate: {}: {e}", path.display());
                return Ok(ExitCode::from(EX_UNAVAILABLE));
            }
        },
        (None, Some(url)) => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let fetched = rt.block_on(admin_revision(
                url,
                a.admin_token.as_deref(),
                identity.platform,
                &identity.id,
            ));
            match fetched {
                Ok(rev) => Some(rev),
                Err(e) => {
                    eprintln!("icpgate: admin API: {e:#}");
                    return Ok(ExitCode::from(EX_UNAVAILABLE));
                }
            }
        }
        (None, None) => None,
    };
    let verdict = rev
        .as_ref()
        .map(|r| icpgate::verdict::decide(&identity, a.opts, r));
    if a.json {
        let mut out = serde_json::json!({"file": a.file, "package": identity.to_json()});
        if let Some(v) = &verdict {
            out["verdict"] = v.json.clone();
        }
        out!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        out_raw!("{}", identity.render_text());
        if let Some(v) = &verdict {
            out_raw!("{}", icpgate::verdict::render_text(v));
        }
    }
    Ok(match verdict {
        Some(v) if !v.allowed => ExitCode::from(1),
        _ => ExitCode::SUCCESS,
    })
}
