#!/usr/bin/python3
"""`schedule = plateau(...)` against torch.optim.lr_scheduler.ReduceLROnPlateau, end to end.

A spec trains with plateau on its validation loss (and one on its validation accuracy); the run's metrics give
each epoch's validation value and the learning rate the epoch trained at. ReduceLROnPlateau, fed the same
validation values one after the other, must give the same rates (within 1e-12 relative). A second run stops
after 3 epochs and `train --resume` continues it to the end: its rates must be the uninterrupted run's, so the
scheduler's state (rate, best value, counts) went through the checkpoint.

usage: plateau_check.py DLSPEC WORKDIR
"""
import json, os, shutil, subprocess, sys

import numpy as np
import torch

SPEC = """dlspec 1

dataset pts {
  train = npy("x.npy", "y.npy")
  test  = npy("xt.npy", "yt.npy")
  sample x: f32[6]
  label y: class<3>
}

pipeline train_input from pts.train {
  batch(16)
}

pipeline test_input from pts.test {
  batch(16)
}

network Net(x: f32[N, 6]) -> logits[N, 3] {
  return x |> dense(8) |> tanh |> dense(3)
}

train fit {
  model      = Net on cpu
  data       = train_input
  loss       = cross_entropy(model.out, y)
  optimizer  = sgd(lr: 0.5, momentum: 0.9)
  schedule   = SCHEDULE
  epochs     = 10
  validate   = test_input every 1 epoch metrics [accuracy, loss]
  checkpoint = "ck" every 1 epoch keep 20
  seed       = 3
}
"""

CASES = {
    # min_delta large enough that most epochs do not improve: the rate falls several times, cooldown in between
    "loss": ("plateau(factor: 0.5, patience: 1, min_delta: 0.02, cooldown: 1, min_lr: 0.04)",
             dict(mode="min", factor=0.5, patience=1, threshold=0.02, cooldown=1, min_lr=0.04), "val_loss"),
    "accuracy": ("plateau(monitor: val_accuracy, factor: 0.3, patience: 0, min_delta: 0.01)",
                 dict(mode="max", factor=0.3, patience=0, threshold=0.01, cooldown=0, min_lr=0.0), "val_accuracy"),
}


def run(cmd, cwd):
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        print(f"FAIL: {' '.join(cmd)} exited {r.returncode}\n{r.stdout}{r.stderr}")
        sys.exit(1)
    return r.stdout


def metrics(d):
    return [json.loads(l) for l in open(os.path.join(d, "ck", "metrics.jsonl")) if l.strip()]


def torch_rates(kw, values):
    """The rate of each epoch: 0.5 for the first, then the rate after ReduceLROnPlateau.step(value of the epoch before)."""
    o = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.5)
    s = torch.optim.lr_scheduler.ReduceLROnPlateau(o, threshold_mode="abs", **kw)
    out = []
    for v in values:
        out.append(o.param_groups[0]["lr"])
        s.step(v)
    return out


def main():
    dlspec, work = sys.argv[1], sys.argv[2]
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 1.0, (3, 6))
    for xs, ys, n in (("x.npy", "y.npy", 192), ("xt.npy", "yt.npy", 96)):
        y = rng.integers(0, 3, n)
        x = centres[y] + rng.normal(0, 1.6, (n, 6))
        np.save(os.path.join(work, xs), x.astype(np.float32))
        np.save(os.path.join(work, ys), y.astype(np.int64))
    failures = 0
    for name, (sched, kw, key) in CASES.items():
        d = os.path.join(work, name)
        os.makedirs(d)
        for f in ("x.npy", "y.npy", "xt.npy", "yt.npy"):
            shutil.copy(os.path.join(work, f), d)
        open(os.path.join(d, "p.dls"), "w").write(SPEC.replace("SCHEDULE", sched))
        run([dlspec, "build", "p.dls", "-o", "p"], d)
        out = run(["./p", "train"], d)
        m = metrics(d)
        got = [r["lr"] for r in m]
        want = torch_rates(kw, [r[key] for r in m])
        lowered = sum(1 for a, b in zip(want, want[1:]) if b < a)
        err = max(abs(a - b) / b for a, b in zip(got, want))
        print(f"{name}: rates {got}")
        print(f"{name}: torch   {want}  (lowered {lowered} times; max relative error {err:.2e})")
        if len(got) != 10 or err > 1e-12 or lowered < 2:
            print(f"FAIL: {name}: the rates differ from ReduceLROnPlateau's, or it lowered the rate fewer than 2 times")
            failures += 1
        if "plateau:" not in out:
            print(f"FAIL: {name}: the run did not say when it lowered the rate")
            failures += 1
        # The same run stopped after 3 epochs and resumed: the same rates and the same validation values.
        r = os.path.join(work, name + "-resumed")
        shutil.copytree(d, r, ignore=shutil.ignore_patterns("ck"))
        run(["./p", "train", "--epochs", "3"], r)
        run(["./p", "train", "--resume", "ck"], r)
        m2 = metrics(r)
        got2 = [x["lr"] for x in m2]
        if got2 != got or [x[key] for x in m2] != [x[key] for x in m]:
            print(f"FAIL: {name}: the resumed run's rates {got2} are not the uninterrupted run's {got}")
            failures += 1
        else:
            print(f"{name}: resumed after epoch 3: the same {len(got2)} rates and validation values")
    print("ok" if not failures else f"{failures} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
