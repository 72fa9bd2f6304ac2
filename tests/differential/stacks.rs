//! The real upstream stacks of the differential suite, started once per test binary: the PHP
//! built-in server (`router.php`), Node (`reader.js`, when installed), Go (`reader.go`, built
//! with `go build` when `go` is installed), the Python tee and reader (`readers.py`) and nginx
//! in front of them (`nginx.conf.in`).
//!
//! Owns the child processes: each is killed and reaped on drop, and each also exits when its
//! stdin closes, so a failing test leaves nothing running. Ports are the kernel's: a child
//! binds :0 and prints its port, or the test binds :0, releases it and passes it on, then
//! polls readiness by connecting (no sleeps for synchronisation).
//! Missing tools: under `CI` the test fails; otherwise it is skipped with a printed reason
//! (without `go` it reads without Go instead, saying so).

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A child process killed and reaped on drop.
pub struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub struct Stacks {
    /// nginx: what the gateway forwards to.
    pub nginx: SocketAddr,
    /// The Python tee behind nginx, which relays to every reader and counts requests.
    pub tee: SocketAddr,
    /// The application readers the tee relays to ("python", "php", maybe "node" and "go").
    pub readers: Vec<&'static str>,
    pub work: tempfile::TempDir,
    _children: Vec<Killed>,
}

fn here() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/differential")
}

fn on_path(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Fails under CI; otherwise prints why the suite is skipped.
pub fn missing(what: &str) {
    assert!(
        std::env::var_os("CI").is_none(),
        "{what} (required in CI: .ci/run installs it)"
    );
    eprintln!("SKIPPED differential suite: {what}");
}

/// The nginx binary, python3 and php, or the reason one is missing.
pub fn tools() -> Result<PathBuf, String> {
    let nginx = ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .ok_or("nginx is not installed (apt-get install nginx-light)")?;
    for (tool, package) in [("python3", "python3"), ("php", "php-cli")] {
        if !on_path(tool) {
            return Err(format!(
                "{tool} is not installed (apt-get install {package})"
            ));
        }
    }
    Ok(nginx)
}

fn spawn(cmd: &mut Command, log: &Path, name: &str) -> Child {
    let log = std::fs::File::create(log).expect("log file");
    cmd.stdin(Stdio::piped())
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("start {name}: {e}"))
}

/// Reads the first stdout line of `child` (the JSON with its port).
fn port_line(child: &mut Child, key: &str) -> u16 {
    let out = child.stdout.take().expect("piped stdout");
    let mut line = String::new();
    BufReader::new(out).read_line(&mut line).expect("read port");
    let v: serde_json::Value = serde_json::from_str(&line)
        .unwrap_or_else(|e| panic!("{key} did not report its port ({e}): {line:?}"));
    v[key].as_u64().expect("port") as u16
}

/// A port the kernel picked, released for a child to bind.
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind :0");
    l.local_addr().expect("addr").port()
}

/// Waits until `addr` accepts a connection; panics with `log`'s text after 20 s. The pause
/// between attempts only spaces them out.
async fn ready(addr: SocketAddr, log: &Path, name: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut pause = Duration::from_millis(1);
    while Instant::now() < deadline {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return;
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(100));
    }
    panic!(
        "{name} did not come up on {addr}: {}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

/// Builds `reader.go` into `w` and starts it; `None` without `go` outside CI.
fn go_reader(w: &Path) -> Option<Child> {
    if !on_path("go") {
        assert!(
            std::env::var_os("CI").is_none(),
            "go is not installed (required in CI: .ci/run installs golang-go)"
        );
        eprintln!(
            "differential suite: go is not installed (apt-get install golang-go); reading without Go"
        );
        return None;
    }
    let bin = w.join("go-reader");
    let mut build = Command::new("go");
    // One file of the standard library only: no module, nothing to download.
    build
        .arg("build")
        .arg("-o")
        .arg(&bin)
        .arg(here().join("reader.go"))
        .env("GO111MODULE", "off")
        .env("GOFLAGS", "")
        .current_dir(w);
    if std::env::var_os("HOME").is_none() && std::env::var_os("GOCACHE").is_none() {
        build.env("GOCACHE", w.join("gocache"));
    }
    let out = build.output().expect("run go build");
    assert!(
        out.status.success(),
        "go build reader.go: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(spawn(
        Command::new(&bin).stdout(Stdio::piped()),
        &w.join("go.log"),
        "go reader",
    ))
}

pub async fn start(nginx_bin: &Path) -> Stacks {
    let work = tempfile::tempdir().expect("tempdir");
    let w = work.path();
    let mut children = Vec::new();
    let mut readers = vec!["python", "php"];

    let docroot = w.join("docroot");
    std::fs::create_dir(&docroot).expect("docroot");
    let php_port = free_port();
    let php = spawn(
        Command::new("php")
            .args([
                "-d",
                "upload_max_filesize=16M",
                "-d",
                "post_max_size=16M",
                "-S",
            ])
            .arg(format!("127.0.0.1:{php_port}"))
            .arg("-t")
            .arg(&docroot)
            .arg(here().join("router.php"))
            .stdout(Stdio::null()),
        &w.join("php.log"),
        "php",
    );
    children.push(Killed(php));

    let mut node_port = 0;
    if on_path("node") {
        let mut node = spawn(
            Command::new("node")
                .arg(here().join("reader.js"))
                .stdout(Stdio::piped()),
            &w.join("node.log"),
            "node",
        );
        node_port = port_line(&mut node, "node");
        children.push(Killed(node));
        readers.push("node");
    } else {
        eprintln!("differential suite: node is not installed; reading with Python and PHP only");
    }

    let mut go_port = 0;
    if let Some(mut go) = go_reader(w) {
        go_port = port_line(&mut go, "go");
        children.push(Killed(go));
        readers.push("go");
    }

    let mut py = spawn(
        Command::new("python3")
            .arg(here().join("readers.py"))
            .arg(php_port.to_string())
            .arg(node_port.to_string())
            .arg(go_port.to_string())
            .stdout(Stdio::piped()),
        &w.join("python.log"),
        "python3",
    );
    let tee_port = port_line(&mut py, "tee");
    children.push(Killed(py));

    let nginx_port = free_port();
    let conf = std::fs::read_to_string(here().join("nginx.conf.in"))
        .expect("nginx.conf.in")
        .replace("@WORK@", &w.display().to_string())
        .replace("@PORT@", &nginx_port.to_string())
        .replace("@TEE@", &tee_port.to_string());
    std::fs::write(w.join("nginx.conf"), conf).expect("write nginx.conf");
    let nginx = spawn(
        Command::new(nginx_bin)
            .arg("-p")
            .arg(w)
            .arg("-c")
            .arg(w.join("nginx.conf"))
            .stdout(Stdio::null()),
        &w.join("nginx.stderr"),
        "nginx",
    );
    children.push(Killed(nginx));

    let nginx = SocketAddr::from(([127, 0, 0, 1], nginx_port));
    ready(nginx, &w.join("error.log"), "nginx").await;
    ready(
        SocketAddr::from(([127, 0, 0, 1], php_port)),
        &w.join("php.log"),
        "php -S",
    )
    .await;
    Stacks {
        nginx,
        tee: SocketAddr::from(([127, 0, 0, 1], tee_port)),
        readers,
        work,
        _children: children,
    }
}
