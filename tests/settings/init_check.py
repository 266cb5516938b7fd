#!/usr/bin/python3
"""The `init:` attribute reaches the runtime: for every initialiser of the op table, a spec whose layers with
weights (conv2d, local, conv1d, rnn, gru, lstm, dense) are all `init: INIT` is built and trained one step with
a negligible learning rate; each weight in the checkpoint must have the initialiser's values or statistics
(zeros, ones, constant(v): to 1e-6, what one step at lr 1e-9 leaves; normal(m, s): mean and std; uniform(a, b):
range, mean and std; he and glorot: torch.nn.init's kaiming_uniform_ and xavier_uniform_ bounds with the
tensor's own fan-in and fan-out, so a recurrent layer's weight_ih and weight_hh differ). Means and deviations
are compared within four standard errors of the tensor's size. The same spec without `init:` must have
torch.nn's default initialisation in every parameter of those layers. An initialiser of the table without a
case here fails the test.

usage: init_check.py DLSPEC OPTABLE_DUMP WORKDIR
"""
import math, os, shutil, subprocess, sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "difffuzz"))
import dlsprog as D  # noqa: E402

def sd_tol(n, kurtosis):
    """Four standard errors of a sample standard deviation over n values, relative to sigma."""
    return 4 * math.sqrt((kurtosis - 1) / n) / 2


def check_std(w, want, kurtosis):
    tol = max(0.05, sd_tol(w.size, kurtosis))
    return "" if abs(w.std() / want - 1) < tol else f"std {w.std():.4f}, want {want:.4f} (within {tol:.0%})"


def check_normal(w, m, s):
    tol = 4 * s / math.sqrt(w.size)
    err = "" if abs(w.mean() - m) < tol else f"mean {w.mean():.4f}, want {m} (within {tol:.4f})"
    return err or check_std(w, s, 3.0)


def check_uniform(w, a, b):
    n, width = w.size, b - a
    tol = 4 * (width / math.sqrt(12)) / math.sqrt(n)
    if w.min() < a - 1e-6 or w.max() > b + 1e-6:
        return f"range [{w.min():.4f}, {w.max():.4f}] outside [{a:.4f}, {b:.4f}]"
    if abs(w.mean() - (a + b) / 2) > tol:
        return f"mean {w.mean():.4f}, want {(a + b) / 2:.4f} (within {tol:.4f})"
    if w.max() - w.min() < width * (1 - 20 / n):
        return f"range [{w.min():.4f}, {w.max():.4f}] does not fill [{a:.4f}, {b:.4f}]"
    return check_std(w, width / math.sqrt(12), 1.8)


CASES = {  # initialiser -> (spelling, check(values, fan_in, fan_out) -> error or "")
    "zeros": ("zeros", lambda w, fi, fo: "" if np.allclose(w, 0, atol=1e-6) else f"not all zero (max |w| {np.abs(w).max()})"),
    "ones": ("ones", lambda w, fi, fo: "" if np.allclose(w, 1, atol=1e-6) else "not all one"),
    "constant": ("constant(0.25)", lambda w, fi, fo: "" if np.allclose(w, 0.25, atol=1e-6) else "not all 0.25"),
    "normal": ("normal(0.1, 0.02)", lambda w, fi, fo: check_normal(w, 0.1, 0.02)),
    "uniform": ("uniform(-0.2, 0.3)", lambda w, fi, fo: check_uniform(w, -0.2, 0.3)),
    # torch.nn.init.kaiming_uniform_(nonlinearity="relu") and xavier_uniform_, with the tensor's fans as
    # torch.nn.init computes them (FANS)
    "he": ("he", lambda w, fi, fo: check_uniform(w, -math.sqrt(6 / fi), math.sqrt(6 / fi))),
    "glorot": ("glorot", lambda w, fi, fo: check_uniform(w, -math.sqrt(6 / (fi + fo)), math.sqrt(6 / (fi + fo)))),
}


# Every layer with weights that takes `init:`. Fans as torch.nn.init's _calculate_fan_in_and_fan_out reads the
# weight tensor ([out, in, *kernel]: fan_in = in * kernel, fan_out = out * kernel); local is conv2d's window
# with one filter bank per output position, its fans conv2d's.
#   x [4, 8, 8] -> conv2d(8, k3) [8, 6, 6] -> local(8, k3) [8, 4, 4] -> conv_transpose2d(8, k1) [8, 4, 4]
#   (torch.nn.ConvTranspose2d's weight [in, out, *kernel]: fan_in = out * kernel) -> reshape [8, 16] -> conv1d(16, k5) [16, 12]
#   -> rnn(32) over T 16, F 12 -> gru(32) -> multi_head_attention(4 heads, dim 32) -> cross_attention(4 heads, dim
#   32, the memory the gru's output) -> lstm(32, last) [32]
#   -> dense(64) -> dense(2)
FANS = {"conv2d_1.weight": (4 * 9, 8 * 9), "local_1.weight": (8 * 9, 8 * 9), "conv_transpose2d_1.weight": (8, 8), "conv1d_1.weight": (8 * 5, 16 * 5),
        "rnn_1.weight_ih": (12, 32), "rnn_1.weight_hh": (32, 32),
        "gru_1.weight_ih": (32, 3 * 32), "gru_1.weight_hh": (32, 3 * 32),
        "lstm_1.weight_ih": (32, 4 * 32), "lstm_1.weight_hh": (32, 4 * 32),
        "multi_head_attention_1.in_proj_weight": (32, 3 * 32), "multi_head_attention_1.out_proj.weight": (32, 32),
        "cross_attention_1.in_proj_weight": (32, 3 * 32), "cross_attention_1.out_proj.weight": (32, 32),
        "dense_1.weight": (32, 64)}
