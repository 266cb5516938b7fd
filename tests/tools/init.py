#!/usr/bin/env python3
"""`dlspec init`: starting specs read off the data check clean (with --data too) and train, for IDX images with
a test split (Fashion-MNIST, when installed), a CSV classifier and an NPY regression; what init refuses.
Usage: init.py DLSPEC"""
import os
import re
import subprocess
import sys
import tempfile

import numpy as np

DLSPEC = sys.argv[1]
FM = "/usr/share/datasets/fashion-mnist"
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def run(*args, cwd, timeout=300):
    return subprocess.run([DLSPEC, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


with tempfile.TemporaryDirectory() as tmp:
    rng = np.random.default_rng(0)
    # A CSV classifier: 3 classes from two features, a header with the label last.
    x = rng.normal(size=(300, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(int) + (x[:, 1] > 0.5)
    with open(os.path.join(tmp, "flowers.csv"), "w") as f:
        f.write("a,b,c,d,species\n")
        for row, label in zip(x, y):
            f.write(",".join(f"{v:.4f}" for v in row) + f",{label}\n")
    # An NPY regression: real targets.
    xr = rng.normal(size=(400, 6)).astype(np.float32)
    np.save(os.path.join(tmp, "x.npy"), xr)
    np.save(os.path.join(tmp, "y.npy"), (xr @ np.arange(6) / 10).astype(np.float32))

    p = run("init", "--data", "flowers.csv", "-o", "flowers.dls", cwd=tmp)
    spec = open(os.path.join(tmp, "flowers.dls")).read() if p.returncode == 0 else ""
    check(p.returncode == 0, f"init from a CSV: rc {p.returncode} {p.stderr[-300:]}")
    check('csv("flowers.csv", label: "species")' in spec and "sample x: f32[4]" in spec and "label species: class<3>" in spec,
          "the CSV's label column, feature count and class count are read off the file")
    check("split(valid: 0.1)" in spec and "validate   = train_input.valid" in spec, "without a test split it validates on held-out data")
    m = re.search(r"normalize\(mean: ([-0-9.e]+), std: ([-0-9.e]+)\)", spec)
    check(m is not None and abs(float(m.group(1)) - float(x.mean())) < 1e-2 and abs(float(m.group(2)) - float(x.std())) < 1e-2,
          "normalize uses the training data's mean and std")
    p = run("check", "--data", "flowers.dls", cwd=tmp)
    check(p.returncode == 0 and "error" not in p.stderr, f"the CSV spec checks clean with --data: {p.stderr[-300:]}")
    p = run("run", "flowers.dls", "--", "--epochs", "2", cwd=tmp)
    check(p.returncode == 0 and "epoch 2/2" in p.stdout + p.stderr and os.path.isdir(os.path.join(tmp, "runs", "flowers")),
          f"the CSV spec trains: rc {p.returncode} {(p.stdout + p.stderr)[-300:]}")

    p = run("init", "--data", "x.npy", "--labels", "y.npy", "--name", "lin", "-o", "lin.dls", cwd=tmp)
    spec = open(os.path.join(tmp, "lin.dls")).read() if p.returncode == 0 else ""
    check("-> real[N, 1]" in spec and "mse(model.out, label)" in spec and "label label: f32[1]" in spec and "dataset lin" in spec,
          f"real-valued NPY labels make a regression: rc {p.returncode} {p.stderr[-200:]}")
    p = run("run", "lin.dls", "--", "--epochs", "2", cwd=tmp)
    check(p.returncode == 0 and "val_loss" in p.stdout + p.stderr, f"the NPY regression trains: {(p.stdout + p.stderr)[-300:]}")

    if os.path.isdir(FM):
        p = run("init", "--data", f"{FM}/train-images-idx3-ubyte.gz", "--labels", f"{FM}/train-labels-idx1-ubyte.gz",
                "--test", f"{FM}/t10k-images-idx3-ubyte.gz", "--test-labels", f"{FM}/t10k-labels-idx1-ubyte.gz", cwd=tmp)
        spec = p.stdout
        check(p.returncode == 0 and "sample image: u8[28, 28]" in spec and "class<10>" in spec and "dataset fashion_mnist" in spec
              and "reshape([1, 28, 28])" in spec and "conv2d" in spec and "validate   = test_input" in spec,
              f"IDX images with a test split: a CNN on [1, 28, 28], validated on the test split: {p.stderr[-300:]}")
        check("normalize(mean: 0.286, std: 0.353)" in spec, "Fashion-MNIST's mean and std after scaling by 1/255")
        with open(os.path.join(tmp, "fm.dls"), "w") as f:
            f.write(spec)
        p = run("check", "fm.dls", cwd=tmp)
        check(p.returncode == 0 and "error" not in p.stderr, f"the IDX spec checks clean: {p.stderr[-300:]}")
    else:
        print("skip the IDX case: dataset-fashion-mnist is not installed")

    # Refusals: each a usage error (exit 2) that writes nothing.
    before = sorted(os.listdir(tmp))
    for args, why in ((["--data", "x.npy"], "--labels"), (["--data", "flowers.csv", "-o", "flowers.csv"], "data file"),
                      (["--data", "flowers.csv", "-o", "lin.dls"], "--force"), (["--data", "."], "directory"),
                      (["--data", "notes.txt"], "cannot tell the format"), ([], "no data given")):
        p = run("init", *args, cwd=tmp)
        check(p.returncode == 2 and why in p.stderr, f"init {' '.join(args)}: refused ({why}): rc {p.returncode} {p.stderr.strip()[:160]}")
    check(open(os.path.join(tmp, "flowers.csv")).read().startswith("a,b,c,d,species"), "the data file is untouched")
    check(sorted(os.listdir(tmp)) == before, "refusals write nothing")

if failures:
    print(f"{len(failures)} failed")
    sys.exit(1)
print("all passed")
