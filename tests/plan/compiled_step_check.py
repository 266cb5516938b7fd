#!/usr/bin/python3
"""One training step of the COMPILED example specs against PyTorch.

`dlspec build specs/mlp.dls`, `specs/lenet.dls` and tests/plan/specs/*.dls, then each executable's `step-check`
runs forward and backward (no update) on a batch with given weights; PyTorch does the same. The loss and every
parameter gradient must agree within 1e-4 relative. The sequence cases (recurrent layers, per-step dense and
cross-entropy over [N, T, C]) compare against torch.nn's LSTM/GRU/RNN or a few lines of hand-written PyTorch; the
transformer case against torch.nn.MultiheadAttention (batch_first, causal attn_mask) and torch.nn.LayerNorm, the
cross-attention case against torch.nn.MultiheadAttention(queries, memory, memory).

usage: compiled_step_check.py DLSPEC REPO WORKDIR
"""
import os, shutil, subprocess, sys
import torch, torch.nn as nn, torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "runtime", "tests"))
from torch_step_check import compare, compare_params  # noqa: E402  (one step against PyTorch)


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


def ramp(x):
    """Darknet's ramp activation."""
    return F.relu(x) + 0.1 * x


def darknet_reorg(x, s):
    """Darknet's reorg (forward_reorg_layer, reverse=0): each sample read as [C/s^2, H*s, W*s], block offset
    (dy, dx) moved to channel block dy*s + dx of a [C, H, W] view, which is the [C*s*s, H/s, W/s] output."""
    n, c, h, w = x.shape
    v = x.reshape(n, c // (s * s), h, s, w, s)  # [n, c2, j, dy, i, dx]: row j*s + dy, column i*s + dx
    return v.permute(0, 3, 5, 1, 2, 4).reshape(n, c * s * s, h // s, w // s)


class Local(nn.Module):
    """Darknet's [local]: conv's window, one [filters, C, k, k] bank and one bias per output position."""

    def __init__(self, c, filters, k, stride, pad, oh, ow):
        super().__init__()
        self.k, self.stride, self.pad, self.oh, self.ow = k, stride, pad, oh, ow
        bound = 1 / (c * k * k) ** 0.5
        self.weight = nn.Parameter(torch.empty(oh * ow, filters, c, k, k).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(filters, oh, ow).uniform_(-bound, bound))

    def forward(self, x):
        cols = F.unfold(x, self.k, padding=self.pad, stride=self.stride)  # [N, C*k*k, L], rows (c, r, s)
        L, f = self.oh * self.ow, self.weight.shape[1]
        y = torch.einsum("nkl,lfk->nfl", cols, self.weight.reshape(L, f, -1)) + self.bias.reshape(f, L)
        return y.reshape(x.shape[0], f, self.oh, self.ow)


class DarknetOps(nn.Module):
    """tests/plan/specs/darknet_ops.dls: ramp, reorg (darknet's order and the extra form), local."""

    def __init__(self):
        super().__init__()
        self.c1, self.loc, self.fc = nn.Conv2d(4, 8, 3, padding=1), Local(32, 6, 3, 2, 1, 3, 3), nn.Linear(57, 10)

    def forward(self, x):
        h = darknet_reorg(ramp(self.c1(x)), 2)
        h = ramp(self.loc(h)).flatten(1)
        h = torch.cat([h, torch.zeros(h.shape[0], 3)], 1)  # reorg(1, extra: 3)
        return self.fc(h)


def darknet_ops():
    m = DarknetOps()
    return m, {"conv2d_1": m.c1, "local_1": m.loc, "dense_1": m.fc}, (8, 4, 12, 12)


class Seq(nn.Module):
    """tests/plan/specs/sequence.dls: torch.nn's LSTM (no biases), GRU and ReLU RNN, a Linear at every step."""

    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(10, 12, bias=False, batch_first=True)
        self.gru = nn.GRU(12, 10, batch_first=True)
        self.rnn = nn.RNN(10, 9, nonlinearity="relu", batch_first=True)
        self.fc = nn.Linear(9, 7)

    def forward(self, x):
        return self.fc(self.rnn(self.gru(self.lstm(x)[0])[0])[0])


def sequence():
    m = Seq()
    with torch.no_grad():  # h stays away from ReLU's kink: positive input biases
        m.rnn.bias_ih_l0.uniform_(0.0, 0.4)
    params = {"dense_1.weight": m.fc.weight, "dense_1.bias": m.fc.bias}
    for lname, mod in (("lstm_1", m.lstm), ("gru_1", m.gru), ("rnn_1", m.rnn)):
        for p in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            if hasattr(mod, p + "_l0"):
                params[f"{lname}.{p}"] = getattr(mod, p + "_l0")
    x = torch.randn(8, 6, 10)
    y = torch.randint(0, 7, (8, 6))
    return m, params, x, y


class GruBefore(nn.Module):
    """tests/plan/specs/gru_reset_before.dls, by hand: a GRU whose reset gate multiplies h before W_hn
    (reset_after: false), then a leaky-ReLU Elman RNN whose last step feeds a Linear."""

    def __init__(self):
        super().__init__()
        b8, b6 = 1 / 8 ** 0.5, 1 / 6 ** 0.5
        u = lambda *s, b: nn.Parameter(torch.empty(*s).uniform_(-b, b))  # noqa: E731
        self.g_wih, self.g_whh, self.g_bih, self.g_bhh = u(24, 6, b=b8), u(24, 8, b=b8), u(24, b=b8), u(24, b=b8)
        self.r_wih, self.r_whh, self.r_bih, self.r_bhh = u(6, 8, b=b6), u(6, 6, b=b6), u(6, b=b6), u(6, b=b6)
        self.fc = nn.Linear(6, 4)

    def forward(self, x):
        n, t, _ = x.shape
        h, hs = torch.zeros(n, 8), []
        for k in range(t):
            gx = x[:, k] @ self.g_wih.T + self.g_bih
            r = torch.sigmoid(gx[:, :8] + h @ self.g_whh[:8].T + self.g_bhh[:8])
            z = torch.sigmoid(gx[:, 8:16] + h @ self.g_whh[8:16].T + self.g_bhh[8:16])
            c = torch.tanh(gx[:, 16:] + (r * h) @ self.g_whh[16:].T + self.g_bhh[16:])
            h = (1 - z) * c + z * h
            hs.append(h)
        g = torch.zeros(n, 6)
        for k in range(t):
            g = F.leaky_relu(hs[k] @ self.r_wih.T + self.r_bih + g @ self.r_whh.T + self.r_bhh, 0.1)
        return self.fc(g)


def gru_reset_before():
    m = GruBefore()
    params = {"gru_1.weight_ih": m.g_wih, "gru_1.weight_hh": m.g_whh, "gru_1.bias_ih": m.g_bih,
              "gru_1.bias_hh": m.g_bhh, "rnn_1.weight_ih": m.r_wih, "rnn_1.weight_hh": m.r_whh,
              "rnn_1.bias_ih": m.r_bih, "rnn_1.bias_hh": m.r_bhh, "dense_1.weight": m.fc.weight,
              "dense_1.bias": m.fc.bias}
    return m, params, torch.randn(8, 5, 6), torch.randint(0, 4, (8,))


class Decoder(nn.Module):
    """tests/plan/specs/transformer.dls: a positional table, pre-norm torch.nn.MultiheadAttention (2 heads,
    batch_first, causal attn_mask) and a GELU MLP, both residual, and a Linear at every step."""

    def __init__(self):
        super().__init__()
        self.pos = nn.Parameter(torch.randn(7, 8))
        self.ln1, self.ln2 = nn.LayerNorm(8), nn.LayerNorm(8)
        self.attn = nn.MultiheadAttention(8, 2, batch_first=True)
        with torch.no_grad():  # torch's zero biases would leave their gradients' layout untested
            self.attn.in_proj_bias.uniform_(-0.3, 0.3)
            self.attn.out_proj.bias.uniform_(-0.3, 0.3)
        self.fc1, self.fc2, self.out = nn.Linear(8, 16), nn.Linear(16, 8), nn.Linear(8, 5)

    def forward(self, x):
        t = x.shape[1]
        mask = torch.triu(torch.full((t, t), float("-inf")), 1)
        h = x + self.pos[:t]
        q = self.ln1(h)
        h = h + self.attn(q, q, q, attn_mask=mask, need_weights=False)[0]
        h = h + self.fc2(F.gelu(self.fc1(self.ln2(h))))
        return self.out(h)


def transformer():
    m = Decoder()
    params = {"positional_embedding_1.weight": m.pos, "layer_norm_1.weight": m.ln1.weight,
              "layer_norm_1.bias": m.ln1.bias, "multi_head_attention_1.in_proj_weight": m.attn.in_proj_weight,
              "multi_head_attention_1.out_proj.weight": m.attn.out_proj.weight,
              "multi_head_attention_1.in_proj_bias": m.attn.in_proj_bias,
              "multi_head_attention_1.out_proj.bias": m.attn.out_proj.bias, "layer_norm_2.weight": m.ln2.weight,
              "layer_norm_2.bias": m.ln2.bias, "dense_1.weight": m.fc1.weight, "dense_1.bias": m.fc1.bias,
              "dense_2.weight": m.fc2.weight, "dense_2.bias": m.fc2.bias, "dense_3.weight": m.out.weight,
              "dense_3.bias": m.out.bias}
    return m, params, torch.randn(8, 6, 8), torch.randint(0, 5, (8, 6))


class CrossDecoder(nn.Module):
    """tests/plan/specs/cross_attention.dls: torch.nn.MultiheadAttention(q, memory, memory) twice (batch_first), the
    memory four steps derived from the first four of the input; the second causal (attn_mask triu(-inf, 1) of shape
    [6, 4]) and without biases. A memory of another width than the queries' 8 (tests/plan/specs/cross_attention_kdim.dls:
    5) is torch's kdim = vdim, with q_proj_weight, k_proj_weight and v_proj_weight."""

    def __init__(self, memory_width=8):
        super().__init__()
        self.mem, self.ln, self.out = nn.Linear(8, memory_width), nn.LayerNorm(8), nn.Linear(8, 5)
        self.a1 = nn.MultiheadAttention(8, 2, batch_first=True, kdim=memory_width, vdim=memory_width)
        self.a2 = nn.MultiheadAttention(8, 4, bias=False, batch_first=True, kdim=memory_width, vdim=memory_width)
        with torch.no_grad():  # torch's zero biases would leave their gradients' layout untested
            self.a1.in_proj_bias.uniform_(-0.3, 0.3)
            self.a1.out_proj.bias.uniform_(-0.3, 0.3)
            self.ln.weight.uniform_(0.5, 1.5)

    def forward(self, x):
        m = torch.tanh(self.mem(x[:, 0:4]))
        q = self.ln(x)
        h = x + self.a1(q, m, m, need_weights=False)[0]
        mask = torch.triu(torch.full((x.shape[1], m.shape[1]), float("-inf")), 1)
        h = h + self.a2(h, m, m, attn_mask=mask, need_weights=False)[0]
        return self.out(h)


def cross_attention():
    m = CrossDecoder()
    params = {"dense_1.weight": m.mem.weight, "dense_1.bias": m.mem.bias, "layer_norm_1.weight": m.ln.weight,
              "layer_norm_1.bias": m.ln.bias, "cross_attention_1.in_proj_weight": m.a1.in_proj_weight,
              "cross_attention_1.out_proj.weight": m.a1.out_proj.weight,
              "cross_attention_1.in_proj_bias": m.a1.in_proj_bias,
              "cross_attention_1.out_proj.bias": m.a1.out_proj.bias,
              "cross_attention_2.in_proj_weight": m.a2.in_proj_weight,
              "cross_attention_2.out_proj.weight": m.a2.out_proj.weight, "dense_2.weight": m.out.weight,
              "dense_2.bias": m.out.bias}
    return m, params, torch.randn(8, 6, 8), torch.randint(0, 5, (8, 6))


def cross_attention_kdim():
    m = CrossDecoder(memory_width=5)
    params = {"dense_1.weight": m.mem.weight, "dense_1.bias": m.mem.bias, "layer_norm_1.weight": m.ln.weight,
              "layer_norm_1.bias": m.ln.bias}
    for k, a in ((1, m.a1), (2, m.a2)):
        for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight", "in_proj_bias", "out_proj.weight",
                     "out_proj.bias"):
            t = a.out_proj.weight if name == "out_proj.weight" else a.out_proj.bias if name == "out_proj.bias" \
                else getattr(a, name)
            if t is not None:
                params[f"cross_attention_{k}.{name}"] = t
    params.update({"dense_2.weight": m.out.weight, "dense_2.bias": m.out.bias})
    return m, params, torch.randn(8, 6, 8), torch.randint(0, 5, (8, 6))


class Reg(nn.Module):
    """tests/plan/specs/l1_regression.dls: a small regression network."""

    def __init__(self):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(5, 8), nn.Linear(8, 3)

    def forward(self, x):
        return self.fc2(torch.tanh(self.fc1(x)))


def l1_regression():
    m = Reg()
    params = {"dense_1.weight": m.fc1.weight, "dense_1.bias": m.fc1.bias, "dense_2.weight": m.fc2.weight,
              "dense_2.bias": m.fc2.bias}
    y = torch.randn(8, 3)
    y[0, 0] = 123.0  # one far target: |x - t| is not the squared error
    return m, params, torch.randn(8, 5), y


class UpconvOps(nn.Module):
    """tests/plan/specs/upconv_ops.dls: torch.nn.ConvTranspose2d, F.pad (reflect, constant), slicing, Tensor.repeat."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 4, 3, stride=2, padding=1)
        self.t1 = nn.ConvTranspose2d(4, 5, 3, stride=2, padding=1, output_padding=1)
        self.t2 = nn.ConvTranspose2d(4, 4, 2, groups=2, dilation=2, bias=False)
        self.fc = nn.Linear(4 * 20 * 9, 10)

    def forward(self, x):
        h = F.relu(self.t1(F.relu(self.c1(x))))
        h = F.pad(h, (1, 2, 2, 1), mode="reflect")[:, 1:5][..., 0::2]
        h = F.pad(h.repeat(1, 1, 2, 1), (1, 1), value=0.5)
        return self.fc(torch.flatten(self.t2(h), 1))


def upconv_ops():
    m = UpconvOps()
    return m, {"conv2d_1": m.c1, "conv_transpose2d_1": m.t1, "conv_transpose2d_2": m.t2, "dense_1": m.fc}, (8, 3, 6, 6)


class TwoHeads(nn.Module):
    """tests/plan/specs/two_heads.dls: two outputs of one trunk (a class head and a reconstruction head)."""

    def __init__(self):
        super().__init__()
        self.fc1, self.cls, self.rec = nn.Linear(6, 8), nn.Linear(8, 4), nn.Linear(8, 6)

    def forward(self, x):
        h = torch.tanh(self.fc1(x))
        return self.cls(h), self.rec(h)


def layer_params(layers):
    """dlspec's parameter names of (weight, bias) layers: {"dense_1.weight": ..., "dense_1.bias": ...}."""
    return {f"{n}.{p}": getattr(m, p) for n, m in layers.items() for p in ("weight", "bias")}


def two_heads():
    m = TwoHeads()
    return m, layer_params({"dense_1": m.fc1, "dense_2": m.cls, "dense_3": m.rec}), torch.randn(8, 6), torch.randint(0, 4, (8,))


def two_heads_loss(x):
    """The spec's loss: 1.0 * cross_entropy(model.cls, kind) + 0.5 * mse(model.recon, features)
    + 0.25 * l1(model.recon, features), the targets of the last two terms the input batch itself."""
    return lambda out, y: 1.0 * F.cross_entropy(out[0], y) + 0.5 * F.mse_loss(out[1], x) + 0.25 * F.l1_loss(out[1], x)


def autoencoder():
    m = nn.Sequential(nn.Linear(6, 3), nn.Tanh(), nn.Linear(3, 6))
    return m, layer_params({"dense_1": m[0], "dense_2": m[2]}), torch.randn(8, 6), torch.randint(0, 4, (8,))


class PairNet(nn.Module):
    """tests/plan/specs/pair.dls and pair_weighted.dls: a trunk and two embeddings of it (and a score for the second)."""

    def __init__(self, score=False):
        super().__init__()
        self.fc1, self.a, self.b = nn.Linear(6, 8), nn.Linear(8, 4), nn.Linear(8, 4)
        self.s = nn.Linear(8, 1) if score else None

    def forward(self, x):
        h = torch.tanh(self.fc1(x))
        return (self.a(h), self.b(h)) + ((self.s(h),) if self.s is not None else ())


def pair_targets():
    return torch.tensor([1, -1, -1, 1, -1, 1, -1, -1], dtype=torch.float32).reshape(8, 1)


def pair():
    m = PairNet()
    return m, layer_params({"dense_1": m.fc1, "dense_2": m.a, "dense_3": m.b}), torch.randn(8, 6), pair_targets()


def pair_weighted():
    m = PairNet(score=True)
    return m, layer_params({"dense_1": m.fc1, "dense_2": m.a, "dense_3": m.b, "dense_4": m.s}), torch.randn(8, 6), pair_targets()


def check_with_input_target(dlspec, repo, name, make, work, loss_of_input):
    """check_params for a loss whose targets include the input batch: loss_of_input(x) is the loss function."""
    exe = os.path.join(work, name + ".bin")
    r = subprocess.run([dlspec, "build", os.path.join(repo, SPECS[name]), "-o", exe], capture_output=True, text=True)
    if r.returncode != 0:
        print(f"{name}: dlspec build failed ({r.returncode}):\n{r.stdout}{r.stderr}")
        return False
    torch.manual_seed(0)
    model, params, x, y = make()
    return compare_params(name, exe, model, params, x, y, work, loss_of_input(x))


def cross_entropy(logits, y):
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))


