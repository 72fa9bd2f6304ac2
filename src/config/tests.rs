use super::*;

fn base(dir: &Path) -> String {
    std::fs::write(dir.join("snap.ndjson"), "").unwrap();
    r#"[[listener]]
name = "public"
address = "127.0.0.1:0"

[index]
snapshot = "snap.ndjson"

[[upstream]]
name = "store"
url = "http://127.0.0.1:9"

[[route]]
name = "android"
path = "/apps/{package}"
upstream = "store"
platform = "android"
extract = [{ path = "package" }]
"#
    .to_string()
}

fn errors(text: &str, dir: &Path) -> Vec<ConfigError> {
    match Config::parse(text, &dir.join("gw.toml")) {
        Ok(_) => panic!("config should fail:\n{text}"),
        Err(e) => e.0,
    }
}

#[test]
fn a_minimal_config_validates_with_documented_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let c = Config::parse(&base(dir.path()), &dir.path().join("gw.toml")).unwrap();
    assert_eq!(c.routes.len(), 1);
    assert_eq!(c.limits.max_body_bytes, 1024 * 1024);
    assert_eq!(c.limits.header_read_timeout, Duration::from_secs(10));
    assert_eq!(c.index.snapshot, Some(dir.path().join("snap.ndjson")));
    assert_eq!(c.admin.addr.to_string(), "127.0.0.1:9901");
    assert_eq!(c.default, DefaultAction::NotFound);
    assert_eq!(c.filing_header.as_str(), "icp-filing-number");
    assert!(c.index.bloom, "the pre-filter is on unless turned off");
}

#[test]
fn unknown_key_names_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let text = base(dir.path()).replace("name = \"store\"", "name = \"store\"\nretries = 3");
    let e = errors(&text, dir.path());
    assert_eq!(e[0].line, Some(10), "{e:?}");
    assert!(e[0].message.contains("unknown field `retries`"), "{e:?}");
    assert!(e[0].key.starts_with("upstream[0]"), "{e:?}");
}

#[test]
fn semantic_errors_are_all_reported_with_lines() {
    let dir = tempfile::tempdir().unwrap();
    let text = base(dir.path())
        .replace("127.0.0.1:0", "127.0.0.1:http")
        .replace("upstream = \"store\"", "upstream = \"shop\"")
        .replace(
            "extract = [{ path = \"package\" }]",
            "extract = [{ path = \"pkg\" }, { json = \"app\" }]\nmode = \"audit\"",
        )
        + "\n[listener.tls]\ncert = \"missing.pem\"\nkey = \"missing.key\"\n";
    let e = errors(&text, dir.path());
    let show: Vec<String> = e.iter().map(|e| e.to_string()).collect();
    let find = |key: &str| {
        e.iter()
            .find(|x| x.key == key)
            .unwrap_or_else(|| panic!("no error for {key}: {show:#?}"))
    };
    assert_eq!(find("listener[0].address").line, Some(3));
    assert_eq!(find("route[0].upstream").line, Some(15));
    assert!(find("route[0].upstream").message.contains("shop"));
    assert!(find("route[0].extract[0].path")
        .message
        .contains("no capture named \"pkg\""));
    assert!(find("route[0].extract[1].json")
        .message
        .contains("JSON pointer"));
    assert!(find("route[0].mode").message.contains("\"audit\""));
    assert!(find("listener[0].tls.cert").message.contains("missing.pem"));
    assert!(show[0].starts_with(&dir.path().join("gw.toml").display().to_string()));
}

#[test]
fn bad_regex_and_bad_template_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let text = base(dir.path()).replace(
        "path = \"/apps/{package}\"",
        "regex = \"^/apps/(?P<package>[^/]+\"",
    );
    let e = errors(&text, dir.path());
    assert_eq!(e[0].key, "route[0].regex");
    assert!(e[0].message.contains("bad regex"));
    assert!(
        !e[0].message.contains('\n'),
        "one line per problem: {:?}",
        e[0]
    );
    let text = base(dir.path()).replace("/apps/{package}", "/apps/{pack-age}");
    assert_eq!(errors(&text, dir.path())[0].key, "route[0].path");
}

#[test]
fn route_without_upstream_and_default_forward_without_upstream() {
    let dir = tempfile::tempdir().unwrap();
    let text = base(dir.path()).replace("upstream = \"store\"\nplatform", "platform")
        + "\n[default]\naction = \"forward\"\n";
    let e = errors(&text, dir.path());
    assert!(
        e.iter()
            .any(|x| x.message.contains("missing field `upstream`")),
        "{e:?}"
    );
    let text = base(dir.path()) + "\n[default]\naction = \"forward\"\n";
    let e = errors(&text, dir.path());
    assert_eq!(e[0].key, "default.upstream");
}

