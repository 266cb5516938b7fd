#!/usr/bin/env python3
"""Categorical CSV columns, one_hot, to_i64 and labels from a second file, end to end: specs are checked and
built, and the built programs' `predict --outputs` through an identity network (weights given with --weights)
shows the samples as the pipeline made them, compared with NumPy. A categorical label column trains and
`predict` prints its class names; values the training split lacks, indices out of range and what does not type
are refused, each with its code.
Usage: csv_categorical.py DLSPEC"""
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


def build(tmp, name, spec):
    path = os.path.join(tmp, name + ".dls")
    open(path, "w").write(spec)
    c = run([DLSPEC, "check", path], tmp)
    if c.returncode != 0:
        return None, f"check: {c.stdout[-600:]}{c.stderr[-600:]}"
    exe = os.path.join(tmp, name)
    b = run([DLSPEC, "build", path, "-o", exe], tmp)
    if b.returncode != 0:
        return None, f"build: {b.stdout[-600:]}{b.stderr[-600:]}"
    return exe, ""


def identity_outputs(tmp, name, spec, n, predict_file):
    """The samples after the pipeline: predict through dense(n) with the identity matrix."""
    exe, why = build(tmp, name, spec)
    if exe is None:
        return None, why
    wdir = os.path.join(tmp, name + ".weights")
    os.makedirs(wdir, exist_ok=True)
    np.save(os.path.join(wdir, "dense_1.weight.npy"), np.eye(n, dtype=np.float32))
    np.save(os.path.join(wdir, "dense_1.bias.npy"), np.zeros(n, dtype=np.float32))
    out = os.path.join(tmp, name + ".out.npy")
    p = run([exe, "predict", predict_file, "--weights", wdir, "--outputs", out, "--threads", "1"], tmp)
    if p.returncode != 0:
        return None, f"predict: {p.stdout[-600:]}{p.stderr[-600:]}"
    return np.load(out), ""


def refused(tmp, name, spec, code, data=False):
    path = os.path.join(tmp, name + ".dls")
    open(path, "w").write(spec)
    c = run([DLSPEC, "check", *(["--data"] if data else []), path], tmp)
    text = c.stdout + c.stderr
    check(c.returncode != 0 and code in text, f"{name}: refused with {code}" + ("" if code in text else f": {text[-600:]}"))
    return text


FEATURES = """dlspec 1
dataset d {{
  train = csv("{train}", categorical: ["color"]{opts})
  test  = csv("{test}", categorical: ["color"]{opts})
  sample x: f32[3]
  label y: class<{n}>
}}
pipeline train_input from d.train {{
  x = x |> {steps}
  batch(4)
}}
pipeline test_input from d.test {{
  x = x |> {steps}
  batch(4)
}}
network Id(x: f32[N, {n}]) -> logits[N, {n}] {{
  return x |> dense({n})
}}
train t {{
  model     = Id on cpu
  data      = train_input
  loss      = cross_entropy(model.out, y)
  optimizer = sgd(lr: 0.1)
  epochs    = 1
  validate  = test_input every 1 epoch metrics [loss]
}}
"""

