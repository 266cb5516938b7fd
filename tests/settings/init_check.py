#!/usr/bin/python3
"""The `init:` attribute reaches the runtime: for every initialiser of the op table, a spec whose first
layers (a conv2d, a conv1d and a dense) are `init: INIT` is built and trained one step with a negligible learning rate; the
layer's weights in the checkpoint must have the initialiser's values or statistics (zeros, ones, constant(v):
to 1e-6, what one step at lr 1e-9 leaves; normal(m, s): mean and std; uniform(a, b): range and mean; he: std sqrt(2 / fan_in); glorot: std
sqrt(2 / (fan_in + fan_out))). An initialiser of the table without a case here fails the test.

usage: init_check.py DLSPEC OPTABLE_DUMP WORKDIR
"""
import math, os, shutil, subprocess, sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "difffuzz"))
import dlsprog as D  # noqa: E402

CASES = {  # initialiser -> (spelling, check(values, fan_in, fan_out) -> error or "")
    "zeros": ("zeros", lambda w, fi, fo: "" if np.allclose(w, 0, atol=1e-6) else f"not all zero (max |w| {np.abs(w).max()})"),
    "ones": ("ones", lambda w, fi, fo: "" if np.allclose(w, 1, atol=1e-6) else "not all one"),
    "constant": ("constant(0.25)", lambda w, fi, fo: "" if np.allclose(w, 0.25, atol=1e-6) else "not all 0.25"),
    "normal": ("normal(0.1, 0.02)", lambda w, fi, fo: "" if abs(w.mean() - 0.1) < 0.003 and abs(w.std() - 0.02) < 0.002
               else f"mean {w.mean():.4f} std {w.std():.4f}, want 0.1, 0.02"),
    "uniform": ("uniform(-0.2, 0.3)", lambda w, fi, fo: "" if w.min() >= -0.2 - 1e-6 and w.max() <= 0.3 + 1e-6 and
                abs(w.mean() - 0.05) < 0.01 and w.max() - w.min() > 0.45 else f"range [{w.min():.3f}, {w.max():.3f}] mean {w.mean():.3f}"),
    "he": ("he", lambda w, fi, fo: "" if abs(w.std() / math.sqrt(2 / fi) - 1) < 0.1
           else f"std {w.std():.4f}, want sqrt(2 / {fi}) = {math.sqrt(2 / fi):.4f}"),
    "glorot": ("glorot", lambda w, fi, fo: "" if abs(w.std() / math.sqrt(2 / (fi + fo)) - 1) < 0.1
               else f"std {w.std():.4f}, want sqrt(2 / ({fi} + {fo})) = {math.sqrt(2 / (fi + fo)):.4f}"),
}


# conv2d: fan_in = C * k * k = 4 * 4 * 4, fan_out = filters * k * k = 4 * 4 * 4; its output [4, 3, 3] read as
# [4, 9] is conv1d's input: fan_in = C * k = 4 * 5, fan_out = filters * k = 16 * 5; its output [16, 5] flat is the
# dense layer's input: fan_in 80, fan_out 64
FANS = {"conv2d": (64, 64), "conv1d": (20, 80), "dense": (80, 64)}


def spec(d, init):
    sample, shape_in = "f32[4, 6, 6]", "x: f32[N, 4, 6, 6]"
    net = (f"x |> conv2d(filters: 4, kernel: 4, init: {init}) |> relu |> reshape([4, 9]) "
           f"|> conv1d(filters: 16, kernel: 5, init: {init}) |> relu |> flatten |> dense(64, init: {init}) |> relu |> dense(2)")
    return f"""dlspec 1

dataset data {{
  train = npy("{d}/x.npy", "{d}/y.npy")
  sample x: {sample}
  label y: class<2>
}}

pipeline input from data.train {{
  batch(4)
}}

allow(M0101, reason: "the test reads the initial weights back")
network Net({shape_in}) -> logits[N, 2] {{
  return {net}
}}

train run {{
  model = Net on cpu
  data = input
  loss = cross_entropy(model.out, y)
  optimizer = sgd(lr: 1e-9)
  epochs = 1
  checkpoint = "ck" every 1 epoch keep 1
}}
"""


def main():
    if len(sys.argv) != 4:
        print(__doc__)
        return 2
    dlspec, dump, work = sys.argv[1:]
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    inits = [o["name"] for o in D.load_optable(dump) if o["category"] == "initialiser"]
    fails = []
    for name in inits:
        if name not in CASES:
            fails.append(f"{name}: initialiser without a case in init_check.py")
            continue
        spelling, check = CASES[name]
        d = os.path.join(work, name)
        os.makedirs(d)
        np.save(f"{d}/x.npy", np.random.default_rng(0).standard_normal((4, 4, 6, 6)).astype("<f4"))
        np.save(f"{d}/y.npy", np.array([0, 1, 0, 1], dtype="<i8"))
        open(f"{d}/s.dls", "w").write(spec(d, spelling))
        r = subprocess.run([dlspec, "build", f"{d}/s.dls", "-o", f"{d}/s.bin"], capture_output=True, text=True)
        if r.returncode != 0:
            fails.append(f"{name}: build failed: {r.stderr[-400:]}")
            continue
        r = subprocess.run([f"{d}/s.bin", "train"], cwd=d, capture_output=True, text=True, env=D.EXE_ENV)
        ck = sorted(os.listdir(f"{d}/ck")) if os.path.isdir(f"{d}/ck") else []
        ck = [c for c in ck if c.endswith(".dlsc")]
        if r.returncode != 0 or not ck:
            fails.append(f"{name}: training failed: {(r.stdout + r.stderr)[-400:]}")
            continue
        _, ts = D.read_checkpoint(f"{d}/ck/{ck[-1]}")
        for layer in ("conv2d", "conv1d", "dense"):
            w = ts[f"{layer}_1.weight"][2].numpy().astype(np.float64)
            fi, fo = FANS[layer]
            err = check(w, fi, fo)
            print(f"{'FAIL' if err else 'PASS'} {name:8s} {layer:7s} {spelling:20s} mean {w.mean():+.4f} std {w.std():.4f} {err}")
            if err:
                fails.append(f"{name} ({layer}): {err}")
    if fails:
        print("FAILURES:\n  " + "\n  ".join(fails))
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
