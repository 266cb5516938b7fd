#!/usr/bin/python3
"""A checkpoint through scripts/dlsc.py into torch.nn: trains a small spec for one epoch, loads the checkpoint
into the same network written in torch.nn and compares the forward outputs with the program's own
(`predict --outputs`, eval mode: batch norm on its running statistics).

    dlsc_roundtrip.py DLSPEC
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
import dlsc  # noqa: E402

SPEC = """dlspec 1

dataset tiny {{
  train = npy("{d}/x.npy", "{d}/y.npy")
  sample image: f32[1, 8, 8]
  label kind: class<3>
}}

pipeline train_input from tiny.train {{
  shuffle(buffer: all)
  batch(16)
}}

network Small(x: f32[N, 1, 8, 8]) -> logits[N, 3] {{
  h = x |> conv2d(filters: 4, kernel: 3, pad: 1) |> batch_norm |> relu |> maxpool(2)
  return h |> flatten |> dense(3)
}}

train small {{
  model      = Small on cpu
  data       = train_input
  loss       = cross_entropy(model.out, kind)
  optimizer  = adam(lr: 0.01)
  epochs     = 1
  checkpoint = "{d}/run" every 1 epoch
  seed       = 7
}}
"""


class Small(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 4, 3, padding=1)
        self.bn = torch.nn.BatchNorm2d(4)
        self.fc = torch.nn.Linear(64, 3)

    def forward(self, x):
        h = torch.nn.functional.max_pool2d(torch.relu(self.bn(self.conv(x))), 2)
        return self.fc(h.flatten(1))


def main():
    dlspec = sys.argv[1]
    with tempfile.TemporaryDirectory() as d:
        rng = np.random.default_rng(3)
        x = rng.normal(size=(64, 1, 8, 8)).astype(np.float32)
        np.save(f"{d}/x.npy", x)
        np.save(f"{d}/y.npy", rng.integers(0, 3, 64).astype(np.int64))
        with open(f"{d}/small.dls", "w") as f:
            f.write(SPEC.format(d=d))
        subprocess.run([dlspec, "build", f"{d}/small.dls", "-o", f"{d}/small"], check=True)
        subprocess.run([f"{d}/small", "train"], check=True, stdout=subprocess.DEVNULL)
        ckpts = sorted(p for p in os.listdir(f"{d}/run") if p.endswith(".dlsc"))
        ck = dlsc.read(f"{d}/run/{ckpts[-1]}")
        names = list(ck.tensors)
        print("header:", {k: v for k, v in ck.header.items() if k != "made_by"})
        print("tensors:", names)
        assert ck.header["epoch"] == 1 and ck.header["made_by"]["optimizer"] == "adam", ck.header
        assert "conv2d_1.weight#1" in names, "adam's second moment is stored after the value"
        m = Small()
        m.load_state_dict(dlsc.state_dict(ck, m))
        m.eval()
        subprocess.run([f"{d}/small", "predict", f"{d}/x.npy", "--checkpoint", f"{d}/run", "--outputs", f"{d}/out.npy"],
                       check=True)
        ours = np.load(f"{d}/out.npy")
        with torch.no_grad():
            theirs = m(torch.from_numpy(x)).numpy()
        err = np.abs(ours - theirs).max() / max(1e-6, np.abs(theirs).max())
        print(f"outputs {ours.shape}: max relative difference {err:.2e}")
        if ours.shape != theirs.shape or not err < 1e-4:
            print("FAIL: the checkpoint loaded into torch.nn computes other outputs")
            return 1
        # the optimizer state is the same tensors' moments: the running mean moved off its initial zeros
        assert np.abs(ck.tensors["batch_norm_1.running_mean"]).max() > 0
    print("ok   dlsc -> torch.nn state_dict: same outputs as the program's predict")
    return 0


if __name__ == "__main__":
    sys.exit(main())
