#!/usr/bin/env bash
# Builds the libFuzzer targets (clang-19, -DDLSPEC_FUZZ=ON, build-fuzz/) and runs each for SECONDS
# (default 60), one after the other on one core, seeded with every .dls in the repository and every
# ```dls example in docs/. Prints executions, time, coverage gained and crashes per target.
# Usage: bench/fuzz.sh [SECONDS]       FUZZ_TARGETS="parse analyze check" (default all three), FUZZ_NO_BUILD=1
# A crash, hang (>10 s), leak or >2 GB RSS leaves its input in build-fuzz/artifacts/; copy it to
# tests/fuzz/regressions/ once fixed.
set -uo pipefail
secs=${1:-60}
root=$(cd "$(dirname "$0")/.." && pwd)
bd=${FUZZ_BUILD_DIR:-$root/build-fuzz}
targets=${FUZZ_TARGETS:-parse analyze check}
command -v clang++-19 >/dev/null || { echo "fuzz.sh: clang++-19 not found (scripts/deps.sh fuzz)" >&2; exit 2; }
if [ ! -f "$bd/build.ninja" ]; then
  CC=clang-19 CXX=clang++-19 cmake -S "$root" -B "$bd" -G Ninja -DDLSPEC_FUZZ=ON -DDLSPEC_BUILD_RUNTIME=OFF \
    -DDLSPEC_CUDA=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null || exit 2
fi
[ -n "${FUZZ_NO_BUILD:-}" ] ||  # FUZZ_NO_BUILD=1: run the targets as last built
  ninja -C "$bd" -j1 $(for t in $targets; do echo fuzz_$t; done) >/dev/null || { echo "fuzz.sh: build failed" >&2; exit 2; }

# Seeds: every spec file, and each ```dls block of the docs as its own file.
seeds=$bd/seeds
rm -rf "$seeds" && mkdir -p "$seeds"
n=0
while IFS= read -r f; do n=$((n + 1)); cp "$f" "$seeds/spec-$n.dls"; done < <(cd "$root" && find specs tests/specs -name '*.dls' | sort)
for md in "$root"/docs/*.md "$root"/docs/diagnostics/*.md; do
  awk -v out="$seeds/doc-$(basename "$md" .md)" '/^```dls/{k++; on=1; next} /^```/{on=0; next} on{print > (out "-" k ".dls")}' "$md"
done
echo "fuzz.sh: $(ls "$seeds" | wc -l) seed files, ${secs}s per target: $targets"

mkdir -p "$bd/artifacts" "$bd/logs"
printf '%-13s %12s %8s %8s %8s %8s %8s\n' target executions seconds exec/s cov_seed cov_end crashes
total_crashes=0
for t in $targets; do
  corpus=$bd/corpus/$t
  mkdir -p "$corpus"
  log=$bd/logs/fuzz_$t.log
  before=$(ls "$bd/artifacts" | grep -c "^$t-" || true)
  start=$(date +%s)
  "$bd/tests/fuzz/fuzz_$t" -max_len=65536 -timeout=10 -rss_limit_mb=2048 -max_total_time="$secs" -print_final_stats=1 \
    -artifact_prefix="$bd/artifacts/$t-" "$corpus" "$seeds" >"$log" 2>&1
  rc=$?
  end=$(date +%s)
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  [ -z "$execs" ] && execs=$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#')
  cov0=$(grep -E 'INITED' "$log" | grep -oE 'cov: [0-9]+' | head -1 | grep -oE '[0-9]+')
  cov1=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+')
  after=$(ls "$bd/artifacts" | grep -c "^$t-" || true)
  crashes=$((after - before))
  total_crashes=$((total_crashes + crashes))
  el=$((end - start)); [ $el -eq 0 ] && el=1
  printf '%-13s %12s %8s %8s %8s %8s %8s\n' "fuzz_$t" "${execs:-0}" "$el" "$(( ${execs:-0} / el ))" "${cov0:-?}" "${cov1:-?}" "$crashes"
  [ $rc -ne 0 ] && [ $crashes -eq 0 ] && echo "  fuzz_$t exited $rc: see $log"
  [ $crashes -gt 0 ] && grep -E '^==[0-9]+==ERROR|^SUMMARY|deadly signal|timeout' "$log" | head -3 | sed 's/^/  /'
done
[ $total_crashes -eq 0 ] && echo "fuzz.sh: no crashes" || echo "fuzz.sh: $total_crashes crash inputs in $bd/artifacts/"
exit $((total_crashes > 0))
