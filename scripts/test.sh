#!/usr/bin/env bash
# Builds dlspec and runs every test: scripts/test.sh [ctest arguments...]
# Installs what it needs (scripts/deps.sh test), configures build/ once (warnings are errors when CI=true),
# builds with all cores, and prints ctest's summary. Quick when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh test
# The VS Code extension's grammar test (ctest editors/vscode-grammar) is skipped without its npm packages;
# DLSPEC_EXTENSION=1 installs them (network, once), builds the extension and runs it: the optional CI job.
if [ "${DLSPEC_EXTENSION:-}" = 1 ]; then scripts/deps.sh editor && scripts/vscode-extension.sh; fi
build=${DLSPEC_BUILD_DIR:-build}
gen=(); command -v ninja >/dev/null && gen=(-G Ninja)
if [ ! -f "$build/CMakeCache.txt" ]; then
  opts=(); [ "${CI:-}" = true ] && opts+=(-DDLSPEC_WERROR=ON)
  command -v ccache >/dev/null && opts+=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
  if ! cmake -S . -B "$build" "${gen[@]}" "${opts[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$build.configure.log" 2>&1; then
    cat "$build.configure.log" >&2
    rm -rf "$build"
    echo "test.sh: configuring failed" >&2
    exit 2
  fi
fi
cmake --build "$build" -j "$(nproc)"
set +e
ctest --test-dir "$build" --output-on-failure -j "$(nproc)" "$@" | tee "$build/ctest.log" | grep -v '^ *Start\|Passed\|^$'
rc=${PIPESTATUS[0]}
set -e
grep -E '^[0-9]+% tests passed' "$build/ctest.log" || true
exit "$rc"
