# shellcheck shell=bash
# The TLS (wrk and h2load) and POST comparisons of benches/gates.sh (sourced, not run).
#
# Owns one suite's life: start the upstream and the gates for a mode, check that each answers a
# filed id with 200 and an unfiled one with 451, warm up, run the alternating rounds, record one
# raw.tsv row per run, and stop every server by PID. A suite is `tls` (benches tls and h2 on the
# same TLS servers) or `post`. It must not change what a contender is given between runs: every
# contender gets the same requests, the same pinning and the same load generator settings.

scheme() { [[ "$SUITE" == tls ]] && echo https || echo http; }

start_servers() { # mode
  local mode=$1 w c
  [[ "$mode" == split ]] && w=1 || w=2
  for c in upstream $CONTENDERS; do
    rm -rf "${RUN:?}/$c"; mkdir -p "$RUN/$c/tmp"
    case $c in
      upstream)
        conf_upstream "$w" > "$RUN/$c/nginx.conf"
        launch "$c" "$mode" "${PORT[$c]}" nginx -p "$RUN/$c/" -c nginx.conf -e error.log ;;
      nginx-gate)
        if [[ "$SUITE" == tls ]]; then conf_nginx_tls "$w"; else conf_nginx_post "$w"; fi > "$RUN/$c/nginx.conf"
        ln -s ../data/filed.map.conf "$RUN/$c/filed.map.conf"
        launch "$c" "$mode" "${PORT[$c]}" nginx -p "$RUN/$c/" -c nginx.conf -e error.log ;;
      haproxy-gate)
        conf_haproxy "$w" "$SUITE" > "$RUN/$c/haproxy.cfg"
        ln -s ../data/filed.txt "$RUN/$c/filed.txt"
        launch "$c" "$mode" "${PORT[$c]}" haproxy -db -f haproxy.cfg ;;
      icpgate)
        conf_icpgate "$SUITE" > "$RUN/$c/icpgate.toml"
        launch "$c" "$mode" "${PORT[$c]}" "$ICPGATE_BIN" serve --config icpgate.toml ;;
    esac
  done
}

post_body() { # id: the body of one request of post.lua
  printf '{"package":"com.bench.app%s","version_name":"3.1.4","version_code":30001,"platform":"android","channel":"store-1","locale":"zh-CN","sdk_int":34}' "$1"
}

ask() { # contender id [curl options...] -> "BODY STATUS"
  local c=$1 id=$2; shift 2
  local url
  url="$(scheme)://127.0.0.1:${PORT[$c]}/v1/apps"
  if [[ "$SUITE" == post ]]; then
    curl -s -o - -w ' %{http_code}' "$@" -H 'Content-Type: application/json' --data "$(post_body "$id")" "$url"
  else
    curl -sk -o - -w ' %{http_code}' "$@" "$url?package=com.bench.app$id"
  fi
}

sanity() { # contender benches: filed id -> 200 "ok", unfiled id -> 451, for each protocol measured
  local c=$1 benches=$2 b b1 b2 tls
  local -a how=()
  for b in $benches; do
    case $b in tls) how=(--http1.1) ;; h2) how=(--http2) ;; *) how=() ;; esac
    b1=$(ask "$c" $((N / 2)) "${how[@]}"); b2=$(ask "$c" $((N + 9)) "${how[@]}")
    if [[ "${b1##* }" != 200 || "${b2##* }" != 451 ]]; then
      echo "sanity FAILED for $c ($b): filed -> '$b1', unfiled -> '$b2' (want 200 / 451)" >&2; exit 1
    fi
    echo "#   sanity $c ($b): filed -> ${b1##* } '${b1% *}', unfiled -> ${b2##* } '${b2% *}'"
  done
  if [[ "$SUITE" == tls ]]; then  # what each load generator negotiates: the same for every server
    tls="wrk-like (openssl defaults): $(openssl s_client -brief -connect "127.0.0.1:${PORT[$c]}" -alpn http/1.1 </dev/null 2>&1 |
          awk -F': ' '/^Protocol version|^Ciphersuite|^Peer signature type/ { printf "%s ", $2 }')"
    if [[ " $benches " == *" h2 "* ]]; then
      tls="$tls; h2load: $(h2load -n 1 -c 1 "https://127.0.0.1:${PORT[$c]}/v1/apps?package=com.bench.app0" 2>&1 |
            awk -F': ' '/^TLS Protocol|^Cipher|^Application protocol/ { printf "%s ", $2 }')"
    fi
    echo "#   tls $c: $tls" | tee -a "$OUT_DIR/meta.txt"
  fi
}

