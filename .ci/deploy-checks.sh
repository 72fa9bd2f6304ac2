#!/usr/bin/env bash
# Checks of deploy/ that need no running service: the systemd unit's sandbox rating, the
# Dockerfile lint and its dependency stage, the compose file's structure and the Kubernetes
# manifests' schemas. Each check installs its own tool.
set -euo pipefail
here="$(dirname "$0")"
for check in systemd-security hadolint dockerfile-deps-stage compose-check k8s-validate; do
  echo "-- $check"
  bash "$here/$check.sh"
done
