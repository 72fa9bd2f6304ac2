"""Checks of deploy/docker-compose.yml that `docker compose config` leaves to run time.

- every bind-mounted file exists (files under deploy/prometheus/ and deploy/grafana/ are
  written alongside; until they exist they are reported, not failed);
- Prometheus's scrape target is the gateway service on the admin port of its configuration,
  and its rule_files pattern matches where the alert rules are mounted;
- the gateway's stop_grace_period exceeds limits.drain_delay + limits.drain_timeout.
"""

import fnmatch
import pathlib
import sys
import tomllib

import yaml

# limits.drain_delay when a configuration leaves it out: an upper bound of the gateway's
# default, so the grace check stays on the safe side.
DEFAULT_DRAIN_DELAY = 5  # limits.drain_delay default (src/config/raw.rs)
LATER = ("prometheus/", "grafana/")


def seconds(text):
    """'30s', '1m30s', '500ms', '2m' -> seconds."""
    total, num, i = 0.0, "", 0
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    while i < len(text):
        c = text[i]
        if c.isdigit() or c == ".":
            num += c
            i += 1
            continue
        unit = "ms" if text.startswith("ms", i) else c
        total += float(num) * units[unit]
        num, i = "", i + len(unit)
    return total + (float(num) if num else 0.0)


def main(path):
    compose_file = pathlib.Path(path)
    base = compose_file.parent
    doc = yaml.safe_load(compose_file.read_text())
    services = doc["services"]
    problems, notes = [], []

    mounts = {}
    for name, svc in services.items():
        for v in svc.get("volumes", []):
            src, _, rest = v.partition(":")
            target = rest.split(":")[0]
            if src.startswith((".", "/")):
                mounts[(name, target)] = base / src
                if not (base / src).exists():
                    inside = str((base / src).resolve().relative_to(base.resolve()))
                    msg = f"{name}: mounted file {src} does not exist"
                    (notes if inside.startswith(LATER) else problems).append(msg)
            elif src not in (doc.get("volumes") or {}):
                problems.append(f"{name}: volume {src} is not declared")

    gw_cfg_path = next(p for (s, t), p in mounts.items() if s == "gateway" and t == "/etc/icpgate/icpgate.toml")
    gw_cfg = tomllib.loads(gw_cfg_path.read_text())
    admin_port = gw_cfg["admin"]["address"].rsplit(":", 1)[1]

    prom_cfg_path = next(p for (s, t), p in mounts.items() if s == "prometheus" and t == "/etc/prometheus/prometheus.yml")
    prom = yaml.safe_load(prom_cfg_path.read_text())
    targets = [t for sc in prom["scrape_configs"] for st in sc["static_configs"] for t in st["targets"]]
    if f"gateway:{admin_port}" not in targets:
        problems.append(f"prometheus scrapes {targets}, not gateway:{admin_port}")
    rules = [t for (s, t) in mounts if s == "prometheus" and t.startswith("/etc/prometheus/rules/")]
    for r in rules:
        if not any(fnmatch.fnmatch(r, g) for g in prom.get("rule_files", [])):
            problems.append(f"prometheus rule_files {prom.get('rule_files')} do not load {r}")
    if not rules:
        problems.append("prometheus mounts no alert rules")

    limits = gw_cfg.get("limits", {})
    drain = seconds(limits.get("drain_timeout", "30s")) + seconds(limits.get("drain_delay", f"{DEFAULT_DRAIN_DELAY}s"))
    grace = seconds(services["gateway"].get("stop_grace_period", "10s"))
    if grace <= drain:
        problems.append(f"gateway stop_grace_period {grace}s <= drain_delay + drain_timeout {drain}s")

    for n in notes:
        print(f"note: {n} (written on another branch)")
    for p in problems:
        print(f"error: {p}", file=sys.stderr)
    if problems:
        sys.exit(1)
    print(f"{path}: {len(services)} services; mounts, scrape target and stop grace consistent")


if __name__ == "__main__":
    main(sys.argv[1])
