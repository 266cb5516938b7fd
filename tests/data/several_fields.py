#!/usr/bin/env python3
"""Data sets with several sample fields, end to end through built programs:
1. Several fields from one CSV file (`csv("t.csv", img: columns(0, 16), kind: column(16), meta: columns(17, 20))`),
   with `meta |> standardize` on the field's training columns, an augmentation of the image field and mixup over
   every field: `train --load stream` writes the metrics.jsonl of `train --load memory`, at full precision; the same
   for fields from .npy files (the first field mapped, the further one held).
2. The same CSV spec `on [cuda:0, cuda:1]` (replicas on the CPU backend, DLS_REPLICA_BACKEND=cpu) trains as one
   process `on cpu`: every epoch's losses within 1e-5 relative, accuracies within one sample.
3. The refusals: E0636, E0637, E0638 from `check`; E0639 from `check --data` (a group past the file's columns, columns
   left out after the last group); R0260 from the executable for a test file of other columns.
Usage: several_fields.py DLSPEC"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

DLSPEC = os.path.abspath(sys.argv[1])
failures = []
ENV = dict(os.environ, OMP_NUM_THREADS="1")


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


def run(args, cwd, env=None, timeout=600):
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env or ENV)


def write_data(tmp, rng):
    """Four classes: bit 1 from the image's brightness, bit 0 from the first measurement's sign; the label column sits
    between the image's columns and the measurements'."""
    for split, n in (("train", 384), ("test", 128)):
        img = rng.integers(0, 200, size=(n, 16)).astype(np.float64)
        bright = rng.random(n) < 0.5
        img[bright] += 55
        meta = rng.normal(size=(n, 3)) * np.array([1.0, 50.0, 0.01])
        y = bright.astype(np.int64) * 2 + (meta[:, 0] > 0).astype(np.int64)
        with open(os.path.join(tmp, f"{split}.csv"), "w") as f:
            f.write(",".join([f"p{k}" for k in range(16)] + ["kind", "m0", "m1", "m2"]) + "\n")
            for i in range(n):
                f.write(",".join([f"{v:g}" for v in img[i]] + [str(y[i])] + [f"{v:.6g}" for v in meta[i]]) + "\n")
        np.save(os.path.join(tmp, f"{split}-img.npy"), img.reshape(n, 4, 4).astype(np.uint8))
        np.save(os.path.join(tmp, f"{split}-meta.npy"), meta.astype(np.float32))
        np.save(os.path.join(tmp, f"{split}-y.npy"), y)


CSV_DATA = """dataset d {
  train = csv("train.csv", img: columns(0, 16), kind: column(16), meta: columns(17, 20))
  test  = csv("test.csv", img: columns(0, 16), kind: column(16), meta: columns(17, 20))
  sample img:  f32[4, 4]
  sample meta: f32[3]
  label  kind: class<4>
}
"""

NPY_DATA = """dataset d {
  train = npy(img: "train-img.npy", meta: "train-meta.npy", kind: "train-y.npy")
  test  = npy(img: "test-img.npy", meta: "test-meta.npy", kind: "test-y.npy")
  sample img:  u8[4, 4]
  sample meta: f32[3]
  label  kind: class<4>
}
"""

REST = """
pipeline train_input from d.train {{
  img  = img |> to_f32 |> scale(1/255) |> reshape([1, 4, 4])
  meta = meta |> standardize
  shuffle(buffer: all)
{augment}  batch(32)
}}
pipeline test_input from d.test {{
  img  = img |> to_f32 |> scale(1/255) |> reshape([1, 4, 4])
  meta = meta |> standardize
  batch(32)
}}
network M(img: f32[N, 1, 4, 4], meta: f32[N, 3]) -> logits[N, 4] {{
  h = img |> flatten |> dense(16) |> relu
  m = meta |> dense(8) |> relu
  return concat(h, m, axis: 1) |> dense(4)
}}
train t {{
  model      = M on {device}
  data       = train_input
  loss       = cross_entropy(model.out, kind)
  optimizer  = adam(lr: 0.01)
  epochs     = 3
  validate   = test_input every 1 epoch metrics [accuracy, loss]
  checkpoint = "runs/t" every 1 epoch keep 1
  seed       = 3
}}
"""

AUGMENT = "  augment random_flip(0.5, axis: horizontal) on img\n  augment gaussian_noise(0.05)\n  augment mixup(0.4)\n"


def spec(data=CSV_DATA, augment=AUGMENT, device="cpu"):
    return "dlspec 1\n" + data + REST.format(augment=augment, device=device)


def build(tmp, name, text):
    path = os.path.join(tmp, name + ".dls")
    open(path, "w").write(text)
    c = run([DLSPEC, "check", path], tmp)
    if c.returncode != 0:
        check(False, f"{name}: check: {c.stdout[-1200:]}{c.stderr[-1200:]}")
        return None
    exe = os.path.join(tmp, name)
    b = run([DLSPEC, "build", path, "-o", exe], tmp)
    if b.returncode != 0:
        check(False, f"{name}: build: {b.stdout[-1200:]}{b.stderr[-1200:]}")
        return None
    return exe


def metrics(d):
    rows = [json.loads(l) for l in open(os.path.join(d, "runs", "t", "metrics.jsonl"))]
    return [{k: v for k, v in r.items() if k not in ("img_per_s", "seconds")} for r in rows]


def train(tmp, exe, name, args, env=None):
    d = os.path.join(tmp, name)
    os.makedirs(d)
    t = run([exe, "train", "--threads", "1"] + args, d, env=env)
    check(t.returncode == 0, f"{name}: trains: {t.stdout[-600:]}{t.stderr[-600:]}")
    return metrics(d) if t.returncode == 0 else None, t


def held_streamed(tmp, name, text):
    exe = build(tmp, name, text)
    if not exe:
        return None
    held, _ = train(tmp, exe, f"{name}-memory", ["--load", "memory"])
    streamed, t = train(tmp, exe, f"{name}-stream", ["--load", "stream"])
    if held is None or streamed is None:
        return None
    check("R0263" in t.stderr, f"{name}: the streamed run reads per batch (R0263)")
    check(len(held) == 3 and held == streamed,
          f"{name}: metrics.jsonl of --load stream = --load memory at full precision: {streamed[-1:]} against {held[-1:]}")
    print("     " + json.dumps(held[-1]))
    return held


def refused(tmp, name, text, code, data=False):
    path = os.path.join(tmp, name + ".dls")
    open(path, "w").write(text)
    c = run([DLSPEC, "check"] + (["--data"] if data else []) + [path], tmp)
    out = c.stdout + c.stderr
    check(c.returncode != 0 and f"[{code}]" in out and f"{name}.dls:" in out,
          f"{name}: refused with {code}" + ("" if f"[{code}]" in out else f": {out[-800:]}"))


def main():
    with tempfile.TemporaryDirectory() as tmp:
        write_data(tmp, np.random.default_rng(0))
        # 1. Held and streamed: the same epochs, for CSV column groups and for .npy fields.
        ref = held_streamed(tmp, "csv-fields", spec())
        if ref:
            check(ref[-1]["val_accuracy"] > 0.6, f"csv-fields: learns (val_accuracy {ref[-1]['val_accuracy']:.3f})")
        held_streamed(tmp, "npy-fields", spec(NPY_DATA))
        held_streamed(tmp, "csv-fields-cutmix", spec(augment="  augment cutmix(1)\n"))
        # 2. A device list of two replicas on the CPU backend against one process.
        exe1 = build(tmp, "csv-one", spec(augment="  augment random_flip(0.5) on img\n"))
        exe2 = build(tmp, "csv-two", spec(augment="  augment random_flip(0.5) on img\n", device="[cuda:0, cuda:1]"))
        if exe1 and exe2:
            one, _ = train(tmp, exe1, "one", [])
            two, t = train(tmp, exe2, "two", [], env=dict(ENV, DLS_REPLICA_BACKEND="cpu"))
            if one and two:
                check(len(one) == len(two) == 3, "device list: 3 epochs each")
                for a, b in zip(one, two):
                    close = all(abs(a[k] - b[k]) <= 1e-5 * max(abs(a[k]), abs(b[k]), 1e-12) for k in ("train_loss", "val_loss"))
                    acc = abs(a["train_accuracy"] - b["train_accuracy"]) <= 1.01 / 384 and abs(a["val_accuracy"] - b["val_accuracy"]) <= 1.01 / 128
                    check(close and acc, f"device list [cuda:0, cuda:1] = one process, epoch {a['epoch']}: train_loss "
                                         f"{a['train_loss']:.7g} vs {b['train_loss']:.7g}, val_loss {a['val_loss']:.7g} vs {b['val_loss']:.7g}")
        # 3. Refusals.
        two_images = spec().replace("sample meta: f32[3]", "sample meta: f32[1, 1, 3]").replace(
            "meta = meta |> standardize", "meta = meta |> scale(2)").replace("meta: f32[N, 3]", "meta: f32[N, 1, 1, 3]").replace(
            "m = meta |>", "m = meta |> flatten |>")
        refused(tmp, "ambiguous", two_images.replace(" on img\n", "\n"), "E0636")
        refused(tmp, "not-a-field", spec().replace(" on img\n", " on imag\n"), "E0636")
        refused(tmp, "further-field", spec(augment="  augment gaussian_noise(0.1) on meta\n"), "E0637")
        refused(tmp, "overlap", spec().replace("meta: columns(17, 20))\n  test", "meta: columns(15, 18))\n  test"), "E0638")
        refused(tmp, "no-columns", spec().replace(", meta: columns(17, 20))\n  test", ")\n  test"), "E0638")
        refused(tmp, "shape", spec().replace("sample meta: f32[3]", "sample meta: f32[4]").replace("meta: f32[N, 3]", "meta: f32[N, 4]"), "E0638")
        # check --data: the file's columns.
        with open(os.path.join(tmp, "wide.csv"), "w") as f:
            lines = open(os.path.join(tmp, "test.csv")).read().splitlines()
            f.write("\n".join(l + ",0" for l in lines) + "\n")
        refused(tmp, "left-out", spec().replace('csv("test.csv"', 'csv("wide.csv"'), "E0639", data=True)
        refused(tmp, "past", spec().replace("columns(17, 20))\n  sample", "columns(17, 21))\n  sample").replace(
            "sample meta: f32[3]", "sample meta: f32[4]").replace("meta: f32[N, 3]", "meta: f32[N, 4]").replace(
            'csv("train.csv", img: columns(0, 16), kind: column(16), meta: columns(17, 20))',
            'csv("train.csv", img: columns(0, 16), kind: column(16), meta: columns(17, 21))'), "E0639", data=True)
        # The executable: a test file of other columns than the program's groups.
        exe = build(tmp, "wide", spec().replace('csv("test.csv"', 'csv("wide.csv"'))
        if exe:
            d = os.path.join(tmp, "wide-run")
            os.makedirs(d)
            for mode in ("memory", "stream"):
                t = run([exe, "train", "--threads", "1", "--load", mode], d)
                check(t.returncode != 0 and "R0260" in t.stderr and "wide.csv" in t.stderr and "column 20" in t.stderr,
                      f"wide.csv under --load {mode}: R0260 naming the column left out: {t.stderr[-400:]}")
    print(f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
