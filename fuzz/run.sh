#!/usr/bin/env bash
# Runs AFL++ on fuzz targets for a while each and fails if any found a crash.
#
#   fuzz/run.sh SECONDS [TARGET ...]     (default: every target)
#
# Needs cargo-afl (`cargo install cargo-afl`) and python3. Builds the targets, then fuzzes each
# for SECONDS, one after the other, from its seeds: the hand-made ones in fuzz/seeds/TARGET plus
# those seeds.py extracts from ../shared/fixtures (packages for `zip` and `zipentries`, with the
# demo APKs for `zip`; manifests, Mach-O signatures, PKCS#7 blobs and signing blocks for the
# reader targets), written to a scratch directory, never into the repository. Findings go to
# fuzz/corpus/TARGET (kept between runs, so a later run resumes). Prints each target's
# executions, crashes and hangs; a crash's input stays in fuzz/corpus/TARGET/default/crashes/
# to be turned into a regression test.
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:?seconds per target}; shift
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(path query header json lists jwt multipart zip
  zipentries axml manifest macho pkcs7 apksigblock hapsigblock proxy_protocol)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
fixtures=../../shared/fixtures
if [ -d "$fixtures" ]; then
  python3 seeds.py "$fixtures" "$scratch/fixtures" >/dev/null
else
  echo "fuzz: $fixtures is missing; seeding from fuzz/seeds only" >&2
fi
# No core pinning: a run must start even while other fuzzers (or builds) hold the cores.
export AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1 AFL_QUIET=1 AFL_NO_AFFINITY=1
# Build AFL++ once per toolchain; a second try only says it is already built.
cargo afl config --build >/dev/null 2>&1 || true
cargo afl build --release --quiet 2>/dev/null || cargo afl build --release
failed=0
for t in "${targets[@]}"; do
  seeds=$scratch/seeds/$t
  mkdir -p "$seeds"
  for from in "seeds/$t" "$scratch/fixtures/$t"; do
    [ -d "$from" ] && cp "$from"/* "$seeds"/ 2>/dev/null || true
  done
  if [ "$t" = zip ]; then cp ../config/demo/*.apk "$seeds"/; fi
  # AFL++ needs one seed at least.
  [ -n "$(ls -A "$seeds")" ] || printf 0 >"$seeds/zero"
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
