#!/usr/bin/python3
"""dlspec import onnx of attention subgraphs, against PyTorch 1.13.

1. Small torch.nn.MultiheadAttention models (batch_first): self-attention with and without biases, with a causal
   mask as a constant and as one the graph computes from the input's length (ConstantOfShape, Trilu), each
   exported by torch.onnx.export (opset 14, the batch axis dynamic), imported (the spec must call
   multi_head_attention), checked, built and run (`predict --weights --outputs`): the outputs must match torch's
   within 1e-4 relative.
2. Attention-like subgraphs that do not match: a mask other than the causal one, scores scaled by another factor
   than 1/sqrt(head width): E1112 naming the Softmax node, at its line of the graph listing, and what differs.
3. dlspec's own export of a cross-attention network (a memory of another width, then a causal self-attention):
   the program's outputs with torch's weights (`predict --weights`) match torch's; `dlspec export --weights`,
   `dlspec import onnx` of that model, built and run, gives the same outputs again.

    attention.py DLSPEC
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
TOL = 1e-4
fails = 0


def run(args, cwd=ROOT):
    p = subprocess.run(args, cwd=cwd, capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr


def bad(msg):
    global fails
    print("FAIL " + msg)
    fails += 1


def rel(a, b):
    return float(np.abs(a - b).max() / max(1e-6, np.abs(b).max()))


class Self(nn.Module):
    def __init__(self, bias=True, mask=None):
        super().__init__()
        self.a = nn.MultiheadAttention(8, 2, bias=bias, batch_first=True)
        self.mask = mask  # None, "buffer" (a constant) or "computed" (from the input's length)
        self.register_buffer("causal", torch.triu(torch.full((5, 5), float("-inf")), 1))

    def forward(self, x):
        m = None
        if self.mask == "buffer":
            m = self.causal
        elif self.mask == "computed":
            m = torch.triu(torch.full((x.shape[1], x.shape[1]), float("-inf")), 1)
        return self.a(x, x, x, attn_mask=m, need_weights=False)[0]


class OddMask(Self):
    """A mask that lets step i see steps 0..i+1: not torch's causal one."""

    def forward(self, x):
        m = torch.triu(torch.full((5, 5), float("-inf")), 2)
        return self.a(x, x, x, attn_mask=m, need_weights=False)[0]


class OddScale(nn.Module):
    """Hand-written attention whose scores are divided by 3, not by sqrt(4)."""

    def __init__(self):
        super().__init__()
        self.q, self.k, self.v, self.o = nn.Linear(8, 8), nn.Linear(8, 8), nn.Linear(8, 8), nn.Linear(8, 8)

    def forward(self, x):
        n, t, _ = x.shape
        q = self.q(x).reshape(n, t, 2, 4).transpose(1, 2)
        k = self.k(x).reshape(n, t, 2, 4).transpose(1, 2)
        v = self.v(x).reshape(n, t, 2, 4).transpose(1, 2)
        p = torch.softmax(q @ k.transpose(2, 3) / 3.0, dim=-1)
        return self.o((p @ v).transpose(1, 2).reshape(n, t, 8))


def export(model, path):
    model.eval()
    torch.onnx.export(model, (torch.randn(2, 5, 8),), path, input_names=["x"], output_names=["y"], opset_version=14,
                      dynamic_axes={"x": {0: "N"}, "y": {0: "N"}})


