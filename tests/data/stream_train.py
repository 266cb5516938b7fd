#!/usr/bin/env python3
"""Splits read per batch (runtime/data/Stream.h), end to end through built programs:
1. For IDX, .npy, CSV and an image folder, `train --load stream` prints the same epochs (losses, accuracies)
   as `train --load memory`, digit for digit, with split(valid), shuffle(buffer: all) and augmentation; the
   streamed run says so (R0263) and the held one does not.
2. A data set larger than a forced small budget (`--data-memory 8M`, no --load: auto) trains streamed with a
   bounded peak RSS (VmHWM of the process, from wait4): far below the same run holding the data, which is
   measured too (so the bound can fail).
3. A data file damaged where a batch reads it ends the run with the located R-code, exit status 1, no hang.
Usage: stream_train.py DLSPEC"""
import json
import os
import re
import struct
import subprocess
import sys
import tempfile
import zlib

import numpy as np

DLSPEC = os.path.abspath(sys.argv[1])
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


def run(args, cwd, timeout=600):
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def run_rss(args, cwd, timeout=600):
    """Runs args under GNU time; returns (exit status, stdout+stderr, peak RSS in KiB of that process). Not
    wait4's rusage of a child of this script: Linux keeps a process's peak across exec, and the forked copy
    of this script (numpy and its arrays) would be that peak."""
    rss = os.path.join(cwd, "rss.txt")
    p = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss] + args, cwd=cwd, capture_output=True, text=True,
                       timeout=timeout)
    return p.returncode, p.stdout + p.stderr, int(open(rss).read().split()[-1])


def idx(path, arr):
    with open(path, "wb") as f:
        f.write(struct.pack(">HBB", 0, 0x08, arr.ndim) + struct.pack(">" + "I" * arr.ndim, *arr.shape))
        f.write(arr.astype(np.uint8).tobytes())


def png(path, img):
    h, w = img.shape

    def chunk(tag, body):
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body) & 0xFFFFFFFF)
    raw = b"".join(b"\x00" + img[y].astype(np.uint8).tobytes() for y in range(h))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)) +
                chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))


IMAGE_SPEC = """dlspec 1
dataset tiny {{
  train = {source}
  sample image: u8[1, 10, 10]
  label  kind:  class<4>
}}
pipeline train_input from tiny.train {{
  image = image |> to_f32 |> scale(1/255)
  augment random_crop(10, pad: 1)
  augment random_flip(0.5)
  image = image |> normalize(mean: 0.4, std: 0.25)
  split(valid: 0.2)
  shuffle(buffer: all)
  batch(16)
}}
network Net(x: f32[N, 1, 10, 10]) -> logits[N, 4] {{
  h = x |> conv2d(filters: 6, kernel: 3) |> relu |> maxpool(2)
  return h |> flatten |> dense(4)
}}
train run {{
  model     = Net on cpu
  data      = train_input
  loss      = cross_entropy(model.out, kind)
  optimizer = adam(lr: 0.01)
  epochs    = 3
  validate  = train_input.valid every 1 epoch metrics [accuracy, loss]
  seed      = 5
}}
"""

CSV_SPEC = """dlspec 1
dataset tab {{
  train = csv("{path}", label: "kind")
  sample x:    f32[12]
  label  kind: class<3>
}}
pipeline train_input from tab.train {{
  x = x |> normalize(mean: 1, std: 2)
  split(valid: 0.25)
  shuffle(buffer: all)
  batch(8)
}}
network Mlp(x: f32[N, 12]) -> logits[N, 3] {{
  h = x |> dense(16) |> relu
  return h |> dense(3)
}}
train run {{
  model     = Mlp on cpu
  data      = train_input
  loss      = cross_entropy(model.out, kind)
  optimizer = sgd(lr: 0.05, momentum: 0.9)
  epochs    = 3
  validate  = train_input.valid every 1 epoch metrics [accuracy, loss]
  seed      = 3
}}
"""

BIG_SPEC = """dlspec 1
dataset big {{
  train = npy("{x}", "{y}")
  sample x:    f32[1024]
  label  kind: class<2>
}}
pipeline train_input from big.train {{
  shuffle(buffer: all)
  batch(256)
}}
network Lin(x: f32[N, 1024]) -> logits[N, 2] {{
  return x |> dense(2)
}}
train run {{
  model     = Lin on cpu
  data      = train_input
  loss      = cross_entropy(model.out, kind)
  optimizer = sgd(lr: 0.01)
  epochs    = 1
  seed      = 1
}}
"""


