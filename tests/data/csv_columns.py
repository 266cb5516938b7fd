#!/usr/bin/env python3
"""CSV columns and target transforms, end to end against NumPy and scikit-learn: several label columns
(`label: [..]`, by name and by index) as real-valued targets; missing cells (empty, NA, nan) filled by
`impute: mean|median|zero` with the training split's statistics (in every split and in predict), or refused
with their line and column; the label field's `add`, `log1p`, `scale` and `standardize`, undone on predict's
values and on the regression metrics (mae, rmse, r2 in the targets' own units). Then what is refused, each
with its code.
Usage: csv_columns.py DLSPEC"""
import json
import math
import os
import subprocess
import sys
import tempfile

import numpy as np
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

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
  label y: f32[{k}]
}}
pipeline train_input from d.train {{
  x = x |> {xsteps}
  y = y |> {ysteps}
  batch(4)
}}
pipeline test_input from d.test {{
  x = x |> {xsteps}
  y = y |> {ysteps}
  batch(4)
}}
network Id(x: f32[N, 3]) -> f32[N, {k}] {{
  return x |> dense({k})
}}
train t {{
  model      = Id on cpu
  data       = train_input
  loss       = mse(model.out, y)
  optimizer  = sgd(lr: 0.0000001)
  epochs     = 1
  seed       = 1
  checkpoint = "ck_{name}" every 1 epoch keep 1
  validate   = test_input every 1 epoch metrics [loss, mae, rmse, r2]
}}
"""


def spec(name, train="tr.csv", test="te.csv", opts="", xsteps="to_f32", ysteps="to_f32", k=1):
    return SPEC.format(name=name, train=train, test=test, opts=opts, xsteps=xsteps, ysteps=ysteps, k=k)


def write(path, header, rows):
    with open(path, "w") as f:
        f.write(",".join(header) + "\n")
        for r in rows:
            f.write(",".join(r) + "\n")


def cells(a):
    return [f"{v:.6g}" for v in a]


def build(tmp, name, text):
    path = os.path.join(tmp, name + ".dls")
    open(path, "w").write(text)
    c = run([DLSPEC, "check", path], tmp)
    if c.returncode != 0:
        return f"check: {c.stdout[-500:]}{c.stderr[-500:]}"
    b = run([DLSPEC, "build", path, "-o", os.path.join(tmp, name)], tmp)
    return "" if b.returncode == 0 else f"build: {b.stderr[-500:]}"


def identity_weights(tmp, name, w, b):
    d = os.path.join(tmp, name + ".weights")
    os.makedirs(d, exist_ok=True)
    np.save(os.path.join(d, "dense_1.weight.npy"), np.asarray(w, dtype=np.float32))
    np.save(os.path.join(d, "dense_1.bias.npy"), np.asarray(b, dtype=np.float32))
    return d


def predict(tmp, name, file, wdir, extra=()):
    """predict's raw outputs (--outputs) and its values in the targets' units (--output CSV)."""
    raw, csvf = os.path.join(tmp, name + ".raw.npy"), os.path.join(tmp, name + ".pred.csv")
    p = run([os.path.join(tmp, name), "predict", file, "--weights", wdir, "--outputs", raw, "--threads", "1", *extra], tmp)
    q = run([os.path.join(tmp, name), "predict", file, "--weights", wdir, "--output", csvf, "--threads", "1", *extra], tmp)
    if p.returncode != 0 or q.returncode != 0:
        return None, None, (p.stderr + q.stderr)[-500:]
    lines = open(csvf).read().splitlines()
    vals = np.array([[float(v) for v in l.split(",")[1:]] for l in lines[1:]])
    return np.load(raw), vals, ""


with tempfile.TemporaryDirectory() as tmp:
    rng = np.random.default_rng(3)
    n_tr, n_te = 40, 13
    xtr = np.round(rng.normal(size=(n_tr, 3)) * [1.0, 10.0, 100.0] + [0.0, 5.0, 300.0], 3)
    xte = np.round(rng.normal(size=(n_te, 3)) * [1.0, 10.0, 100.0] + [0.0, 5.0, 300.0], 3)
    ytr = np.round(np.abs(rng.normal(size=(n_tr, 2))) * [3.0, 50.0], 3)
    yte = np.round(np.abs(rng.normal(size=(n_te, 2))) * [3.0, 50.0], 3)

    # 1. Two label columns, the first by name and the second by index, between the features.
    #    Columns: a, t1, b, t2, c.
    def table(x, y):
        return [[f"{x[i, 0]:.6g}", f"{y[i, 0]:.6g}", f"{x[i, 1]:.6g}", f"{y[i, 1]:.6g}", f"{x[i, 2]:.6g}"] for i in range(len(x))]

    write(os.path.join(tmp, "tr.csv"), ["a", "t1", "b", "t2", "c"], table(xtr, ytr))
    write(os.path.join(tmp, "te.csv"), ["a", "t1", "b", "t2", "c"], table(xte, yte))
    why = build(tmp, "two", spec("two", opts=', label: ["t1", 3]', k=2, ysteps="add(-1) |> scale(0.5)"))
    check(why == "", f"label: [\"t1\", 3] with y: f32[2] is checked and built {why}")
    w = np.array([[1, 0, 0], [0, 0, 1]], dtype=np.float32)  # outputs: (a, c)
    wdir = identity_weights(tmp, "two", w, [0, 0])
    raw, vals, why = predict(tmp, "two", "te.csv", wdir) if not why else (None, None, why)
    want_raw = xte[:, [0, 2]]
    check(raw is not None and np.allclose(raw, want_raw, rtol=1e-5, atol=1e-4),
          f"the features are every column but the two label columns, in order {why}")
    if raw is not None:
        inv = raw / 0.5 + 1.0  # scale(0.5) then add(-1), undone last first
        check(np.allclose(vals, inv, rtol=1e-5, atol=1e-4),
              f"predict's values are in the targets' units: (y / 0.5) + 1 (worst {np.abs(vals - inv).max():.2e})")
    # The same file without its label columns is read by predict too.
    write(os.path.join(tmp, "te_feat.csv"), ["a", "b", "c"], [cells(r) for r in xte])
    raw2, _, why = predict(tmp, "two", "te_feat.csv", wdir)
    check(raw2 is not None and np.allclose(raw2, want_raw, rtol=1e-5, atol=1e-4), f"predict reads the file without its label columns {why}")

    # 2. Training: the regression metrics in the targets' units, against scikit-learn on predict's values.
    t = run([os.path.join(tmp, "two"), "train", "--threads", "1", "--weights", wdir], tmp)
    check(t.returncode == 0, f"trains with two targets {t.stderr[-400:]}")
    if t.returncode == 0:
        rec = [json.loads(l) for l in open(os.path.join(tmp, "ck_two", "metrics.jsonl"))][-1]
        p = run([os.path.join(tmp, "two"), "predict", "te.csv", "--checkpoint", "ck_two", "--output", "after.csv", "--threads", "1"], tmp)
        lines = open(os.path.join(tmp, "after.csv")).read().splitlines() if p.returncode == 0 else []
        out = np.array([[float(v) for v in l.split(",")[1:]] for l in lines[1:]]) if lines else None
        if out is not None:
            want = {"val_mae": mean_absolute_error(yte, out), "val_rmse": math.sqrt(mean_squared_error(yte, out)),
                    "val_r2": r2_score(yte, out)}
            for key, v in want.items():
                g = rec.get(key)
                print(f"     {key} dlspec {g} sklearn (original units) {v:.9f}")
                check(g is not None and abs(g - v) <= 1e-4 * max(1.0, abs(v)), f"{key} is computed in the targets' original units")
        else:
            check(False, f"predict --checkpoint after training {p.stderr[-300:]}")

    # 3. log1p and standardize of the target, undone by predict (one target: t2).
    ysteps = "scale(2) |> log1p |> add(0.5)"
    why = build(tmp, "logt", spec("logt", opts=', label: "t2", impute: zero', xsteps="to_f32", ysteps=ysteps).replace(
        "sample x: f32[3]", "sample x: f32[4]").replace("f32[N, 3]", "f32[N, 4]"))
    check(why == "", f"y |> scale(2) |> log1p |> add(0.5) is checked and built {why}")
    w4 = np.array([[0.01, 0, 0, 0]], dtype=np.float32)
    wdir4 = identity_weights(tmp, "logt", w4, [0.3])
    raw, vals, why = predict(tmp, "logt", "te.csv", wdir4) if not why else (None, None, why)
    if raw is not None:
        inv = np.expm1(raw - 0.5) / 2
        check(np.allclose(vals, inv, rtol=1e-5, atol=1e-5), f"log1p undone by expm1, add and scale undone (worst {np.abs(vals - inv).max():.2e})")
    else:
        check(False, f"predict through log1p {why}")
    # standardize of the target by the training targets' mean and deviation (after scale(10) before it).
    why = build(tmp, "stdt", spec("stdt", opts=', label: "t2"', ysteps="scale(10) |> standardize").replace(
        "sample x: f32[3]", "sample x: f32[4]").replace("f32[N, 3]", "f32[N, 4]"))
    check(why == "", f"y |> scale(10) |> standardize is checked and built {why}")
    wdir5 = identity_weights(tmp, "stdt", w4, [0.3])
    raw, vals, why = predict(tmp, "stdt", "te.csv", wdir5) if not why else (None, None, why)
    if raw is not None:
        m, s = (10 * ytr[:, 1]).mean(), (10 * ytr[:, 1]).std()
        inv = (raw * s + m) / 10
        check(np.allclose(vals, inv, rtol=1e-5, atol=1e-4), f"standardize of the target undone by the training targets' statistics (worst {np.abs(vals - inv).max():.2e})")
    else:
        check(False, f"predict through the target's standardize {why}")
    # The targets the loss sees: training with lr 0 would be silent, so evaluate the loss against NumPy instead.
    t = run([os.path.join(tmp, "stdt"), "eval", "--weights", wdir5, "--threads", "1"], tmp)
    if t.returncode == 0:
        feats = np.stack([xte[:, 0], yte[:, 0], xte[:, 1], xte[:, 2]], 1)
        outs = feats[:, 0] * 0.01 + 0.3
        m, s = (10 * ytr[:, 1]).mean(), (10 * ytr[:, 1]).std()
        want_loss = float(np.mean((outs - (10 * yte[:, 1] - m) / s) ** 2))
        got = float(t.stdout.split("loss")[1].split()[0])
        check(abs(got - want_loss) <= 1e-3 * max(1.0, want_loss), f"eval's loss is the MSE against the standardised targets ({got} vs NumPy {want_loss:.4f})")
    else:
        check(False, f"eval {t.stderr[-300:]}")

    # 4. Missing cells: imputed with the training split's mean, median or zero, in every split and in predict.
    xm = xtr.copy()
    holes = [(1, 0, ""), (5, 1, "NA"), (9, 2, "nan"), (12, 0, "N/A"), (20, 1, "")]
    rows = [cells(np.r_[xtr[i], ytr[i, 0]]) for i in range(n_tr)]
    for r, c, text in holes:
        rows[r][c] = text
        xm[r, c] = np.nan
    write(os.path.join(tmp, "trm.csv"), ["a", "b", "c", "y"], rows)
    rows_te = [cells(np.r_[xte[i], yte[i, 0]]) for i in range(n_te)]
    xm_te = xte.copy()
    for r, c, text in [(0, 2, "NaN"), (3, 0, "")]:
        rows_te[r][c] = text
        xm_te[r, c] = np.nan
    write(os.path.join(tmp, "tem.csv"), ["a", "b", "c", "y"], rows_te)
    for mode, stat in (("mean", np.nanmean(xm, 0)), ("median", np.nanmedian(xm, 0)), ("zero", np.zeros(3))):
        name = "imp_" + mode
        why = build(tmp, name, spec(name, train="trm.csv", test="tem.csv", opts=f', label: "y", impute: {mode}', xsteps="standardize"))
        filled_tr = np.where(np.isnan(xm), stat, xm)
        mu, sd = filled_tr.mean(0), filled_tr.std(0)
        want = (np.where(np.isnan(xm_te), stat, xm_te) - mu) / sd
        got = []
        for j in range(3):  # each feature through a network that passes it on
            raw, _, why2 = predict(tmp, name, "tem.csv", identity_weights(tmp, f"{name}{j}", np.eye(3)[j:j + 1], [0])) if not why else (None, None, why)
            got.append(raw[:, 0] if raw is not None else None)
        ok = all(g is not None for g in got)
        worst = np.abs(np.stack(got, 1) - want).max() if ok else float("nan")
        check(ok and worst < 1e-4, f"impute: {mode}: missing cells (empty, NA, N/A, nan) take the training split's {mode}, then "
                                  f"standardize, in the test file too (worst {worst:.2e}) {why2 if not ok else ''}")

    # 5. Refused, each with its code and place.
    def refused(name, text, code, where="", data=False, run_it=False):
        path = os.path.join(tmp, name + ".dls")
        open(path, "w").write(text)
        if run_it:
            b = run([DLSPEC, "build", path, "-o", os.path.join(tmp, name)], tmp)
            r = run([os.path.join(tmp, name), "train", "--threads", "1"], tmp) if b.returncode == 0 else b
        else:
            r = run([DLSPEC, "check", *(["--data"] if data else []), path], tmp)
        out = r.stdout + r.stderr
        check(r.returncode != 0 and code in out and where in out, f"{name}: refused with {code} {where}" + ("" if code in out and where in out else f": {out[-400:]}"))

    refused("labels_as_classes", spec("x1", opts=', label: ["t1", "t2"]', k=2).replace("label y: f32[2]", "label y: class<3>"), "E0604")
    refused("labels_count", spec("x2", opts=', label: ["t1", "t2"]', k=2).replace("label y: f32[2]", "label y: f32[3]"), "E0604")
    refused("label_twice", spec("x3", opts=', label: ["t1", 1]', k=2), "D0118", data=True)
    # Without impute: a missing cell at run time is R0207 with its line and column (the empty cell on line 3, column 1).
    refused("missing_no_impute", spec("x4", train="trm.csv", test="tem.csv", opts=', label: "y"'), "R0207", "trm.csv:3:1", run_it=True)
    with open(os.path.join(tmp, "na.csv"), "w") as f:
        f.write("a,b,c,y\n1,2,3,4\n5,NA,7,8\n")
    refused("na_cell", spec("x5", train="na.csv", test="na.csv", opts=', label: "y"'), "R0207", "na.csv:3:2", run_it=True)
    refused("na_cell_check", spec("x6", train="na.csv", test="na.csv", opts=', label: "y"'), "D0106", "line 3, column 2", data=True)
    with open(os.path.join(tmp, "ragged.csv"), "w") as f:
        f.write("a,b,c,y\n1,2,3,4\n5,6,8\n")
    refused("ragged", spec("x7", train="ragged.csv", test="ragged.csv", opts=', label: "y"'), "R0206", "ragged.csv:3", run_it=True)
    # With `impute:`, the build reads the training file for its statistics: the ragged line is E1010 then.
    refused("ragged_impute", spec("x7b", train="ragged.csv", test="ragged.csv", opts=', label: "y", impute: mean'), "E1010", "line 3")
    with open(os.path.join(tmp, "neg.csv"), "w") as f:
        f.write("a,b,c,y\n1,2,3,4\n5,6,7,-2\n")
    refused("log1p_domain", spec("x8", train="neg.csv", test="neg.csv", opts=', label: "y"', ysteps="log1p"), "R0230", "record 1", run_it=True)
    with open(os.path.join(tmp, "noy.csv"), "w") as f:
        f.write("a,b,c,y\n1,2,3,4\n5,6,7,\n")
    refused("missing_target", spec("x9", train="noy.csv", test="noy.csv", opts=', label: "y", impute: mean'), "R0208", "record 1", run_it=True)
    refused("impute_without_train_file", spec("x10", train="absent.csv", test="te.csv", opts=', label: "t1", impute: mean'), "E1010")
    refused("log1p_of_classes", spec("x11", opts=', label: "t1"', ysteps="log1p").replace("label y: f32[1]", "label y: class<3>")
            .replace("-> f32[N, 1]", "-> logits[N, 3]").replace("dense(1)", "dense(3)").replace("mse(", "cross_entropy(")
            .replace("metrics [loss, mae, rmse, r2]", "metrics [loss]"), "E1004")

print(f"{len(failures)} failures" if failures else "all passed")
sys.exit(1 if failures else 0)
