#!/usr/bin/env bash
# A/B load harness: two icpgate binaries on the bundled demo config, measured in the same run.
#
#   benches/ab.sh OLD_BINARY NEW_BINARY [ROUNDS]     (needs wrk; run from the repository root)
#
# OLD_CONFIG / NEW_CONFIG name each side's config (default config/icpgate.toml), for an old
# binary that does not know keys the bundled config has gained: e.g. a copy of config/ with
# `git show OLD:config/icpgate.toml` as its icpgate.toml.
#
# Each round starts one binary with `serve --config config/icpgate.toml` (gateway 127.0.0.1:8080,
# echo upstream :8081, admin :9901), waits for /readyz, runs `wrk -t1 -c32 -d10s` on a filed
# mini program, a filed app and an unfiled app, then SIGTERMs it. The order alternates per
# round so the VM's drift does not favour one side. Prints every run, then per URL the median
# new/old throughput ratio and both p99s.
set -euo pipefail
old=${1:?old binary}; new=${2:?new binary}; rounds=${3:-6}
command -v wrk >/dev/null || { echo "ab.sh: wrk is not installed (apt-get install wrk)" >&2; exit 2; }
urls=('mp/wechat/share?appid=wx84c222762738ce75'
      'v1/android/apps/io.github.benderblog.traintime_pda/update'
      'v1/android/apps/com.nobody.unfiled/update')
out=$(mktemp); trap 'rm -f "$out"' EXIT
for round in $(seq 1 "$rounds"); do
  order="old new"; [ $((round % 2)) = 0 ] && order="new old"
  for side in $order; do
    bin=$old; cfg=${OLD_CONFIG:-config/icpgate.toml}
    [ "$side" = new ] && { bin=$new; cfg=${NEW_CONFIG:-config/icpgate.toml}; }
    "$bin" serve --config "$cfg" >/dev/null 2>&1 &
    pid=$!
    for _ in $(seq 1 300); do curl -sf localhost:9901/readyz >/dev/null && break; sleep 0.1; done
    curl -sf localhost:9901/readyz >/dev/null || { echo "ab.sh: $bin never became ready" >&2; kill $pid; exit 1; }
    for u in "${urls[@]}"; do
      r=$(wrk -t1 -c32 -d10s --latency "http://127.0.0.1:8080/$u" |
          awk '/Requests\/sec/ {rps=$2} /^ +99%/ {p99=$2} END {print rps, p99}')
      echo "$round $side $u $r" | tee -a "$out"
    done
    kill -TERM $pid; wait $pid || true
  done
done
# median of numbers on stdin, one per line (mawk has no asort, so sort(1) does the sorting)
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) exit 1; print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2 }'; }
# wrk prints latencies as 850.00us, 3.21ms or 1.02s: normalise to ms
to_ms() { awk '{ x = $1; if (x ~ /us$/) { sub(/us$/, "", x); x /= 1000 } else if (x ~ /ms$/) { sub(/ms$/, "", x) } else if (x ~ /s$/) { sub(/s$/, "", x); x *= 1000 } print x }'; }
echo
echo "url  median(new/old req/s)  pairs_new_faster  median_p99_old_ms  median_p99_new_ms"
for u in "${urls[@]}"; do
  ratios=$(awk -v u="$u" '$3 == u { r[$1" "$2] = $4 }
    END { for (k in r) { split(k, a, " "); if (a[2] == "new" && (a[1]" old") in r) print r[k] / r[a[1]" old"] } }' "$out")
  n=$(printf '%s\n' "$ratios" | grep -c .)
  wins=$(printf '%s\n' "$ratios" | awk '$1 > 1' | grep -c . || true)
  p99_old=$(awk -v u="$u" '$3 == u && $2 == "old" { print $5 }' "$out" | to_ms | median)
  p99_new=$(awk -v u="$u" '$3 == u && $2 == "new" { print $5 }' "$out" | to_ms | median)
  printf '%s  %.3f  %d/%d  %.2f  %.2f\n' "$u" "$(printf '%s\n' "$ratios" | median)" "$wins" "$n" "$p99_old" "$p99_new"
done
