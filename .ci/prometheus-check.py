#!/usr/bin/env python3
"""Checks deploy/prometheus and deploy/grafana against promtool and a real Prometheus.

1. Installs Debian's `prometheus` package (promtool, prometheus) when either is missing.
2. `promtool check rules` and `promtool test rules` on deploy/prometheus/.
3. Every PromQL expression of deploy/grafana/icpgate.json, with the dashboard variables
   replaced, parsed by promtool (as the expressions of a generated rules file).
4. The built gateway (target/debug/icpgate, `cargo build` when missing) started from the
   bundled demo configuration moved to free ports, a little traffic (filed and unfiled),
   and a Prometheus on a free port scraping it every second with the alerting rules loaded.
   Every dashboard query is then evaluated through the HTTP API until, within a deadline,
   none errors and the main panels (traffic, block ratio, latency, index) hold a number.

Everything it starts is stopped on exit. Usage: python3 .ci/prometheus-check.py
"""
import json
import math
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
RULES = os.path.join(ROOT, "deploy", "prometheus")
DASHBOARD = os.path.join(ROOT, "deploy", "grafana", "icpgate.json")
DEMO = os.path.join(ROOT, "config", "icpgate.toml")
BINARY = os.path.join(ROOT, "target", "debug", "icpgate")

# Panels that must show data once the gateway has seen traffic.
MAIN_PANELS = {
    "Requests by decision",
    "Block ratio",
    "Total latency p50 / p99",
    "Gateway-added latency p50 / p99",
    "Index revision",
    "Index age",
    "Index size",
}
# Grafana's variables, as a query over the last minute of every instance sees them.
VARIABLES = {"$__rate_interval": "1m", "$instance": ".*"}
DEADLINE_S = 120
FILED = "/v1/android/apps/io.github.benderblog.traintime_pda/update"
UNFILED = "/v1/android/apps/com.nobody.unfiled/update"


def step(msg):
    print(f"-- {msg}", flush=True)


def fail(msg):
    print(f"error: {msg}", file=sys.stderr, flush=True)
    sys.exit(1)


def ensure_prometheus():
    if shutil.which("promtool") and shutil.which("prometheus"):
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        fail("promtool/prometheus are missing and cannot be apt-get installed")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, stdout=subprocess.DEVNULL)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "prometheus"],
        check=True, env=env, stdout=subprocess.DEVNULL,
    )
    if not (shutil.which("promtool") and shutil.which("prometheus")):
        fail("the prometheus package did not provide promtool and prometheus")


def dashboard_queries():
    """(panel title, expression with the variables replaced) for every target."""
    with open(DASHBOARD, encoding="utf-8") as f:
        dash = json.load(f)
    out = []
    for panel in dash["panels"]:
        for t in panel.get("targets", []):
            expr = t["expr"]
            for var, value in VARIABLES.items():
                expr = expr.replace(var, value)
            if "$" in expr:
                fail(f"panel {panel['title']!r}: unreplaced variable in {expr}")
            out.append((panel["title"], expr))
    if not out:
        fail("the dashboard has no queries")
    return out


def parse_with_promtool(queries, tmp):
    """promtool parses each expression as a recording rule's."""
    path = os.path.join(tmp, "dashboard-queries.yml")
    with open(path, "w", encoding="utf-8") as f:
        f.write("groups:\n  - name: dashboard\n    rules:\n")
        for i, (_, expr) in enumerate(queries):
            f.write(f"      - record: dashboard:query_{i}\n        expr: {json.dumps(expr)}\n")
    r = subprocess.run(["promtool", "check", "rules", path], capture_output=True, text=True)
    if r.returncode != 0:
        fail(f"a dashboard query does not parse:\n{r.stdout}{r.stderr}")


def free_ports(n):
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def http_get(url, timeout=2.0):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.read()


def status_of(url):
    try:
        return http_get(url)[0]
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return None


def wait_for(what, check, proc, deadline):
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            fail(f"{what} exited with {proc.returncode}")
        if check():
            return
        time.sleep(0.2)
    fail(f"{what} did not come up in time")


def gateway_config(tmp, ports):
    public, admin, echo, feed = ports
    with open(DEMO, encoding="utf-8") as f:
        text = f.read()
    for old, new in [
        ("127.0.0.1:8080", f"127.0.0.1:{public}"),
        ("127.0.0.1:9901", f"127.0.0.1:{admin}"),
        ("127.0.0.1:8081", f"127.0.0.1:{echo}"),
        ("127.0.0.1:8090", f"127.0.0.1:{feed}"),
        ('cache_dir = ".icpgate-cache"', f'cache_dir = {json.dumps(os.path.join(tmp, "cache"))}'),
        ('feed_export = "sample-registry.ndjson"',
         f'feed_export = {json.dumps(os.path.join(ROOT, "config", "sample-registry.ndjson"))}'),
    ]:
        if old not in text:
            fail(f"config/icpgate.toml does not contain {old!r}: update this script")
        text = text.replace(old, new)
    path = os.path.join(tmp, "icpgate.toml")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


