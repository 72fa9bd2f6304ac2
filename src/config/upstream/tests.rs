use crate::config::{Config, ConfigError};
use std::time::Duration;

fn parse(upstream_extra: &str, url: &str) -> Result<Config, Vec<ConfigError>> {
    super::parse_with_upstream(url, upstream_extra)
}

fn problem(extra: &str, url: &str) -> ConfigError {
    let Err(mut e) = parse(extra, url) else {
        panic!("{extra} should fail");
    };
    assert_eq!(e.len(), 1, "{e:?}");
    e.remove(0)
}

#[test]
fn without_servers_the_url_is_the_one_server() {
    let c = parse("", "http://10.0.0.5:8080/api").unwrap();
    let u = &c.upstreams[0];
    assert_eq!(u.servers.len(), 1);
    assert_eq!(u.servers[0].as_str(), "10.0.0.5:8080");
    assert_eq!((u.max_fails, u.fail_timeout), (1, Duration::from_secs(10)));
}

#[test]
fn servers_and_their_failure_rule_are_read() {
    let extra = "servers = [\"10.0.0.5:8080\", \"app-2.internal:8080\"]\nmax_fails = 3\nfail_timeout = \"30s\"";
    let c = parse(extra, "http://store.internal").unwrap();
    let u = &c.upstreams[0];
    let names: Vec<&str> = u.servers.iter().map(|s| s.as_str()).collect();
    assert_eq!(names, ["10.0.0.5:8080", "app-2.internal:8080"]);
    assert_eq!(
        u.authority.as_str(),
        "store.internal",
        "the url still names the Host"
    );
    assert_eq!((u.max_fails, u.fail_timeout), (3, Duration::from_secs(30)));
}

#[test]
fn a_bad_server_list_names_the_entry_and_the_problem() {
    for (servers, key, says) in [
        ("[]", "upstream[0].servers", "at least one server"),
        (
            "[\"10.0.0.5\"]",
            "upstream[0].servers[0]",
            "is not host:port",
        ),
        (
            "[\"http://10.0.0.5:80\"]",
            "upstream[0].servers[0]",
            "is not host:port",
        ),
        (
            "[\"10.0.0.5:80/x\"]",
            "upstream[0].servers[0]",
            "is not host:port",
        ),
        (
            "[\"u@10.0.0.5:80\"]",
            "upstream[0].servers[0]",
            "is not host:port",
        ),
        (
            "[\"a:1\", \"A:1\"]",
            "upstream[0].servers[1]",
            "listed twice",
        ),
    ] {
        let e = problem(&format!("servers = {servers}"), "http://store.internal");
        assert_eq!(e.key, key, "{servers}: {e:?}");
        assert!(e.message.contains(says), "{servers}: {e:?}");
        assert!(e.line.is_some(), "{servers}: {e:?}");
    }
}

#[test]
fn several_servers_need_an_http_url_and_a_positive_fail_timeout() {
    let e = problem("servers = [\"10.0.0.5:443\"]", "https://store.internal");
    assert_eq!(e.key, "upstream[0].servers");
    assert!(e.message.contains("http://"), "{e:?}");
    let e = problem("fail_timeout = \"0s\"", "http://10.0.0.5:80");
    assert_eq!(e.key, "upstream[0].fail_timeout");
    let many: Vec<String> = (0..65).map(|i| format!("\"10.0.0.{i}:80\"")).collect();
    let e = problem(&format!("servers = [{}]", many.join(",")), "http://s");
    assert!(e.message.contains("at most 64"), "{e:?}");
}
