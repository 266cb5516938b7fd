#!/usr/bin/python3
"""The validation metrics of compiled programs against scikit-learn, end to end.

A classifier (class<4> labels, cross_entropy) and a regression (two real targets, mse) are built and trained for two
epochs, validating on their test split with every metric; then `predict --outputs` with the final checkpoint gives
the network's outputs on the same test samples, and scikit-learn (top_k_accuracy_score, precision/recall/f1_score
with average macro or micro, confusion_matrix, mean_absolute_error, mean_squared_error, r2_score) computes the
metrics from them. The last record of metrics.jsonl (and of metrics.csv, and the progress line) and confusion.csv
must agree within 1e-6. With mpirun, the classifier trained by 2 ranks must report the same metrics as one process
(their sums are added up over the ranks).

usage: metrics_check.py DLSPEC WORKDIR
"""
import csv, json, math, os, shutil, subprocess, sys

import numpy as np
from sklearn.metrics import (confusion_matrix, f1_score, mean_absolute_error, mean_squared_error, precision_score,
                             r2_score, recall_score, roc_auc_score, top_k_accuracy_score)

failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


def run(args, cwd, timeout=300, env=None):
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)


CLASSIFIER = """dlspec 1
dataset d {{
  train = npy("xtr.npy", "ytr.npy")
  test  = npy("xte.npy", "yte.npy")
  sample x: f32[6]
  label y: class<4>
}}
pipeline train_input from d.train {{
  shuffle(buffer: all)
  batch(8)
}}
pipeline test_input from d.test {{
  batch(8)
}}
network Net(x: f32[N, 6]) -> logits[N, 4] {{
  return x |> dense(8) |> tanh |> dense(4)
}}
train cls {{
  model      = Net on cpu
  data       = train_input
  loss       = cross_entropy(model.out, y)
  optimizer  = sgd(lr: 0.05)
  epochs     = 2
  seed       = 3
  checkpoint = "ck" every 1 epoch keep 1
  validate   = test_input every 1 epoch metrics [loss, accuracy, top_k(2), precision(average: {avg}), recall(average: {avg}), f1(average: {avg}), confusion, auc]
}}
"""

REGRESSION = """dlspec 1
dataset d {
  train = npy("xtr.npy", "ytr.npy")
  test  = npy("xte.npy", "yte.npy")
  sample x: f32[6]
  label y: f32[2]
}
pipeline train_input from d.train {
  shuffle(buffer: all)
  batch(8)
}
pipeline test_input from d.test {
  batch(8)
}
network Net(x: f32[N, 6]) -> f32[N, 2] {
  return x |> dense(8) |> tanh |> dense(2)
}
train reg {
  model      = Net on cpu
  data       = train_input
  loss       = mse(model.out, y)
  optimizer  = sgd(lr: 0.05)
  epochs     = 2
  seed       = 3
  checkpoint = "ck" every 1 epoch keep 1
  validate   = test_input every 1 epoch metrics [loss, mae, rmse, r2]
}
"""


