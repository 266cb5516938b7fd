#!/usr/bin/python3
"""Export round trips: a spec trained briefly, exported with `dlspec export`, run by other readers.

For each example spec (specs/NAME.dls: lenet, mlp, senet, gpt) in a temporary directory:
  1. the spec with its sources replaced by random samples (npy: 256 Fashion-MNIST-sized images, or 64 windows of
     symbols for gpt), built and trained for one epoch (batch norms get running statistics);
  2. `dlspec export SPEC --checkpoint runs/... -o model.onnx --safetensors model.safetensors` (the batch
     symbolic), and with `--batch 16` (OpenCV 4.6 broadcasts a squeeze-excitation gate only with a fixed batch);
  3. the program's own outputs on 16 random samples (`predict --checkpoint --outputs`) as the reference;
  4. a NumPy evaluator of ONNX's operator definitions (onnx_numpy.py) runs the model on the same samples after
     the spec's pipeline (to_f32, scale, normalize, reshape, or to_i32: the network's input), and OpenCV's dnn
     module (python3-opencv) the fixed-batch model (not gpt: OpenCV 4.6 has no Gather of computed indices);
  5. `dlspec import onnx model.onnx` (batch symbolic) writes the model back as a spec and weights, which is
     built and run (`predict --weights --outputs`) on the pipeline's output (not gpt: the importer has no
     Gather, Erf or attention subgraph);
  6. the safetensors file, and the .npz file (`--npz`, read by numpy.load), hold every parameter of the
     checkpoint, by name, with its shape and values; (lenet) the .npz loaded into a torch.nn LeNet's
     state_dict gives the program's outputs;
  7. (lenet) a damaged checkpoint, another network's, a directory without one: E1116; the checkpoint's values
     as --weights DIR give the same model, with a NaN or a wrong shape in one: E1117; the earlier model kept;
  7b. the built program's own `export --onnx --npz --safetensors --checkpoint` (no compiler, no spec): the same
     graph and initialiser values as `dlspec export`, the same weight files, its model run by the NumPy evaluator
     and (with `--batch 16`) by OpenCV against `predict --outputs`; (lenet) its refusals: a damaged checkpoint
     (R0303), another network's (R0305), a directory without one (R0302), a file in a missing directory (R0521),
     a program whose network has no ONNX form (R0520), each leaving the earlier model as it was;
  8. tests/export/cases/zoo_image.dls and zoo_seq.dls, every other op the export maps, through the NumPy
     evaluator against `predict --outputs`; the program's own `export --onnx` gives the same model.
Prints one line per spec and reader with max |a - ref| / max |ref|; exit status 1 when one exceeds 1e-4 or a
step fails.

    run.py DLSPEC SPECS_DIR [--specs lenet,mlp,senet,gpt]
"""
import argparse
import json
import os
import re
import struct
import subprocess
import sys
import tempfile

import numpy as np

TOL = 1e-4
MEAN, STD = 0.286, 0.353  # the example specs' normalize(mean:, std:)


def run(args, cwd=None):
    p = subprocess.run(args, capture_output=True, text=True, cwd=cwd)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} exited with {p.returncode}:\n{p.stdout}{p.stderr}")
    return p.stdout


def derived_spec(text, d):
    """The spec with its idx(…) sources replaced by small random npy files, and no checkpoint setting."""
    rng = np.random.default_rng(1)
    for split in ("train", "test"):
        np.save(f"{d}/{split}_x.npy", rng.integers(0, 256, size=(256, 28, 28), dtype=np.uint8))
        np.save(f"{d}/{split}_y.npy", rng.integers(0, 10, size=(256,), dtype=np.uint8))
    text, n = re.subn(r'(train|test)\s*=\s*idx\([^)]*\)', lambda m: f'{m.group(1)} = npy("{m.group(1)}_x.npy", "{m.group(1)}_y.npy")', text)
    assert n == 2, "expected a train and a test idx(…) source"
    return re.sub(r'\n\s*checkpoint\s*=[^\n]*', "\n", text)


def pipeline(samples, shape):
    x = samples.astype(np.float32) * np.float32(1 / 255)
    x = (x - np.float32(MEAN)) / np.float32(STD)
    return x.reshape((samples.shape[0],) + shape).astype(np.float32)


def rel(a, ref):
    if a.shape != ref.shape:
        return float("inf")
    return float(np.abs(a - ref).max() / max(1e-12, np.abs(ref).max()))


