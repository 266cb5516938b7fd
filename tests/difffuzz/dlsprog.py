"""A dlspec program held as data, rendered two ways: as a .dls spec and as the same program in PyTorch.

The op walk (optable_walk.py) and the differential fuzzer (difffuzz.py) build `Program`s; `render()` gives
the spec text, `TorchNet` computes what PyTorch computes for it. Every op of the network categories and
every loss has one entry in OPS (its torch semantics, its parameters); an op of the op table without an
entry is reported by both tests, so a new op cannot go untested.

The PyTorch side follows the op table's docs and docs/language.md: dense over the last axis, conv2d/pooling
NCHW with dlspec's `same` padding (total padding split top/left first, as WindowRule.cpp), avgpool excluding
padding, softmax/log_softmax over the last axis, the recurrent layers as torch.nn's cells (batch first), and
losses averaged as torch's `mean` reduction.
"""
import json, math, os, struct, subprocess, zlib

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
TOL = 1e-4

# ---------------------------------------------------------------------------------------------------------
# The op table, as dumped by the dlspec_optable_dump tool (JSON).


def load_optable(dump_exe):
    out = subprocess.run([dump_exe], capture_output=True, text=True, check=True).stdout
    return json.loads(out)["ops"]


NETWORK_CATEGORIES = ("layer", "activation", "structural op")

# ---------------------------------------------------------------------------------------------------------
# Values of attributes as written in a spec.


class Word(str):
    """An enum word (`same`, `last`, `relu`): rendered bare."""


