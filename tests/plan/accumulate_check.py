#!/usr/bin/python3
"""Gradient accumulation (`accumulate = K steps`) of compiled programs, end to end.

1. Equivalence: an mlp (no batch norm) trained with batch(16) and `accumulate = 4 steps` against the same spec with
   batch(64) and no accumulation, on 232 samples (three full steps of 64 and a final one of 40: batches of 16, 16
   and 8, whose gradients weigh by their rows), shuffled with the same seed (the order does not depend on the
   batch), with momentum SGD and a warm-up schedule (counted in optimizer steps). Every epoch's training loss and
   every final parameter (and momentum buffer) must agree within 1e-5 relative, and both runs count 4 steps an
   epoch in their checkpoints.
2. One compiled step against PyTorch 1.13: 64 samples, batch(16), `accumulate = 4 steps`, adam: the sum of four
   micro-batch backward passes with loss / 4, then one optimizer.step(); every parameter within 1e-5.

usage: accumulate_check.py DLSPEC REPO WORKDIR
"""
import json, os, shutil, subprocess, sys

import numpy as np
import torch, torch.nn as nn, torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
import dlsc  # noqa: E402  (the checkpoint reader)

failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


def run(args, cwd, timeout=300):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)


SPEC = """dlspec 1
dataset d {{
  train = npy("x.npy", "y.npy")
  sample x: f32[6]
  label  y: class<3>
}}
pipeline train_input from d.train {{
  {shuffle}
  batch({batch})
}}
network Net(x: f32[N, 6]) -> logits[N, 3] {{
  return x |> dense(8) |> tanh |> dense(3)
}}
train run {{
  model      = Net on cpu
  data       = train_input
  loss       = cross_entropy(model.out, y)
  optimizer  = {optimizer}
  {schedule}
  epochs     = {epochs}
  seed       = 7
  checkpoint = "ck" every 1 epoch keep 1
  {accumulate}
}}
"""


def build_and_train(dlspec, work, name, x, y, extra_args=(), **fields):
    d = os.path.join(work, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    np.save(os.path.join(d, "x.npy"), x)
    np.save(os.path.join(d, "y.npy"), y)
    open(os.path.join(d, "spec.dls"), "w").write(SPEC.format(**fields))
    b = run([dlspec, "build", "spec.dls", "-o", "prog"], d)
    check(b.returncode == 0, f"{name}: build {b.stdout[-600:]}{b.stderr[-600:]}")
    if b.returncode != 0:
        return None
    t = run(["./prog", "train", "--threads", "1", *extra_args], d)
    check(t.returncode == 0, f"{name}: train {t.stdout[-800:]}{t.stderr[-800:]}")
    if t.returncode != 0:
        return None
    rows = [json.loads(line) for line in open(os.path.join(d, "ck", "metrics.jsonl"))]  # full precision
    ck = dlsc.read(newest(os.path.join(d, "ck")))
    return rows, ck, t.stdout


def newest(ckdir):
    files = sorted(f for f in os.listdir(ckdir) if f.startswith("ckpt-") and f.endswith(".dlsc"))
    return os.path.join(ckdir, files[-1])


def rel(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b)) / max(1e-12, float(np.max(np.abs(b)))))