def read_safetensors(path):
    with open(path, "rb") as f:
        buf = f.read()
    (n,) = struct.unpack_from("<Q", buf, 0)
    header = json.loads(buf[8:8 + n])
    base = 8 + n
    out = {}
    for k, v in header.items():
        if k == "__metadata__":
            continue
        assert v["dtype"] == "F32", v
        a, b = v["data_offsets"]
        out[k] = np.frombuffer(buf[base + a:base + b], dtype="<f4").reshape(v["shape"])
    return out


def one(dlspec, specs, name, d):
    import cv2
    import onnx
    import onnx_numpy
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
    import dlsc

    text = open(f"{specs}/{name}.dls").read()
    rng = np.random.default_rng(2)
    if name == "gpt":  # windows of 64 symbols of a 96-symbol vocabulary, as the spec's npy sources
        os.makedirs(f"{d}/data")
        for split in ("train", "test"):
            np.save(f"{d}/data/gpt-{split}-x.npy", rng.integers(0, 96, size=(64, 64), dtype=np.uint8))
            np.save(f"{d}/data/gpt-{split}-y.npy", rng.integers(0, 96, size=(64, 64), dtype=np.uint8))
        samples = rng.integers(0, 96, size=(8, 64), dtype=np.uint8)
        x = samples.astype(np.int32)  # the pipeline's to_i32
    else:
        text = derived_spec(text, d)
        samples = rng.integers(0, 256, size=(16, 28, 28), dtype=np.uint8)
        m = re.search(r"network \w+\(x: f32\[N, ([\d, ]+)\]\)", text)
        x = pipeline(samples, tuple(int(v) for v in m.group(1).split(",")))
    with open(f"{d}/{name}.dls", "w") as f:
        f.write(text)
    run([dlspec, "build", f"{d}/{name}.dls", "-o", f"{d}/{name}"])
    run([f"{d}/{name}", "train", "--epochs", "1"], cwd=d)
    ckpt = f"{d}/runs/{name}"
    run([dlspec, "export", f"{d}/{name}.dls", "--checkpoint", ckpt, "-o", f"{d}/{name}.onnx",
         "--safetensors", f"{d}/{name}.safetensors", "--npz", f"{d}/{name}.npz"])
    run([dlspec, "export", f"{d}/{name}.dls", "--checkpoint", ckpt, "--batch", str(len(samples)), "-o", f"{d}/{name}_b.onnx"])
    np.save(f"{d}/samples.npy", samples)
    run([f"{d}/{name}", "predict", f"{d}/samples.npy", "--checkpoint", ckpt, "--outputs", f"{d}/ref.npy"], cwd=d)
    ref = np.load(f"{d}/ref.npy")
    rows = [("numpy (ONNX's operator definitions)", rel(onnx_numpy.run(onnx.load(f"{d}/{name}.onnx"), x), ref))]

    if name != "gpt":  # OpenCV 4.6 reads no Gather of computed indices (the embedding), nor the import (Gather, Erf)
        net = cv2.dnn.readNetFromONNX(f"{d}/{name}_b.onnx")
        net.setInput(x)
        rows.append(("opencv", rel(net.forward(), ref)))

        run([dlspec, "import", "onnx", f"{d}/{name}.onnx", "-o", f"{d}/re_{name}.dls"])
        run([dlspec, "build", f"{d}/re_{name}.dls", "-o", f"{d}/re_{name}"])
        np.save(f"{d}/x.npy", x)
        run([f"{d}/re_{name}", "predict", f"{d}/x.npy", "--weights", f"{d}/re_{name}.weights", "--outputs", f"{d}/re.npy"], cwd=d)
        rows.append(("dlspec import onnx", rel(np.load(f"{d}/re.npy"), ref)))

    ck = dlsc.read(sorted(p for p in (os.path.join(ckpt, f) for f in os.listdir(ckpt)) if p.endswith(".dlsc"))[-1])
    st = read_safetensors(f"{d}/{name}.safetensors")
    want = ck.values()
    same = list(st) == list(want) and all(np.array_equal(st[k], want[k]) for k in want)
    rows.append(("safetensors", 0.0 if same else float("inf")))
    with np.load(f"{d}/{name}.npz") as z:
        nz = {k: z[k] for k in z.files}
    same = list(nz) == list(want) and all(nz[k].dtype == np.float32 and np.array_equal(nz[k], want[k]) for k in want)
    rows.append(("npz", 0.0 if same else float("inf")))
    if name == "lenet":  # the npz's values as a torch.nn LeNet's state_dict: torch's forward against the program's
        rows.append(("npz into torch.nn", npz_into_torch(dlsc, nz, samples, ref)))
    if name == "lenet":
        rows += faults(dlspec, d, ckpt)
    rows += program_export(d, name, ckpt, x, ref)
    if name == "lenet":
        rows += program_faults(dlspec, d, ckpt)
    return rows