measure() { # bench mode contender seconds outfile
  local b=$1 mode=$2 c=$3 d=$4 out=$5 base res
  local -a pin=()
  [[ "$mode" == split ]] && pin=(taskset -c 0)
  base="$(scheme)://127.0.0.1:${PORT[$c]}"
  case $b in
    tls)  measured "$out" "${pin[@]}" wrk -t"$WRK_THREADS" -c"$CONNS" -d"${d}s" --timeout 5s \
            -s "$SHARED_BENCH/mix.lua" "$base/" -- "$N" ;;
    post) measured "$out" "${pin[@]}" wrk -t"$WRK_THREADS" -c"$CONNS" -d"${d}s" --timeout 5s \
            -s "$GATES_DIR/post.lua" "$base/" -- "$N" ;;
    h2)   sed "s|^|$base|" "$RUN/data/mix.paths" > "$RUN/urls-$c.txt"
          measured "$out" "${pin[@]}" h2load -c "$H2_CLIENTS" -m "$H2_STREAMS" -t "$H2_THREADS" \
            -D "$d" -i "$RUN/urls-$c.txt" --log-file="$out.log"
          res=$(python3 "$GATES_DIR/h2result.py" "$out" "$out.log" || true)
          echo "$res" >> "$out"
          rm -f "$out.log" ;;
  esac
}

record() { # bench mode round contender file: one raw.tsv row from its RESULT and CPU lines
  local b=$1 mode=$2 r=$3 c=$4 f=$5 line cpu kv tol
  local -A v=([n451]="")
  line=$(grep '^RESULT' "$f" || true)
  [[ -n "$line" ]] || { echo "no RESULT from the load generator for $c ($b); see $f" >&2; tail -n 20 "$f" >&2; exit 1; }
  cpu=$(grep '^CPU' "$f" || echo "CPU busy_pct=0 foreign_pct=0 wrk_pct=0 servers_pct=0 steal_pct=0")
  for kv in ${line#RESULT } ${cpu#CPU }; do v[${kv%%=*}]=${kv#*=}; done
  if [[ "$b" == h2 ]]; then tol=$((H2_CLIENTS * (H2_STREAMS + 1))); else tol=$((CONNS + WRK_THREADS)); fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$b" "$mode" "$r" "$c" \
    "${v[rps]}" "${v[p50_us]}" "${v[p90_us]}" "${v[p99_us]}" "${v[max_us]}" "${v[non2xx3xx]}" "${v[sockerr]}" \
    "${v[requests]}" "${v[n451]}" "$tol" "${v[busy_pct]}" "${v[foreign_pct]}" "${v[wrk_pct]}" "${v[servers_pct]}" \
    "${v[steal_pct]}" >> "$OUT_DIR/raw.tsv"
  printf '#   %-4s %-6s r%d %-13s %10s req/s  p50 %6s us  p99 %6s us  non2xx %-6s sockerr %-4s busy %5s%% foreign %4s%%\n' \
    "$b" "$mode" "$r" "$c" "${v[rps]}" "${v[p50_us]}" "${v[p99_us]}" "${v[non2xx3xx]}" "${v[sockerr]}" \
    "${v[busy_pct]}" "${v[foreign_pct]}"
}

run_suite() { # suite(tls|post) benches: every mode, warm-up, then ROUNDS alternating rounds
  SUITE=$1
  local benches=$2 mode c b r k f attempt fp
  local -a cs order
  read -ra cs <<< "$CONTENDERS"
  for mode in $MODES; do
    echo "## $SUITE (${benches% }) mode $mode: starting servers"
    start_servers "$mode"
    for c in "${cs[@]}"; do sanity "$c" "$benches"; done
    if (( WARMUP > 0 )); then
      for c in "${cs[@]}"; do for b in $benches; do measure "$b" "$mode" "$c" "$WARMUP" "$RUN/warmup.txt"; done; done
    fi
    for r in $(seq 1 "$ROUNDS"); do
      k=$(( (r - 1) % ${#cs[@]} ))
      order=("${cs[@]:k}" "${cs[@]:0:k}")   # rotate: no contender always runs first
      for c in "${order[@]}"; do
        for b in $benches; do
          f="$OUT_DIR/raw/${b}-${mode}-r${r}-${c}.txt"
          for attempt in 1 2; do
            wait_quiet
            measure "$b" "$mode" "$c" "$DURATION" "$f"
            fp=$(sed -n 's/^CPU .*foreign_pct=\([0-9.]*\).*/\1/p' "$f")
            if [[ $attempt == 1 ]] && awk -v f="${fp:-0}" -v m="$QUIET_MAX" 'BEGIN { exit !(f > 2 * m) }'; then
              echo "#   $c $b round $r disturbed (${fp}% foreign CPU); repeating once"
              continue
            fi
            break
          done
          record "$b" "$mode" "$r" "$c" "$f"
        done
      done
    done
    stop_servers "$mode"
  done
}
