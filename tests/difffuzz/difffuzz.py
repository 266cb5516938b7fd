#!/usr/bin/python3
"""Differential spec fuzzer: random well-typed specs, dlspec against the same program in PyTorch 1.13.

Each spec is generated from a seed (spec k of a run with --seed S uses seed S * 1000003 + k, so any spec is
reproduced with --seed S --only k): a network over the op table's layers, activations and structural ops
(blocks, residual adds, concatenations), a data set of random .npy data with a pipeline (to_f32, scale,
normalize, reshape, shuffle, batch, repeat, identity augmentations), a loss with its head, an optimizer
with random arguments, schedules, epochs and a seed. Then:

  - `dlspec check`: a rejection must be a located diagnostic with a code (file:line:col); an internal error
    (I0001), a crash, a timeout or an error without location is a disagreement of kind `check-bug`;
  - a clean spec must build (`build-failed`), run one step of forward and backward like PyTorch
    (`step-failed`, `step-mismatch`: loss and gradients within 1e-4 relative), and, for about half of the
    specs, train its epochs from the same initial weights like PyTorch (`train-failed`, `train-mismatch`:
    every epoch's loss within 2e-4, the parameter updates within 1e-3 relative);
  - a mutated copy of some specs (a number changed, a token dropped, an op renamed) checks the rejection path.

Disagreeing specs are saved to --out (spec, data, program as JSON, the message) and counted by kind, with
the known issue they most likely are (KNOWN below, from issue 12's list) when one matches.

  difffuzz.py --dlspec DLSPEC --optable DUMP --work DIR [--seed S] [--count N | --minutes M] [--out DIR]
  difffuzz.py ... --regressions     re-runs tests/difffuzz/regressions/*.json against expected_failures.tsv
"""
import argparse, json, os, pickle, random, shutil, sys, time, traceback

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dlsprog as D  # noqa: E402
import harness as H  # noqa: E402
from dlsprog import Word  # noqa: E402

# Features of a program that match a known, unfixed issue: a disagreement on a spec with one of them is
# counted under that issue. Entries: (tag, predicate over the program, stages, message pattern or None, what).
# None is open: issue 12's list (label transforms, embedding indices, random_crop after reshape, one-logit
# binary classification) is fixed, each with its regression spec, so the fuzzer reports them as new.
KNOWN = []

# Features of a program that this fuzzer found disagreeing, beyond issue 12's list (regression specs in
# regressions/, listed in expected_failures.tsv).
FOUND = []  # none open: each has its regression spec in regressions/, which passes

# ---------------------------------------------------------------------------------------------------------
# generation

POSITIONAL = {}  # op -> {attribute: position}, from the op table
CLIPS = {}  # gradient clipping -> its threshold's attribute, from the op table
# The share of specs kept clear of KNOWN and FOUND features, which would otherwise hide new disagreements;
# with neither holding an open entry, every spec may use every feature.
AVOID_KNOWN = 0.0


def choice(r, xs):
    return xs[r.randrange(len(xs))]


