#!/usr/bin/env bash
# bench/gpu.sh: the CUDA backend's check and benchmark, run end to end on a machine WITH a GPU.
# The GPU machines have no ANTLR, LLVM, fmt or oneDNN: first, on the CPU machine,
#   bench/gpu/prepare.sh                      (writes bench/gpu/bundle/, < 64 MiB)
# then carry bench/gpu/bundle to the GPU machine and run
#   bench/gpu.sh [BUNDLE]                     (default: bench/gpu/bundle beside this script)
# Steps: (1) the CUDA backend's op tests against the CPU backend; (2) one training step of the compiled
# mlp, lenet and vgg specs on the GPU against the CPU executable's step on the same batch and initial weights
# (loss and every gradient within 1e-3 relative); (3) dlspec's training throughput (`./X bench`, synthetic
# batches in memory, the step replayed as a CUDA graph after two eager steps); (4) PyTorch's anchor on the
# same GPU, in the same run; (5) one table of ratios against the issue's targets (mlp and lenet >= 1.2x
# PyTorch's CUDA-graph figure, vgg >= 1.1x PyTorch eager); (6) Fashion-MNIST LeNet on the GPU, where the data
# set is installed; (7) the device-list path (`on [cuda:0]`: one replica per GPU, NCCL; a world of one on a
# one-GPU machine) benchmarked, its losses checked against one device by step 1's test case. Exits 2 within seconds where there is no GPU; 1 when a check fails.
set -u
here="$(cd "$(dirname "$0")" && pwd)"
dir="$(cd "${1:-$here/gpu/bundle}" 2>/dev/null && pwd)" || { echo "gpu.sh: no bundle (run bench/gpu/prepare.sh on the CPU machine)" >&2; exit 2; }
cd "$dir"
out="${GPU_RESULTS:-$dir/results}"; mkdir -p "$out"
# The bundle's libraries (prepare.sh gzipped the big ones), unpacked beside the results; only dlspec's
# executables see them: PyTorch runs with the machine's own library path.
libs="$out/lib"; mkdir -p "$libs"
for f in "$dir"/lib/*; do
  case "$f" in
    *.gz) b=$(basename "$f" .gz); [ -s "$libs/$b" ] || gzip -dc "$f" >"$libs/$b" || { echo "gpu.sh: FAIL: cannot unpack $f" >&2; exit 2; } ;;
    *) cp -f "$f" "$libs/" ;;
  esac
done
host_ld="${LD_LIBRARY_PATH:-}"
py() { LD_LIBRARY_PATH="$host_ld" python3 "$@"; }
# CUDA's libraries: the toolkit's, and the pip wheels' beside PyTorch (nvidia-cudnn-cu13, nvidia-nccl-cu13,
# nvidia-cublas, nvidia-cuda-runtime), where a machine has cuDNN and NCCL only there.
wheels=$(py -c 'import glob, os, nvidia; print(":".join(sorted(d for p in nvidia.__path__ for d in glob.glob(os.path.join(p, "*", "lib")))))' 2>/dev/null)
export LD_LIBRARY_PATH="$libs:/usr/local/cuda/lib64:/usr/local/cuda/lib${wheels:+:$wheels}${host_ld:+:$host_ld}"
# Every library the executables need must resolve before any device time is spent on them.
missing=$(ldd ./mlp ./lenet ./vgg $( [ -x ./mlp_list ] && echo ./mlp_list) $( [ -x ./dlspec_cuda_gpu_tests ] && echo ./dlspec_cuda_gpu_tests) 2>&1 | grep "not found" | sort -u)
if [ -n "$missing" ]; then
  echo "gpu.sh: FAIL: libraries not found (LD_LIBRARY_PATH=$LD_LIBRARY_PATH):" >&2
  echo "$missing" >&2
  exit 2
fi
steps=${GPU_BENCH_STEPS:-300}

# 0. Is there a GPU at all? (bounded: a wedged driver must not hang the script)
if ! timeout 20 nvidia-smi -L >"$out/gpus.txt" 2>&1; then
  echo "gpu.sh: FAIL: no usable NVIDIA GPU here (nvidia-smi: $(head -c 300 "$out/gpus.txt"))" >&2
  exit 2
fi
cat "$out/gpus.txt"
for exe in mlp lenet vgg; do
  [ -x "./$exe" ] || { echo "gpu.sh: FAIL: $dir/$exe is missing (bench/gpu/prepare.sh)" >&2; exit 2; }
done
status=0

echo "== 1. CUDA backend op tests against the CPU backend"
if [ -x ./dlspec_cuda_gpu_tests ]; then
  timeout 300 ./dlspec_cuda_gpu_tests --reporter compact >"$out/op_tests.txt" 2>&1
  rc=$?
  tail -3 "$out/op_tests.txt"
  case $rc in
    0) echo "op tests: PASS" ;;
    77) echo "gpu.sh: FAIL: the tests see no CUDA device although nvidia-smi does (driver/runtime mismatch?)" >&2; exit 2 ;;
    *) echo "op tests: FAIL (exit $rc, $out/op_tests.txt)"; status=1 ;;
  esac
else
  echo "op tests: not in the bundle"
fi

echo "== 2. one training step of each compiled spec, cuda:0 vs the CPU executable (1e-3 relative)"
for w in mlp lenet vgg; do
  rm -rf "$out/step_$w"
  if ! timeout 300 "./$w" step-check --batch "check/$w/x.npy" "check/$w/y.npy" --out "$out/step_$w" >"$out/step_$w.log" 2>&1; then
    echo "$w: step-check FAILED on the GPU:"; cat "$out/step_$w.log"; status=1; continue
  fi
  py - "check/$w/cpu" "$out/step_$w" "$w" <<'PY' || status=1
import os, struct, sys
ref, got, name = sys.argv[1:4]
def load(path):
    with open(path, "rb") as f:
        b = f.read()
    n = int.from_bytes(b[8:10], "little")
    data = b[10 + n:]
    return struct.unpack(f"<{len(data) // 4}f", data)
worst, bad = 0.0, []
for fn in sorted(os.listdir(ref)):
    a, g = load(os.path.join(ref, fn)), load(os.path.join(got, fn))
    num = sum((x - y) ** 2 for x, y in zip(a, g)) ** 0.5
    den = max(sum(x * x for x in a) ** 0.5, 1e-12)
    e = num / den if len(a) == len(g) else float("inf")
    worst = max(worst, e)
    if e > 1e-3:
        bad.append(f"{fn} {e:.2e}")
print(f"{name}: {len(os.listdir(ref))} tensors (loss and gradients), worst relative error {worst:.2e}: "
      + ("PASS" if not bad else "FAIL " + ", ".join(bad[:5])))
sys.exit(1 if bad else 0)
PY
done

echo "== 3. dlspec training throughput (img/s, ${steps} steps after warm-up)"
declare -A dls
for w in mlp lenet vgg; do
  line=$(timeout 600 "./$w" bench --steps "$steps" --warmup 20 2>"$out/bench_$w.err" | tail -1)
  echo "$w: $line"
  dls[$w]=$(printf '%s' "$line" | py -c 'import json,sys
try: print(json.load(sys.stdin)["img_per_s"])
except Exception: print("")')
  [ -n "${dls[$w]}" ] || { echo "$w: bench FAILED:"; cat "$out/bench_$w.err"; status=1; }
done

echo "== 4. PyTorch anchor on the same GPU (torch_gpu_anchor.py)"
timeout 1200 env LD_LIBRARY_PATH="$host_ld" python3 ./torch_gpu_anchor.py 2>&1 | tee "$out/torch.txt"
[ "${PIPESTATUS[0]}" = 0 ] || { echo "torch anchor: FAIL"; status=1; }

echo "== 5. ratios (same GPU, same run)"
py - "$out/torch.txt" "${dls[mlp]:-}" "${dls[lenet]:-}" "${dls[vgg]:-}" <<'PY'
import json, sys
res = {}
for line in open(sys.argv[1]):
    if line.startswith("{"):
        res = json.loads(line).get("results", {})
ours = dict(zip(["mlp", "lenet", "vgg"], sys.argv[2:5]))
target = {"mlp": ("cudagraph_img_s", 1.2), "lenet": ("cudagraph_img_s", 1.2), "vgg": ("eager_img_s", 1.1)}
print("| workload | dlspec img/s | PyTorch img/s (variant) | ratio | target | met |")
print("| --- | --- | --- | --- | --- | --- |")
for w, (key, goal) in target.items():
    ref = res.get(w, {}).get(key)
    o = float(ours[w]) if ours[w] else None
    ratio = f"{o / ref:.2f}x" if o and ref else "n/a"
    met = ("yes" if o / ref >= goal else "no") if o and ref else "unmeasured"
    print(f"| {w} | {o if o else 'n/a'} | {ref if ref else 'n/a'} ({key}) | {ratio} | >= {goal}x | {met} |")
PY

echo "== 6. Fashion-MNIST LeNet on the GPU"
fm=/usr/share/datasets/fashion-mnist
if [ -f "$fm/train-images-idx3-ubyte.gz" ]; then
  (mkdir -p "$out/lenet_run" && cd "$out/lenet_run" && timeout 900 "$dir/lenet" train 2>&1 | tail -12)
else
  echo "not run: $fm is not installed on this machine (the CPU figure is in README.md)"
fi

echo "== 7. a device list: mlp on [cuda:0] (one replica per GPU, gradients summed with NCCL)"
if [ -x ./mlp_list ]; then
  line=$(timeout 600 ./mlp_list bench --steps "$steps" --warmup 20 2>"$out/bench_mlp_list.err" | tail -1)
  echo "mlp_list: $line"
  printf '%s' "$line" | py -c 'import json, sys
r = json.load(sys.stdin)
assert r["ranks"] == 1 and r["img_per_s"] > 0 and r["buckets"] >= 1, r
print("device list: PASS (world size %d, %d buckets, allreduce wait %.3f ms per step)" % (r["ranks"], r["buckets"], r["allreduce_wait_ms"]))' \
    || { echo "device list: FAIL"; cat "$out/bench_mlp_list.err"; status=1; }
else
  echo "device list: FAIL: $dir/mlp_list is missing (bench/gpu/prepare.sh)"; status=1
fi
exit $status
