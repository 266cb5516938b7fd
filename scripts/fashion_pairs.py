#!/usr/bin/python3
"""Writes pairs of Fashion-MNIST images (Debian's dataset-fashion-mnist IDX files) for the siamese spec
specs/siamese.dls, whose loss, cosine_embedding, compares the embeddings of the two images of a pair:

    OUT/train-left.npy   u8  [20000, 28, 28]   OUT/test-left.npy   u8  [5000, 28, 28]
    OUT/train-right.npy  u8  [20000, 28, 28]   OUT/test-right.npy  u8  [5000, 28, 28]
    OUT/train-same.npy   f32 [20000, 1]        OUT/test-same.npy   f32 [5000, 1]

Pair i takes a random image of its split as `left`; for even i `right` is another image of the same class (target
1), for odd i an image of another class (target -1): half the pairs alike, half not. The test pairs are drawn from
the test images only. Seeded: the same files every time. Quick when OUT already holds every file.

Usage: scripts/fashion_pairs.py [OUT]   (OUT: specs/data/fashion-pairs)
"""
import gzip
import os
import struct
import sys

import numpy as np

SRC = "/usr/share/datasets/fashion-mnist"
SPLITS = (("train", "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", 20000, 94),
          ("test", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", 5000, 95))


def read_idx(path, ndim):
    with open(path, "rb") as f:
        data = gzip.decompress(f.read())
    zero, kind, n = struct.unpack(">HBB", data[:4])
    if zero != 0 or kind != 0x08 or n != ndim:
        sys.exit(f"fashion_pairs: {path} is not a u8 IDX file of {ndim} axes")
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data[4 + 4 * ndim:], dtype=np.uint8).reshape(dims)


def make_pairs(labels, n, seed):
    rng = np.random.default_rng(seed)
    by_class = [np.flatnonzero(labels == c) for c in range(10)]
    left = rng.integers(0, len(labels), size=n)
    right = np.empty(n, dtype=np.int64)
    same = np.empty(n, dtype=np.float32)
    for i in range(n):
        c = labels[left[i]]
        if i % 2 == 0:
            pool = by_class[c]
            j = left[i]
            while j == left[i]:
                j = pool[rng.integers(0, len(pool))]
            right[i], same[i] = j, 1.0
        else:
            other = (c + rng.integers(1, 10)) % 10
            pool = by_class[other]
            right[i], same[i] = pool[rng.integers(0, len(pool))], -1.0
    return left, right, same.reshape(n, 1)


def save(path, array):
    np.save(path + ".tmp.npy", array)
    os.replace(path + ".tmp.npy", path)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "specs", "data",
                                                             "fashion-pairs")
    os.makedirs(out, exist_ok=True)
    for split, images, labels, n, seed in SPLITS:
        paths = [os.path.join(out, f"{split}-{f}.npy") for f in ("left", "right", "same")]
        if all(os.path.exists(p) for p in paths):
            continue
        x = read_idx(os.path.join(SRC, images), 3)
        y = read_idx(os.path.join(SRC, labels), 1)
        left, right, same = make_pairs(y, n, seed)
        save(paths[0], np.ascontiguousarray(x[left]))
        save(paths[1], np.ascontiguousarray(x[right]))
        save(paths[2], same)
        print(f"{out}/{split}-*.npy: {n} pairs, {int((same > 0).sum())} alike")


if __name__ == "__main__":
    main()
