#!/usr/bin/env python3
"""CSV layouts (header or none, preamble lines, separators, the label column by index or name) and the
per-feature transforms standardize and min_max, end to end: a spec is checked and built, and the built
program's `predict --outputs` through an identity network (weights given with --weights) shows the samples as
the pipeline made them, compared with NumPy. The training split's statistics must be applied to the test
split and to predict's file too. Then what is refused, each with its code.
Usage: csv_options.py DLSPEC"""
import os
import subprocess
import sys
import tempfile

import numpy as np

DLSPEC = sys.argv[1]
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


def run(args, cwd, timeout=300):
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout)


SPEC = """dlspec 1
dataset d {{
  train = csv("{train}"{opts})
  test  = csv("{test}"{opts})
  sample x: f32[3]
  label y: class<3>
}}
pipeline train_input from d.train {{
  x = x |> {steps}
  batch(4)
}}
pipeline test_input from d.test {{
  x = x |> {steps}
  batch(4)
}}
network Id(x: f32[N, 3]) -> logits[N, 3] {{
  return x |> dense(3)
}}
train t {{
  model     = Id on cpu
  data      = train_input
  loss      = cross_entropy(model.out, y)
  optimizer = sgd(lr: 0.1)
  epochs    = 1
  validate  = test_input every 1 epoch metrics [accuracy, loss]
}}
"""


def write_table(path, x, y, label_at, sep=",", header=None, preamble=None):
    with open(path, "w") as f:
        if preamble is not None:
            f.write(preamble + "\n")
        if header is not None:
            f.write(sep.join(header) + "\n")
        for row, label in zip(x, y):
            cells = [f"{v:.6g}" for v in row]
            cells.insert(label_at if label_at >= 0 else len(cells) + 1 + label_at, str(int(label)))
            f.write(sep.join(cells) + "\n")


def outputs_of(tmp, name, spec, predict_file):
    """check + build the spec, then predict through the identity network: the samples after the pipeline."""
    path = os.path.join(tmp, name + ".dls")
    open(path, "w").write(spec)
    c = run([DLSPEC, "check", path], tmp)
    if c.returncode != 0:
        return None, f"check: {c.stdout[-400:]}{c.stderr[-400:]}"
    exe = os.path.join(tmp, name)
    b = run([DLSPEC, "build", path, "-o", exe], tmp)
    if b.returncode != 0:
        return None, f"build: {b.stderr[-400:]}"
    wdir = os.path.join(tmp, name + ".weights")
    os.makedirs(wdir, exist_ok=True)
    np.save(os.path.join(wdir, "dense_1.weight.npy"), np.eye(3, dtype=np.float32))
    np.save(os.path.join(wdir, "dense_1.bias.npy"), np.zeros(3, dtype=np.float32))
    out = os.path.join(tmp, name + ".out.npy")
    p = run([exe, "predict", predict_file, "--weights", wdir, "--outputs", out, "--threads", "1"], tmp)
    if p.returncode != 0:
        return None, f"predict: {p.stdout[-400:]}{p.stderr[-400:]}"
    return np.load(out), ""


