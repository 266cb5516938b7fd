#!/usr/bin/env bash
# The main job: trains specs/lenet.dls on Fashion-MNIST, end to end: scripts/train.sh [SPEC] [-- EXE-ARGS]
# Installs what it needs (scripts/deps.sh train), builds build/ incrementally, then `dlspec run SPEC`:
# compiles the spec's train block into a standalone executable (.dlspec/NAME) and starts its training.
# The model runs where the spec places it; on a machine with an NVIDIA GPU it is moved to cuda:0.
set -euo pipefail
cd "$(dirname "$0")/.."
spec=specs/lenet.dls
if [ $# -gt 0 ] && [ "$1" != "--" ]; then spec=$1; shift; fi
scripts/deps.sh train
build=${DLSPEC_BUILD_DIR:-build}
gen=(); command -v ninja >/dev/null && gen=(-G Ninja)
[ -f "$build/CMakeCache.txt" ] || cmake -S . -B "$build" "${gen[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build "$build" -j "$(nproc)" --target dlspec
device=()
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L 2>/dev/null | grep -q '^GPU 0'; then
  device=(--device cuda:0)
  echo "train.sh: an NVIDIA GPU is present: training on cuda:0" >&2
fi
exec "$build/compiler/dlspec" run "${device[@]}" "$spec" "$@"
