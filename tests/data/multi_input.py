#!/usr/bin/env python3
"""Networks with several inputs, end to end: a data set with two sample fields (an image and three measurements, each
from its own .npy file) feeds a network by its inputs' names. Specs are checked and built; one compiled training step
with two inputs is compared with PyTorch (loss and every gradient within 1e-4 relative); a tiny run trains, `eval`
scores it, and `predict --input img=… --input meta=…` gives the outputs NumPy computes from the exported weights and
the training split's statistics (`meta |> standardize`); the same weights through a network that declares its inputs
in the other order give the same outputs. Files of another record count or shape, and missing or unknown `--input`s,
are refused with their codes, and so are the spec mistakes (E0139-E0142, E0636, E0638). A network with two outputs keeps the best
checkpoint by one output's validation metric (val_cls_acc, val_recon_loss) and stops early on one.
Usage: multi_input.py DLSPEC"""
import json
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


def run(args, cwd, timeout=600):
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def build(tmp, name, spec):
    path = os.path.join(tmp, name + ".dls")
    open(path, "w").write(spec)
    c = run([DLSPEC, "check", path], tmp)
    if c.returncode != 0:
        return None, f"check: {c.stdout[-800:]}{c.stderr[-800:]}"
    exe = os.path.join(tmp, name)
    b = run([DLSPEC, "build", path, "-o", exe], tmp)
    if b.returncode != 0:
        return None, f"build: {b.stdout[-800:]}{b.stderr[-800:]}"
    return exe, ""


def refused(tmp, name, spec, code):
    path = os.path.join(tmp, name + ".dls")
    open(path, "w").write(spec)
    c = run([DLSPEC, "check", path], tmp)
    text = c.stdout + c.stderr
    check(c.returncode != 0 and f"[{code}]" in text, f"{name}: refused with {code}" + ("" if f"[{code}]" in text else f": {text[-800:]}"))


def make_data(tmp, rng):
    """Four classes: bit 1 from the image's brightness, bit 0 from the first measurement's sign. The measurements
    have very different units, which standardize evens out."""
    for split, n in (("train", 512), ("test", 128)):
        img = rng.integers(0, 256, size=(n, 8, 8)).astype(np.uint8)
        bright = rng.random(n) < 0.5
        img[bright] = np.clip(img[bright].astype(np.int64) + 90, 0, 255).astype(np.uint8)
        img[~bright] = (img[~bright] * 0.6).astype(np.uint8)
        meta = rng.normal(size=(n, 3)).astype(np.float32) * np.array([1.0, 100.0, 0.01], np.float32)
        meta[:, 2] += 5.0
        y = (bright.astype(np.int64) * 2 + (meta[:, 0] > 0).astype(np.int64))
        np.save(os.path.join(tmp, f"{split}-img.npy"), img)
        np.save(os.path.join(tmp, f"{split}-meta.npy"), meta)
        np.save(os.path.join(tmp, f"{split}-y.npy"), y)


DATA = """dlspec 1
dataset d {{
  train = npy(img: "train-img.npy", meta: "{train_meta}", kind: "train-y.npy")
  test  = npy(img: "test-img.npy", meta: "test-meta.npy", kind: "test-y.npy")
  sample img:  u8[8, 8]
  sample meta: f32[3]
  label  kind: class<4>
}}
pipeline train_input from d.train {{
  img  = img |> to_f32 |> scale(1/255) |> reshape([64])
  meta = meta |> standardize
  shuffle(buffer: all)
  batch(32)
}}
pipeline test_input from d.test {{
  img  = img |> to_f32 |> scale(1/255) |> reshape([64])
  meta = meta |> standardize
  batch(32)
}}
"""

NET = """
network M(img: f32[N, 64], meta: f32[N, 3]) -> logits[N, 4] {
  h = img |> dense(16) |> relu
  m = meta |> dense(8) |> relu
  return concat(h, m, axis: 1) |> dense(4)
}
"""

# The same layers, its inputs declared in the other order (the layers keep their names: dense_1 reads img).
NET_SWAPPED = """
network M(meta: f32[N, 3], img: f32[N, 64]) -> logits[N, 4] {
  h = img |> dense(16) |> relu
  m = meta |> dense(8) |> relu
  return concat(h, m, axis: 1) |> dense(4)
}
"""

TRAIN = """
train t {{
  model      = M on cpu
  data       = train_input
  loss       = cross_entropy(model.out, kind)
  optimizer  = adam(lr: 0.01)
  epochs     = {epochs}
  validate   = test_input every 1 epoch metrics [accuracy, loss]
  checkpoint = "runs/t" every 1 epoch keep 1
  seed       = 1
}}
"""


