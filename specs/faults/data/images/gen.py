#!/usr/bin/env python3
"""Writes the image folders of specs/faults/data/images/ (deterministic; rerun to regenerate them): 6x6 grey
PNG files in class sub-folders a..d (ImageFolder's layout), 25 training and 5 test images per class, and
variants of the training folder that each carry one fault of `dlspec check --data` (D0119-D0123)."""
import os, random, shutil, struct, zlib

here = os.path.dirname(os.path.abspath(__file__))
rng = random.Random(2207)
CLASSES = "abcd"


def png(w, h, channels, pixels):
    def chunk(tag, body):
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body) & 0xFFFFFFFF)
    row = w * channels
    raw = b"".join(b"\x00" + bytes(pixels[r * row:(r + 1) * row]) for r in range(h))
    colour = 0 if channels == 1 else 2
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, colour, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def noise(n):
    return [rng.randrange(256) for _ in range(n)]


def folder(name, per_class, make=lambda c, i: png(6, 6, 1, noise(36))):
    root = os.path.join(here, name)
    shutil.rmtree(root, ignore_errors=True)
    for c in CLASSES:
        os.makedirs(os.path.join(root, c))
        for i in range(per_class):
            data = make(c, i)
            if data is not None:
                with open(os.path.join(root, c, f"{i:02d}.png"), "wb") as f:
                    f.write(data)
    return root


folder("train", 25)
folder("test", 5)
# D0119: a PNG cut short inside its image data, and a file named .jpg that starts like a JPEG but is not one.
root = folder("broken", 25)
whole = open(os.path.join(root, "a", "00.png"), "rb").read()
with open(os.path.join(root, "a", "00.png"), "wb") as f:
    f.write(whole[:len(whole) - 30])
with open(os.path.join(root, "b", "25.jpg"), "wb") as f:
    f.write(b"\xff\xd8\xff\xe0" + bytes(noise(60)))
# D0120: some images 8x8 grey, some 6x6 RGB, among the 6x6 grey ones.
folder("mixed", 25, lambda c, i: png(8, 8, 1, noise(64)) if c == "a" and i < 3
       else png(6, 6, 3, noise(108)) if c == "b" and i < 2 else png(6, 6, 1, noise(36)))
# D0121: class d's folder holds no image, only a text file.
root = folder("empty", 25, lambda c, i: None if c == "d" else png(6, 6, 1, noise(36)))
with open(os.path.join(root, "d", "notes.txt"), "w") as f:
    f.write("no images of this class yet\n")
# D0122: six images of one grey level each (each its own, so that they are not also duplicates).
folder("constant", 25, lambda c, i: png(6, 6, 1, [100 + 20 * "abc".find(c) + 5 * i] * 36) if i < 2 and c != "d"
       else png(6, 6, 1, noise(36)))
