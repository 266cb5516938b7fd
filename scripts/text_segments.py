#!/usr/bin/python3
"""Word segmentation data from text, for specs/tagger.dls and specs/segment_cnn.dls.

usage: text_segments.py OUTDIR [TEXT...] [--steps 64] [--test-every 10]

Each text's spaces are taken out and every remaining character is tagged with whether a word begins at it: the
network sees "Aclassicissomethingthat…" and tags the "A", the "c" of "classic", the "i" of "is", … . The texts
default to Debian's `fortunes` package (/usr/share/games/fortunes, every file but the ASCII art). A text is cut
into its entries at the lines holding only `%` (the fortune files' separator); every `test-every`-th entry goes
to the test split, so no entry is in both. A line is kept once (the first time), and a test line that a training
entry also has is left out, so that the splits share no line.

Symbols: the printable ASCII characters but the space, 33..126, are 1..94; any other byte that is not white
space is 95 ('?'); 0 is the padding. Writes, as u8 NPY files:
  seg-lines-{train,test}-{x,y}.npy   [lines, steps]: one text line each, padded with 0 after its last
                                     character; tags 0 = padding, 1 = inside a word, 2 = a word begins.
                                     Lines of more than `steps` characters are cut at the last word that fits.
  seg-stream-{train,test}-{x,y}.npy  [windows, steps]: the split's characters one after the other, cut into
                                     windows of `steps` (no padding); tags 0 = inside a word, 1 = a word begins.
and prints the counts and the share of word beginnings.
"""
import argparse
import glob
import os

import numpy as np

SKIP = {"art", "ascii-art"}


def symbols(word: bytes) -> list:
    return [b - 32 if 33 <= b <= 126 else 95 for b in word]


def entries(paths):
    for path in paths:
        text = open(path, "rb").read()
        entry = []
        for line in text.split(b"\n"):
            if line.strip() == b"%":
                if entry:
                    yield entry
                entry = []
            else:
                entry.append(line)
        if entry:
            yield entry


def tag_words(words):
    x, y = [], []
    for w in words:
        s = symbols(w)
        x += s
        y += [2] + [1] * (len(s) - 1)
    return x, y


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    ap.add_argument("texts", nargs="*")
    ap.add_argument("--steps", type=int, default=64)
    ap.add_argument("--test-every", type=int, default=10)
    a = ap.parse_args()
    texts = a.texts or sorted(p for p in glob.glob("/usr/share/games/fortunes/*")
                              if os.path.isfile(p) and "." not in os.path.basename(p)
                              and os.path.basename(p) not in SKIP)
    if not texts:
        raise SystemExit("text_segments.py: no texts (install Debian's `fortunes` package or name the files)")
    T = a.steps
    lines = {"train": [], "test": []}
    stream = {"train": ([], []), "test": ([], [])}
    seen = set()
    all_entries = list(entries(texts))
    order = [i for i in range(len(all_entries)) if i % a.test_every != a.test_every - 1] + \
            [i for i in range(len(all_entries)) if i % a.test_every == a.test_every - 1]
    for i in order:  # the training entries first, so that a line both splits hold stays in training
        entry = all_entries[i]
        split = "test" if i % a.test_every == a.test_every - 1 else "train"
        for line in entry:
            words = line.split()
            if not words:
                continue
            x, y = tag_words(words)
            stream[split][0].extend(x)
            stream[split][1].extend(y)
            if len(x) > T:  # cut before the last word that begins within T (a longer word: at T)
                begins = [k for k in range(1, T + 1) if y[k] == 2]
                cut = begins[-1] if begins else T
                x, y = x[:cut], y[:cut]
            if len(x) >= 4 and tuple(x) not in seen:  # each line once, and no test line that training has
                seen.add(tuple(x))
                lines[split].append((x, y))
    os.makedirs(a.outdir, exist_ok=True)
    for split in ("train", "test"):
        n = len(lines[split])
        lx = np.zeros((n, T), np.uint8)
        ly = np.zeros((n, T), np.uint8)
        for r, (x, y) in enumerate(lines[split]):
            lx[r, :len(x)] = x
            ly[r, :len(y)] = y
        np.save(os.path.join(a.outdir, f"seg-lines-{split}-x.npy"), lx)
        np.save(os.path.join(a.outdir, f"seg-lines-{split}-y.npy"), ly)
        sx, sy = (np.array(v, np.uint8) for v in stream[split])
        w = len(sx) // T
        np.save(os.path.join(a.outdir, f"seg-stream-{split}-x.npy"), sx[:w * T].reshape(w, T))
        np.save(os.path.join(a.outdir, f"seg-stream-{split}-y.npy"), (sy[:w * T] == 2).astype(np.uint8).reshape(w, T))
        real = ly[ly > 0]
        print(f"{split}: {n} lines ({(real == 2).mean():.1%} of their characters begin a word), "
              f"{w} windows of {T} characters ({(sy[:w * T] == 2).mean():.1%} begin a word)")


if __name__ == "__main__":
    main()