def prometheus_config(tmp, admin):
    path = os.path.join(tmp, "prometheus.yml")
    with open(path, "w", encoding="utf-8") as f:
        f.write(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            f"rule_files:\n  - {json.dumps(os.path.join(RULES, 'alerts.yml'))}\n"
            "scrape_configs:\n  - job_name: icpgate\n"
            f"    static_configs:\n      - targets: ['127.0.0.1:{admin}']\n"
        )
    return path


def traffic(public):
    for path, want in [(FILED, 200), (UNFILED, 451), (FILED, 200)]:
        got = status_of(f"http://127.0.0.1:{public}{path}")
        if got != want:
            fail(f"GET {path}: {got}, expected {want}")


def query(prom, expr):
    """(error or None, [values]) of an instant query."""
    url = f"http://127.0.0.1:{prom}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    try:
        _, body = http_get(url, timeout=5.0)
    except urllib.error.HTTPError as e:
        return f"HTTP {e.code}: {e.read().decode(errors='replace')}", []
    r = json.loads(body)
    if r.get("status") != "success":
        return r.get("error", "unknown error"), []
    data = r["data"]
    if data["resultType"] == "vector":
        return None, [float(s["value"][1]) for s in data["result"]]
    if data["resultType"] == "scalar":
        return None, [float(data["result"][1])]
    return None, []


def evaluate(prom, public, queries, deadline):
    """Polls until no query errors and every main panel has a finite value."""
    while True:
        traffic(public)
        errors, empty = [], set()
        for title, expr in queries:
            err, values = query(prom, expr)
            if err:
                errors.append(f"{title}: {expr}: {err}")
        for title in MAIN_PANELS:
            finite = False
            for t, expr in queries:
                if t == title:
                    _, values = query(prom, expr)
                    finite = finite or any(not math.isnan(v) for v in values)
            if not finite:
                empty.add(title)
        if errors:
            fail("dashboard queries failed:\n  " + "\n  ".join(errors))
        if not empty:
            return
        if time.monotonic() > deadline:
            fail("main panels still without data: " + ", ".join(sorted(empty)))
        time.sleep(1.0)


def main():
    step("promtool and prometheus")
    ensure_prometheus()
    subprocess.run(["promtool", "check", "rules", os.path.join(RULES, "alerts.yml")], check=True)
    subprocess.run(["promtool", "test", "rules", "alerts_test.yml"], check=True, cwd=RULES)
    queries = dashboard_queries()
    procs = []
    tmp = tempfile.mkdtemp(prefix="icpgate-prom-")
    try:
        step(f"{len(queries)} dashboard queries parse")
        parse_with_promtool(queries, tmp)
        if not os.path.exists(BINARY):
            subprocess.run(["cargo", "build", "--quiet"], check=True, cwd=ROOT)
        public, admin, echo, feed, prom = free_ports(5)
        cfg = gateway_config(tmp, (public, admin, echo, feed))
        subprocess.run([BINARY, "check-config", cfg], check=True, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + DEADLINE_S
        step(f"gateway on 127.0.0.1:{public}, admin 127.0.0.1:{admin}")
        with open(os.path.join(tmp, "gateway.log"), "wb") as log:
            gw = subprocess.Popen([BINARY, "serve", "--config", cfg], stdout=log, stderr=log)
        procs.append(gw)
        wait_for("the gateway", lambda: status_of(f"http://127.0.0.1:{admin}/readyz") == 200, gw, deadline)
        traffic(public)
        step(f"prometheus on 127.0.0.1:{prom}")
        with open(os.path.join(tmp, "prometheus.log"), "wb") as log:
            p = subprocess.Popen(
                [
                    "prometheus",
                    f"--config.file={prometheus_config(tmp, admin)}",
                    f"--storage.tsdb.path={os.path.join(tmp, 'tsdb')}",
                    f"--web.listen-address=127.0.0.1:{prom}",
                ],
                stdout=log, stderr=log,
            )
        procs.append(p)
        wait_for("prometheus", lambda: status_of(f"http://127.0.0.1:{prom}/-/ready") == 200, p, deadline)
        step("dashboard queries against the live gateway")
        evaluate(prom, public, queries, deadline)
        _, rules = http_get(f"http://127.0.0.1:{prom}/api/v1/rules")
        groups = json.loads(rules)["data"]["groups"]
        bad = [r["name"] for g in groups for r in g["rules"] if r.get("health") == "err"]
        if bad:
            fail(f"rules Prometheus cannot evaluate: {bad}")
        step(f"ok: {len(queries)} queries evaluated, main panels have data, {sum(len(g['rules']) for g in groups)} rules healthy")
    except SystemExit:
        for name in ("gateway.log", "prometheus.log"):
            path = os.path.join(tmp, name)
            if os.path.exists(path):
                with open(path, encoding="utf-8", errors="replace") as f:
                    tail = f.read()[-3000:]
                print(f"--- {name} (tail)\n{tail}", file=sys.stderr)
        raise
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
