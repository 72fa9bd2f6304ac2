#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# icpgate against an nginx `map` gate and an HAProxy map-file gate, side by side on this machine:
# the load harness of the data-path work. Every table ends in the ratio of icpgate to the better
# of the two peers. A benchmark tool, not part of CI.
#
#   benches/gates.sh [http] [tls] [h2] [post] [all]     (default: all; from any directory)
#   benches/gates.sh report RESULT_DIR...               (tables again from earlier results,
#                                                        also of a plain ../shared/bench/run.sh run)
#
#   http  plain HTTP/1.1 GET with wrk: runs ../shared/bench/run.sh (the shared workshop harness,
#         unchanged) with the knobs below, then prints its results as the ratio table.
#   tls   HTTP/1.1 GET over TLS with wrk: icpgate's rustls listener against nginx `ssl` and
#         HAProxy `ssl crt`, one ECDSA P-256 certificate made for the run.
#   h2    HTTP/2 GET over TLS with h2load (H2_CLIENTS connections x H2_STREAMS streams); `tls h2`
#         measure both on the same servers, rounds alternating.
#   post  `POST /v1/apps` with a small JSON body naming the app: icpgate `{ json = "/package" }`
#         against HAProxy (`option http-buffer-request`, `req.body,json_query('$.package')` against
#         the map file) and nginx with njs (js_set parsing the body feeds the same `map`).
#
# All comparisons use run.sh's dataset (N filed ids com.bench.app{0..N-1}, snapshot for icpgate,
# map for nginx with the same hash sizing, id list for HAProxy), its request mix (90% filed ids,
# every 10th unfiled: those get 451 from every gate), its upstream (nginx `return 200 "ok"`,
# plain HTTP, keep-alive) and its modes:
#   split : load generator on CPU 0; upstream and contender (1 worker / 1 thread each) on CPU 1
#   shared: nothing pinned; 2 workers / 2 threads for every server (icpgate: its default)
# Rounds alternate contenders (the order rotates each round); before every run the script waits
# (bounded) for other CPU use to fall below QUIET_MAX %, and repeats a disturbed run once. Every
# process it starts is stopped by PID at exit. Compare ratios within one run, not across runs.
#
# Knobs (environment; the run.sh ones are passed on to it for `http`):
#   N=1000000  DURATION=8  WARMUP=2  ROUNDS=3  MODES="split shared"
#   CONTENDERS="nginx-gate haproxy-gate icpgate"   (http also takes run.sh's direct, nginx-pass,
#                                                   haproxy-pass)
#   ICPGATE_BIN=./target/release/icpgate   (cargo build --release first, or point at another build)
#   ICPGATE_TOML_EXTRA='...'   TOML appended to icpgate's config in every comparison (for http:
#                              to run.sh's built-in one), e.g. a worker-count setting
#   ICPGATE_CONF=FILE          http only: run.sh's own knob, icpgate's whole config (its ports)
#   CONNS=64 WRK_THREADS=2     wrk connections and threads
#   H2_CLIENTS=16 H2_STREAMS=4 H2_THREADS=2   h2load connections, streams each, threads
#   QUIET_MAX=8 QUIET_BUDGET=180 START_TIMEOUT=300
#   PORT_BASE=18180            ports PORT_BASE..PORT_BASE+4 (run.sh's 18080-18089 for http)
#   OUT_DIR=./target/bench-results/gates-<time>   raw.tsv, mem.tsv, startup.tsv, meta.txt, raw/,
#                                                 http/ (run.sh's own results), table.txt
#   SHARED_BENCH=../shared/bench
# Needs: nginx (with libnginx-mod-http-js for post), haproxy, wrk, nghttp2-client (h2load),
# openssl, curl, python3, taskset, /usr/bin/time:
#   apt-get install -y nginx-light libnginx-mod-http-js haproxy wrk nghttp2-client openssl curl time
# A smoke run that proves the harness end to end in about a minute (numbers meaningless):
#   N=10000 DURATION=2 WARMUP=0 ROUNDS=1 MODES=split QUIET_BUDGET=0 benches/gates.sh all
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
GATES_DIR="$ROOT/benches/gates"
cd "$ROOT"

