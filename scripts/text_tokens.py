#!/usr/bin/python3
"""Character windows of a text file as NPY token files, for specs/gpt.dls.

usage: text_tokens.py TEXT OUTDIR [--context 64] [--stride 32] [--test 0.1]

The vocabulary is fixed, whatever the file: 96 symbols, newline = 0 and the printable ASCII characters
32..126 = 1..95 (a tab becomes a space, any other byte '?'). The text is cut into windows of context + 1
symbols every `stride` symbols; a window's first `context` symbols are the sample and its last `context`
the label (the next symbol at every step). The last `test` share of the text (by position, never
overlapping the rest) gives the test windows. Writes OUTDIR/gpt-{train,test}-{x,y}.npy as u8 [windows,
context] and prints the counts.
"""
import argparse
import os

import numpy as np

VOCAB = 96


def encode(data: bytes) -> np.ndarray:
    b = np.frombuffer(data.replace(b"\t", b" "), dtype=np.uint8).astype(np.int16)
    ids = np.where(b == 10, 0, np.where((b >= 32) & (b <= 126), b - 31, ord("?") - 31))
    return ids.astype(np.uint8)


def decode(ids) -> str:
    return "".join("\n" if i == 0 else chr(int(i) + 31) for i in ids)


def windows(ids: np.ndarray, context: int, stride: int):
    starts = range(0, len(ids) - context - 1 + 1, stride)
    w = np.stack([ids[s:s + context + 1] for s in starts])
    return w[:, :-1].copy(), w[:, 1:].copy()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("text")
    ap.add_argument("outdir")
    ap.add_argument("--context", type=int, default=64)
    ap.add_argument("--stride", type=int, default=32)
    ap.add_argument("--test", type=float, default=0.1)
    a = ap.parse_args()
    with open(a.text, "rb") as f:
        ids = encode(f.read())
    cut = int(len(ids) * (1 - a.test))
    os.makedirs(a.outdir, exist_ok=True)
    for split, part in (("train", ids[:cut]), ("test", ids[cut:])):
        x, y = windows(part, a.context, a.stride)
        np.save(os.path.join(a.outdir, f"gpt-{split}-x.npy"), x)
        np.save(os.path.join(a.outdir, f"gpt-{split}-y.npy"), y)
        print(f"{split}: {len(x)} windows of {a.context} symbols")


if __name__ == "__main__":
    main()