def spec(net=NET, epochs=15, train_meta="train-meta.npy"):
    return DATA.format(train_meta=train_meta) + net + TRAIN.format(epochs=epochs)


def forward(w, img, meta):
    relu = lambda v: np.maximum(v, 0)
    h = relu(img @ w["dense_1.weight"].T + w["dense_1.bias"])
    m = relu(meta @ w["dense_2.weight"].T + w["dense_2.bias"])
    return np.concatenate([h, m], axis=1) @ w["dense_3.weight"].T + w["dense_3.bias"]


def lsp_hover(tmp):
    """The language server's hovers: the data set's and the pipeline's fields, the network's inputs with theirs."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lsp"))
    from lspclient import Client
    path = os.path.join(tmp, "t.dls")
    text = open(path).read()
    uri = "file://" + path
    c = Client(DLSPEC, "--debounce-ms=50")
    try:
        c.call("initialize", {"processId": None, "rootUri": None, "capabilities": {}})
        c.notify("initialized")
        c.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "dlspec", "version": 1, "text": text}})
        c.diagnostics(uri, 1)

        def hover(needle, delta):
            before = text[:text.index(needle) + delta]
            at = {"line": before.count("\n"), "character": len(before) - (before.rfind("\n") + 1)}
            h = c.call("textDocument/hover", {"textDocument": {"uri": uri}, "position": at})
            return (h or {}).get("contents", {}).get("value", "")
        ds, net, pipe = hover("dataset d", 8), hover("network M", 8), hover("pipeline train_input", 9)
        check("sample `img: " in ds and "sample `meta: " in ds, f"hover on the data set lists both sample fields: {ds!r}")
        check("sample `meta: " in pipe, f"hover on the pipeline lists both fields: {pipe!r}")
        check("`img` ← `d.img`" in net and "`meta` ← `d.meta`" in net, f"hover on the network lists each input's field: {net!r}")
        c.call("shutdown")
        c.notify("exit")
        c.finish()
    except Exception as e:  # a failed exchange is a failed check, not a crash of the whole test
        check(False, f"language server session: {e}")


def step_against_torch(tmp, exe):
    """One compiled step (forward and backward, no update) on a batch of two inputs against PyTorch 1.13."""
    import torch
    torch.manual_seed(0)
    rng = np.random.default_rng(5)
    w = {"dense_1.weight": rng.normal(size=(16, 64)) * 0.2, "dense_1.bias": rng.normal(size=16) * 0.1,
         "dense_2.weight": rng.normal(size=(8, 3)) * 0.5, "dense_2.bias": rng.normal(size=8) * 0.1,
         "dense_3.weight": rng.normal(size=(4, 24)) * 0.3, "dense_3.bias": rng.normal(size=4) * 0.1}
    wdir = os.path.join(tmp, "step.weights")
    os.makedirs(wdir, exist_ok=True)
    for k, v in w.items():
        np.save(os.path.join(wdir, k + ".npy"), v.astype(np.float32))
    x = rng.random((32, 64)).astype(np.float32)
    m = rng.normal(size=(32, 3)).astype(np.float32)
    y = rng.integers(0, 4, size=32).astype(np.int64)
    for name, a in (("x", x), ("m", m), ("y", y)):
        np.save(os.path.join(tmp, f"step-{name}.npy"), a)
    out = os.path.join(tmp, "step.out")
    r = run([exe, "step-check", "--weights", wdir, "--batch", "step-x.npy", "step-y.npy", "--input", "meta=step-m.npy",
             "--out", out, "--threads", "1"], tmp)
    check(r.returncode == 0, "step-check with two inputs runs" + ("" if r.returncode == 0 else f": {r.stdout[-600:]}{r.stderr[-600:]}"))
    if r.returncode != 0:
        return
    t = {k: torch.tensor(v.astype(np.float32), requires_grad=True) for k, v in w.items()}
    h = torch.relu(torch.tensor(x) @ t["dense_1.weight"].T + t["dense_1.bias"])
    mm = torch.relu(torch.tensor(m) @ t["dense_2.weight"].T + t["dense_2.bias"])
    logits = torch.cat([h, mm], dim=1) @ t["dense_3.weight"].T + t["dense_3.bias"]
    loss = torch.nn.functional.cross_entropy(logits, torch.tensor(y))
    loss.backward()
    worst = abs(float(np.load(os.path.join(out, "loss.npy"))) - loss.item()) / max(abs(loss.item()), 1e-12)
    for k in w:
        g = np.load(os.path.join(out, k + ".grad.npy"))
        ref = t[k].grad.numpy()
        worst = max(worst, float(np.abs(g - ref).max() / max(np.abs(ref).max(), 1e-12)))
    print(f"     compiled step with two inputs against PyTorch: largest relative difference {worst:.3g}")
    check(worst < 1e-4, f"compiled step with two inputs matches PyTorch 1.13 within 1e-4 ({worst:.3g})")
    # Without the second field's batch it is refused.
    r = run([exe, "step-check", "--weights", wdir, "--batch", "step-x.npy", "step-y.npy", "--out", out], tmp)
    check(r.returncode != 0 and "R0256" in r.stdout + r.stderr, "step-check without --input meta=… is R0256")


def main():
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        make_data(tmp, rng)
        exe, why = build(tmp, "t", spec())
        check(exe is not None, "two-input spec checks and builds" + ("" if exe else f": {why}"))
        if exe is None:
            return
        s = run([DLSPEC, "summary", os.path.join(tmp, "t.dls")], tmp)
        check("inputs: img: f32[N, 64] <- d.img, meta: f32[N, 3] <- d.meta" in s.stdout,
              "summary lists each input with its field" + ("" if "<- d.meta" in s.stdout else f": {s.stdout[-600:]}"))
        g = run([DLSPEC, "graph", os.path.join(tmp, "t.dls")], tmp)
        check("<- d.img" in g.stdout and "<- d.meta" in g.stdout, "graph labels each input with its field")
        lsp_hover(tmp)
        step_against_torch(tmp, exe)

        r = run([exe, "train", "--threads", "1"], tmp)
        check(r.returncode == 0, "tiny run with two NPY inputs trains" + ("" if r.returncode == 0 else f": {r.stdout[-800:]}{r.stderr[-800:]}"))
        e = run([exe, "eval", "--threads", "1"], tmp)
        acc = None
        for tok in e.stdout.split("accuracy")[1:2]:
            acc = float(tok.split("%")[0])
        print("     " + e.stdout.strip().splitlines()[-1] if e.stdout.strip() else "     (eval printed nothing)")
        check(acc is not None and acc >= 90.0, f"eval on the test split: accuracy {acc}% (>= 90%: both fields are used)")

        # predict with one file per input, against NumPy from the exported weights and the training statistics.
        x = run([exe, "export", "--npz", "w.npz", "--threads", "1"], tmp)
        check(x.returncode == 0, "export --npz" + ("" if x.returncode == 0 else f": {x.stdout[-600:]}{x.stderr[-600:]}"))
        p = run([exe, "predict", "--input", "img=test-img.npy", "--input", "meta=test-meta.npy", "--outputs", "out.npy",
                 "--threads", "1"], tmp)
        check(p.returncode == 0, "predict --input img=… --input meta=…" + ("" if p.returncode == 0 else f": {p.stdout[-600:]}{p.stderr[-600:]}"))
        if x.returncode == 0 and p.returncode == 0:
            w = dict(np.load(os.path.join(tmp, "w.npz")))
            train_meta = np.load(os.path.join(tmp, "train-meta.npy")).astype(np.float64)
            mean, std = train_meta.mean(axis=0), train_meta.std(axis=0)
            img = np.load(os.path.join(tmp, "test-img.npy")).reshape(128, 64).astype(np.float64) / 255
            meta = (np.load(os.path.join(tmp, "test-meta.npy")) - mean) / std
            want = forward(w, img, meta)
            got = np.load(os.path.join(tmp, "out.npy"))
            err = float(np.abs(got - want).max())
            check(got.shape == want.shape and err < 1e-3, f"predict's outputs are NumPy's from both fields (max error {err:.2g})")
            # The same weights through a network that declares its inputs in the other order.
            exe2, why = build(tmp, "swapped", spec(net=NET_SWAPPED))
            check(exe2 is not None, "inputs declared in another order check and build" + ("" if exe2 else f": {why}"))
            if exe2:
                wdir = os.path.join(tmp, "w")
                os.makedirs(wdir, exist_ok=True)
                for k, v in w.items():
                    np.save(os.path.join(wdir, k + ".npy"), v)
                p2 = run([exe2, "predict", "--input", "meta=test-meta.npy", "--input", "img=test-img.npy", "--weights", wdir,
                          "--outputs", "out2.npy", "--threads", "1"], tmp)
                same = p2.returncode == 0 and np.allclose(np.load(os.path.join(tmp, "out2.npy")), got, atol=1e-5)
                check(same, "inputs are bound by name, not by position" + ("" if same else f": {p2.stdout[-600:]}{p2.stderr[-600:]}"))
        plain = run([exe, "predict", "--input", "img=test-img.npy", "--input", "meta=test-meta.npy", "--threads", "1"], tmp)
        check(plain.returncode == 0 and len(plain.stdout.strip().splitlines()) == 128, "predict prints one class per sample")
        p = run([exe, "predict", "test-img.npy", "--input", "meta=test-meta.npy", "--outputs", "out3.npy"], tmp)
        check(p.returncode == 0 and np.allclose(np.load(os.path.join(tmp, "out3.npy")), np.load(os.path.join(tmp, "out.npy"))),
              "predict FILE --input meta=… (FILE: the first field's)")

        # Refusals at run time.
        np.save(os.path.join(tmp, "short-meta.npy"), np.load(os.path.join(tmp, "test-meta.npy"))[:100])
        np.save(os.path.join(tmp, "wide-meta.npy"), np.zeros((128, 5), np.float32))
        np.save(os.path.join(tmp, "int-meta.npy"), np.zeros((128, 3), np.int32))
        for args, code, what in (
                (["--input", "img=test-img.npy"], "R0256", "a field without its file"),
                (["--input", "img=test-img.npy", "--input", "meta=test-meta.npy", "--input", "extra=test-meta.npy"], "R0256",
                 "an --input that names no field"),
                (["--input", "img=test-img.npy", "--input", "meta=short-meta.npy"], "R0255", "a field file of fewer records"),
                (["--input", "img=test-img.npy", "--input", "meta=wide-meta.npy"], "R0205", "a field file of another shape"),
                (["--input", "img=test-img.npy", "--input", "meta=int-meta.npy"], "R0216", "a field file of another type")):
            r = run([exe, "predict", *args], tmp)
            text = r.stdout + r.stderr
            check(r.returncode != 0 and code in text, f"predict with {what}: {code}" + ("" if code in text else f": {text[-400:]}"))
        np.save(os.path.join(tmp, "train-short-meta.npy"), np.load(os.path.join(tmp, "train-meta.npy"))[:500])
        exe3, why = build(tmp, "short", spec(epochs=1, train_meta="train-short-meta.npy"))
        if exe3 is None:
            check(False, f"a spec with a short field file builds: {why}")
        else:
            r = run([exe3, "train"], tmp)
            text = r.stdout + r.stderr
            check(r.returncode != 0 and "R0255" in text, "training on a field file of fewer records: R0255" + ("" if "R0255" in text else f": {text[-400:]}"))

        # Spec mistakes, each with its code.
        refused(tmp, "misnamed", spec(net=NET.replace("meta: f32[N, 3]", "extra: f32[N, 3]").replace("m = meta", "m = extra")), "E0140")
        refused(tmp, "wrong_shape", spec(net=NET.replace("meta: f32[N, 3]", "meta: f32[N, 4]")), "E0141")
        refused(tmp, "wrong_type", spec(net=NET.replace("meta: f32[N, 3]", "meta: i32[N, 3]")), "E0141")
        refused(tmp, "no_file", spec().replace('meta: "test-meta.npy", ', ""), "E0142")
        refused(tmp, "augmented", spec().replace("  shuffle(buffer: all)", "  augment gaussian_noise(0.1)\n  shuffle(buffer: all)"), "E0636")
        refused(tmp, "csv_fields", spec().replace('npy(img: "train-img.npy", meta: "train-meta.npy", kind: "train-y.npy")',
                                                  'csv("train.csv", label: -1)'), "E0638")
        one_field = spec().replace("  sample meta: f32[3]\n", "").replace('meta: "train-meta.npy", ', "").replace(
            'meta: "test-meta.npy", ', "").replace("  meta = meta |> standardize\n", "")
        refused(tmp, "one_field", one_field, "E0139")

        # ONNX: one graph input per network input.
        try:
            import onnx
            o = run([DLSPEC, "export", os.path.join(tmp, "t.dls"), "--checkpoint", os.path.join(tmp, "runs", "t"), "-o", "t.onnx"], tmp)
            if o.returncode == 0:
                model = onnx.load(os.path.join(tmp, "t.onnx"))
                names = [i.name for i in model.graph.input if i.name not in {t.name for t in model.graph.initializer}]
                check(names == ["img", "meta"], f"ONNX export has the inputs img and meta ({names})")
            else:
                check(False, f"dlspec export of a two-input network: {o.stdout[-400:]}{o.stderr[-400:]}")
        except ImportError:
            print("     (no onnx module: the ONNX export is not checked)")

        best_and_stop(tmp)


HEADS = """
network H(img: f32[N, 64], meta: f32[N, 3]) -> (cls: logits[N, 4], recon: f32[N, 64]) {{
  h = concat(img |> dense(16) |> relu, meta |> dense(8) |> relu, axis: 1)
  return (cls: h |> dense(4), recon: h |> dense(64))
}}