N="${N:-1000000}"
DURATION="${DURATION:-8}"
WARMUP="${WARMUP:-2}"
ROUNDS="${ROUNDS:-3}"
MODES="${MODES:-split shared}"
CONTENDERS="${CONTENDERS:-nginx-gate haproxy-gate icpgate}"
ICPGATE_BIN="$(realpath -m "${ICPGATE_BIN:-$ROOT/target/release/icpgate}")"
CONNS="${CONNS:-64}"
WRK_THREADS="${WRK_THREADS:-2}"
H2_CLIENTS="${H2_CLIENTS:-16}"
H2_STREAMS="${H2_STREAMS:-4}"
H2_THREADS="${H2_THREADS:-2}"
QUIET_MAX="${QUIET_MAX:-8}"
QUIET_BUDGET="${QUIET_BUDGET:-180}"
START_TIMEOUT="${START_TIMEOUT:-300}"
PORT_BASE="${PORT_BASE:-18180}"
OUT_DIR="$(realpath -m "${OUT_DIR:-$ROOT/target/bench-results/gates-$(date +%Y%m%dT%H%M%S)}")"
SHARED_BENCH="$(realpath -m "${SHARED_BENCH:-$ROOT/../shared/bench}")"
ICPGATE_TOML_EXTRA="${ICPGATE_TOML_EXTRA:-}"

pow2_ge() { local v=1; while (( v < $1 )); do v=$((v * 2)); done; echo "$v"; }
MAP_HASH_MAX_SIZE="${MAP_HASH_MAX_SIZE:-$(pow2_ge $((2 * N)))}"
MAP_HASH_BUCKET_SIZE="${MAP_HASH_BUCKET_SIZE:-256}"
BODY_451='{"error":"unavailable_for_legal_reasons","status":451}'
declare -A PORT=(
  [upstream]=$PORT_BASE [nginx-gate]=$((PORT_BASE + 1)) [haproxy-gate]=$((PORT_BASE + 2))
  [icpgate]=$((PORT_BASE + 3))
)
ADMIN_PORT=$((PORT_BASE + 4))
SUITE=""
export GATES_DIR

# shellcheck source=gates/lib.sh
. "$GATES_DIR/lib.sh"
# shellcheck source=gates/conf.sh
. "$GATES_DIR/conf.sh"

usage() { sed -n '3,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit "${1:-0}"; }

# ---------------------------------------------------------------- what to run
want_http=0 want_post=0 protos=""
[[ $# -gt 0 ]] || set -- all
if [[ "$1" == report ]]; then
  shift; [[ $# -gt 0 ]] || usage 64
  exec python3 "$GATES_DIR/ratio.py" "$@"
fi
for arg in "$@"; do
  case "$arg" in
    http) want_http=1 ;;
    tls)  protos="$protos tls" ;;
    h2)   protos="$protos h2" ;;
    post) want_post=1 ;;
    all)  want_http=1; want_post=1; protos="tls h2" ;;
    -h|--help|help) usage 0 ;;
    *) echo "gates.sh: unknown comparison '$arg'" >&2; usage 64 ;;
  esac
done
protos="$(echo "$protos" | tr ' ' '\n' | awk 'NF && !seen[$0]++' | tr '\n' ' ')"

need=(nginx wrk curl taskset python3 openssl /usr/bin/time)
[[ " $CONTENDERS " != *" haproxy-gate "* ]] || need+=(haproxy)
[[ " $protos " != *" h2 "* ]] || need+=(h2load)
for tool in "${need[@]}"; do
  command -v "$tool" >/dev/null || { echo "missing tool: $tool (apt-get install: see the head of $0)" >&2; exit 1; }
done
if (( want_post )) && [[ " $CONTENDERS " == *" nginx-gate "* && ! -e /usr/lib/nginx/modules/ngx_http_js_module.so ]]; then
  echo "missing njs for the nginx POST gate: apt-get install libnginx-mod-http-js" >&2; exit 1
fi
if [[ " $CONTENDERS " == *" icpgate "* && ! -x "$ICPGATE_BIN" ]]; then
  echo "no icpgate binary at $ICPGATE_BIN (cargo build --release, or set ICPGATE_BIN)" >&2; exit 1
fi
for c in $CONTENDERS; do
  case "$c" in nginx-gate|haproxy-gate|icpgate) ;;
    *) [[ -z "$protos" && $want_post == 0 ]] || { echo "gates.sh: tls, h2 and post compare nginx-gate, haproxy-gate and icpgate; not '$c'" >&2; exit 64; } ;;
  esac
done

mkdir -p "$OUT_DIR/raw"
RUN="$(mktemp -d -t gates.XXXXXX)"
chmod 755 "$RUN"   # nginx workers run as an unprivileged user
trap 'cleanup; rm -rf "$RUN"' EXIT
trap 'exit 130' INT TERM
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

