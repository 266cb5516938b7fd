#!/usr/bin/env python3
"""What a resume continues and what it says, end to end through built programs of a network with two outputs:
1. `schedule = plateau(monitor: val_cls_acc, ...)` steps on that output's accuracy: every epoch's rate equals
   torch's ReduceLROnPlateau fed the run's own val_cls_acc values, and differs from the rates val_loss would give
   (so the history shows which metric drove it).
2. A resume whose rules watch another metric than the checkpoint's run (keep 1 best by val_cls_loss, then val_loss;
   early stopping and plateau likewise) says so with R0266 and starts that rule afresh; the same metric continues
   without a word.
3. A resume with another `accumulate`, batch size and learning rate says so in one R0308 listing each, old → new;
   one with another momentum (sgd's momentum buffer appears) is refused with R0307.
4. A format-5 checkpoint (tests/data/ckpt5/, written by the format-5 dlspec) still resumes: its early stopping,
   plateau and best-checkpoint state continue (no R0311, no R0266) and `eval` reads it.
5. A streamed .npy file cut short while the run reads it (`--load stream`, a writer truncating it during training)
   ends the run with R0265 and exit status 1, never SIGBUS; bounded by a timeout.
Usage: resume_rules.py DLSPEC [--make-fixture DIR]  (the second form writes the format-5 fixture with that dlspec)"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

DLSPEC = os.path.abspath(sys.argv[1])
HERE = os.path.dirname(os.path.abspath(__file__))
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


def run(args, cwd, timeout=600):
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def make_data(tmp):
    rng = np.random.default_rng(7)
    w = rng.normal(size=(6, 3))
    for x_name, y_name, n in (("x.npy", "y.npy", 192), ("xt.npy", "yt.npy", 64)):
        x = rng.normal(size=(n, 6)).astype(np.float32)
        y = np.argmax(x @ w + 0.8 * rng.normal(size=(n, 3)), axis=1).astype(np.int64)
        np.save(os.path.join(tmp, x_name), x)
        np.save(os.path.join(tmp, y_name), y)


SPEC = """dlspec 1

dataset pts {{
  train = npy("x.npy", "y.npy")
  test  = npy("xt.npy", "yt.npy")
  sample x: f32[6]
  label y: class<3>
}}

pipeline train_input from pts.train {{
  batch({batch})
}}

pipeline test_input from pts.test {{
  batch(16)
}}

network Two(x: f32[N, 6]) -> (cls: logits[N, 3], recon: f32[N, 6]) {{
  h = x |> dense(8) |> tanh
  return (cls: h |> dense(3), recon: h |> dense(6))
}}

