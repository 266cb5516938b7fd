#!/usr/bin/env python3
"""Writes the tiny data files of specs/faults/data/ (deterministic; rerun to regenerate them).

IDX: 100 training and 20 test images of 6x6 grey levels, 4 classes, and variants that each carry one data
fault (D01xx). CSV: 60 training and 20 test records of 3 features and a 2-class label, and variants."""
import os, random, struct

here = os.path.dirname(os.path.abspath(__file__))
rng = random.Random(1059)
N, T, H, W = 100, 20, 6, 6


def idx(name, dims, data):
    with open(os.path.join(here, name), "wb") as f:
        f.write(bytes([0, 0, 8, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + bytes(data))


def image():
    return [rng.randrange(256) for _ in range(H * W)]


train = [image() for _ in range(N)]
test = [image() for _ in range(T)]
flat = lambda imgs: [p for im in imgs for p in im]
labels = [i % 4 for i in range(N)]
idx("img-train.idx", [N, H, W], flat(train))
idx("lbl-train.idx", [N], labels)
idx("img-test.idx", [T, H, W], flat(test))
idx("lbl-test.idx", [T], [i % 4 for i in range(T)])
# D0101: one label outside [0, 4).
idx("lbl-range.idx", [N], [9 if i == 17 else l for i, l in enumerate(labels)])
# D0102: labels 1..4 instead of 0..3.
idx("lbl-onebased.idx", [N], [l + 1 for l in labels])
# D0103: 82 samples of class 0, 6 of each other class.
idx("lbl-unbalanced.idx", [N], [0] * 82 + [1] * 6 + [2] * 6 + [3] * 6)
# D0109: class 3 has 2 samples.
idx("lbl-rare.idx", [N], [3 if i < 2 else i % 3 for i in range(N)])
# D0114: only classes 0..2 occur.
idx("lbl-three.idx", [N], [i % 3 for i in range(N)])
# D0107: records 90..99 repeat records 10..19 (same labels).
idx("img-dups.idx", [N, H, W], flat(train[:90] + train[10:20]))
# D0108: records 95..99 repeat records 0..4 under other labels.
idx("img-conflict.idx", [N, H, W], flat(train[:95] + train[0:5]))
# D0113: the first 5 test images are training images.
idx("img-test-overlap.idx", [T, H, W], flat(train[40:45] + test[5:]))
# D0106: the header promises 100 images, the file holds 1000 bytes of them.
idx("img-truncated.idx", [N, H, W], flat(train)[:1000])


def csv(name, rows, header=("a", "b", "c", "y")):
    with open(os.path.join(here, name), "w") as f:
        f.write(",".join(header) + "\n")
        for r in rows:
            f.write(",".join(x if isinstance(x, str) else (str(x) if isinstance(x, int) else f"{x:.3f}") for x in r) + "\n")


def records(n):
    return [[rng.uniform(-1, 1), rng.uniform(-1, 1), rng.uniform(-1, 1), i % 2] for i in range(n)]


tab, tabtest = records(60), records(20)
csv("tab-train.csv", tab)
csv("tab-test.csv", tabtest)
# D0105: a NaN feature on line 7.
csv("tab-nan.csv", [r[:1] + ["nan"] + r[2:] if i == 5 else r for i, r in enumerate(tab)])
# D0110: column c is constant.
csv("tab-const.csv", [r[:2] + [0.5] + r[3:] for r in tab])
# D0112: column c is the label.
csv("tab-leak.csv", [r[:2] + [r[3]] + r[3:] for r in tab])


def npy(name, descr, shape, data, fortran=False):
    d = "{'descr': '%s', 'fortran_order': %s, 'shape': (%s), }" % (descr, fortran, "".join(f"{s}, " for s in shape).rstrip(" "))
    d += " " * ((64 - (10 + len(d) + 1) % 64) % 64) + "\n"
    with open(os.path.join(here, name), "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(d)) + d.encode() + bytes(data))


# NPY: the same training set as u8 samples and i8 labels; a copy whose header says Fortran order (D0106).
npy("npy-train-x.npy", "|u1", [N, H, W], flat(train))
npy("npy-train-y.npy", "<i8", [N], b"".join(struct.pack("<q", l) for l in labels))
npy("npy-fortran-x.npy", "|u1", [N, H, W], flat(train), fortran=True)

# Sequences: 100 training and 20 test windows of 8 steps x 4 features (f32), one class of 4 per step
# (`label next: class<4>[8]`, labels of shape [samples, 8]). D0117: per-step labels declared, the file holds
# one per sample (npy-train-y.npy, shape [100]).
S, F = 8, 4
f32 = lambda xs: b"".join(struct.pack("<f", x) for x in xs)
i64 = lambda xs: b"".join(struct.pack("<q", x) for x in xs)
seq = lambda n: [round(rng.uniform(-1, 1), 3) for _ in range(n * S * F)]
npy("seq-train-x.npy", "<f4", [N, S, F], f32(seq(N)))
npy("seq-train-y.npy", "<i8", [N, S], i64([(i + s) % 4 for i in range(N) for s in range(S)]))
npy("seq-test-x.npy", "<f4", [T, S, F], f32(seq(T)))
npy("seq-test-y.npy", "<i8", [T, S], i64([(i + s) % 4 for i in range(T) for s in range(S)]))

# IDX of f32 elements (type 0x0D): the training images as floats in [0, 1], for a spec that declares u8
# samples (D0106 in check --data, R0216 at run time: the element types disagree).
with open(os.path.join(here, "img-f32.idx"), "wb") as f:
    f.write(bytes([0, 0, 0x0D, 3]) + b"".join(struct.pack(">I", d) for d in (N, H, W)) +
            b"".join(struct.pack(">f", p / 255) for p in flat(train)))

# Variants with their own generator, so that the files above stay as they are.
rng2 = random.Random(2026)
# D0126: records 90..99 are blank (every pixel 0) under labels of every class: no duplicates, no conflicts.
idx("img-blank.idx", [N, H, W], flat(train[:90] + [[0] * (H * W) for _ in range(10)]))
# W0712 with --data: u8 images whose values lie in [0, 100] (the range W0712 reports), and a u8 mask of
# 0 and 1 that needs no scaling (no W0712).
idx("img-dim.idx", [N, H, W], flat([[rng2.randrange(101) for _ in range(H * W)] for _ in range(N)]))
idx("img-mask.idx", [N, H, W], flat([[rng2.randrange(2) for _ in range(H * W)] for _ in range(N)]))
idx("img-dim-test.idx", [T, H, W], flat([[rng2.randrange(101) for _ in range(H * W)] for _ in range(T)]))
idx("img-mask-test.idx", [T, H, W], flat([[rng2.randrange(2) for _ in range(H * W)] for _ in range(T)]))

# Token tagging (D0127): 100 training and 20 test sentences of 1 + i % 3 tokens (i32, 1..997, no two sentences
# alike) padded to 8 steps
# with token 0 (`embedding(mask_token: 0)`), one tag of 4 per step: the padding is tagged 0, every token class 1
# (the "outside" tag) but the first of sentences i % 8 == 0 (class 2) and i % 8 == 1 (class 3). Counted over
# the tokens (199 of them), class 1 covers 173 steps and classes 2 and 3 13 each; the padding is not counted.
def tagging(n, base):
    tokens, tags = [], []
    for i in range(n):
        for s in range(8):
            real = s < 1 + i % 3
            tokens.append(1 + ((base + i) * 3 + s) % 997 if real else 0)
            tags.append((2 if i % 8 == 0 else 3 if i % 8 == 1 else 1) if real and s == 0 else 1 if real else 0)
    return tokens, tags
i32 = lambda xs: b"".join(struct.pack("<i", x) for x in xs)
for name, n, base in (("tag-train", N, 0), ("tag-test", T, N)):
    tokens, tags = tagging(n, base)
    npy(name + "-x.npy", "<i4", [n, 8], i32(tokens))
    npy(name + "-y.npy", "<i8", [n, 8], i64(tags))

# cosine_embedding's pairs: 40 training records of 8 features (two halves of 4, the pair's samples) and a `same`
# target of 1 or -1; variants with targets that are neither (D0133) and with only alike pairs (D0134).
prng = random.Random(94)


def pairs(name, targets):
    with open(os.path.join(here, name), "w") as f:
        f.write(",".join(f"f{k}" for k in range(8)) + ",same\n")
        for t in targets:
            f.write(",".join(f"{prng.uniform(-1, 1):.3f}" for _ in range(8)) + f",{t}\n")


pairs("pairs-train.csv", [1 if i % 2 == 0 else -1 for i in range(40)])
pairs("pairs-zero.csv", [1 if i % 2 == 0 else (0 if i in (7, 21) else -1) for i in range(40)])
pairs("pairs-alike.csv", [1] * 40)

# E0639: two sample fields and the label from one CSV file (p0,p1 | y | m0,m1), from a generator of their own.
frng = random.Random(639)
csv("fields-train.csv", [[frng.uniform(-1, 1), frng.uniform(-1, 1), i % 2, frng.uniform(-1, 1), frng.uniform(-1, 1)] for i in range(60)],
    header=("p0", "p1", "y", "m0", "m1"))
csv("fields-test.csv", [[frng.uniform(-1, 1), frng.uniform(-1, 1), i % 2, frng.uniform(-1, 1), frng.uniform(-1, 1)] for i in range(20)],
    header=("p0", "p1", "y", "m0", "m1"))