def build_and_train(dlspec, work, name, spec, xtr, ytr, xte, yte, mpi=0):
    d = os.path.join(work, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    for f, a in (("xtr", xtr), ("ytr", ytr), ("xte", xte), ("yte", yte)):
        np.save(os.path.join(d, f + ".npy"), a)
    open(os.path.join(d, "spec.dls"), "w").write(spec)
    c = run([dlspec, "check", "spec.dls"], d)
    check(c.returncode == 0, f"{name}: check accepts the spec {c.stdout[-600:]}{c.stderr[-600:]}")
    b = run([dlspec, "build", "spec.dls", "-o", "prog"], d)
    check(b.returncode == 0, f"{name}: build {b.stderr[-600:]}")
    if b.returncode != 0:
        return None
    env = dict(os.environ, OMP_NUM_THREADS="1", OMPI_MCA_btl_vader_single_copy_mechanism="none")
    cmd = ["./prog", "train", "--threads", "1"]
    if mpi:
        cmd = [shutil.which("mpirun"), "--oversubscribe", "--allow-run-as-root", "--bind-to", "none", "-np", str(mpi)] + cmd
    t = run(cmd, d, env=env)
    check(t.returncode == 0, f"{name}: train {t.stdout[-800:]}{t.stderr[-800:]}")
    if t.returncode != 0:
        return None
    p = run(["./prog", "predict", "xte.npy", "--checkpoint", "ck", "--outputs", "out.npy", "--threads", "1"], d, env=env)
    check(p.returncode == 0, f"{name}: predict --outputs {p.stdout[-400:]}{p.stderr[-400:]}")
    if p.returncode != 0:
        return None
    records = [json.loads(line) for line in open(os.path.join(d, "ck", "metrics.jsonl"))]
    rows = list(csv.DictReader(open(os.path.join(d, "ck", "metrics.csv"))))
    return d, np.load(os.path.join(d, "out.npy")), records[-1], rows[-1], t.stdout


def close(got, want, tol=1e-6):
    return got is not None and math.isfinite(got) and abs(got - want) <= tol * max(1.0, abs(want))


def classifier(dlspec, work, avg, mpi=0):
    rng = np.random.default_rng(11)
    centers = rng.normal(size=(4, 6)) * 1.2
    ytr = rng.integers(0, 4, 160)
    yte = rng.integers(0, 4, 61)  # not a multiple of the batch: the padded last batch counts only its real rows
    xtr = (centers[ytr] + rng.normal(size=(160, 6))).astype(np.float32)
    xte = (centers[yte] + rng.normal(size=(61, 6))).astype(np.float32)
    name = f"cls_{avg}" + (f"_mpi{mpi}" if mpi else "")
    r = build_and_train(dlspec, work, name, CLASSIFIER.format(avg=avg), xtr, ytr.astype(np.int64), xte,
                        yte.astype(np.int64), mpi)
    if r is None:
        return None
    d, out, rec, row, stdout = r
    pred = out.argmax(1)
    want = {
        "val_accuracy": float((pred == yte).mean()),
        "val_top_k": top_k_accuracy_score(yte, out, k=2, labels=range(4)),
        "val_precision": precision_score(yte, pred, average=avg, zero_division=0),
        "val_recall": recall_score(yte, pred, average=avg, zero_division=0),
        "val_f1": f1_score(yte, pred, average=avg, zero_division=0),
        "val_auc": roc_auc_score(yte, softmax(out), multi_class="ovr", average="macro"),
    }
    for key, w in want.items():
        g = rec.get(key)
        print(f"{name}: {key} dlspec {g} sklearn {w:.9f} diff {abs(g - w) if g is not None else 'n/a'}")
        check(close(g, w), f"{name}: metrics.jsonl {key} = sklearn's")
        check(row.get(key) not in (None, "") and close(float(row[key]), w, 1e-5), f"{name}: metrics.csv {key} = sklearn's")
        if key != "val_accuracy":
            check(f"  {key} {w:.4f}" in stdout, f"{name}: the progress line shows {key} {w:.4f}")
    cm = confusion_matrix(yte, pred, labels=range(4))
    with open(os.path.join(d, "ck", "confusion.csv")) as f:
        lines = list(csv.reader(f))
    got = np.array([[int(v) for v in line[1:]] for line in lines[1:]])
    print(f"{name}: confusion.csv\n{got}\nsklearn\n{cm}")
    check(got.shape == cm.shape and (got == cm).all(), f"{name}: confusion.csv = sklearn's confusion_matrix")
    check(not any(n.startswith(".tmp-") for n in os.listdir(os.path.join(d, "ck"))), f"{name}: no temporary left beside it")
    eval_metrics(d, name, want, cm, mpi)
    return rec


def softmax(out):
    e = np.exp(out.astype(np.float64) - out.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


BINARY = """dlspec 1
dataset d {
  train = npy("xtr.npy", "ytr.npy")
  test  = npy("xte.npy", "yte.npy")
  sample x: f32[6]
  label y: class<2>
}
pipeline train_input from d.train {
  shuffle(buffer: all)
  batch(8)
}
pipeline test_input from d.test {
  batch(8)
}
network Net(x: f32[N, 6]) -> logits[N, LOGITS] {
  return x |> dense(8) |> tanh |> dense(LOGITS)
}
train bin {
  model      = Net on cpu
  data       = train_input
  loss       = LOSS(model.out, y)
  optimizer  = sgd(lr: 0.05)
  epochs     = 2
  seed       = 3
  checkpoint = "ck" every 1 epoch keep 1
  validate   = test_input every 1 epoch metrics [loss, accuracy, auc]
}
"""


def binary(dlspec, work, logits):
    """Binary ROC AUC: two logits under cross_entropy (the score of class 1), or one logit under bce_with_logits."""
    rng = np.random.default_rng(12)
    ytr, yte = rng.integers(0, 2, 160), rng.integers(0, 2, 59)
    xtr = (rng.normal(size=(160, 6)) + 0.8 * ytr[:, None]).astype(np.float32)
    xte = (rng.normal(size=(59, 6)) + 0.8 * yte[:, None]).astype(np.float32)
    spec = BINARY.replace("LOGITS", str(logits)).replace("LOSS", "cross_entropy" if logits == 2 else "bce_with_logits")
    name = f"auc_binary_{logits}"
    r = build_and_train(dlspec, work, name, spec, xtr, ytr.astype(np.int64), xte, yte.astype(np.int64))
    if r is None:
        return
    d, out, rec, row, stdout = r
    w = roc_auc_score(yte, softmax(out)[:, 1] if logits == 2 else out[:, 0])
    g = rec.get("val_auc")
    print(f"{name}: val_auc dlspec {g} sklearn {w:.9f} diff {abs(g - w) if g is not None else 'n/a'}")
    check(close(g, w), f"{name}: metrics.jsonl val_auc = sklearn's roc_auc_score")
    check(f"  val_auc {w:.4f}" in stdout, f"{name}: the progress line shows val_auc {w:.4f}")


TWO_HEADS = """dlspec 1
dataset d {
  train = npy("xtr.npy", "ytr.npy")
  test  = npy("xte.npy", "yte.npy")
  sample x: f32[6]
  label y: class<4>
}
pipeline train_input from d.train {
  shuffle(buffer: all)
  batch(8)
}
pipeline test_input from d.test {
  batch(8)
}
network Net(x: f32[N, 6]) -> (cls: logits[N, 4], recon: f32[N, 6]) {
  h = x |> dense(8) |> tanh
  return (cls: h |> dense(4), recon: h |> dense(6))
}
train two {
  model      = Net on cpu
  data       = train_input
  loss       = 1.0 * cross_entropy(model.cls, y) + 0.5 * mse(model.recon, x)
  optimizer  = sgd(lr: 0.05)
  epochs     = 2
  seed       = 3
  checkpoint = "ck" every 1 epoch keep 1
  validate   = test_input every 1 epoch metrics [loss, accuracy]
}
"""


def two_heads(dlspec, work):
    """A network with two outputs: validation reports each term's loss and its output's metrics under the output's
    name, the step's loss is their weighted sum, and `predict` prints both outputs (the reconstruction's values give
    the mae and rmse numpy computes against the samples)."""
    rng = np.random.default_rng(13)
    centers = rng.normal(size=(4, 6)) * 1.2
    ytr, yte = rng.integers(0, 4, 160), rng.integers(0, 4, 61)
    xtr = (centers[ytr] + rng.normal(size=(160, 6))).astype(np.float32)
    xte = (centers[yte] + rng.normal(size=(61, 6))).astype(np.float32)
    r = build_and_train(dlspec, work, "two_heads", TWO_HEADS, xtr, ytr.astype(np.int64), xte, yte.astype(np.int64))
    if r is None:
        return
    d, out, rec, row, stdout = r
    for key in ("val_cls_loss", "val_cls_acc", "val_recon_loss", "val_recon_mae", "val_recon_rmse"):
        check(key in rec and math.isfinite(rec[key]), f"two_heads: metrics.jsonl has {key} ({sorted(rec)})")
        check(key in stdout, f"two_heads: the progress line shows {key}")
    if not all(k in rec for k in ("val_cls_loss", "val_recon_loss", "val_cls_acc", "val_recon_mae")):
        return
    check(close(rec["val_loss"], rec["val_cls_loss"] + 0.5 * rec["val_recon_loss"], 1e-5),
          f"two_heads: val_loss {rec['val_loss']} = val_cls_loss + 0.5 val_recon_loss")
    pred = out.argmax(1)
    check(close(rec["val_cls_acc"], float((pred == yte).mean())) and close(rec["val_accuracy"], rec["val_cls_acc"]),
          f"two_heads: val_cls_acc {rec['val_cls_acc']} = the class head's accuracy")
    p = run(["./prog", "predict", "xte.npy", "--checkpoint", "ck", "--threads", "1"], d)
    check(p.returncode == 0, f"two_heads: predict {p.stdout[-400:]}{p.stderr[-400:]}")
    recon = []
    for line in p.stdout.splitlines():
        if "recon:" in line:
            recon.append([float(v) for v in line.split("recon:")[1].split()])
    check(len(recon) == len(yte) and all(len(v) == 6 for v in recon), f"two_heads: predict prints recon for every sample")
    if len(recon) == len(yte):
        rv = np.array(recon)
        mae, rmse = float(np.abs(rv - xte).mean()), float(np.sqrt(((rv - xte) ** 2).mean()))
        print(f"two_heads: val_recon_mae dlspec {rec['val_recon_mae']} numpy {mae:.7f}; val_recon_rmse {rec['val_recon_rmse']} numpy {rmse:.7f}")
        check(close(rec["val_recon_mae"], mae, 1e-5), "two_heads: val_recon_mae = numpy's from predict's outputs")
        check(close(rec["val_recon_rmse"], rmse, 1e-5), "two_heads: val_recon_rmse = numpy's from predict's outputs")


def eval_metrics(d, name, want, cm=None, mpi=0):
    """`./prog eval` on the final checkpoint prints every metric of the validate clause (the test split is the one
    training validated on), as sklearn computes them, and writes the confusion matrix where training writes it."""
    if mpi:
        return
    if cm is not None:
        os.remove(os.path.join(d, "ck", "confusion.csv"))
    e = run(["./prog", "eval", "--threads", "1"], d)
    check(e.returncode == 0, f"{name}: eval {e.stdout[-400:]}{e.stderr[-400:]}")
    print(f"{name}: eval printed: {e.stdout.strip()}")
    for key, w in want.items():
        shown = f"  accuracy {100 * w:.2f}%" if key == "val_accuracy" else f"  {key[4:]} {w:.4f}"
        check(shown in e.stdout, f"{name}: eval prints{shown} (sklearn's)")
    if cm is not None:
        with open(os.path.join(d, "ck", "confusion.csv")) as f:
            lines = list(csv.reader(f))
        got = np.array([[int(v) for v in line[1:]] for line in lines[1:]])
        check(got.shape == cm.shape and (got == cm).all(), f"{name}: eval writes confusion.csv = sklearn's confusion_matrix")


def regression(dlspec, work):
    rng = np.random.default_rng(5)
    w = rng.normal(size=(6, 2))
    xtr, xte = rng.normal(size=(160, 6)).astype(np.float32), rng.normal(size=(53, 6)).astype(np.float32)
    ytr = (np.tanh(xtr @ w) + 0.1 * rng.normal(size=(160, 2))).astype(np.float32)
    yte = (np.tanh(xte @ w) + 0.1 * rng.normal(size=(53, 2))).astype(np.float32)
    r = build_and_train(dlspec, work, "reg", REGRESSION, xtr, ytr, xte, yte)
    if r is None:
        return
    d, out, rec, row, stdout = r
    want = {"val_mae": mean_absolute_error(yte, out), "val_rmse": math.sqrt(mean_squared_error(yte, out)),
            "val_r2": r2_score(yte, out)}
    for key, w in want.items():
        g = rec.get(key)
        print(f"reg: {key} dlspec {g} sklearn {w:.9f} diff {abs(g - w) if g is not None else 'n/a'}")
        check(close(g, w, 1e-5), f"reg: metrics.jsonl {key} = sklearn's")
        check(row.get(key) not in (None, "") and close(float(row[key]), w, 1e-5), f"reg: metrics.csv {key} = sklearn's")
        check(f"  {key} {w:.4f}" in stdout, f"reg: the progress line shows {key} {w:.4f}")
    eval_metrics(d, "reg", want)


def regression_default(dlspec, work):
    """Without a metrics clause a regression reports its loss and the regression metrics."""
    rng = np.random.default_rng(6)
    x = rng.normal(size=(40, 6)).astype(np.float32)
    y = rng.normal(size=(40, 2)).astype(np.float32)
    spec = REGRESSION.replace(" metrics [loss, mae, rmse, r2]", "")
    r = build_and_train(dlspec, work, "reg_default", spec, x, y, x[:17], y[:17])
    if r is None:
        return
    rec = r[2]
    check(all(k in rec and math.isfinite(rec[k]) for k in ("val_loss", "val_mae", "val_rmse", "val_r2")),
          f"reg_default: val_mae, val_rmse and val_r2 reported without a metrics clause {sorted(rec)}")


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    dlspec, work = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    one = classifier(dlspec, work, "macro")
    classifier(dlspec, work, "micro")
    regression(dlspec, work)
    regression_default(dlspec, work)
    binary(dlspec, work, 2)
    binary(dlspec, work, 1)
    two_heads(dlspec, work)
    if shutil.which("mpirun") and one is not None:
        two = classifier(dlspec, work, "macro", mpi=2)
        if two is not None:
            for key in ("val_loss", "val_accuracy", "val_top_k", "val_precision", "val_recall", "val_f1", "val_auc"):
                check(close(two[key], one[key], 1e-5), f"2 ranks: {key} {two[key]} = one process's {one[key]}")
    print("PASS" if not failures else f"FAIL ({len(failures)})")
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
