# shellcheck shell=bash
# Process, CPU and dataset helpers for benches/gates.sh (sourced, not run).
#
# Owns: starting servers (pinned per mode) and stopping every one of them by PID, the quiet-machine
# wait, CPU and memory accounting, and the datasets. It follows ../shared/bench/run.sh (same
# dataset generator, same CPU accounting, same memory columns) so the figures of both harnesses
# read alike. It must not touch anything it did not start: cleanup() signals only PIDs in PID[].
# Expects from the caller: RUN (private temp dir), OUT_DIR, N, CONTENDERS, START_TIMEOUT,
# QUIET_MAX, QUIET_BUDGET, and PORT[] / ADMIN_PORT for the servers it launches.

declare -A PID=()
declare -A KIDS=()   # worker PIDs of each server (nginx, haproxy), recorded after start
CLK_TCK=$(getconf CLK_TCK)
QUIET_WAITED=0

now_ms() { date +%s%3N; }

cleanup() { # SIGTERM every started server, wait up to 5 s each, then SIGKILL; all by PID
  local name p
  for name in "${!PID[@]}"; do
    p="${PID[$name]}"
    if kill -0 "$p" 2>/dev/null; then kill -TERM "$p" 2>/dev/null || true; fi
  done
  for name in "${!PID[@]}"; do
    p="${PID[$name]}"
    for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
    if kill -0 "$p" 2>/dev/null; then kill -KILL "$p" 2>/dev/null || true; fi
    wait "$p" 2>/dev/null || true
    unset "PID[$name]" "KIDS[$name]"
  done
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() { # port timeout_s [pid] -> 0 when a TCP connect succeeds; 1 on timeout or if pid died
  local port=$1 deadline=$(( $(now_ms) + $2 * 1000 )) pid=${3:-}
  while ! port_open "$port"; do
    (( $(now_ms) < deadline )) || return 1
    if [[ -n "$pid" ]] && ! kill -0 "$pid" 2>/dev/null; then return 1; fi
    sleep 0.01
  done
}

mem_of() { # pid -> "rss_kb pss_kb procs" summed over the process and its children
  local pids p rss=0 pss=0 n=0 r s
  pids="$1 $(pgrep -P "$1" | tr '\n' ' ' || true)"
  for p in $pids; do
    [[ -r /proc/$p/status ]] || continue
    r=$(awk '/^VmRSS:/{print $2}' "/proc/$p/status" 2>/dev/null || echo 0)
    s=$(awk '/^Pss:/{print $2}' "/proc/$p/smaps_rollup" 2>/dev/null || echo 0)
    rss=$((rss + ${r:-0})); pss=$((pss + ${s:-0})); n=$((n + 1))
  done
  echo "$rss $pss $n"
}

# ---------------------------------------------------------------- CPU accounting
# busy%    = (user+nice+system+irq+softirq+steal) / (2 cores x wall); steal% = hypervisor steal
# foreign% = (busy time - CPU time of our servers and the load generator) / (2 cores x wall):
# other work on the machine (an upper bound under load, since loopback softirq work may be
# charged to no process).
cpu_stat() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9, $9; exit}' /proc/stat; }
servers_ticks() { # utime+stime of every server we started (and its workers)
  local name p files=()
  for name in "${!PID[@]}"; do
    for p in ${PID[$name]} ${KIDS[$name]:-}; do files+=("/proc/$p/stat"); done
  done
  (( ${#files[@]} )) || { echo 0; return; }
  awk '{ sub(/^.*\) /, ""); split($0, a, " "); t += a[12] + a[13] } END { print t + 0 }' "${files[@]}" 2>/dev/null || echo 0
}
foreign_now() { # 1 s sample of CPU use by processes other than our servers (no load running)
  local b0 t0 s0 b1 t1 s1
  read -r b0 t0 _ < <(cpu_stat); s0=$(servers_ticks)
  sleep 1
  read -r b1 t1 _ < <(cpu_stat); s1=$(servers_ticks)
  awk -v db=$((b1 - b0)) -v dt=$((t1 - t0)) -v ds=$((s1 - s0)) \
    'BEGIN { f = (db - ds) / (dt > 0 ? dt : 1) * 100; if (f < 0) f = 0; printf "%.0f\n", f }'
}
wait_quiet() { # wait (QUIET_BUDGET seconds in all) until other work is below QUIET_MAX %
  local f
  while (( QUIET_WAITED < QUIET_BUDGET )); do
    f=$(foreign_now)
    (( f <= QUIET_MAX )) && return 0
    echo "#   machine busy with other work (${f}% foreign CPU); waiting (${QUIET_WAITED}/${QUIET_BUDGET}s used)"
    sleep 4; QUIET_WAITED=$((QUIET_WAITED + 5))
  done
}

measured() { # outfile cmd... : runs the load generator under /usr/bin/time, appends a CPU line
  local out=$1 b0 t0 st0 s0 b1 t1 st1 s1 wu ws; shift
  read -r b0 t0 st0 < <(cpu_stat); s0=$(servers_ticks)
  /usr/bin/time -f 'GENCPU %U %S' -o "$out.cpu" "$@" > "$out" 2>&1 || true
  read -r b1 t1 st1 < <(cpu_stat); s1=$(servers_ticks)
  read -r _ wu ws < "$out.cpu"; rm -f "$out.cpu"
  awk -v db=$((b1 - b0)) -v dt=$((t1 - t0)) -v ds=$((s1 - s0)) -v dst=$((st1 - st0)) -v wu="$wu" -v ws="$ws" -v hz="$CLK_TCK" \
    'BEGIN { if (dt <= 0) dt = 1; ours = ds + (wu + ws) * hz; f = (db - ours) / dt * 100; if (f < 0) f = 0;
             printf "CPU busy_pct=%.1f foreign_pct=%.1f wrk_pct=%.1f servers_pct=%.1f steal_pct=%.1f\n", db / dt * 100, f, (wu + ws) * hz / dt * 100, ds / dt * 100, dst / dt * 100 }' >> "$out"
}

# ---------------------------------------------------------------- datasets
# The same generator as ../shared/bench/run.sh: filed ids com.bench.app{0..N-1}, the nginx map,
# HAProxy's id list and icpgate's snapshot (one active app filing per id).
gen_data() {
  local t0; t0=$(now_ms)
  mkdir -p "$RUN/data"
  seq -f 'com.bench.app%.0f' 0 $((N - 1)) > "$RUN/data/filed.txt"
  sed 's/$/ 1;/' "$RUN/data/filed.txt" > "$RUN/data/filed.map.conf"
  awk -v n="$N" 'BEGIN { for (i = 0; i < n; i++) printf "{\"number\":\"京ICP备2%07d号-1A\",\"kind\":\"app\",\"status\":\"active\",\"entity\":\"e%d\",\"app_name\":\"a%d\",\"platforms\":[{\"platform\":\"android\",\"ids\":[\"com.bench.app%d\"]}]}\n", i, i, i, i }' > "$RUN/data/snapshot.ndjson"
  # The request mix of ../shared/bench/mix.lua as URL paths (h2load reads them from a file):
  # 1000 requests, every 10th an unfiled id just past the filed range.
  awk -v n="$N" 'BEGIN { for (k = 0; k < 1000; k++) { id = (k % 10 == 9) ? n + k : (k * 7919 + 13) % n;
                         printf "/v1/apps?package=com.bench.app%d\n", id } }' > "$RUN/data/mix.paths"
  echo "# datasets: N=$N filed ids generated in $(( $(now_ms) - t0 )) ms"
}

