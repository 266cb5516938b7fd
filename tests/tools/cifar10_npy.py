#!/usr/bin/env python3
"""scripts/cifar10_npy.py: a CIFAR-10 archive in the authors' python format (made here: 6 batches of a few rows)
becomes the NPY files specs/vgg.dls reads, in the layout the spec declares (`check --data` on a copy of the spec
is clean of errors); a damaged archive, a batch of the wrong shape and a pickle that would run code are refused
with a message and write nothing. Usage: cifar10_npy.py DLSPEC"""
import io
import os
import pickle
import subprocess
import sys
import tarfile
import tempfile

import numpy as np

DLSPEC = sys.argv[1]
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
SCRIPT = os.path.join(ROOT, "scripts", "cifar10_npy.py")
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def archive(path, batches):
    with tarfile.open(path, "w:gz") as tar:
        for name, obj in batches.items():
            data = obj if isinstance(obj, bytes) else pickle.dumps(obj)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def run(*args, cwd):
    return subprocess.run([sys.executable, SCRIPT, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


class Evil:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


with tempfile.TemporaryDirectory() as tmp:
    rng = np.random.default_rng(1)
    batches, rows = {}, {}
    for i, name in enumerate([f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]):
        n = 30 + i
        rows[name] = (rng.integers(0, 256, (n, 3072), dtype=np.uint8), [int(v) for v in rng.integers(0, 10, n)])
        batches[name] = {b"data": rows[name][0], b"labels": rows[name][1], b"batch_label": name.encode()}
    archive(os.path.join(tmp, "cifar.tar.gz"), batches)
    out = os.path.join(tmp, "data")
    p = run("cifar.tar.gz", "-o", out, cwd=tmp)
    check(p.returncode == 0, f"the archive converts: {p.stdout.strip()} {p.stderr.strip()}")
    if p.returncode == 0:
        x = np.load(os.path.join(out, "cifar10-train-x.npy"))
        y = np.load(os.path.join(out, "cifar10-train-y.npy"))
        want_x = np.concatenate([rows[f"data_batch_{k}"][0] for k in range(1, 6)]).reshape(-1, 3, 32, 32)
        want_y = np.concatenate([rows[f"data_batch_{k}"][1] for k in range(1, 6)])
        check(x.dtype == np.uint8 and x.shape == (160, 3, 32, 32) and np.array_equal(x, want_x),
              f"training images: the five batches in order, rows as [3, 32, 32] (R, G, B planes): {x.shape}")
        check(np.array_equal(y, want_y), "training labels in the batches' order")
        tx = np.load(os.path.join(out, "cifar10-test-x.npy"))
        check(np.array_equal(tx, rows["test_batch"][0].reshape(-1, 3, 32, 32)), "test images from test_batch")
        spec = open(os.path.join(ROOT, "specs", "vgg.dls")).read()
        with open(os.path.join(tmp, "vgg.dls"), "w") as f:
            f.write(spec)
        c = subprocess.run([DLSPEC, "check", "--data", "--color=never", "vgg.dls"], cwd=tmp, capture_output=True, text=True)
        check(c.returncode == 0 and "error" not in c.stderr, f"specs/vgg.dls checks with --data on the files: {c.stderr[-400:]}")

    # Refusals: nothing written, a message naming the problem.
    cases = {
        "truncated.tar.gz": None,
        "shape.tar.gz": dict(batches, data_batch_3={b"data": np.zeros((4, 100), np.uint8), b"labels": [0, 1, 2, 3]}),
        "labels.tar.gz": dict(batches, test_batch={b"data": np.zeros((2, 3072), np.uint8), b"labels": [3, 12]}),
        "evil.tar.gz": dict(batches, data_batch_1=pickle.dumps(Evil())),
        "missing.tar.gz": {k: v for k, v in batches.items() if k != "test_batch"},
    }
    for name, content in cases.items():
        path = os.path.join(tmp, name)
        if content is None:
            whole = open(os.path.join(tmp, "cifar.tar.gz"), "rb").read()
            open(path, "wb").write(whole[:len(whole) // 2])
        else:
            archive(path, content)
        dest = os.path.join(tmp, "out-" + name)
        p = run(name, "-o", dest, cwd=tmp)
        check(p.returncode != 0 and p.stderr.startswith("cifar10_npy: ") and not os.path.exists(dest),
              f"{name} refused, nothing written: {p.stderr.strip()[:160]}")
    check(not os.path.exists(os.path.join(tmp, "pwned")), "the pickle's code never ran")
    p = run(cwd=tmp)
    check(p.returncode != 0 and "--from-fashion" in p.stderr, "no source: says what to give")

if failures:
    print(f"{len(failures)} failed")
    sys.exit(1)
print("all passed")
