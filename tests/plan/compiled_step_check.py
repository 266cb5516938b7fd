#!/usr/bin/python3
"""One training step of the COMPILED example specs against PyTorch.

`dlspec build specs/mlp.dls` and `specs/lenet.dls`, then each executable's `step-check` runs forward and
backward (no update) on a batch with given weights; PyTorch does the same. The loss and every parameter
gradient must agree within 1e-4 relative.

usage: compiled_step_check.py DLSPEC REPO WORKDIR
"""
import os, shutil, subprocess, sys
import torch, torch.nn as nn, torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "runtime", "tests"))
from torch_step_check import compare  # noqa: E402  (one step against PyTorch)


def mlp():
    m = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(), nn.Linear(256, 10))
    return m, {"dense_1": m[0], "dense_2": m[2], "dense_3": m[4]}, (128, 784)


def lenet():
    m = nn.Sequential(nn.Conv2d(1, 20, 5), nn.MaxPool2d(2), nn.Conv2d(20, 50, 5), nn.MaxPool2d(2), nn.Flatten(),
                      nn.Linear(800, 500), nn.ReLU(), nn.Linear(500, 10))
    return m, {"conv2d_1": m[0], "conv2d_2": m[2], "dense_1": m[5], "dense_2": m[7]}, (64, 1, 28, 28)


class ResBlock(nn.Module):
    """tests/plan/specs/resblock.dls: a value with two consumers, batch norm, add, pooling."""

    def __init__(self):
        super().__init__()
        self.c1, self.bn, self.c2, self.fc = nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.Conv2d(8, 8, 3, padding=1), nn.Linear(128, 10)

    def forward(self, x):
        h = F.relu(self.bn(self.c1(x)))
        y = F.relu(self.c2(h))
        return self.fc(torch.flatten(F.max_pool2d(h + y, 2), 1))


def resblock():
    m = ResBlock()
    with torch.no_grad():  # non-trivial affine parameters, so their gradients are tested for real
        m.bn.weight.uniform_(0.5, 1.5)
        m.bn.bias.uniform_(-0.5, 0.5)
    layers = {"conv2d_1": m.c1, "batch_norm_1": m.bn, "conv2d_2": m.c2, "dense_1": m.fc}
    extra = {"batch_norm_1.running_mean": m.bn.running_mean.clone(), "batch_norm_1.running_var": m.bn.running_var.clone()}
    return m, layers, (16, 3, 8, 8), extra


SPECS = {"mlp": "specs/mlp.dls", "lenet": "specs/lenet.dls", "resblock": "tests/plan/specs/resblock.dls"}


def check(dlspec, repo, name, make, work):
    exe = os.path.join(work, name + ".bin")
    r = subprocess.run([dlspec, "build", os.path.join(repo, SPECS[name]), "-o", exe],
                       capture_output=True, text=True)
    if r.returncode != 0:
        print(f"{name}: dlspec build failed ({r.returncode}):\n{r.stdout}{r.stderr}")
        return False
    torch.manual_seed(0)
    made = make()
    model, layers, shape = made[:3]
    extra = made[3] if len(made) > 3 else None
    x = torch.randn(*shape)
    y = torch.randint(0, 10, (shape[0],))
    return compare(name, exe, model, layers, x, y, work, extra)


def main():
    if len(sys.argv) != 4:
        print(__doc__)
        return 2
    torch.set_num_threads(2)
    shutil.rmtree(sys.argv[3], ignore_errors=True)  # results of an earlier run must not count
    os.makedirs(sys.argv[3], exist_ok=True)
    ok = check(sys.argv[1], sys.argv[2], "mlp", mlp, sys.argv[3])
    ok &= check(sys.argv[1], sys.argv[2], "lenet", lenet, sys.argv[3])
    ok &= check(sys.argv[1], sys.argv[2], "resblock", resblock, sys.argv[3])
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
