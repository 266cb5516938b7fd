#!/usr/bin/python3
"""One training step of COMPILED specs in `precision = bf16` against the same step in f32.

Each spec is built twice with `dlspec build`: as written (f32) and with `precision = bf16` added to its train
block. Both executables' `step-check` run forward and backward (no update) on the same weights and batch. The
bf16 step must agree with the f32 one within bf16's tolerance: bf16 keeps 8 significant bits (about 0.4% per
product input), and a gradient summed over a batch of random-sign terms loses more (a few percent at
initialisation), so the tolerance of each gradient is what PyTorch's own bf16 mixed precision
(torch.autocast('cpu', dtype=torch.bfloat16)) loses on the same step against its f32 one: our relative
difference must stay under AUTOCAST_FACTOR times PyTorch's plus ABS_SLACK; the loss within LOSS_TOL. The bf16
step must also NOT be the f32 step: the gradients of the ops with bf16 products (dense, conv2d) differ from f32's
by more than MIN_BF16_EFFECT, so a build that accepted `precision = bf16` and computed in f32 fails here. The f32
step itself is checked against PyTorch by compiled_step_check.py.

usage: bf16_step_check.py DLSPEC REPO WORKDIR
"""
import os, re, shutil, subprocess, sys
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "runtime", "tests"))
from torch_step_check import read_npy, rel, step_check  # noqa: E402
import compiled_step_check as csc  # noqa: E402  (the models and their parameter names)

LOSS_TOL = 2e-3
AUTOCAST_FACTOR = 2.0
ABS_SLACK = 5e-3
MIN_BF16_EFFECT = 1e-6


def bf16_variant(src, dst):
    """The spec at src with `precision = bf16` as the first setting of its train block, written to dst."""
    text = open(src).read()
    out, n = re.subn(r"(\ntrain \w+ \{\n)", r"\1  precision = bf16\n", text, count=1)
    assert n == 1, f"{src}: no train block"
    with open(dst, "w") as f:
        f.write(out)


def weights_of(made):
    """(model, params: dlspec name -> tensor, x, y) for the makers of compiled_step_check.py."""
    if len(made) == 4 and isinstance(made[1], dict) and all(isinstance(v, torch.Tensor) for v in made[1].values()):
        return made
    model, layers, shape = made[:3]
    params = dict(made[3] if len(made) > 3 else {})
    for lname, layer in layers.items():
        params[lname + ".weight"] = layer.weight
        if layer.bias is not None:
            params[lname + ".bias"] = layer.bias
    return model, params, torch.randn(*shape), torch.randint(0, 10, (shape[0],))


def torch_grads(model, params, x, y, bf16):
    """PyTorch's gradients of the step, in f32 or under bf16 autocast: dlspec name -> tensor."""
    model.zero_grad()
    if bf16:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = csc.cross_entropy(model(x).float(), y)
    else:
        loss = csc.cross_entropy(model(x), y)
    loss.backward()
    return {n: t.grad.clone() for n, t in params.items() if t.grad is not None}