def imported(name, d, model, want):
    """torch -> ONNX -> dlspec import -> check -> build -> predict; compared with the torch model's outputs."""
    torch.manual_seed(3)
    with torch.no_grad():
        for p in model.parameters():  # biases away from torch's zeros, so that their layout is tested
            if p.dim() == 1:
                p.uniform_(-0.3, 0.3)
    onnx_path, dls = f"{d}/{name}.onnx", f"{d}/{name}.dls"
    export(model, onnx_path)
    rc, out = run([DLSPEC, "import", "onnx", onnx_path, "-o", dls])
    if rc != 0:
        return bad(f"{name}: import rc {rc}:\n{out}")
    spec = open(dls).read()
    for w in want:
        if w not in spec:
            return bad(f"{name}: `{w}` is not in the imported spec:\n{spec}")
    rc, out = run([DLSPEC, "check", dls])
    if rc != 0 or "error[" in out:
        return bad(f"{name}: check of the imported spec:\n{spec}\n{out}")
    rc, out = run([DLSPEC, "build", dls, "-o", f"{d}/{name}"])
    if rc != 0:
        return bad(f"{name}: build:\n{out}")
    x = np.random.default_rng(5).normal(size=(7, 5, 8)).astype(np.float32)
    np.save(f"{d}/{name}_x.npy", x)
    rc, out = run([f"{d}/{name}", "predict", f"{d}/{name}_x.npy", "--weights", f"{d}/{name}.weights", "--outputs",
                   f"{d}/{name}_y.npy"], cwd=d)
    if rc != 0:
        return bad(f"{name}: predict:\n{out}")
    ours = np.load(f"{d}/{name}_y.npy")
    model.train()  # no dropout: the same outputs, without torch 1.13's inference fast path (it fails without biases)
    with torch.no_grad():
        theirs = model(torch.from_numpy(x)).numpy()
    e = rel(ours, theirs) if ours.shape == theirs.shape else float("inf")
    if not e <= TOL:
        return bad(f"{name}: outputs {ours.shape} vs torch's {theirs.shape}, max relative difference {e:.2e}")
    print(f"ok   {name}: imported as {', '.join(want)}; 7 samples' outputs {ours.shape} match torch 1.13 "
          f"(max relative difference {e:.1e})")


def refused(name, d, model, code, *patterns):
    onnx_path = f"{d}/{name}.onnx"
    export(model, onnx_path)
    rc, out = run([DLSPEC, "import", "onnx", onnx_path])
    missing = [p for p in (f"error[{code}]",) + patterns if p not in out]
    if rc != 1 or missing:
        return bad(f"{name}: want rc 1 and {code} {patterns}, got rc {rc}:\n{out}")
    print(f"ok   {name}: {code} {' '.join(patterns)}")


SPEC = """dlspec 1

dataset synthetic {
  train = npy("x.npy", "y.npy")
  sample seq:    f32[6, 8]
  label  target: f32[6, 8]
}

pipeline input from synthetic.train {
  batch(4)
}

network WideMemory(x: f32[N, 6, 8]) -> f32[N, 6, 8] {
  m = x |> slice(1, 0, 4) |> dense(5) |> tanh
  a = cross_attention(x, m, heads: 2, dim: 8)
  h = x + a
  return h |> multi_head_attention(heads: 4, dim: 8, causal: true)
}

train wide_memory {
  model     = WideMemory on cpu
  data      = input
  loss      = mse(model.out, target)
  optimizer = sgd(lr: 0.01)
  epochs    = 1
}
"""


class WideMemory(nn.Module):
    """SPEC's network in torch.nn."""

    def __init__(self):
        super().__init__()
        self.mem = nn.Linear(8, 5)
        self.a1 = nn.MultiheadAttention(8, 2, batch_first=True, kdim=5, vdim=5)
        self.a2 = nn.MultiheadAttention(8, 4, batch_first=True)

    def forward(self, x):
        m = torch.tanh(self.mem(x[:, 0:4]))
        h = x + self.a1(x, m, m, need_weights=False)[0]
        mask = torch.triu(torch.full((6, 6), float("-inf")), 1)
        return self.a2(h, h, h, attn_mask=mask, need_weights=False)[0]


