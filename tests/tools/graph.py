#!/usr/bin/env python3
"""`dlspec graph`: one nested cluster per block instance (VGG's stages hold two conv-bn-relu blocks each), the
arguments the spec gave on the nodes, DOT/SVG/PNG/PDF by the file name, nothing half-written, bad names refused.
Usage: graph.py DLSPEC SOURCE_DIR"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

DLSPEC, SRC = sys.argv[1], sys.argv[2]
VGG = os.path.join(SRC, "specs", "vgg.dls")
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def run(*args, cwd):
    return subprocess.run([DLSPEC, *args], cwd=cwd, capture_output=True, text=True, timeout=60)


with tempfile.TemporaryDirectory() as tmp:
    p = run("graph", VGG, cwd=tmp)
    dot = p.stdout
    check(p.returncode == 0 and dot.startswith("digraph"), "DOT on stdout")
    # Nesting: every stage cluster holds conv_bn_relu clusters, which hold the nodes.
    depth, max_depth, stages, inner = 0, 0, 0, 0
    for line in dot.splitlines():
        if line.strip().startswith("subgraph cluster_"):
            depth += 1
            max_depth = max(max_depth, depth)
        elif line.strip() == "}" and depth > 0:
            depth -= 1
        m = re.search(r'label="([^"]*)"', line)
        if m and line.strip().startswith("label="):
            stages += m.group(1).startswith("vgg_stage")
            inner += m.group(1).startswith("conv_bn_relu")
    check(max_depth >= 3, f"block instances nest (network > stage > block): depth {max_depth}")
    check(stages == 3 and inner == 6, f"one cluster per block instance: {stages} stages, {inner} inner blocks")
    check(re.search(r'conv2d_\d+\\nfilters: 64, kernel: \[3, 3\], pad: same', dot) is not None, "conv nodes show their filters and kernel")
    check("params" in dot, "nodes show their parameter counts")

    if shutil.which("dot"):
        for ext, magic in (("svg", b"<?xml"), ("png", b"\x89PNG"), ("pdf", b"%PDF")):
            out = os.path.join(tmp, "net." + ext)
            p = run("graph", VGG, "-o", out, cwd=tmp)
            data = open(out, "rb").read(8) if os.path.exists(out) else b""
            check(p.returncode == 0 and data.startswith(magic), f"-o net.{ext} writes {ext.upper()}: rc {p.returncode} {p.stderr[-200:]}")
    else:
        print("skip SVG/PNG/PDF: Graphviz's dot is not installed")
    p = run("graph", VGG, "-o", os.path.join(tmp, "net.gv"), cwd=tmp)
    check(p.returncode == 0 and open(os.path.join(tmp, "net.gv")).read() == dot, "-o net.gv writes the same DOT")
    p = run("graph", VGG, "-o", os.path.join(tmp, "net.jpg"), cwd=tmp)
    check(p.returncode == 2 and "E0903" in p.stderr and not os.path.exists(os.path.join(tmp, "net.jpg")),
          "an unknown extension is a usage error and writes nothing")
    p = run("graph", VGG, "-o", os.path.join(tmp, "no", "such", "dir", "net.svg"), cwd=tmp)
    check(p.returncode != 0 and "E09" in p.stderr, f"an unwritable output is reported: {p.stderr.strip()[:200]}")
    left = [f for f in os.listdir(tmp) if "dlspec-" in f]
    check(left == [], f"no temporary is left: {left}")

if failures:
    print(f"{len(failures)} failed")
    sys.exit(1)
print("all passed")