train fit {{
  model      = Two on cpu
  data       = train_input
  loss       = 1.0*cross_entropy(model.cls, y) + 0.5*mse(model.recon, x)
  optimizer  = sgd(lr: {lr}, momentum: {momentum})
  epochs     = {epochs}
  validate   = test_input every 1 epoch metrics [accuracy, loss]
  checkpoint = "runs/{run}" every 1 epoch keep 2 best by {best}{extra}
  seed       = 3
}}
"""


def spec(run_name, epochs=6, best="val_cls_loss", extra="", lr=0.5, momentum=0.9, batch=16):
    return SPEC.format(run=run_name, epochs=epochs, best=best, extra=extra, lr=lr, momentum=momentum, batch=batch)


def build(tmp, name, text):
    path = os.path.join(tmp, name + ".dls")
    open(path, "w").write(text)
    c = run([DLSPEC, "check", path], tmp)
    if c.returncode != 0:
        return None, f"check: {c.stdout[-800:]}{c.stderr[-800:]}"
    exe = os.path.join(tmp, name)
    b = run([DLSPEC, "build", path, "-o", exe], tmp)
    if b.returncode != 0:
        return None, f"build: {b.stdout[-800:]}{b.stderr[-800:]}"
    return exe, ""


def metrics(tmp, run_name):
    return [json.loads(l) for l in open(os.path.join(tmp, "runs", run_name, "metrics.jsonl")) if l.strip()]


def torch_rates(values, mode, lr, **kw):
    import torch
    o = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)
    s = torch.optim.lr_scheduler.ReduceLROnPlateau(o, mode=mode, threshold_mode="abs", **kw)
    out = []
    for v in values:
        out.append(o.param_groups[0]["lr"])
        s.step(v)
    return out


PLATEAU = "\n  schedule   = plateau(monitor: {m}, factor: 0.5, patience: 0, min_delta: 0.01)"
STOP = "\n  stop       = early(monitor: {m}, patience: 50)"


def refused(tmp, name, text, code):
    path = os.path.join(tmp, name + ".dls")
    open(path, "w").write(text)
    c = run([DLSPEC, "check", path], tmp)
    out = c.stdout + c.stderr
    check(c.returncode != 0 and f"[{code}]" in out, f"{name}: refused with {code}" + ("" if f"[{code}]" in out else f": {out[-600:]}"))


def plateau_on_output(tmp):
    # The plateau's monitor is resolved as early stopping's: a name that is no metric, or one the validation does not
    # report of that output, is refused as there.
    refused(tmp, "pl_bogus", spec("x", extra=PLATEAU.format(m="val_bogus_acc")), "E0212")
    refused(tmp, "pl_recon_acc", spec("x", extra=PLATEAU.format(m="val_recon_acc")), "E0133")
    exe, why = build(tmp, "pl", spec("pl", epochs=8, extra=PLATEAU.format(m="val_cls_acc")))
    check(exe is not None, "plateau(monitor: val_cls_acc) on a network with two outputs checks and builds" + ("" if exe else f": {why}"))
    if exe is None:
        return
    r = run([exe, "train", "--threads", "1"], tmp)
    check(r.returncode == 0, "it trains" + ("" if r.returncode == 0 else f": {r.stdout[-600:]}{r.stderr[-600:]}"))
    if r.returncode != 0:
        return
    m = metrics(tmp, "pl")
    acc = [e["val_cls_acc"] for e in m]
    got = [e["lr"] for e in m]
    want = torch_rates(acc, "max", 0.5, factor=0.5, patience=0, threshold=0.01)
    by_loss = torch_rates([e["val_loss"] for e in m], "min", 0.5, factor=0.5, patience=0, threshold=0.01)
    print(f"     val_cls_acc {[round(v, 4) for v in acc]}\n     rates {got}\n     torch on val_cls_acc {want}\n"
          f"     torch on val_loss {by_loss}")
    same = len(got) == len(want) and all(abs(a - b) <= 1e-12 * max(1.0, abs(b)) for a, b in zip(got, want))
    check(same, "every epoch's rate is ReduceLROnPlateau's on the run's val_cls_acc")
    check(got != by_loss, "and not the rates val_loss would give (the history shows which metric drove it)")
    check(any(a < 0.5 for a in got), "the rate was reduced at least once")


def changed_monitor(tmp):
    # keep 2 best by val_cls_loss, then by val_loss (the same metric code, another metric): R0266, best.dlsc afresh.
    run_name = "mon"
    exe, why = build(tmp, "mon_a", spec(run_name, epochs=2, extra=STOP.format(m="val_cls_loss") + PLATEAU.format(m="val_cls_loss")))
    check(exe is not None, "a run watching val_cls_loss builds" + ("" if exe else f": {why}"))
    if exe is None:
        return
    r = run([exe, "train", "--threads", "1"], tmp)
    check(r.returncode == 0, "it trains 2 epochs" + ("" if r.returncode == 0 else f": {r.stdout[-600:]}{r.stderr[-600:]}"))
    if r.returncode != 0:
        return
    # The same monitors: everything continues without a word.
    same, why = build(tmp, "mon_same", spec(run_name, epochs=3, extra=STOP.format(m="val_cls_loss") + PLATEAU.format(m="val_cls_loss")))
    check(same is not None, "the same spec with epochs 3 builds" + ("" if same else f": {why}"))
    if same is None:
        return
    r = run([same, "train", "--resume", os.path.join("runs", run_name), "--threads", "1"], tmp)
    out = r.stdout + r.stderr
    check(r.returncode == 0 and "R0266" not in out and "R0311" not in out and "R0308" not in out,
          "a resume watching the same metrics says nothing" + ("" if r.returncode == 0 and "R02" not in out else f": {out[-800:]}"))
    # Every rule on another metric with the same code (loss): val_loss.
    other, why = build(tmp, "mon_b", spec(run_name, epochs=4, best="val_loss", extra=STOP.format(m="val_loss") + PLATEAU.format(m="val_loss")))
    check(other is not None, "the spec watching val_loss builds" + ("" if other else f": {why}"))
    if other is None:
        return
    if not os.path.exists(os.path.join(tmp, "runs", run_name, "best.dlsc")):
        check(False, "the first run wrote best.dlsc")
        return
    best_before = os.path.getmtime(os.path.join(tmp, "runs", run_name, "best.dlsc"))
    r = run([other, "train", "--resume", os.path.join("runs", run_name), "--threads", "1"], tmp)
    out = r.stdout + r.stderr
    said = [l for l in out.splitlines() if "warning[R0266]" in l]
    print("     " + "\n     ".join(said))
    check(len(said) == 3, f"three R0266 warnings, one per rule ({len(said)})")
    check(r.returncode == 0, "the resume watching val_loss trains" + ("" if r.returncode == 0 else f": {out[-800:]}"))
    if r.returncode != 0:
        return
    for state, fresh in (("the best checkpoint's value for val_cls_loss, this run watches val_loss", "the choice of best.dlsc"),
                         ("early stopping's best value and count for val_cls_loss, this run watches val_loss", "its patience count"),
                         ("the plateau schedule's rate, best value and counts for val_cls_loss, this run watches val_loss",
                          "the plateau's state")):
        check(f"warning[R0266]" in out and state in out and fresh in out, f"R0266: holds {state}: {fresh} starts afresh")
    # Started afresh: the first validation of the resumed run is the best so far, so best.dlsc is rewritten at epoch 3.
    m = metrics(tmp, run_name)
    check(os.path.getmtime(os.path.join(tmp, "runs", run_name, "best.dlsc")) > best_before and len(m) == 4,
          f"best.dlsc is rewritten after the first resumed epoch ({len(m)} epochs in metrics)")


def changed_settings(tmp):
    run_name = "set"
    exe, why = build(tmp, "set_a", spec(run_name, epochs=2))
    check(exe is not None, "a plain run builds" + ("" if exe else f": {why}"))
    if exe is None:
        return
    r = run([exe, "train", "--threads", "1"], tmp)
    check(r.returncode == 0, "it trains 2 epochs" + ("" if r.returncode == 0 else f": {r.stdout[-600:]}{r.stderr[-600:]}"))
    if r.returncode != 0:
        return
    b_text = spec(run_name, epochs=3, lr=0.25, batch=8).replace("  epochs     = 3", "  accumulate = 2 steps\n  epochs     = 3")
    b, why = build(tmp, "set_b", b_text)
    check(b is not None, "the spec with accumulate 2, batch 8, lr 0.25 builds" + ("" if b else f": {why}"))
    if b is None:
        return
    r = run([b, "train", "--resume", os.path.join("runs", run_name), "--threads", "1"], tmp)
    out = r.stdout + r.stderr
    lines = [l for l in out.splitlines() if "warning[R0308]" in l]
    print("     " + "\n     ".join(lines))
    check(r.returncode == 0 and len(lines) == 1, f"one R0308 warning ({len(lines)})")
    text = lines[0] if lines else ""
    for piece in ("lr 0.5 → 0.25", "batch size 16 → 8", "accumulate 1 step → 2 steps"):
        check(piece in text, f"R0308 lists `{piece}`")
    c, why = build(tmp, "set_c", spec(run_name, epochs=4, momentum=0))
    check(c is not None, "the spec with momentum 0 builds" + ("" if c else f": {why}"))
    if c is None:
        return
    r = run([c, "train", "--resume", os.path.join("runs", run_name), "--threads", "1"], tmp)
    out = r.stdout + r.stderr
    check(r.returncode == 1 and "error[R0307]" in out and "momentum: 0.9" in out and "momentum: 0)" in out,
          "a resume without the momentum buffer the checkpoint holds is R0307" + ("" if "R0307" in out else f": {out[-800:]}"))


FIXTURE_EXTRA = STOP.format(m="val_cls_acc") + PLATEAU.format(m="val_loss")


def make_fixture(dest):
    """Trains the fixture's run (2 epochs) with the dlspec given and keeps its newest checkpoint."""
    tmp = tempfile.mkdtemp(prefix="dls-ckpt5-")
    make_data(tmp)
    exe, why = build(tmp, "fx", spec("fx", epochs=2, extra=FIXTURE_EXTRA))
    assert exe, why
    r = run([exe, "train", "--threads", "1"], tmp)
    assert r.returncode == 0, r.stdout + r.stderr
    os.makedirs(dest, exist_ok=True)
    shutil.copy(os.path.join(tmp, "runs", "fx", "ckpt-000002.dlsc"), os.path.join(dest, "ckpt-000002.dlsc"))
    print(r.stdout)


