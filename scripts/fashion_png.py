#!/usr/bin/env python3
"""Writes Fashion-MNIST (Debian's dataset-fashion-mnist IDX files) as image folders of PNG files, in
torchvision's ImageFolder layout, for `images("…")` sources (specs/fashion_png.dls):

    OUT/train/0-tshirt/00000.png … OUT/train/9-ankle-boot/…   (60000 images)
    OUT/test/…                                                 (10000 images)

The class folders are numbered so that their sorted order is Fashion-MNIST's label order. Grey 28x28 PNGs,
written with zlib only (no imaging library). Quick when OUT already holds every file.

Usage: scripts/fashion_png.py [OUT] [--limit N]   (OUT: specs/data/fashion-png; N: images per split, for tests)
"""
import gzip
import os
import struct
import sys
import zlib

SRC = "/usr/share/datasets/fashion-mnist"
CLASSES = ["0-tshirt", "1-trouser", "2-pullover", "3-dress", "4-coat", "5-sandal", "6-shirt", "7-sneaker", "8-bag",
           "9-ankle-boot"]


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    zero, kind, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or kind != 0x08:
        sys.exit(f"fashion_png: {path} is not a u8 IDX file")
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return dims, data[4 + 4 * ndim:]


def png(width, height, rows):
    def chunk(tag, body):
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body) & 0xFFFFFFFF)
    raw = b"".join(b"\x00" + r for r in rows)  # filter type 0 on every row
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def write_split(images, labels, out, limit):
    (n, h, w), pixels = read_idx(images)
    (m,), lab = read_idx(labels)
    if n != m:
        sys.exit(f"fashion_png: {images} has {n} images but {labels} has {m} labels")
    n = min(n, limit) if limit else n
    for c in CLASSES:
        os.makedirs(os.path.join(out, c), exist_ok=True)
    for i in range(n):
        path = os.path.join(out, CLASSES[lab[i]], f"{i:05d}.png")
        if os.path.exists(path):
            continue
        img = pixels[i * h * w:(i + 1) * h * w]
        with open(path + ".tmp", "wb") as f:
            f.write(png(w, h, [img[r * w:(r + 1) * w] for r in range(h)]))
        os.replace(path + ".tmp", path)
    return n


def main():
    args = sys.argv[1:]
    limit = 0
    if "--limit" in args:
        k = args.index("--limit")
        limit = int(args[k + 1])
        del args[k:k + 2]
    out = args[0] if args else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "specs", "data", "fashion-png")
    for split, prefix in (("train", "train"), ("test", "t10k")):
        n = write_split(os.path.join(SRC, f"{prefix}-images-idx3-ubyte.gz"), os.path.join(SRC, f"{prefix}-labels-idx1-ubyte.gz"),
                        os.path.join(out, split), limit)
        print(f"fashion_png: {n} images in {os.path.normpath(os.path.join(out, split))}")


if __name__ == "__main__":
    main()
