//! `icpgate probe [URL]`: one GET of a probe URL (`/healthz` or `/readyz` of the admin API),
//! for container health checks in an image that ships no curl or wget.
//!
//! Owns only the request and the exit status. Plain HTTP only: the admin API has no TLS.
//! Must not: retry or wait past its timeout (the orchestrator decides what a failure means).
//! Invariant: exit 0 on a 2xx answer; 1 on any other answer, an error or the timeout (Docker
//! reserves 2, so no other status is used).

use std::process::ExitCode;
use std::time::Duration;

pub(crate) fn run(url: &str, timeout: Duration) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("icpgate: probe: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match rt.block_on(async { tokio::time::timeout(timeout, get(url)).await }) {
        Ok(Ok(status)) if status.is_success() => {
            out!("{url}: {status}");
            ExitCode::SUCCESS
        }
        Ok(Ok(status)) => {
            eprintln!("icpgate: probe: {url}: {status}");
            ExitCode::from(1)
        }
        Ok(Err(e)) => {
            eprintln!("icpgate: probe: {url}: {e}");
            ExitCode::from(1)
        }
        Err(_) => {
            eprintln!("icpgate: probe: {url}: no answer in {timeout:?}");
            ExitCode::from(1)
        }
    }
}

async fn get(url: &str) -> Result<http::StatusCode, String> {
    let req = http::Request::get(url)
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .map_err(|e| format!("bad URL: {e}"))?;
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http();
    let resp = client.request(req).await.map_err(|e| {
        let mut msg = e.to_string();
        let mut src = std::error::Error::source(&e);
        while let Some(s) = src {
            msg = format!("{msg}: {s}");
            src = s.source();
        }
        msg
    })?;
    Ok(resp.status())
}