def check_params(dlspec, repo, name, make, work, loss_fn=cross_entropy):
    """Like check, for models whose parameters are not (weight, bias) layers: `make` gives the model, a map
    from dlspec's parameter names to tensors, the batch and its labels ([N] or, per step, [N, T]); the loss
    is loss_fn(output, labels): by default cross-entropy over every labelled row (logits.reshape(-1, C) for a
    sequence)."""
    exe = os.path.join(work, name + ".bin")
    r = subprocess.run([dlspec, "build", os.path.join(repo, SPECS[name]), "-o", exe], capture_output=True, text=True)
    if r.returncode != 0:
        print(f"{name}: dlspec build failed ({r.returncode}):\n{r.stdout}{r.stderr}")
        return False
    torch.manual_seed(0)
    model, params, x, y = make()
    return compare_params(name, exe, model, params, x, y, work, loss_fn)


SPECS = {"sequence": "tests/plan/specs/sequence.dls", "transformer": "tests/plan/specs/transformer.dls", "gru_reset_before": "tests/plan/specs/gru_reset_before.dls",
         "mlp": "specs/mlp.dls", "lenet": "specs/lenet.dls", "resblock": "tests/plan/specs/resblock.dls",
         "darknet_ops": "tests/plan/specs/darknet_ops.dls", "l1_regression": "tests/plan/specs/l1_regression.dls",
         "upconv_ops": "tests/plan/specs/upconv_ops.dls", "two_heads": "tests/plan/specs/two_heads.dls",
         "autoencoder": "tests/plan/specs/autoencoder.dls", "cross_attention": "tests/plan/specs/cross_attention.dls",
         "cross_attention_kdim": "tests/plan/specs/cross_attention_kdim.dls",
         "pair": "tests/plan/specs/pair.dls", "pair_weighted": "tests/plan/specs/pair_weighted.dls"}


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
    ok &= check(sys.argv[1], sys.argv[2], "darknet_ops", darknet_ops, sys.argv[3])
    ok &= check_params(sys.argv[1], sys.argv[2], "sequence", sequence, sys.argv[3])
    ok &= check_params(sys.argv[1], sys.argv[2], "gru_reset_before", gru_reset_before, sys.argv[3])
    ok &= check_params(sys.argv[1], sys.argv[2], "transformer", transformer, sys.argv[3])
    ok &= check_params(sys.argv[1], sys.argv[2], "l1_regression", l1_regression, sys.argv[3], F.l1_loss)
    ok &= check(sys.argv[1], sys.argv[2], "upconv_ops", upconv_ops, sys.argv[3])
    ok &= check_with_input_target(sys.argv[1], sys.argv[2], "two_heads", two_heads, sys.argv[3], two_heads_loss)
    ok &= check_with_input_target(sys.argv[1], sys.argv[2], "autoencoder", autoencoder, sys.argv[3],
                                  lambda x: (lambda out, y: F.mse_loss(out, x)))
    ok &= check_params(sys.argv[1], sys.argv[2], "cross_attention", cross_attention, sys.argv[3])
    ok &= check_params(sys.argv[1], sys.argv[2], "cross_attention_kdim", cross_attention_kdim, sys.argv[3])
    # torch.nn.CosineEmbeddingLoss (mean): its margin, its eps inside the norms' product, both outputs' gradients
    ok &= check_params(sys.argv[1], sys.argv[2], "pair", pair, sys.argv[3],
                       lambda out, y: F.cosine_embedding_loss(out[0], out[1], y.reshape(-1), margin=0.3))
    ok &= check_params(sys.argv[1], sys.argv[2], "pair_weighted", pair_weighted, sys.argv[3],
                       lambda out, y: 0.5 * F.cosine_embedding_loss(out[0], out[1], y.reshape(-1), margin=-0.2) +
                       1.0 * F.mse_loss(out[2], y))
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
