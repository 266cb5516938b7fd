#!/usr/bin/python3
"""One training step of the COMPILED example specs against PyTorch.

`dlspec build specs/mlp.dls` and `specs/lenet.dls`, then each executable's `step-check` runs forward and
backward (no update) on a batch with given weights; PyTorch does the same. The loss and every parameter
gradient must agree within 1e-4 relative.

usage: compiled_step_check.py DLSPEC REPO WORKDIR
"""
import os, subprocess, sys
import torch, torch.nn as nn, torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "runtime", "tests"))
from torch_step_check import write_npy, read_npy, rel  # noqa: E402  (the .npy helpers)

TOL = 1e-4


def mlp():
    m = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(), nn.Linear(256, 10))
    return m, {"dense_1": m[0], "dense_2": m[2], "dense_3": m[4]}, (128, 784)


def lenet():
    m = nn.Sequential(nn.Conv2d(1, 20, 5), nn.MaxPool2d(2), nn.Conv2d(20, 50, 5), nn.MaxPool2d(2), nn.Flatten(),
                      nn.Linear(800, 500), nn.ReLU(), nn.Linear(500, 10))
    return m, {"conv2d_1": m[0], "conv2d_2": m[2], "dense_1": m[5], "dense_2": m[7]}, (64, 1, 28, 28)


def check(dlspec, repo, name, make, work):
    exe = os.path.join(work, name)
    r = subprocess.run([dlspec, "build", os.path.join(repo, "specs", name + ".dls"), "-o", exe],
                       capture_output=True, text=True)
    if r.returncode != 0:
        print(f"{name}: dlspec build failed ({r.returncode}):\n{r.stdout}{r.stderr}")
        return False
    torch.manual_seed(0)
    model, layers, shape = make()
    wdir, odir = os.path.join(work, name + "-w"), os.path.join(work, name + "-out")
    os.makedirs(wdir, exist_ok=True)
    os.makedirs(odir, exist_ok=True)
    for lname, layer in layers.items():
        write_npy(os.path.join(wdir, lname + ".weight.npy"), layer.weight)
        write_npy(os.path.join(wdir, lname + ".bias.npy"), layer.bias)
    x = torch.randn(*shape)
    y = torch.randint(0, 10, (shape[0],))
    write_npy(os.path.join(work, name + "-x.npy"), x)
    write_npy(os.path.join(work, name + "-y.npy"), y)
    r = subprocess.run([exe, "step-check", "--weights", wdir, "--batch", os.path.join(work, name + "-x.npy"),
                        os.path.join(work, name + "-y.npy"), "--out", odir], capture_output=True, text=True)
    if r.returncode != 0:
        print(f"{name}: step-check failed ({r.returncode}):\n{r.stdout}{r.stderr}")
        return False
    model.zero_grad()
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    got = read_npy(os.path.join(odir, "loss.npy")).reshape(())
    e = rel(got, loss.detach())
    print(f"{name}: loss dlspec {got.item():.7f} torch {loss.item():.7f} rel {e:.2e}")
    ok = e <= TOL
    for lname, layer in layers.items():
        for pname in ("weight", "bias"):
            ref = getattr(layer, pname).grad
            g = read_npy(os.path.join(odir, f"{lname}.{pname}.grad.npy")).reshape(ref.shape)
            e = rel(g, ref)
            print(f"{name}: d {lname}.{pname:6s} {tuple(ref.shape)} rel {e:.2e}{'' if e <= TOL else '  MISMATCH'}")
            ok &= e <= TOL
    return ok


def main():
    if len(sys.argv) != 4:
        print(__doc__)
        return 2
    torch.set_num_threads(2)
    os.makedirs(sys.argv[3], exist_ok=True)
    ok = check(sys.argv[1], sys.argv[2], "mlp", mlp, sys.argv[3])
    ok &= check(sys.argv[1], sys.argv[2], "lenet", lenet, sys.argv[3])
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