with tempfile.TemporaryDirectory() as tmp:
    rng = np.random.default_rng(3)
    colors = ["red", "green", "blue", "dark blue"]  # sorted: blue, dark blue, green, red
    n = 30
    a = np.round(rng.normal(size=n), 4)
    b = np.round(rng.normal(size=n) * 10, 3)
    col = [colors[i] for i in rng.integers(0, 4, n)]
    col[:4] = colors  # every colour in the training split
    y = rng.integers(0, 2, n)
    with open(os.path.join(tmp, "tr.csv"), "w") as f:
        f.write("a,color,b,y\n")
        for i in range(n):
            f.write(f"{a[i]},{col[i]},{b[i]},{y[i]}\n")
    vocab = sorted(set(col))
    idx = np.array([vocab.index(c) for c in col])

    # 1. A categorical feature is its value's index in the training split's sorted values.
    spec = FEATURES.format(train="tr.csv", test="tr.csv", opts="", steps="to_f32", n=3)
    got, why = identity_outputs(tmp, "cat", spec, 3, "tr.csv")
    want = np.stack([a, idx, b], 1)
    check(got is not None and np.allclose(got, want, atol=1e-5),
          f"categorical: [\"color\"]: the cells are the indices of sorted {vocab} {why}")

    # 2. one_hot of that feature, by name and by index, against NumPy (np.eye rows in its place).
    spec = FEATURES.format(train="tr.csv", test="tr.csv", opts="", steps='one_hot(4, feature: "color")', n=6)
    got, why = identity_outputs(tmp, "onehot", spec, 6, "tr.csv")
    want = np.concatenate([a[:, None], np.eye(4)[idx], b[:, None]], 1)
    check(got is not None and np.array_equal(got.astype(np.float64), want.astype(np.float32).astype(np.float64)),
          f"one_hot(4, feature: \"color\") replaces the feature by its one-hot row {why}"
          + ("" if got is None else f" (worst difference from NumPy {np.abs(got - want).max():.1e})"))
    spec = FEATURES.format(train="tr.csv", test="tr.csv", opts="", steps="one_hot(5, feature: 1)", n=7)
    got, why = identity_outputs(tmp, "onehot5", spec, 7, "tr.csv")
    want = np.concatenate([a[:, None], np.eye(5)[idx], b[:, None]], 1)
    check(got is not None and np.allclose(got, want, atol=1e-6), f"one_hot(5, feature: 1): more classes than values {why}")

    # A test file whose colour the training split lacks: R0250 with its line, column, value and the known values.
    with open(os.path.join(tmp, "te_bad.csv"), "w") as f:
        f.write("a,color,b,y\n1,red,2,0\n3,purple,4,1\n")
    spec = FEATURES.format(train="tr.csv", test="te_bad.csv", opts="", steps="to_f32", n=3)
    exe, why = build(tmp, "unknown", spec)
    t = run([exe, "train", "--threads", "1"], tmp) if exe else None
    text = (t.stdout + t.stderr) if t else why
    check(t is not None and t.returncode != 0 and "R0250" in text and "te_bad.csv:3:2" in text and "`purple`" in text
          and "`blue`" in text, f"a value the training split lacks is R0250 at file:line:column with the known values: {text[-400:]}")
    text = refused(tmp, "unknown_data", spec, "D0129", data=True)
    check("D0128" in text and "4 values" in text, f"check --data reports the categorical column (D0128): {text[-300:]}")
    # A column of text that is not declared categorical: D0130 under check --data.
    plain = spec.replace(', categorical: ["color"]', "").replace("te_bad.csv", "tr.csv")
    text = refused(tmp, "text_column", plain, "D0130", data=True)
    check('categorical: ["color"]' in text, f"D0130 says how to declare it: {text[-300:]}")

    # 3. A label column of class names: trains, and predict prints the names.
    names = ["setosa", "versicolor", "virginica"]
    m = 60
    cls = np.arange(m) % 3
    x = (rng.normal(size=(m, 2)) + np.stack([cls * 3.0, -cls * 2.0], 1)).round(4)
    with open(os.path.join(tmp, "iris.csv"), "w") as f:
        f.write("u,v,species\n")
        for i in range(m):
            f.write(f"{x[i, 0]},{x[i, 1]},{names[cls[i]]}\n")
    with open(os.path.join(tmp, "iris_x.csv"), "w") as f:
        f.write("u,v\n")
        for i in range(6):
            f.write(f"{x[i, 0]},{x[i, 1]}\n")
    iris = """dlspec 1
dataset flowers {
  train = csv("iris.csv", label: "species", categorical: ["species"])
  sample x: f32[2]
  label  species: class<3>
}
pipeline train_input from flowers.train {
  shuffle(buffer: all)
  batch(10)
}
network Mlp(x: f32[N, 2]) -> logits[N, 3] {
  return x |> dense(16) |> relu |> dense(3)
}
train species_run {
  model      = Mlp on cpu
  data       = train_input
  loss       = cross_entropy(model.out, species)
  optimizer  = adam(lr: 0.05)
  epochs     = 30
  checkpoint = "runs/iris" every 30 epochs keep 1
  seed       = 1
}
"""
    exe, why = build(tmp, "iris", iris)
    t = run([exe, "train", "--threads", "1"], tmp) if exe else None
    acc = None
    if t is not None and t.returncode == 0:
        for line in t.stdout.splitlines():
            if "acc" in line:
                for tok in line.replace(",", " ").split():
                    if tok.startswith("acc="):
                        acc = float(tok[4:].rstrip("%"))
    check(t is not None and t.returncode == 0, f"a CSV with class names as labels trains {why}{'' if t is None else t.stderr[-300:]}")
    p = run([exe, "predict", "iris_x.csv", "--threads", "1"], tmp) if exe else None
    printed = p.stdout.split() if p is not None and p.returncode == 0 else []
    check(len(printed) == 6 and all(w in names for w in printed) and sum(w == names[cls[i]] for i, w in enumerate(printed)) >= 5,
          f"predict prints the class names: {printed} for {[names[c] for c in cls[:6]]} {'' if p is None else p.stderr[-300:]}")
    refused(tmp, "label_classes", iris.replace("class<3>", "class<4>").replace("logits[N, 3]", "logits[N, 4]").replace("dense(3)", "dense(4)"), "E0634")

    # 4. to_i64 and one_hot of every element of an integer sample, against NumPy; their refusals.
    tok = rng.integers(0, 5, size=(12, 3)).astype(np.int64)
    np.save(os.path.join(tmp, "tok.npy"), tok)
    np.save(os.path.join(tmp, "tok_y.npy"), rng.integers(0, 2, 12).astype(np.int64))
    ints = """dlspec 1
dataset d {{
  train = npy("tok.npy", "tok_y.npy")
  sample x: i64[3]
  label y: class<{n}>
}}
pipeline train_input from d.train {{
  x = x |> {steps}
  batch(4)
}}
network Id(x: {xin}) -> logits[N, {n}] {{
  return x |> {body}
}}
train t {{
  model     = Id on cpu
  data      = train_input
  loss      = cross_entropy(model.out, y)
  optimizer = sgd(lr: 0.1)
  epochs    = 1
}}
"""
    spec = ints.format(steps="to_i64 |> one_hot(5) |> reshape([15])", xin="f32[N, 15]", n=15, body="dense(15)")
    got, why = identity_outputs(tmp, "i64hot", spec, 15, "tok.npy")
    want = np.eye(5, dtype=np.float32)[tok].reshape(12, 15)
    check(got is not None and np.array_equal(got, want), f"to_i64 |> one_hot(5): torch.nn.functional.one_hot's rows (np.eye) {why}")
    # An i64 network input takes to_i64's indices (embedding).
    spec = ints.format(steps="to_i64", xin="i64[N, 3]", n=2, body="embedding(vocab: 5, dim: 4) |> flatten |> dense(2)")
    exe, why = build(tmp, "emb64", spec)
    t = run([exe, "train", "--threads", "1"], tmp) if exe else None
    check(t is not None and t.returncode == 0, f"to_i64 feeds an i64 embedding input {why}{'' if t is None else t.stderr[-300:]}")
    # Out of range at run time: R0251 with the record; a value that is no integer: R0254.
    spec = ints.format(steps="to_i64 |> one_hot(4) |> reshape([12])", xin="f32[N, 12]", n=12, body="dense(12)")
    exe, why = build(tmp, "range", spec)
    rec = int(np.argwhere(tok == 4)[0][0])
    t = run([exe, "train", "--threads", "1"], tmp) if exe else None
    text = (t.stdout + t.stderr) if t else why
    check(t is not None and t.returncode != 0 and "R0251" in text and f"record {rec}" in text,
          f"an index past one_hot's classes is R0251 with its record ({rec}): {text[-300:]}")
    np.save(os.path.join(tmp, "frac.npy"), np.array([[0.5, 1, 2]] * 4, dtype=np.float32))
    np.save(os.path.join(tmp, "frac_y.npy"), np.zeros(4, dtype=np.int64))
    spec = ints.format(steps="to_i64", xin="i64[N, 3]", n=2, body="embedding(vocab: 5, dim: 4) |> flatten |> dense(2)")
    spec = spec.replace("tok.npy", "frac.npy").replace("tok_y.npy", "frac_y.npy").replace("sample x: i64[3]", "sample x: f32[3]")
    exe, why = build(tmp, "frac", spec)
    t = run([exe, "train", "--threads", "1"], tmp) if exe else None
    text = (t.stdout + t.stderr) if t else why
    check(t is not None and t.returncode != 0 and "R0254" in text and "record 0" in text, f"to_i64 of 0.5 is R0254: {text[-300:]}")
    # What does not type.
    refused(tmp, "float_onehot", FEATURES.format(train="tr.csv", test="tr.csv", opts="", steps="one_hot(4)", n=12), "E0630")
    refused(tmp, "float_feature", FEATURES.format(train="tr.csv", test="tr.csv", opts="", steps="one_hot(4, feature: 0)", n=6), "E0630")
    refused(tmp, "few_classes", FEATURES.format(train="tr.csv", test="tr.csv", opts="", steps='one_hot(3, feature: "color")', n=5), "E0632")
    refused(tmp, "after_scale", FEATURES.format(train="tr.csv", test="tr.csv", opts="", steps='scale(2) |> one_hot(4, feature: "color")', n=6), "E0630")
    refused(tmp, "no_column", FEATURES.format(train="tr.csv", test="tr.csv", opts="", steps="to_f32", n=3).replace('["color"]', '["colour"]'), "E0631")
    with open(os.path.join(tmp, "empty_cell.csv"), "w") as f:
        f.write("a,color,b,y\n1,red,2,0\n3,,4,1\n")
    refused(tmp, "empty_category", FEATURES.format(train="empty_cell.csv", test="tr.csv", opts="", steps="to_f32", n=3), "E0635")

    # 5. Labels from a second file, row-aligned: eval through dense(1) = the first feature gives the targets' error.
    feats = np.round(rng.normal(size=(20, 3)), 4)
    target = np.round(feats[:, 0] + 0.5, 4)
    np.savetxt(os.path.join(tmp, "fx.txt"), feats, fmt="%.4f", delimiter=" ")
    np.savetxt(os.path.join(tmp, "fy.txt"), target, fmt="%.4f")
    np.savetxt(os.path.join(tmp, "fy_short.txt"), target[:19], fmt="%.4f")
    lf = """dlspec 1
dataset d {
  train = csv("fx.txt", header: false, sep: space, label_file: "fy.txt")
  test  = csv("fx.txt", header: false, sep: space, label_file: "fy.txt")
  sample x: f32[3]
  label  t: f32[1]
}
pipeline train_input from d.train {
  batch(5)
}
network Lin(x: f32[N, 3]) -> f32[N, 1] {
  return x |> dense(1)
}
train fit {
  model     = Lin on cpu
  data      = train_input
  loss      = mse(model.out, t)
  optimizer = sgd(lr: 0.01)
  epochs    = 1
  validate  = train_input every 1 epoch metrics [mae]
}
"""
    exe, why = build(tmp, "lf", lf)
    wdir = os.path.join(tmp, "lf.weights")
    os.makedirs(wdir, exist_ok=True)
    np.save(os.path.join(wdir, "dense_1.weight.npy"), np.array([[1, 0, 0]], dtype=np.float32))
    np.save(os.path.join(wdir, "dense_1.bias.npy"), np.zeros(1, dtype=np.float32))
    e = run([exe, "eval", "--weights", wdir, "--threads", "1"], tmp) if exe else None
    text = (e.stdout + e.stderr) if e else why
    check(e is not None and e.returncode == 0 and "mae" in text and "0.5" in text,
          f"label_file: the targets are the second file's records (MAE of x0 against x0 + 0.5 is 0.5): {text[-300:]}")
    refused(tmp, "label_file_rows", lf.replace('"fy.txt")\n  test', '"fy_short.txt")\n  test'), "D0132", data=True)
    short = lf.replace('"fy.txt")\n  test', '"fy_short.txt")\n  test')
    exe, why = build(tmp, "lf_short", short)
    t = run([exe, "train", "--threads", "1"], tmp) if exe else None
    text = (t.stdout + t.stderr) if t else why
    check(t is not None and t.returncode != 0 and "R0252" in text and "fy_short.txt" in text, f"a label file of 19 records for 20 is R0252: {text[-300:]}")
    refused(tmp, "label_and_file", lf.replace('label_file: "fy.txt")\n  test', 'label: 0, label_file: "fy.txt")\n  test'), "E0633")

if failures:
    print(f"{len(failures)} failed")
    sys.exit(1)
print("all passed")
