#!/usr/bin/env bash
# Throughput of the image-folder pipeline (images("DIR"): PNG files decoded by libpng) against the IDX pipeline
# (idx(…): one gzipped array), on the same data in one run: Fashion-MNIST's 60,000 training and 10,000 test
# images, written as PNG folders by scripts/fashion_png.py.
#   bench/data/images_vs_idx.sh [DLSPEC] [ROUNDS] [THREADS]
#     DLSPEC  the dlspec compiler (default: build/compiler/dlspec)   ROUNDS  default 2   THREADS  default 2
# Two pairs of programs, each built from specs/fashion_png.dls (PNG folders) and specs/lenet.dls (IDX) with one
# epoch and no checkpoints, run alternately ROUNDS times with `train --epochs 1 --threads THREADS`:
#   loading  the network is one dense layer (flatten |> dense(10)): the run is the data's loading, decoding and
#            conversion (both splits) and one cheap pass over it, so its rate is the pipeline's;
#   lenet    the examples' LeNet: one epoch of training and a validation pass, loading included.
# Samples/s = 60,000 training samples over the command's wall time; the table gives the medians and the
# ratio PNG/IDX. Not part of ctest (it writes 70,000 files and takes minutes); the machine is shared, so
# only the ratio of one run means anything.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
dlspec=${1:-$root/build/compiler/dlspec}
rounds=${2:-2}
threads=${3:-2}
work=$(mktemp -d /tmp/dls-imgbench.XXXXXX)
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$work"' EXIT
t0=$(date +%s.%N)
/usr/bin/python3 "$root/scripts/fashion_png.py" "$work/png" >/dev/null
t1=$(date +%s.%N)
echo "wrote $(find "$work/png" -name '*.png' | wc -l) PNG files in $(echo "$t1 - $t0" | bc) s ($(du -sh "$work/png" | cut -f1))"

# One epoch, no checkpoint; the PNG spec reads the folders just written.
one_epoch() {
  sed -e 's/^  epochs *= .*/  epochs     = 1/' -e '/^  checkpoint *=/d' -e 's/t_max: [0-9]* epochs/t_max: 1 epochs/' "$1"
}
one_epoch "$root/specs/fashion_png.dls" | sed -e "s|\"data/fashion-png/|\"$work/png/|g" > "$work/png_lenet.dls"
one_epoch "$root/specs/lenet.dls" > "$work/idx_lenet.dls"
# The loading pair: the same data and pipelines, a network of one dense layer.
for k in png idx; do
  awk '/^network /{print "network Linear(x: f32[N, 1, 28, 28]) -> logits[N, 10] {\n  return x |> flatten |> dense(10)\n}"; skip=1; next}
       skip && /^}/{skip=0; next} !skip' "$work/${k}_lenet.dls" | sed -e 's/= LeNet on cpu/= Linear on cpu/' > "$work/${k}_load.dls"
done
grep -q "$work/png/train" "$work/png_lenet.dls"
for p in png_lenet idx_lenet png_load idx_load; do
  "$dlspec" build "$work/$p.dls" -o "$work/$p" >/dev/null
done

declare -A times
for ((r = 1; r <= rounds; r++)); do
  for p in png_load idx_load png_lenet idx_lenet; do
    s=$(date +%s.%N)
    (cd "$work" && "./$p" train --epochs 1 --overwrite --threads "$threads" > "$work/$p.$r.log" 2>&1)
    e=$(date +%s.%N)
    dt=$(echo "$e - $s" | bc)
    times[$p]="${times[$p]:-} $dt"
    acc=$(grep -o 'val_acc [0-9.]*%\?' "$work/$p.$r.log" | tail -1 || true)
    printf 'round %d  %-10s %7.2f s  %8.0f samples/s  %s\n' "$r" "$p" "$dt" "$(echo "60000 / $dt" | bc -l)" "$acc"
  done
done

median() { tr ' ' '\n' | sed '/^$/d' | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
echo
printf '%-8s %14s %14s %10s\n' "run" "PNG samples/s" "IDX samples/s" "PNG/IDX"
for k in load lenet; do
  png=$(echo "${times[png_$k]}" | median)
  idx=$(echo "${times[idx_$k]}" | median)
  printf '%-8s %14.0f %14.0f %10.2f\n' "$k" "$(echo "60000 / $png" | bc -l)" "$(echo "60000 / $idx" | bc -l)" "$(echo "$idx / $png" | bc -l)"
done