def run(dlspec, repo, name, make, work, bf16_layers):
    spec = os.path.join(repo, csc.SPECS[name])
    variant = os.path.join(work, name + ".bf16.dls")
    bf16_variant(spec, variant)
    exes = {}
    for tag, path in (("f32", spec), ("bf16", variant)):
        exe = os.path.join(work, f"{name}.{tag}.bin")
        r = subprocess.run([dlspec, "build", path, "-o", exe], capture_output=True, text=True)
        if r.returncode != 0:
            print(f"{name} ({tag}): dlspec build failed ({r.returncode}):\n{r.stdout}{r.stderr}")
            return False
        exes[tag] = exe
    torch.manual_seed(0)
    model, params, x, y = weights_of(make())
    out = {tag: step_check(f"{name}.{tag}", exe, params, x, y, work) for tag, exe in exes.items()}
    if None in out.values():
        return False
    ok = True
    lf, lb = (read_npy(os.path.join(out[t], "loss.npy")).reshape(()) for t in ("f32", "bf16"))
    e = rel(lb, lf)
    print(f"{name}: loss f32 {lf.item():.7f} bf16 {lb.item():.7f} rel {e:.2e}")
    ok &= e <= LOSS_TOL
    ref32, ref16 = torch_grads(model, params, x, y, False), torch_grads(model, params, x, y, True)
    effect = 0.0
    for pname, t in params.items():
        if not t.requires_grad:
            continue
        gf, gb = (read_npy(os.path.join(out[tag], pname + ".grad.npy")).reshape(t.shape) for tag in ("f32", "bf16"))
        e = rel(gb, gf)
        if pname.split(".")[0] in bf16_layers:
            effect = max(effect, e)
        tol = AUTOCAST_FACTOR * rel(ref16[pname], ref32[pname]) + ABS_SLACK
        print(f"{name}: d {pname:40s} {tuple(t.shape)} rel {e:.2e} (tolerance {tol:.2e}){'' if e <= tol else '  MISMATCH'}")
        ok &= e <= tol
    print(f"{name}: largest difference of a bf16 op's gradient from f32: {effect:.2e}"
          f"{'' if effect > MIN_BF16_EFFECT else '  (bf16 did not run: the step is the f32 one)'}")
    ok &= effect > MIN_BF16_EFFECT
    return ok


def has_bf16_kernels():
    """oneDNN 2.6 has bf16 kernels only on AVX-512 processors (avx512_core), as runtime/core/CpuFeatures.h says."""
    flags = set()
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("flags"):
                flags.update(line.split(":", 1)[1].split())
    return {"avx512f", "avx512bw", "avx512vl", "avx512dq"} <= flags


def refused_without_avx512(dlspec, repo, work):
    """On a processor without AVX-512 a bf16 program must refuse to start (R0410), not train in f32."""
    variant = os.path.join(work, "mlp.bf16.dls")
    bf16_variant(os.path.join(repo, csc.SPECS["mlp"]), variant)
    exe = os.path.join(work, "mlp.bf16.bin")
    r = subprocess.run([dlspec, "build", variant, "-o", exe], capture_output=True, text=True)
    if r.returncode != 0:
        print(f"mlp (bf16): dlspec build failed ({r.returncode}):\n{r.stdout}{r.stderr}")
        return False
    r = subprocess.run([exe, "bench", "--steps", "1", "--warmup", "0"], capture_output=True, text=True, timeout=120)
    ok = r.returncode != 0 and "error[R0410]" in r.stderr and "no AVX-512" in r.stderr
    print(f"mlp (bf16) on a processor without AVX-512: exit {r.returncode}, {'refused with R0410' if ok else 'NOT refused'}")
    if not ok:
        print(r.stdout[-500:], r.stderr[-500:])
    return ok


def main():
    if len(sys.argv) != 4:
        print(__doc__)
        return 2
    torch.set_num_threads(2)
    dlspec, repo, work = sys.argv[1:]
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work, exist_ok=True)
    if not has_bf16_kernels():
        if not refused_without_avx512(dlspec, repo, work):
            print("FAIL")
            return 1
        print("skipped: this processor has no AVX-512, so no bf16 step to compare (the refusal is checked)")
        return 77
    ok = run(dlspec, repo, "mlp", csc.mlp, work, {"dense_1", "dense_2", "dense_3"})
    ok &= run(dlspec, repo, "lenet", csc.lenet, work, {"conv2d_1", "conv2d_2", "dense_1", "dense_2"})
    ok &= run(dlspec, repo, "resblock", csc.resblock, work, {"conv2d_1", "conv2d_2", "dense_1"})
    ok &= run(dlspec, repo, "transformer", csc.transformer, work, {"dense_1", "dense_2", "dense_3"})
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
