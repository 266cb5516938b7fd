#!/usr/bin/python3
"""Writes a second sample field for Fashion-MNIST (Debian's dataset-fashion-mnist IDX files): four measurements of
each image, for the two-input spec specs/fashion_fields.dls, whose images come from the IDX files themselves:

    OUT/train-meta.npy   f32 [60000, 4]
    OUT/test-meta.npy    f32 [10000, 4]

Per image (grey levels scaled to [0, 1]): the mean grey level, the share of pixels above 0.5, the height of the
bounding box of the pixels above 0.1 divided by its width, and the row of the centre of mass divided by 28.
Quick when OUT already holds both files.

Usage: scripts/fashion_fields.py [OUT]   (OUT: specs/data/fashion-fields)
"""
import gzip
import os
import struct
import sys

import numpy as np

SRC = "/usr/share/datasets/fashion-mnist"


def read_images(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    zero, kind, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or kind != 0x08 or ndim != 3:
        sys.exit(f"fashion_fields: {path} is not a u8 IDX file of images")
    dims = struct.unpack(">III", data[4:16])
    return np.frombuffer(data[16:], dtype=np.uint8).reshape(dims)


def measurements(images):
    x = images.astype(np.float64) / 255.0
    n = x.shape[0]
    mean = x.reshape(n, -1).mean(axis=1)
    bright = (x > 0.5).reshape(n, -1).mean(axis=1)
    on = x > 0.1
    rows, cols = on.any(axis=2), on.any(axis=1)
    idx = np.arange(28)
    def extent(mask):
        first = np.where(mask.any(axis=1), mask.argmax(axis=1), 0)
        last = np.where(mask.any(axis=1), 27 - mask[:, ::-1].argmax(axis=1), 0)
        return last - first + 1
    aspect = extent(rows) / np.maximum(extent(cols), 1)
    mass = x.sum(axis=(1, 2))
    centre = np.where(mass > 0, (x.sum(axis=2) * idx).sum(axis=1) / np.maximum(mass, 1e-12), 14.0) / 28.0
    return np.stack([mean, bright, aspect, centre], axis=1).astype(np.float32)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "specs", "data",
                                                             "fashion-fields")
    os.makedirs(out, exist_ok=True)
    for split, name in (("train", "train-images-idx3-ubyte.gz"), ("test", "t10k-images-idx3-ubyte.gz")):
        path = os.path.join(out, f"{split}-meta.npy")
        if os.path.exists(path):
            continue
        meta = measurements(read_images(os.path.join(SRC, name)))
        np.save(path + ".tmp.npy", meta)
        os.replace(path + ".tmp.npy", path)
        print(f"{path}: {meta.shape[0]} x {meta.shape[1]}")


if __name__ == "__main__":
    main()
