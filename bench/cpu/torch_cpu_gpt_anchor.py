#!/usr/bin/python3
"""PyTorch's side of the transformer workload in bench/cpu/run.sh: specs/gpt.dls in torch.nn (embedding(96, 128),
a learned positional table [64, 128], four pre-norm decoder layers of nn.LayerNorm, nn.MultiheadAttention(128, 4,
batch_first=True) with a causal attn_mask, residual, nn.LayerNorm, Linear(128, 512), GELU, Linear(512, 128),
residual; a final nn.LayerNorm and Linear(128, 96)), cross-entropy over every step, gradients clipped to norm 1,
AdamW lr 0.001, batch 32 of 64 steps, synthetic data in memory, 2 threads. Prints one JSON line: sequences per
second. With --bf16 the forward and the loss run under torch.autocast('cpu', dtype=torch.bfloat16)."""
import contextlib, json, sys, time
import torch, torch.nn as nn, torch.nn.functional as F

bf16 = "--bf16" in sys.argv[1:]
autocast = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if bf16 else contextlib.nullcontext

torch.set_num_threads(2)
torch.manual_seed(0)
V, T, D, H, FF, LAYERS, B = 96, 64, 128, 4, 512, 4, 32


class Decoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(D), nn.LayerNorm(D)
        self.attn = nn.MultiheadAttention(D, H, batch_first=True)
        self.fc1, self.fc2 = nn.Linear(D, FF), nn.Linear(FF, D)

    def forward(self, x, mask):
        h = self.ln1(x)
        x = x + self.attn(h, h, h, attn_mask=mask, need_weights=False)[0]
        return x + self.fc2(F.gelu(self.fc1(self.ln2(x))))


class GPT(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(V, D)
        self.pos = nn.Parameter(torch.randn(T, D))
        self.layers = nn.ModuleList(Decoder() for _ in range(LAYERS))
        self.ln, self.out = nn.LayerNorm(D), nn.Linear(D, V)
        self.register_buffer("mask", torch.triu(torch.full((T, T), float("-inf")), 1))

    def forward(self, x):
        h = self.emb(x) + self.pos
        for layer in self.layers:
            h = layer(h, self.mask)
        return self.out(self.ln(h))


m = GPT()
opt = torch.optim.AdamW(m.parameters(), lr=0.001)
x, y = torch.randint(0, V, (B, T)), torch.randint(0, V, (B, T))


def step():
    opt.zero_grad()
    with autocast():
        loss = F.cross_entropy(m(x).reshape(-1, V), y.reshape(-1))
    loss.backward()
    torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
    opt.step()


for _ in range(3):
    step()
n, t = 15, time.perf_counter()
for _ in range(n):
    step()
print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "precision": "bf16" if bf16 else "f32",
                  "seq_s": {"gpt_b32": n * B / (time.perf_counter() - t)}}))
