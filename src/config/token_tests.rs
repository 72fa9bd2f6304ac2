//! Validation of the token extractors and `[[introspection]]` endpoints: every refusal names
//! its key and line.

use super::*;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::signature::{Ed25519KeyPair, KeyPair};

/// A config directory with a snapshot, a one-key Ed25519 JWKS and one introspection endpoint.
fn base(dir: &Path) -> String {
    std::fs::write(dir.join("snap.ndjson"), "").unwrap();
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new()).unwrap();
    let key = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
    let x = URL_SAFE_NO_PAD.encode(key.public_key().as_ref());
    let jwks = format!(r#"{{"keys":[{{"kty":"OKP","crv":"Ed25519","kid":"k1","x":"{x}"}}]}}"#);
    std::fs::write(dir.join("jwks.json"), jwks).unwrap();
    r#"[[listener]]
name = "public"
address = "127.0.0.1:0"

[index]
snapshot = "snap.ndjson"

[[upstream]]
name = "store"
url = "http://127.0.0.1:9"

[[introspection]]
name = "host"
url = "http://127.0.0.1:9/introspect"
client_id = "gw"
client_secret = "s"
"#
    .to_string()
}

fn route(extract: &str, extra: &str) -> String {
    format!(
        r#"
[[route]]
name = "api"
path = "/api"
upstream = "store"
platform = "wechat"
extract = [{extract}]
{extra}
"#
    )
}

fn parse(text: &str, dir: &Path) -> Result<Config, Vec<ConfigError>> {
    Config::parse(text, &dir.join("gw.toml")).map_err(|e| e.0)
}

/// The one error of a config that must fail, with its key and line checked.
fn refused(text: &str, dir: &Path, key: &str, says: &str) {
    let Err(e) = parse(text, dir) else {
        panic!("the config must fail:\n{text}")
    };
    let hit = e.iter().find(|e| e.key.starts_with(key));
    let hit = hit.unwrap_or_else(|| panic!("no error for {key}: {e:?}"));
    assert!(hit.line.is_some(), "{hit:?}");
    assert!(hit.message.contains(says), "{hit:?}");
}

#[test]
fn jwt_and_introspect_routes_validate() {
    let dir = tempfile::tempdir().unwrap();
    let jwt = r#"{ jwt = { header = "authorization", claim = "/appid", keys = "jwks.json" } }"#;
    let intro =
        r#"{ introspect = { query = "access_token", endpoint = "host", pointer = "/appid" } }"#;
    let text = base(dir.path())
        + &route(jwt, "")
        + &route(intro, "on_introspection_failure = \"open\"").replace("\"api\"", "\"api2\"");
    let c = parse(&text, dir.path()).unwrap_or_else(|e| panic!("{e:?}"));
    assert!(c.routes.iter().all(|r| r.tokens));
}

#[test]
fn an_unknown_endpoint_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let intro = r#"{ introspect = { header = "authorization", endpoint = "nowhere", pointer = "/appid" } }"#;
    let text = base(dir.path()) + &route(intro, "");
    refused(
        &text,
        dir.path(),
        "route[0].extract[0].introspect",
        "nowhere",
    );
}

#[test]
fn a_failure_policy_needs_an_introspect_extractor() {
    let dir = tempfile::tempdir().unwrap();
    let text = base(dir.path())
        + &route(
            r#"{ query = "appid" }"#,
            "on_introspection_failure = \"open\"",
        );
    refused(
        &text,
        dir.path(),
        "route[0].on_introspection_failure",
        "no introspect extractor",
    );
}

#[test]
fn a_token_cannot_name_the_platform() {
    let dir = tempfile::tempdir().unwrap();
    let text = base(dir.path())
        + &route(r#"{ query = "appid" }"#, "")
            .replace(
                "platform = \"wechat\"",
                r#"platform_from = { jwt = { header = "authorization", claim = "/platform", keys = "jwks.json" } }"#,
            );
    refused(
        &text,
        dir.path(),
        "route[0].platform_from",
        "cannot come from a token",
    );
}

#[test]
fn an_upload_route_does_not_read_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let jwt = r#"{ jwt = { header = "authorization", claim = "/appid", keys = "jwks.json" } }"#;
    let text = base(dir.path())
        + &route(jwt, "upload = { field = \"package\" }").replace("platform = \"wechat\"\n", "");
    refused(
        &text,
        dir.path(),
        "route[0]",
        "upload routes do not read tokens",
    );
}

#[test]
fn an_unknown_introspection_key_names_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let text = base(dir.path()).replace("client_id = \"gw\"", "client_id = \"gw\"\nretries = 2")
        + &route(r#"{ query = "appid" }"#, "");
    let Err(e) = parse(&text, dir.path()) else {
        panic!("the config must fail")
    };
    assert!(e[0].message.contains("retries"), "{e:?}");
    assert_eq!(e[0].line, Some(16), "{e:?}");
}

#[test]
fn a_missing_or_bad_jwks_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let missing = r#"{ jwt = { header = "authorization", claim = "/appid", keys = "none.json" } }"#;
    let text = base(dir.path()) + &route(missing, "");
    refused(
        &text,
        dir.path(),
        "route[0].extract[0].jwt.keys",
        "none.json",
    );
    std::fs::write(
        dir.path().join("oct.json"),
        r#"{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}"#,
    )
    .unwrap();
    let oct = r#"{ jwt = { header = "authorization", claim = "/appid", keys = "oct.json" } }"#;
    let text = base(dir.path()) + &route(oct, "");
    refused(&text, dir.path(), "route[0].extract[0].jwt.keys", "oct");
}
