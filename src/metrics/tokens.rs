//! The families of credential extractors (the `tokens` module): token refusals by route and cause,
//! introspection calls by endpoint and result, the introspection cache, call latency and calls
//! in flight.
//!
//! Owns these names, their label values and the series declared at 0 for a configuration.
//! Must not: label by token, identifier or client (only route, endpoint, cause, result).
//! Invariant: every label value the code can produce is in one of the `*::ALL` lists below,
//! and `declare` creates each series a configuration can produce.

use super::{counter_vec, gauge_vec, histogram_vec};
use prometheus::{HistogramVec, IntCounterVec, IntGaugeVec, Registry};

pub const TOKEN_FAILURES: &str = "icpgate_token_failures_total";
pub const INTROSPECTIONS: &str = "icpgate_introspection_requests_total";
pub const INTROSPECTION_CACHE: &str = "icpgate_introspection_cache_total";
pub const INTROSPECTION_DURATION: &str = "icpgate_introspection_duration_seconds";
pub const INTROSPECTIONS_IN_FLIGHT: &str = "icpgate_introspections_in_flight";

/// The families defined here. Their series are labelled by route or endpoint name, so a
/// gateway exports them from the start when its configuration has a credential extractor
/// (`token_failures`) or an `[[introspection]]` endpoint (the others).
pub const FAMILIES: &[&str] = &[
    TOKEN_FAILURES,
    INTROSPECTIONS,
    INTROSPECTION_CACHE,
    INTROSPECTION_DURATION,
    INTROSPECTIONS_IN_FLIGHT,
];

/// Introspection calls take milliseconds to the configured timeout: 1 ms to 10 s.
const BUCKETS: &[f64] = &[
    0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Why a request's token was refused (`icpgate_token_failures_total{cause}`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cause {
    /// Not three base64url parts, an unreadable header, a `crit` header, too long.
    Malformed,
    /// The `alg` is none, HMAC, unknown, or not the algorithm of the key `kid` names.
    Algorithm,
    /// No key of the JWKS file has the token's `kid` (or, without `kid`, its `alg`).
    UnknownKey,
    Signature,
    Expired,
    NotYetValid,
    Issuer,
    Audience,
    /// The payload (or an introspection answer) is not a JSON object, repeats a key, or has a
    /// time claim that is not a number.
    Claims,
    /// Tokens in two places of one request.
    Ambiguous,
    /// Introspection answered `active: false`.
    Inactive,
    /// The introspection endpoint did not answer usably.
    Unavailable,
}

impl Cause {
    pub const ALL: [Cause; 12] = [
        Cause::Malformed,
        Cause::Algorithm,
        Cause::UnknownKey,
        Cause::Signature,
        Cause::Expired,
        Cause::NotYetValid,
        Cause::Issuer,
        Cause::Audience,
        Cause::Claims,
        Cause::Ambiguous,
        Cause::Inactive,
        Cause::Unavailable,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Cause::Malformed => "malformed",
            Cause::Algorithm => "algorithm",
            Cause::UnknownKey => "unknown_key",
            Cause::Signature => "signature",
            Cause::Expired => "expired",
            Cause::NotYetValid => "not_yet_valid",
            Cause::Issuer => "issuer",
            Cause::Audience => "audience",
            Cause::Claims => "claims",
            Cause::Ambiguous => "ambiguous",
            Cause::Inactive => "inactive",
            Cause::Unavailable => "unavailable",
        }
    }
}

/// How one introspection call ended (`icpgate_introspection_requests_total{result}`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallResult {
    Active,
    Inactive,
    /// An answer that is not a 200 JSON object with a boolean `active`, or is too large.
    InvalidAnswer,
    /// A status other than 200.
    HttpError,
    Timeout,
    /// Connect or I/O failure.
    Unreachable,
    /// Every call slot (`max_concurrent`) was busy: no call made.
    Overloaded,
}

impl CallResult {
    pub const ALL: [CallResult; 7] = [
        CallResult::Active,
        CallResult::Inactive,
        CallResult::InvalidAnswer,
        CallResult::HttpError,
        CallResult::Timeout,
        CallResult::Unreachable,
        CallResult::Overloaded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CallResult::Active => "active",
            CallResult::Inactive => "inactive",
            CallResult::InvalidAnswer => "invalid_answer",
            CallResult::HttpError => "http_error",
            CallResult::Timeout => "timeout",
            CallResult::Unreachable => "unreachable",
            CallResult::Overloaded => "overloaded",
        }
    }
}

/// `icpgate_introspection_cache_total{result}`: answered from the cache, by a call, or by
/// joining a call another request had already started for the same token.
pub const CACHE_RESULTS: [&str; 3] = ["hit", "miss", "joined"];

pub struct TokenMetrics {
    pub failures: IntCounterVec,
    pub calls: IntCounterVec,
    pub cache: IntCounterVec,
    pub duration: HistogramVec,
    pub in_flight: IntGaugeVec,
}

impl TokenMetrics {
    pub(super) fn new(r: &Registry) -> TokenMetrics {
        TokenMetrics {
            failures: counter_vec(
                r,
                TOKEN_FAILURES,
                "Requests refused for their access token, by route and cause.",
                &["route", "cause"],
            ),
            calls: counter_vec(
                r,
                INTROSPECTIONS,
                "Token introspection calls by endpoint and result.",
                &["endpoint", "result"],
            ),
            cache: counter_vec(
                r,
                INTROSPECTION_CACHE,
                "Token introspection lookups by endpoint and result (hit, miss, joined).",
                &["endpoint", "result"],
            ),
            duration: histogram_vec(
                r,
                INTROSPECTION_DURATION,
                "Time from sending an introspection request to its answer or failure, by endpoint.",
                &["endpoint"],
                BUCKETS,
            ),
            in_flight: gauge_vec(
                r,
                INTROSPECTIONS_IN_FLIGHT,
                "Introspection calls in flight, by endpoint.",
                &["endpoint"],
            ),
        }
    }

    /// Creates, at 0, the series of every credential route and introspection endpoint of a
    /// configuration. Idempotent: a reload calls it again with the new names.
    pub fn declare<'a>(
        &self,
        routes: impl IntoIterator<Item = &'a str>,
        endpoints: impl IntoIterator<Item = &'a str>,
    ) {
        for r in routes {
            for c in Cause::ALL {
                self.failures.with_label_values(&[r, c.as_str()]);
            }
        }
        for e in endpoints {
            for c in CallResult::ALL {
                self.calls.with_label_values(&[e, c.as_str()]);
            }
            for c in CACHE_RESULTS {
                self.cache.with_label_values(&[e, c]);
            }
            self.duration.with_label_values(&[e]);
            self.in_flight.with_label_values(&[e]);
        }
    }

    pub fn failed(&self, route: &str, cause: Cause) {
        self.failures
            .with_label_values(&[route, cause.as_str()])
            .inc();
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn declared_series_exist_at_zero() {
        let m = crate::metrics::Metrics::new();
        m.tokens.declare(["mp"], ["wechat"]);
        let text = m.render();
        for s in [
            r#"icpgate_token_failures_total{cause="expired",route="mp"} 0"#,
            r#"icpgate_introspection_requests_total{endpoint="wechat",result="overloaded"} 0"#,
            r#"icpgate_introspection_cache_total{endpoint="wechat",result="joined"} 0"#,
            r#"icpgate_introspections_in_flight{endpoint="wechat"} 0"#,
            r#"icpgate_introspection_duration_seconds_count{endpoint="wechat"} 0"#,
        ] {
            assert!(text.contains(s), "{s} missing");
        }
    }
}
