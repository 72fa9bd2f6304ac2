#!/usr/bin/env bash
# Runs deploy/Dockerfile's dependency stage without Docker: its stub-source RUN instruction in a
# scratch directory holding Cargo.toml and Cargo.lock, then `cargo check --locked --bin icpgate`
# instead of the release build (Cargo refuses a manifest whose declared targets have no file,
# the failure this catches; the repository's target directory already holds the checked
# dependencies, so only the stub crate is compiled).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
run=$(awk '
  /^COPY Cargo.toml Cargo.lock/ { want = 1; next }
  want && /^RUN / { grab = 1; sub(/^RUN /, "") }
  grab { line = $0; cont = sub(/\\$/, "", line); body = body line " "; if (!cont) exit }
  END { printf "%s", body }' deploy/Dockerfile)
[ -n "$run" ] || { echo "deploy/Dockerfile: no RUN after COPY Cargo.toml Cargo.lock" >&2; exit 1; }
build='cargo build --release --locked --bin icpgate'
case $run in *"$build"*) ;; *) echo "deploy/Dockerfile: the dependency stage does not run '$build'" >&2; exit 1 ;; esac
# Everything up to the build: the stubs.
stubs=${run%%"&& $build"*}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cp Cargo.toml Cargo.lock "$scratch"/
(cd "$scratch" && bash -euo pipefail -c "$stubs")
(cd "$scratch" && CARGO_TARGET_DIR="$root/target" cargo check --quiet --locked --bin icpgate)
echo "deploy/Dockerfile: the dependency stage's stubs satisfy the manifest ($(ls "$scratch"/benches/*.rs | wc -l) bench stubs)"