def same_model(a, b):
    """0.0 when two ONNX models have the same graph (nodes, inputs, outputs) and initialisers of equal values."""
    import onnx
    from onnx import numpy_helper
    ma, mb = onnx.load(a), onnx.load(b)
    ga, gb = ma.graph, mb.graph
    if [n.SerializeToString() for n in ga.node] != [n.SerializeToString() for n in gb.node]:
        return float("inf")
    if [v.SerializeToString() for v in ga.input] != [v.SerializeToString() for v in gb.input] or \
       [v.SerializeToString() for v in ga.output] != [v.SerializeToString() for v in gb.output]:
        return float("inf")
    ia = {t.name: numpy_helper.to_array(t) for t in ga.initializer}
    ib = {t.name: numpy_helper.to_array(t) for t in gb.initializer}
    if list(ia) != list(ib) or any(ia[k].shape != ib[k].shape or not np.array_equal(ia[k], ib[k]) for k in ia):
        return float("inf")
    return 0.0 if ma.opset_import == mb.opset_import else float("inf")


def program_export(d, name, ckpt, x, ref):
    """The built program's `export`: the model and weight files of `dlspec export`, numerically, with no spec at hand."""
    import cv2
    import onnx
    import onnx_numpy
    exe = f"{d}/{name}"
    os.rename(f"{d}/{name}.dls", f"{d}/{name}.dls.away")  # the program needs neither the spec nor the compiler
    try:
        run([exe, "export", "--onnx", f"{d}/p.onnx", "--npz", f"{d}/p.npz", "--safetensors", f"{d}/p.safetensors",
             "--checkpoint", ckpt], cwd=d)
        run([exe, "export", "--onnx", f"{d}/p_b.onnx", "--batch", str(len(x)), "--checkpoint", ckpt], cwd=d)
    finally:
        os.rename(f"{d}/{name}.dls.away", f"{d}/{name}.dls")
    onnx.checker.check_model(onnx.load(f"{d}/p.onnx"))
    rows = [("PROGRAM export --onnx: dlspec export's model (graph, initialisers)", same_model(f"{d}/p.onnx", f"{d}/{name}.onnx")),
            ("PROGRAM export --onnx --batch 16: dlspec export's model with --batch 16", same_model(f"{d}/p_b.onnx", f"{d}/{name}_b.onnx")),
            ("PROGRAM export --onnx, numpy (ONNX's operator definitions)", rel(onnx_numpy.run(onnx.load(f"{d}/p.onnx"), x), ref))]
    if name != "gpt":
        net = cv2.dnn.readNetFromONNX(f"{d}/p_b.onnx")
        net.setInput(x)
        rows.append(("PROGRAM export --onnx --batch, opencv", rel(net.forward(), ref)))
    for kind in ("npz", "safetensors"):
        same = open(f"{d}/p.{kind}", "rb").read() == open(f"{d}/{name}.{kind}", "rb").read()
        rows.append((f"PROGRAM export --{kind}: dlspec export's file", 0.0 if same else float("inf")))
    return rows


