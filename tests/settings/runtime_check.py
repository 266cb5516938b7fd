#!/usr/bin/python3
"""Settings whose effect is random, proven on compiled specs: each case builds a tiny spec with `dlspec build`,
trains it, and reads what the setting did back from the weights in the checkpoint. The networks end in
`dense(1, bias: false, init: zeros)` under mse against targets 1 and plain SGD: at zero weights the gradient
of a weight is -2 times its input, so one step at lr 0.5 leaves each weight equal to its input in that step
(the mean input over the batch).

  dropout.p        one all-ones sample of 4000 features through dropout(p) (p 0.3 and 0.75): the weights are
                   the mask divided by 1 - p. The zero fraction must be within 4 sigma of p and every kept
                   value exactly 1 / (1 - p); validation of the same sample (evaluation mode, no dropout) must
                   give the loss of the identity, (sum of the weights - 1)^2.
  random_crop.pad  400 copies of one [1, 6, 6] sample (values 1 + (6 y + x) / 36) in one batch through
                   random_crop(size, pad: p): the weights are the mean crop window, which must match, within
                   4 sigma per position, the mean over every window position of the sample padded by p zeros
                   (random_crop(6, pad: 2) and random_crop([4, 5], pad: 1)).
  shuffle.buffer   64 one-hot samples, batch(1), one epoch, lr warmed up linearly over 1000 steps: the weight
                   of sample i is (its position in the epoch + 1) / 1000, which gives the order. buffer 1 keeps
                   the split's order; buffer 8 is a permutation in which no sample comes more than 7 places
                   early, but not the identity; buffer all moves some sample further than 7 places early.

usage: runtime_check.py DLSPEC WORKDIR [CASE...]
"""
import math, os, shutil, subprocess, sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "difffuzz"))
import dlsprog as D  # noqa: E402


def program(d, sample, pipeline, net, net_in=None, extra="", valid=False):
    """A spec over x.npy (samples of shape `sample`) whose network is `x |> NET |> dense(1)` on inputs of
    shape `net_in` (the sample's unless an augmentation changes it)."""
    dims = ", ".join(str(v) for v in sample)
    idims = ", ".join(str(v) for v in (net_in or sample))
    held = "\npipeline held from data.test {\n  batch(1)\n}\n" if valid else ""
    return f"""dlspec 1

dataset data {{
  train = npy("{d}/x.npy", "{d}/y.npy")
  test = npy("{d}/x.npy", "{d}/y.npy")
  sample x: f32[{dims}]
  label y: f32[1]
}}

pipeline input from data.train {{
{pipeline}
}}
{held}
allow(M0101, reason: "zero weights make one step's update the input itself")
network Net(x: f32[N, {idims}]) -> f32[N, 1] {{
  return x |> {net + " |> " if net else ""}dense(1, bias: false, init: zeros)
}}

train run {{
  model = Net on cpu
  data = input
  loss = mse(model.out, y)
  optimizer = sgd(lr: 0.5)
  epochs = 1
  checkpoint = "ck" every 1 epoch keep 1
  seed = 11{extra}{chr(10) + "  validate = held every 1 epoch metrics [loss]" if valid else ""}
}}
"""


def train(dlspec, d, x, text):
    """Builds and trains; returns (weight vector of the last dense, rows of metrics.csv) or raises."""
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    np.save(f"{d}/x.npy", x.astype("<f4"))
    np.save(f"{d}/y.npy", np.ones((x.shape[0], 1), dtype="<f4"))
    open(f"{d}/s.dls", "w").write(text)
    r = subprocess.run([dlspec, "build", f"{d}/s.dls", "-o", f"{d}/s.bin"], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"build failed:\n{(r.stdout + r.stderr)[-1500:]}")
    r = subprocess.run([f"{d}/s.bin", "train"], cwd=d, capture_output=True, text=True, env=D.EXE_ENV)
    ck = sorted(c for c in os.listdir(f"{d}/ck") if c.endswith(".dlsc")) if os.path.isdir(f"{d}/ck") else []
    if r.returncode != 0 or not ck:
        raise RuntimeError(f"training failed (exit {r.returncode}):\n{(r.stdout + r.stderr)[-1500:]}")
    _, ts = D.read_checkpoint(f"{d}/ck/{ck[-1]}")
    dense = [n for n in ts if n.startswith("dense_") and n.endswith(".weight")]
    w = ts[sorted(dense)[-1]][2].numpy().astype(np.float64).reshape(-1)
    lines = open(f"{d}/ck/metrics.csv").read().splitlines()
    rows = [dict(zip(lines[0].split(","), ln.split(","))) for ln in lines[1:]]
    return w, rows


