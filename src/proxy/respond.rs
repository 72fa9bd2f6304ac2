//! Responses icpgate writes itself: the 451 block page (JSON + RFC 7725 Link), 400/413/503
//! problems, 401 for unusable access tokens (with RFC 6750 `WWW-Authenticate`), 404 for
//! unrouted requests and 502/504 for upstream failures.
//!
//! Owns the JSON body shape, which is an API: `code`, `status`, `reason`, `message_zh`,
//! `message_en`, `platform`, `identifier`, `filings`, `decision_id`, `request_id`, `lookup_url`,
//! and for a refused batch `removed_total` and `removed` (the first 100 unfiled items).
//! Must not: echo anything a client sent beyond the identifier and platform it was judged on.
//! Invariant: every response it builds has `content-type: application/json` and `cache-control:
//! no-store`; a 451 always has the `Link: <...>; rel="blocked-by"` header.

use super::body::{full, ProxyBody};
use crate::code::Code;
use crate::lists::Removed;
use http::{header, HeaderValue, Response, StatusCode};
use serde::Serialize;
use std::sync::OnceLock;

/// The registry where anyone can look a filing up.
pub const LOOKUP_URL: &str = "https://beian.miit.gov.cn/";

/// The part of a refusal's body fixed by its code.
#[derive(Serialize)]
struct Head {
    code: &'static str,
    status: u16,
    reason: &'static str,
    message_zh: &'static str,
    message_en: &'static str,
}

/// The part of a refusal's body that depends on the request.
#[derive(Serialize)]
struct Tail<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    platform: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    identifier: Option<&'a str>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    filings: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    decision_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    removed_total: Option<usize>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    removed: &'a [Removed],
    lookup_url: &'static str,
}

/// Each code's `Head`, serialized once without its closing brace (indexed by `Code as usize`,
/// the position in `Code::ALL`): a refusal serializes only its `Tail`.
fn head(code: Code) -> &'static [u8] {
    static HEADS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    let heads = HEADS.get_or_init(|| {
        Code::ALL
            .iter()
            .map(|&c| {
                let head = Head {
                    code: c.as_str(),
                    status: c.status().as_u16(),
                    reason: reason(c),
                    message_zh: c.message_zh(),
                    message_en: c.message_en(),
                };
                let mut v = serde_json::to_vec(&head).unwrap_or_default();
                v.pop();
                v
            })
            .collect()
    });
    heads.get(code as usize).map_or(b"{", Vec::as_slice)
}

/// The JSON body of a refusal: the code's fixed head, then the request's fields.
fn problem(code: Code, about: &About<'_>) -> Vec<u8> {
    let tail = Tail {
        platform: about.platform,
        identifier: about.identifier,
        filings: about.filings,
        decision_id: about.decision_id,
        request_id: about.request_id,
        removed_total: about.removed_total,
        removed: about.removed,
        lookup_url: LOOKUP_URL,
    };
    let head = head(code);
    let mut out = Vec::with_capacity(head.len() + 256);
    out.extend_from_slice(head);
    let at = out.len();
    if serde_json::to_writer(&mut out, &tail).is_err() {
        out.truncate(at);
        out.push(b'}');
        return out;
    }
    // The tail's opening brace joins the head's fields.
    if let Some(b) = out.get_mut(at) {
        *b = b',';
    }
    out
}

/// What a refusal says about the request it refuses.
#[derive(Default)]
pub struct About<'a> {
    pub platform: Option<&'a str>,
    pub identifier: Option<&'a str>,
    pub filings: &'a [String],
    pub decision_id: Option<&'a str>,
    /// The request's `x-request-id`.
    pub request_id: Option<&'a str>,
    /// The request body was left unread: on HTTP/1 the connection cannot be reused.
    pub close: bool,
    /// A refused batch: how many items are not filed, and the first of them.
    pub removed_total: Option<usize>,
    pub removed: &'a [Removed],
}

fn reason(code: Code) -> &'static str {
    match code.status() {
        StatusCode::UNAVAILABLE_FOR_LEGAL_REASONS => "blocked",
        s if s.is_server_error() => "gateway_error",
        StatusCode::NOT_FOUND => "not_routed",
        StatusCode::UNPROCESSABLE_ENTITY => "package_rejected",
        StatusCode::UNAUTHORIZED => "unauthorized",
        _ => "bad_request",
    }
}