def program_faults(dlspec, d, ckpt):
    """The program's export refusals: each reports its code and leaves an earlier model file as it was."""
    rows = []
    before = open(f"{d}/p.onnx", "rb").read()
    # another network's program, and a network without an ONNX form (softplus below torch's threshold 17)
    text = open(f"{d}/lenet.dls").read()
    for spec, body in [("other", "return x |> flatten |> dense(10)"), ("noform", "return x |> flatten |> dense(10) |> softplus(threshold: 5)")]:
        open(f"{d}/{spec}.dls", "w").write(re.sub(r"network LeNet[^}]*}", "network LeNet(x: f32[N, 1, 28, 28]) -> logits[N, 10] {\n  " + body + "\n}",
                                                  text, flags=re.S))
        run([dlspec, "build", f"{d}/{spec}.dls", "-o", f"{d}/{spec}"])
    newest = sorted(f for f in os.listdir(ckpt) if f.endswith(".dlsc"))[-1]
    os.makedirs(f"{d}/empty_run")
    cases = [("a damaged checkpoint", "lenet", ["--checkpoint", f"{d}/damaged.dlsc"], f"{d}/p.onnx", "R0303"),
             ("another network's checkpoint", "other", ["--checkpoint", f"{ckpt}/{newest}"], f"{d}/p.onnx", "R0305"),
             ("a run directory without checkpoints", "lenet", ["--checkpoint", f"{d}/empty_run"], f"{d}/p.onnx", "R0302"),
             ("a file in a missing directory", "lenet", ["--checkpoint", ckpt], f"{d}/missing/p.onnx", "R0521"),
             ("a network without an ONNX form", "noform", [], f"{d}/p.onnx", "R0520")]
    for what, exe, args, out, code in cases:
        p = subprocess.run([f"{d}/{exe}", "export", "--onnx", out] + args, capture_output=True, text=True, cwd=d)
        left = [f for f in os.listdir(d) if f.startswith(".tmp-export")]
        ok = p.returncode == 1 and f"error[{code}]" in p.stderr and open(f"{d}/p.onnx", "rb").read() == before and not left
        if code == "R0520":
            ok = ok and "softplus" in p.stderr
        rows.append((f"refuses {what} ({code}, PROGRAM export; the earlier model kept)", 0.0 if ok else float("inf")))
        if not ok:
            print(p.stderr, file=sys.stderr)
    return rows


def npz_into_torch(dlsc, values, samples, ref):
    import torch

    class LeNet(torch.nn.Module):  # specs/lenet.dls in torch.nn
        def __init__(self):
            super().__init__()
            self.conv1, self.conv2 = torch.nn.Conv2d(1, 20, 5), torch.nn.Conv2d(20, 50, 5)
            self.fc1, self.fc2 = torch.nn.Linear(800, 500), torch.nn.Linear(500, 10)

        def forward(self, x):
            x = torch.max_pool2d(self.conv1(x), 2)
            x = torch.max_pool2d(self.conv2(x), 2)
            return self.fc2(torch.relu(self.fc1(x.flatten(1))))

    m = LeNet()
    m.load_state_dict(dlsc.state_dict(dlsc.Checkpoint({}, values), m), strict=True)
    x = torch.from_numpy(pipeline(samples, (1, 28, 28)))
    with torch.no_grad():
        return rel(m(x).numpy(), ref)


def zoo(dlspec, cases, name, d):
    """tests/export/cases/NAME.dls, every op the export maps, trained an epoch on random samples: the NumPy
    evaluator of the model against the program's outputs."""
    import onnx
    import onnx_numpy

    text = open(f"{cases}/{name}.dls").read()
    shape = tuple(int(v) for v in re.search(r"sample \w+: f32\[([\d, ]+)\]", text).group(1).split(","))
    classes = int(re.search(r"class<(\d+)>", text).group(1))
    rng = np.random.default_rng(3)
    np.save(f"{d}/zoo_x.npy", rng.standard_normal((64,) + shape).astype(np.float32))
    np.save(f"{d}/zoo_y.npy", rng.integers(0, classes, size=(64,), dtype=np.uint8))
    with open(f"{d}/{name}.dls", "w") as f:
        f.write(text)
    run([dlspec, "build", f"{d}/{name}.dls", "-o", f"{d}/{name}"])
    run([f"{d}/{name}", "train", "--epochs", "1"], cwd=d)
    ckpt = f"{d}/runs/{name}"
    run([dlspec, "export", f"{d}/{name}.dls", "--checkpoint", ckpt, "-o", f"{d}/{name}.onnx"])
    x = rng.standard_normal((8,) + shape).astype(np.float32)
    np.save(f"{d}/samples.npy", x)
    run([f"{d}/{name}", "predict", f"{d}/samples.npy", "--checkpoint", ckpt, "--outputs", f"{d}/ref.npy"], cwd=d)
    model = onnx.load(f"{d}/{name}.onnx")
    ops = sorted({n.op_type for n in model.graph.node})
    # the program's own export (the recurrent layers' gates reordered, dense over steps transposed) is the same model
    run([f"{d}/{name}", "export", "--onnx", f"{d}/p.onnx", "--checkpoint", ckpt], cwd=d)
    return [(f"numpy (ONNX's operator definitions; {', '.join(ops)})", rel(onnx_numpy.run(model, x), np.load(f"{d}/ref.npy"))),
            ("PROGRAM export --onnx: dlspec export's model (graph, initialisers)", same_model(f"{d}/p.onnx", f"{d}/{name}.onnx"))]


