#!/usr/bin/env python3
"""Augmentations are off in evaluation, end to end: a spec whose training pipeline augments (random_crop,
random_flip, random_rotation, random_affine, color_jitter, gaussian_noise, random_erasing) is trained one epoch
with a checkpoint; the same spec without the augmentation steps is built as a second program; `eval` of that
checkpoint prints the same metrics from both, and they differ from a checkpoint of another seed (so the
comparison can fail).
Usage: augment_eval.py DLSPEC"""
import os
import re
import struct
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


def run(args, cwd, timeout=300):
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def idx(path, arr):
    with open(path, "wb") as f:
        f.write(struct.pack(">HBB", 0, 0x08, arr.ndim) + struct.pack(">" + "I" * arr.ndim, *arr.shape))
        f.write(arr.astype(np.uint8).tobytes())


SPEC = """dlspec 1
dataset tiny {{
  train = idx("tr-x.idx", "tr-y.idx")
  test  = idx("te-x.idx", "te-y.idx")
  sample image: u8[3, 12, 12]
  label  kind:  class<4>
}}
pipeline train_input from tiny.train {{
  image = image |> to_f32 |> scale(1/255)
{augment}  image = image |> normalize(mean: 0.5, std: 0.25)
  shuffle(buffer: all)
  batch(16)
}}
pipeline test_input from tiny.test {{
  image = image |> to_f32 |> scale(1/255) |> normalize(mean: 0.5, std: 0.25)
  batch(16)
}}
network Net(x: f32[N, 3, 12, 12]) -> logits[N, 4] {{
  h = x |> conv2d(filters: 8, kernel: 3) |> relu |> maxpool(2)
  return h |> flatten |> dense(4)
}}
train aug {{
  model      = Net on cpu
  data       = train_input
  loss       = cross_entropy(model.out, kind)
  optimizer  = adam(lr: 0.01)
  epochs     = 2
  validate   = test_input every 1 epoch metrics [accuracy, loss]
  checkpoint = "{ckpt}" every 2 epochs keep 1
  seed       = {seed}
}}
"""
AUGMENT = """  augment random_crop(12, pad: 1)
  augment random_flip(0.5)
  augment random_rotation(15)
  augment random_affine(5, translate: [0.1, 0.1], scale: [0.9, 1.1], shear: 5)
  augment color_jitter(brightness: 0.3, contrast: 0.3, saturation: 0.3, hue: 0.05)
  augment gaussian_noise(0.05)
  augment random_erasing(0.5)
"""

with tempfile.TemporaryDirectory() as tmp:
    rng = np.random.default_rng(11)
    for name, n in (("tr", 96), ("te", 48)):
        y = rng.integers(0, 4, n)
        x = rng.integers(0, 80, size=(n, 3, 12, 12)) + (y * 40)[:, None, None, None]
        idx(os.path.join(tmp, f"{name}-x.idx"), x)
        idx(os.path.join(tmp, f"{name}-y.idx"), y)
    programs = {}
    for name, augment, seed in (("with", AUGMENT, 42), ("without", "", 42), ("other", AUGMENT, 7)):
        spec = SPEC.format(augment=augment, ckpt=f"runs/{name}", seed=seed)
        open(os.path.join(tmp, name + ".dls"), "w").write(spec)
        b = run([DLSPEC, "build", name + ".dls", "-o", name], tmp)
        check(b.returncode == 0, f"build {name}: {b.stderr[-300:]}")
        programs[name] = os.path.join(tmp, name)
    for name in ("with", "other"):
        t = run([programs[name], "train", "--threads", "1"], tmp)
        check(t.returncode == 0, f"train {name}: {t.stderr[-300:]}")

    def metrics(program, ckpt):
        e = run([program, "eval", "--checkpoint", os.path.join(tmp, "runs", ckpt), "--threads", "1"], tmp)
        nums = re.findall(r"(accuracy|loss)[ =:]+([0-9.]+)", e.stdout + e.stderr)
        return e.returncode, nums, e.stdout + e.stderr

    rc1, m1, out1 = metrics(programs["with"], "with")
    rc2, m2, out2 = metrics(programs["without"], "with")
    rc3, m3, out3 = metrics(programs["without"], "other")
    check(rc1 == 0 and rc2 == 0 and len(m1) >= 2, f"eval runs with and without the augmentation steps: {out1[-300:]} {out2[-300:]}")
    check(m1 == m2, f"the same checkpoint evaluates the same with and without the augmentation steps: {m1} against {m2}")
    check(rc3 == 0 and m3 != m1, f"another checkpoint evaluates otherwise (the comparison can fail): {m3} against {m1}")
    print(f"     metrics: {m1}")

if failures:
    print(f"{len(failures)} failed")
    sys.exit(1)
print("all passed")
