#!/bin/sh
# tests/import/run.sh DLSPEC: each case's expected diagnostic (code and file:line), never a crash.
set -u
B=$1; cd "$(dirname "$0")/../.."; C=tests/import/cases; fail=0; T=${TMPDIR:-/tmp}/dlspec-import-$$
expect() {  # expect CFG RC PATTERN
  out=$("$B" import darknet "$1" -o "$T.dls" 2>&1); rc=$?
  if [ "$rc" != "$2" ] || ! printf '%s\n' "$out" | grep -q -- "$3"; then
    echo "FAIL $1: want rc $2 and /$3/, got rc $rc:"; printf '%s\n' "$out"; fail=1
  else echo "ok   $1"; fi
}
expect $C/unknown_section.cfg 1 'E1101.*' 
expect $C/unknown_section.cfg 1 'unknown_section.cfg:12:1'
expect $C/unknown_key.cfg 0 'unknown_key.cfg:9:1'
expect $C/bad_value.cfg 1 'E1102.*filters=four'
expect $C/bad_value.cfg 1 'bad_value.cfg:7:9'
expect $C/bad_route.cfg 1 'E1104'
expect $C/bad_route.cfg 1 'bad_route.cfg:11:8'
expect $C/mish.cfg 1 'E1103.*mish'
expect $C/bad_line.cfg 1 "bad_line.cfg:5:1"
expect $C/missing.cfg 1 'E0901'
expect $C/all_sections.cfg 0 '^$'
# [crop] becomes the pipeline (rotation and exposure warned at their keys), [local], reorg extra=, tree softmax
expect $C/crop.cfg 0 'W1103.*angle'
expect $C/crop.cfg 0 'crop.cfg:15:1'
expect $C/crop.cfg 0 'crop.cfg:17:1'
expect $C/crop.cfg 0 'W1103.*tree'
expect $C/crop_inside.cfg 1 'E1103.*crop'
# `inputs=` without width/height/channels: a flat input
expect $C/flat_input.cfg 0 '^$'
# recurrent layers: sequences [N, time_steps, inputs]; what does not translate is reported at its section or key
expect $C/rnn.cfg 0 'W1103.*activates their sum'
expect $C/rnn.cfg 0 'rnn.cfg:6:1'
expect $C/gru.cfg 0 '^$'
expect $C/rnn_logistic.cfg 1 'E1103.*activation `logistic`'
expect $C/rnn_logistic.cfg 1 'rnn_logistic.cfg:5:1'
expect $C/rnn_image.cfg 1 'E1103.*over a 8x8x3 image input'
expect $C/rnn_image.cfg 1 'rnn_image.cfg:7:1'
expect $C/rnn_conv.cfg 1 'E1103.*in a recurrent network'
expect $C/rnn_conv.cfg 1 'rnn_conv.cfg:10:1'
expect $C/crnn.cfg 1 'E1103.*convolutional recurrent'
"$B" import darknet $C/gru.cfg -o "$T.dls" >/dev/null 2>&1 && "$B" check "$T.dls" >"$T.out" 2>&1 \
  && "$B" build "$T.dls" -o "$T.exe" >>"$T.out" 2>&1
if grep -q 'x: f32\[N, 5, 8\]) -> logits\[N, 5, 8\]' "$T.dls" && grep -q 'gru(6, reset_after: false)' "$T.dls" \
   && grep -q 'lstm(7)' "$T.dls" && grep -q 'label kind: class<8>\[5\]' "$T.dls" && grep -q 'dense(8)$\|dense(8) //' "$T.dls" \
   && grep -q 'optimizer = adam(lr: 0.001, beta1: 0.9, beta2: 0.999, eps: 1e-07' "$T.dls" && ! grep -q 'error\[' "$T.out"; then
  echo "ok   gru.cfg: a [N, 5, 8] sequence through gru, lstm and a per-step dense, adam, checks and builds"
else echo "FAIL gru.cfg spec:"; cat "$T.dls" "$T.out"; fail=1; fi
"$B" import darknet $C/flat_input.cfg -o "$T.dls" >/dev/null 2>&1 && "$B" check "$T.dls" >"$T.out" 2>&1 \
  && grep -q 'x: f32\[N, 32\]' "$T.dls" && echo "ok   flat_input.cfg: x: f32[N, 32], check passes" \
  || { echo "FAIL flat_input.cfg:"; cat "$T.dls" "$T.out"; fail=1; }
"$B" import darknet $C/crop.cfg -o "$T.dls" >/dev/null 2>&1 && "$B" check "$T.dls" >"$T.out" 2>&1
if grep -q 'x: f32\[N, 3, 16, 16\]' "$T.dls" && grep -q 'augment random_crop(16)' "$T.dls" && grep -q 'augment random_flip' "$T.dls" \
   && grep -q 'local(filters: 4, kernel: 3, stride: 2, pad: 1)' "$T.dls" && grep -q 'reorg(1, extra: 1)' "$T.dls" && grep -q 'kernel: 1) |> ramp' "$T.dls" \
   && ! grep -q 'error\[' "$T.out"; then
  echo "ok   crop.cfg: pipeline crop, local, reorg extra and tree softmax check without errors (all have kernels)"
else echo "FAIL crop.cfg spec:"; cat "$T.dls" "$T.out"; fail=1; fi
"$B" summary --format=json "$T.dls" >"$T.out" 2>/dev/null
grep -q '"output":"\[N, 65\]"' "$T.out" && echo "ok   reorg extra=1: 8x8x1 -> 65 values" || { echo "FAIL reorg extra summary:"; cat "$T.out"; fail=1; }
# the generated spec of every section type reads back; the shortcut Darknet accepts is a sema fault
"$B" import darknet $C/all_sections.cfg -o "$T.dls" && "$B" check "$T.dls" >"$T.out" 2>&1
grep -q 'reorg(2)' "$T.dls" && ! grep -q 'error\[' "$T.out" || { echo "FAIL all_sections check:"; cat "$T.out"; fail=1; }
"$B" import darknet $C/shortcut_mismatch.cfg -o "$T.dls" && "$B" check "$T.dls" >"$T.out" 2>&1
# both mismatched shortcuts, the second one's operands derived from the first (sema's error recovery)
[ "$(grep -c 'error\[E0205\]' "$T.out")" = 2 ] && echo "ok   shortcut_mismatch: both shortcuts reported as E0205" || { echo "FAIL shortcut_mismatch:"; cat "$T.out"; fail=1; }
# dlspec summary still lists the layers (with their recovered shapes) of a spec with errors
"$B" summary --format=json "$T.dls" >"$T.out" 2>/dev/null
grep -q '"value":"l4"' "$T.out" && echo "ok   summary of a faulty spec lists its layers" || { echo "FAIL summary of a faulty spec:"; cat "$T.out"; fail=1; }
rm -f "$T.dls" "$T.out" "$T.exe"; exit $fail
