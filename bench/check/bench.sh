#!/usr/bin/env bash
# Times `dlspec check` on generated specs of 100, 1,000 and 10,000 layers (best of 3), so that growth is
# visibly linear. Usage: bench/check/bench.sh [path/to/dlspec]   (default build/compiler/dlspec)
set -euo pipefail
cd "$(dirname "$0")/../.."
exec python3 bench/check/bench.py "${1:-build/compiler/dlspec}"