def gen_op(r, s, opnames):
    """A random op applicable to a value of per-sample shape s: (op, args) or None."""
    rank = len(s)
    cands = []
    if rank in (1, 2):
        cands += ["dense"] * 4
    if rank == 3:
        cands += ["conv2d"] * 4 + ["maxpool", "avgpool", "global_avgpool", "upsample", "reorg", "local", "batch_norm"]
    if rank == 3:
        cands += ["conv_transpose2d", "global_maxpool", "adaptive_avgpool"]
    if rank == 2:
        cands += ["rnn", "gru", "lstm", "transpose"]
        cands += ["conv1d"] * 2 + ["maxpool1d", "avgpool1d"]
    if rank in (2, 3):
        cands += ["group_norm"]
        if s[1:] != (1,) * (rank - 1):  # statistics over one position are constant
            cands += ["instance_norm"]
    if rank == 1:
        cands += ["batch_norm"]
    if rank >= 1:
        cands += ["relu", "leaky_relu", "gelu", "tanh", "sigmoid", "ramp", "dropout"]
        cands += ["elu", "selu", "silu", "mish", "softplus", "hardswish", "hardsigmoid", "relu6", "prelu", "slice", "pad"]
        if s[-1] % 2 == 0:
            cands += ["glu"]
        if rank >= 2:
            cands += ["mean", "sum", "max"]
    if rank >= 1 and s[-1] >= 2:
        # over one feature their output is constant (0, 1) and what reaches it rounding noise
        cands += ["layer_norm", "softmax", "log_softmax"]
    if rank >= 2:
        cands += ["flatten"]
    cands += ["reshape"] if rank >= 1 else []
    if any(d == 1 for d in s[1:]) or (rank >= 1 and s[0] == 1 and rank > 1):
        cands += ["squeeze"]
    if rank <= 2:
        cands += ["unsqueeze"]
    cands = [c for c in cands if c in opnames]
    op = choice(r, cands)
    a = []
    if op == "dense":
        a = [("units", r.randint(1, 8))]
        if r.random() < 0.3:
            a.append(("bias", r.random() < 0.5))
        if r.random() < 0.1:
            a.append(("in", s[-1]))
    elif op == "conv2d":
        C, Hh, W = s
        g = choice(r, [g for g in (1, 2, 3) if C % g == 0])
        f = g * r.randint(1, 3)
        k = r.randint(1, min(3, Hh, W))
        a = [("filters", f), ("kernel", k)]
        if g > 1:
            a.append(("groups", g))
        st = r.choice([1, 1, 2])
        if st > 1:
            a.append(("stride", st))
        pad = r.choice([None, 1, Word("same"), Word("valid"), 0])
        if pad is not None and not (isinstance(pad, int) and pad > k // 2):
            a.append(("pad", pad))
        if r.random() < 0.15 and k > 1 and min(Hh, W) >= 2 * (k - 1) + 1 + 2:
            a.append(("dilation", 2))
        if r.random() < 0.2:
            a.append(("bias", False))
    elif op in ("maxpool", "avgpool"):
        k = r.randint(1, min(3, s[1], s[2]))
        if k == 1 and min(s[1], s[2]) >= 2:
            k = 2
        a = [("kernel", k)]
        if r.random() < 0.4:
            a.append(("stride", r.randint(1, k)))
        if r.random() < 0.3 and k >= 2:
            a.append(("pad", r.randint(0, k // 2)))
    elif op == "upsample":
        if s[1] * 2 > 12:
            return None
        a = [("factor", 2)]
    elif op == "reorg":
        if s[1] % 2 == 0 and s[2] % 2 == 0 and s[0] % 4 == 0 and r.random() < 0.7:
            a = [("stride", 2)]
        else:
            a = [("stride", 1), ("extra", r.randint(1, 3))]
    elif op == "local":
        k = r.randint(1, min(3, s[1], s[2]))
        a = [("filters", r.randint(1, 3)), ("kernel", k)]
        if r.random() < 0.3 and k >= 2:
            a.append(("pad", 1))
    elif op == "batch_norm":
        if r.random() < 0.3:
            a.append(("eps", choice(r, [1e-3, 1e-5, 0.01])))
        if r.random() < 0.3:
            a.append(("momentum", choice(r, [0.0, 0.1, 0.5, 1.0])))
    elif op == "layer_norm":
        if r.random() < 0.3:
            a.append(("eps", choice(r, [1e-3, 1e-5])))
    elif op in ("rnn", "gru", "lstm"):
        a = [("units", r.randint(1, 6))]
        if op == "rnn" and r.random() < 0.5:
            a.append(("activation", Word(choice(r, ["tanh", "relu", "leaky_relu"]))))
            if a[-1][1] == "leaky_relu" and r.random() < 0.5:
                a.append(("alpha", choice(r, [0.1, 0.2])))
        if op == "gru" and r.random() < 0.4:
            a.append(("reset_after", r.random() < 0.5))
        if r.random() < 0.3:
            a.append(("bias", r.random() < 0.5))
        if r.random() < 0.4:
            a.append(("output", Word(choice(r, ["sequence", "last"]))))
    elif op == "leaky_relu":
        if r.random() < 0.6:
            a = [("alpha", choice(r, [0.01, 0.1, 0.3]))]
    elif op == "dropout":
        a = [("p", 0.0)]
    elif op == "reshape":
        n = 1
        for d in s:
            n *= d
        divs = [d for d in range(1, n + 1) if n % d == 0]
        shape = choice(r, [[n], [choice(r, divs), -1]] + ([[1, n]] if n <= 16 else []))
        if -1 in shape:
            shape = [shape[0], n // shape[0]]
        if len(shape) + 1 > 4:
            return None
        a = [("shape", shape)]
    elif op == "transpose":
        a = [("perm", [0, 2, 1])]
    elif op == "squeeze":
        axes = [i + 1 for i, d in enumerate(s) if d == 1]
        if not axes:
            return None
        a = [("axis", choice(r, axes))]
    elif op == "unsqueeze":
        a = [("axis", r.randint(1, len(s) + 1))]
    elif op == "conv1d":
        C, L = s
        g = choice(r, [g for g in (1, 2) if C % g == 0])
        k = r.randint(1, min(3, L))
        a = [("filters", g * r.randint(1, 3)), ("kernel", k)]
        if g > 1:
            a.append(("groups", g))
        if r.random() < 0.3 and L >= k + 1:
            a.append(("stride", 2))
        if r.random() < 0.4 and k >= 2:
            a.append(("pad", r.randint(0, k // 2)))
        if r.random() < 0.2:
            a.append(("bias", False))
    elif op in ("maxpool1d", "avgpool1d"):
        k = r.randint(1, min(3, s[1]))
        a = [("kernel", k)]
        if r.random() < 0.4:
            a.append(("stride", r.randint(1, k)))
        if r.random() < 0.3 and k >= 2:
            a.append(("pad", r.randint(0, k // 2)))
    elif op == "conv_transpose2d":
        k, st = r.randint(1, 3), r.choice([1, 1, 2])
        a = [("filters", r.randint(1, 3)), ("kernel", k)]
        if st > 1:
            a.append(("stride", st))
            if r.random() < 0.4:
                a.append(("output_pad", 1))
        if r.random() < 0.3 and k >= 2:
            a.append(("pad", r.randint(0, k - 1)))
        if r.random() < 0.2:
            a.append(("bias", False))
    elif op == "adaptive_avgpool":
        a = [("size", r.randint(1, min(s[1], s[2])))]
    elif op == "group_norm":
        a = [("groups", choice(r, [g for g in (1, 2, 3) if s[0] % g == 0]))]
    elif op == "instance_norm":
        if r.random() < 0.5:
            a = [("affine", True)]
    elif op == "elu":
        if r.random() < 0.5:
            a = [("alpha", choice(r, [0.5, 1.0, 2.0]))]
    elif op == "softplus":
        if r.random() < 0.5:
            a = [("beta", choice(r, [0.5, 2.0]))]
    elif op == "prelu":
        if rank >= 2 and r.random() < 0.5:
            a = [("per_channel", True)]
    elif op == "glu":
        a = [("axis", -1)]
    elif op in ("mean", "sum", "max"):
        a = [("axes", [r.randint(1, rank)])]
        if r.random() < 0.3:
            a.append(("keepdims", True))
    elif op == "slice":
        ax = r.randint(1, rank)
        d = s[ax - 1]
        if d < 2:
            return None
        start = r.randint(0, d - 1)
        a = [("axis", ax), ("start", start), ("end", r.randint(start + 1, d))]
        if r.random() < 0.3:
            a.append(("step", 2))
    elif op == "pad":
        mode = choice(r, ["constant", "constant", "reflect", "replicate"])
        m = s[-1] - 1 if mode == "reflect" else 2
        if m < 1:
            return None
        a = [("pads", [r.randint(0, m), r.randint(1, m)])]
        if mode != "constant":
            if rank < 2:
                return None  # torch 1.13's reflect/replicate pad a 3-D to 5-D tensor: [N, C, L] at least
            a.append(("mode", Word(mode)))
        elif r.random() < 0.3:
            a.append(("value", 0.5))
    return op, a


def gen_program(r, work, opnames, optimizers, schedules):
    fam = choice(r, ["vector", "vector", "image", "image", "sequence"])
    if fam == "vector":
        in_shape = (r.randint(2, 8),)
    elif fam == "image":
        c, h = r.randint(1, 4), r.randint(3, 8)
        in_shape = (c, h, h)
    else:
        in_shape = (r.randint(2, 5), r.randint(2, 5))
    batch = choice(r, [2, 3, 4, 6, 8])
    p, b = D.new_program(in_shape, "f32", batch=batch, data_dir=work)
    # Most specs stay clear of the known and found disagreements (KNOWN, FOUND), which would hide new ones.
    avoid = r.random() < AVOID_KNOWN
    # pipeline: raw u8 or f32 data, flat or shaped, then the conversions
    n_in = 1
    for d in in_shape:
        n_in *= d
    if r.random() < 0.35:
        p.sample_dtype = "u8"
        p.transforms.append(("to_f32", []))
        # the data stay O(1): with values in the hundreds a saturated softmax underflows differently in the two,
        # and Adam turns a 1e-30 gradient into a full step
        p.transforms.append(("scale", [("factor", choice(r, [1 / 255, 0.01, 0.02]))]))
    if r.random() < 0.35:
        p.transforms.append(("normalize", [("mean", round(r.uniform(-0.5, 0.5), 3)), ("std", round(r.uniform(0.5, 2.0), 3))]))
    if r.random() < 0.3 and len(in_shape) > 1:
        p.sample_shape = (n_in,)
        p.transforms.append(("reshape", [("shape", list(in_shape))]))
    if p.sample_dtype == "u8" and not p.transforms:
        p.transforms.append(("to_f32", []))
    # network
    h = "x"
    nops = r.randint(1, 5)
    blockn = 0
    for _ in range(nops):
        s = b.shape(h)
        roll = r.random()
        if roll < 0.12 and len(s) in (1, 3):
            # residual: h + f(h) with f keeping the shape
            if len(s) == 1:
                f = [("dense", [("units", s[0])]), (choice(r, ["relu", "tanh", "gelu"]), [])]
            else:
                f = [("conv2d", [("filters", s[0]), ("kernel", 3), ("pad", Word("same"))]), ("relu", [])]
            y = b.chain(h, f)
            h = b.op([h, y], "add", _infix=r.random() < 0.5)
            continue
        if roll < 0.2 and len(s) in (1, 3):
            # two branches concatenated on the feature/channel axis
            if len(s) == 1:
                l, rr = b.op(h, "dense", units=r.randint(1, 4)), b.op(h, "dense", units=r.randint(1, 4))
            else:
                l = b.op(h, "conv2d", filters=r.randint(1, 3), kernel=1)
                rr = b.op(h, "conv2d", filters=r.randint(1, 3), kernel=3, pad=1)
            h = b.op([l, rr], "concat")
            continue
        if roll < 0.32 and len(s) in (1, 2, 3):
            # a block around 1-3 ops whose first op takes the parameter
            first = "dense" if len(s) in (1, 2) else "conv2d"
            blockn += 1
            c = r.randint(1, 6)
            ops = [(first, [("units", c)] if first == "dense" else [("filters", c), ("kernel", 1)])]
            ops += [(choice(r, ["relu", "tanh", "sigmoid"] + (["layer_norm"] if c >= 2 else [])), []) for _ in range(r.randint(0, 2))]
            blk = D.Block(f"blk{blockn}", ops, ops[0][1][0])
            p.blocks.append(blk)
            start = len(p.nodes)
            h = b.chain(h, ops)
            p.block_calls.append((start, len(ops), blk, c))
            continue
        g = gen_op(r, s, opnames)
        if g is None:
            continue
        op, a = g
        h = b.op(h, op, **dict(a))
        # at most rank 3 per sample; values stay small
        sh = b.shape(h)
        n = 1
        for d in sh:
            n *= d
        if n > 600 or len(sh) > 3 or n == 0:
            return None
    s = b.shape(h)
    heads = ["ce", "ce", "ce", "nll", "mse", "sce"] + ([] if avoid else ["ce_onehot", "bce_logits", "bce"])
    if len(s) == 2:
        heads += ["ce_seq", "ce_seq"]
    if r.random() < 0.04:
        heads = ["l1"]
    head = choice(r, heads)
    classes = r.randint(2, 5) if head not in ("mse", "bce_logits", "bce") else r.randint(1, 4)
    D.finish(p, b, h, head, classes)
    if head in ("ce", "ce_seq", "sce") and r.random() < 0.2:
        p.loss = (p.loss[0], [("label_smoothing", choice(r, [0.05, 0.1]))])
    if head == "mse" and r.random() < 0.05 and not avoid:
        p.label_transforms.append(("scale", [("factor", 0.5)]))
    # optimizer, schedules, training
    on = choice(r, optimizers)
    oa = []
    lr = choice(r, [0.001, 0.01, 0.05, 0.1])
    if on == "sgd" or r.random() < 0.7:
        oa.append(("lr", lr))
    if on == "sgd":
        if r.random() < 0.5:
            oa.append(("momentum", choice(r, [0.5, 0.9])))
            if r.random() < 0.3:
                oa.append(("nesterov", True))
        if r.random() < 0.3 and not avoid:
            oa.append(("weight_decay", choice(r, [1e-4, 0.01])))
    elif on in ("adam", "adamw"):
        if r.random() < 0.4:
            oa.append(("beta1", choice(r, [0.8, 0.9])))
        if r.random() < 0.4:
            oa.append(("beta2", choice(r, [0.99, 0.999])))
        if r.random() < 0.3:
            oa.append(("eps", choice(r, [1e-6, 1e-8])))
        if avoid:
            oa.append(("weight_decay", 0.0))
        elif r.random() < 0.4:
            oa.append(("weight_decay", choice(r, [0.0, 1e-3, 0.05])))
    elif on == "rmsprop":
        if r.random() < 0.4:
            oa.append(("alpha", choice(r, [0.9, 0.99])))
        if r.random() < 0.4:
            oa.append(("momentum", choice(r, [0.0, 0.5])))
        if r.random() < 0.3 and not avoid:
            oa.append(("weight_decay", choice(r, [1e-3])))
    p.optimizer = (on, oa)
    p.epochs = r.randint(1, 3)
    p.seed = r.randint(0, 99)
    if r.random() < 0.5:
        sn = choice(r, schedules)
        if sn == "step":
            p.schedules.append(("step", [("every", r.randint(1, 2))] + ([("gamma", 0.5)] if r.random() < 0.5 else [])))
        elif sn == "multistep":
            p.schedules.append(("multistep", [("milestones", sorted(r.sample([1, 2, 3], r.randint(1, 2))))]))
        elif sn == "cosine":
            p.schedules.append(("cosine", [("t_max", r.randint(1, 3))] + ([("eta_min", 0.001)] if r.random() < 0.4 else [])))
        elif sn == "warmup":
            p.schedules.append(("warmup", [("steps", r.randint(1, 4))]))
        elif sn == "exponential":
            p.schedules.append(("exponential", [("gamma", choice(r, [0.5, 0.9]))]))
        elif sn == "constant":
            p.schedules.append(("constant", []))
        if r.random() < 0.25 and sn != "warmup" and "warmup" in schedules:
            p.schedules.append(("warmup", [("steps", r.randint(1, 3))]))
        elif r.random() < 0.08 and sn in ("step", "multistep", "cosine") and not avoid:
            p.schedules.append(("step", [("every", 1), ("gamma", 0.5)]))  # two epoch schedules: chained in PyTorch
    # data: one batch per epoch with shuffling; several batches in order without
    if r.random() < 0.5:
        p.steps.insert(0, ("shuffle", [] if r.random() < 0.5 else [("buffer", choice(r, [Word("all"), 100]))]))
        p.samples = batch
    else:
        p.samples = batch * r.randint(1, 3)
        if r.random() < 0.08 and batch >= 3 and not avoid:
            p.samples += 2  # a partial last batch (of 2: batch_norm needs more than one sample)
    if r.random() < 0.15:
        p.steps[-1] = ("batch", [("size", batch), ("drop_last", r.random() < 0.5)])
    if r.random() < 0.08 and p.samples % batch == 0 and "shuffle" not in dict(p.steps) and not avoid:
        p.steps.insert(0, ("repeat", [("count", 2)]))
    if r.random() < 0.08 and len(p.sample_shape) == 3:
        p.augments.append(("random_flip", [("p", 0.0)]))
    if r.random() < 0.05 and len(p.sample_shape) == 3 and p.sample_shape[1] == p.sample_shape[2] and not avoid:
        p.augments.append(("random_crop", [("size", p.sample_shape[1])]))
    p.checkpoint = "ck"
    # attributes with a position in the op table are written without their name half of the time
    for nd in p.nodes:
        pos = POSITIONAL.get(nd.op, {})
        names = [n for n, _ in nd.args]
        lead = []
        for i, n in enumerate(names):
            if pos.get(n) == i:
                lead.append(n)
            else:
                break
        if lead and r.random() < 0.5:
            nd.positional = tuple(lead)
    # gradient clipping, from a generator of its own (the draws above, and the mutants after, stay as they were);
    # thresholds small enough that most steps are clipped
    rc = random.Random(f"clip:{p.seed}:{len(p.nodes)}:{p.samples}")
    if CLIPS and rc.random() < 0.3:
        cn = choice(rc, sorted(CLIPS))
        attr = CLIPS[cn]
        p.clip = (cn, [(attr, choice(rc, [0.05, 0.5, 5.0] if cn == "norm" else [0.005, 0.05, 0.5]))])
    return p


def mutate(r, text):
    """A random small edit: most make the spec wrong; the checker must say so with a located code."""
    lines = text.split("\n")
    k = r.randrange(len(lines))
    ln = lines[k]
    how = r.randrange(5)
    toks = ln.split(" ")
    if how == 0:
        import re
        nums = list(re.finditer(r"\d+", ln))
        if nums:
            m = choice(r, nums)
            ln = ln[:m.start()] + str(choice(r, [0, 1, 3, 7, 100, 99999])) + ln[m.end():]
    elif how == 1 and len(toks) > 1:
        del toks[r.randrange(len(toks))]
        ln = " ".join(toks)
    elif how == 2:
        for a, bb in (("dense", "conv2d"), ("conv2d", "dense"), ("relu", "softmax"), ("cross_entropy", "nll"),
                      ("logits", "probs"), ("f32", "u8"), ("sgd", "adam"), ("flatten", "relu"), ("class", "multilabel")):
            if a in ln:
                ln = ln.replace(a, bb, 1)
                break
    elif how == 3:
        lines.insert(k, lines[r.randrange(len(lines))])
    else:
        pos = r.randrange(len(ln) + 1)
        ln = ln[:pos] + choice(r, [",", ")", "(", "[", "|>", " x", ": 2", "-1"]) + ln[pos:]
    lines[k] = ln
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------------
# running


def known_issue(p, res=None):
    """'known: TAG' (issue 12), 'found: TAG' (an earlier run of this fuzzer), or None: the first entry whose
    feature the program has, whose stage is the one that disagreed, and whose message pattern (if any) the
    disagreement's message has."""
    stage = res.stage if res is not None else ""
    for what, table in (("known", KNOWN), ("found", FOUND)):
        for tag, pred, stages, pattern, _ in table:
            try:
                if not pred(p):
                    continue
            except Exception:
                continue
            if stage and stage not in stages.split():
                continue
            if pattern and res is not None and pattern not in res.msg:
                continue
            return f"{what}: {tag}"
    return None


def run_program(dlspec, p, d, rs, do_train, gen):
    """Returns (Result, verdict of check)."""
    spec = os.path.join(d, "spec.dls")
    open(spec, "w").write(p.render())
    x, y = H.make_data(p, gen)
    H.write_data(p, x, y)
    verdict, msg = H.check_spec(dlspec, spec)
    if verdict == "bug":
        return H.Result("check-bug", msg, "check"), verdict
    if verdict == "rejected":
        return H.Result("rejected", msg, "check"), verdict
    exe = os.path.join(d, "spec.bin")
    rc, out = H.build(dlspec, spec, exe)
    if rc != 0:
        return H.Result("build-failed", f"exit {rc}: {out[-1500:]}", "build"), verdict
    r, *_ = H.step_compare(p, exe, d, gen, batch=(x, y))
    if not r.ok or not do_train:
        return r, verdict
    return H.train_compare(p, exe, d, gen, x, y), verdict


def save(out, name, p, text, res, seed):
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    open(os.path.join(d, "spec.dls"), "w").write(text)
    if p is not None:
        with open(os.path.join(d, "program.pickle"), "wb") as f:  # for re-running and re-classifying it
            pickle.dump(p, f)
    json.dump({"seed": seed, "kind": res.kind, "known": known_issue(p, res) if p else None, "message": res.msg},
              open(os.path.join(d, "result.json"), "w"), indent=1)


def one(args, k, opnames, optimizers, schedules, stats, out):
    seed = args.seed * 1000003 + k
    r = random.Random(seed)
    gen = torch.Generator().manual_seed(seed)
    d = os.path.join(args.work, f"s{k % 4}")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    p = None
    for _ in range(20):
        p = gen_program(r, d, opnames, optimizers, schedules)
        if p is not None:
            break
    if p is None:
        return
    stats["generated"] += 1
    do_train = r.random() < args.train_share
    try:
        res, verdict = run_program(args.dlspec, p, d, r, do_train, gen)
    except Exception as e:
        res, verdict = H.Result("harness", f"{type(e).__name__}: {e}\n{traceback.format_exc()[-1500:]}"), "?"
    stats["clean" if verdict == "clean" else "rejected" if verdict == "rejected" else "other"] += 1
    if res.kind == "rejected":
        stats["rejected_codes"][res.msg] = stats["rejected_codes"].get(res.msg, 0) + 1
    elif not res.ok:
        ki = known_issue(p, res)
        key = f"{res.kind}" + (f" [{ki}]" if ki else "")
        stats["disagreements"][key] = stats["disagreements"].get(key, 0) + 1
        save(out, f"{args.seed}-{k}-{res.kind}", p, p.render(), res, seed)
        print(f"  spec {k}: {key}: {res.msg.splitlines()[0][:200] if res.msg else ''}", flush=True)
    elif do_train:
        stats["trained"] += 1
    # the rejection path: a mutated copy
    if r.random() < args.mutate_share:
        text = mutate(r, p.render())
        spec = os.path.join(d, "mutant.dls")
        open(spec, "w").write(text)
        v, msg = H.check_spec(args.dlspec, spec)
        stats["mutants"] += 1
        stats["mutants_" + v] = stats.get("mutants_" + v, 0) + 1
        if v == "bug":
            stats["disagreements"]["check-bug (mutant)"] = stats["disagreements"].get("check-bug (mutant)", 0) + 1
            save(out, f"{args.seed}-{k}-mutant-check-bug", None, text, H.Result("check-bug", msg), seed)
            print(f"  mutant {k}: check-bug: {msg.splitlines()[0][:200]}", flush=True)


def regressions(args):
    """Every regressions/*.dls (built by regress_programs.py): must agree, or be listed in
    expected_failures.tsv (XFAIL); a listed one that agrees fails the run (XPASS: remove its line)."""
    import optable_walk as W
    import regress_programs as RP
    rdir = os.path.join(D.HERE, "regressions")
    expected = W.read_expected(os.path.join(D.HERE, "expected_failures.tsv"))
    fails = []
    stored = sorted(f[:-4] for f in os.listdir(rdir) if f.endswith(".dls"))
    for name in stored:
        if name not in RP.PROGRAMS:
            fails.append(f"regressions/{name}.dls has no builder in regress_programs.py")
    for name in sorted(RP.PROGRAMS):
        d = os.path.join(args.work, name)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        path = os.path.join(rdir, name + ".dls")
        text = RP.render(name, d)
        if not os.path.exists(path) or open(path).read().replace("@DATA@", d) != text:
            fails.append(f"regressions/{name}.dls differs from its builder: run python3 tests/difffuzz/regress_programs.py")
            continue
        spec = os.path.join(d, "spec.dls")
        open(spec, "w").write(text)
        try:
            res = regression_run(args.dlspec, RP.META.get(name, {}), RP.PROGRAMS[name](d), spec, d)
        except Exception as e:
            res = H.Result("harness", f"{type(e).__name__}: {e}")
        cid = "regression:" + name
        st = "PASS" if res.ok else "FAIL"
        if cid in expected:
            st = "XFAIL" if not res.ok else "XPASS"
            if st == "XPASS":
                fails.append(f"{cid} passes but is listed in expected_failures.tsv: remove the line")
        elif not res.ok:
            fails.append(f"{cid}: {res}")
        print(f"{st:6s} {cid:44s} {res.kind}: {res.msg.splitlines()[0][:150] if res.msg else ''}", flush=True)
    for cid in expected:
        if cid.startswith("regression:") and cid[len("regression:"):] not in RP.PROGRAMS:
            fails.append(f"{cid}: listed in expected_failures.tsv but regress_programs.py has no such program")
    print(f"{len(RP.PROGRAMS)} regression specs")
    if fails:
        print("FAILURES:\n  " + "\n  ".join(fails))
        return 1
    print("PASS")
    return 0


def regression_run(dlspec, meta, p, spec, d):
    verdict, msg = H.check_spec(dlspec, spec)
    if verdict == "bug":
        return H.Result("check-bug", msg)
    if meta.get("expect") == "rejected":
        if verdict == "rejected":
            return H.Result("ok", "rejected: " + msg)
        return H.Result("check-accepts", "check is clean; expected a located error")
    if verdict == "rejected":
        return H.Result("ok", "rejected: " + msg) if meta.get("reject_ok") else H.Result("check-rejects", msg)
    gen = torch.Generator().manual_seed(1)
    x, y = H.make_data(p, gen)
    H.write_data(p, x, y)
    exe = os.path.join(d, "spec.bin")
    rc, out = H.build(dlspec, spec, exe)
    if rc != 0:
        return H.Result("build-failed", " ".join(out.split())[-300:])
    if meta.get("mode", "step") == "step":
        r, *_ = H.step_compare(p, exe, d, gen, batch=(x, y))
        return r
    res = H.train_compare(p, exe, d, gen, x, y, update_tol=meta.get("update_tol"))
    if res.ok and meta.get("clips_every_step") and p.clipped_steps != p.trained_steps:
        return H.Result("harness", f"`clip` changed the gradients of {p.clipped_steps} of {p.trained_steps} steps, "
                                   "not every one: the program does not test clipping")
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dlspec", required=True)
    ap.add_argument("--optable", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--out", default=None, help="where disagreeing specs go (default WORK/disagreements)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--count", type=int, default=0)
    ap.add_argument("--minutes", type=float, default=0)
    ap.add_argument("--only", type=int, default=None, help="just spec k of the seed")
    ap.add_argument("--train-share", type=float, default=0.5)
    ap.add_argument("--mutate-share", type=float, default=0.5)
    ap.add_argument("--strict", action="store_true", help="exit 1 on any disagreement not counted under a known issue")
    ap.add_argument("--regressions", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(1)
    os.makedirs(args.work, exist_ok=True)
    if args.regressions:
        return regressions(args)
    out = args.out or os.path.join(args.work, "disagreements")
    os.makedirs(out, exist_ok=True)
    table = D.load_optable(args.optable)
    opnames = {o["name"] for o in table if o["category"] in D.NETWORK_CATEGORIES and o["opcode"] != "none"}
    missing = sorted(n for n in opnames if n not in D.OPS)
    if missing:
        print(f"ops without PyTorch semantics in dlsprog.OPS: {missing}")
        return 1
    for o in table:
        POSITIONAL[o["name"]] = POSITIONAL.get(o["name"], {}) or {a["name"]: a["positional"] for a in o["attrs"] if a["positional"] >= 0}
    optimizers = [o["name"] for o in table if o["category"] == "optimizer"]
    CLIPS.update({o["name"]: o["attrs"][0]["name"] for o in table if o["category"] == "gradient clipping"})
    schedules = [o["name"] for o in table if o["category"] == "schedule"]
    stats = {"generated": 0, "clean": 0, "rejected": 0, "other": 0, "trained": 0, "mutants": 0,
             "disagreements": {}, "rejected_codes": {}}
    t0 = time.time()
    k = args.only if args.only is not None else 0
    while True:
        if args.only is None and args.count and k >= args.count:
            break
        if args.minutes and time.time() - t0 > args.minutes * 60:
            break
        one(args, k, opnames, optimizers, schedules, stats, out)
        if args.only is not None:
            break
        k += 1
        if k % 5 == 0:
            print(f"[{time.time() - t0:.0f} s] {json.dumps(stats)}", flush=True)
    stats["seconds"] = round(time.time() - t0)
    print(json.dumps(stats, indent=1))
    json.dump(stats, open(os.path.join(args.work, f"stats-{args.seed}.json"), "w"), indent=1)
    unknown = [k for k in stats["disagreements"] if "[" not in k]  # under neither KNOWN nor FOUND
    if args.strict and unknown:
        print(f"disagreements not under a known issue: {unknown}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