def epochs_of(text):
    """The epoch lines a run prints (losses and metrics), without timings and throughput."""
    lines = [l for l in text.splitlines() if l.startswith("epoch ")]
    return [re.sub(r"\s+[0-9.]+\s*(s|img/s|samples/s)\b.*$", "", l) for l in lines]


def build(tmp, name, spec):
    path = os.path.join(tmp, name + ".dls")
    open(path, "w").write(spec)
    b = run([DLSPEC, "build", path, "-o", os.path.join(tmp, name)], tmp)
    check(b.returncode == 0, f"build {name}: {b.stderr[-400:]}")
    return os.path.join(tmp, name)


def same_training(tmp, name, spec):
    program = build(tmp, name, spec)
    outs = {}
    for mode in ("memory", "stream"):
        cwd = os.path.join(tmp, f"{name}-{mode}")
        os.makedirs(cwd)
        t = run([program, "train", "--load", mode, "--threads", "2"], cwd)
        check(t.returncode == 0, f"{name}: train --load {mode}: {t.stderr[-400:]}")
        outs[mode] = t
    # metrics.jsonl: every epoch's losses and accuracies at full precision, without timings.
    def metrics(mode):
        rows = [json.loads(l) for l in open(os.path.join(tmp, f"{name}-{mode}", "runs", "run", "metrics.jsonl"))]
        return [{k: v for k, v in r.items() if k not in ("img_per_s", "seconds")} for r in rows]
    m_held, m_streamed = metrics("memory"), metrics("stream")
    check(len(m_held) == 3 and m_held == m_streamed,
          f"{name}: metrics.jsonl streamed equals held at full precision: {m_streamed[-1:]} against {m_held[-1:]}")
    held, streamed = epochs_of(outs["memory"].stdout), epochs_of(outs["stream"].stdout)
    check(len(held) == 3 and held == streamed,
          f"{name}: the streamed run prints the held run's epochs: {streamed} against {held}")
    check("R0263" in outs["stream"].stderr and "R0263" not in outs["memory"].stderr,
          f"{name}: the streamed run says it reads per batch (R0263), the held one does not")
    print("     " + (held[-1] if held else "(no epochs)"))