#[test]
fn path_templates_compile_to_anchored_captures() {
    let dir = tempfile::tempdir().unwrap();
    let text = base(dir.path()).replace(
        "/apps/{package}",
        "/v1/{platform}/apps/{package}/update.json",
    );
    let c = Config::parse(&text, &dir.path().join("gw.toml")).unwrap();
    let PathMatcher::Regex(re) = &c.routes[0].matcher else {
        panic!()
    };
    let path = "/v1/android/apps/com.a.b/update.json";
    let caps = re.captures(path).unwrap();
    let package = caps.iter().find(|c| c.0 == "package").unwrap();
    assert_eq!(&path[package.1.clone()], "com.a.b");
    assert!(!re.is_match("/v1/android/apps/com.a.b/updateXjson"));
    assert!(!re.is_match("/v1/android/apps/a/b/update.json"));
}

#[test]
fn upload_routes_validate_their_keys_with_lines() {
    let dir = tempfile::tempdir().unwrap();
    let upload_route = "\n[[route]]\nname = \"up\"\nmethods = [\"POST\"]\npath = \"/up/{package}\"\nupstream = \"store\"\nextract = [{ path = \"package\" }, { form = \"package\" }]\nupload = { field = \"file\", max_bytes = \"256MiB\" }\n";
    let c = Config::parse(
        &(base(dir.path()) + upload_route),
        &dir.path().join("gw.toml"),
    )
    .unwrap();
    let up = c.routes[1].upload.as_ref().unwrap();
    assert_eq!(up.max_bytes, 256 << 20);
    assert!(up.require_signer, "signer required by default");
    assert!(up.verify_digests, "content digests verified by default");
    assert_eq!(up.raw_types, DEFAULT_RAW_TYPES);
    assert_eq!(c.routes[1].platform, PlatformSpec::Package);
    assert_eq!(c.upload.memory_threshold, 1 << 20);
    assert_eq!(c.upload.spool_dir, std::env::temp_dir());

    let bad = base(dir.path())
        + "\n[upload]\nspool_dir = \"no-such-dir\"\nmemory_threshold = \"1TiB\"\n"
        + &upload_route
            .replace(
                "{ form = \"package\" }",
                "{ form = \"file\" }, { json = \"/id\" }",
            )
            .replace(
                "max_bytes = \"256MiB\"",
                "max_bytes = 0, raw_types = [\"zip\"]",
            )
            .replace(
                "upstream = \"store\"\nextract",
                "upstream = \"store\"\nplatform = \"wechat\"\nextract",
            );
    let e = errors(&bad, dir.path());
    let show: Vec<String> = e.iter().map(|e| e.to_string()).collect();
    let find = |key: &str| {
        e.iter()
            .find(|x| x.key == key)
            .unwrap_or_else(|| panic!("no error for {key}: {show:#?}"))
    };
    assert!(find("upload.spool_dir").message.contains("no-such-dir"));
    let line_of = |prefix: &str| {
        bad.lines()
            .position(|l| l.starts_with(prefix))
            .map(|i| i + 1)
    };
    assert_eq!(find("upload.spool_dir").line, line_of("spool_dir"));
    assert!(find("upload.memory_threshold")
        .message
        .contains("unknown unit"));
    assert!(find("route[1].extract[1].form")
        .message
        .contains("package field"));
    assert!(find("route[1].extract[2].json")
        .message
        .contains("upload route"));
    assert!(find("route[1].upload.max_bytes")
        .message
        .contains("greater than 0"));
    assert_eq!(find("route[1].upload.max_bytes").line, line_of("upload = "));
    assert!(find("route[1].upload.raw_types[0]")
        .message
        .contains("content type"));
    assert!(find("route[1].platform")
        .message
        .contains("android, ios or harmony"));

    // Without `upload`, a route still needs a platform and an extractor.
    let plain = base(dir.path()).replace(
        "platform = \"android\"\nextract = [{ path = \"package\" }]\n",
        "",
    );
    let e = errors(&plain, dir.path());
    assert!(
        e.iter()
            .any(|x| x.message.contains("exactly one of platform")),
        "{e:?}"
    );
    assert!(e.iter().any(|x| x.key == "route[0].extract"), "{e:?}");
}

