#!/usr/bin/env bash
# bench/gpu/prepare.sh: run on the CPU machine (which has the compiler, oneDNN and fmt) to make the bundle that
# bench/gpu.sh runs on a GPU machine (which has CUDA, cuDNN and PyTorch but none of those).
#   bench/gpu/prepare.sh [DLSPEC] [BUILD]   (defaults: build/compiler/dlspec, build)
# Writes bench/gpu/bundle/ (git-ignored, < 64 MiB so that the device tool can carry it):
#   mlp, lenet, vgg            specs/{mlp,lenet,vgg}.dls compiled with --device cuda:0, stripped
#   mlp_list                   specs/mlp.dls placed on the device list [cuda:0], stripped
#   dlspec_cuda_gpu_tests      the CUDA backend's op-level tests against the CPU backend, stripped
#   check/<w>/{x,y}.npy        one synthetic batch per workload
#   check/<w>/cpu/*.npy        the CPU executable's step-check on that batch: loss and every gradient, from
#                              the program's own seeded initial weights (host-generated: the same on the GPU)
#   lib/                       the shared libraries the executables need but glibc's and CUDA's (the big
#                              ones gzipped: bench/gpu.sh unpacks them)
#   torch_gpu_anchor.py        PyTorch's side of the comparison (../shared/bench/)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
dlspec=${1:-$root/build/compiler/dlspec}
build=${2:-$root/build}
out=$root/bench/gpu/bundle
work=$(mktemp -d /tmp/dls-gpu-prep.XXXXXX)
trap 'rm -rf "$work"' EXIT
rm -rf "$out" && mkdir -p "$out/lib" "$out/check"

for w in mlp lenet vgg; do
  "$dlspec" build "$root/specs/$w.dls" --device cuda:0 -o "$work/$w.cuda" >/dev/null
  "$dlspec" build "$root/specs/$w.dls" --device cpu -o "$work/$w.cpu" >/dev/null
  strip -o "$out/$w" "$work/$w.cuda"
  # One batch of the network's input shape and batch size (read from the spec), classes from its label.
  python3 - "$root/specs/$w.dls" "$out/check/$w" <<'PY'
import os, random, re, struct, sys
text, dst = open(sys.argv[1]).read(), sys.argv[2]
dims = [int(d) for d in re.search(r"network \w+\(\w+: f32\[([^\]]*)\]", text).group(1).split(",")[1:]]
batch = int(re.search(r"batch\((\d+)", text).group(1))
classes = int(re.search(r"class<(\d+)>", text).group(1))
rnd = random.Random(7)
os.makedirs(dst, exist_ok=True)
def save(path, shape, values):  # .npy v1, little-endian f32
    hdr = "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }" % "".join(f"{d}," for d in shape)
    hdr += " " * ((64 - (10 + len(hdr) + 1) % 64) % 64) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + len(hdr).to_bytes(2, "little") + hdr.encode())
        f.write(struct.pack(f"<{len(values)}f", *values))
n = batch
for d in dims:
    n *= d
save(os.path.join(dst, "x.npy"), [batch] + dims, [rnd.gauss(0, 1) for _ in range(n)])
save(os.path.join(dst, "y.npy"), [batch], [float(rnd.randrange(classes)) for _ in range(batch)])
PY
  (cd "$work" && ./$w.cpu step-check --batch "$out/check/$w/x.npy" "$out/check/$w/y.npy" --out "$out/check/$w/cpu" \
     >/dev/null)
done
# mlp on a device list of one (`on [cuda:0]`): one replica per GPU in one process, gradients summed with NCCL
# (a world of one here; bench/gpu.sh step 7).
sed -E 's/(model[[:space:]]*=[[:space:]]*[A-Za-z_]+) on cpu/\1 on [cuda:0]/' "$root/specs/mlp.dls" >"$work/mlp_list.dls"
grep -q 'on \[cuda:0\]' "$work/mlp_list.dls"
"$dlspec" build "$work/mlp_list.dls" -o "$work/mlp_list" >/dev/null
strip -o "$out/mlp_list" "$work/mlp_list"
gpu_tests=$build/runtime/tests/cuda/dlspec_cuda_gpu_tests
if [ -x "$gpu_tests" ]; then strip -o "$out/dlspec_cuda_gpu_tests" "$gpu_tests"; fi
cp "$root/bench/gpu/torch_gpu_anchor.py" "$out/"
# Every library the executables load but glibc's (the GPU machine has its own C library, which cannot be
# swapped) and CUDA's (cudart, cuBLAS, cuDNN, NCCL: under /usr/local/cuda there): oneDNN, fmt, Open MPI and
# what it loads, libpng, libjpeg, zlib, libgomp and the C++ runtime. The big ones travel gzipped (the device
# tool carries 64 MiB); bench/gpu.sh unpacks them before it starts.
exes=("$work/mlp.cuda")
[ -x "$out/dlspec_cuda_gpu_tests" ] && exes+=("$out/dlspec_cuda_gpu_tests")
for lib in $(ldd "${exes[@]}" | awk '/=> \//{print $3}' | sort -u); do
  case "$(basename "$lib")" in
    libc.so*|libm.so*|libdl.so*|libpthread.so*|librt.so*|ld-linux*|libcuda.so*|libcudart*|libcublas*|libcudnn*|libnccl*) ;;
    *) cp -L "$lib" "$out/lib/" ;;
  esac
done
for lib in "$out"/lib/*; do
  if [ "$(stat -c %s "$lib")" -gt $((8 << 20)) ]; then gzip -6 "$lib"; fi
done
size=$(du -sm "$out" | cut -f1)
echo "bench/gpu/bundle: ${size} MiB"
ls -la "$out" "$out/lib"
[ "$size" -lt 64 ] || { echo "prepare.sh: the bundle is ${size} MiB, over the device tool's 64 MiB" >&2; exit 1; }
