//! The configurations shipped in deploy/ (container image default, docker-compose, Kubernetes
//! ConfigMap) pass `icpgate check-config` once the files they name exist, as they do in the
//! image or pod. Each absolute path is moved into a temporary folder first; a path a test does
//! not know fails the check, so a new one has to be added here.

use std::path::Path;
use std::process::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn read(rel: &str) -> String {
    std::fs::read_to_string(Path::new(ROOT).join(rel)).unwrap()
}

/// Writes `text` with each (absolute path, replacement) swapped into `dir` and runs
/// check-config on it; returns its stdout.
fn check(dir: &Path, text: &str, moves: &[(&str, String)]) -> String {
    let mut text = text.to_string();
    for (from, to) in moves {
        assert!(text.contains(from), "{from} is missing from the config");
        text = text.replace(from, to);
    }
    let path = dir.join("icpgate.toml");
    std::fs::write(&path, text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_icpgate"))
        .arg("check-config")
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn feed_key(dir: &Path, prefix: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_icpgate"))
        .args(["feed", "keygen", "--out"])
        .arg(prefix)
        .output()
        .unwrap();
    assert!(out.status.success());
}

#[test]
fn the_image_default_config_validates() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    std::fs::create_dir(&cache).unwrap();
    let sample = format!("{ROOT}/config/sample-registry.ndjson");
    let out = check(
        dir.path(),
        &read("deploy/docker/icpgate.toml"),
        &[
            ("/var/cache/icpgate", cache.display().to_string()),
            ("/usr/share/icpgate/sample-registry.ndjson", sample),
        ],
    );
    assert!(out.contains("3 routes"), "{out}");
}

#[test]
fn the_compose_gateway_config_validates() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    std::fs::create_dir(&cache).unwrap();
    let keys = dir.path().join("keys");
    feed_key(&keys, &keys.join("feed"));
    check(
        dir.path(),
        &read("deploy/compose/icpgate.toml"),
        &[
            ("/var/cache/icpgate", cache.display().to_string()),
            ("/var/lib/icpgate/keys", keys.display().to_string()),
        ],
    );
}

/// The TOML inside the ConfigMap's `icpgate.toml: |` block, dedented.
fn configmap_toml(yaml: &str) -> String {
    let mut lines = yaml.lines().skip_while(|l| l.trim() != "icpgate.toml: |");
    let head = lines
        .next()
        .expect("an icpgate.toml block in the ConfigMap");
    let indent = head.len() - head.trim_start().len() + 2;
    let mut out = String::new();
    for l in lines {
        if !l.trim().is_empty() && l.len() - l.trim_start().len() < indent {
            break;
        }
        out.push_str(l.get(indent..).unwrap_or(""));
        out.push('\n');
    }
    out
}

#[test]
fn the_kubernetes_configmap_config_validates() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    std::fs::create_dir(&cache).unwrap();
    let secrets = dir.path().join("secrets");
    std::fs::create_dir(&secrets).unwrap();
    std::fs::write(secrets.join("admin.token"), "t0ken\n").unwrap();
    // feed.pub sits beside icpgate.toml, as the ConfigMap's two keys do in the pod.
    feed_key(dir.path(), &dir.path().join("feed"));
    let text = configmap_toml(&read("deploy/k8s/configmap.yaml"));
    let out = check(
        dir.path(),
        &text,
        &[
            ("/var/cache/icpgate", cache.display().to_string()),
            ("/run/secrets/icpgate", secrets.display().to_string()),
        ],
    );
    assert!(out.contains("3 routes"), "{out}");
}