with tempfile.TemporaryDirectory() as tmp:
    rng = np.random.default_rng(7)
    scales = np.array([0.1, 50.0, 1700.0])
    xtr = (rng.normal(size=(40, 3)) * scales + np.array([1.0, -20.0, 800.0])).astype(np.float32)
    ytr = rng.integers(0, 3, 40)
    xte = (rng.normal(size=(12, 3)) * scales).astype(np.float32)
    yte = rng.integers(0, 3, 12)
    # The values as the files hold them (6 significant digits), so that NumPy computes from the same numbers.
    xtr, xte = (np.vectorize(lambda v: float(f"{v:.6g}"))(a).astype(np.float32) for a in (xtr, xte))
    xtr64, xte64 = xtr.astype(np.float64), xte.astype(np.float64)

    # 1. scikit-learn's layout: a counts line, no header, the label last, commas.
    write_table(os.path.join(tmp, "tr1.csv"), xtr, ytr, -1, preamble="40,3,a,b,c")
    write_table(os.path.join(tmp, "te1.csv"), xte, yte, -1, preamble="12,3,a,b,c")
    spec = SPEC.format(train="tr1.csv", test="te1.csv", opts=", header: false, skip: 1, label: -1", steps="scale(2) |> standardize")
    got, why = outputs_of(tmp, "sk", spec, "te1.csv")
    want = want_sk = (2 * xte64 - (2 * xtr64).mean(0)) / (2 * xtr64).std(0)
    check(got is not None and np.allclose(got, want, rtol=1e-5, atol=1e-5),
          f"header: false, skip: 1, label: -1; scale then standardize by the training split's statistics, on a test file {why}")
    if got is not None:
        print(f"     worst difference from NumPy: {np.abs(got - want).max():.2e}")
    # The same file without its label column is read too (predict on features only).
    np.savetxt(os.path.join(tmp, "feat1.csv"), xte, fmt="%.6g", delimiter=",", header="12,3", comments="")
    got2, why = outputs_of(tmp, "sk2", spec, "feat1.csv")
    check(got2 is not None and np.allclose(got2, want, rtol=1e-5, atol=1e-5), f"predict reads the CSV without its label column {why}")

    # 2. A header row, the label first by index, whitespace-separated, min_max.
    write_table(os.path.join(tmp, "tr2.txt"), xtr, ytr, 0, sep="   ", header=["y", "a", "b", "c"])
    write_table(os.path.join(tmp, "te2.txt"), xte, yte, 0, sep=" \t", header=["y", "a", "b", "c"])
    spec = SPEC.format(train="tr2.txt", test="te2.txt", opts=", sep: space, label: 0", steps="min_max")
    got, why = outputs_of(tmp, "ws", spec, "te2.txt")
    lo, hi = xtr64.min(0), xtr64.max(0)
    want = (xte64 - lo) / (hi - lo)
    check(got is not None and np.allclose(got, want, rtol=1e-5, atol=1e-5), f"sep: space, label: 0; min_max of the training split {why}")

    # 3. Semicolons and tabs, the label by name in the middle; normalize before standardize.
    write_table(os.path.join(tmp, "tr3.csv"), xtr, ytr, 1, sep=";", header=["a", "kind", "b", "c"])
    write_table(os.path.join(tmp, "te3.csv"), xte, yte, 1, sep=";", header=["a", "kind", "b", "c"])
    spec = SPEC.format(train="tr3.csv", test="te3.csv", opts=', sep: semicolon, label: "kind"',
                       steps="normalize(mean: 3, std: 4) |> standardize")
    got, why = outputs_of(tmp, "semi", spec, "te3.csv")
    n_tr, n_te = (xtr64 - 3) / 4, (xte64 - 3) / 4
    want = (n_te - n_tr.mean(0)) / n_tr.std(0)
    check(got is not None and np.allclose(got, want, rtol=1e-5, atol=1e-5), f"sep: semicolon, label by name; normalize then standardize {why}")
    with open(os.path.join(tmp, "tr4.tsv"), "w") as f:
        for row, label in zip(xtr, ytr):
            f.write("\t".join(f"{v:.6g}" for v in row) + f"\t{label}\n")
    spec = SPEC.format(train="tr4.tsv", test="tr4.tsv", opts=", sep: tab, header: false, label: 3", steps="standardize")
    got, why = outputs_of(tmp, "tab", spec, "tr4.tsv")
    want = (xtr64 - xtr64.mean(0)) / xtr64.std(0)
    check(got is not None and np.allclose(got, want, rtol=1e-5, atol=1e-5),
          f"sep: tab, header: false, label: 3 {why}" + ("" if got is None else f" (worst {np.abs(got - want).max():.2e})"))

    # predict --top 2 and --output (JSON, CSV): the probabilities are the softmax of the outputs.
    exe, wdir = os.path.join(tmp, "sk"), os.path.join(tmp, "sk.weights")
    sm = np.exp(want_sk - want_sk.max(1, keepdims=True))
    sm /= sm.sum(1, keepdims=True)
    p = run([exe, "predict", "te1.csv", "--weights", wdir, "--top", "2", "--output", "top.json", "--threads", "1"], tmp)
    import json
    ok = p.returncode == 0
    if ok:
        recs = json.load(open(os.path.join(tmp, "top.json")))
        best = np.argsort(-sm, 1, kind="stable")[:, :2]
        ok = len(recs) == len(xte) and all(
            [int(t["class"]) for t in r["top"]] == list(best[i]) and
            np.allclose([t["probability"] for t in r["top"]], sm[i, best[i]], rtol=1e-4) for i, r in enumerate(recs))
    check(ok, f"predict --top 2 --output top.json: the two likeliest classes and their softmax probabilities {p.stderr[-300:]}")
    p = run([exe, "predict", "te1.csv", "--weights", wdir, "--output", "pred.csv", "--threads", "1"], tmp)
    lines = open(os.path.join(tmp, "pred.csv")).read().splitlines() if p.returncode == 0 else []
    check(lines[:1] == ["sample,class"] and [int(l.split(",")[1]) for l in lines[1:]] == list(want_sk.argmax(1)),
          f"predict --output pred.csv: one row per sample with its class {p.stderr[-300:]}")
    p = run([exe, "predict", "te1.csv", "--weights", wdir, "--output", "pred.txt", "--threads", "1"], tmp)
    check(p.returncode != 0 and "R0406" in p.stderr, "predict --output of another kind is R0406")

    # A regression's predictions in the targets' own units: the label transform scale(0.1) undone.
    reg = SPEC.format(train="tr1.csv", test="te1.csv", opts=", header: false, skip: 1, label: -1", steps="scale(1)")
    reg = reg.replace("label y: class<3>", "label y: f32[1]").replace("  batch(4)\n", "  y = y |> scale(0.1)\n  batch(4)\n")
    reg = reg.replace("-> logits[N, 3] {\n  return x |> dense(3)", "-> f32[N, 1] {\n  return x |> dense(1)")
    reg = reg.replace("cross_entropy(model.out, y)", "mse(model.out, y)").replace("metrics [accuracy, loss]", "metrics [loss]")
    open(os.path.join(tmp, "reg.dls"), "w").write(reg)
    b = run([DLSPEC, "build", "reg.dls", "-o", "reg"], tmp)
    os.makedirs(os.path.join(tmp, "reg.weights"), exist_ok=True)
    np.save(os.path.join(tmp, "reg.weights", "dense_1.weight.npy"), np.array([[1, 0, 0]], dtype=np.float32))
    np.save(os.path.join(tmp, "reg.weights", "dense_1.bias.npy"), np.zeros(1, dtype=np.float32))
    p = run([os.path.join(tmp, "reg"), "predict", "te1.csv", "--weights", "reg.weights", "--threads", "1"], tmp) if b.returncode == 0 else b
    vals = [float(l) for l in p.stdout.split()] if p.returncode == 0 else []
    check(len(vals) == len(xte) and np.allclose(vals, xte64[:, 0] / 0.1, rtol=1e-5),
          f"a regression's predictions are printed in the targets' units (outputs / 0.1) {p.stderr[-300:]}")
    p = run([os.path.join(tmp, "reg"), "predict", "te1.csv", "--weights", "reg.weights", "--top", "2"], tmp) if b.returncode == 0 else b
    check(p.returncode != 0 and "R0406" in p.stderr, "predict --top on a regression is R0406")

    # 4. Training a few epochs runs (the loader, validation on the test split).
    exe = os.path.join(tmp, "sk")
    t = run([exe, "train", "--threads", "1"], tmp)
    check(t.returncode == 0 and "val_acc" in t.stdout, f"the built program trains: rc {t.returncode} {t.stderr[-300:]}")

    # 5. Refused, each with its code.
    def refused(name, spec, code, data=False):
        path = os.path.join(tmp, name + ".dls")
        open(path, "w").write(spec)
        c = run([DLSPEC, "check", *(["--data"] if data else []), path], tmp)
        text = c.stdout + c.stderr
        check(c.returncode != 0 and code in text, f"{name}: refused with {code}" + ("" if code in text else f": {text[-400:]}"))
        return text

    refused("name_without_header", SPEC.format(train="tr1.csv", test="te1.csv", opts=', header: false, skip: 1, label: "y"',
                                               steps="standardize"), "E0215")
    t = refused("index_past_columns", SPEC.format(train="tr1.csv", test="te1.csv", opts=", header: false, skip: 1, label: 7",
                                                  steps="to_f32"), "D0118", data=True)
    check("4 columns, so column 7 does not exist" in t, "D0118 says how many columns the file has")
    refused("standardize_after_flip", SPEC.format(train="tr1.csv", test="te1.csv", opts=", header: false, skip: 1, label: -1",
                                                  steps="reshape([1, 1, 3])").replace(
        "  batch(4)\n}\npipeline test_input", "  augment random_flip(0.5)\n  x = x |> reshape([3]) |> standardize\n  batch(4)\n}\npipeline test_input", 1),
        "E0116")
    refused("standardize_without_train_file", SPEC.format(train="missing.csv", test="te1.csv", opts=", header: false, skip: 1, label: -1",
                                                          steps="standardize"), "E1010")
    with open(os.path.join(tmp, "bad.csv"), "w") as f:
        f.write("40,3\n1,2,3,0\n4,,6,1\n")
    refused("empty_cell", SPEC.format(train="bad.csv", test="bad.csv", opts=", header: false, skip: 1, label: -1", steps="to_f32"),
            "D0106", data=True)
    # At run time the same file is R0207 with its line and column (line 3: the preamble is line 1).
    path = os.path.join(tmp, "rt_bad.dls")
    open(path, "w").write(SPEC.format(train="bad.csv", test="bad.csv", opts=", header: false, skip: 1, label: -1", steps="to_f32"))
    b = run([DLSPEC, "build", path, "-o", os.path.join(tmp, "rt_bad")], tmp)
    r = run([os.path.join(tmp, "rt_bad"), "train", "--threads", "1"], tmp) if b.returncode == 0 else b
    check(r.returncode != 0 and "R0207" in r.stderr + r.stdout and "bad.csv:3:2" in r.stderr + r.stdout,
          f"the runtime names the empty cell's line and column: {(r.stderr + r.stdout)[-300:]}")

print(f"{len(failures)} failures" if failures else "all passed")
sys.exit(1 if failures else 0)
