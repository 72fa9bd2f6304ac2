//! Token introspection (RFC 7662) against one configured endpoint: the HTTP call, a bounded
//! LRU cache of answers, a cap on concurrent calls, and one shared call per token.
//!
//! Owns the call (POST `token=…&token_type_hint=access_token`, form-encoded, with the
//! endpoint's Basic client authentication, under its timeout, the answer read to at most
//! `MAX_ANSWER_BYTES`), how an answer is read (strict JSON object, `active` a boolean, `exp`
//! absent or a number; a repeated key anywhere makes it ambiguous), and how long it is kept:
//! an active answer until its `exp`, at most `cache_max_ttl`; an inactive one for
//! `cache_inactive_ttl`; a failed call not at all. The cache key is the SHA-256 of the token,
//! so the cache holds no token.
//! When all `max_concurrent` call slots are busy a new call is not made and not queued: it
//! fails at once (`overloaded`), and the route's `on_introspection_failure` answers. Requests
//! for a token whose call is in flight wait for that call instead of making their own.
//! Must not: hold a lock across an await, keep a failed call's result, or cache beyond `exp`.
//! Invariant: at most `max_concurrent` calls are in flight per endpoint (per configuration).

use crate::config::IntrospectionConfig;
use crate::extract::json;
use crate::metrics::tokens::CallResult;
use crate::metrics::Metrics;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use prometheus::{Histogram, IntCounter, IntGauge};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::{OnceCell, Semaphore};

/// The largest introspection answer read.
pub const MAX_ANSWER_BYTES: usize = 64 * 1024;

type Key = [u8; 32];

/// What the endpoint said about a token.
#[derive(Clone, Debug)]
pub enum Answer {
    /// `active: true`; the whole answer, and its `exp` (Unix seconds) if it has one.
    Active(Arc<Value>, Option<f64>),
    Inactive,
    /// The answer repeats a key: readers would disagree on it.
    Ambiguous,
    /// No usable answer.
    Failed(CallResult),
}

struct Entry {
    answer: Answer,
    until: Instant,
}

/// Answers kept across calls, and the calls in flight. Kept across a reload when the
/// endpoint's identity is unchanged (`IntrospectionConfig::shares_cache`).
pub struct Cache {
    lru: Option<Mutex<lru::LruCache<Key, Entry>>>,
    pending: Mutex<HashMap<Key, Arc<OnceCell<Answer>>>>,
}

impl Cache {
    fn new(entries: usize) -> Cache {
        Cache {
            lru: NonZeroUsize::new(entries).map(|n| Mutex::new(lru::LruCache::new(n))),
            pending: Mutex::new(HashMap::new()),
        }
    }

    fn get(&self, key: &Key) -> Option<Answer> {
        let mut lru = self.lru.as_ref()?.lock().ok()?;
        match lru.get(key) {
            Some(e) if e.until > Instant::now() => Some(e.answer.clone()),
            Some(_) => {
                lru.pop(key);
                None
            }
            None => None,
        }
    }

    fn put(&self, key: Key, answer: &Answer, ttl: Duration) {
        if ttl.is_zero() {
            return;
        }
        if let Some(mut lru) = self.lru.as_ref().and_then(|l| l.lock().ok()) {
            let entry = Entry {
                answer: answer.clone(),
                until: Instant::now() + ttl,
            };
            lru.put(key, entry);
        }
    }

    /// The call in flight for `key`, or a new one; true when this caller started it.
    fn join(&self, key: Key) -> (Arc<OnceCell<Answer>>, bool) {
        let Ok(mut pending) = self.pending.lock() else {
            return (Arc::new(OnceCell::new()), true);
        };
        match pending.get(&key) {
            Some(cell) => (cell.clone(), false),
            None => {
                let cell = Arc::new(OnceCell::new());
                pending.insert(key, cell.clone());
                (cell, true)
            }
        }
    }
}

/// Takes a call out of `pending` when its caller is done with it (or gone).
struct Joined<'a> {
    cache: &'a Cache,
    key: Key,
    cell: Arc<OnceCell<Answer>>,
}

impl Drop for Joined<'_> {
    fn drop(&mut self) {
        if let Ok(mut pending) = self.cache.pending.lock() {
            if pending
                .get(&self.key)
                .is_some_and(|c| Arc::ptr_eq(c, &self.cell))
            {
                pending.remove(&self.key);
            }
        }
    }
}