def equivalence(dlspec, work):
    rng = np.random.default_rng(4)
    centers = rng.normal(size=(3, 6)) * 1.5
    y = rng.integers(0, 3, 232)
    x = (centers[y] + rng.normal(size=(232, 6))).astype(np.float32)
    common = dict(shuffle="shuffle(buffer: all)", optimizer="sgd(lr: 0.05, momentum: 0.9)",
                  schedule="schedule   = [warmup(steps: 6), step(every: 2 epochs, gamma: 0.5)]", epochs=4)
    big = build_and_train(dlspec, work, "batch64", x, y.astype(np.int64), batch=64, accumulate="", **common)
    acc = build_and_train(dlspec, work, "batch16x4", x, y.astype(np.int64), batch=16, accumulate="accumulate = 4 steps",
                          **common)
    if big is None or acc is None:
        return
    (rows_b, ck_b, _), (rows_a, ck_a, _) = big, acc
    check(len(rows_b) == len(rows_a) == 4, f"4 epochs each ({len(rows_b)}, {len(rows_a)})")
    for rb, ra in zip(rows_b, rows_a):
        lb, la = float(rb["train_loss"]), float(ra["train_loss"])
        r = abs(la - lb) / abs(lb)
        print(f"epoch {rb['epoch']}: train_loss batch 64 {lb:.9f}, batch 16 x 4 {la:.9f}, relative {r:.2e}")
        check(r <= 1e-5, f"epoch {rb['epoch']}: the training losses agree within 1e-5 ({r:.2e})")
    check(ck_b.header["global_step"] == ck_a.header["global_step"] == 16,
          f"both count 4 optimizer steps an epoch ({ck_b.header['global_step']}, {ck_a.header['global_step']})")
    check(ck_b.header["updates"] == ck_a.header["updates"] == 16, "both made 16 updates")
    check(list(ck_b.tensors) == list(ck_a.tensors), "the same tensors")
    worst = 0.0
    for name in ck_b.tensors:
        r = rel(ck_a.tensors[name], ck_b.tensors[name])
        worst = max(worst, r)
        check(r <= 1e-5, f"final {name} agrees within 1e-5 ({r:.2e})")
    print(f"equivalence: worst parameter/state relative difference {worst:.2e}")
    # Resume is exact: the accumulating run stopped after epoch 2 and resumed ends with the same state.
    src, d = os.path.join(work, "batch16x4"), os.path.join(work, "batch16x4_resumed")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    for f in ("x.npy", "y.npy", "spec.dls", "prog"):
        shutil.copy2(os.path.join(src, f), d)
    t1 = run(["./prog", "train", "--threads", "1", "--epochs", "2"], d)
    t2 = run(["./prog", "train", "--threads", "1", "--resume", "ck"], d)
    check(t1.returncode == 0 and t2.returncode == 0, f"stop after epoch 2 and resume {t1.stderr[-400:]}{t2.stdout[-400:]}{t2.stderr[-400:]}")
    if t1.returncode == 0 and t2.returncode == 0:
        ck_r = dlsc.read(newest(os.path.join(d, "ck")))
        check(ck_r.header["global_step"] == 16, f"the resumed run ends at step 16 ({ck_r.header['global_step']})")
        same = all(np.array_equal(ck_r.tensors[n], ck_a.tensors[n]) for n in ck_a.tensors)
        check(same, "the resumed run's final state equals the uninterrupted run's, bit for bit")


def against_torch(dlspec, work):
    torch.manual_seed(0)
    rng = np.random.default_rng(9)
    x = rng.normal(size=(64, 6)).astype(np.float32)
    y = rng.integers(0, 3, 64).astype(np.int64)
    m = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3))
    d = os.path.join(work, "torch")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(os.path.join(d, "w"))
    names = {"dense_1": m[0], "dense_2": m[2]}
    for n, mod in names.items():
        np.save(os.path.join(d, "w", n + ".weight.npy"), mod.weight.detach().numpy())
        np.save(os.path.join(d, "w", n + ".bias.npy"), mod.bias.detach().numpy())
    wdir = os.path.join(d, "w")
    r = build_and_train(dlspec, work, "accum_step", x, y, extra_args=("--weights", wdir), shuffle="", batch=16,
                        optimizer="adam(lr: 0.01)", schedule="", epochs=1, accumulate="accumulate = 4 steps")
    if r is None:
        return
    _, ck, _ = r
    opt = torch.optim.Adam(m.parameters(), lr=0.01)
    opt.zero_grad()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    for k in range(4):
        loss = F.cross_entropy(m(xt[16 * k:16 * (k + 1)]), yt[16 * k:16 * (k + 1)]) / 4
        loss.backward()
    opt.step()
    check(ck.header["global_step"] == 1 and ck.header["updates"] == 1, "one optimizer step from four batches")
    worst = 0.0
    for n, mod in names.items():
        for p in ("weight", "bias"):
            r = rel(ck.tensors[f"{n}.{p}"], getattr(mod, p).detach().numpy())
            worst = max(worst, r)
            check(r <= 1e-5, f"{n}.{p} after one accumulated step = PyTorch's within 1e-5 ({r:.2e})")
    print(f"against PyTorch: worst relative difference {worst:.2e}")


def main():
    if len(sys.argv) != 4:
        print(__doc__)
        return 2
    dlspec, _, work = os.path.abspath(sys.argv[1]), sys.argv[2], os.path.abspath(sys.argv[3])
    os.makedirs(work, exist_ok=True)
    equivalence(dlspec, work)
    against_torch(dlspec, work)
    if failures:
        print(f"{len(failures)} check(s) failed")
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
