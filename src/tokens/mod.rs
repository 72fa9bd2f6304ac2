//! The credential step: on a route with `jwt` or `introspect` extractors, read each token
//! (`extract::bearer`), verify it (`jwt.rs`) or introspect it (`introspect.rs`), and take the
//! identifier from the verified claims, before the request's other sources are read.
//!
//! Owns the introspection endpoints of one configuration (`Tokens`, shared by every worker:
//! one cache and one set of call slots per endpoint) and the mapping from a token failure to
//! its refusal code and metrics cause.
//! Must not: read an unverified claim, forward or answer (the pipeline does), or run on a
//! route without credential extractors.
//! Invariant: a credential slot holds a value only from a token whose signature verified, or
//! that its introspection endpoint called active.

pub mod introspect;
pub mod jwt;

use crate::code::Code;
use crate::config::{IntrospectionConfig, RouteConfig, Source, TokenKind};
use crate::extract::bearer::{self, Credentials};
use crate::metrics::tokens::Cause;
use crate::metrics::Metrics;
use http::request::Parts;
use introspect::{Answer, Introspector};
use serde_json::Value;
use std::sync::Arc;

/// The introspection endpoints of one configuration, in `Config::introspection` order.
#[derive(Default)]
pub struct Tokens {
    endpoints: Vec<Introspector>,
}

/// The refusal for a token failure.
fn code(cause: Cause) -> Code {
    match cause {
        Cause::Expired => Code::TokenExpired,
        Cause::Inactive => Code::TokenInactive,
        Cause::Unavailable => Code::IntrospectionUnavailable,
        Cause::Ambiguous => Code::AmbiguousRequest,
        _ => Code::TokenInvalid,
    }
}

fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

impl Tokens {
    /// Clients for `endpoints`; an endpoint of `previous` with the same name lends its cache
    /// when its answers hold for the new settings too.
    pub fn new(
        endpoints: &[IntrospectionConfig],
        previous: Option<&Tokens>,
        m: &Metrics,
    ) -> Tokens {
        let old =
            |name: &str| previous.and_then(|p| p.endpoints.iter().find(|e| e.cfg.name == name));
        Tokens {
            endpoints: endpoints
                .iter()
                .map(|c| Introspector::new(c, old(&c.name), m))
                .collect(),
        }
    }

    /// The value of each credential extractor of `route`, by slot; the first failure is the
    /// request's refusal (counted by route and cause).
    pub async fn resolve(
        &self,
        route: &RouteConfig,
        parts: &Parts,
        m: &Metrics,
    ) -> Result<Credentials, Code> {
        let mut values = Vec::new();
        for src in &route.extract {
            let Source::Token(t) = src else { continue };
            match self.one(&t.kind, &t.place, parts).await {
                Ok(v) => values.push(v),
                Err(Failure::Token(cause)) => {
                    m.tokens.failed(&route.name, cause);
                    return Err(code(cause));
                }
                Err(Failure::Code(c)) => return Err(c),
            }
        }
        Ok(Credentials(values))
    }

    async fn one(
        &self,
        kind: &TokenKind,
        place: &crate::config::TokenPlace,
        parts: &Parts,
    ) -> Result<Option<String>, Failure> {
        let token = match bearer::token(place, parts) {
            Ok(Some(t)) => t,
            Ok(None) => return Ok(None),
            Err(Code::AmbiguousRequest) => return Err(Failure::Token(Cause::Ambiguous)),
            Err(_) => return Err(Failure::Token(Cause::Malformed)),
        };
        let (doc, pointer): (Arc<Value>, &str) = match kind {
            TokenKind::Jwt(spec) => {
                let v = jwt::verify(&token, spec, unix_now()).map_err(Failure::Token)?;
                (Arc::new(v), &spec.claim)
            }
            TokenKind::Introspect { endpoint, pointer } => {
                let Some(e) = self.endpoints.get(*endpoint) else {
                    return Err(Failure::Token(Cause::Unavailable));
                };
                match e.lookup(&token).await {
                    Answer::Active(_, Some(exp)) if unix_now() >= exp => {
                        return Err(Failure::Token(Cause::Expired))
                    }
                    Answer::Active(v, _) => (v, pointer),
                    Answer::Inactive => return Err(Failure::Token(Cause::Inactive)),
                    Answer::Ambiguous => return Err(Failure::Token(Cause::Claims)),
                    Answer::Failed(_) => return Err(Failure::Token(Cause::Unavailable)),
                }
            }
        };
        match jwt::claim(&doc, pointer) {
            Ok(v) => Ok(v.map(str::to_string)),
            Err(c) => Err(Failure::Code(c)),
        }
    }
}

enum Failure {
    /// The token cannot be used: refused with `code(cause)`, counted.
    Token(Cause),
    /// The token is good but its identifier is not: refused with this code.
    Code(Code),
}