def faults(dlspec, d, ckpt):
    """The export's refusals: each reports its code and leaves an earlier output file as it was."""
    rows = []
    before = open(f"{d}/lenet.onnx", "rb").read()
    newest = sorted(f for f in os.listdir(ckpt) if f.endswith(".dlsc"))[-1]
    damaged = bytearray(open(f"{ckpt}/{newest}", "rb").read())
    damaged[len(damaged) // 2] ^= 0xFF
    open(f"{d}/damaged.dlsc", "wb").write(bytes(damaged))
    mlp = re.sub(r"network LeNet[^}]*}", "network LeNet(x: f32[N, 1, 28, 28]) -> logits[N, 10] {\n  return x |> flatten |> dense(10)\n}",
                 open(f"{d}/lenet.dls").read(), flags=re.S)
    open(f"{d}/other.dls", "w").write(mlp)
    for what, spec, weights, code in [("a damaged checkpoint", "lenet.dls", f"{d}/damaged.dlsc", "E1116"),
                                      ("another network's checkpoint", "other.dls", ckpt, "E1116"),
                                      ("a run directory without checkpoints", "lenet.dls", d, "E1116")]:
        p = subprocess.run([dlspec, "export", f"{d}/{spec}", "--checkpoint", weights, "-o", f"{d}/lenet.onnx"],
                           capture_output=True, text=True)
        ok = p.returncode == 1 and f"error[{code}]" in p.stderr and open(f"{d}/lenet.onnx", "rb").read() == before
        rows.append((f"refuses {what} ({code}, the earlier model kept)", 0.0 if ok else float("inf")))
    # --weights: one .npy per parameter, as the checkpoint holds them; a NaN, then a wrong shape, refused (E1117)
    import dlsc
    values = dlsc.read(f"{ckpt}/{newest}").values()
    os.makedirs(f"{d}/w")
    for k, v in values.items():
        np.save(f"{d}/w/{k}.npy", v)
    p = subprocess.run([dlspec, "export", f"{d}/lenet.dls", "--weights", f"{d}/w", "-o", f"{d}/w.onnx"], capture_output=True, text=True)
    rows.append(("exports from --weights DIR the checkpoint's model", 0.0 if p.returncode == 0 and open(f"{d}/w.onnx", "rb").read() == before else float("inf")))
    for what, bad in [("a NaN", lambda v: np.where(np.arange(v.size).reshape(v.shape) == 0, np.nan, v).astype(np.float32)),
                      ("another shape", lambda v: v.reshape(-1)[:-1])]:
        np.save(f"{d}/w/dense_1.bias.npy", bad(values["dense_1.bias"]))
        p = subprocess.run([dlspec, "export", f"{d}/lenet.dls", "--weights", f"{d}/w", "-o", f"{d}/lenet.onnx"], capture_output=True, text=True)
        ok = p.returncode == 1 and "error[E1117]" in p.stderr and "dense_1.bias" in p.stderr and open(f"{d}/lenet.onnx", "rb").read() == before
        rows.append((f"refuses a weight with {what} (E1117, the earlier model kept)", 0.0 if ok else float("inf")))
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dlspec")
    ap.add_argument("specs")
    ap.add_argument("--specs", dest="names", default="lenet,mlp,senet,gpt,zoo_image,zoo_seq")
    a = ap.parse_args()
    bad = 0
    for name in a.names.split(","):
        with tempfile.TemporaryDirectory() as d:
            try:
                if name.startswith("zoo"):
                    rows = zoo(os.path.abspath(a.dlspec), os.path.join(os.path.dirname(os.path.abspath(__file__)), "cases"), name, d)
                else:
                    rows = one(os.path.abspath(a.dlspec), os.path.abspath(a.specs), name, d)
            except Exception as e:  # a failing step: its command and output
                print(f"FAIL {name}: {e}")
                bad += 1
                continue
        for reader, r in rows:
            ok = r <= TOL
            bad += not ok
            print(f"{'ok  ' if ok else 'FAIL'} {name} {reader}" + ("" if reader.startswith(("refuses", "exports")) or "dlspec export's" in reader else f": max rel. diff {r:.1e}"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
