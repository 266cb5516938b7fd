#!/usr/bin/python3
"""A transformer's layer_norm and gelu in an imported ONNX graph, against PyTorch.

Before opset 17 (LayerNormalization) torch exports nn.LayerNorm over the last axis as ReduceMean, Sub, Pow,
ReduceMean, Add (eps), Sqrt, Div, Mul (weight), Add (bias), and nn.GELU as Div (sqrt 2), Erf, Add (1), Mul (x),
Mul (0.5). The import reads the nine nodes as one `layer_norm` with its weight and bias, and the five as one
`gelu`. Checked here:
  - a network over [N, T, F] (a dense layer per step, two layer norms, one with eps 1e-6, as a vision
    transformer's, and a gelu between), exported at opset 13 with a symbolic batch: imported, the spec has the
    two layer_norm calls and the gelu, checked, built, run by `predict` against torch (max |a - b| / max |b|
    below 1e-4);
  - the same nodes over another axis than the last are not a layer norm: E1112 at the first ReduceMean.

    transformer_parts.py DLSPEC
"""
import re
import subprocess
import sys
import tempfile

import numpy as np
import torch

FAILS = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        FAILS.append(what)


def run(args):
    p = subprocess.run(args, capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(8, 16)
        self.ln1 = torch.nn.LayerNorm(16)
        self.ln2 = torch.nn.LayerNorm(16, eps=1e-6)
        self.fc2 = torch.nn.Linear(5 * 16, 4)

    def forward(self, x):
        h = self.ln2(torch.nn.functional.gelu(self.ln1(self.fc1(x))))
        return self.fc2(h.flatten(1))


class OtherAxis(torch.nn.Module):
    def forward(self, x):
        m = x.mean(dim=1, keepdim=True)
        d = x - m
        return d / torch.sqrt((d ** 2).mean(dim=1, keepdim=True) + 1e-5)


def main():
    dlspec = sys.argv[1]
    with tempfile.TemporaryDirectory() as d:
        torch.manual_seed(2)
        m = Net().eval()
        with torch.no_grad():
            for ln in (m.ln1, m.ln2):
                ln.weight.uniform_(0.5, 1.5)
                ln.bias.uniform_(-0.5, 0.5)
        x = torch.randn(3, 5, 8)
        with torch.no_grad():
            ref = m(x).numpy()
        torch.onnx.export(m, x, f"{d}/ln.onnx", opset_version=13, input_names=["x"], output_names=["y"],
                          dynamic_axes={"x": {0: "N"}, "y": {0: "N"}})
        rc, out = run([dlspec, "import", "onnx", f"{d}/ln.onnx", "-o", f"{d}/ln.dls"])
        check(rc == 0, f"imports ({out.strip()[:300]})")
        if rc == 0:
            spec = open(f"{d}/ln.dls").read()
            calls = re.findall(r"\|>\s*layer_norm\b(\([^)]*\))?", spec)
            check(calls == ["", "(eps: 1e-06)"], f"the spec has two layer_norm calls, the second with eps 1e-06 ({calls})")
            check(re.search(r"\|> gelu\b", spec) is not None, "the spec has the gelu")
            rc, out = run([dlspec, "check", f"{d}/ln.dls"])
            check(rc == 0, f"dlspec check passes ({out.strip()[:300]})")
            rc, out = run([dlspec, "build", f"{d}/ln.dls", "-o", f"{d}/ln"])
            check(rc == 0, f"builds ({out.strip()[-300:]})")
            np.save(f"{d}/x.npy", x.numpy())
            rc, out = run([f"{d}/ln", "predict", f"{d}/x.npy", "--weights", f"{d}/ln.weights", "--outputs", f"{d}/y.npy"])
            check(rc == 0, f"predict runs ({out.strip()[:300]})")
            if rc == 0:
                y = np.load(f"{d}/y.npy")
                rel = float(np.abs(y - ref).max() / np.abs(ref).max())
                print(f"     forward max rel. diff {rel:.1e}")
                check(rel < 1e-4, "the forward output matches torch")
        torch.onnx.export(OtherAxis().eval(), torch.randn(3, 5, 8), f"{d}/axis.onnx", opset_version=13, input_names=["x"],
                          output_names=["y"], dynamic_axes={"x": {0: "N"}, "y": {0: "N"}})
        rc, out = run([dlspec, "import", "onnx", f"{d}/axis.onnx", "-o", f"{d}/axis.dls"])
        m = re.search(r"error\[E1112\]: node `[^`]*ReduceMean[^`]*` \(ReduceMean\)[^\n]*", out)
        check(rc != 0 and m is not None, f"a normalisation over axis 1 is E1112 at its ReduceMean ({m.group(0) if m else out.strip()[:200]})")
    print(f"{len(FAILS)} failed")
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
