#!/usr/bin/python3
"""dlspec import onnx: each fault case's diagnostic (code and model:line of the graph listing), and the models
that import end to end: import -> check (no errors) -> build -> predict --weights --outputs, compared with
OpenCV's dnn module running the same ONNX file (an independent ONNX runtime) at 1e-4 relative.

    run.py DLSPEC
"""
import os
import subprocess
import sys
import tempfile

import cv2
import numpy as np
import onnx

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
CASES = "tests/import/onnx/cases"
fails = 0


def run(args):
    p = subprocess.run(args, cwd=ROOT, capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr


def expect(case, rc, *patterns, extra=()):
    global fails
    got_rc, out = run([DLSPEC, "import", "onnx", f"{CASES}/{case}", *extra])
    missing = [p for p in patterns if p not in out]
    if got_rc != rc or missing:
        print(f"FAIL {case}: want rc {rc} and {patterns}, got rc {got_rc}:\n{out}")
        fails += 1
    else:
        print(f"ok   {case}: {' '.join(patterns)}")


def forward_cv2(path, x):
    net = cv2.dnn.readNetFromONNX(path)
    batch = onnx.load(path).graph.input[0].type.tensor_type.shape.dim[0].dim_value or len(x)
    outs = []
    for i in range(0, len(x), batch):
        chunk = x[i:i + batch]
        if len(chunk) < batch:  # the model's fixed batch: pad, then drop the padding's rows
            chunk = np.concatenate([chunk, np.zeros((batch - len(chunk),) + x.shape[1:], x.dtype)])
        net.setInput(chunk)
        outs.append(net.forward()[: len(x) - i])
    return np.concatenate(outs)


def end_to_end(case, samples, d, want_in_spec=()):
    """Imports, checks, builds and runs `case`; returns the spec text."""
    global fails
    stem = case[:-5]
    dls = f"{d}/{stem}.dls"
    rc, out = run([DLSPEC, "import", "onnx", f"{CASES}/{case}", "-o", dls])
    if rc != 0:
        print(f"FAIL {case}: import rc {rc}:\n{out}")
        fails += 1
        return ""
    spec = open(dls).read()
    rc, out = run([DLSPEC, "check", dls])
    if rc != 0 or "error[" in out:
        print(f"FAIL {case}: check of the imported spec:\n{spec}\n{out}")
        fails += 1
        return spec
    for w in want_in_spec:
        if w not in spec:
            print(f"FAIL {case}: `{w}` is not in the spec:\n{spec}")
            fails += 1
    rc, out = run([DLSPEC, "build", dls, "-o", f"{d}/{stem}"])
    if rc != 0:
        print(f"FAIL {case}: build:\n{out}")
        fails += 1
        return spec
    m = onnx.load(f"{ROOT}/{CASES}/{case}")
    dims = [v.dim_value for v in m.graph.input[0].type.tensor_type.shape.dim]
    x = np.random.default_rng(5).normal(size=(samples, *dims[1:])).astype(np.float32)
    np.save(f"{d}/{stem}_x.npy", x)
    rc, out = run([f"{d}/{stem}", "predict", f"{d}/{stem}_x.npy", "--weights", f"{d}/{stem}.weights",
                   "--outputs", f"{d}/{stem}_y.npy"])
    if rc != 0:
        print(f"FAIL {case}: predict:\n{out}")
        fails += 1
        return spec
    ours = np.load(f"{d}/{stem}_y.npy")
    theirs = forward_cv2(f"{ROOT}/{CASES}/{case}", x)
    err = np.abs(ours - theirs).max() / max(1e-6, np.abs(theirs).max())
    if ours.shape != theirs.shape or not err < 1e-4:
        print(f"FAIL {case}: outputs {ours.shape} vs OpenCV's {theirs.shape}, max relative difference {err:.2e}")
        fails += 1
    else:
        print(f"ok   {case}: imported, checked, built; {samples} samples' outputs {ours.shape} match OpenCV dnn "
              f"(max relative difference {err:.1e})")
    return spec


def main():
    global DLSPEC
    DLSPEC = sys.argv[1]
    expect("not_onnx.onnx", 1, "E1110")
    expect("lrn.onnx", 1, "E1111", "node `norm1` (LRN)", "lrn.onnx:2:1")
    expect("auto_pad.onnx", 1, "E1112", "node `conv1` (Conv)", "`auto_pad` = SAME_UPPER", "auto_pad.onnx:2:1")
    expect("ceil_pool.onnx", 1, "E1112", "node `pool1` (MaxPool)", "`ceil_mode` = 1 where it gives 4 rather than floor mode's 3")
    expect("two_inputs.onnx", 1, "E1113", "number of inputs (2)", "two_inputs.onnx:1:1")
    expect("explicit_pad.onnx", 0, "conv2d(4, kernel: 3, stride: 2, pad: [0, 0, 1, 1], bias: false)")
    expect("floor_pool.onnx", 0, "maxpool(2, stride: 2)")
    expect("tiny_cnn.onnx", 1, "E1114", extra=("--weights", f"{CASES}/tiny_cnn.onnx"))
    with tempfile.TemporaryDirectory() as d:
        # 5 samples through a batch of 2: the last batch is partial
        end_to_end("tiny_cnn.onnx", 5, d, want_in_spec=(
            "conv2d(8, kernel: 3, pad: 1, bias: false) |> batch_norm |> relu |> maxpool(2, stride: 2)",
            "batch_norm(eps: 0.001)", " + ", "global_avgpool", "dense(5)", "-> logits[N, 5]"))
        end_to_end("tiny_mlp.onnx", 7, d, want_in_spec=("dense(16) |> tanh |> dense(4) |> log_softmax",
                                                         "-> log_probs[N, 4]", "nll(model.out, kind)"))
        for f in ("tiny_cnn.onnx", "explicit_pad.onnx", "floor_pool.onnx", "tiny_mlp.onnx"):
            expect(f, 0, extra=("-o", f"{d}/again.dls"))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