# A self-signed ECDSA P-256 certificate for 127.0.0.1, made for this run; every TLS server
# reads this one (HAProxy wants certificate and key in one file).
gen_cert() {
  mkdir -p "$RUN/tls"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj /CN=localhost -addext 'subjectAltName=DNS:localhost,IP:127.0.0.1' \
    -keyout "$RUN/tls/key.pem" -out "$RUN/tls/cert.pem" 2>/dev/null
  cat "$RUN/tls/cert.pem" "$RUN/tls/key.pem" > "$RUN/tls/haproxy.pem"
}

# ---------------------------------------------------------------- start/stop
launch() { # name mode port cmd... ; runs in $RUN/<name>, pinned per mode, records PID, listen time, memory
  local name=$1 mode=$2 port=$3; shift 3
  local dir="$RUN/$name" t0 pid ms rss pss procs
  local -a pin=()
  [[ "$mode" == split ]] && pin=(taskset -c 1)
  if port_open "$port"; then
    echo "port $port already in use; refusing to start $name" >&2; exit 1
  fi
  t0=$(now_ms)
  ( cd "$dir" && exec "${pin[@]}" "$@" ) >"$dir/stdout.log" 2>"$dir/stderr.log" &
  pid=$!
  PID[$name]=$pid
  if ! wait_port "$port" "$START_TIMEOUT" "$pid"; then
    echo "$name did not listen on $port within ${START_TIMEOUT}s (or exited); its logs:" >&2
    tail -n 5 "$dir/stderr.log" "$dir/error.log" >&2 2>/dev/null || true
    exit 1
  fi
  if [[ "$name" == icpgate ]]; then  # it listens at once and answers 503 until its index is loaded
    until curl -sf "http://127.0.0.1:$ADMIN_PORT/readyz" >/dev/null 2>&1; do
      (( $(now_ms) - t0 < START_TIMEOUT * 1000 )) || { echo "icpgate not ready within ${START_TIMEOUT}s" >&2; tail -n 5 "$dir/stderr.log" >&2; exit 1; }
      kill -0 "$pid" 2>/dev/null || { echo "icpgate exited; its log:" >&2; tail -n 5 "$dir/stderr.log" >&2; exit 1; }
      sleep 0.05
    done
  fi
  ms=$(( $(now_ms) - t0 ))
  printf '%s\t%s\t%s\t%s\t%s\n' "$SUITE" "$mode" "$name" "$ms" "index N=$N" >> "$OUT_DIR/startup.tsv"
  sleep 0.2   # let nginx fork its workers before listing them
  KIDS[$name]="$(pgrep -P "$pid" | tr '\n' ' ' || true)"
  read -r rss pss procs < <(mem_of "$pid")
  printf '%s\t%s\t%s\tafter_start\t%s\t%s\t%s\n' "$SUITE" "$mode" "$name" "$rss" "$pss" "$procs" >> "$OUT_DIR/mem.tsv"
  echo "#   $name: pid $pid listening on :$port after ${ms} ms (rss ${rss} kB over $procs proc)"
}

stop_servers() { # mode: record memory after load, then stop everything by PID
  local name rss pss procs
  for name in "${!PID[@]}"; do
    read -r rss pss procs < <(mem_of "${PID[$name]}")
    printf '%s\t%s\t%s\tafter_load\t%s\t%s\t%s\n' "$SUITE" "$1" "$name" "$rss" "$pss" "$procs" >> "$OUT_DIR/mem.tsv"
  done
  cleanup
}
