#!/usr/bin/env bash
# User-space instructions per request of gateway binaries on the data-path comparison's setup,
# counted by callgrind (deterministic, so it can be read on a busy machine where req/s cannot):
# the harness's icpgate config with one worker, a 10k-id snapshot, an nginx `return 200` upstream, 20 s of wrk with the harness's 90/10
# mix over 8 connections. Counts every thread of the gateway from the first request on.
#
#   benches/datapath_instructions.sh [BIN ...]     default: target/release/icpgate
#   DUR=20 PORT=28080                          load seconds; first of the four ports it uses
#   KEEP=DIR                                   keep the callgrind files there (callgrind_annotate)
#
# Needs valgrind, wrk and nginx (apt-get install -y valgrind wrk nginx-light). The bare hyper
# proxy (benches/bare_proxy.rs) takes the same config: give its binary as a second BIN.
set -euo pipefail
BINS=()
for b in "$@"; do BINS+=("$(realpath "$b")"); done
cd "$(dirname "$0")/.."
ROOT=$PWD
DUR=${DUR:-20}
PORT=${PORT:-28080}
MIX=${MIX:-$ROOT/../shared/bench/mix.lua}
(( ${#BINS[@]} )) || BINS=("$ROOT/target/release/icpgate")
for t in valgrind callgrind_control wrk nginx; do
  command -v "$t" >/dev/null || { echo "datapath_instructions.sh: $t not found (apt-get install -y valgrind wrk nginx-light)" >&2; exit 1; }
done
[[ -f "$MIX" ]] || { echo "datapath_instructions.sh: no wrk mix at $MIX (set MIX=)" >&2; exit 1; }
W=$(mktemp -d /tmp/icpgate-datapath-instructions.XXXXXX)
trap 'kill $(cat "$W/up/nginx.pid" 2>/dev/null) 2>/dev/null || true; pkill -9 -f "callgrind-out-file=$W/" 2>/dev/null || true; rm -rf "$W"' EXIT
mkdir -p "$W/up/tmp" "$W/gw"
awk 'BEGIN { for (i = 0; i < 10000; i++) printf "{\"number\":\"京ICP备2%07d号-1A\",\"kind\":\"app\",\"status\":\"active\",\"entity\":\"e%d\",\"app_name\":\"a%d\",\"platforms\":[{\"platform\":\"android\",\"ids\":[\"com.bench.app%d\"]}]}\n", i, i, i, i }' > "$W/snapshot.ndjson"
cat > "$W/up/nginx.conf" <<CONF
worker_processes 1;
daemon on;
pid nginx.pid;
error_log error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  keepalive_requests 10000000;
  client_body_temp_path tmp;
  proxy_temp_path tmp;
  fastcgi_temp_path tmp;
  uwsgi_temp_path tmp;
  scgi_temp_path tmp;
  server { listen 127.0.0.1:$PORT; location / { return 200 "ok"; } }
}
CONF
nginx -p "$W/up" -c nginx.conf
cat > "$W/gw/icpgate.toml" <<CONF
[server]
workers = 1
[[listener]]
name = "bench"
address = "127.0.0.1:$((PORT + 8))"
[admin]
address = "127.0.0.1:$((PORT + 9))"
[index]
snapshot = "../snapshot.ndjson"
[audit]
path = "audit.jsonl"
[[upstream]]
name = "up"
url = "http://127.0.0.1:$PORT"
[[route]]
name = "apps"
methods = ["GET"]
path = "/v1/apps"
upstream = "up"
platform = "android"
extract = [{ query = "package" }]
on_unknown = "block"
CONF
echo "| binary | requests | instructions per request |"
echo "|---|---:|---:|"
for bin in "${BINS[@]}"; do
  out="$W/cg.$(basename "$bin")"
  (cd "$W/gw" && exec valgrind --tool=callgrind --callgrind-out-file="$out" "$bin" serve --config icpgate.toml) >"$out.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 600); do curl -sf "127.0.0.1:$((PORT + 9))/readyz" >/dev/null && break; sleep 0.2; done
  if ! curl -sf "127.0.0.1:$((PORT + 8))/v1/apps?package=com.bench.app5" >/dev/null; then
    echo "datapath_instructions.sh: $bin did not answer a filed id; its log:" >&2; tail -n 5 "$out.log" >&2; exit 1
  fi
  callgrind_control -z "$pid" >/dev/null 2>&1
  res=$(wrk -t1 -c8 -d"${DUR}s" -s "$MIX" "http://127.0.0.1:$((PORT + 8))" -- 10000 | grep RESULT)
  callgrind_control -d "$pid" >/dev/null 2>&1
  kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
  n=$(sed 's/.*requests=\([0-9]*\).*/\1/' <<<"$res")
  ir=$(grep -h '^summary:' "$out".* | tail -1 | cut -d' ' -f2)
  echo "| $(basename "$bin") | $n | $(( ir / n )) |"
  if [[ -n "${KEEP:-}" ]]; then mkdir -p "$KEEP" && cp "$out".* "$KEEP"/; fi
done
