//! Identifiers inside access tokens, over the wire: a gateway, a recording upstream and a real
//! RFC 7662 introspection server (plain and TLS with a CA made here), with JWTs signed by keys
//! made here (Ed25519 and P-256 with ring, RSA with the `rsa` crate).
mod common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use bytes::Bytes;
use common::wire::*;
use common::*;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, Ed25519KeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::net::TcpListener;

/// Filed for wechat in the harness snapshot.
const FILED: &str = "wx84c222762738ce75";
const FILED_NUMBER: &str = "京ICP备2026059598号-1X";
const UNFILED_MP: &str = "wx0000000000000000";
const CLIENT_BASIC: &str = "Basic Z2F0ZTpzM2NyZXQ="; // gate:s3cret

fn b64(b: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(b)
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A signing key and its public JWK.
enum Key {
    Ed(Ed25519KeyPair),
    Es(EcdsaKeyPair),
    Rs(
        Box<rsa::pkcs1v15::SigningKey<sha2::Sha256>>,
        serde_json::Value,
    ),
}

impl Key {
    fn ed() -> Key {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        Key::Ed(Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap())
    }

    fn es() -> Key {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let k = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng);
        Key::Es(k.unwrap())
    }

    fn rs() -> Key {
        use rsa::traits::PublicKeyParts;
        let k = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap();
        let jwk = serde_json::json!({
            "kty": "RSA", "n": b64(&k.n().to_bytes_be()), "e": b64(&k.e().to_bytes_be())
        });
        Key::Rs(Box::new(rsa::pkcs1v15::SigningKey::new(k)), jwk)
    }

    fn alg(&self) -> &'static str {
        match self {
            Key::Ed(_) => "EdDSA",
            Key::Es(_) => "ES256",
            Key::Rs(..) => "RS256",
        }
    }

    fn jwk(&self, kid: &str) -> serde_json::Value {
        let mut j = match self {
            Key::Ed(k) => serde_json::json!({
                "kty": "OKP", "crv": "Ed25519", "x": b64(k.public_key().as_ref())
            }),
            Key::Es(k) => {
                let p = k.public_key().as_ref();
                serde_json::json!({
                    "kty": "EC", "crv": "P-256", "x": b64(&p[1..33]), "y": b64(&p[33..65])
                })
            }
            Key::Rs(_, jwk) => jwk.clone(),
        };
        j["kid"] = kid.into();
        j
    }

    fn sign(&self, msg: &[u8]) -> Vec<u8> {
        match self {
            Key::Ed(k) => k.sign(msg).as_ref().to_vec(),
            Key::Es(k) => k.sign(&SystemRandom::new(), msg).unwrap().as_ref().to_vec(),
            Key::Rs(k, _) => {
                use rsa::signature::{SignatureEncoding, Signer};
                k.sign(msg).to_vec()
            }
        }
    }

    /// A compact JWS of `payload` (raw JSON text) with header `{"alg":…,"kid":kid}`.
    fn token(&self, kid: &str, payload: &str) -> String {
        let header = format!(r#"{{"alg":"{}","kid":"{kid}"}}"#, self.alg());
        self.token_with(&header, payload)
    }

    fn token_with(&self, header: &str, payload: &str) -> String {
        let msg = format!("{}.{}", b64(header.as_bytes()), b64(payload.as_bytes()));
        let sig = self.sign(msg.as_bytes());
        format!("{msg}.{}", b64(&sig))
    }
}

fn jwks(keys: &[(&Key, &str)]) -> Vec<u8> {
    let keys: Vec<_> = keys.iter().map(|(k, kid)| k.jwk(kid)).collect();
    serde_json::to_vec(&serde_json::json!({ "keys": keys })).unwrap()
}

