#!/usr/bin/env bash
# A spec cannot make `dlspec check` run commands or read what it names: without --data the data paths are
# never opened (a FIFO would block an open; an unreadable file would fail it), and under strace no
# openat/execve touches them; no shell is ever started. Usage: isolation.sh DLSPEC
set -uo pipefail
dlspec=$1
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail=0
mkfifo "$tmp/train_x.npy" "$tmp/train_y.npy"                 # open(2) on a FIFO blocks without a writer
printf 'x' > "$tmp/test_x.npy"; chmod 000 "$tmp/test_x.npy"    # unreadable (for non-root)
ln -s /etc/shadow "$tmp/test_y.npy"                            # a link out of the spec's directory
cat > "$tmp/spec.dls" <<'SPEC'
dlspec 1

// Paths that would block, fail or leak if opened; a name that is a shell command.
dataset blobs {
  train = npy("train_x.npy", "train_y.npy")
  test  = npy("test_x.npy", "$(touch pwned).npy")
  sample x: f32[4]
  label  y: class<3>
}

pipeline train_input from blobs.train {
  shuffle(buffer: all)
  batch(32)
}

network Net(x: f32[N, 4]) -> logits[N, 3] {
  return x |> dense(3)
}

train run {
  model      = Net on cpu
  data       = train_input
  loss       = cross_entropy(model.out, y)
  optimizer  = sgd(lr: 0.1)
  epochs     = 1
  checkpoint = "`touch pwned2`" every 1 epoch keep 1
}
SPEC
cd "$tmp"
# 1. check without --data returns (does not block on the FIFOs) within 20 s.
timeout 20 "$dlspec" check spec.dls > check.out 2>&1; rc=$?
if [ $rc -eq 124 ]; then echo "FAIL: dlspec check blocked on a data path"; fail=1; else echo "ok   check without --data returns (exit $rc), FIFOs not opened"; fi
# 2. strace: no open of any data path, no execve besides dlspec itself.
if command -v strace >/dev/null; then
  timeout 60 strace -f -qq -e trace=open,openat,execve,creat -o trace.txt "$dlspec" check spec.dls >/dev/null 2>&1
  if grep -E '(train_|test_)[xy]\.npy|pwned' trace.txt | grep -vE 'stat' ; then echo "FAIL: check opened a data path"; fail=1
  else echo "ok   strace: no open/openat of any data path ($(grep -c 'open' trace.txt) opens in all, all libraries or the spec)"; fi
  execs=$(grep -c 'execve(' trace.txt)
  if [ "$execs" -ne 1 ]; then echo "FAIL: check ran $execs programs:"; grep execve trace.txt; fail=1
  else echo "ok   strace: one execve (dlspec itself), no shell"; fi
else
  echo "skip strace (not installed)"
fi
# 3. Nothing was created by the shell-like names.
if ls "$tmp" | grep -q pwned; then echo "FAIL: a spec string ran a command"; fail=1; else echo "ok   no command ran from spec strings"; fi
# 4. check --data reads the data (here IDX files that are missing) from the spec's directory, whatever the
#    working directory, and names the file it could not read.
mkdir -p sub
sed -e 's/npy("train_x.npy", "train_y.npy")/idx("train-images.idx", "train-labels.idx")/' spec.dls > sub/spec.dls
(cd / && timeout 20 "$dlspec" check --data "$tmp/sub/spec.dls" > "$tmp/data.out" 2>&1)
if grep -q "train-images.idx" data.out && grep -q "$tmp/sub/train-images.idx" data.out; then
  echo "ok   check --data resolves against the spec's directory and names $tmp/sub/train-images.idx"
else echo "FAIL: check --data does not name the resolved data path"; sed 's/^/     /' data.out | head -20; fail=1; fi
exit $fail