#[test]
fn every_shape_problem_is_reported_with_the_semantic_ones() {
    let dir = tempfile::tempdir().unwrap();
    let text = base(dir.path())
        .replace("name = \"public\"", "name = \"public\"\nbacklog = 5")
        .replace("127.0.0.1:0", "127.0.0.1:http")
        .replace(
            "name = \"store\"",
            "name = \"store\"\nconnect_timeout = 5\nretries = 3",
        )
        + "\n[bogus]\nx = 1\n";
    let e = errors(&text, dir.path());
    let keys: Vec<(&str, Option<usize>)> = e.iter().map(|e| (e.key.as_str(), e.line)).collect();
    assert_eq!(
        keys,
        vec![
            ("listener[0].backlog", Some(3)),
            ("listener[0].address", Some(4)),
            ("upstream[0].connect_timeout", Some(11)),
            ("upstream[0].retries", Some(12)),
            ("bogus", Some(22)),
        ],
        "{e:#?}"
    );
    assert!(e[0].message.contains("unknown field `backlog`"));
    assert!(e[2]
        .message
        .contains("invalid type: integer `5`, expected a string"));
    assert!(e[4].message.contains("unknown section `bogus`"));
}

#[test]
fn missing_sections_and_required_keys_name_their_key_once() {
    let dir = tempfile::tempdir().unwrap();
    let text = base(dir.path()).replace("[index]\nsnapshot = \"snap.ndjson\"\n", "");
    let e = errors(&text, dir.path());
    assert_eq!((e[0].key.as_str(), e[0].line), ("index", None), "{e:?}");
    assert_eq!(e[0].message, "missing section [index]");
    // A required key of the wrong type is one problem, not also a missing field.
    // An array section written as a plain table is named as such, with the other problems.
    let text = base(dir.path())
        .replace("[[upstream]]", "[upstream]")
        .replace("name = \"public\"", "name = \"public\"\nbacklog = 5");
    let e = errors(&text, dir.path());
    let keys: Vec<&str> = e.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(keys, ["listener[0].backlog", "upstream"], "{e:?}");
    assert!(e[1].message.contains("write [[upstream]]"), "{e:?}");
    let text = base(dir.path()).replace("upstream = \"store\"", "upstream = 5");
    let e = errors(&text, dir.path());
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(
        (e[0].key.as_str(), e[0].line),
        ("route[0].upstream", Some(15))
    );
}

#[test]
fn audit_path_needs_an_existing_folder_and_must_not_be_one() {
    let dir = tempfile::tempdir().unwrap();
    let with = |path: &str| base(dir.path()) + &format!("\n[audit]\npath = {path:?}\n");
    let ok = Config::parse(&with("audit.jsonl"), &dir.path().join("gw.toml")).unwrap();
    assert_eq!(ok.audit_path, Some(dir.path().join("audit.jsonl")));
    for (path, says) in [
        ("no-such-dir/a.jsonl", "does not exist"),
        (".", "is a folder"),
    ] {
        let e = errors(&with(path), dir.path());
        assert_eq!(
            (e[0].key.as_str(), e[0].line),
            ("audit.path", Some(20)),
            "{e:?}"
        );
        assert!(e[0].message.contains(says), "{path}: {e:?}");
    }
}

#[test]
fn listener_path_mode_and_route_url_headers() {
    let dir = tempfile::tempdir().unwrap();
    let c = Config::parse(&base(dir.path()), &dir.path().join("gw.toml")).unwrap();
    assert_eq!(c.listeners[0].path, PathMode::Refuse, "refuse by default");
    assert!(
        !c.routes[0].allow_url_headers,
        "URL headers removed by default"
    );
    let text = base(dir.path())
        .replace(
            "address = \"127.0.0.1:0\"",
            "address = \"127.0.0.1:0\"\npath = \"normalize\"",
        )
        .replace(
            "extract = [{ path = \"package\" }]",
            "extract = [{ path = \"package\" }]\nallow_url_headers = true",
        );
    let c = Config::parse(&text, &dir.path().join("gw.toml")).unwrap();
    assert_eq!(c.listeners[0].path, PathMode::Normalize);
    assert!(c.routes[0].allow_url_headers);
    let text = base(dir.path()).replace(
        "address = \"127.0.0.1:0\"",
        "address = \"127.0.0.1:0\"\npath = \"normalise\"",
    );
    let e = errors(&text, dir.path());
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(
        (e[0].key.as_str(), e[0].line),
        ("listener[0].path", Some(4))
    );
    assert!(e[0].message.contains("\"normalise\""), "{e:?}");
}