/// Per-endpoint metric handles, resolved once.
struct Counters {
    calls: Vec<IntCounter>,
    hit: IntCounter,
    miss: IntCounter,
    joined: IntCounter,
    duration: Histogram,
    in_flight: IntGauge,
}

impl Counters {
    fn new(m: &Metrics, endpoint: &str) -> Counters {
        let t = &m.tokens;
        let cache = |r: &str| t.cache.with_label_values(&[endpoint, r]);
        Counters {
            calls: CallResult::ALL
                .iter()
                .map(|r| t.calls.with_label_values(&[endpoint, r.as_str()]))
                .collect(),
            hit: cache("hit"),
            miss: cache("miss"),
            joined: cache("joined"),
            duration: t.duration.with_label_values(&[endpoint]),
            in_flight: t.in_flight.with_label_values(&[endpoint]),
        }
    }

    fn call(&self, r: CallResult) {
        if let Some(c) = self.calls.get(r as usize) {
            c.inc();
        }
    }
}

/// One introspection endpoint's client, cache and call slots.
pub struct Introspector {
    pub cfg: IntrospectionConfig,
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    cache: Arc<Cache>,
    slots: Arc<Semaphore>,
    counters: Counters,
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

impl Introspector {
    /// A client for `cfg`; `previous` (the running configuration's endpoint of the same name)
    /// lends its cache when it holds answers that are valid for `cfg` too.
    pub fn new(
        cfg: &IntrospectionConfig,
        previous: Option<&Introspector>,
        m: &Metrics,
    ) -> Introspector {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(cfg.timeout));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config((*cfg.tls).clone())
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .build(https);
        let cache = match previous {
            Some(p) if p.cfg.shares_cache(cfg) => p.cache.clone(),
            _ => Arc::new(Cache::new(cfg.cache_entries)),
        };
        Introspector {
            cfg: cfg.clone(),
            client,
            cache,
            slots: Arc::new(Semaphore::new(cfg.max_concurrent)),
            counters: Counters::new(m, &cfg.name),
        }
    }

    /// What the endpoint says about `token`: from the cache, from a call in flight for the
    /// same token, or from a new call.
    pub async fn lookup(&self, token: &str) -> Answer {
        let key: Key = Sha256::digest(token.as_bytes()).into();
        if let Some(a) = self.cache.get(&key) {
            self.counters.hit.inc();
            return a;
        }
        let (cell, started) = self.cache.join(key);
        if started {
            &self.counters.miss
        } else {
            &self.counters.joined
        }
        .inc();
        let joined = Joined {
            cache: &self.cache,
            key,
            cell,
        };
        let answer = joined.cell.get_or_init(|| self.call(token)).await.clone();
        self.cache.put(key, &answer, self.ttl(&answer));
        answer
    }

    /// How long `answer` may be kept.
    fn ttl(&self, answer: &Answer) -> Duration {
        match answer {
            Answer::Active(_, Some(exp)) => {
                let left = Duration::try_from_secs_f64(exp - unix_now()).unwrap_or(Duration::ZERO);
                left.min(self.cfg.cache_max_ttl)
            }
            Answer::Active(_, None) => self.cfg.cache_max_ttl,
            Answer::Inactive => self.cfg.cache_inactive_ttl,
            Answer::Ambiguous | Answer::Failed(_) => Duration::ZERO,
        }
    }

    /// One call, in a call slot, under the timeout.
    async fn call(&self, token: &str) -> Answer {
        let Ok(_slot) = self.slots.clone().try_acquire_owned() else {
            self.counters.call(CallResult::Overloaded);
            return Answer::Failed(CallResult::Overloaded);
        };
        self.counters.in_flight.inc();
        let started = Instant::now();
        let answer = match tokio::time::timeout(self.cfg.timeout, self.exchange(token)).await {
            Ok(a) => a,
            Err(_) => Answer::Failed(CallResult::Timeout),
        };
        self.counters
            .duration
            .observe(started.elapsed().as_secs_f64());
        self.counters.in_flight.dec();
        self.counters.call(match &answer {
            Answer::Active(..) => CallResult::Active,
            Answer::Inactive => CallResult::Inactive,
            Answer::Ambiguous => CallResult::InvalidAnswer,
            Answer::Failed(r) => *r,
        });
        answer
    }