train b {{
  model      = H on cpu
  data       = train_input
  loss       = 1.0*cross_entropy(model.cls, kind) + 0.5*mse(model.recon, img)
  optimizer  = sgd(lr: {lr}, momentum: 0.9)
  epochs     = {epochs}
  validate   = test_input every 1 epoch metrics [accuracy, loss]
  checkpoint = "runs/{run}" every 1 epoch keep 1 best by {metric}
  seed       = 3{stop}
}}
"""


def metrics(tmp, run_name):
    return [json.loads(l) for l in open(os.path.join(tmp, "runs", run_name, "metrics.jsonl")) if l.strip()]


def best_and_stop(tmp):
    """keep 1 best by val_cls_acc / val_recon_loss: best.dlsc is the epoch with the best value of that output's metric;
    early stopping on val_cls_acc stops where the metric's history says."""
    for metric, key, better in (("val_cls_acc", "cls_acc", max), ("val_recon_loss", "recon_loss", min)):
        run_name = "b_" + key
        exe, why = build(tmp, run_name, DATA.format(train_meta="train-meta.npy") +
                         HEADS.format(lr=0.3, epochs=8, run=run_name, metric=metric, stop=""))
        check(exe is not None, f"keep 1 best by {metric} checks and builds" + ("" if exe else f": {why}"))
        if exe is None:
            continue
        r = run([exe, "train", "--threads", "1"], tmp)
        check(r.returncode == 0, f"{run_name} trains" + ("" if r.returncode == 0 else f": {r.stdout[-600:]}{r.stderr[-600:]}"))
        if r.returncode != 0:
            continue
        hist = [m[metric] for m in metrics(tmp, run_name)]
        best_epoch = hist.index(better(hist)) + 1
        e = run([exe, "eval", "--checkpoint", os.path.join("runs", run_name, "best.dlsc"), "--threads", "1"], tmp)
        value = None
        parts = e.stdout.split(f" {key} ")
        if len(parts) > 1:
            value = float(parts[1].split()[0])
        print(f"     {metric} per epoch: {[round(v, 4) for v in hist]}; best epoch {best_epoch}; best.dlsc evaluates to {value}")
        check(value is not None and abs(value - better(hist)) < 1e-4,
              f"best.dlsc is the epoch with the best {metric} ({better(hist):.4f} at epoch {best_epoch} of {len(hist)})")
        e2 = run([exe, "eval", "--threads", "1"], tmp)
        lastv = float(e2.stdout.split(f" {key} ")[1].split()[0]) if f" {key} " in e2.stdout else None
        print(f"     the newest checkpoint evaluates to {lastv}")
    # Early stopping on one output's metric.
    exe, why = build(tmp, "b_stop", DATA.format(train_meta="train-meta.npy") +
                     HEADS.format(lr=0.3, epochs=40, run="b_stop", metric="val_cls_acc",
                                  stop="\n  stop       = early(monitor: val_cls_acc, patience: 2)"))
    check(exe is not None, "early(monitor: val_cls_acc) checks and builds" + ("" if exe else f": {why}"))
    if exe is not None:
        r = run([exe, "train", "--threads", "1"], tmp)
        hist = [m["val_cls_acc"] for m in metrics(tmp, "b_stop")] if r.returncode == 0 else []
        # Where the rule stops: 2 validations in a row that do not beat the best.
        best, bad, want = None, 0, len(hist)
        for i, v in enumerate(hist):
            if best is None or v > best:
                best, bad = v, 0
            else:
                bad += 1
                if bad >= 2:
                    want = i + 1
                    break
        said = f"early stopping at epoch {want}: val_cls_acc" in r.stdout
        check(r.returncode == 0 and len(hist) == want and (said or want == 40),
              f"early stopping on val_cls_acc stops at epoch {want} ({len(hist)} epochs ran)" + ("" if said else f": {r.stdout[-400:]}"))
    # What the validation does not report is refused.
    refused(tmp, "recon_acc", DATA.format(train_meta="train-meta.npy") +
            HEADS.format(lr=0.3, epochs=2, run="x", metric="val_recon_acc", stop=""), "E0133")
    refused(tmp, "bogus_monitor", DATA.format(train_meta="train-meta.npy") +
            HEADS.format(lr=0.3, epochs=2, run="x", metric="val_loss", stop="\n  stop       = early(monitor: val_bogus_acc)"), "E0212")


main()
if failures:
    print(f"{len(failures)} failure(s)")
    sys.exit(1)
print("PASS")