/// `base` with the snapshot replaced by a feed (`extra` lines added to `[feed]`).
fn with_feed(dir: &Path, extra: &str) -> String {
    let key = "11".repeat(32);
    base(dir).replace("snapshot = \"snap.ndjson\"", "")
        + &format!("\n[feed]\nurl = \"http://127.0.0.1:9/feed\"\npublic_keys = [\"{key}\"]\ncache_dir = \"cache\"\n{extra}\n")
}

#[test]
fn feed_instance_defaults_to_the_host_name_and_is_validated() {
    let dir = tempfile::tempdir().unwrap();
    let ua = |text: &str| {
        let c = Config::parse(text, &dir.path().join("gw.toml")).unwrap_or_else(|e| panic!("{e}"));
        c.feed.unwrap().user_agent.to_str().unwrap().to_string()
    };
    let version = env!("CARGO_PKG_VERSION");
    let host = gethostname::gethostname().to_string_lossy().into_owned();
    let default = ua(&with_feed(dir.path(), ""));
    assert!(
        default.starts_with(&format!("icpgate/{version} (")),
        "{default}"
    );
    if !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-_:".contains(c))
    {
        assert_eq!(default, format!("icpgate/{version} ({host})"));
    }
    let named = ua(&with_feed(dir.path(), "instance = \"edge-7.bj:a\""));
    assert_eq!(named, format!("icpgate/{version} (edge-7.bj:a)"));
    for bad in ["", "two words", "a(b)"] {
        let text = with_feed(dir.path(), &format!("instance = \"{bad}\""));
        let e = errors(&text, dir.path());
        assert_eq!(e[0].key, "feed.instance", "{e:?}");
        assert!(e[0].line.is_some(), "{e:?}");
    }
}

#[test]
fn access_log_is_off_unless_configured_and_its_path_is_checked_like_audit_path() {
    let dir = tempfile::tempdir().unwrap();
    let gw = dir.path().join("gw.toml");
    assert_eq!(
        Config::parse(&base(dir.path()), &gw).unwrap().access_log,
        None
    );
    let with = |path: &str| base(dir.path()) + &format!("\n[access_log]\npath = {path:?}\n");
    let c = Config::parse(&with("-"), &gw).unwrap();
    assert_eq!(c.access_log, Some(LogTarget::Stdout));
    let c = Config::parse(&with("logs.jsonl"), &gw).unwrap();
    assert_eq!(
        c.access_log,
        Some(LogTarget::File(dir.path().join("logs.jsonl")))
    );
    for (path, says) in [
        ("no-such-dir/a.jsonl", "does not exist"),
        (".", "is a folder"),
    ] {
        let e = errors(&with(path), dir.path());
        assert_eq!(
            (e[0].key.as_str(), e[0].line),
            ("access_log.path", Some(20)),
            "{e:?}"
        );
        assert!(e[0].message.contains(says), "{path}: {e:?}");
    }
    let e = errors(
        &(base(dir.path()) + "\n[access_log]\npath = \"-\"\nformat = \"json\"\n"),
        dir.path(),
    );
    assert_eq!(e[0].key, "access_log.format", "{e:?}");
}

#[test]
fn server_workers_defaults_to_one_per_core_and_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let gw = dir.path().join("gw.toml");
    assert_eq!(Config::parse(&base(dir.path()), &gw).unwrap().workers, 0);
    let with = |n: usize| base(dir.path()) + &format!("\n[server]\nworkers = {n}\n");
    assert_eq!(Config::parse(&with(3), &gw).unwrap().workers, 3);
    let e = errors(&with(100_000), dir.path());
    assert_eq!(e[0].key, "server.workers", "{e:?}");
    assert!(e[0].line.is_some(), "{e:?}");
}

#[test]
fn console_recent_defaults_to_a_thousand_and_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let c = Config::parse(&base(dir.path()), &dir.path().join("gw.toml")).unwrap();
    assert_eq!(c.admin.console_recent, 1000);
    let off = base(dir.path()) + "\n[admin]\nconsole_recent = 0\n";
    let c = Config::parse(&off, &dir.path().join("gw.toml")).unwrap();
    assert_eq!(c.admin.console_recent, 0, "0 turns the ring off");
    let huge = base(dir.path()) + "\n[admin]\nconsole_recent = 100001\n";
    let e = errors(&huge, dir.path());
    assert_eq!(e[0].key, "admin.console_recent", "{e:?}");
    assert_eq!(e[0].line, Some(20), "{e:?}");
    assert!(e[0].message.contains("100000"), "{e:?}");
}