pub fn refuse(code: Code, about: &About<'_>) -> Response<ProxyBody> {
    let status = code.status();
    let json = problem(code, about);
    let mut resp = Response::new(full(json));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if status == StatusCode::UNAVAILABLE_FOR_LEGAL_REASONS {
        h.insert(
            header::LINK,
            HeaderValue::from_static("<https://beian.miit.gov.cn/>; rel=\"blocked-by\""),
        );
    }
    if status == StatusCode::UNAUTHORIZED {
        // RFC 6750 §3.1: the token was presented but cannot be used.
        h.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer error=\"invalid_token\""),
        );
    }
    if about.close {
        h.insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    resp
}

/// A JSON response for the admin API.
pub fn json<T: Serialize>(status: StatusCode, v: &T) -> Response<ProxyBody> {
    let mut resp = Response::new(full(serde_json::to_vec_pretty(v).unwrap_or_default()));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[test]
    fn every_code_gets_its_whole_body_in_the_documented_order() {
        let filings = vec!["京ICP备12345678号-1A".to_string()];
        let full = About {
            platform: Some("android"),
            identifier: Some("com.a\"b"),
            filings: &filings,
            decision_id: Some("d"),
            request_id: Some("r"),
            ..About::default()
        };
        for code in Code::ALL {
            for about in [&full, &About::default()] {
                let body = problem(code, about);
                let v: serde_json::Map<String, serde_json::Value> =
                    serde_json::from_slice(&body).unwrap();
                let text = std::str::from_utf8(&body).unwrap();
                let mut want = vec!["code", "status", "reason", "message_zh", "message_en"];
                if about.platform.is_some() {
                    want.extend([
                        "platform",
                        "identifier",
                        "filings",
                        "decision_id",
                        "request_id",
                    ]);
                }
                want.push("lookup_url");
                assert_eq!(v.len(), want.len(), "{code:?}: {text}");
                let at: Vec<usize> = want
                    .iter()
                    .map(|k| text.find(&format!("\"{k}\":")).unwrap())
                    .collect();
                assert!(at.windows(2).all(|w| w[0] < w[1]), "{code:?}: {text}");
                assert_eq!(v["code"], code.as_str());
                assert_eq!(v["status"], code.status().as_u16());
                assert_eq!(v["message_en"], code.message_en());
                assert_eq!(v["lookup_url"], LOOKUP_URL);
            }
        }
    }

    #[tokio::test]
    async fn block_page_has_link_and_json() {
        let filings = vec!["京ICP备12345678号-1A".to_string()];
        let about = About {
            platform: Some("android"),
            identifier: Some("com.a.b"),
            filings: &filings,
            decision_id: Some("d1"),
            request_id: Some("r1"),
            close: true,
            ..About::default()
        };
        let r = refuse(Code::Revoked, &about);
        assert_eq!(r.status(), 451);
        assert_eq!(
            r.headers()[header::LINK],
            "<https://beian.miit.gov.cn/>; rel=\"blocked-by\""
        );
        assert_eq!(r.headers()[header::CONNECTION], "close");
        let body = r.into_body().collect().await.unwrap().to_bytes();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["code"], "revoked");
        assert_eq!(v["identifier"], "com.a.b");
        assert_eq!(v["filings"][0], "京ICP备12345678号-1A");
        assert_eq!(v["lookup_url"], LOOKUP_URL);
        assert_eq!(v["request_id"], "r1");
        let r = refuse(Code::AmbiguousRequest, &About::default());
        assert_eq!(r.status(), 400);
        assert!(r.headers().get(header::LINK).is_none());
        assert!(r.headers().get(header::WWW_AUTHENTICATE).is_none());
        let r = refuse(Code::TokenExpired, &About::default());
        assert_eq!(r.status(), 401);
        assert_eq!(
            r.headers()[header::WWW_AUTHENTICATE],
            "Bearer error=\"invalid_token\""
        );
    }
}
