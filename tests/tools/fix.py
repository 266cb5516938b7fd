#!/usr/bin/env python3
"""`dlspec fix` and `dlspec fmt --check` on a spec with faults whose fix-its are machine-applicable (a missing
`dlspec 1` header, `gpu` for `cuda`, a bare `cuda`, a deprecated loss name) and one that is a guess (a
misspelt argument): --dry-run prints a diff and changes nothing; fix applies only the machine-applicable ones
and says what is left; a second fix changes nothing; --unsafe-fixes applies the guess; the result checks clean.
Usage: fix.py DLSPEC"""
import os
import shutil
import subprocess
import sys
import tempfile

DLSPEC = sys.argv[1]

SPEC = """dataset d {
  train = npy("x.npy", "y.npy")
  sample x: f32[4]
  label y: class<3>
}

pipeline p from d.train {
  batch(8)
}

network Net(x: f32[N, 4]) -> logits[N, 3] {
  return x |> dense(unist: 3)
}

train t {
  model     = Net on gpu
  data      = p
  loss      = softmax_cross_entropy(model.out, y)
  optimizer = sgd(lr: 0.01)
  epochs    = 1
  seed      = 1
}
"""

failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def run(*args, cwd):
    p = subprocess.run([DLSPEC, *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


with tempfile.TemporaryDirectory() as tmp:
    spec = os.path.join(tmp, "net.dls")
    with open(spec, "w") as f:
        f.write(SPEC)
    os.chmod(spec, 0o640)
    link = os.path.join(tmp, "link.dls")
    os.symlink("net.dls", link)

    rc, out, err = run("fix", "--dry-run", "net.dls", cwd=tmp)
    check(open(spec).read() == SPEC, "--dry-run leaves the file as it was")
    check(out.startswith("--- net.dls\n+++ net.dls (fixed)\n"), "--dry-run prints a unified diff")
    check("+dlspec 1" in out and "-  model     = Net on gpu" in out and "+  model     = Net on cuda:0" in out,
          "the diff has the header, and `gpu` becomes `cuda:0` in two rounds")
    check("+  loss      = cross_entropy(model.out, y)" in out, "the deprecated loss is renamed")
    check("dense(units: 3)" not in out, "the guessed fix is not applied without --unsafe-fixes")
    check("would apply 4 fixes" in err, f"--dry-run counts the fixes: {err.strip().splitlines()[-1:]}")

    rc, out, err = run("fix", "link.dls", cwd=tmp)
    text = open(spec).read()
    check(os.path.islink(link) and text.startswith("dlspec 1\n"), "fix through a link rewrites the file it names, the link stays")
    check(oct(os.stat(spec).st_mode & 0o777) == oct(0o640), "the file keeps its permissions")
    check("on cuda:0" in text and "cross_entropy(model.out, y)" in text and "softmax_cross_entropy" not in text,
          "fix applied the machine-applicable fix-its")
    check("dense(unist: 3)" in text, "fix left the guess alone")
    check(rc == 1 and "E0103" in err and "applied 4 fixes" in err and "--unsafe-fixes" in err,
          f"fix reports what is left (E0103) and how to apply it: rc {rc}, {err.strip().splitlines()[-1:]}")
    check(sorted(os.listdir(tmp)) == ["link.dls", "net.dls"], f"no temporary is left: {os.listdir(tmp)}")

    rc, out, err = run("fix", "net.dls", cwd=tmp)
    check(open(spec).read() == text and "nothing to fix" in err, "a second fix changes nothing")

    rc, out, err = run("fix", "--unsafe-fixes", "net.dls", cwd=tmp)
    text = open(spec).read()
    check("dense(units: 3)" in text and rc == 0, f"--unsafe-fixes applies the guess: rc {rc} {err.strip()[-200:]}")
    rc, out, err = run("check", "net.dls", cwd=tmp)
    check(rc == 0 and "error" not in err, f"the fixed spec checks clean of errors: {err.strip()[-300:]}")

    rc, out, err = run("fix", "--format=json", "net.dls", cwd=tmp)
    check(rc == 0 and out.lstrip().startswith("{"), "fix --format=json prints one document")

    # fmt --check prints the difference from the canonical layout.
    messy = text.replace("  model     = Net on cuda:0", "  model = Net   on cuda:0")
    with open(spec, "w") as f:
        f.write(messy)
    rc, out, err = run("fmt", "--check", "net.dls", cwd=tmp)
    check(rc == 1 and "-  model = Net   on cuda:0" in out and "+  model     = Net on cuda:0" in out and
          out.startswith("--- net.dls\n+++ net.dls (formatted)\n"), f"fmt --check prints a unified diff: {out[:300]}")
    check(open(spec).read() == messy, "fmt --check changes nothing")
    rc, out, err = run("fmt", "--check", os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../specs/mlp.dls"), cwd=tmp)
    check(rc == 0 and out == "", "fmt --check is silent on a formatted file")

    rc, out, err = run("fix", "no-such.dls", cwd=tmp)
    check(rc == 1 and "E0901" in err, "fix on a missing file is E0901")

if failures:
    print(f"{len(failures)} failed")
    sys.exit(1)
print("all passed")