fn claims(appid: &str) -> String {
    format!(r#"{{"appid":"{appid}","exp":{}}}"#, now() + 600)
}

/// A running introspection server: how many calls it answered, and a gate that holds the
/// answers to `op-hold*` tokens until the test opens it.
struct Introspection {
    addr: SocketAddr,
    calls: Arc<AtomicUsize>,
    arrived: Arc<tokio::sync::Notify>,
    release: Arc<tokio::sync::Semaphore>,
}

/// The answer to `token`: `op-active-<appid>`, `op-hold-<appid>`, `op-inactive`,
/// `op-dup`, `op-garbage`, `op-number`, `op-expired-<appid>`.
fn answer(token: &str) -> String {
    let active =
        |appid: &str, exp: u64| format!(r#"{{"active":true,"appid":"{appid}","exp":{exp}}}"#);
    if let Some(appid) = token
        .strip_prefix("op-active-")
        .or(token.strip_prefix("op-hold-"))
    {
        return active(appid, now() + 600);
    }
    if let Some(appid) = token.strip_prefix("op-expired-") {
        return active(appid, now() - 10);
    }
    match token {
        "op-inactive" => r#"{"active":false}"#.into(),
        "op-dup" => format!(r#"{{"active":true,"appid":"{FILED}","appid":"{UNFILED_MP}"}}"#),
        "op-number" => r#"{"active":true,"appid":12345}"#.into(),
        _ => "<html>not json</html>".into(),
    }
}

/// Starts an introspection server on 127.0.0.1:0 that requires `CLIENT_BASIC`; over TLS
/// with `tls` (a rustls server config).
async fn introspection(tls: Option<Arc<rustls::ServerConfig>>) -> Introspection {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let arrived = Arc::new(tokio::sync::Notify::new());
    let release = Arc::new(tokio::sync::Semaphore::new(0));
    let (c, a, r) = (calls.clone(), arrived.clone(), release.clone());
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = l.accept().await else {
                continue;
            };
            let (c, a, r, tls) = (c.clone(), a.clone(), r.clone(), tls.clone());
            tokio::spawn(async move {
                let svc = service_fn(move |req: http::Request<hyper::body::Incoming>| {
                    let (c, a, r) = (c.clone(), a.clone(), r.clone());
                    async move {
                        let authorized = req
                            .headers()
                            .get("authorization")
                            .is_some_and(|v| v == CLIENT_BASIC);
                        let body = req.into_body().collect().await?.to_bytes();
                        let token = form_urlencoded::parse(&body)
                            .find(|(k, _)| k == "token")
                            .map(|(_, v)| v.into_owned())
                            .unwrap_or_default();
                        c.fetch_add(1, Ordering::SeqCst);
                        a.notify_one();
                        if token.starts_with("op-hold") {
                            r.acquire().await.unwrap().forget();
                        }
                        let mut resp = http::Response::new(Full::new(Bytes::from(answer(&token))));
                        if !authorized {
                            *resp.status_mut() = http::StatusCode::UNAUTHORIZED;
                        }
                        Ok::<_, hyper::Error>(resp)
                    }
                });
                let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                match tls {
                    Some(cfg) => {
                        let Ok(s) = tokio_rustls::TlsAcceptor::from(cfg).accept(stream).await
                        else {
                            return;
                        };
                        let _ = builder.serve_connection(TokioIo::new(s), svc).await;
                    }
                    None => {
                        let _ = builder.serve_connection(TokioIo::new(stream), svc).await;
                    }
                }
            });
        }
    });
    Introspection {
        addr,
        calls,
        arrived,
        release,
    }
}

/// A CA (its PEM) and a rustls server config for `localhost` with a certificate it signed.
fn ca_and_server() -> (String, Arc<rustls::ServerConfig>) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(vec![]).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["localhost".into()])
        .unwrap()
        .signed_by(&key, &ca, &ca_key)
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .unwrap();
    (ca.pem(), Arc::new(cfg))
}

/// The gateway's configuration: JWT routes over `jwks.json`, introspection routes over the
/// `op` endpoint (plain), `op-tls` (TLS, `ca.pem`), `down` (nothing listening, closed and open)
/// and `one` (`max_concurrent = 1`).
fn config(op: SocketAddr, tls: SocketAddr, down: SocketAddr) -> String {
    let endpoint = |name: &str, url: String, extra: &str| {
        format!(
            "[[introspection]]\nname = \"{name}\"\nurl = \"{url}\"\nclient_id = \"gate\"\n\
             client_secret = \"s3cret\"\ntimeout = \"2s\"\n{extra}\n"
        )
    };
    let route = |name: &str, path: &str, extract: &str, extra: &str| {
        format!(
            "[[route]]\nname = \"{name}\"\nprefix = \"{path}\"\nupstream = \"store\"\n\
             platform = \"wechat\"\nextract = [{extract}]\n{extra}\n"
        )
    };
    let intro = |ep: &str| {
        format!(
            r#"{{ introspect = {{ header = "authorization", endpoint = "{ep}", pointer = "/appid" }} }}"#
        )
    };
    [
        PLAIN.to_string(),
        "[[upstream]]\nname = \"store\"\nurl = \"http://{up}\"\n".into(),
        endpoint("op", format!("http://{op}/introspect"), ""),
        endpoint("op-tls", format!("https://localhost:{}/introspect", tls.port()), "ca_file = \"ca.pem\""),
        endpoint("down", format!("http://{down}/introspect"), ""),
        endpoint("one", format!("http://{op}/introspect"), "max_concurrent = 1"),
        route(
            "jwt",
            "/jwt/",
            r#"{ jwt = { header = "authorization", claim = "/appid", keys = "jwks.json" } }, { query = "appid" }"#,
            "",
        ),
        route(
            "jwt-query",
            "/jwtq/",
            r#"{ jwt = { query = "access_token", claim = "/appid", keys = "jwks.json" } }"#,
            "",
        ),
        route("intro", "/intro/", &intro("op"), ""),
        route("intro-tls", "/tls/", &intro("op-tls"), ""),
        route("down-closed", "/down-closed/", &intro("down"), ""),
        route("down-open", "/down-open/", &intro("down"), "on_introspection_failure = \"open\""),
        route("one", "/one/", &intro("one"), ""),
    ]
    .concat()
}