with tempfile.TemporaryDirectory() as tmp:
    rng = np.random.default_rng(17)
    n = 320
    y = rng.integers(0, 4, n)
    x = (rng.integers(0, 90, size=(n, 1, 10, 10)) + (y * 50)[:, None, None, None]).astype(np.uint8)
    idx(os.path.join(tmp, "x.idx"), x)
    idx(os.path.join(tmp, "y.idx"), y)
    np.save(os.path.join(tmp, "x.npy"), x)
    np.save(os.path.join(tmp, "y.npy"), y.astype(np.int64))
    for i in range(n):
        png(os.path.join(tmp, "imgs", f"c{y[i]}", f"{i:04d}.png"), x[i, 0])
    same_training(tmp, "idx", IMAGE_SPEC.format(source=f'idx("{tmp}/x.idx", "{tmp}/y.idx")'))
    same_training(tmp, "npy", IMAGE_SPEC.format(source=f'npy("{tmp}/x.npy", "{tmp}/y.npy")'))
    same_training(tmp, "images", IMAGE_SPEC.format(source=f'images("{tmp}/imgs")'))
    # CSV: 12 features (one column holds the label among them), records of mixed widths.
    m = 300
    cy = rng.integers(0, 3, m)
    cx = rng.normal(size=(m, 12)) + cy[:, None]
    with open(os.path.join(tmp, "t.csv"), "w") as f:
        cols = [f"f{k}" for k in range(12)]
        cols.insert(5, "kind")
        f.write(",".join(cols) + "\n")
        for i in range(m):
            cells = [repr(float(v)) if k % 2 else f"{v:.3f}" for k, v in enumerate(cx[i])]
            cells.insert(5, str(cy[i]))
            f.write(",".join(cells) + "\n")
    same_training(tmp, "csv", CSV_SPEC.format(path=f"{tmp}/t.csv"))

    # 2. 96 MiB of decoded samples under an 8 MiB budget: streamed (auto), with a bounded peak RSS.
    N = 24576
    bx = rng.normal(size=(N, 1024)).astype(np.float32)
    by = (bx[:, :8].sum(axis=1) > 0).astype(np.int64)
    np.save(os.path.join(tmp, "bx.npy"), bx)
    np.save(os.path.join(tmp, "by.npy"), by)
    del bx
    decoded_kib = N * 1024 * 4 // 1024
    big = build(tmp, "big", BIG_SPEC.format(x=f"{tmp}/bx.npy", y=f"{tmp}/by.npy"))
    # The program's own peak (its libraries, threads, the step) with 256 samples: the baseline of the bounds.
    np.save(os.path.join(tmp, "sx.npy"), rng.normal(size=(256, 1024)).astype(np.float32))
    np.save(os.path.join(tmp, "sy.npy"), rng.integers(0, 2, 256).astype(np.int64))
    small = build(tmp, "small", BIG_SPEC.format(x=f"{tmp}/sx.npy", y=f"{tmp}/sy.npy"))
    rss = {}
    outs = {}
    for mode, program, args in (("base", small, ["--load", "memory"]), ("stream", big, ["--data-memory", "8M"]),
                                ("memory", big, ["--load", "memory"])):
        cwd = os.path.join(tmp, f"big-{mode}")
        os.makedirs(cwd)
        rc, out, kib = run_rss([program, "train", "--threads", "2"] + args, cwd)
        check(rc == 0, f"big: train {' '.join(args)}: exit {rc}: {out[-400:]}")
        rss[mode], outs[mode] = kib, out
    print(f"     peak RSS: streamed {rss['stream'] / 1024:.0f} MiB, held {rss['memory'] / 1024:.0f} MiB, the program with "
          f"256 samples {rss['base'] / 1024:.0f} MiB (decoded samples {decoded_kib / 1024:.0f} MiB)")
    check("R0263" in outs["stream"] and "--data-memory" in outs["stream"],
          "big: above the 8 MiB budget the samples are read per batch (R0263 names --data-memory)")
    check(epochs_of(outs["stream"]) == epochs_of(outs["memory"]) and len(epochs_of(outs["memory"])) == 1,
          f"big: the same epoch streamed and held: {epochs_of(outs['stream'])} against {epochs_of(outs['memory'])}")
    # The static memory plan shows what the run holds streamed: `dlspec summary --data` against R0263's figure.
    sm = run([DLSPEC, "summary", "--data", os.path.join(tmp, "big.dls")], tmp)
    planned = re.search(r"loaded data, train: 24576 samples × 4100 bytes: 96\.[0-9]+ MiB \(read per batch, above the "
                        r"executable's --data-memory: ([0-9.]+) MiB\)", sm.stdout)
    noted = re.search(r"of its 96\.0 MiB of decoded samples, ([0-9.]+) MiB stay in memory", outs["stream"])
    check(sm.returncode == 0 and planned is not None and noted is not None and
          abs(float(planned.group(1)) - float(noted.group(1))) < 0.06,
          f"big: summary --data plans the streamed split's resident bytes as the run counts them: "
          f"{planned.group(1) if planned else sm.stdout[-600:]} MiB against {noted.group(1) if noted else '?'} MiB")
    check(rss["memory"] > rss["base"] + decoded_kib,
          "big: holding the data costs more than its size in RSS (so the bound below can fail)")
    check(rss["stream"] < rss["base"] + decoded_kib // 2,
          f"big: streamed, the peak RSS stays within half the data's size of the program's own "
          f"({(rss['stream'] - rss['base']) // 1024} MiB above it)")

    # 3. A NaN in a record the first streamed batch reads: R0217 with the file and record, exit 1, no hang.
    bad = x.astype(np.float32)
    bad[200, 0, 3, 3] = np.nan
    np.save(os.path.join(tmp, "bad.npy"), bad)
    prog = build(tmp, "bad", IMAGE_SPEC.replace("u8[1, 10, 10]", "f32[1, 10, 10]").replace("|> to_f32 ", "")
                 .format(source=f'npy("{tmp}/bad.npy", "{tmp}/y.npy")'))
    cwd = os.path.join(tmp, "bad-run")
    os.makedirs(cwd)
    t = run([prog, "train", "--load", "stream", "--threads", "3"], cwd, timeout=120)
    check(t.returncode == 1 and "R0217" in t.stderr and "bad.npy" in t.stderr and "record 200" in t.stderr,
          f"a NaN met by a streamed batch: R0217 naming bad.npy record 200, exit 1: {t.returncode} {t.stderr[-400:]}")

if failures:
    print(f"{len(failures)} failed")
    sys.exit(1)
print("all passed")
