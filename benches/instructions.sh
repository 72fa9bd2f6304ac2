#!/usr/bin/env bash
# Instructions per request, counted by callgrind: two icpgate binaries on the same config,
# the same requests. Unlike a wrk run on a shared VM, the count does not drift with the
# machine, so a few percent of difference in the request path's cost is visible.
#
#   benches/instructions.sh OLD_BINARY NEW_BINARY [REQUESTS]   (needs valgrind, python3;
#                                                              run from the repository root)
#
# Each binary serves config/bench/instructions.toml (the bundled routes, the sample registry
# as a snapshot, no demo services) in front of a python upstream in another process, so only
# the gateway's own work is counted. For each URL the script runs the gateway under callgrind
# twice, for REQUESTS/5 and REQUESTS keep-alive requests, and divides the difference in
# instructions by the difference in requests: start-up and index load cancel out. Prints
# instructions per request for each side and the new/old ratio.
set -euo pipefail
old=${1:?old binary}; new=${2:?new binary}; n=${3:-5000}
command -v valgrind >/dev/null || { echo "instructions.sh: valgrind is not installed" >&2; exit 2; }
cfg=config/bench/instructions.toml
urls=('/mp/wechat/share?appid=wx84c222762738ce75&lang=zh_CN'
      '/v1/android/apps/io.github.benderblog.traintime_pda/update'
      '/v1/android/apps/com.nobody.unfiled/update')
work=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
# The upstream: answers every request 200 with a short body, on HTTP/1.1 keep-alive.
python3 - <<'EOF' &
import http.server
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers()
        self.wfile.write(b"ok")
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", 18581), H).serve_forever()
EOF
# Sends COUNT GETs of URL on one keep-alive connection; fails on an unexpected status.
client() {
  python3 - "$1" "$2" <<'EOF'
import http.client, sys
url, count = sys.argv[1], int(sys.argv[2])
c = http.client.HTTPConnection("127.0.0.1", 18580)
for _ in range(count):
    c.request("GET", url); r = c.getresponse(); r.read()
    if r.status not in (200, 451): sys.exit(f"{url}: status {r.status}")
EOF
}
# Instructions callgrind counted for BINARY serving COUNT requests of URL.
count() {
  local bin=$1 url=$2 k=$3 out="$work/cg.out"
  valgrind --tool=callgrind --callgrind-out-file="$out" "$bin" serve --config "$cfg" \
    >/dev/null 2>"$work/vg.log" &
  local pid=$!
  for _ in $(seq 1 600); do curl -sf 127.0.0.1:18590/readyz >/dev/null && break; sleep 0.2; done
  client "$url" "$k"
  kill -TERM $pid; wait $pid || true
  awk '/^summary:/ {print $2}' "$out"
}
printf '%-62s %12s %12s %7s\n' url old_instr/req new_instr/req new/old
for u in "${urls[@]}"; do
  per() {
    local a b
    a=$(count "$1" "$u" $((n / 5))); b=$(count "$1" "$u" "$n")
    echo $(( (b - a) / (n - n / 5) ))
  }
  o=$(per "$old"); w=$(per "$new")
  printf "%-62s %12d %12d %7.3f\n" "$u" "$o" "$w" "$(awk -v a="$w" -v b="$o" 'BEGIN { print a / b }')"
done
