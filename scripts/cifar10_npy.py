#!/usr/bin/env python3
"""Writes the NPY files specs/vgg.dls reads (data/cifar10-{train,test}-{x,y}.npy beside the spec), from one of:

  ARCHIVE          CIFAR-10 as its authors distribute it, the "python version" `cifar-10-python.tar.gz`
                   (https://www.cs.toronto.edu/~kriz/cifar.html, 163 MB; no Debian package ships it): 50,000
                   training and 10,000 test images of 10 classes, u8[3, 32, 32], labels 0-9.
  --from-fashion   a stand-in made from Debian's dataset-fashion-mnist, for a machine without the archive:
                   each 28x28 grey image padded to 32x32 and repeated over 3 channels (same shapes and
                   classes, so the spec trains as shipped; its accuracy is Fashion-MNIST's, not CIFAR-10's).

The archive is read with Python's tarfile and pickle, only the members named data_batch_1..5 and test_batch,
and each batch is checked (10,000 rows of 3,072 bytes, labels in 0-9) before anything is written; each file
is written to a temporary beside it and renamed, so an interrupted run leaves no half-written file.

Usage: scripts/cifar10_npy.py (ARCHIVE | --from-fashion) [-o DIR]   (DIR: specs/data)
"""
import argparse
import gzip
import os
import pickle
import struct
import sys
import tarfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FASHION = "/usr/share/datasets/fashion-mnist"


def fail(msg):
    sys.exit(f"cifar10_npy: {msg}")


class _Batches(pickle.Unpickler):
    """The batches are dicts of bytes, lists and numpy arrays: nothing else may be constructed."""

    def find_class(self, module, name):
        if module.startswith("numpy") and name in ("ndarray", "dtype", "_reconstruct", "scalar"):
            return super().find_class(module, name)
        fail(f"the archive's batch refers to {module}.{name}: not a CIFAR-10 batch")


def read_archive(path):
    want = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    found = {}
    try:
        with tarfile.open(path, "r:gz") as tar:
            for m in tar:
                base = os.path.basename(m.name)
                if base in want and m.isfile():
                    found[base] = _Batches(tar.extractfile(m), encoding="bytes").load()
    except (OSError, tarfile.TarError, EOFError, pickle.UnpicklingError) as e:
        fail(f"cannot read {path}: {e}")
    missing = [w for w in want if w not in found]
    if missing:
        fail(f"{path} lacks {', '.join(missing)}: is it cifar-10-python.tar.gz?")

    def split(names):
        xs, ys = [], []
        for n in names:
            b = found[n]
            x = np.asarray(b.get(b"data"), dtype=np.uint8) if b.get(b"data") is not None else None
            y = np.asarray(b.get(b"labels", []), dtype=np.int64)
            if x is None or x.ndim != 2 or x.shape[1] != 3072 or len(y) != len(x):
                fail(f"{n}: expected rows of 3,072 bytes and one label per row")
            if len(y) and (y.min() < 0 or y.max() > 9):
                fail(f"{n}: labels outside 0-9")
            xs.append(x.reshape(-1, 3, 32, 32))
            ys.append(y)
        return np.concatenate(xs), np.concatenate(ys)

    return split(want[:5]), split(want[5:])


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    zero, kind, ndim = struct.unpack(">HBB", data[:4])
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    if zero != 0 or kind != 0x08:
        fail(f"{path} is not a u8 IDX file")
    return np.frombuffer(data[4 + 4 * ndim:], dtype=np.uint8).reshape(dims)


def from_fashion():
    def split(images, labels):
        x = read_idx(f"{FASHION}/{images}")
        x = np.pad(x, ((0, 0), (2, 2), (2, 2)))
        return np.repeat(x[:, None], 3, axis=1), read_idx(f"{FASHION}/{labels}").astype(np.int64)

    if not os.path.isdir(FASHION):
        fail(f"{FASHION} is missing (scripts/deps.sh train installs dataset-fashion-mnist)")
    return (split("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
            split("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"))


def save(path, array):
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "wb") as f:
        np.save(f, array)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("archive", nargs="?")
    ap.add_argument("--from-fashion", action="store_true")
    ap.add_argument("-o", dest="outdir", default=os.path.join(ROOT, "specs", "data"))
    a = ap.parse_args()
    if bool(a.archive) == a.from_fashion:
        fail("give the CIFAR-10 archive (cifar-10-python.tar.gz) or --from-fashion")
    (xtr, ytr), (xte, yte) = read_archive(a.archive) if a.archive else from_fashion()
    os.makedirs(a.outdir, exist_ok=True)
    for name, arr in (("train-x", xtr), ("train-y", ytr), ("test-x", xte), ("test-y", yte)):
        save(os.path.join(a.outdir, f"cifar10-{name}.npy"), arr)
    print(f"cifar10_npy: {len(xtr)} training and {len(xte)} test images of u8[3, 32, 32] in {a.outdir}")


if __name__ == "__main__":
    main()
