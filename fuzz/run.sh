#!/usr/bin/env bash
# Runs AFL++ on fuzz targets for a while each and fails if any found a crash.
#
#   fuzz/run.sh SECONDS [TARGET ...]     (default: every target)
#
# Needs cargo-afl (`cargo install cargo-afl`). Builds the targets, then fuzzes each for SECONDS
# from its seeds (fuzz/seeds/TARGET, plus the demo APKs for `zip`), one after the other, with
# its findings in fuzz/corpus/TARGET (kept between runs, so a later run resumes). Prints each
# target's executions and crashes; a crash's input stays in fuzz/corpus/TARGET/default/crashes/
# to be turned into a regression test.
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:?seconds per target}; shift
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(path query header json multipart zip)
# No core pinning: a run must start even while other fuzzers (or builds) hold the cores.
export AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1 AFL_QUIET=1 AFL_NO_AFFINITY=1
# Build AFL++ once per toolchain; a second try only says it is already built.
cargo afl config --build >/dev/null 2>&1 || true
cargo afl build --release --quiet 2>/dev/null || cargo afl build --release
failed=0
for t in "${targets[@]}"; do
  seeds=seeds/$t
  if [ "$t" = zip ]; then
    seeds=$(mktemp -d); cp ../config/demo/*.apk "$seeds"/
  fi
  out=corpus/$t
  mkdir -p "$out"
  # `-i -` resumes from an earlier run's queue.
  input=$seeds; [ -d "$out/default/queue" ] && input=-
  cargo afl fuzz -V "$secs" -i "$input" -o "$out" "target/release/$t" >"$out/log.txt" 2>&1 || {
    echo "fuzz $t: afl-fuzz failed, see fuzz/$out/log.txt" >&2; tail -20 "$out/log.txt" >&2; failed=1; continue; }
  execs=$(awk -F': *' '/^execs_done/ {print $2}' "$out/default/fuzzer_stats")
  crashes=$(awk -F': *' '/^saved_crashes/ {print $2}' "$out/default/fuzzer_stats")
  hangs=$(awk -F': *' '/^saved_hangs/ {print $2}' "$out/default/fuzzer_stats")
  echo "fuzz $t: ${secs}s, $execs execs, $crashes crashes, $hangs hangs"
  [ "$crashes" = 0 ] || { ls "$out/default/crashes" >&2; failed=1; }
done
exit $failed
