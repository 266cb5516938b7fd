#!/usr/bin/env python3
"""The README's examples are what they claim: its spec is specs/lenet.dls as it is in the repository (which
`spec/examples-are-formatted` keeps in `dlspec fmt`'s layout), and the E0412 it shows is what `dlspec check`
prints for that spec with a softmax added. Usage: readme.py DLSPEC"""
import os
import subprocess
import sys
import tempfile

DLSPEC = sys.argv[1]
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
readme = open(os.path.join(ROOT, "README.md")).read()
lenet = open(os.path.join(ROOT, "specs", "lenet.dls")).read()
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


start = readme.index("## A spec\n\n```dls\n") + len("## A spec\n\n```dls\n")
block = readme[start:readme.index("```\n", start)]
check(block == lenet, "the README's spec is specs/lenet.dls")

start = readme.index("```\nerror[E0412]") + 4
shown = readme[start:readme.index("```\n", start)]
with tempfile.TemporaryDirectory() as tmp:
    bad = lenet.replace("-> logits[N, 10] {", "-> probs[N, 10] {").replace(
        "  return h |> dense(10)  // logits: no softmax, the loss applies it", "  return h |> dense(10) |> softmax")
    with open(os.path.join(tmp, "lenet.dls"), "w") as f:
        f.write(bad)
    p = subprocess.run([DLSPEC, "check", "--color=never", "lenet.dls"], cwd=tmp, capture_output=True, text=True)
    printed = p.stderr[:p.stderr.index("\n\n") + 1] if "\n\n" in p.stderr else p.stderr
    check(p.returncode == 1 and printed == shown, f"the README's E0412 is what check prints:\n{printed}")

if failures:
    print(f"{len(failures)} failed")
    sys.exit(1)
print("all passed")
