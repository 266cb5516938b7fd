#!/usr/bin/env bash
# The long run of the differential spec fuzzer (not part of ctest): MINUTES of random specs against
# PyTorch, niced, in WORK (default build/difffuzz-long), disagreeing specs in WORK/disagreements, figures in
# WORK/stats-SEED.json (docs/reliability.md, "Differential testing").
# usage: tests/difffuzz/run_long.sh [MINUTES] [SEED] [WORK] [BUILD]
set -euo pipefail
minutes=${1:-30}
seed=${2:-$(date +%s)}
here=$(cd "$(dirname "$0")" && pwd)
build=${4:-$here/../../build}
work=${3:-$build/difffuzz-long}
mkdir -p "$work"
export OMP_NUM_THREADS=1
exec nice -n 15 /usr/bin/python3 "$here/difffuzz.py" --dlspec "$build/compiler/dlspec" \
  --optable "$build/tests/difffuzz/dlspec_optable_dump" --work "$work" --seed "$seed" --minutes "$minutes"
