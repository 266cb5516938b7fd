#!/usr/bin/env python3
"""`dlspec init`: starting specs read off the data check clean (with --data too) and train, for IDX images with
a test split (Fashion-MNIST, when installed), a CSV classifier, an NPY regression and an image folder with a
test folder; the specs are in `dlspec fmt`'s layout; what init refuses.
Usage: init.py DLSPEC"""
import os
import re
import subprocess
import struct
import sys
import tempfile
import zlib

import numpy as np

DLSPEC = sys.argv[1]
FM = "/usr/share/datasets/fashion-mnist"
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def has(spec, text):
    """`text` is in `spec`, whatever the spaces (fmt aligns columns)."""
    return " ".join(text.split()) in " ".join(spec.split())


def write_png(path, pixels):
    """An 8-bit grey (H, W) or RGB (H, W, 3) PNG."""
    h, w = pixels.shape[:2]
    colour = 2 if pixels.ndim == 3 else 0
    raw = b"".join(b"\0" + pixels[r].tobytes() for r in range(h))
    chunk = lambda kind, data: struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, colour, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


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
    check('csv("flowers.csv", label: "species")' in spec and has(spec, "sample x: f32[4]") and has(spec, "label species: class<3>"),
          "the CSV's label column, feature count and class count are read off the file")
    check("split(valid: 0.1)" in spec and has(spec, "validate = train_input.valid"), "without a test split it validates on held-out data")
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
    check("-> real[N, 1]" in spec and "mse(model.out, label)" in spec and has(spec, "label label: f32[1]") and "dataset lin" in spec,
          f"real-valued NPY labels make a regression: rc {p.returncode} {p.stderr[-200:]}")
    p = run("run", "lin.dls", "--", "--epochs", "2", cwd=tmp)
    check(p.returncode == 0 and "val_loss" in p.stdout + p.stderr, f"the NPY regression trains: {(p.stdout + p.stderr)[-300:]}")

    if os.path.isdir(FM):
        p = run("init", "--data", f"{FM}/train-images-idx3-ubyte.gz", "--labels", f"{FM}/train-labels-idx1-ubyte.gz",
                "--test", f"{FM}/t10k-images-idx3-ubyte.gz", "--test-labels", f"{FM}/t10k-labels-idx1-ubyte.gz", cwd=tmp)
        spec = p.stdout
        check(p.returncode == 0 and has(spec, "sample image: u8[28, 28]") and "class<10>" in spec and "dataset fashion_mnist" in spec
              and "reshape([1, 28, 28])" in spec and "conv2d" in spec and has(spec, "validate = test_input"),
              f"IDX images with a test split: a CNN on [1, 28, 28], validated on the test split: {p.stderr[-300:]}")
        check("normalize(mean: 0.286, std: 0.353)" in spec, "Fashion-MNIST's mean and std after scaling by 1/255")
        with open(os.path.join(tmp, "fm.dls"), "w") as f:
            f.write(spec)
        p = run("check", "fm.dls", cwd=tmp)
        check(p.returncode == 0 and "error" not in p.stderr, f"the IDX spec checks clean: {p.stderr[-300:]}")
        p = run("fmt", "--check", "fm.dls", cwd=tmp)
        check(p.returncode == 0, f"the IDX spec is in fmt's layout: {p.stdout[-400:]}")
    else:
        print("skip the IDX case: dataset-fashion-mnist is not installed")

    # An image folder (one sub-folder per class) with a test folder: classes from the folders, the most common
    # image shape, the pixels' mean and std; one image of another size is resized by the spec's `size:`.
    for split, n in (("train", 24), ("test", 8)):
        for k, cls in enumerate(("cat", "dog", "emu")):
            os.makedirs(os.path.join(tmp, "pets", split, cls))
            for i in range(n):
                img = (rng.random((20, 24, 3)) * 60 + 80 * k).astype(np.uint8)
                write_png(os.path.join(tmp, "pets", split, cls, f"{i}.png"), img)
    write_png(os.path.join(tmp, "pets", "train", "cat", "big.png"), (rng.random((40, 40, 3)) * 60).astype(np.uint8))
    p = run("init", "--data", "pets/train", "--test", "pets/test", "-o", "pets.dls", cwd=tmp)
    spec = open(os.path.join(tmp, "pets.dls")).read() if p.returncode == 0 else ""
    check(p.returncode == 0 and has(spec, 'train = images("pets/train", size: [20, 24], channels: 3)')
          and has(spec, 'test = images("pets/test", size: [20, 24], channels: 3)') and has(spec, "sample image: u8[3, 20, 24]")
          and has(spec, "label label: class<3>") and "conv2d" in spec and has(spec, "validate = test_input"),
          f"an image folder: classes from its folders, the common shape, validated on the test folder: rc {p.returncode} {p.stderr[-300:]}")
    check("1 of the 73 images looked at has another size" in spec, "the image of another size is counted in a comment")
    m = re.search(r"normalize\(mean: ([-0-9.e]+), std: ([-0-9.e]+)\)", spec)
    import glob
    vals = []
    for f in sorted(glob.glob(os.path.join(tmp, "pets", "train", "*", "*.png"))):
        if not f.endswith("big.png"):
            raw = open(f, "rb").read()
            idat = raw[raw.index(b"IDAT") + 4:raw.index(b"IEND") - 8]
            rows = zlib.decompress(idat)
            vals.append(np.frombuffer(rows, np.uint8).reshape(20, 1 + 24 * 3)[:, 1:].astype(np.float64) / 255)
    vals = np.concatenate([v.ravel() for v in vals])
    check(m is not None and abs(float(m.group(1)) - vals.mean()) < 1e-3 and abs(float(m.group(2)) - vals.std()) < 1e-3,
          f"normalize uses the images' mean and std: {m.groups() if m else None} against {vals.mean():.4f}, {vals.std():.4f}")
    p = run("check", "--data", "pets.dls", cwd=tmp)
    check(p.returncode == 0 and "error" not in p.stderr, f"the image-folder spec checks clean with --data: {p.stderr[-300:]}")
    p = run("run", "pets.dls", "--", "--epochs", "2", cwd=tmp)
    check(p.returncode == 0 and "epoch 2/2" in p.stdout + p.stderr, f"the image-folder spec trains: rc {p.returncode} {(p.stdout + p.stderr)[-300:]}")
    for f in ("flowers.dls", "lin.dls", "pets.dls"):
        p = run("fmt", "--check", f, cwd=tmp)
        check(p.returncode == 0, f"{f} is in fmt's layout: {p.stdout[-300:]}")
    os.makedirs(os.path.join(tmp, "empty", "only"))
    p = run("init", "--data", "empty", cwd=tmp)
    check(p.returncode == 1 and "one sub-folder per class" in p.stderr and "E0901" in p.stderr,
          f"a folder without class folders of images is refused with a code: rc {p.returncode} {p.stderr.strip()[:200]}")

    # Refusals: each a usage error (exit 2) that writes nothing.
    before = sorted(os.listdir(tmp))
    for args, why in ((["--data", "x.npy"], "--labels"), (["--data", "flowers.csv", "-o", "flowers.csv"], "data file"),
                      (["--data", "flowers.csv", "-o", "lin.dls"], "--force"),
                      (["--data", "pets/train", "--labels", "y.npy"], "class sub-folders"),
                      (["--data", "notes.txt"], "cannot tell the format"), ([], "no data given")):
        p = run("init", *args, cwd=tmp)
        check(p.returncode == 2 and why in p.stderr, f"init {' '.join(args)}: refused ({why}): rc {p.returncode} {p.stderr.strip()[:160]}")
    check(open(os.path.join(tmp, "flowers.csv")).read().startswith("a,b,c,d,species"), "the data file is untouched")
    check(sorted(os.listdir(tmp)) == before, "refusals write nothing")

if failures:
    print(f"{len(failures)} failed")
    sys.exit(1)
print("all passed")
