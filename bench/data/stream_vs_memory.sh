#!/usr/bin/env bash
# Throughput of a streamed split (train --load stream: the IDX files mapped read-only, each sample converted as
# a batch takes it by a pool of --threads threads; runtime/data/Stream.h) against the same split held in memory
# (train --load memory), on Fashion-MNIST's 60,000 training and 10,000 test images, in one run.
#   bench/data/stream_vs_memory.sh [DLSPEC] [ROUNDS] [THREADS]
#     DLSPEC  the dlspec compiler (default: build/compiler/dlspec)   ROUNDS  default 3   THREADS  default 2
# Debian's gzipped IDX files are gunzipped first (a gzip file cannot be mapped). Two programs are built from
# specs/lenet.dls with one epoch and no checkpoints, each run alternately ROUNDS times with both --load modes:
#   loading  the network is one dense layer (flatten |> dense(10)): the run is the data's loading and
#            conversion and one cheap pass over it, so its rate is the pipeline's;
#   lenet    the examples' LeNet: one epoch of training and a validation pass, loading included.
# Samples/s = 60,000 training samples over the command's wall time; the table gives the medians, the ratio
# stream/memory and the peak RSS of each (GNU time's %M). Not part of ctest; the machine is shared, so only the
# ratio of one run means anything.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
dlspec=${1:-$root/build/compiler/dlspec}
rounds=${2:-3}
threads=${3:-2}
work=$(mktemp -d /tmp/dls-streambench.XXXXXX)
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$work"' EXIT
src=/usr/share/datasets/fashion-mnist
for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
  gunzip -c "$src/$f.gz" > "$work/$f"
done

# One epoch, no checkpoint, the gunzipped files.
sed -e 's/^  epochs *= .*/  epochs     = 1/' -e '/^  checkpoint *=/d' -e "s|\"$src/\([a-z0-9-]*\)\.gz\"|\"$work/\1\"|g" \
  "$root/specs/lenet.dls" > "$work/lenet.dls"
grep -q "$work/train-images-idx3-ubyte\"" "$work/lenet.dls"
awk '/^network /{print "network Linear(x: f32[N, 1, 28, 28]) -> logits[N, 10] {\n  return x |> flatten |> dense(10)\n}"; skip=1; next}
     skip && /^}/{skip=0; next} !skip' "$work/lenet.dls" | sed -e 's/= LeNet on cpu/= Linear on cpu/' > "$work/load.dls"
for p in lenet load; do
  "$dlspec" build "$work/$p.dls" -o "$work/$p" >/dev/null
done

declare -A times rss
for ((r = 1; r <= rounds; r++)); do
  for p in load lenet; do
    for mode in memory stream; do
      s=$(date +%s.%N)
      (cd "$work" && /usr/bin/time -f '%M' -o "$work/$p.$mode.$r.rss" "./$p" train --epochs 1 --overwrite --threads "$threads" \
        --load "$mode" > "$work/$p.$mode.$r.log" 2>&1)
      e=$(date +%s.%N)
      dt=$(echo "$e - $s" | bc)
      times[$p.$mode]="${times[$p.$mode]:-} $dt"
      kib=$(tail -1 "$work/$p.$mode.$r.rss")
      rss[$p.$mode]="${rss[$p.$mode]:-} $kib"
      line=$(grep '^epoch 1/1' "$work/$p.$mode.$r.log" | sed -e 's/  [0-9.]* img\/s.*//' || true)
      printf 'round %d  %-6s %-7s %7.2f s  %8.0f samples/s  %5.0f MiB  %s\n' "$r" "$p" "$mode" "$dt" \
        "$(echo "60000 / $dt" | bc -l)" "$(echo "$kib / 1024" | bc -l)" "$line"
    done
  done
done

median() { tr ' ' '\n' | sed '/^$/d' | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
echo
printf '%-8s %16s %16s %14s %12s %12s\n' "run" "memory samples/s" "stream samples/s" "stream/memory" "memory MiB" "stream MiB"
for p in load lenet; do
  m=$(echo "${times[$p.memory]}" | median)
  s=$(echo "${times[$p.stream]}" | median)
  mr=$(echo "${rss[$p.memory]}" | median)
  sr=$(echo "${rss[$p.stream]}" | median)
  printf '%-8s %16.0f %16.0f %14.2f %12.0f %12.0f\n' "$p" "$(echo "60000 / $m" | bc -l)" "$(echo "60000 / $s" | bc -l)" \
    "$(echo "$m / $s" | bc -l)" "$(echo "$mr / 1024" | bc -l)" "$(echo "$sr / 1024" | bc -l)"
done