UNITS = 32


def default_check(name, w):
    """torch.nn's own initialisation where no `init:` is given: nn.Linear, nn.Conv*d: U(-1/sqrt(fan_in),
    1/sqrt(fan_in)) for weight and bias; nn.RNN, nn.GRU, nn.LSTM: U(-1/sqrt(units), 1/sqrt(units)) for all four;
    nn.MultiheadAttention: Xavier-uniform in_proj_weight, nn.Linear's out_proj.weight, zero biases."""
    layer, _, what = name.partition(".")
    if layer.startswith("multi_head_attention") or layer.startswith("cross_attention"):
        if what.endswith("bias"):
            return "" if np.all(np.abs(w) < 1e-6) else f"bias {what} is not zero"  # one step of lr 1e-9 moved it
        fi, fo = FANS[name]
        bound = math.sqrt(6 / (fi + fo)) if what == "in_proj_weight" else 1 / math.sqrt(fi)
        return check_uniform(w, -bound, bound)
    if layer.split("_")[0] in ("rnn", "gru", "lstm"):
        bound = 1 / math.sqrt(UNITS)
    else:
        bound = 1 / math.sqrt(FANS[layer + ".weight"][0])
    return check_uniform(w, -bound, bound)


def spec(d, init):
    a = f", init: {init}" if init else ""
    net = (f"x |> conv2d(filters: 8, kernel: 3{a}) |> relu |> local(filters: 8, kernel: 3{a}) |> relu "
           f"|> conv_transpose2d(filters: 8, kernel: 1{a}) |> relu |> reshape([8, 16]) |> conv1d(filters: 16, kernel: 5{a}) |> relu "
           f"|> rnn(units: {UNITS}{a}) |> gru(units: {UNITS}{a})\n  h = g |> multi_head_attention(heads: 4, dim: {UNITS}{a}) "
           f"|> cross_attention(g, heads: 4, dim: {UNITS}{a}) "
           f"|> lstm(units: {UNITS}, output: last{a}) "
           f"|> dense(64{a}) |> relu |> dense(2)")
    return f"""dlspec 1

dataset data {{
  train = npy("{d}/x.npy", "{d}/y.npy")
  sample x: f32[4, 8, 8]
  label y: class<2>
}}

pipeline input from data.train {{
  batch(4)
}}

allow(M0101, reason: "the test reads the initial weights back")
network Net(x: f32[N, 4, 8, 8]) -> logits[N, 2] {{
  g = {net}
  return h
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
    for name in inits + ["default"]:
        if name != "default" and name not in CASES:
            fails.append(f"{name}: initialiser without a case in init_check.py")
            continue
        spelling, check = CASES[name] if name != "default" else ("", None)
        d = os.path.join(work, name)
        os.makedirs(d)
        np.save(f"{d}/x.npy", np.random.default_rng(0).standard_normal((4, 4, 8, 8)).astype("<f4"))
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
        # `init:` sets the weights (FANS); without it every parameter of those layers has torch.nn's default.
        names = list(FANS) if check else [n for n in ts if n.split(".")[0] + ".weight" in FANS or
                                          n.split(".")[0] + ".weight_ih" in FANS or
                                          n.split(".")[0] + ".in_proj_weight" in FANS]
        missing = [n for n in FANS if n not in ts]
        if missing:
            fails.append(f"{name}: the checkpoint has no {', '.join(missing)} (renamed parameters? update FANS)")
            continue
        for pname in names:
            w = ts[pname][2].numpy().astype(np.float64)
            if check:
                fi, fo = FANS[pname]
                err = check(w, fi, fo)
            else:
                err = default_check(pname, w)
            print(f"{'FAIL' if err else 'PASS'} {name:8s} {pname:17s} {spelling or '(torch.nn default)':20s} "
                  f"mean {w.mean():+.4f} std {w.std():.4f} {err}")
            if err:
                fails.append(f"{name} ({pname}): {err}")
    if fails:
        print("FAILURES:\n  " + "\n  ".join(fails))
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
