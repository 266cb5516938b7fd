#!/usr/bin/env bash
# Builds dlspec with ASan + UBSan (-DDLSPEC_SANITIZE=ON) in build-asan/ and runs the whole ctest suite
# under it. Usage: scripts/sanitize.sh [JOBS] [ctest args...]   (default 2 jobs; e.g. -LE slow)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
jobs=${1:-2}; shift || true
bd=${SANITIZE_BUILD_DIR:-$root/build-asan}
start=$(date +%s)
cmake -S "$root" -B "$bd" -G Ninja -DDLSPEC_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDLSPEC_CUDA=OFF >/dev/null
ninja -C "$bd" -j"$jobs"
built=$(date +%s)
# Leaks are errors; UB stops the process (-fno-sanitize-recover); oneDNN's JIT and OpenMP are not instrumented.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:halt_on_error=1:detect_stack_use_after_return=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
set +e
(cd "$bd" && ctest -j"$jobs" --output-on-failure "$@")
rc=$?
end=$(date +%s)
echo "sanitize.sh: build $((built - start)) s, tests $((end - built)) s, ctest exit $rc"
exit $rc