def fmt_value(v):
    if isinstance(v, Word):
        return str(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        r = repr(float(v))
        return r if "e" in r or "." in r else r + ".0"
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(fmt_value(x) for x in v) + "]"
    raise TypeError(v)


def fmt_args(args, positional=()):
    """args: ordered (name, value) pairs; names in `positional` are written without their name, first."""
    parts = []
    for n, v in args:
        parts.append(fmt_value(v) if n in positional else f"{n}: {fmt_value(v)}")
    return ", ".join(parts)


def pair(v):
    return (v, v) if isinstance(v, int) else (v[0], v[1])


# ---------------------------------------------------------------------------------------------------------
# Network ops: params(args, in_shape) -> [(suffix, shape, trainable)], forward(args, xs, p, training) -> y.
# in_shape is per sample (no batch dim); xs are batched tensors; p maps suffix -> tensor.


def same_pad(n, k, s, d):
    out = (n + s - 1) // s
    total = max((out - 1) * s + d * (k - 1) + 1 - n, 0)
    return total // 2, total - total // 2


def pads(args, in_hw, k, s, d):
    """(top, left, bottom, right) of a window op."""
    p = args.get("pad", 0)
    if isinstance(p, str) and p == "same":
        t, b = same_pad(in_hw[0], k[0], s[0], d[0])
        l, r = same_pad(in_hw[1], k[1], s[1], d[1])
        return t, l, b, r
    if isinstance(p, str) and p == "valid":
        return 0, 0, 0, 0
    if isinstance(p, int):
        return p, p, p, p
    if len(p) == 2:
        return p[0], p[1], p[0], p[1]
    return tuple(p)


def dense_params(a, s):
    ps = [("weight", (a["units"], s[-1]), True)]
    if a.get("bias", True):
        ps.append(("bias", (a["units"],), True))
    return ps


def dense_fwd(a, xs, p, training):
    return F.linear(xs[0], p["weight"], p.get("bias"))


def conv_params(a, s):
    kh, kw = pair(a["kernel"])
    ps = [("weight", (a["filters"], s[0] // a.get("groups", 1), kh, kw), True)]
    if a.get("bias", True):
        ps.append(("bias", (a["filters"],), True))
    return ps


def conv_fwd(a, xs, p, training):
    x = xs[0]
    k, st, d = pair(a["kernel"]), pair(a.get("stride", 1)), pair(a.get("dilation", 1))
    t, l, b, r = pads(a, x.shape[2:], k, st, d)
    x = F.pad(x, (l, r, t, b))
    return F.conv2d(x, p["weight"], p.get("bias"), stride=st, dilation=d, groups=a.get("groups", 1))


def conv1d_params(a, s):
    ps = [("weight", (a["filters"], s[0] // a.get("groups", 1), a["kernel"]), True)]
    if a.get("bias", True):
        ps.append(("bias", (a["filters"],), True))
    return ps


def conv1d_fwd(a, xs, p, training):
    """torch.nn.functional.conv1d; `pad`: an integer, [left, right], same (TensorFlow's split) or valid."""
    x = xs[0]
    k, st, d = a["kernel"], a.get("stride", 1), a.get("dilation", 1)
    pad = a.get("pad", 0)
    if isinstance(pad, str):
        l, r = same_pad(x.shape[2], k, st, d) if pad == "same" else (0, 0)
    elif isinstance(pad, int):
        l, r = pad, pad
    else:
        l, r = pad
    return F.conv1d(F.pad(x, (l, r)), p["weight"], p.get("bias"), stride=st, dilation=d, groups=a.get("groups", 1))


def pool_fwd(kind):
    def fwd(a, xs, p, training):
        x = xs[0]
        k = pair(a["kernel"])
        st = pair(a.get("stride", a["kernel"]))
        d = pair(a.get("dilation", 1))
        t, l, b, r = pads(a, x.shape[2:], k, st, d)
        if kind == "max":
            x = F.pad(x, (l, r, t, b), value=-math.inf)
            return F.max_pool2d(x, k, st, 0, d)
        # average over the window's real elements (padding excluded)
        ones = torch.ones_like(x[:1, :1])
        sx = F.avg_pool2d(F.pad(x, (l, r, t, b)), k, st, 0) * (k[0] * k[1])
        cnt = F.avg_pool2d(F.pad(ones, (l, r, t, b)), k, st, 0) * (k[0] * k[1])
        return sx / cnt
    return fwd


def pool1d_fwd(kind):
    """torch's max_pool1d / avg_pool1d (padding excluded from the average); `pad` as conv1d's."""
    def fwd(a, xs, p, training):
        x = xs[0]
        k, st, d = a["kernel"], a.get("stride", a["kernel"]), a.get("dilation", 1)
        pad = a.get("pad", 0)
        if isinstance(pad, str):
            l, r = same_pad(x.shape[2], k, st, d) if pad == "same" else (0, 0)
        elif isinstance(pad, int):
            l, r = pad, pad
        else:
            l, r = pad
        if kind == "max":
            return F.max_pool1d(F.pad(x, (l, r), value=-math.inf), k, st, 0, d)
        sx = F.avg_pool1d(F.pad(x, (l, r)), k, st, 0) * k
        cnt = F.avg_pool1d(F.pad(torch.ones_like(x[:1, :1]), (l, r)), k, st, 0) * k
        return sx / cnt
    return fwd


def bn_params(a, s):
    c = s[0]
    return [("weight", (c,), True), ("bias", (c,), True), ("running_mean", (c,), False), ("running_var", (c,), False)]


def bn_fwd(a, xs, p, training):
    return F.batch_norm(xs[0], p["running_mean"], p["running_var"], p["weight"], p["bias"], training,
                        a.get("momentum", 0.1), a.get("eps", 1e-5))


def ln_params(a, s):
    shp = tuple(s[-a.get("axes", 1):])
    return [("weight", shp, True), ("bias", shp, True)]


def ln_fwd(a, xs, p, training):
    """torch.nn.LayerNorm(normalized_shape = the last `axes` axes' sizes)."""
    return F.layer_norm(xs[0], tuple(xs[0].shape[-a.get("axes", 1):]), p["weight"], p["bias"], a.get("eps", 1e-5))


def dropout_fwd(a, xs, p, training):
    assert a.get("p", 0.5) == 0 or not training, "dropout with p > 0 has no deterministic PyTorch twin"
    return xs[0]


def emb_params(a, s):
    return [("weight", (a["vocab"], a["dim"]), True)]


def emb_fwd(a, xs, p, training):
    return F.embedding(xs[0].long(), p["weight"])


GATES = {"rnn": 1, "gru": 3, "lstm": 4}


def rec_names(a):
    """The parameter-name suffix of each layer and direction: '' for one layer in one direction, else torch.nn's
    _l{k}[_reverse]."""
    layers, dirs = a.get("layers", 1), 2 if a.get("bidirectional", False) else 1
    if layers == 1 and dirs == 1:
        return [(0, 0, "")]
    return [(l, d, "_l%d%s" % (l, "_reverse" if d else "")) for l in range(layers) for d in range(dirs)]


def rec_params(op):
    def params(a, s):
        g, u = GATES[op], a["units"]
        dirs = 2 if a.get("bidirectional", False) else 1
        ps = []
        for l, _, sfx in rec_names(a):
            f = s[-1] if l == 0 else dirs * u
            ps += [("weight_ih" + sfx, (g * u, f), True), ("weight_hh" + sfx, (g * u, u), True)]
            if a.get("bias", True):
                ps += [("bias_ih" + sfx, (g * u,), True), ("bias_hh" + sfx, (g * u,), True)]
        return ps
    return params


def rec_torch(op, a, x, p):
    """torch.nn.RNN/GRU/LSTM(num_layers, bidirectional, batch_first=True)'s forward (the _VF kernel its forward
    calls, with the flat weights in torch.nn's order) with these parameters, for the cells torch.nn has: the
    output, or cat(h_n[-2], h_n[-1]) for output: last."""
    u, layers, bidi, bias = a["units"], a.get("layers", 1), a.get("bidirectional", False), a.get("bias", True)
    dirs = 2 if bidi else 1
    flat = []
    for _, _, sfx in rec_names(a):
        flat += [p["weight_ih" + sfx], p["weight_hh" + sfx]] + ([p["bias_ih" + sfx], p["bias_hh" + sfx]] if bias else [])
    h0 = x.new_zeros(layers * dirs, x.shape[0], u)
    args = (flat, bias, layers, 0.0, True, bidi, True)
    if op == "lstm":
        y, h, _ = torch._VF.lstm(x, (h0, h0), *args)
    elif op == "gru":
        y, h = torch._VF.gru(x, h0, *args)
    else:
        y, h = (torch._VF.rnn_relu if a.get("activation", "tanh") == "relu" else torch._VF.rnn_tanh)(x, h0, *args)
    if a.get("output", "sequence") != "last":
        return y
    return torch.cat([h[-2], h[-1]], 1) if bidi else h[-1]


def rec_cell(op, a, x, p, sfx, reverse, pad=None):
    """One layer in one direction, written out (for the cells torch.nn lacks: leaky_relu, reset_after: false, and
    for padded sequences: pad[n, t] true where step t of sample n is padding: h and c stay, the output is 0)."""
    n, t, _ = x.shape
    u = a["units"]
    wih, whh = p["weight_ih" + sfx], p["weight_hh" + sfx]
    bih = p.get("bias_ih" + sfx, wih.new_zeros(wih.shape[0]))
    bhh = p.get("bias_hh" + sfx, wih.new_zeros(wih.shape[0]))
    h = x.new_zeros(n, u)
    c = x.new_zeros(n, u)
    hs = []
    for k in (range(t - 1, -1, -1) if reverse else range(t)):
        h_prev, c_prev = h, c
        gx = x[:, k] @ wih.T + bih
        if op == "rnn":
            z = gx + h @ whh.T + bhh
            act = a.get("activation", "tanh")
            h = torch.tanh(z) if act == "tanh" else F.relu(z) if act == "relu" else F.leaky_relu(z, a.get("alpha", 0.01))
        elif op == "gru":
            gh = h @ whh.T + bhh
            r = torch.sigmoid(gx[:, :u] + gh[:, :u])
            zz = torch.sigmoid(gx[:, u:2 * u] + gh[:, u:2 * u])
            if a.get("reset_after", True):
                nn_ = torch.tanh(gx[:, 2 * u:] + r * gh[:, 2 * u:])
            else:
                nn_ = torch.tanh(gx[:, 2 * u:] + (r * h) @ whh[2 * u:].T + bhh[2 * u:])
            h = (1 - zz) * nn_ + zz * h
        else:
            g = gx + h @ whh.T + bhh
            i, f, gg, o = torch.sigmoid(g[:, :u]), torch.sigmoid(g[:, u:2 * u]), torch.tanh(g[:, 2 * u:3 * u]), torch.sigmoid(g[:, 3 * u:])
            c = f * c + i * gg
            h = o * torch.tanh(c)
        if pad is None:
            hs.append(h)
            continue
        m = pad[:, k:k + 1]
        h, c = torch.where(m, h_prev, h), torch.where(m, c_prev, c)
        hs.append(torch.where(m, torch.zeros_like(h), h))
    seq = torch.stack(hs[::-1] if reverse else hs, 1)
    return seq, h


def rec_fwd(op):
    def fwd(a, xs, p, training):
        x = xs[0]
        written = (op == "rnn" and a.get("activation", "tanh") == "leaky_relu") or \
                  (op == "gru" and not a.get("reset_after", True)) or "_mask" in a
        if not written:
            return rec_torch(op, a, x, p)
        pad = None
        if "_mask" in a:
            tok, k = a["_mask"]
            pad = tok == k
        layers = a.get("layers", 1)
        cells = rec_names(a)
        for l in range(layers):
            outs = [rec_cell(op, a, x, p, sfx, d == 1, pad) for ll, d, sfx in cells if ll == l]
            x = torch.cat([o[0] for o in outs], 2)
        return torch.cat([o[1] for o in outs], 1) if a.get("output", "sequence") == "last" else x
    return fwd


def mha_params(a, s):
    d = a["dim"]
    ps = [("in_proj_weight", (3 * d, d), True), ("out_proj.weight", (d, d), True)]
    if a.get("bias", True):
        ps += [("in_proj_bias", (3 * d,), True), ("out_proj.bias", (d,), True)]
    return ps


def mha_fwd(a, xs, p, training):
    """torch.nn.MultiheadAttention(dim, heads, dropout, bias, batch_first=True)'s forward with these parameters
    (the functional form its forward calls), self-attention, attn_mask triu(-inf, 1) when causal."""
    assert a.get("dropout", 0.0) == 0 or not training, "attention dropout has no deterministic PyTorch twin"
    x = xs[0]
    t = x.shape[1]
    mask = None
    if a.get("causal", False):
        mask = torch.triu(torch.full((t, t), float("-inf")), 1)
    q = x.transpose(0, 1)
    y, _ = F.multi_head_attention_forward(
        q, q, q, a["dim"], a["heads"], p["in_proj_weight"], p.get("in_proj_bias"), None, None, False,
        a.get("dropout", 0.0), p["out_proj.weight"], p.get("out_proj.bias"), training=training, need_weights=False,
        attn_mask=mask)
    return y.transpose(0, 1)


def cross_params(a, s):
    """cross_attention over a memory of shape s: multi_head_attention's parameters, or over a memory of another width
    torch's q_proj_weight, k_proj_weight, v_proj_weight (kdim = vdim = s[-1]) in dlspec's order."""
    d, k = a["dim"], s[-1]
    if k == d:
        return mha_params(a, s)
    ps = [("q_proj_weight", (d, d), True), ("k_proj_weight", (d, k), True), ("v_proj_weight", (d, k), True),
          ("out_proj.weight", (d, d), True)]
    if a.get("bias", True):
        ps += [("in_proj_bias", (3 * d,), True), ("out_proj.bias", (d,), True)]
    return ps


def cross_fwd(a, xs, p, training):
    """torch.nn.MultiheadAttention(dim, heads, dropout, bias, batch_first=True, kdim=K, vdim=K)(x, memory, memory)'s
    forward with these parameters, attn_mask triu(-inf, 1) of shape [T, S] when causal."""
    assert a.get("dropout", 0.0) == 0 or not training, "attention dropout has no deterministic PyTorch twin"
    x, m = xs[0], xs[1]
    mask = None
    if a.get("causal", False):
        mask = torch.triu(torch.full((x.shape[1], m.shape[1]), float("-inf")), 1)
    q, kv = x.transpose(0, 1), m.transpose(0, 1)
    split = "q_proj_weight" in p
    y, _ = F.multi_head_attention_forward(
        q, kv, kv, a["dim"], a["heads"], p.get("in_proj_weight"), p.get("in_proj_bias"), None, None, False,
        a.get("dropout", 0.0), p["out_proj.weight"], p.get("out_proj.bias"), training=training, need_weights=False,
        attn_mask=mask, use_separate_proj_weight=split, q_proj_weight=p.get("q_proj_weight"),
        k_proj_weight=p.get("k_proj_weight"), v_proj_weight=p.get("v_proj_weight"))
    return y.transpose(0, 1)


def pos_params(a, s):
    return [("weight", (a["max_len"], s[-1]), True)]


def pos_fwd(a, xs, p, training):
    x = xs[0]
    return x + p["weight"][: x.shape[1]]


def upsample_fwd(a, xs, p, training):
    f = a.get("factor", 2)
    return xs[0].repeat_interleave(f, 2).repeat_interleave(f, 3)


def reorg_fwd(a, xs, p, training):
    x = xs[0]
    if a.get("extra", 0) > 0:
        return torch.cat([x.flatten(1), x.new_zeros(x.shape[0], a["extra"])], 1)
    s = a.get("stride", 2)
    n, c, h, w = x.shape
    v = x.reshape(n, c // (s * s), h, s, w, s)
    return v.permute(0, 3, 5, 1, 2, 4).reshape(n, c * s * s, h // s, w // s)


def local_out(a, s):
    k, st = pair(a["kernel"]), pair(a.get("stride", 1))
    t, l, b, r = pads(a, s[1:], k, st, (1, 1))
    return (s[1] + t + b - k[0]) // st[0] + 1, (s[2] + l + r - k[1]) // st[1] + 1


def local_params(a, s):
    kh, kw = pair(a["kernel"])
    oh, ow = local_out(a, s)
    ps = [("weight", (oh * ow, a["filters"], s[0], kh, kw), True)]
    if a.get("bias", True):
        ps.append(("bias", (a["filters"], oh, ow), True))
    return ps


def local_fwd(a, xs, p, training):
    x = xs[0]
    k, st = pair(a["kernel"]), pair(a.get("stride", 1))
    t, l, b, r = pads(a, x.shape[2:], k, st, (1, 1))
    oh, ow = local_out(a, tuple(x.shape[1:]))
    cols = F.unfold(F.pad(x, (l, r, t, b)), k, stride=st)  # [N, C*k*k, L]
    w = p["weight"]
    L, f = oh * ow, w.shape[1]
    y = torch.einsum("nkl,lfk->nfl", cols, w.reshape(L, f, -1))
    if "bias" in p:
        y = y + p["bias"].reshape(f, L)
    return y.reshape(x.shape[0], f, oh, ow)


def prelu_params(a, s):
    """torch.nn.PReLU(num_parameters): one slope, or one per channel (axis 1)."""
    return [("weight", (s[0] if a.get("per_channel", False) else 1,), True)]


def act(fn):
    return lambda a, xs, p, training: fn(a, xs[0])


def transpose_fwd(a, xs, p, training):
    return xs[0].permute(*a["perm"])


def reshape_fwd(a, xs, p, training):
    return xs[0].reshape(xs[0].shape[0], *a["shape"])


def conv_transpose_params(a, s):
    """torch.nn.ConvTranspose2d's weight [C, filters/groups, KH, KW] and bias [filters]."""
    kh, kw = pair(a["kernel"])
    ps = [("weight", (s[0], a["filters"] // a.get("groups", 1), kh, kw), True)]
    if a.get("bias", True):
        ps.append(("bias", (a["filters"],), True))
    return ps


def conv_transpose_fwd(a, xs, p, training):
    return F.conv_transpose2d(xs[0], p["weight"], p.get("bias"), stride=pair(a.get("stride", 1)),
                              padding=pair(a.get("pad", 0)), output_padding=pair(a.get("output_pad", 0)),
                              groups=a.get("groups", 1), dilation=pair(a.get("dilation", 1)))


def slice_fwd(a, xs, p, training):
    """Python's x[..., start:end:step, ...] along `axis`."""
    x = xs[0]
    idx = [slice(None)] * x.dim()
    idx[a["axis"]] = slice(a["start"], a.get("end"), a.get("step", 1))
    return x[tuple(idx)]


def pad_fwd(a, xs, p, training):
    """torch.nn.functional.pad; torch 1.13's reflect/replicate want one pair per spatial axis of a 3-D to 5-D
    input, so missing pairs are zeros and a pair on the channel axis runs on a leading unit axis."""
    x, pads, mode = xs[0], list(a["pads"]), str(a.get("mode", "constant"))
    if mode == "constant":
        return F.pad(x, tuple(pads), value=a.get("value", 0.0))
    lead = 0
    while len(pads) > 2 * (x.dim() - 2):
        x, lead = x.unsqueeze(0), lead + 1
    pads += [0] * (2 * (x.dim() - 2) - len(pads))
    y = F.pad(x, tuple(pads), mode=mode)
    for _ in range(lead):
        y = y.squeeze(0)
    return y


OPS = {
    "dense": (dense_params, dense_fwd),
    "conv2d": (conv_params, conv_fwd),
    "conv1d": (conv1d_params, conv1d_fwd),
    "maxpool": (None, pool_fwd("max")),
    "avgpool": (None, pool_fwd("avg")),
    "global_avgpool": (None, lambda a, xs, p, t: xs[0].mean((2, 3))),
    "batch_norm": (bn_params, bn_fwd),
    "layer_norm": (ln_params, ln_fwd),
    "dropout": (None, dropout_fwd),
    "embedding": (emb_params, emb_fwd),
    "rnn": (rec_params("rnn"), rec_fwd("rnn")),
    "gru": (rec_params("gru"), rec_fwd("gru")),
    "lstm": (rec_params("lstm"), rec_fwd("lstm")),
    "multi_head_attention": (mha_params, mha_fwd),
    "cross_attention": (cross_params, cross_fwd),
    "positional_embedding": (pos_params, pos_fwd),
    "upsample": (None, upsample_fwd),
    "reorg": (None, reorg_fwd),
    "local": (local_params, local_fwd),
    "relu": (None, act(lambda a, x: F.relu(x))),
    "leaky_relu": (None, act(lambda a, x: F.leaky_relu(x, a.get("alpha", 0.01)))),
    "gelu": (None, act(lambda a, x: F.gelu(x))),
    "tanh": (None, act(lambda a, x: torch.tanh(x))),
    "sigmoid": (None, act(lambda a, x: torch.sigmoid(x))),
    "softmax": (None, act(lambda a, x: torch.softmax(x, -1))),
    "log_softmax": (None, act(lambda a, x: torch.log_softmax(x, -1))),
    "ramp": (None, act(lambda a, x: F.relu(x) + 0.1 * x)),
    "flatten": (None, lambda a, xs, p, t: xs[0].flatten(1)),
    "reshape": (None, reshape_fwd),
    "transpose": (None, transpose_fwd),
    "squeeze": (None, lambda a, xs, p, t: xs[0].squeeze(a["axis"])),
    "unsqueeze": (None, lambda a, xs, p, t: xs[0].unsqueeze(a["axis"])),
    "add": (None, lambda a, xs, p, t: xs[0] + xs[1]),
    "mul": (None, lambda a, xs, p, t: xs[0] * xs[1]),
    "sub": (None, lambda a, xs, p, t: xs[0] - xs[1]),
    "div": (None, lambda a, xs, p, t: xs[0] / xs[1]),
    "elu": (None, act(lambda a, x: F.elu(x, a.get("alpha", 1.0)))),
    "selu": (None, act(lambda a, x: F.selu(x))),
    "silu": (None, act(lambda a, x: F.silu(x))),
    "mish": (None, act(lambda a, x: F.mish(x))),
    "softplus": (None, act(lambda a, x: F.softplus(x, a.get("beta", 1.0), a.get("threshold", 20.0)))),
    "hardswish": (None, act(lambda a, x: F.hardswish(x))),
    "hardsigmoid": (None, act(lambda a, x: F.hardsigmoid(x))),
    "relu6": (None, act(lambda a, x: F.relu6(x))),
    "prelu": (prelu_params, lambda a, xs, p, t: F.prelu(xs[0], p["weight"])),
    "glu": (None, act(lambda a, x: F.glu(x, a.get("axis", -1)))),
    "mean": (None, act(lambda a, x: x.mean(tuple(a["axes"]), keepdim=a.get("keepdims", False)))),
    "sum": (None, act(lambda a, x: x.sum(tuple(a["axes"]), keepdim=a.get("keepdims", False)))),
    "max": (None, act(lambda a, x: x.amax(tuple(a["axes"]), keepdim=a.get("keepdims", False)))),
    "group_norm": (lambda a, s: [("weight", (s[0],), True), ("bias", (s[0],), True)],
                   lambda a, xs, p, t: F.group_norm(xs[0], a["groups"], p["weight"], p["bias"], a.get("eps", 1e-5))),
    "instance_norm": (lambda a, s: [("weight", (s[0],), True), ("bias", (s[0],), True)] if a.get("affine", False) else [],
                      lambda a, xs, p, t: F.instance_norm(xs[0], weight=p.get("weight"), bias=p.get("bias"),
                                                          eps=a.get("eps", 1e-5))),
    "maxpool1d": (None, pool1d_fwd("max")),
    "avgpool1d": (None, pool1d_fwd("avg")),
    "global_maxpool": (None, lambda a, xs, p, t: xs[0].amax((2, 3))),
    "adaptive_avgpool": (None, act(lambda a, x: F.adaptive_avg_pool2d(x, pair(a["size"])))),
    "concat": (None, lambda a, xs, p, t: torch.cat(xs, a.get("axis", 1))),
    "conv_transpose2d": (conv_transpose_params, conv_transpose_fwd),
    "slice": (None, slice_fwd),
    "pad": (None, pad_fwd),
    "repeat": (None, act(lambda a, x: x.repeat(*a["counts"]))),
}

# The ops written between two values: a + b, a * b, a - b, a / b.
INFIX = {"add": "+", "mul": "*", "sub": "-", "div": "/"}

# The semantic kind an op's output has (op table `kind`; None keeps the input's).
OUT_KIND = {"sigmoid": "sigmoid_probs", "softmax": "probs", "log_softmax": "log_probs"}
KEEPS_KIND = {"maxpool", "avgpool", "global_avgpool", "dropout", "upsample", "reorg", "flatten", "reshape",
              "transpose", "squeeze", "unsqueeze"}


def loss_torch(name, args, out, y):
    """The loss PyTorch computes for `loss = NAME(model.out, label)`. y: int64 class labels, or float targets."""
    w = torch.tensor(args["weight"], dtype=out.dtype) if "weight" in args else None
    if name in ("cross_entropy", "softmax_cross_entropy"):
        ls = args.get("label_smoothing", 0.0)
        if y.dtype == torch.int64:
            return F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1), label_smoothing=ls,
                                   ignore_index=args.get("ignore_index", -100), weight=w)
        return F.cross_entropy(out, y, label_smoothing=ls, weight=w)  # one-hot / probability targets
    if name == "nll":
        return F.nll_loss(out.reshape(-1, out.shape[-1]), y.reshape(-1), ignore_index=args.get("ignore_index", -100),
                          weight=w)
    if name == "huber":
        return F.huber_loss(out, y.reshape(out.shape), delta=args.get("delta", 1.0))
    if name == "smooth_l1":
        return F.smooth_l1_loss(out, y.reshape(out.shape), beta=args.get("beta", 1.0))
    if name == "poisson":
        return F.poisson_nll_loss(out, y.reshape(out.shape), log_input=True, full=False)
    if name == "kl_div":
        return F.kl_div(out, y.reshape(out.shape), reduction="batchmean", log_target=False)
    if name == "focal":  # torchvision.ops.sigmoid_focal_loss, mean
        t = y.reshape(out.shape)
        p = torch.sigmoid(out)
        ce = F.binary_cross_entropy_with_logits(out, t, reduction="none")
        loss = ce * (1 - (p * t + (1 - p) * (1 - t))) ** args.get("gamma", 2.0)
        alpha = args.get("alpha", 0.25)
        if alpha >= 0:
            loss = (alpha * t + (1 - alpha) * (1 - t)) * loss
        return loss.mean()
    if name == "hinge":
        return torch.clamp(1 - (2 * y.reshape(out.shape) - 1) * out, min=0).mean()
    if name == "bce_with_logits":
        return F.binary_cross_entropy_with_logits(out, y.reshape(out.shape))
    if name == "bce":
        return F.binary_cross_entropy(out, y.reshape(out.shape))
    if name == "mse":
        return F.mse_loss(out, y.reshape(out.shape))
    if name == "l1":
        return F.l1_loss(out, y.reshape(out.shape))
    if name == "cosine_embedding":  # out: the two outputs it compares; y: 1/-1 per sample
        return F.cosine_embedding_loss(out[0], out[1], y.reshape(-1), margin=args.get("margin", 0.0))
    raise KeyError(name)


LOSSES = ("cross_entropy", "softmax_cross_entropy", "nll", "bce_with_logits", "bce", "mse", "l1", "huber", "smooth_l1",
          "kl_div", "focal", "hinge", "poisson", "cosine_embedding")

# ---------------------------------------------------------------------------------------------------------
# The program.


class Node:
    def __init__(self, out, op, ins, args, positional=(), block=None):
        self.out, self.op, self.ins, self.args = out, op, list(ins), list(args)  # args: [(name, value)]
        self.positional = tuple(positional)
        self.block = block  # set on nodes that came from a block call (rendered by the call)
        self.layer = None

    def a(self):
        return dict(self.args)


class Block:
    """block NAME(c: int) (x) { return x |> OP(c …) |> … } : `ops` are (op, args) with the value `c` where the
    parameter goes."""

    def __init__(self, name, ops, param):
        self.name, self.ops, self.param = name, ops, param  # param: (attr name of the first op, value)


class Program:
    def __init__(self):
        self.sample_dtype = "f32"
        self.sample_shape = ()       # per sample, in the data file
        self.net_in_shape = ()       # per sample, at the network's input (after the pipeline)
        self.net_in_dtype = "f32"
        self.label_decl = "class<4>"  # the label field's type, as written in the dataset
        self.label_np = ("i8", ())   # dtype and per-sample shape of the labels file
        self.transforms = []         # [(step, args)] on the sample field
        self.label_transforms = []   # [(step, args)] on the label field
        self.steps = []              # [(step, args)]: shuffle, batch, split, repeat (batch last but one)
        self.augments = []           # [(step, args)]
        self.batch = 8
        self.samples = 8             # in the data set's train split
        self.nodes = []
        self.blocks = []
        self.block_calls = []        # [(index of first node, count, block, value)]
        self.output = None
        self.output2 = None          # a loss of two outputs (cosine_embedding): the network returns (a: output, b: output2)
        self.out_kind = "logits"
        self.out_shape = ()          # per sample
        self.declared = None         # (kind, shape) written after `->`; default: the real one
        self.loss = ("cross_entropy", [])
        self.optimizer = ("sgd", [("lr", 0.1)])
        self.schedules = []
        self.clip = None             # (name, args): gradient clipping, norm(max_norm) or value(clip_value)
        self.epochs = 1
        self.seed = 1
        self.settings = []           # extra train settings [(key, text)]
        self.data_dir = "."
        self.checkpoint = None       # "DIR" every 1 epoch keep K

    # -- names, as sema gives them: op_k in the order the nodes are typed (blocks inlined in place)
    def assign_layers(self):
        counts = {}
        for nd in self.nodes:
            counts[nd.op] = counts.get(nd.op, 0) + 1
            nd.layer = f"{nd.op}_{counts[nd.op]}"

    def render(self, name="Net"):
        self.assign_layers()
        L = ["dlspec 1", ""]
        sdims = ", ".join(str(d) for d in self.sample_shape)
        ldecl = self.label_decl
        L += ["dataset data {",
              f'  train = npy("{self.data_dir}/x.npy", "{self.data_dir}/y.npy")',
              f"  sample x: {self.sample_dtype}[{sdims}]",
              f"  label y: {ldecl}",
              "}", ""]
        L.append("pipeline input from data.train {")
        if self.transforms:
            L.append("  x = x |> " + " |> ".join(_call(s, a) for s, a in self.transforms))
        if self.label_transforms:
            L.append("  y = y |> " + " |> ".join(_call(s, a) for s, a in self.label_transforms))
        for s, a in self.augments:
            L.append("  augment " + _call(s, a))
        for s, a in self.steps:
            L.append("  " + (_call(s, a) if a else s + "()"))
        L += ["}", ""]
        for b in self.blocks:
            chain = " |> ".join(_call(op, [(k, Word("c") if (k, v) == b.param else v) for k, v in args]) for op, args in b.ops)
            L += [f"block {b.name}(c: int) (x) {{", f"  return x |> {chain}", "}", ""]
        indims = ", ".join(["N"] + [str(d) for d in self.net_in_shape])
        dk, ds = self.declared or (self.out_kind, self.out_shape)
        outdims = ", ".join(["N"] + [str(d) for d in ds])
        if self.output2:
            L.append(f"network {name}(x: {self.net_in_dtype}[{indims}]) -> (a: {dk}[{outdims}], b: {dk}[{outdims}]) {{")
        else:
            L.append(f"network {name}(x: {self.net_in_dtype}[{indims}]) -> {dk}[{outdims}] {{")
        calls = {c[0]: c for c in self.block_calls}
        i = 0
        while i < len(self.nodes):
            nd = self.nodes[i]
            if i in calls:
                _, cnt, b, v = calls[i]
                last = self.nodes[i + cnt - 1]
                L.append(f"  {last.out} = {nd.ins[0]} |> {b.name}({fmt_value(v)})")
                i += cnt
                continue
            if nd.op in INFIX and len(nd.ins) == 2 and dict(nd.args).get("_infix"):
                L.append(f"  {nd.out} = {nd.ins[0]} {INFIX[nd.op]} {nd.ins[1]}")
            elif nd.op in ("add", "concat", "cross_attention") or nd.op in INFIX:
                extra = [(k, v) for k, v in nd.args if not k.startswith("_")]
                L.append(f"  {nd.out} = {nd.op}({', '.join(nd.ins)}{', ' + fmt_args(extra) if extra else ''})")
            else:
                L.append(f"  {nd.out} = {nd.ins[0]} |> {_call(nd.op, nd.args, nd.positional)}")
            i += 1
        L += [f"  return (a: {self.output}, b: {self.output2})" if self.output2 else f"  return {self.output}", "}", ""]
        lname, largs = self.loss
        la = (", " + fmt_args(largs)) if largs else ""
        oname, oargs = self.optimizer
        outs = "model.a, model.b" if self.output2 else "model.out"
        L += ["train run {", f"  model = {name} on cpu", "  data = input", f"  loss = {lname}({outs}, y{la})",
              f"  optimizer = {_call(oname, oargs)}"]
        if self.schedules:
            sc = [_call(s, a) for s, a in self.schedules]
            L.append("  schedule = " + (sc[0] if len(sc) == 1 else "[" + ", ".join(sc) + "]"))
        if self.clip:
            L.append(f"  clip = {_call(*self.clip)}")
        L.append(f"  epochs = {self.epochs}")
        L.append(f"  seed = {self.seed}")
        if self.checkpoint:
            L.append(f'  checkpoint = "{self.checkpoint}" every 1 epoch keep {max(self.epochs, 1) + 1}')
        for k, v in self.settings:
            L.append(f"  {k} = {v}")
        L += ["}", ""]
        return "\n".join(L)

    # -- PyTorch
    def param_specs(self):
        """[(dlspec name, shape, trainable)] in network order, from the per-sample input shapes."""
        return self.infer()[0]

    def shapes(self):
        """Per-sample shape of every value."""
        return self.infer()[1]

    def infer(self):
        self.assign_layers()
        shapes = {"x": self.net_in_shape}
        out = []
        masks = {}
        with torch.no_grad():
            x0 = torch.zeros(2, *self.net_in_shape)
            vals = {"x": x0.long() if self.net_in_dtype in ("i64", "i32", "u8") else x0}
            for nd in self.nodes:
                pf, fwd = OPS[nd.op]
                a = nd.a()
                # cross_attention's parameters follow its memory's width (kdim = vdim)
                pin = nd.ins[1] if nd.op == "cross_attention" else nd.ins[0]
                ps = pf(a, tuple(shapes[pin])) if pf else []
                p = {}
                for suf, shp, tr in ps:
                    out.append((f"{nd.layer}.{suf}", tuple(shp), tr))
                    p[suf] = torch.ones(shp) if suf == "running_var" else torch.zeros(shp)
                xs = [vals[i] for i in nd.ins]
                if nd.op == "embedding":
                    xs = [x.long() for x in xs]
                vals[nd.out] = fwd(self.with_mask(nd, a, xs, masks), xs, p, False)
                shapes[nd.out] = tuple(vals[nd.out].shape[1:])
        return out, shapes

    @staticmethod
    def with_mask(nd, a, xs, masks):
        """Padding masks as sema carries them: embedding(mask_token: k) starts one (its tokens, k); a recurrent
        layer reads it (as a["_mask"]) and keeps it with output: sequence; every other op (sema accepts only
        per-step ones after a mask) passes it on."""
        if nd.op == "embedding" and "mask_token" in a:
            masks[nd.out] = (xs[0], a["mask_token"])
            return a
        m = next((masks[i] for i in nd.ins if i in masks), None)
        if m is None:
            return a
        if nd.op in GATES:
            if a.get("output", "sequence") != "last":
                masks[nd.out] = m
            return dict(a, _mask=m)
        masks[nd.out] = m
        return a

    def forward(self, x, params, training=True):
        self.assign_layers()
        vals = {"x": x}
        masks = {}
        for nd in self.nodes:
            _, fwd = OPS[nd.op]
            p = {k.split(".", 1)[1]: v for k, v in params.items() if k.split(".", 1)[0] == nd.layer}
            xs = [vals[i] for i in nd.ins]
            vals[nd.out] = fwd(self.with_mask(nd, nd.a(), xs, masks), xs, p, training)
        return (vals[self.output], vals[self.output2]) if self.output2 else vals[self.output]


class Builder:
    """Builds a Program's network one node at a time: b.op(src, "dense", units=5) -> the new value's name."""

    def __init__(self, prog):
        self.p, self.n = prog, 0

    def op(self, src, op, _positional=(), **args):
        self.n += 1
        out = f"v{self.n}"
        ins = list(src) if isinstance(src, (list, tuple)) else [src]
        self.p.nodes.append(Node(out, op, ins, list(args.items()), _positional))
        return out

    def chain(self, src, ops):
        for op, args in ops:
            src = self.op(src, op, **dict(args))
        return src

    def shape(self, v):
        return self.p.shapes()[v]


def _call(op, args, positional=()):
    return f"{op}({fmt_args(args, positional)})" if args else op


def init_params(specs, gen):
    """Initial values for the comparison: uniform with a scale that keeps activations O(1)."""
    ps = {}
    for name, shp, tr in specs:
        suf = name.split(".", 1)[1]
        if suf == "running_var":
            t = torch.rand(shp, generator=gen) + 0.5
        elif suf == "running_mean":
            t = torch.rand(shp, generator=gen) - 0.5
        elif len(shp) == 1:
            t = (torch.rand(shp, generator=gen) - 0.5) * (1.0 if suf in ("weight",) else 0.4)
            if suf == "weight":
                t = t + 1.0
        else:
            fan_in = 1
            for d in shp[1:]:
                fan_in *= d
            if name.split(".")[0].startswith("embedding"):
                fan_in = 1
            b = 1.0 / math.sqrt(max(fan_in, 1))
            t = (torch.rand(shp, generator=gen) * 2 - 1) * b * 1.5
        ps[name] = t.float()
    return ps


# ---------------------------------------------------------------------------------------------------------
# .npy and checkpoints


def write_npy(path, arr):
    np.save(path, np.ascontiguousarray(arr))


def read_npy(path):
    return torch.from_numpy(np.load(path).astype(np.float32))


def rel(a, b, floor=1e-6):
    """|a - b| / max(|b|, floor), 2-norms over the whole tensor."""
    a, b = a.double().reshape(-1), b.double().reshape(-1)
    return ((a - b).norm() / max(b.norm().item(), floor)).item()


# Version 2 checkpoints record what made them after the seed: i32 optimizer kind, 6 f64 hyperparameters,
# i32 nesterov, i64 batch, u64 structure hash, u64 data fingerprint.
MADE_BYTES = 4 + 6 * 8 + 4 + 8 + 8 + 8


def read_checkpoint(path):
    """dlspec checkpoint (runtime/train/Checkpoint.h) -> (header dict, {name: tensor}), tensors in file order."""
    b = open(path, "rb").read()
    assert b[:8] == b"DLSCKPT\0", path
    pos = 8
    version, layout, epoch, step, updates, seed = struct.unpack_from("<IQqqqQ", b, pos)
    pos += struct.calcsize("<IQqqqQ")
    made = b""
    if version >= 2:  # what made it: optimizer, hyperparameters, batch, structure hash, data fingerprint
        # version 3: and the precision (i32); version 4: plateau's state (i32, 2 f64, 2 i64) and the epoch's
        # validation loss and accuracy (2 f64); version 5: early stopping's state (i32, f64, 2 i64) and the best
        # checkpoint's (i32, f64, i64)
        n = MADE_BYTES + (4 if version >= 3 else 0) + (4 + 8 * 6 if version >= 4 else 0) + (4 + 8 * 3 + 4 + 8 * 2 if version >= 5 else 0)
        if version >= 6:  # named settings: u32 count, then (u32 length, bytes) for each key and value
            (k,) = struct.unpack_from("<I", b, pos + n)
            n += 4
            for _ in range(2 * k):
                (m,) = struct.unpack_from("<I", b, pos + n)
                n += 4 + m
        made = b[pos:pos + n]
        pos += n
    (count,) = struct.unpack_from("<I", b, pos)
    pos += 4
    ts = {}
    for _ in range(count):
        (n,) = struct.unpack_from("<I", b, pos)
        pos += 4
        name = b[pos:pos + n].decode()
        pos += n
        rank, d0, d1, d2, d3, numel = struct.unpack_from("<iqqqqq", b, pos)
        pos += struct.calcsize("<iqqqqq")
        vals = np.frombuffer(b, dtype="<f4", count=numel, offset=pos).copy()
        pos += 4 * numel
        ts[name] = (rank, (d0, d1, d2, d3), torch.from_numpy(vals))
    hdr = dict(version=version, layout=layout, epoch=epoch, step=step, updates=updates, seed=seed, made=made)
    return hdr, ts


def write_checkpoint(path, hdr, ts):
    out = bytearray(b"DLSCKPT\0")
    out += struct.pack("<IQqqqQ", hdr["version"], hdr["layout"], hdr["epoch"], hdr["step"], hdr["updates"], hdr["seed"])
    if hdr["version"] >= 2:
        out += hdr["made"]
    out += struct.pack("<I", len(ts))
    for name, (rank, dims, vals) in ts.items():
        nb = name.encode()
        out += struct.pack("<I", len(nb)) + nb + struct.pack("<iqqqqq", rank, *dims, vals.numel())
        out += vals.detach().float().contiguous().numpy().astype("<f4").tobytes()
    out += struct.pack("<I", zlib.crc32(bytes(out)) & 0xFFFFFFFF)
    with open(path, "wb") as f:
        f.write(out)


# Built executables: one OpenMP thread, no re-exec to set the wait policy (runtime/train/Main.cpp).
EXE_ENV = dict(os.environ, OMP_NUM_THREADS="1", DLS_NO_REEXEC="1")


def run(cmd, cwd=None, timeout=120):
    try:
        r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=EXE_ENV)
        return r.returncode, r.stdout + r.stderr
    except subprocess.TimeoutExpired as e:
        return 124, f"timeout after {timeout} s: {e}"


def located_diagnostics(dlspec, spec):
    """Runs `dlspec check --format=json SPEC` (one JSON document: `diagnostics: [...]`); returns
    (exit code, [(code, severity, file, line, column)], everything it printed)."""
    try:
        r = subprocess.run([dlspec, "check", "--format=json", spec], capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired as e:
        return 124, [], f"timeout: {e}"
    diags = []
    try:
        doc = json.loads(r.stdout)
        found = doc.get("diagnostics")
        if found is None:
            found = [d for f in doc.get("files", []) for d in f.get("diagnostics", [])]
    except ValueError:
        found = None
    if found is None:
        diags.append((None, "error", None, None, None))  # unparsable output counts as an unlocated error
        found = []
    for d in found:
        sp = d.get("span") or {}
        diags.append((d.get("code"), d.get("severity"), sp.get("file") or d.get("file"), sp.get("line"), sp.get("column")))
    return r.returncode, diags, r.stdout + r.stderr



# ---------------------------------------------------------------------------------------------------------
# Programs from a network body: the data set, the pipeline and the head a loss needs.

HEADS = ("ce", "ce_onehot", "ce_seq", "nll", "bce_logits", "bce", "mse", "l1", "sce")


def new_program(in_shape, dtype="f32", batch=4, data_dir="."):
    p = Program()
    p.sample_dtype = p.net_in_dtype = dtype
    p.sample_shape = p.net_in_shape = tuple(in_shape)
    p.batch = p.samples = batch
    p.steps = [("batch", [("size", batch)])]
    p.data_dir = data_dir
    return p, Builder(p)


def finish(p, b, h, head="ce", classes=4):
    """Ends the network at value h with what `head`'s loss takes; sets the label field and the loss."""
    s = b.shape(h)
    if head != "ce_seq" and len(s) > 1:
        h = b.op(h, "flatten")
    if head == "ce_seq" and len(s) != 2:
        raise ValueError("ce_seq needs a [T, F] value")
    h = b.op(h, "dense", units=classes)
    p.out_kind, p.classes = "logits", classes
    p.label_decl, p.label_np = f"class<{classes}>", ("i8", ())
    loss = {"ce": "cross_entropy", "ce_onehot": "cross_entropy", "ce_seq": "cross_entropy", "nll": "nll",
            "bce_logits": "bce_with_logits", "bce": "bce", "mse": "mse", "l1": "l1", "sce": "softmax_cross_entropy"}[head]
    p.loss = (loss, [])
    if head == "ce_onehot":
        p.label_decl, p.label_np = f"onehot<{classes}>", ("onehot", (classes,))
    elif head == "ce_seq":
        T = s[0]
        p.label_decl, p.label_np = f"class<{classes}>[{T}]", ("i8", (T,))
    elif head == "nll":
        h = b.op(h, "log_softmax")
        p.out_kind = "log_probs"
    elif head in ("bce_logits", "bce"):
        p.label_decl, p.label_np = f"multilabel<{classes}>", ("binary", (classes,))
        if head == "bce":
            h = b.op(h, "sigmoid")
            p.out_kind = "sigmoid_probs"
    elif head in ("mse", "l1"):
        p.out_kind = "real"
        p.label_decl, p.label_np = f"f32[{classes}]", ("f4", (classes,))
    p.output = h
    p.out_shape = b.shape(h)
    return h