    async fn exchange(&self, token: &str) -> Answer {
        let body: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("token", token)
            .append_pair("token_type_hint", "access_token")
            .finish();
        let mut req = http::Request::post(self.cfg.url.clone())
            .header(
                http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(http::header::ACCEPT, "application/json");
        if let Some(a) = &self.cfg.authorization {
            req = req.header(http::header::AUTHORIZATION, a.clone());
        }
        let Ok(req) = req.body(Full::new(Bytes::from(body))) else {
            return Answer::Failed(CallResult::InvalidAnswer);
        };
        let resp = match self.client.request(req).await {
            Ok(r) => r,
            Err(e) => {
                tracing::debug!(event = "introspection_failed", endpoint = %self.cfg.name, error = %e);
                return Answer::Failed(CallResult::Unreachable);
            }
        };
        if resp.status() != http::StatusCode::OK {
            tracing::debug!(event = "introspection_failed", endpoint = %self.cfg.name, status = %resp.status());
            return Answer::Failed(CallResult::HttpError);
        }
        match Limited::new(resp.into_body(), MAX_ANSWER_BYTES)
            .collect()
            .await
        {
            Ok(b) => read_answer(&b.to_bytes()),
            Err(_) => Answer::Failed(CallResult::InvalidAnswer),
        }
    }
}

/// Reads an introspection answer (RFC 7662 §2.2).
pub fn read_answer(body: &[u8]) -> Answer {
    let v = match json::strict(body) {
        Ok(v) if v.is_object() => v,
        Err(json::JsonError::Duplicate(_)) => return Answer::Ambiguous,
        _ => return Answer::Failed(CallResult::InvalidAnswer),
    };
    let exp = match v.get("exp") {
        None => None,
        Some(Value::Number(n)) => match n.as_f64() {
            Some(f) if f.is_finite() => Some(f),
            _ => return Answer::Failed(CallResult::InvalidAnswer),
        },
        Some(_) => return Answer::Failed(CallResult::InvalidAnswer),
    };
    match v.get("active") {
        Some(Value::Bool(true)) => Answer::Active(Arc::new(v), exp),
        Some(Value::Bool(false)) => Answer::Inactive,
        _ => Answer::Failed(CallResult::InvalidAnswer),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_strictly() {
        assert!(matches!(
            read_answer(br#"{"active":true,"appid":"wx1"}"#),
            Answer::Active(_, None)
        ));
        assert!(matches!(
            read_answer(br#"{"active":true,"exp":1.5e9}"#),
            Answer::Active(_, Some(_))
        ));
        assert!(matches!(
            read_answer(br#"{"active":false}"#),
            Answer::Inactive
        ));
        assert!(matches!(
            read_answer(br#"{"active":"true"}"#),
            Answer::Failed(CallResult::InvalidAnswer)
        ));
        assert!(matches!(
            read_answer(br#"{"appid":"wx1"}"#),
            Answer::Failed(CallResult::InvalidAnswer)
        ));
        assert!(matches!(
            read_answer(br#"{"active":true,"exp":"soon"}"#),
            Answer::Failed(CallResult::InvalidAnswer)
        ));
        assert!(matches!(
            read_answer(b"<html>"),
            Answer::Failed(CallResult::InvalidAnswer)
        ));
        assert!(matches!(
            read_answer(br#"{"active":true,"active":false}"#),
            Answer::Ambiguous
        ));
        assert!(matches!(
            read_answer(br#"{"active":true,"x":{"appid":"a","appid":"b"}}"#),
            Answer::Ambiguous
        ));
    }

    #[test]
    fn the_cache_keeps_answers_until_their_time_and_evicts_the_oldest() {
        let c = Cache::new(2);
        let k = |b: u8| [b; 32];
        c.put(k(1), &Answer::Inactive, Duration::from_secs(60));
        c.put(k(2), &Answer::Inactive, Duration::from_nanos(1));
        c.put(k(3), &Answer::Failed(CallResult::Timeout), Duration::ZERO);
        assert!(c.get(&k(1)).is_some());
        std::thread::sleep(Duration::from_millis(1));
        assert!(c.get(&k(2)).is_none(), "expired");
        assert!(c.get(&k(3)).is_none(), "never kept");
        c.put(k(4), &Answer::Inactive, Duration::from_secs(60));
        c.put(k(5), &Answer::Inactive, Duration::from_secs(60));
        assert!(c.get(&k(1)).is_none(), "evicted");
        assert!(Cache::new(0).get(&k(1)).is_none());
    }
}
