#!/usr/bin/env bash
# CPU training throughput of dlspec's runtime (hand-made mlp, batch 128, and LeNet, batch 64; synthetic data
# in memory, SGD momentum 0.9, cross-entropy) against PyTorch (torch_cpu_anchor.py, a copy of
# /work/shared/bench/torch_cpu_anchor.py), 2 threads each, alternated ROUNDS times in the same run; the table
# shows every round and the best of each side, and the ratio of the bests.
#   bench/cpu/run.sh [BUILD_DIR] [ROUNDS]     (default: build-rt, 2 rounds; builds dls_bench if missing, -j2)
# Timings drift with the machine's load (a shared 2-core machine): quote ratios from one run, on a quiet machine.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build-rt}
rounds=${2:-2}
if [ ! -x "$build/tests/dls_bench" ]; then
  cmake -S "$root/runtime" -B "$build" -DCMAKE_BUILD_TYPE=Release -DDLSPEC_CUDA=OFF >/dev/null
  cmake --build "$build" -j2 --target dls_bench >/dev/null
fi
# Passive OpenMP waiting for both sides (the built executables default to it, see train/Main.cpp): on a
# shared machine, spinning threads steal the cores the other thread needs.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
results=()
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for ((r = 1; r <= rounds; r++)); do
  results+=("$("$build/tests/dls_bench" --threads 2 | tail -1)")
  results+=("$(/usr/bin/python3 "$root/bench/cpu/torch_cpu_anchor.py" | tail -1)")
done
echo "load after:  $(cut -d' ' -f1-3 /proc/loadavg)"
/usr/bin/python3 - "${results[@]}" <<'PY'
import json, sys
runs = [json.loads(a) for a in sys.argv[1:]]
d = [r for r in runs if "dlspec" in r]
t = [r for r in runs if "torch" in r]
print(f"{'workload':16s} {'dlspec img/s (rounds)':>26s} {'PyTorch img/s (rounds)':>26s} {'best/best':>10s}")
for k in ("mlp_mnist_b128", "lenet_mnist_b64"):
    dv = [r["img_s"][k] for r in d]
    tv = [r["img_s"][k] for r in t]
    ds = ", ".join(f"{v:,d}" for v in dv)
    ts = ", ".join(f"{v:,d}" for v in tv)
    print(f"{k:16s} {ds:>26s} {ts:>26s} {max(dv) / max(tv):9.2f}x")
print(f"PyTorch {t[0]['torch']}, {t[0]['threads']} threads; dlspec {d[0]['threads']} threads")
PY
