#!/usr/bin/python3
"""ONNX's backend conformance tests (Debian's libonnx-testdata) through dlspec: import -> check -> build ->
predict on the test's input, compared with its expected output at the suite's tolerances (rtol 1e-3,
atol 1e-7, as onnx.backend.test's runner).

    conformance.py DLSPEC [--suite node,pytorch-converted,pytorch-operator] [--only FILE] [--filter REGEX]
                   [--markdown] [--write-passing FILE] > run.log
    conformance.py --table run.log     # the per-op Markdown table of docs/onnx-validation.md

A test is `unsupported` when the import or `dlspec check` reports a diagnostic (the first one is its
reason: an op dlspec lacks, an attribute it cannot express, a graph with two inputs …), `failed` when the
program builds but does not run or computes other values, `passed` otherwise. --only runs the tests listed
in FILE (one `suite/test` a line) and fails unless every one passes: the regression set.
"""
import argparse
import collections
import glob
import os
import re
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import numpy_helper

DATA = "/usr/include/onnx/backend/test/data"
RTOL, ATOL = 1e-3, 1e-7


def first_error(text):
    for line in text.splitlines():
        m = re.match(r"error\[(\w+)\]: (.*)", line)
        if m:
            return f"{m.group(1)}: {m.group(2)}"
    lines = text.strip().splitlines()
    return lines[0] if lines else "failed"


def run(args):
    p = subprocess.run(args, capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr


def ops_of(model_path):
    m = onnx.load(model_path)
    return sorted({n.op_type for n in m.graph.node}) or ["(none)"]


def one(dlspec, suite, test, d):
    path = f"{DATA}/{suite}/{test}/model.onnx"
    sets = sorted(glob.glob(f"{DATA}/{suite}/{test}/test_data_set_*"))
    dls = f"{d}/{test}.dls"
    rc, out = run([dlspec, "import", "onnx", path, "-o", dls])
    if rc != 0:
        return "unsupported", first_error(out)
    rc, out = run([dlspec, "check", dls])
    if rc != 0:
        return "unsupported", first_error(out)
    rc, out = run([dlspec, "build", dls, "-o", f"{d}/{test}"])
    if rc != 0:
        return "failed", "build: " + first_error(out)
    if not sets:
        return "failed", "no test data"
    worst = 0.0
    for s in sets:
        ins = sorted(glob.glob(f"{s}/input_*.pb"))
        outs = sorted(glob.glob(f"{s}/output_*.pb"))
        x = numpy_helper.to_array(onnx.load_tensor(ins[0])).astype(np.float32)
        want = numpy_helper.to_array(onnx.load_tensor(outs[0]))
        np.save(f"{d}/x.npy", x)
        rc, out = run([f"{d}/{test}", "predict", f"{d}/x.npy", "--weights", f"{d}/{test}.weights",
                       "--outputs", f"{d}/y.npy"])
        if rc != 0:
            return "failed", "predict: " + first_error(out)
        got = np.load(f"{d}/y.npy")
        if got.shape != want.shape:
            return "failed", f"output shape {list(got.shape)}, expected {list(want.shape)}"
        if not np.allclose(got, want, rtol=RTOL, atol=ATOL):
            err = np.abs(got - want).max()
            return "failed", f"max abs difference {err:.3g} (rtol {RTOL}, atol {ATOL})"
        worst = max(worst, float(np.abs(got - want).max()))
    return "passed", f"max abs difference {worst:.1e}"


def print_tables(rows):
    per = collections.defaultdict(collections.Counter)
    reasons = collections.defaultdict(collections.Counter)
    for suite, test, ops, status, why in rows:
        key = "+".join(ops) if len(ops) <= 3 else f"{len(ops)} ops"
        per[key][status] += 1
        if status != "passed":
            why = re.sub(r"(node|input|output) `[^`]*`", r"\1 `…`", why)
            reasons[key][why if len(why) <= 150 else why[:149] + "…"] += 1
    total = collections.Counter(status for *_, status, _ in rows)
    suites = collections.Counter(suite for suite, *_ in rows)
    print(f"{len(rows)} tests ({', '.join(f'{k} {v}' for k, v in sorted(suites.items()))}): {total['passed']} passed, "
          f"{total['failed']} failed, {total['unsupported']} unsupported\n")
    print("| ops of the test | passed | failed | unsupported | most common reason |")
    print("|---|---|---|---|---|")
    for key in sorted(per):
        c = per[key]
        if not c["passed"] and not c["failed"] and not a_all:
            continue
        why = reasons[key].most_common(1)[0][0].replace("|", "/") if reasons[key] else ""
        print(f"| {key} | {c['passed']} | {c['failed']} | {c['unsupported']} | {why} |")
    rest = sorted(k for k, c in per.items() if not c["passed"] and not c["failed"])
    if rest and not a_all:
        print(f"\nOnly unsupported ({len(rest)} op sets): " + ", ".join(rest))


a_all = False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dlspec", nargs="?")
    ap.add_argument("--table", default="", help="print the Markdown tables of a run's log and exit")
    ap.add_argument("--suite", default="node,pytorch-converted,pytorch-operator")
    ap.add_argument("--filter", default="")
    ap.add_argument("--only", default="")
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--write-passing", default="")
    a = ap.parse_args()
    if a.only:
        tests = [tuple(l.strip().split("/", 1)) for l in open(a.only) if l.strip() and not l.startswith("#")]
    else:
        tests = [(s, t) for s in a.suite.split(",") for t in sorted(os.listdir(f"{DATA}/{s}"))
                 if re.search(a.filter, t)]
    rows = []
    if a.table:
        for line in open(a.table):
            m = re.match(r"(passed|failed|unsupported) +(\S+?)/(\S+) \[([^\]]*)\]: (.*)", line)
            if m:
                rows.append((m.group(2), m.group(3), m.group(4).split(), m.group(1), m.group(5)))
        print_tables(rows)
        return 0
    with tempfile.TemporaryDirectory() as d:
        for suite, test in tests:
            status, why = one(a.dlspec, suite, test, d)
            ops = ops_of(f"{DATA}/{suite}/{test}/model.onnx")
            rows.append((suite, test, ops, status, why))
            if not a.markdown:
                print(f"{status:11s} {suite}/{test} [{' '.join(ops)}]: {why}", flush=True)
    if a.write_passing:
        with open(a.write_passing, "w") as f:
            f.write("# ONNX backend tests dlspec passes (tests/onnx/conformance.py --write-passing); the regression set\n")
            for suite, test, _, status, _ in rows:
                if status == "passed":
                    f.write(f"{suite}/{test}\n")
    if a.markdown:
        print_tables(rows)
    bad = [f"{s}/{t}" for s, t, _, status, _ in rows if status != "passed"] if a.only else []
    for b in bad:
        print(f"FAIL {b}: in the regression set but not passing", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