def round_trip(d):
    torch.manual_seed(4)
    model = WideMemory().eval()
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() == 1:
                p.uniform_(-0.3, 0.3)
    names = {"dense_1.weight": model.mem.weight, "dense_1.bias": model.mem.bias}
    for k, a in (("cross_attention_1", model.a1), ("multi_head_attention_1", model.a2)):
        for n in ("in_proj_weight", "q_proj_weight", "k_proj_weight", "v_proj_weight", "in_proj_bias"):
            if getattr(a, n) is not None:
                names[f"{k}.{n}"] = getattr(a, n)
        names[f"{k}.out_proj.weight"], names[f"{k}.out_proj.bias"] = a.out_proj.weight, a.out_proj.bias
    os.makedirs(f"{d}/w", exist_ok=True)
    for n, t in names.items():
        np.save(f"{d}/w/{n}.npy", t.detach().numpy().astype(np.float32))
    with open(f"{d}/wide.dls", "w") as f:
        f.write(SPEC)
    x = np.random.default_rng(6).normal(size=(5, 6, 8)).astype(np.float32)
    np.save(f"{d}/x.npy", x)
    np.save(f"{d}/y.npy", x)
    rc, out = run([DLSPEC, "build", f"{d}/wide.dls", "-o", f"{d}/wide"])
    if rc != 0:
        return bad(f"round trip: build:\n{out}")
    rc, out = run([f"{d}/wide", "predict", f"{d}/x.npy", "--weights", f"{d}/w", "--outputs", f"{d}/ref.npy"], cwd=d)
    if rc != 0:
        return bad(f"round trip: predict:\n{out}")
    ref = np.load(f"{d}/ref.npy")
    with torch.no_grad():
        theirs = model(torch.from_numpy(x)).numpy()
    e = rel(ref, theirs)
    if not e <= TOL:
        return bad(f"round trip: the program's outputs with torch's weights differ from torch's by {e:.2e}")
    print(f"ok   round trip: the spec's outputs with torch's weights (kdim 5) match torch 1.13 ({e:.1e})")
    rc, out = run([DLSPEC, "export", f"{d}/wide.dls", "--weights", f"{d}/w", "-o", f"{d}/wide.onnx"])
    if rc != 0:
        return bad(f"round trip: export:\n{out}")
    rc, out = run([DLSPEC, "import", "onnx", f"{d}/wide.onnx", "-o", f"{d}/re.dls"])
    if rc != 0:
        return bad(f"round trip: import of dlspec's export:\n{out}")
    spec = open(f"{d}/re.dls").read()
    for w in ("cross_attention(", "heads: 2, dim: 8", "multi_head_attention(heads: 4, dim: 8, causal: true)"):
        if w not in spec:
            return bad(f"round trip: `{w}` is not in the re-imported spec:\n{spec}")
    rc, out = run([DLSPEC, "build", f"{d}/re.dls", "-o", f"{d}/re"])
    if rc != 0:
        return bad(f"round trip: build of the re-imported spec:\n{spec}\n{out}")
    rc, out = run([f"{d}/re", "predict", f"{d}/x.npy", "--weights", f"{d}/re.weights", "--outputs", f"{d}/re.npy"], cwd=d)
    if rc != 0:
        return bad(f"round trip: predict of the re-imported spec:\n{out}")
    e = rel(np.load(f"{d}/re.npy"), ref)
    if not e <= TOL:
        return bad(f"round trip: the re-imported model's outputs differ from the program's by {e:.2e}")
    print(f"ok   round trip: export -> import -> build -> predict matches the program ({e:.1e})")


def main():
    global DLSPEC
    DLSPEC = os.path.abspath(sys.argv[1])
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as d:
        imported("self_attention", d, Self(), ["multi_head_attention(heads: 2, dim: 8)"])
        imported("self_attention_no_bias", d, Self(bias=False), ["multi_head_attention(heads: 2, dim: 8, bias: false)"])
        imported("self_attention_causal", d, Self(mask="buffer"), ["multi_head_attention(heads: 2, dim: 8, causal: true)"])
        imported("self_attention_causal_computed", d, Self(mask="computed"),
                 ["multi_head_attention(heads: 2, dim: 8, causal: true)"])
        refused("odd_mask", d, OddMask(), "E1112", "node `/a/Softmax` (Softmax)", "other than torch's causal",
                "odd_mask.onnx:")
        refused("odd_scale", d, OddScale(), "E1112", "node `/Softmax` (Softmax)", "scaled by 0.3333", "odd_scale.onnx:")
        round_trip(d)
    print("FAIL" if fails else "PASS")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
