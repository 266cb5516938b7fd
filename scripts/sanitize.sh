#!/usr/bin/env bash
# Builds dlspec with ASan + UBSan (-DDLSPEC_SANITIZE=ON, -O2 -g, CUDA off) in build-asan/ and runs ctest
# under it. Usage: scripts/sanitize.sh [JOBS] [ctest args...]   (default 2 jobs; e.g. -LE slow)
#   SANITIZE_TARGETS="dlspec_rt_tests dlspec_unit_tests ..."  builds only those targets (then pass a ctest -R
#   that selects their tests; tests of targets not built fail as "Not Run").
#   SANITIZE_BUILD_DIR=DIR  another build directory.
# The build runs under `nice -n 15` and with ccache when it is installed: the machine may be shared.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
jobs=${1:-2}; shift || true
bd=${SANITIZE_BUILD_DIR:-$root/build-asan}
launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
fi
start=$(date +%s)
cmake -S "$root" -B "$bd" -G Ninja -DDLSPEC_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDLSPEC_CUDA=OFF "${launcher[@]}" >/dev/null
# shellcheck disable=SC2086
nice -n 15 ninja -C "$bd" -j"$jobs" ${SANITIZE_TARGETS:-}
built=$(date +%s)
# Leaks are errors; UB stops the process (-fno-sanitize-recover); oneDNN's JIT and OpenMP are not instrumented.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:halt_on_error=1:detect_stack_use_after_return=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
set +e
(cd "$bd" && nice -n 15 ctest -j"$jobs" --output-on-failure "$@")
rc=$?
end=$(date +%s)
echo "sanitize.sh: build $((built - start)) s, tests $((end - built)) s, ctest exit $rc"
exit $rc
