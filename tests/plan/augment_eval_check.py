#!/usr/bin/python3
"""Augmentations are off in evaluation, and training with them is a function of the seed.

A small image classifier is trained for 2 epochs with every augmentation in its training pipeline (random_rotation,
random_affine, color_jitter, gaussian_noise, random_erasing, and mixup or cutmix, whose soft labels make the loss
take class probabilities). Then:
  - `eval` and `predict` of its checkpoint print the same figures and outputs from the program built from that spec
    and from the same spec without the augmentations (whose loss takes class indices);
  - a second training with the same seed reproduces the first's losses exactly, one with another seed does not;
  - the training losses differ from those of the spec without augmentations (the steps are applied).

usage: augment_eval_check.py DLSPEC WORKDIR
"""
import json, os, re, shutil, subprocess, sys
import numpy as np

FAILURES = []


def check(cond, what):
    if not cond:
        FAILURES.append(what)
        print("FAIL", what)


def run(args, cwd):
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, OMP_NUM_THREADS="1"))


SPEC = """dlspec 1
dataset d {{
  train = npy("xtr.npy", "ytr.npy")
  test  = npy("xte.npy", "yte.npy")
  sample x: f32[3, 8, 8]
  label y: class<4>
}}
pipeline train_input from d.train {{
{augment}
  shuffle(buffer: all)
  batch(8)
}}
pipeline test_input from d.test {{
  batch(8)
}}
network Net(x: f32[N, 3, 8, 8]) -> logits[N, 4] {{
  return x |> conv2d(4, 3, pad: 1) |> relu |> flatten |> dense(4)
}}
train cls {{
  model      = Net on cpu
  data       = train_input
  loss       = cross_entropy(model.out, y, label_smoothing: 0.05)
  optimizer  = sgd(lr: 0.05)
  epochs     = 2
  seed       = {seed}
  checkpoint = "ck" every 1 epoch keep 1
  validate   = test_input every 1 epoch metrics [loss, accuracy]
}}
"""

AUGMENT = """  augment random_rotation(20, fill: 0.5)
  augment random_affine(10, translate: [0.1, 0.1], scale: [0.9, 1.1], shear: 5)
  augment color_jitter(0.3, 0.3, 0.3, 0.05)
  augment gaussian_noise(0.05)
  augment random_erasing(0.5)
  augment {mix}"""


def prepare(dlspec, d, spec, data):
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    for f, a in data.items():
        np.save(os.path.join(d, f + ".npy"), a)
    open(os.path.join(d, "spec.dls"), "w").write(spec)
    c = run([dlspec, "check", "spec.dls"], d)
    check(c.returncode == 0, f"{d}: check {c.stdout[-800:]}{c.stderr[-400:]}")
    b = run([dlspec, "build", "spec.dls", "-o", "prog"], d)
    check(b.returncode == 0, f"{d}: build {b.stdout[-800:]}{b.stderr[-400:]}")
    return b.returncode == 0


def train(d):
    t = run(["./prog", "train", "--threads", "1"], d)
    check(t.returncode == 0, f"{d}: train {t.stdout[-800:]}{t.stderr[-800:]}")
    return [json.loads(line)["train_loss"] for line in open(os.path.join(d, "ck", "metrics.jsonl"))] if t.returncode == 0 else None


def figures(d, ck):
    e = run(["./prog", "eval", "--checkpoint", ck, "--threads", "1"], d)
    check(e.returncode == 0, f"{d}: eval {e.stdout[-800:]}{e.stderr[-400:]}")
    lines = [l for l in e.stdout.splitlines() if re.search(r"samples\s+loss", l)]
    p = run(["./prog", "predict", "xte.npy", "--checkpoint", ck, "--outputs", "out.npy", "--threads", "1"], d)
    check(p.returncode == 0, f"{d}: predict {p.stdout[-400:]}{p.stderr[-400:]}")
    return lines, np.load(os.path.join(d, "out.npy")) if p.returncode == 0 else None


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    dlspec, work = sys.argv[1], os.path.abspath(sys.argv[2])
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    rng = np.random.default_rng(0)
    data = {"xtr": rng.random((48, 3, 8, 8), dtype=np.float32), "ytr": rng.integers(0, 4, 48).astype(np.int64),
            "xte": rng.random((16, 3, 8, 8), dtype=np.float32), "yte": rng.integers(0, 4, 16).astype(np.int64)}
    plain = os.path.join(work, "plain")
    if not prepare(dlspec, plain, SPEC.format(augment="", seed=3), data):
        return 1
    plain_losses = train(plain)
    for mix in ("mixup(0.4)", "cutmix(1)"):
        name = mix.split("(")[0]
        a, a2, b = (os.path.join(work, name + s) for s in ("", "_again", "_seed4"))
        ok = prepare(dlspec, a, SPEC.format(augment=AUGMENT.format(mix=mix), seed=3), data)
        ok &= prepare(dlspec, a2, SPEC.format(augment=AUGMENT.format(mix=mix), seed=3), data)
        ok &= prepare(dlspec, b, SPEC.format(augment=AUGMENT.format(mix=mix), seed=4), data)
        if not ok:
            continue
        la, la2, lb = train(a), train(a2), train(b)
        print(f"{name}: training losses seed 3 {la}, again {la2}, seed 4 {lb}; without augmentation {plain_losses}")
        check(la is not None and la == la2, f"{name}: the same seed reproduces the training losses")
        check(la is not None and la != lb, f"{name}: another seed trains on other batches")
        check(la is not None and la != plain_losses, f"{name}: the augmentations change the training batches")
        # The augmented program's checkpoint, evaluated by both programs.
        ck = os.path.join(a, "ck")
        fa, oa = figures(a, ck)
        fp, op = figures(plain, ck)
        print(f"{name}: eval with the augmentations {fa}; without {fp}")
        check(len(fa) > 0 and fa == fp, f"{name}: eval prints the same figures with and without the augmentations")
        check(oa is not None and op is not None and np.array_equal(oa, op),
              f"{name}: predict gives the same outputs with and without the augmentations")
    print("PASS" if not FAILURES else f"FAIL ({len(FAILURES)})")
    return 0 if not FAILURES else 1


if __name__ == "__main__":
    sys.exit(main())
