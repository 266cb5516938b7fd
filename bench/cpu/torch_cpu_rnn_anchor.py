#!/usr/bin/python3
"""PyTorch's side of the sequence workload in bench/cpu/run.sh: specs/charlm.dls in torch.nn (two LSTM(128)
layers over [32, 32, 64] one-hot-sized inputs, a per-step Linear(128, 64), cross-entropy over every step, gradients
clipped to norm 1, Adam lr 0.002), synthetic data in memory, 2 threads. Prints one JSON line: sequences per second."""
import json, time
import torch, torch.nn as nn, torch.nn.functional as F

torch.set_num_threads(2)
torch.manual_seed(0)


class CharLM(nn.Module):
    def __init__(self):
        super().__init__()
        self.l1 = nn.LSTM(64, 128, batch_first=True)
        self.l2 = nn.LSTM(128, 128, batch_first=True)
        self.fc = nn.Linear(128, 64)

    def forward(self, x):
        return self.fc(self.l2(self.l1(x)[0])[0])


m = CharLM()
opt = torch.optim.Adam(m.parameters(), lr=0.002)
x, y = torch.randn(32, 32, 64), torch.randint(0, 64, (32, 32))


def step():
    opt.zero_grad()
    F.cross_entropy(m(x).reshape(-1, 64), y.reshape(-1)).backward()
    torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
    opt.step()


for _ in range(5):
    step()
n, t = 50, time.perf_counter()
for _ in range(n):
    step()
print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(),
                  "seq_s": {"charlm_b32": n * 32 / (time.perf_counter() - t)}}))