def format5(tmp):
    src = os.path.join(HERE, "ckpt5", "ckpt-000002.dlsc")
    raw = open(src, "rb").read()
    check(raw[:8] == b"DLSCKPT\0" and int.from_bytes(raw[8:12], "little") == 5, "the fixture is a format-5 checkpoint")
    d = os.path.join(tmp, "runs", "fx")
    os.makedirs(d, exist_ok=True)
    shutil.copy(src, d)
    exe, why = build(tmp, "fx", spec("fx", epochs=3, extra=FIXTURE_EXTRA))
    check(exe is not None, "the fixture's spec builds" + ("" if exe else f": {why}"))
    if exe is None:
        return
    e = run([exe, "eval", "--checkpoint", d, "--threads", "1"], tmp)
    check(e.returncode == 0 and "loss" in e.stdout, "eval reads the format-5 checkpoint" + ("" if e.returncode == 0 else f": {e.stdout[-400:]}{e.stderr[-400:]}"))
    r = run([exe, "train", "--resume", d, "--threads", "1"], tmp)
    out = r.stdout + r.stderr
    print("     " + "\n     ".join(l for l in out.splitlines() if "epoch" in l or "warning" in l))
    check(r.returncode == 0 and "R0311" not in out and "R0266" not in out and "R0308" not in out,
          "train --resume continues it without a warning (its rules' state is there)" + ("" if r.returncode == 0 else f": {out[-800:]}"))
    check("epoch 3/3" in out and os.path.exists(os.path.join(d, "ckpt-000003.dlsc")), "from epoch 3, writing a checkpoint")
    new = open(os.path.join(d, "ckpt-000003.dlsc"), "rb").read()
    check(int.from_bytes(new[8:12], "little") == 6, "which is format 6")


