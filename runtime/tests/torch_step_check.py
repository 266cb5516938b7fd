#!/usr/bin/python3
"""One training step (forward + backward, no update) of the hand-made mlp and LeNet programs against
PyTorch: same weights, same batch; loss and every parameter gradient must agree within 1e-4 relative.

usage: torch_step_check.py DLS_MLP DLS_LENET WORKDIR
Uses only torch (no numpy): .npy files are written and read by hand.
"""
import os, struct, subprocess, sys
import torch, torch.nn as nn, torch.nn.functional as F

TOL = 1e-4


def write_npy(path, t):
    t = t.detach().contiguous()
    if t.dtype == torch.int64:
        descr, fmt = "<i8", "q"
    else:
        t, descr, fmt = t.float(), "<f4", "f"
    shape = "(" + "".join(f"{d}," for d in t.shape) + ")" if t.dim() == 1 else "(" + ", ".join(str(d) for d in t.shape) + ")"
    header = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, shape)
    header += " " * ((64 - (10 + len(header) + 1) % 64) % 64) + "\n"
    vals = t.reshape(-1).tolist()
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
        f.write(struct.pack(f"<{len(vals)}{fmt}", *vals))


def read_npy(path):
    b = open(path, "rb").read()
    assert b[:6] == b"\x93NUMPY", path
    hl = struct.unpack("<H", b[8:10])[0]
    header = b[10:10 + hl].decode()
    assert "'<f4'" in header, header
    shape = eval(header)["shape"]
    n = 1
    for d in shape:
        n *= d
    vals = struct.unpack(f"<{n}f", b[10 + hl:10 + hl + 4 * n])
    return torch.tensor(vals, dtype=torch.float32).reshape(shape)


def mlp():
    m = nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(), nn.Linear(256, 10))
    return m, {"fc1": m[1], "fc2": m[3], "fc3": m[5]}, 128


def lenet():
    m = nn.Sequential(nn.Conv2d(1, 20, 5), nn.MaxPool2d(2), nn.Conv2d(20, 50, 5), nn.MaxPool2d(2), nn.Flatten(),
                      nn.Linear(800, 500), nn.ReLU(), nn.Linear(500, 10))
    return m, {"conv1": m[0], "conv2": m[2], "fc3": m[5], "fc4": m[7]}, 64


def rel(a, b):
    return ((a - b).norm() / max(b.norm().item(), 1e-30)).item()


def step_check(name, exe, weights, x, y, work):
    """Writes `weights` (dlspec parameter name -> tensor) and the batch, runs `exe step-check` on them and
    returns the directory of its results (loss.npy, NAME.grad.npy), or None after printing why it failed."""
    wdir, odir = os.path.join(work, name, "w"), os.path.join(work, name, "out")
    os.makedirs(wdir, exist_ok=True)
    os.makedirs(odir, exist_ok=True)
    for pname, t in weights.items():
        write_npy(os.path.join(wdir, pname + ".npy"), t)
    write_npy(os.path.join(work, name, "x.npy"), x)
    write_npy(os.path.join(work, name, "y.npy"), y)
    r = subprocess.run([exe, "step-check", "--weights", wdir, "--batch", os.path.join(work, name, "x.npy"),
                        os.path.join(work, name, "y.npy"), "--out", odir], capture_output=True, text=True)
    if r.returncode != 0:
        print(f"{name}: step-check failed ({r.returncode}):\n{r.stdout}{r.stderr}")
        return None
    return odir


def compare(name, exe, model, layers, x, y, work, extra=None):
    """Writes the weights and the batch, runs `exe step-check`, runs the same step in PyTorch, and compares
    the loss and every parameter gradient. `extra` maps further state names (running statistics) to tensors.
    Returns True when all agree within TOL."""
    weights = dict(extra or {})
    for lname, layer in layers.items():
        weights[lname + ".weight"] = layer.weight
        if layer.bias is not None:
            weights[lname + ".bias"] = layer.bias
    odir = step_check(name, exe, weights, x, y, work)
    if odir is None:
        return False
    model.zero_grad()
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    ok = True
    got = read_npy(os.path.join(odir, "loss.npy")).reshape(())
    e = rel(got, loss.detach())
    print(f"{name}: loss dlspec {got.item():.7f} torch {loss.item():.7f} rel {e:.2e}")
    ok &= e <= TOL
    for lname, layer in layers.items():
        for pname in ("weight", "bias"):
            if getattr(layer, pname) is None:
                continue
            ref = getattr(layer, pname).grad
            g = read_npy(os.path.join(odir, f"{lname}.{pname}.grad.npy")).reshape(ref.shape)
            e = rel(g, ref)
            print(f"{name}: d {lname}.{pname:6s} {tuple(ref.shape)} rel {e:.2e}{'' if e <= TOL else '  MISMATCH'}")
            ok &= e <= TOL
    return ok


def compare_params(name, exe, model, params, x, y, work, loss_fn):
    """Like compare, for any parameters: `params` maps dlspec's parameter names to the model's tensors, and the
    PyTorch step's loss is loss_fn(model(x), y). Prints each relative error and the worst; True when all agree
    within TOL."""
    odir = step_check(name, exe, params, x, y, work)
    if odir is None:
        return False
    model.zero_grad()
    loss = loss_fn(model(x), y)
    loss.backward()
    got = read_npy(os.path.join(odir, "loss.npy")).reshape(())
    e = rel(got, loss.detach())
    print(f"{name}: loss dlspec {got.item():.7f} torch {loss.item():.7f} rel {e:.2e}")
    ok, worst = e <= TOL, e
    for pname, t in params.items():
        g = read_npy(os.path.join(odir, pname + ".grad.npy")).reshape(t.shape)
        e = rel(g, t.grad)
        worst = max(worst, e)
        print(f"{name}: d {pname:16s} {tuple(t.shape)} rel {e:.2e}{'' if e <= TOL else '  MISMATCH'}")
        ok &= e <= TOL
    print(f"{name}: worst relative error {worst:.2e}")
    return ok


def check(name, exe, make, work):
    torch.manual_seed(0)
    model, layers, batch = make()
    x = torch.randn(batch, 1, 28, 28)
    y = torch.randint(0, 10, (batch,))
    return compare(name, exe, model, layers, x, y, work)


def main():
    if len(sys.argv) != 4:
        print(__doc__)
        return 2
    torch.set_num_threads(2)
    ok = check("mlp", sys.argv[1], mlp, sys.argv[3])
    ok &= check("lenet", sys.argv[2], lenet, sys.argv[3])
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
