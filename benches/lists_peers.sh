#!/usr/bin/env bash
# The list filter against the fastest validating JSON reader there is, on the same body in the
# same run: `cargo bench --bench lists` (icpgate's filter and scan, serde_json's check) writes
# its body, then simdjson reads it with each of its kernels this CPU runs (AVX-512, AVX2,
# SSE4.2 and scalar: 512-, 256-, 128-bit and no vectors; the list scanner uses 128-bit ones).
#
#   benches/lists_peers.sh          needs g++ and libsimdjson-dev (apt-get install -y g++ libsimdjson-dev)
set -euo pipefail
cd "$(dirname "$0")/.."
for t in g++ cargo; do
  command -v "$t" >/dev/null || { echo "lists_peers.sh: $t not found (apt-get install -y g++ libsimdjson-dev)" >&2; exit 1; }
done
[[ -f /usr/include/simdjson.h ]] || { echo "lists_peers.sh: simdjson.h not found (apt-get install -y libsimdjson-dev)" >&2; exit 1; }
mkdir -p target
BODY=$PWD/target/lists-body.json
ICPGATE_LISTS_BODY_OUT=$BODY cargo bench --bench lists -- --quick 2>&1 | grep -E "^lists|lists bench|time:" | grep -v "%"
g++ -O3 -std=c++17 benches/lists_simdjson.cpp -lsimdjson -o target/lists-simdjson
for k in icelake haswell westmere fallback; do
  SIMDJSON_FORCE_IMPLEMENTATION=$k target/lists-simdjson "$BODY" || echo "simdjson $k: not run on this CPU"
done
