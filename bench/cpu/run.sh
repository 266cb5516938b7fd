#!/usr/bin/env bash
# CPU training throughput of dlspec's runtime (hand-made mlp, batch 128, and LeNet, batch 64; synthetic data
# in memory) against PyTorch (torch_cpu_anchor.py, a copy of /work/shared/bench/torch_cpu_anchor.py), in the
# same run, 2 threads each. Prints a table with the ratio.
#   bench/cpu/run.sh [BUILD_DIR]     (default: build-rt; built here if missing, -j2)
# Timings drift with the machine's load: quote ratios from one run, and prefer a quiet machine.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build-rt}
if [ ! -x "$build/tests/dls_bench" ]; then
  cmake -S "$root/runtime" -B "$build" -DCMAKE_BUILD_TYPE=Release -DDLSPEC_CUDA=OFF >/dev/null
  cmake --build "$build" -j2 --target dls_bench >/dev/null
fi
# Passive OpenMP waiting: on a shared 2-core machine, spinning threads steal the cores the other thread needs.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
dls=$("$build/tests/dls_bench" --threads 2 | tail -1)
torch=$(/usr/bin/python3 "$root/bench/cpu/torch_cpu_anchor.py" | tail -1)
dls2=$("$build/tests/dls_bench" --threads 2 | tail -1)   # again, after PyTorch, to show drift
echo "load after:  $(cut -d' ' -f1-3 /proc/loadavg)"
/usr/bin/python3 - "$dls" "$torch" "$dls2" <<'PY'
import json, sys
d, t, d2 = (json.loads(a) for a in sys.argv[1:4])
print(f"{'workload':18s} {'dlspec img/s':>14s} {'(rerun)':>10s} {'PyTorch img/s':>14s} {'ratio':>7s}")
for k in ("mlp_mnist_b128", "lenet_mnist_b64"):
    a, a2, b = d["img_s"][k], d2["img_s"][k], t["img_s"][k]
    print(f"{k:18s} {a:14,d} {a2:10,d} {b:14,d} {a / b:6.2f}x")
print(f"PyTorch {t['torch']}, {t['threads']} threads; dlspec {d['threads']} threads")
PY
