#!/usr/bin/env bash
# deploy/k8s: every manifest validates against the Kubernetes API schemas (PyPI
# kubernetes-validate, strict: unknown fields fail) of the oldest release we support and of
# the newest the tool knows; then .ci/k8s_check.py checks what the schemas cannot (the drain
# fits the grace period, probes hit the admin port, kustomization lists every manifest).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v kubernetes-validate >/dev/null 2>&1; then
  python3 -m pip install --quiet --break-system-packages kubernetes-validate >/dev/null 2>&1 \
    || python3 -m pip install --quiet kubernetes-validate
  hash -r
fi
python3 -c 'import yaml' 2>/dev/null \
  || python3 -m pip install --quiet --break-system-packages pyyaml >/dev/null 2>&1 \
  || python3 -m pip install --quiet pyyaml
mapfile -t manifests < <(find deploy/k8s -name '*.yaml' ! -name kustomization.yaml | sort)
for version in 1.29 latest; do
  if [ "$version" = latest ]; then
    kubernetes-validate --strict --quiet "${manifests[@]}"
  else
    kubernetes-validate --strict --quiet -k "$version" "${manifests[@]}"
  fi
  echo "deploy/k8s: ${#manifests[@]} manifests valid against Kubernetes $version"
done
python3 .ci/k8s_check.py deploy/k8s
