#!/usr/bin/env python3
"""cosine_embedding end to end: a network of two inputs (the two sample fields of a pair, each from its own .npy
file) and two outputs, trained on 1/-1 targets. A short run validates with the loss and the pairs' accuracy (the
share of pairs whose cosine lies on their target's side of (1 + margin) / 2), which must be well above chance on
pairs whose alike members are near copies; `eval` reports the same metrics. A target other than 1 or -1 is refused
by `check --data` (D0133) and by the executable (R0257), both naming the file and the record; training targets of
one kind only are D0134.
Usage: pair_targets.py DLSPEC"""
import os
import re
import subprocess
import sys
import tempfile

import numpy as np

DLSPEC = sys.argv[1]
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


def run(args, cwd, timeout=600):
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout)


SPEC = """dlspec 1

dataset pairs {
  train = npy(left: "train-left.npy", right: "train-right.npy", same: "TRAIN_SAME")
  test  = npy(left: "test-left.npy", right: "test-right.npy", same: "test-same.npy")
  sample left:  f32[6]
  sample right: f32[6]
  label  same:  f32[1]
}

pipeline train_input from pairs.train {
  shuffle(buffer: all)
  batch(32)
}

pipeline test_input from pairs.test {
  batch(32)
}

network Pair(left: f32[N, 6], right: f32[N, 6]) -> (a: real[N, 8], b: real[N, 8]) {
  return (a: left |> dense(8), b: right |> dense(8))
}

train pair_fit {
  model     = Pair on cpu
  data      = train_input
  loss      = cosine_embedding(model.a, model.b, same, margin: 0.1)
  optimizer = adam(lr: 0.01)
  epochs    = 8
  validate  = test_input every 1 epoch metrics [loss, accuracy]
  seed      = 3
}
"""


def make_data(tmp, rng):
    """Alike pairs (1): the right sample is the left one with a little noise; unlike pairs (-1): an independent one."""
    for split, n in (("train", 640), ("test", 160)):
        left = rng.normal(size=(n, 6)).astype(np.float32)
        same = np.where(np.arange(n) % 2 == 0, 1.0, -1.0).astype(np.float32).reshape(n, 1)
        right = np.where(same > 0, left + 0.1 * rng.normal(size=(n, 6)), rng.normal(size=(n, 6))).astype(np.float32)
        np.save(os.path.join(tmp, f"{split}-left.npy"), left)
        np.save(os.path.join(tmp, f"{split}-right.npy"), right)
        np.save(os.path.join(tmp, f"{split}-same.npy"), same)
    bad = np.load(os.path.join(tmp, "train-same.npy"))
    bad[5, 0] = 0.0
    np.save(os.path.join(tmp, "train-bad.npy"), bad)
    np.save(os.path.join(tmp, "train-ones.npy"), np.ones_like(bad))


def write(tmp, name, same):
    path = os.path.join(tmp, name + ".dls")
    open(path, "w").write(SPEC.replace("TRAIN_SAME", same))
    return path


def main():
    with tempfile.TemporaryDirectory() as tmp:
        make_data(tmp, np.random.default_rng(94))
        good = write(tmp, "pairs", "train-same.npy")
        c = run([DLSPEC, "check", "--data", good], tmp)
        check(c.returncode == 0, f"check --data accepts 1/-1 targets: {(c.stdout + c.stderr)[-600:]}")
        exe = os.path.join(tmp, "pairs")
        b = run([DLSPEC, "build", good, "-o", exe], tmp)
        check(b.returncode == 0, f"build: {(b.stdout + b.stderr)[-600:]}")
        if b.returncode == 0:
            r = run([exe, "train", "--threads", "1"], tmp)
            out = r.stdout + r.stderr
            check(r.returncode == 0, f"train: {out[-800:]}")
            accs = [float(v) for v in re.findall(r"val_acc ([0-9.]+)%", out)]
            losses = [float(v) for v in re.findall(r"val_loss ([0-9.]+)", out)]
            check(len(accs) == 8 and len(losses) == 8, f"every epoch reports val_loss and val_acc: {out[-800:]}")
            if accs and losses:
                check(accs[-1] > 90.0, f"the pairs' accuracy is well above chance: {accs[-1]}%")
                check(losses[-1] < losses[0], f"the validation loss falls: {losses[0]} -> {losses[-1]}")
            check("val_mae" not in out and "val_r2" not in out, "no regression metric for a pair loss")
            e = run([exe, "eval", "--threads", "1"], tmp)
            check(e.returncode == 0 and "accuracy" in e.stdout, f"eval reports the pairs' accuracy: {(e.stdout + e.stderr)[-600:]}")
        # A target of 0: D0133 under check --data, R0257 from the executable, each naming the file and record 5.
        bad = write(tmp, "bad", "train-bad.npy")
        c = run([DLSPEC, "check", "--data", bad], tmp)
        text = c.stdout + c.stderr
        check(c.returncode != 0 and "[D0133]" in text and "train-bad.npy" in text and "record 5" in text,
              f"check --data refuses a target of 0 (D0133): {text[-600:]}")
        exe2 = os.path.join(tmp, "bad")
        b = run([DLSPEC, "build", bad, "-o", exe2], tmp)
        check(b.returncode == 0, f"build of the spec with a bad target file: {(b.stdout + b.stderr)[-600:]}")
        if b.returncode == 0:
            r = run([exe2, "train", "--threads", "1"], tmp)
            text = r.stdout + r.stderr
            check(r.returncode != 0 and "[R0257]" in text and "train-bad.npy" in text and "record 5" in text,
                  f"the executable refuses a target of 0 (R0257): {text[-600:]}")
        ones = write(tmp, "ones", "train-ones.npy")
        c = run([DLSPEC, "check", "--data", ones], tmp)
        text = c.stdout + c.stderr
        check("[D0134]" in text, f"check --data warns of targets of one kind (D0134): {text[-600:]}")
    if failures:
        print(f"{len(failures)} failure(s)")
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
