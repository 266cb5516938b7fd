#!/usr/bin/python3
"""Shape computations in an imported ONNX graph, against PyTorch.

torchvision's channel shuffle (`x.size()` -> a rank-5 view -> transpose -> view back) computes its Reshape's
target with Shape, Gather, Unsqueeze and Concat. The import evaluates such subgraphs on the static shapes (the
batch passing through as the symbol N) and expresses the rank-5 shuffle at rank 4. Checked here:
  - a small network with torchvision's channel_shuffle, exported with a fixed batch and with a symbolic one:
    imported, checked, built, run by `predict` against torch (max |a - b| / max |b| below 1e-4);
  - shape computations that depend on the data, or compute with the batch, are E1120 at the node;
  - a rank-5 reshape that no transpose brings back to rank 4 is E1112.

    shape_subgraphs.py DLSPEC
"""
import os
import re
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper
from torchvision.models.shufflenetv2 import channel_shuffle

FAILS = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        FAILS.append(what)


def run(args):
    p = subprocess.run(args, capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr


class Shuffle(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(3, 12, 3, padding=1)
        self.bn = torch.nn.BatchNorm2d(12)
        self.conv2 = torch.nn.Conv2d(12, 8, 1)
        self.fc = torch.nn.Linear(8, 5)

    def forward(self, x):
        h = torch.relu(self.bn(self.conv1(x)))
        h = channel_shuffle(h, 3)
        h = torch.relu(self.conv2(h))
        return self.fc(h.mean(dim=(2, 3)))


def roundtrip(dlspec, d, name, dynamic):
    torch.manual_seed(1)
    m = Shuffle().eval()
    with torch.no_grad():
        m.bn.running_mean.uniform_(-0.2, 0.2)
        m.bn.running_var.uniform_(0.5, 1.5)
    x = torch.randn(4, 3, 6, 6)
    with torch.no_grad():
        ref = m(x).numpy()
    path = f"{d}/{name}.onnx"
    torch.onnx.export(m, x, path, opset_version=13, input_names=["x"], output_names=["y"],
                      training=torch.onnx.TrainingMode.PRESERVE,
                      dynamic_axes={"x": {0: "N"}, "y": {0: "N"}} if dynamic else None)
    ops = {n.op_type for n in onnx.load(path).graph.node}
    # With a fixed batch torch's tracer writes the targets as constants; with a symbolic one it computes them.
    want = {"Shape", "Gather", "Transpose"} if dynamic else {"Transpose"}
    check(want <= ops, f"{name}: the exported graph has {sorted(want)} ({sorted(ops)})")
    rc, out = run([dlspec, "import", "onnx", path, "-o", f"{d}/{name}.dls"])
    check(rc == 0, f"{name}: imports ({out.strip()[:300]})")
    if rc != 0:
        return
    spec = open(f"{d}/{name}.dls").read()
    check("transpose([0, 2, 1, 3])" in spec, f"{name}: the shuffle is a rank-4 transpose in the spec")
    rc, out = run([dlspec, "check", f"{d}/{name}.dls"])
    check(rc == 0, f"{name}: dlspec check passes ({out.strip()[:300]})")
    rc, out = run([dlspec, "build", f"{d}/{name}.dls", "-o", f"{d}/{name}"])
    check(rc == 0, f"{name}: builds ({out.strip()[-300:]})")
    if rc != 0:
        return
    np.save(f"{d}/{name}_x.npy", x.numpy())
    rc, out = run([f"{d}/{name}", "predict", f"{d}/{name}_x.npy", "--weights", f"{d}/{name}.weights", "--outputs", f"{d}/{name}_y.npy"])
    check(rc == 0, f"{name}: predict runs ({out.strip()[:300]})")
    if rc != 0:
        return
    y = np.load(f"{d}/{name}_y.npy")
    rel = float(np.abs(y - ref).max() / np.abs(ref).max())
    print(f"     {name}: forward max rel. diff {rel:.1e}")
    check(rel < 1e-4, f"{name}: the forward output matches torch")


def const(name, vals):
    return helper.make_node("Constant", [], [name], value=helper.make_tensor(name, TensorProto.INT64, [len(vals)], vals))


def refused(dlspec, d, name, nodes, code, node_name, words, out):
    g = helper.make_graph(nodes, name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4, 2, 2])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, out)])
    path = f"{d}/{name}.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), path)
    rc, out = run([dlspec, "import", "onnx", path, "-o", f"{d}/{name}.dls"])
    m = re.search(rf"error\[{code}\]: node `{re.escape(node_name)}`[^\n]*", out)
    check(rc != 0 and m is not None and all(w in m.group(0) for w in words) and not os.path.exists(f"{d}/{name}.dls"),
          f"{name}: {code} at node `{node_name}` ({out.strip().splitlines()[0] if out.strip() else 'no output'})")


def main():
    dlspec = sys.argv[1]
    with tempfile.TemporaryDirectory() as d:
        roundtrip(dlspec, d, "shuffle_fixed", dynamic=False)
        roundtrip(dlspec, d, "shuffle_symbolic", dynamic=True)
        # A reshape whose target is computed from the data: the largest value of x as a size.
        refused(dlspec, d, "from_data", [
            helper.make_node("ReduceMax", ["x"], ["m"], name="max", keepdims=0),
            helper.make_node("Cast", ["m"], ["mi"], name="cast", to=TensorProto.INT64),
            const("c0", [0]), const("c1", [-1]),
            helper.make_node("Reshape", ["mi", "c1"], ["m1"], name="as_vector"),
            helper.make_node("Concat", ["c0", "m1", "c1"], ["target"], name="target", axis=0),
            helper.make_node("Reshape", ["x", "target"], ["y"], name="reshape")], "E1120", "target", ["computed from the data"], ["N", "a", "b"])
        # A target that multiplies the batch: [2 N, 8].
        refused(dlspec, d, "batch_times", [
            helper.make_node("Shape", ["x"], ["s"], name="shape"),
            const("i0", [0]), const("two", [2]), const("eight", [8]),
            helper.make_node("Gather", ["s", "i0"], ["n"], name="batch", axis=0),
            helper.make_node("Mul", ["n", "two"], ["n2"], name="twice"),
            helper.make_node("Concat", ["n2", "eight"], ["target"], name="target", axis=0),
            helper.make_node("Reshape", ["x", "target"], ["y"], name="reshape")], "E1120", "twice", ["with the batch N"], ["M", 8])
        # A rank-5 reshape that stays rank 5.
        refused(dlspec, d, "rank5", [
            const("target", [0, 2, 2, 2, 2]),
            helper.make_node("Reshape", ["x", "target"], ["r"], name="reshape5"),
            helper.make_node("Relu", ["r"], ["y"], name="relu")], "E1112", "reshape5", ["rank-5"], ["N", 2, 2, 2, 2])
    print(f"{len(FAILS)} failed")
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