def cut_short(tmp):
    """A streamed .npy file truncated while the run reads it."""
    rng = np.random.default_rng(11)
    n, f = 4096, 512  # 8 MiB of f32 samples: many pages, read per batch
    np.save(os.path.join(tmp, "bx.npy"), rng.normal(size=(n, f)).astype(np.float32))
    np.save(os.path.join(tmp, "by.npy"), rng.integers(0, 2, size=n).astype(np.int64))
    text = f"""dlspec 1

dataset big {{
  train = npy("bx.npy", "by.npy")
  sample x: f32[{f}]
  label y: class<2>
}}

pipeline big_input from big.train {{
  batch(64)
}}

network Lin(x: f32[N, {f}]) -> logits[N, 2] {{
  return x |> dense(2)
}}

train lin {{
  model      = Lin on cpu
  data       = big_input
  loss       = cross_entropy(model.out, y)
  optimizer  = sgd(lr: 0.01)
  epochs     = 100000
  checkpoint = "runs/lin" every 1000 epochs
}}
"""
    exe, why = build(tmp, "lin", text)
    check(exe is not None, "the streamed spec builds" + ("" if exe else f": {why}"))
    if exe is None:
        return
    codes = set()
    for attempt in range(3):
        np.save(os.path.join(tmp, "bx.npy"), rng.normal(size=(n, f)).astype(np.float32))
        p = subprocess.Popen([exe, "train", "--load", "stream", "--threads", "2", "--overwrite"], cwd=tmp,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        time.sleep(1.0 + attempt)
        os.truncate(os.path.join(tmp, "bx.npy"), 4096 + 128 * attempt)  # a few pages left: the rest are gone
        try:
            out, _ = p.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            p.kill()
            out, _ = p.communicate()
            check(False, "the run ends after its file is cut short (timed out after 60 s)")
            return
        codes.add(p.returncode)
        print(f"     attempt {attempt + 1}: exit status {p.returncode}; " + " | ".join(l for l in out.splitlines() if "R0265" in l)[:300])
        check(p.returncode == 1 and "error[R0265]" in out and "bx.npy" in out,
              f"attempt {attempt + 1}: R0265 naming bx.npy, exit status 1 (not SIGBUS: {p.returncode})")


def main():
    if len(sys.argv) > 3 and sys.argv[2] == "--make-fixture":
        make_fixture(sys.argv[3])
        return
    with tempfile.TemporaryDirectory(prefix="dls-resume-") as tmp:
        make_data(tmp)
        plateau_on_output(tmp)
        changed_monitor(tmp)
        changed_settings(tmp)
        format5(tmp)
        cut_short(tmp)


main()
if failures:
    print(f"{len(failures)} failure(s)")
    sys.exit(1)
print("PASS")