printf 'bench\tmode\tround\tcontender\trps\tp50_us\tp90_us\tp99_us\tmax_us\tnon2xx\tsockerr\trequests\tn451\ttol\tbusy_pct\tforeign_pct\twrk_pct\tservers_pct\tsteal_pct\n' > "$OUT_DIR/raw.tsv"
printf 'suite\tmode\tserver\tlisten_ms\tnote\n' > "$OUT_DIR/startup.tsv"
printf 'suite\tmode\tserver\twhen\trss_kb\tpss_kb\tprocs\n' > "$OUT_DIR/mem.tsv"
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "kernel: $(uname -r)  cpus: $(nproc)  model: $(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo)"
  echo "nginx: $(nginx -v 2>&1 | sed 's/.*: //')  njs: $(dpkg-query -W -f '${Version}' libnginx-mod-http-js 2>/dev/null || echo -)" \
       " haproxy: $(haproxy -v 2>/dev/null | head -1 | awk '{print $3}')  wrk: $(wrk -v 2>&1 | head -1 | awk '{print $2}')" \
       " h2load: $(h2load --version 2>/dev/null | awk '{print $2}')  openssl: $(openssl version | awk '{print $2}')"
  echo "icpgate: $ICPGATE_BIN ($(date -u -r "$ICPGATE_BIN" +%Y-%m-%dT%H:%M:%SZ 2>/dev/null || echo missing)); worktree HEAD $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo -)"
  echo "comparisons: $( ((want_http)) && echo -n 'http ')${protos}$( ((want_post)) && echo -n 'post')"
  echo "N=$N DURATION=${DURATION}s WARMUP=${WARMUP}s ROUNDS=$ROUNDS CONNS=$CONNS WRK_THREADS=$WRK_THREADS MODES=$MODES"
  echo "H2_CLIENTS=$H2_CLIENTS H2_STREAMS=$H2_STREAMS H2_THREADS=$H2_THREADS PORT_BASE=$PORT_BASE QUIET_MAX=$QUIET_MAX"
  echo "map_hash_max_size=$MAP_HASH_MAX_SIZE map_hash_bucket_size=$MAP_HASH_BUCKET_SIZE"
  echo "contenders: $CONTENDERS"
  [[ -z "$ICPGATE_TOML_EXTRA" ]] || echo "icpgate extra TOML: $ICPGATE_TOML_EXTRA"
} | tee "$OUT_DIR/meta.txt"

# ---------------------------------------------------------------- http: the shared run.sh
# With ICPGATE_TOML_EXTRA (and no ICPGATE_CONF of the caller's), icpgate gets run.sh's own
# built-in config, taken from run.sh itself so the two cannot drift, plus the extra TOML.
runsh_icpgate_conf() { # file
  local def
  def="$(sed -n '/^conf_icpgate() {/,/^}/p' "$SHARED_BENCH/run.sh")"
  [[ -n "$def" ]] || { echo "no conf_icpgate() in $SHARED_BENCH/run.sh to extend" >&2; exit 1; }
  ( eval "$def"; conf_icpgate; printf '%s\n' "$ICPGATE_TOML_EXTRA" ) > "$1"
}

run_http() {
  echo "## http: ../shared/bench/run.sh (results in $OUT_DIR/http)"
  [[ -x "$SHARED_BENCH/run.sh" ]] || { echo "no $SHARED_BENCH/run.sh (set SHARED_BENCH)" >&2; exit 1; }
  if [[ -n "$ICPGATE_TOML_EXTRA" && -z "${ICPGATE_CONF:-}" ]]; then
    runsh_icpgate_conf "$OUT_DIR/icpgate-http.toml"
    export ICPGATE_CONF="$OUT_DIR/icpgate-http.toml"
  fi
  OUT_DIR="$OUT_DIR/http" N="$N" DURATION="$DURATION" WARMUP="$WARMUP" ROUNDS="$ROUNDS" \
    CONNS="$CONNS" WRK_THREADS="$WRK_THREADS" MODES="$MODES" CONTENDERS="$CONTENDERS" \
    ICPGATE_BIN="$ICPGATE_BIN" QUIET_MAX="$QUIET_MAX" QUIET_BUDGET="$QUIET_BUDGET" \
    START_TIMEOUT="$START_TIMEOUT" MAP_HASH_MAX_SIZE="$MAP_HASH_MAX_SIZE" \
    MAP_HASH_BUCKET_SIZE="$MAP_HASH_BUCKET_SIZE" "$SHARED_BENCH/run.sh"
}

# shellcheck source=gates/suite.sh
. "$GATES_DIR/suite.sh"

T_ALL=$(now_ms)
if (( want_http )); then run_http; fi
if [[ -n "$protos" || $want_post == 1 ]]; then
  gen_data
  if [[ -n "$protos" ]]; then gen_cert; run_suite tls "$protos"; fi
  if (( want_post )); then run_suite post post; fi
fi
echo "# total wall time: $(( ($(now_ms) - T_ALL) / 1000 )) s"
python3 "$GATES_DIR/ratio.py" "$OUT_DIR" | tee "$OUT_DIR/table.txt"
