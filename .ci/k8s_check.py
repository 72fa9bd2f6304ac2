"""Checks of deploy/k8s that the API schemas cannot make.

- kustomization.yaml lists every manifest of the folder;
- the Deployment's terminationGracePeriodSeconds exceeds the preStop sleep plus the
  configuration's limits.drain_delay and limits.drain_timeout (ConfigMap icpgate.toml);
- readiness probes /readyz and liveness probes /healthz on the admin port of that
  configuration;
- the container runs non-root with a read-only root file system, no capabilities and the
  runtime's seccomp profile.
"""

import pathlib
import sys
import tomllib

import yaml

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from compose_check import DEFAULT_DRAIN_DELAY, seconds  # noqa: E402


def main(folder):
    folder = pathlib.Path(folder)
    problems = []
    docs = {}
    for f in sorted(folder.glob("*.yaml")):
        for d in yaml.safe_load_all(f.read_text()):
            if d:
                docs.setdefault(d["kind"], []).append((f.name, d))

    kust = docs["Kustomization"][0][1]
    listed = set(kust["resources"])
    files = {f.name for f in folder.glob("*.yaml")} - {"kustomization.yaml"}
    if listed != files:
        problems.append(f"kustomization.yaml lists {sorted(listed)}, the folder has {sorted(files)}")

    cm = next(d for _, d in docs["ConfigMap"] if "icpgate.toml" in d["data"])
    cfg = tomllib.loads(cm["data"]["icpgate.toml"])
    limits = cfg.get("limits", {})
    drain = seconds(limits.get("drain_timeout", "30s")) + seconds(
        limits.get("drain_delay", f"{DEFAULT_DRAIN_DELAY}s"))
    admin_port = int(cfg["admin"]["address"].rsplit(":", 1)[1])

    dep = docs["Deployment"][0][1]["spec"]["template"]["spec"]
    grace = dep.get("terminationGracePeriodSeconds", 30)
    pod_sc = dep.get("securityContext", {})
    for c in dep["containers"]:
        ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
        pre = c.get("lifecycle", {}).get("preStop", {})
        sleep = 0.0
        if "exec" in pre and pre["exec"]["command"][0].endswith("sleep"):
            sleep = float(pre["exec"]["command"][1])
        elif "sleep" in pre:
            sleep = float(pre["sleep"]["seconds"])
        if grace <= sleep + drain:
            problems.append(f"{c['name']}: terminationGracePeriodSeconds {grace} <= preStop {sleep} + drain {drain}")
        for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
            get = c.get(probe, {}).get("httpGet", {})
            port = ports.get(get.get("port"), get.get("port"))
            if get.get("path") != path or port != admin_port:
                problems.append(f"{c['name']}: {probe} is {get}, not {path} on admin port {admin_port}")
        sc = c.get("securityContext", {})
        wanted = {
            "runAsNonRoot": sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is True,
            "readOnlyRootFilesystem": sc.get("readOnlyRootFilesystem") is True,
            "allowPrivilegeEscalation false": sc.get("allowPrivilegeEscalation") is False,
            "capabilities drop ALL": sc.get("capabilities", {}).get("drop") == ["ALL"],
            "seccomp RuntimeDefault": sc.get("seccompProfile", pod_sc.get("seccompProfile", {})).get("type") == "RuntimeDefault",
        }
        problems += [f"{c['name']}: securityContext lacks {k}" for k, ok in wanted.items() if not ok]

    for p in problems:
        print(f"error: {p}", file=sys.stderr)
    if problems:
        sys.exit(1)
    print(f"{folder}: drain ({drain:.0f} s + preStop) fits the grace period ({grace} s); probes, securityContext, kustomization consistent")


if __name__ == "__main__":
    main(sys.argv[1])
