#!/usr/bin/python3
"""torchvision 0.14's architectures through `dlspec import onnx`, compared with PyTorch.

Each model is built randomly initialised (seeded; batch norms get random running statistics so that a wrong
mapping of them shows), exported to ONNX at opset 13 into a temporary directory (no model file is kept),
imported, checked, built, and compared with PyTorch:
  params   trainable parameters: dlspec summary's total against sum(p.numel()) of the module
  shapes   the output shape of every layer with parameters (conv, dense, batch norm), in execution order:
           dlspec summary's layers against forward hooks on the torch.nn modules
  forward  the outputs of one batch: the built program (`predict --weights --outputs`, eval mode) against
           the module in eval mode, max |a - b| / max |b| below 1e-4
A model that does not import shows the first diagnostic: the ONNX node and op dlspec lacks. The blocks the
import makes of repeated module instances are recorded (`blocks`: each block's number of calls) and checked
for the models of BLOCK_CALLS.

    torchvision_table.py DLSPEC [--models a,b] [--size S] [--markdown] > rows.jsonl
    torchvision_table.py --table rows.jsonl      # the Markdown table of docs/onnx-validation.md
Exit status 1 when a model that imports differs from PyTorch (or a model expected to import does not:
--expect a,b).
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import torchvision

MODELS = ["resnet18", "resnet50", "mobilenet_v2", "mobilenet_v3_small", "densenet121", "squeezenet1_1",
          "shufflenet_v2_x1_0", "efficientnet_b0", "vgg16", "vit_b_16"]
WITH_PARAMS = (torch.nn.Conv2d, torch.nn.Linear, torch.nn.BatchNorm2d, torch.nn.LayerNorm, torch.nn.ConvTranspose2d)
BATCH = 2
# The blocks the import makes of repeated module instances: the number of calls of each block, in order
# (resnet18: the BasicBlock without a downsample, layer1.0 to layer4.1 but the first of layers 2-4, and the one
# with it).
BLOCK_CALLS = {"resnet18": [5, 3]}
# A model that does not import stops at its first node dlspec lacks; what would stop it after that node shows in
# one of its repeated modules exported alone (`probe`: that module's first diagnostic, or that it imports): a
# vision transformer's first encoder block, over [batch, patches + 1, 768].
PROBES = {"vit_b_16": ("encoder.layers.encoder_layer_0", lambda size: torch.randn(BATCH, (size // 16) ** 2 + 1, 768))}


def first_error(text):
    for line in text.splitlines():
        m = re.match(r"error\[(\w+)\]: (.*)", line)
        if m:
            return f"{m.group(1)}: {m.group(2)}"
    return text.strip().splitlines()[-1] if text.strip() else "failed"


def run(args, **kw):
    p = subprocess.run(args, capture_output=True, text=True, **kw)
    return p.returncode, p.stdout, p.stderr


def one(dlspec, name, size, d):
    row = {"model": name, "input": f"{BATCH}x3x{size}x{size}"}
    torch.manual_seed(0)
    m = getattr(torchvision.models, name)(weights=None, **({"image_size": size} if name == "vit_b_16" else {}))
    with torch.no_grad():
        for b in m.modules():
            if isinstance(b, torch.nn.BatchNorm2d):
                b.running_mean.uniform_(-0.1, 0.1)
                b.running_var.uniform_(0.5, 1.5)
    m.eval()
    row["torch_params"] = sum(p.numel() for p in m.parameters() if p.requires_grad)
    x = torch.randn(BATCH, 3, size, size)
    shapes = []
    hooks = [mod.register_forward_hook(lambda _m, _i, o: shapes.append(list(o.shape[1:])))
             for mod in m.modules() if isinstance(mod, WITH_PARAMS)]
    with torch.no_grad():
        ref = m(x).numpy()
    for h in hooks:
        h.remove()
    path = f"{d}/{name}.onnx"
    # PRESERVE: eval mode without torch's conv + batch norm fusion (the batch norms stay layers, as in torch)
    torch.onnx.export(m, x, path, opset_version=13, input_names=["x"], output_names=["y"],
                      training=torch.onnx.TrainingMode.PRESERVE)
    t0 = time.time()
    rc, out, err = run([dlspec, "import", "onnx", path, "-o", f"{d}/{name}.dls"])
    if rc != 0:
        row["status"] = "does not import"
        row["reason"] = first_error(err)
        if name in PROBES:
            row["probe"] = probe(dlspec, m, name, size, d)
        return row
    spec = open(f"{d}/{name}.dls").read()
    row["blocks"] = {b: len(re.findall(rf"\|> {b}\(", spec)) for b in re.findall(r"^block (\w+)\(", spec, re.M)}
    rc, out, err = run([dlspec, "check", f"{d}/{name}.dls"])
    if rc != 0:
        row["status"] = "imports, check fails"
        row["reason"] = first_error(err)
        return row
    rc, out, err = run([dlspec, "summary", "--format=json", f"{d}/{name}.dls"])
    summ = json.loads(out)
    net = summ["networks"][0] if "networks" in summ else summ
    layers = net["layers"]
    row["dlspec_params"] = int(net["total_params"])
    ours = [l for l in layers if l.get("op") in ("conv2d", "dense", "batch_norm", "layer_norm", "conv_transpose2d")]
    row["layers"] = len(ours)
    got = [[int(v) for v in re.findall(r"\d+", l["output"])] for l in ours]
    row["shapes_equal"] = got == shapes
    if not row["shapes_equal"]:
        for i, (a, b) in enumerate(zip(got, shapes)):
            if a != b:
                row["reason"] = f"layer {i} ({ours[i]['layer']}): {a} vs torch {b}"
                break
        else:
            row["reason"] = f"{len(got)} layers with parameters, torch {len(shapes)}"
    rc, out, err = run([dlspec, "build", f"{d}/{name}.dls", "-o", f"{d}/{name}"])
    if rc != 0:
        row["status"] = "imports, build fails"
        row["reason"] = first_error(err)
        return row
    np.save(f"{d}/{name}_x.npy", x.numpy())
    rc, out, err = run([f"{d}/{name}", "predict", f"{d}/{name}_x.npy", "--weights", f"{d}/{name}.weights",
                        "--outputs", f"{d}/{name}_y.npy"])
    if rc != 0:
        row["status"] = "imports, predict fails"
        row["reason"] = (err or out).strip().splitlines()[0]
        return row
    y = np.load(f"{d}/{name}_y.npy")
    row["forward_rel"] = float(np.abs(y - ref).max() / max(1e-12, np.abs(ref).max()))
    row["seconds"] = round(time.time() - t0, 1)
    ok = row["shapes_equal"] and row["dlspec_params"] == row["torch_params"] and row["forward_rel"] < 1e-4
    row["status"] = "matches PyTorch" if ok else "differs from PyTorch"
    return row


def probe(dlspec, m, name, size, d):
    """The first diagnostic of one repeated module of `m`, exported alone (PROBES)."""
    path, make = PROBES[name]
    sub = m.get_submodule(path)
    torch.onnx.export(sub, make(size), f"{d}/{name}_probe.onnx", opset_version=13, input_names=["x"], output_names=["y"],
                      training=torch.onnx.TrainingMode.PRESERVE)
    rc, out, err = run([dlspec, "import", "onnx", f"{d}/{name}_probe.onnx", "-o", f"{d}/{name}_probe.dls"])
    return f"`{path}` alone: " + ("imports" if rc == 0 else first_error(err))


def markdown(rows):
    out = ["| model | input | status | params (dlspec / torch) | layers with parameters: shapes | forward, max rel. diff | reason |",
           "|---|---|---|---|---|---|---|"]
    for r in rows:
        params = f"{r['dlspec_params']:,} / {r['torch_params']:,}" if "dlspec_params" in r else f"– / {r['torch_params']:,}"
        shapes = (f"{r['layers']}: {'equal' if r['shapes_equal'] else 'differ'}") if "layers" in r else "–"
        fwd = f"{r['forward_rel']:.1e}" if "forward_rel" in r else "–"
        out.append(f"| {r['model']} | {r['input']} | {r['status']} | {params} | {shapes} | {fwd} | "
                   f"{(r.get('reason', '') + ('; then ' + r['probe'] if 'probe' in r else '')).replace('|', '/')} |")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dlspec", nargs="?")
    ap.add_argument("--table", default="", help="print the Markdown table of a JSON-lines run and exit")
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--expect", default="", help="models that must import and match PyTorch")
    ap.add_argument("--markdown", action="store_true")
    a = ap.parse_args()
    if a.table:
        print(markdown([json.loads(l) for l in open(a.table) if l.startswith("{")]))
        return 0
    torch.set_num_threads(2)
    rows = []
    with tempfile.TemporaryDirectory() as d:
        for name in a.models.split(","):
            r = one(a.dlspec, name, a.size, d)
            rows.append(r)
            if not a.markdown:
                print(json.dumps(r), flush=True)
    if a.markdown:
        print(markdown(rows))
    bad = [r["model"] for r in rows if r["status"] == "differs from PyTorch"]
    for r in rows:
        if r["model"] in BLOCK_CALLS and list(r.get("blocks", {}).values()) != BLOCK_CALLS[r["model"]]:
            print(f"FAIL {r['model']}: blocks {r.get('blocks')}, expected calls {BLOCK_CALLS[r['model']]}", file=sys.stderr)
            bad.append(r["model"])
    missing = [m for m in a.expect.split(",") if m and not any(r["model"] == m and r["status"] == "matches PyTorch" for r in rows)]
    for m in bad:
        print(f"FAIL {m}: imports but differs from PyTorch", file=sys.stderr)
    for m in missing:
        print(f"FAIL {m}: expected to import and match PyTorch", file=sys.stderr)
    return 1 if bad or missing else 0


if __name__ == "__main__":
    sys.exit(main())
