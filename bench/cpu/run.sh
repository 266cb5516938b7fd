#!/usr/bin/env bash
# CPU training throughput of COMPILED specs against PyTorch 1.13 (Debian's, 2 threads).
#   bench/cpu/run.sh [DLSPEC] [ROUNDS] [STEPS]
#     DLSPEC  the dlspec compiler (default: build/compiler/dlspec)     ROUNDS  default 3     STEPS  default 200
# Builds specs/mlp.dls (batch 128), specs/lenet.dls (batch 64), bench/cpu/charlm.dls (batch 32, sequences of 32
# steps through two LSTMs) and specs/gpt.dls (batch 32, 64 steps through four decoder layers of width 128) with
# `dlspec build`, then alternates, ROUNDS times: `./mlp bench`, `./lenet bench`, `./charlm bench`, `./gpt bench`
# (synthetic batches in memory, no data loading; see runtime/train/Main.cpp) and bench/cpu/torch_cpu_anchor.py,
# torch_cpu_rnn_anchor.py, torch_cpu_gpt_anchor.py (the same networks in torch.nn, synthetic data).
# bf16 rows: mlp, lenet and gpt built again with `precision = bf16` added to their train block, against our f32
# and against PyTorch in bf16 (the anchors' --bf16: torch.autocast('cpu', dtype=torch.bfloat16)), alternated in
# the same rounds. BF16=0 leaves them out.
# Prints every round, then the table: medians of each side and the ratio of the medians.
# The machine is shared (2 cores): only ratios from the same run mean anything.
#   HAND=1 bench/cpu/run.sh ...   also prints a second table for the HAND-MADE runtime programs
#                                 (runtime/tests/programs via dls_bench in $HAND_BUILD, default build-rt).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
dlspec=${1:-$root/build/compiler/dlspec}
rounds=${2:-3}
steps=${3:-200}
work=$(mktemp -d /tmp/dls-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
"$dlspec" build "$root/specs/mlp.dls" -o "$work/mlp" >/dev/null
"$dlspec" build "$root/specs/lenet.dls" -o "$work/lenet" >/dev/null
"$dlspec" build "$root/bench/cpu/charlm.dls" -o "$work/charlm" >/dev/null
"$dlspec" build "$root/specs/gpt.dls" -o "$work/gpt" >/dev/null
bf16=${BF16:-1}
# oneDNN 2.6's bf16 kernels need AVX-512 (runtime/core/CpuFeatures.h); without it a bf16 program refuses to start.
for f in avx512f avx512bw avx512vl avx512dq; do
  if [ "$bf16" = 1 ] && ! grep -qw "$f" /proc/cpuinfo; then
    echo "bench: this processor has no $f, so no bf16 rows (oneDNN's bf16 kernels need AVX-512)" >&2
    bf16=0
  fi
done
if [ "$bf16" = 1 ]; then
  for s in specs/mlp.dls specs/lenet.dls specs/gpt.dls; do
    n=$(basename "$s" .dls)
    sed -e '0,/^train [A-Za-z_0-9]* {$/s//&\n  precision = bf16/' "$root/$s" > "$work/${n}_bf16.dls"
    grep -q '^  precision = bf16$' "$work/${n}_bf16.dls"
    "$dlspec" build "$work/${n}_bf16.dls" -o "$work/${n}_bf16" >/dev/null
  done
fi
# Passive OpenMP waiting on both sides (the built executables default to it): on a shared machine,
# spinning threads steal the cores the other thread needs.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
ours=() theirs=() hand=() seq_ours=() seq_theirs=() gpt_ours=() gpt_theirs=() bf_ours=() bf_theirs=()
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for ((r = 1; r <= rounds; r++)); do
  m=$(cd "$work" && ./mlp bench --steps "$steps" --warmup 10 --threads 2 | tail -1)
  l=$(cd "$work" && ./lenet bench --steps "$((steps / 2))" --warmup 10 --threads 2 | tail -1)
  t=$(/usr/bin/python3 "$root/bench/cpu/torch_cpu_anchor.py" | tail -1)
  c=$(cd "$work" && ./charlm bench --steps "$((steps / 4))" --warmup 5 --threads 2 | tail -1)
  ct=$(/usr/bin/python3 "$root/bench/cpu/torch_cpu_rnn_anchor.py" | tail -1)
  g=$(cd "$work" && ./gpt bench --steps "$((steps / 20 > 2 ? steps / 20 : 2))" --warmup 3 --threads 2 | tail -1)
  gt=$(/usr/bin/python3 "$root/bench/cpu/torch_cpu_gpt_anchor.py" | tail -1)
  echo "round $r: $m $l $t $c $ct $g $gt"
  if [ "$bf16" = 1 ]; then
    mb=$(cd "$work" && ./mlp_bf16 bench --steps "$steps" --warmup 10 --threads 2 | tail -1)
    lb=$(cd "$work" && ./lenet_bf16 bench --steps "$((steps / 2))" --warmup 10 --threads 2 | tail -1)
    gb=$(cd "$work" && ./gpt_bf16 bench --steps "$((steps / 20 > 2 ? steps / 20 : 2))" --warmup 3 --threads 2 | tail -1)
    tb=$(/usr/bin/python3 "$root/bench/cpu/torch_cpu_anchor.py" --bf16 | tail -1)
    gtb=$(/usr/bin/python3 "$root/bench/cpu/torch_cpu_gpt_anchor.py" --bf16 | tail -1)
    echo "round $r bf16: $mb $lb $gb $tb $gtb"
    bf_ours+=("$mb" "$lb" "$gb") bf_theirs+=("$tb" "$gtb")
  fi
  ours+=("$m" "$l") theirs+=("$t") seq_ours+=("$c") seq_theirs+=("$ct") gpt_ours+=("$g") gpt_theirs+=("$gt")
  if [ -n "${HAND:-}" ]; then
    hand+=("$("${HAND_BUILD:-$root/build-rt}/tests/dls_bench" --threads 2 | tail -1)")
  fi
done
echo "load after:  $(cut -d' ' -f1-3 /proc/loadavg)"
/usr/bin/python3 - "$rounds" "${#bf_ours[@]}" "${ours[@]}" "${theirs[@]}" "${seq_ours[@]}" "${seq_theirs[@]}" \
    "${gpt_ours[@]}" "${gpt_theirs[@]}" "${bf_ours[@]}" "${bf_theirs[@]}" "${hand[@]}" <<'PY'
import json, statistics, sys
n = int(sys.argv[1]); nb = int(sys.argv[2]); a = sys.argv[3:]
bf = a[7 * n:7 * n + nb + 2 * nb // 3]
a = a[:7 * n] + a[7 * n + nb + 2 * nb // 3:]
ours = [json.loads(x) for x in a[:2 * n]]
torch = [json.loads(x) for x in a[2 * n:3 * n]]
seq_ours = [json.loads(x) for x in a[3 * n:4 * n]]
seq_torch = [json.loads(x) for x in a[4 * n:5 * n]]
gpt_ours = [json.loads(x) for x in a[5 * n:6 * n]]
gpt_torch = [json.loads(x) for x in a[6 * n:7 * n]]
hand = [json.loads(x) for x in a[7 * n:]]
rows = [("mlp (specs/mlp.dls, b128)", "mlp", "mlp_mnist_b128"), ("lenet (specs/lenet.dls, b64)", "lenet", "lenet_mnist_b64")]
print(f"\ncompiled specs, {n} rounds alternated, medians")
print(f"| {'workload':30s} | {'dlspec img/s':>12s} | {'PyTorch img/s':>13s} | {'ratio':>7s} |")
print(f"|{'-'*32}|{'-'*14}|{'-'*15}|{'-'*9}|")
for label, prog, key in rows:
    d = statistics.median(r["img_per_s"] for r in ours if r["program"] == prog)
    t = statistics.median(r["img_s"][key] for r in torch)
    print(f"| {label:30s} | {d:12,.0f} | {t:13,.0f} | {d / t:6.2f}x |")
d = statistics.median(r["img_per_s"] for r in seq_ours)
t = statistics.median(r["seq_s"]["charlm_b32"] for r in seq_torch)
print(f"| {'charlm (bench/cpu/charlm.dls, b32)':30s} | {d:12,.0f} | {t:13,.0f} | {d / t:6.2f}x |")
d = statistics.median(r["img_per_s"] for r in gpt_ours)
t = statistics.median(r["seq_s"]["gpt_b32"] for r in gpt_torch)
print(f"| {'gpt (specs/gpt.dls, b32)':30s} | {d:12,.1f} | {t:13,.1f} | {d / t:6.2f}x |")
print("(charlm: sequences of 32 steps per second; two LSTM(128) layers, per-step dense, Adam)")
print("(gpt: sequences of 64 steps per second; four decoder layers, width 128, 4 heads, causal, AdamW)")
print(f"PyTorch {torch[0]['torch']}, {torch[0]['threads']} threads; dlspec {ours[0]['threads']} threads")
if bf:
    bf_ours = [json.loads(x) for x in bf[:nb]]
    bf_torch = [json.loads(x) for x in bf[nb:]]
    med = lambda xs: statistics.median(xs)
    print(f"\nprecision = bf16 (AVX-512 BF16 via oneDNN) against our f32 and PyTorch bf16 autocast, same rounds, medians")
    print(f"| {'workload':26s} | {'dlspec f32':>10s} | {'dlspec bf16':>11s} | {'bf16/f32':>8s} | {'PyTorch bf16':>12s} | {'ours/torch bf16':>15s} |")
    print(f"|{'-'*28}|{'-'*12}|{'-'*13}|{'-'*10}|{'-'*14}|{'-'*17}|")
    for label, prog, f32_rows, key, tkind in (("mlp (b128, img/s)", "mlp", ours, "mlp_mnist_b128", "img_s"),
                                              ("lenet (b64, img/s)", "lenet", ours, "lenet_mnist_b64", "img_s"),
                                              ("gpt (b32, seq/s)", "gpt", gpt_ours, "gpt_b32", "seq_s")):
        f = med(r["img_per_s"] for r in f32_rows if r["program"] == prog)
        b = med(r["img_per_s"] for r in bf_ours if r["program"] == prog and r.get("precision") == "bf16")
        t = med(r[tkind][key] for r in bf_torch if key in r.get(tkind, {}))
        print(f"| {label:26s} | {f:10,.1f} | {b:11,.1f} | {b / f:7.2f}x | {t:12,.1f} | {b / t:14.2f}x |")
if hand:
    print(f"\nHAND-MADE runtime programs (runtime/tests/programs, dls_bench; not the compiler's output), medians")
    for label, prog, key in rows:
        d = statistics.median(r["img_s"][key] for r in hand)
        t = statistics.median(r["img_s"][key] for r in torch)
        print(f"| {key:30s} | {d:12,.0f} | {t:13,.0f} | {d / t:6.2f}x |")
PY