def case_dropout(dlspec, work):
    errs = []
    K = 4000
    for p in (0.3, 0.75):
        w, rows = train(dlspec, os.path.join(work, f"dropout-{p}"), np.ones((1, K)),
                        program(os.path.join(work, f"dropout-{p}"), [K], "  batch(1)", f"dropout(p: {p})", valid=True))
        zero = float(np.mean(w == 0))
        sigma = math.sqrt(p * (1 - p) / K)
        kept = w[w != 0]
        print(f"  dropout(p: {p}): zero fraction {zero:.4f} (want {p} +- {4 * sigma:.4f}), kept values "
              f"[{kept.min():.6f}, {kept.max():.6f}] (want {1 / (1 - p):.6f})")
        if abs(zero - p) > 4 * sigma:
            errs.append(f"dropout(p: {p}): {zero:.4f} of the elements dropped, want {p} within {4 * sigma:.4f}")
        if not np.allclose(kept, 1 / (1 - p), rtol=1e-5):
            errs.append(f"dropout(p: {p}): kept values {kept.min()}..{kept.max()}, want 1 / (1 - p) = {1 / (1 - p)}")
        # Evaluation: dropout is the identity, the output is the sum of the weights.
        want = (w.sum() - 1) ** 2
        got = float(rows[-1]["val_loss"]) if rows and rows[-1].get("val_loss") else float("nan")
        print(f"  dropout(p: {p}): validation loss {got:.6g}, identity gives {want:.6g}")
        if not abs(got - want) <= 1e-4 * want:
            errs.append(f"dropout(p: {p}): validation loss {got}, want {want} (no dropout in evaluation)")
    return errs


def crop_mean(sample, h, w, pad):
    """The mean window of random_crop([h, w], pad) over every position of the padded sample."""
    H, W = sample.shape
    padded = np.zeros((H + 2 * pad, W + 2 * pad))
    padded[pad:pad + H, pad:pad + W] = sample
    wins = [padded[y:y + h, x:x + w] for y in range(H + 2 * pad - h + 1) for x in range(W + 2 * pad - w + 1)]
    m = np.mean(wins, axis=0)
    sd = np.std(wins, axis=0)
    return m, sd


def case_crop(dlspec, work):
    errs = []
    n = 400
    sample = 1 + np.arange(36, dtype=np.float64).reshape(6, 6) / 36
    for size, (h, w), pad in (("6", (6, 6), 2), ("[4, 5]", (4, 5), 1)):
        d = os.path.join(work, f"crop-{h}x{w}-pad{pad}")
        x = np.broadcast_to(sample, (n, 1, 6, 6)).copy()
        pipe = f"  augment random_crop({size}, pad: {pad})\n  batch({n})"
        got, _ = train(dlspec, d, x, program(d, [1, 6, 6], pipe, "flatten", net_in=[1, h, w]))
        got = got.reshape(h, w)
        want, sd = crop_mean(sample, h, w, pad)
        tol = 4 * sd / math.sqrt(n) + 1e-5
        bad = np.abs(got - want) > tol
        print(f"  random_crop({size}, pad: {pad}): corner {got[0, 0]:.4f} (want {want[0, 0]:.4f}), "
              f"centre {got[h // 2, w // 2]:.4f} (want {want[h // 2, w // 2]:.4f}), "
              f"zero-padded share {float(np.mean(got < 0.999)):.2f}, {int(bad.sum())} of {h * w} positions off")
        if bad.any():
            y, x_ = np.argwhere(bad)[0]
            errs.append(f"random_crop({size}, pad: {pad}): mean window at ({y}, {x_}) is {got[y, x_]:.4f}, "
                        f"want {want[y, x_]:.4f} within {tol[y, x_]:.4f} ({int(bad.sum())} positions off)")
    return errs


def case_shuffle(dlspec, work):
    errs = []
    n = 64

    def order(buffer):
        d = os.path.join(work, f"shuffle-{buffer}")
        pipe = f"  shuffle(buffer: {buffer})\n  batch(1)"
        w, _ = train(dlspec, d, np.eye(n), program(d, [n], pipe, "", extra="\n  schedule = warmup(1000 steps)"))
        pos = np.rint(w * 1000).astype(int) - 1  # lr 0.5 * (t + 1) / 1000, gradient -2: w_i = (t_i + 1) / 1000
        if not np.allclose(w * 1000, pos + 1, atol=1e-3) or sorted(pos) != list(range(n)):
            raise RuntimeError(f"shuffle(buffer: {buffer}): the weights {np.round(w * 1000, 3)} are no epoch order")
        seq = np.argsort(pos)  # the sample at each position
        return seq

    ident = np.arange(n)
    for buffer in (1, 8, "all"):
        seq = order(buffer)
        early = int(max(seq[t] - t for t in range(n)))  # how many places before its own a sample came
        moved = int(np.sum(seq != ident))
        print(f"  shuffle(buffer: {buffer}): {moved} of {n} samples moved, the furthest {early} places early; "
              f"first {list(seq[:10])}")
        if buffer == 1 and moved:
            errs.append(f"shuffle(buffer: 1): the order is not the split's: {list(seq)}")
        if buffer == 8 and (early > 7 or moved == 0):
            errs.append(f"shuffle(buffer: 8): a sample came {early} places early (at most 7), {moved} moved: {list(seq)}")
        if buffer == "all" and early <= 7:
            errs.append(f"shuffle(buffer: all): no sample came more than 7 places early: {list(seq)}")
    return errs


CASES = {"dropout.p": case_dropout, "random_crop.pad": case_crop, "shuffle.buffer": case_shuffle}


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    dlspec, work = sys.argv[1:3]
    only = sys.argv[3:]
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    fails = []
    for name, fn in CASES.items():
        if only and name not in only:
            continue
        print(name)
        try:
            errs = fn(dlspec, work)
        except Exception as e:  # a harness or build error is a failure, never a skip
            errs = [f"{type(e).__name__}: {e}"]
        print(f"{'FAIL' if errs else 'PASS'} {name}")
        fails += [f"{name}: {e}" for e in errs]
    if fails:
        print("FAILURES:\n  " + "\n  ".join(fails))
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