struct Setup {
    g: Gateway,
    op: Introspection,
    tls: Introspection,
    keys: [Key; 3],
}

async fn setup() -> Setup {
    let (ca, server) = ca_and_server();
    let (op, tls) = (introspection(None).await, introspection(Some(server)).await);
    let keys = [Key::ed(), Key::es(), Key::rs()];
    let set = jwks(&[(&keys[0], "ed"), (&keys[1], "es"), (&keys[2], "rs")]);
    let text = config(op.addr, tls.addr, closed_port().await);
    let files: [(&str, &[u8]); 2] = [("jwks.json", &set), ("ca.pem", ca.as_bytes())];
    let g = start(&text, upstream().await, &files).await;
    Setup { g, op, tls, keys }
}

async fn bearer(g: &Gateway, path: &str, token: &str) -> Reply {
    let r = http::Request::get(format!("{}{path}", g.base))
        .header("authorization", format!("Bearer {token}"))
        .body(Full::default())
        .unwrap();
    send(&client(), r).await
}

fn assert_401(r: &Reply, code: &str) {
    assert_refused(r, 401, code);
    assert_eq!(
        r.headers["www-authenticate"],
        "Bearer error=\"invalid_token\""
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_tokens_are_verified_before_their_appid_is_looked_up() {
    let s = setup().await;
    let g = &s.g;
    for (k, kid) in s.keys.iter().zip(["ed", "es", "rs"]) {
        let t = k.token(kid, &claims(FILED));
        let r = bearer(g, "/jwt/qrcode", &t).await;
        assert_ok(&r);
        let seen = g.up.requests().pop().unwrap();
        // The upstream gets the token unchanged, and the filing.
        assert_eq!(seen.headers["authorization"], format!("Bearer {t}"));
        assert_eq!(filing_of(&seen.headers).as_deref(), Some(FILED_NUMBER));
    }
    let ed = &s.keys[0];
    let r = bearer(g, "/jwt/qrcode", &ed.token("ed", &claims(UNFILED_MP))).await;
    assert_refused(&r, 451, "not_filed");
    let expired = format!(r#"{{"appid":"{FILED}","exp":{}}}"#, now() - 60);
    assert_401(
        &bearer(g, "/jwt/x", &ed.token("ed", &expired)).await,
        "token_expired",
    );
    let early = format!(
        r#"{{"appid":"{FILED}","exp":{},"nbf":{}}}"#,
        now() + 600,
        now() + 300
    );
    assert_401(
        &bearer(g, "/jwt/x", &ed.token("ed", &early)).await,
        "token_invalid",
    );
    // Signed by a key the JWKS does not have, under a kid it does.
    let other = Key::ed();
    assert_401(
        &bearer(g, "/jwt/x", &other.token("ed", &claims(FILED))).await,
        "token_invalid",
    );
    // alg none; HS256 with the RSA key's public JWK as the secret (algorithm confusion).
    let body = b64(claims(FILED).as_bytes());
    let none = format!("{}.{body}.", b64(br#"{"alg":"none"}"#));
    assert_401(&bearer(g, "/jwt/x", &none).await, "token_invalid");
    let hs_head = b64(br#"{"alg":"HS256","kid":"rs"}"#);
    let secret = serde_json::to_vec(&s.keys[2].jwk("rs")).unwrap();
    let mac = ring::hmac::sign(
        &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &secret),
        format!("{hs_head}.{body}").as_bytes(),
    );
    let hs = format!("{hs_head}.{body}.{}", b64(mac.as_ref()));
    assert_401(&bearer(g, "/jwt/x", &hs).await, "token_invalid");
    // A repeated claim key: serde_json keeps the last, other stacks the first.
    let dup = format!(
        r#"{{"appid":"{FILED}","appid":"{UNFILED_MP}","exp":{}}}"#,
        now() + 600
    );
    assert_401(
        &bearer(g, "/jwt/x", &ed.token("ed", &dup)).await,
        "token_invalid",
    );
    // A number where the AppID should be.
    let number = format!(r#"{{"appid":2021,"exp":{}}}"#, now() + 600);
    assert_refused(
        &bearer(g, "/jwt/x", &ed.token("ed", &number)).await,
        400,
        "identifier_invalid",
    );
    // No token: the route's on_missing.
    assert_refused(
        &get(&client(), &format!("{}/jwt/x", g.base)).await,
        400,
        "identifier_missing",
    );
    assert_eq!(
        g.up.requests().len(),
        3,
        "only the three valid filed tokens reached the upstream"
    );
    let cause = |c: &str| format!("icpgate_token_failures_total{{cause=\"{c}\",route=\"jwt\"}}");
    assert_eq!(metric(g, &cause("expired")).await, 1.0);
    assert_eq!(metric(g, &cause("not_yet_valid")).await, 1.0);
    assert_eq!(metric(g, &cause("signature")).await, 1.0);
    assert_eq!(metric(g, &cause("algorithm")).await, 1.0);
    assert_eq!(metric(g, &cause("malformed")).await, 1.0);
    assert_eq!(metric(g, &cause("claims")).await, 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_appid_and_a_query_appid_must_agree() {
    let s = setup().await;
    let t = s.keys[0].token("ed", &claims(FILED));
    let r = bearer(&s.g, &format!("/jwt/x?appid={UNFILED_MP}"), &t).await;
    assert_refused(&r, 400, "ambiguous_request");
    assert_ok(&bearer(&s.g, &format!("/jwt/x?appid={FILED}"), &t).await);
    // The token in the query on a query route; a second token in the header is ambiguous.
    let url = format!("{}/jwtq/x?access_token={t}", s.g.base);
    assert_ok(&get(&client(), &url).await);
    let other = s.keys[1].token("es", &claims(FILED));
    let r = bearer(&s.g, &format!("/jwtq/x?access_token={t}"), &other).await;
    assert_refused(&r, 400, "ambiguous_request");
    let twice = format!("{}/jwtq/x?access_token={t}&ACCESS_TOKEN={other}", s.g.base);
    assert_refused(&get(&client(), &twice).await, 400, "ambiguous_request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn introspection_answers_are_cached_shared_and_read_strictly() {
    let s = setup().await;
    let g = &s.g;
    let token = format!("op-active-{FILED}");
    let r = bearer(g, "/intro/qrcode", &token).await;
    assert_ok(&r);
    assert_eq!(
        filing_of(&g.up.requests()[0].headers).as_deref(),
        Some(FILED_NUMBER)
    );
    assert_ok(&bearer(g, "/intro/qrcode", &token).await);
    assert_eq!(
        s.op.calls.load(Ordering::SeqCst),
        1,
        "the second answer came from the cache"
    );
    assert_eq!(
        metric(
            g,
            r#"icpgate_introspection_cache_total{endpoint="op",result="hit"}"#
        )
        .await,
        1.0
    );
    assert_refused(
        &bearer(g, "/intro/x", &format!("op-active-{UNFILED_MP}")).await,
        451,
        "not_filed",
    );
    assert_401(
        &bearer(g, "/intro/x", "op-inactive").await,
        "token_inactive",
    );
    assert_401(
        &bearer(g, "/intro/x", &format!("op-expired-{FILED}")).await,
        "token_expired",
    );
    assert_401(&bearer(g, "/intro/x", "op-dup").await, "token_invalid");
    assert_refused(
        &bearer(g, "/intro/x", "op-number").await,
        400,
        "identifier_invalid",
    );
    // Garbage from the endpoint is a failure: this route fails closed.
    let r = bearer(g, "/intro/x", "op-garbage").await;
    assert_refused(&r, 503, "introspection_unavailable");
    // Concurrent requests for one new token share one call.
    let before = s.op.calls.load(Ordering::SeqCst);
    let t = format!("op-hold-{FILED}");
    let many: Vec<_> = (0..4)
        .map(|_| {
            let (base, t) = (g.base.clone(), t.clone());
            tokio::spawn(async move {
                let r = http::Request::get(format!("{base}/intro/x"))
                    .header("authorization", format!("Bearer {t}"))
                    .body(Full::default())
                    .unwrap();
                send(&client(), r).await.status
            })
        })
        .collect();
    s.op.arrived.notified().await;
    let joined = r#"icpgate_introspection_cache_total{endpoint="op",result="joined"}"#;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while metric(g, joined).await < 3.0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the others did not join the call"
        );
        tokio::task::yield_now().await;
    }
    s.op.release.add_permits(1);
    for h in many {
        assert_eq!(h.await.unwrap(), 200);
    }
    assert_eq!(s.op.calls.load(Ordering::SeqCst), before + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_down_endpoint_follows_the_route_policy_and_a_full_endpoint_fails_at_once() {
    let s = setup().await;
    let g = &s.g;
    let token = format!("op-active-{FILED}");
    assert_refused(
        &bearer(g, "/down-closed/x", &token).await,
        503,
        "introspection_unavailable",
    );
    let r = bearer(g, "/down-open/x", &token).await;
    assert_ok(&r);
    let seen = g.up.requests().pop().unwrap();
    assert!(
        filing_of(&seen.headers).is_none(),
        "forwarded without a filing"
    );
    let open = r#"icpgate_requests_total{decision="pass",platform="none",reason="introspection_fail_open",route="down-open",status_class="2xx"}"#;
    assert_eq!(metric(g, open).await, 1.0);
    let unreachable =
        r#"icpgate_introspection_requests_total{endpoint="down",result="unreachable"}"#;
    assert_eq!(metric(g, unreachable).await, 2.0);
    // `one` allows one call at a time: a second token while the first is held fails at once.
    let held = {
        let base = g.base.clone();
        tokio::spawn(async move {
            let r = http::Request::get(format!("{base}/one/x"))
                .header("authorization", format!("Bearer op-hold-{FILED}"))
                .body(Full::default())
                .unwrap();
            send(&client(), r).await.status
        })
    };
    s.op.arrived.notified().await;
    let r = bearer(g, "/one/x", &format!("op-active-{FILED}")).await;
    assert_refused(&r, 503, "introspection_unavailable");
    let overloaded = r#"icpgate_introspection_requests_total{endpoint="one",result="overloaded"}"#;
    assert_eq!(metric(g, overloaded).await, 1.0);
    s.op.release.add_permits(1);
    assert_eq!(held.await.unwrap(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn introspection_over_tls_with_a_configured_ca() {
    let s = setup().await;
    assert_ok(&bearer(&s.g, "/tls/x", &format!("op-active-{FILED}")).await);
    assert_eq!(s.tls.calls.load(Ordering::SeqCst), 1);
    assert_eq!(s.op.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_rereads_the_jwks_and_a_bad_one_fails_it() {
    let s = setup().await;
    let g = &s.g;
    let fresh = Key::es();
    let t = fresh.token("new", &claims(FILED));
    assert_401(&bearer(g, "/jwt/x", &t).await, "token_invalid");
    let jwks_path = g.dir.path().join("jwks.json");
    std::fs::write(&jwks_path, jwks(&[(&fresh, "new")])).unwrap();
    let report = g.running.reload(None).await;
    assert!(report.ok(), "{report:?}");
    assert_ok(&bearer(g, "/jwt/x", &t).await);
    // The replaced keys fail to verify.
    let old = s.keys[0].token("ed", &claims(FILED));
    assert_401(&bearer(g, "/jwt/x", &old).await, "token_invalid");
    // A symmetric key fails the reload, naming the file and the key; the running keys stay.
    std::fs::write(
        &jwks_path,
        br#"{"keys":[{"kty":"oct","kid":"hmac","k":"c2VjcmV0"}]}"#,
    )
    .unwrap();
    let report = g.running.reload(None).await;
    let error = report.error.clone().unwrap_or_default();
    assert!(!report.ok(), "{report:?}");
    assert!(
        error.contains("jwks.json") && error.contains("keys[0] (kid \"hmac\")"),
        "{error}"
    );
    assert_ok(&bearer(g, "/jwt/x", &t).await);
}
