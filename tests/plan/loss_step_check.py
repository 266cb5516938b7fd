#!/usr/bin/python3
"""One training step of each loss's compiled spec (tests/plan/specs/losses/*.dls) against PyTorch 1.13 (cross_entropy
also over the class probabilities mixup and cutmix make).

`dlspec build` the spec, run the executable's `step-check` (forward and backward, no update) on a batch with given
weights; PyTorch (and torchvision for the focal loss) does the same with its own loss. The loss and every parameter
gradient must agree within 1e-4 relative.

usage: loss_step_check.py DLSPEC REPO WORKDIR
"""
import os, shutil, subprocess, sys
import torch, torch.nn as nn, torch.nn.functional as F
from torchvision.ops import sigmoid_focal_loss

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "runtime", "tests"))
from torch_step_check import compare_params  # noqa: E402


class Net(nn.Module):
    """The specs' network: dense(8) |> tanh |> dense(K), then log_softmax for the losses of log-probabilities."""

    def __init__(self, k, log_softmax):
        super().__init__()
        self.fc1, self.fc2, self.log_softmax = nn.Linear(6, 8), nn.Linear(8, k), log_softmax

    def forward(self, x):
        y = self.fc2(torch.tanh(self.fc1(x)))
        return F.log_softmax(y, 1) if self.log_softmax else y


WEIGHT = torch.tensor([0.5, 2, 1, 0.25, 3])


def mixed(n, lam):
    """Soft labels as mixup and cutmix make them: lam of each row's class, 1 - lam of the previous row's."""
    y = F.one_hot(torch.randint(0, 5, (n,)), 5).float()
    return lam * y + (1 - lam) * y.roll(1, 0)


def binary(n, k):
    return (torch.rand(n, k) < 0.5).float()


# name: (classes or outputs, log_softmax, targets(n), torch's loss(output, targets))
CASES = {
    "huber": (3, False, lambda n: torch.randn(n, 3) * 1.5, lambda o, y: F.huber_loss(o, y, delta=0.5)),
    "smooth_l1": (3, False, lambda n: torch.randn(n, 3) * 1.5, lambda o, y: F.smooth_l1_loss(o, y, beta=0.5)),
    "poisson": (3, False, lambda n: torch.randint(0, 5, (n, 3)).float(),
                lambda o, y: F.poisson_nll_loss(o, y, log_input=True, full=False)),
    "kl_div": (4, True, lambda n: torch.softmax(torch.randn(n, 4) * 2, 1),
               lambda o, y: F.kl_div(o, y, reduction="batchmean", log_target=False)),
    "focal": (3, False, lambda n: binary(n, 3), lambda o, y: sigmoid_focal_loss(o, y, alpha=0.25, gamma=2.0, reduction="mean")),
    "hinge": (3, False, lambda n: binary(n, 3), lambda o, y: torch.clamp(1 - (2 * y - 1) * o, min=0).mean()),
    "weighted_ce": (5, False, lambda n: torch.randint(0, 5, (n,)),
                    lambda o, y: F.cross_entropy(o, y, weight=WEIGHT, label_smoothing=0.1)),
    "weighted_nll": (5, True, lambda n: torch.randint(0, 5, (n,)), lambda o, y: F.nll_loss(o, y, weight=WEIGHT)),
    # mixup / cutmix: each row lam onehot(y) + (1 - lam) onehot(y of the row before), torch's probability targets
    "mixup_ce": (5, False, lambda n: mixed(n, 0.3), lambda o, y: F.cross_entropy(o, y, label_smoothing=0.1)),
    "cutmix_ce": (5, False, lambda n: mixed(n, 2 / 3), lambda o, y: F.cross_entropy(o, y)),
}


def check(dlspec, repo, name, work):
    k, log_softmax, targets, loss_fn = CASES[name]
    exe = os.path.join(work, name + ".bin")
    r = subprocess.run([dlspec, "build", os.path.join(repo, "tests/plan/specs/losses", name + ".dls"), "-o", exe],
                       capture_output=True, text=True)
    if r.returncode != 0:
        print(f"{name}: dlspec build failed ({r.returncode}):\n{r.stdout}{r.stderr}")
        return False
    torch.manual_seed(0)
    model = Net(k, log_softmax)
    params = {"dense_1.weight": model.fc1.weight, "dense_1.bias": model.fc1.bias, "dense_2.weight": model.fc2.weight,
              "dense_2.bias": model.fc2.bias}
    x, y = torch.randn(8, 6), targets(8)
    return compare_params(name, exe, model, params, x, y, work, loss_fn)


def main():
    if len(sys.argv) != 4:
        print(__doc__)
        return 2
    torch.set_num_threads(2)
    shutil.rmtree(sys.argv[3], ignore_errors=True)  # results of an earlier run must not count
    os.makedirs(sys.argv[3], exist_ok=True)
    ok = True
    for name in CASES:
        ok &= check(sys.argv[1], sys.argv[2], name, sys.argv[3])
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
