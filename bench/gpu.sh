#!/usr/bin/env bash
# bench/gpu.sh: the CUDA backend's check and benchmark, run on a machine WITH a GPU from a directory holding
# the prebuilt executables (the GPU machines have no ANTLR/LLVM/oneDNN: build on the CPU machine with
#   cmake -S . -B build-cuda -G Ninja && ninja -C build-cuda dlspec_cuda_gpu_tests dls_mlp_cuda dls_lenet_cuda
# and carry build-cuda/runtime/tests/cuda/{dlspec_cuda_gpu_tests,dls_mlp_cuda,dls_lenet_cuda}, libdnnl.so.2,
# libfmt.so.* and this folder's gpu/torch_gpu_anchor.py into one directory).
#   usage: bench/gpu.sh [DIR]   (DIR: where the executables are; default: this script's gpu/ folder)
# Steps: (1) one training step on the GPU against the CPU backend (loss and every gradient within 1e-3
# relative); (2) dlspec training throughput; (3) PyTorch's anchor on the same GPU; (4) one ratio table.
# Fails clearly (exit 2, within seconds) where there is no GPU.
set -u
here="$(cd "$(dirname "$0")" && pwd)"
dir="${1:-$here/gpu}"
cd "$dir" || { echo "gpu.sh: no directory $dir" >&2; exit 2; }
export LD_LIBRARY_PATH="$dir:${LD_LIBRARY_PATH:-}"
out="$dir/gpu_results"; mkdir -p "$out"

# 0. Is there a GPU at all? (bounded: a wedged driver must not hang the script)
if ! timeout 20 nvidia-smi -L >"$out/gpus.txt" 2>&1; then
  echo "gpu.sh: FAIL: no usable NVIDIA GPU here (nvidia-smi: $(head -c 300 "$out/gpus.txt"))" >&2
  exit 2
fi
cat "$out/gpus.txt"
for exe in dlspec_cuda_gpu_tests dls_mlp_cuda dls_lenet_cuda; do
  [ -x "./$exe" ] || { echo "gpu.sh: FAIL: $dir/$exe is missing (build it on the CPU machine, see the header)" >&2; exit 2; }
done

status=0
# 1. Numerical check: GPU vs CPU backend, one training step, loss and every gradient (mlp, LeNet, dropout).
echo "== 1. one training step, cuda:0 vs cpu (1e-3 relative)"
timeout 300 ./dlspec_cuda_gpu_tests --reporter compact 2>&1 | tee "$out/step_check.txt"
rc=${PIPESTATUS[0]}
case $rc in
  0) echo "step check: PASS" ;;
  77) echo "gpu.sh: FAIL: the test binary sees no CUDA device although nvidia-smi does (driver/runtime mismatch?)" >&2; exit 2 ;;
  124) echo "step check: FAIL (timed out)"; status=1 ;;
  *) echo "step check: FAIL (exit $rc)"; status=1 ;;
esac
echo "vgg: NOT CHECKED (no hand-made vgg program in runtime/tests/programs yet)"

# 2. dlspec throughput. Needs a synthetic-data benchmark driver for the CUDA programs (unfinished: see
# the report); recorded as missing rather than invented.
echo "== 2. dlspec training throughput (img/s)"
declare -A dls
for w in mlp lenet vgg; do
  if [ -x "./dls_bench_cuda" ]; then
    dls[$w]=$(timeout 300 ./dls_bench_cuda "$w" 2>/dev/null | awk '/img\/s/ {print $(NF-1)}' | tail -1)
  fi
  echo "$w: ${dls[$w]:-not measured (dls_bench_cuda not built)}"
done

# 3. PyTorch on the same GPU.
echo "== 3. PyTorch anchor (torch_gpu_anchor.py)"
timeout 1200 python3 "$dir/torch_gpu_anchor.py" 2>&1 | tee "$out/torch.txt"
[ "${PIPESTATUS[0]}" = 0 ] || { echo "torch anchor: FAIL"; status=1; }

# 4. Ratios (targets: mlp, lenet >= 1.2x PyTorch CUDA graph; vgg >= 1.1x PyTorch eager).
echo "== 4. ratios"
python3 - "$out/torch.txt" "${dls[mlp]:-}" "${dls[lenet]:-}" "${dls[vgg]:-}" <<'PY'
import json, sys
res = {}
for line in open(sys.argv[1]):
    if line.startswith("{"):
        res = json.loads(line).get("results", {})
ours = dict(zip(["mlp", "lenet", "vgg"], sys.argv[2:5]))
target = {"mlp": ("graph", 1.2), "lenet": ("graph", 1.2), "vgg": ("eager", 1.1)}
print(f"| workload | dlspec img/s | PyTorch ({'variant'}) img/s | ratio | target | met |")
print("| --- | --- | --- | --- | --- | --- |")
for w, (variant, goal) in target.items():
    t = res.get(w, {})
    ref = None
    if isinstance(t, dict):
        ref = next((v for k, v in t.items() if variant in k), None)
    o = float(ours[w]) if ours[w] else None
    ratio = f"{o / ref:.2f}" if o and ref else "n/a"
    met = ("yes" if o / ref >= goal else "no") if o and ref else "unmeasured"
    print(f"| {w} | {o or 'n/a'} | {ref or 'n/a'} ({variant}) | {ratio} | >= {goal} | {met} |")
PY
exit $status
