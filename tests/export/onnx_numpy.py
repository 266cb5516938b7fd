#!/usr/bin/python3
"""A NumPy evaluator of an ONNX graph, written from the operator definitions of the ONNX specification, for
the operators `dlspec export` emits. It is the reader of the exported models OpenCV 4.6's dnn module cannot
run (a transformer: Gather on computed indices, Erf). python3-onnx 1.12 has no reference evaluator.

    y = run(model, x)      # model: onnx.ModelProto with one input and one output
"""
import numpy as np
from onnx import numpy_helper
from scipy.special import erf


def _attrs(node):
    out = {}
    for a in node.attribute:
        out[a.name] = {1: lambda: a.f, 2: lambda: a.i, 3: lambda: a.s.decode(), 6: lambda: list(a.floats),
                       7: lambda: list(a.ints), 8: lambda: [s.decode() for s in a.strings]}[a.type]()
    return out


def _pool(x, k, s, pads, mode, dil=None, include_pad=0):
    dil = dil or [1] * len(k)
    n = len(k)
    fill = -np.inf if mode == "max" else np.nan
    pw = [(0, 0), (0, 0)] + [(pads[i], pads[i + n]) for i in range(n)]
    xp = np.pad(x, pw, constant_values=fill)
    outs = [(xp.shape[2 + i] - (dil[i] * (k[i] - 1) + 1)) // s[i] + 1 for i in range(n)]
    y = np.empty(x.shape[:2] + tuple(outs), dtype=np.float32)
    for idx in np.ndindex(*outs):
        sl = tuple(slice(idx[i] * s[i], idx[i] * s[i] + dil[i] * (k[i] - 1) + 1, dil[i]) for i in range(n))
        win = xp[(slice(None), slice(None)) + sl].reshape(x.shape[0], x.shape[1], -1)
        y[(slice(None), slice(None)) + idx] = win.max(-1) if mode == "max" else np.nanmean(win, -1)
    return y


def _conv(x, w, b, a):
    k = list(w.shape[2:])
    n = len(k)
    s, d = a.get("strides", [1] * n), a.get("dilations", [1] * n)
    p, g = a.get("pads", [0] * 2 * n), a.get("group", 1)
    xp = np.pad(x, [(0, 0), (0, 0)] + [(p[i], p[i + n]) for i in range(n)])
    outs = [(xp.shape[2 + i] - (d[i] * (k[i] - 1) + 1)) // s[i] + 1 for i in range(n)]
    F, Cg = w.shape[0], w.shape[1]
    y = np.zeros((x.shape[0], F) + tuple(outs), dtype=np.float64)
    for gi in range(g):
        ws = w[gi * (F // g):(gi + 1) * (F // g)].reshape(F // g, -1).astype(np.float64)
        for idx in np.ndindex(*outs):
            sl = tuple(slice(idx[i] * s[i], idx[i] * s[i] + d[i] * (k[i] - 1) + 1, d[i]) for i in range(n))
            patch = xp[(slice(None), slice(gi * Cg, (gi + 1) * Cg)) + sl].reshape(x.shape[0], -1)
            y[(slice(None), slice(gi * (F // g), (gi + 1) * (F // g))) + idx] = patch @ ws.T
    if b is not None:
        y += b.reshape((1, -1) + (1,) * n)
    return y.astype(np.float32)


def _softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _sig(v):
    return 1 / (1 + np.exp(-v))


def _recurrent(t, i, a):
    """RNN, GRU, LSTM (one direction, layout 0): X [T, N, F], W [1, G*U, F], R [1, G*U, U], B [1, 2*G*U]."""
    x, w, r = i[0].astype(np.float64), i[1][0].astype(np.float64), i[2][0].astype(np.float64)
    U = a["hidden_size"]
    G = w.shape[0] // U
    b = i[3][0].astype(np.float64) if len(i) > 3 and i[3] is not None else np.zeros(2 * G * U)
    wb, rb = b[:G * U], b[G * U:]
    h = np.zeros((x.shape[1], U))
    c = np.zeros_like(h)
    acts = {"Tanh": np.tanh, "Relu": lambda v: np.maximum(v, 0),
            "LeakyRelu": lambda v: np.where(v > 0, v, a.get("activation_alpha", [0.01])[0] * v)}
    ys = []
    for xt in x:
        gx, gh = xt @ w.T + wb, h @ r.T + rb
        if t == "RNN":
            h = acts[a.get("activations", ["Tanh"])[0]](gx + gh)
        elif t == "GRU":
            z = _sig(gx[:, :U] + gh[:, :U])
            rr = _sig(gx[:, U:2 * U] + gh[:, U:2 * U])
            if a.get("linear_before_reset", 0):
                n = np.tanh(gx[:, 2 * U:] + rr * gh[:, 2 * U:])
            else:
                n = np.tanh(gx[:, 2 * U:] + (rr * h) @ r[2 * U:].T + rb[2 * U:])
            h = (1 - z) * n + z * h
        else:  # LSTM: i o f c
            g = gx + gh
            ig, og, fg, cg = _sig(g[:, :U]), _sig(g[:, U:2 * U]), _sig(g[:, 2 * U:3 * U]), np.tanh(g[:, 3 * U:])
            c = fg * c + ig * cg
            h = og * np.tanh(c)
        ys.append(h)
    return np.stack(ys)[:, None].astype(np.float32), h[None].astype(np.float32)


def run(model, x):
    env = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    env[model.graph.input[0].name] = x
    for node in model.graph.node:
        a, i = _attrs(node), [env[n] if n else None for n in node.input]
        t = node.op_type
        if t == "Gemm":
            y = i[0] @ (i[1].T if a.get("transB") else i[1]) + (i[2] if len(i) > 2 else 0)
        elif t == "MatMul":
            y = np.matmul(i[0], i[1])
        elif t in ("Add", "Sub", "Mul", "Div"):
            y = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide}[t](i[0], i[1])
        elif t == "Relu":
            y = np.maximum(i[0], 0)
        elif t == "Sigmoid":
            y = 1 / (1 + np.exp(-i[0]))
        elif t == "Tanh":
            y = np.tanh(i[0])
        elif t == "Erf":
            y = erf(i[0])
        elif t == "Sqrt":
            y = np.sqrt(i[0])
        elif t == "Softplus":
            y = np.logaddexp(0, i[0])
        elif t == "HardSigmoid":
            y = np.clip(a.get("alpha", 0.2) * i[0] + a.get("beta", 0.5), 0, 1)
        elif t == "HardSwish":
            y = i[0] * np.clip(i[0] / 6 + 0.5, 0, 1)
        elif t == "Softmax":
            y = _softmax(i[0], a.get("axis", -1))
        elif t == "LogSoftmax":
            y = np.log(_softmax(i[0], a.get("axis", -1)))
        elif t == "ReduceMean":
            y = i[0].mean(axis=tuple(a["axes"]), keepdims=bool(a.get("keepdims", 1)))
        elif t == "ReduceMax":
            y = i[0].max(axis=tuple(a["axes"]), keepdims=bool(a.get("keepdims", 1)))
        elif t == "ReduceSum":
            y = i[0].sum(axis=tuple(i[1]), keepdims=bool(a.get("keepdims", 1)))
        elif t == "Reshape":
            y = i[0].reshape([i[0].shape[k] if v == 0 else v for k, v in enumerate(i[1])])
        elif t == "Flatten":
            y = i[0].reshape(int(np.prod(i[0].shape[:a.get("axis", 1)])), -1)
        elif t == "Transpose":
            y = np.transpose(i[0], a["perm"])
        elif t == "Gather":
            y = np.take(i[0], i[1].astype(np.int64), axis=a.get("axis", 0))
        elif t == "LeakyRelu":
            y = np.where(i[0] > 0, i[0], a.get("alpha", 0.01) * i[0])
        elif t == "Elu":
            y = np.where(i[0] > 0, i[0], a.get("alpha", 1.0) * (np.exp(i[0]) - 1))
        elif t == "Selu":
            al, ga = a.get("alpha", 1.67326319217681884765625), a.get("gamma", 1.05070102214813232421875)
            y = ga * np.where(i[0] > 0, i[0], al * (np.exp(i[0]) - 1))
        elif t == "PRelu":
            y = np.where(i[0] > 0, i[0], i[1] * i[0])
        elif t == "Clip":
            y = np.clip(i[0], i[1], i[2])
        elif t == "Concat":
            y = np.concatenate(i, axis=a["axis"])
        elif t == "Squeeze":
            y = np.squeeze(i[0], axis=tuple(i[1]))
        elif t == "Unsqueeze":
            y = np.expand_dims(i[0], axis=tuple(i[1]))
        elif t == "Split":
            parts = np.split(i[0], np.cumsum(i[1])[:-1], axis=a.get("axis", 0))
            for name, part in zip(node.output, parts):
                env[name] = part
            continue
        elif t == "Resize":  # nearest, asymmetric, floor, integer scales: each element repeated
            y = i[0]
            for ax, f in enumerate(i[2]):
                y = np.repeat(y, int(f), axis=ax)
        elif t == "InstanceNormalization":
            ax = tuple(range(2, i[0].ndim))
            sh = (1, -1) + (1,) * (i[0].ndim - 2)
            m, v = i[0].mean(axis=ax, keepdims=True), i[0].var(axis=ax, keepdims=True)
            y = (i[0] - m) / np.sqrt(v + a.get("epsilon", 1e-5)) * i[1].reshape(sh) + i[2].reshape(sh)
        elif t in ("RNN", "GRU", "LSTM"):
            outs = _recurrent(t, i, a)
            for name, v in zip(node.output, outs):
                env[name] = v
            continue
        elif t == "Identity":
            y = i[0]
        elif t == "Conv":
            y = _conv(i[0], i[1], i[2] if len(i) > 2 else None, a)
        elif t in ("MaxPool", "AveragePool"):
            y = _pool(i[0], a["kernel_shape"], a.get("strides", [1] * len(a["kernel_shape"])),
                      a.get("pads", [0] * 2 * len(a["kernel_shape"])), "max" if t == "MaxPool" else "avg", a.get("dilations"))
        elif t in ("GlobalAveragePool", "GlobalMaxPool"):
            ax = tuple(range(2, i[0].ndim))
            y = i[0].mean(axis=ax, keepdims=True) if t == "GlobalAveragePool" else i[0].max(axis=ax, keepdims=True)
        elif t == "BatchNormalization":
            sh = (1, -1) + (1,) * (i[0].ndim - 2)
            y = (i[0] - i[3].reshape(sh)) / np.sqrt(i[4].reshape(sh) + a.get("epsilon", 1e-5)) * i[1].reshape(sh) + i[2].reshape(sh)
        else:
            raise NotImplementedError(f"the evaluator has no {t}")
        env[node.output[0]] = np.asarray(y, dtype=np.float32) if np.asarray(y).dtype.kind == "f" else y
    return env[model.graph.output[0].name]
