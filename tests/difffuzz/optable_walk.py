#!/usr/bin/python3
"""The op-table walk: every op of the op table's network categories (layers, activations, structural ops)
and every loss, built on canonical shapes, against PyTorch 1.13.

For each op, CASES gives one or more tiny programs around it (a data set of random .npy data, one batch).
Each case is checked (`dlspec check` must be clean), built, run for one step with `step-check` (loss and
every parameter gradient against PyTorch within 1e-4 relative) and its compiled gradient checked against
finite differences of its own loss. An op with no runtime kernel (opcode kOpcodeNone) is reported as
CHECK-ONLY, with what `check` and `build` say about it; it is never skipped in silence.

The test fails when
  - an op of those categories has no entry in CASES (a new op must get a canonical case here),
  - a case disagrees, unless it is listed in expected_failures.tsv (then it is XFAIL; when it passes
    although listed, XPASS fails the test until the line is removed).

usage: optable_walk.py DLSPEC OPTABLE_DUMP WORKDIR [--all] [OP...]
  ctest runs the first case of every op and those marked `always`; --all (tests/difffuzz/run_long.sh) and
  naming ops run every case.
"""
import concurrent.futures, os, shutil, sys, time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dlsprog as D  # noqa: E402
import harness as H  # noqa: E402


def dense_then(op, **a):
    """x: f32[6] -> dense(5) -> OP -> head."""
    def build(p, b):
        return b.op(b.op("x", "dense", units=5), op, **a)
    return build


def conv_then(op, c=4, hw=6, **a):
    """x: f32[2, hw, hw] -> conv2d(c, 3, pad: 1) -> OP."""
    def build(p, b):
        return b.op(b.op("x", "conv2d", filters=c, kernel=3, pad=1), op, **a)
    return build


def case(in_shape, build, head="ce", dtype="f32", fd=True, torch_cmp=True, note="", always=False):
    """always: ctest runs this case too, not only the op's first (an attribute whose only proof it is)."""
    return dict(in_shape=in_shape, build=build, head=head, dtype=dtype, fd=fd, torch=torch_cmp, note=note,
                always=always)


def two_branches(op, **a):
    def build(p, b):
        l = b.op("x", "dense", units=5)
        r = b.op(b.op("x", "dense", units=5), "tanh")
        return b.op([l, r], op, **a)
    return build


def squeeze_excite(p, b):
    """conv2d, then the channels rescaled by a gate from their means: h * sigmoid(dense(mean(h)))."""
    h = b.op("x", "conv2d", filters=4, kernel=3, pad=1)
    s = b.op(b.op(h, "mean", axes=[2, 3], keepdims=True), "sigmoid")
    return b.op([h, s], "mul", _infix=True)


def centre(p, b):
    """h - mean(h) over the features, broadcast back."""
    h = b.op("x", "dense", units=5)
    return b.op([h, b.op(h, "mean", axes=[-1], keepdims=True)], "sub", _infix=True)


def ratio(p, b):
    """dense / sigmoid(dense): a denominator in (0, 1)."""
    l = b.op("x", "dense", units=5)
    r = b.op(b.op("x", "dense", units=5), "sigmoid")
    return b.op([l, r], "div", _infix=True)


def residual(p, b):
    h = b.op("x", "conv2d", filters=3, kernel=3, pad=D.Word("same"))
    y = b.op(b.op(h, "relu"), "conv2d", filters=3, kernel=3, pad=1)
    nd = b.op([h, y], "add", _infix=True)
    return nd


# op -> cases. Shapes are per sample; every case ends in a head whose loss it names (dlsprog.finish).
CASES = {
    # ---- layers
    "dense": [case((6,), lambda p, b: b.op("x", "dense", units=5, bias=False)),
              case((3, 6), lambda p, b: b.op("x", "dense", units=5), head="ce_seq")],
    "conv2d": [case((2, 6, 6), lambda p, b: b.op("x", "conv2d", filters=4, kernel=3, pad=1, groups=2)),
               case((2, 7, 7), lambda p, b: b.op("x", "conv2d", filters=3, kernel=[3, 2], stride=2, pad=D.Word("same"),
                                                  dilation=[1, 2], bias=False)),
               case((1, 6, 6), lambda p, b: b.op("x", "conv2d", filters=2, kernel=3, pad=[1, 0, 0, 1]))],
    "conv1d": [case((2, 9), lambda p, b: b.op("x", "conv1d", filters=4, kernel=3, pad=1, groups=2)),
               case((3, 11), lambda p, b: b.op("x", "conv1d", filters=2, kernel=3, stride=2, pad=D.Word("same"),
                                                dilation=2, bias=False)),
               case((2, 8), lambda p, b: b.op(b.op("x", "conv1d", filters=3, kernel=2, pad=[0, 1]), "relu"))],
    "maxpool": [case((2, 6, 6), conv_then("maxpool", kernel=2)),
                case((2, 7, 7), conv_then("maxpool", kernel=3, stride=2, pad=1, dilation=1)),
                case((2, 8, 8), conv_then("maxpool", kernel=2, stride=1, dilation=2), always=True),
                case((2, 7, 7), conv_then("maxpool", kernel=[3, 2], stride=2, pad=1, dilation=[2, 3]), always=True)],
    "avgpool": [case((2, 6, 6), conv_then("avgpool", kernel=2)),
                case((2, 7, 7), conv_then("avgpool", kernel=3, stride=2, pad=1))],
    "global_avgpool": [case((2, 5, 5), conv_then("global_avgpool"))],
    "batch_norm": [case((6,), dense_then("batch_norm", eps=1e-3, momentum=0.2)),
                   case((2, 5, 5), conv_then("batch_norm"))],
    "layer_norm": [case((6,), dense_then("layer_norm", eps=1e-4)),
                   case((3, 4), lambda p, b: b.op(b.op("x", "dense", units=5), "layer_norm"), head="ce_seq"),
                   case((2, 5, 5), conv_then("layer_norm", axes=3, eps=1e-4), always=True),
                   case((2, 5, 5), conv_then("layer_norm", axes=2), always=True)],
    "dropout": [case((6,), dense_then("dropout", p=0.0)),
                case((6,), dense_then("dropout", p=0.5), torch_cmp=False,
                     note="p > 0: its random mask has no PyTorch twin; finite differences only")],
    "embedding": [case((5,), lambda p, b: b.op("x", "embedding", vocab=10, dim=3), dtype="i64")],
    "rnn": [case((4, 3), lambda p, b: b.op("x", "rnn", units=5, output=D.Word("last"))),
            case((4, 3), lambda p, b: b.op("x", "rnn", units=5, activation=D.Word("leaky_relu"), alpha=0.1), head="ce_seq"),
            case((4, 3), lambda p, b: b.op("x", "rnn", units=4, activation=D.Word("relu"), bias=False), head="ce_seq"),
            case((4, 3), lambda p, b: b.op("x", "rnn", units=3, activation=D.Word("leaky_relu"), alpha=0.2, layers=2,
                                           bidirectional=True), head="ce_seq", always=True),
            case((4, 3), lambda p, b: b.op("x", "rnn", units=3, layers=3, bias=False, output=D.Word("last"))),
            case((6,), lambda p, b: b.op(b.op("x", "embedding", vocab=10, dim=3, mask_token=0), "rnn", units=3,
                                         activation=D.Word("relu"), layers=2, output=D.Word("last")), dtype="i64")],
    "gru": [case((4, 3), lambda p, b: b.op("x", "gru", units=5), head="ce_seq"),
            case((4, 3), lambda p, b: b.op("x", "gru", units=4, reset_after=False, output=D.Word("last"))),
            case((4, 3), lambda p, b: b.op("x", "gru", units=3, bidirectional=True, output=D.Word("last")), always=True),
            case((4, 3), lambda p, b: b.op("x", "gru", units=3, reset_after=False, layers=2, bidirectional=True,
                                           bias=False), head="ce_seq"),
            case((6,), lambda p, b: b.op(b.op(b.op("x", "embedding", vocab=10, dim=4, mask_token=0), "dense", units=3),
                                         "gru", units=3, reset_after=False, bidirectional=True), dtype="i64",
                 head="ce_seq_ign", always=True, note="the mask passes through dense to the gru")],
    "lstm": [case((4, 3), lambda p, b: b.op("x", "lstm", units=5), head="ce_seq"),
             case((4, 3), lambda p, b: b.op("x", "lstm", units=4, bias=False, output=D.Word("last"))),
             case((4, 3), lambda p, b: b.op("x", "lstm", units=3, layers=2, bidirectional=True), head="ce_seq",
                  always=True),
             case((5, 3), lambda p, b: b.op("x", "lstm", units=3, layers=2, bidirectional=True, output=D.Word("last")),
                  always=True),
             case((6,), lambda p, b: b.op(b.op("x", "embedding", vocab=10, dim=3, mask_token=0), "lstm", units=3,
                                          layers=2, bidirectional=True), dtype="i64", head="ce_seq_ign", always=True,
                  note="mask_token: the steps of token 0 (one in ten, anywhere) are padding"),
             case((6,), lambda p, b: b.op(b.op("x", "embedding", vocab=10, dim=3, mask_token=3), "lstm", units=3,
                                          bidirectional=True, output=D.Word("last")), dtype="i64", always=True)],
    "multi_head_attention": [
        case((5, 6), lambda p, b: b.op("x", "multi_head_attention", heads=2, dim=6, causal=True), head="ce_seq"),
        case((4, 8), lambda p, b: b.op("x", "multi_head_attention", heads=4, dim=8), head="ce_seq", always=True),
        case((3, 4), lambda p, b: b.op("x", "multi_head_attention", heads=1, dim=4, bias=False, causal=True),
             head="ce_seq"),
        case((4, 6), lambda p, b: b.op("x", "multi_head_attention", heads=3, dim=6, dropout=0.3), head="ce_seq",
             torch_cmp=False, note="dropout > 0: its random mask has no PyTorch twin; finite differences only")],
    "cross_attention": [
        case((5, 6), lambda p, b: b.op(["x", b.op(b.op("x", "slice", axis=1, start=0, end=3), "dense", units=6)],
                                       "cross_attention", heads=2, dim=6), head="ce_seq",
             note="a memory of 3 steps for 5 queries"),
        case((3, 4), lambda p, b: b.op(["x", b.op(["x", b.op("x", "tanh")], "concat", axis=1)], "cross_attention",
                                       heads=2, dim=4, causal=True, bias=False), head="ce_seq", always=True,
             note="causal over a memory of 6 steps for 3 queries (attn_mask triu(-inf, 1) of shape [3, 6])"),
        case((4, 6), lambda p, b: b.op(["x", b.op("x", "tanh")], "cross_attention", heads=3, dim=6, dropout=0.3),
             head="ce_seq", torch_cmp=False, note="dropout > 0: its random mask has no PyTorch twin; finite differences only"),
        case((5, 6), lambda p, b: b.op(["x", b.op(b.op("x", "slice", axis=1, start=0, end=3), "dense", units=4)],
                                       "cross_attention", heads=2, dim=6, causal=True), head="ce_seq", always=True,
             note="a memory of 4 features for queries of 6 (torch's kdim = vdim = 4: q_proj_weight, k_proj_weight, "
                  "v_proj_weight)"),
        case((3, 4), lambda p, b: b.op(["x", b.op("x", "dense", units=7)], "cross_attention", heads=1, dim=4,
                                       bias=False), head="ce_seq", note="a memory of 7 features, no biases")],
    "positional_embedding": [
        case((4, 5), lambda p, b: b.op(b.op("x", "dense", units=6), "positional_embedding", max_len=7), head="ce_seq"),
        case((3,), lambda p, b: b.op(b.op("x", "embedding", vocab=10, dim=4), "positional_embedding", max_len=3),
             dtype="i64", head="ce_seq", always=True)],
    "upsample": [case((2, 3, 3), conv_then("upsample", factor=2))],
    "reorg": [case((1, 4, 4), conv_then("reorg", c=8, stride=2)),
              case((2, 3, 3), conv_then("reorg", c=2, stride=1, extra=3))],
    "local": [case((2, 5, 5), lambda p, b: b.op("x", "local", filters=3, kernel=3, pad=1)),
              case((2, 6, 6), lambda p, b: b.op("x", "local", filters=2, kernel=[3, 2], stride=2, bias=False))],
    # ---- activations
    "relu": [case((6,), dense_then("relu"))],
    "leaky_relu": [case((6,), dense_then("leaky_relu", alpha=0.2))],
    "gelu": [case((6,), dense_then("gelu"))],
    "tanh": [case((6,), dense_then("tanh"))],
    "sigmoid": [case((6,), dense_then("sigmoid")), case((6,), lambda p, b: b.op("x", "dense", units=5), head="bce")],
    "softmax": [case((6,), dense_then("softmax"))],
    "log_softmax": [case((6,), dense_then("log_softmax")), case((6,), lambda p, b: b.op("x", "dense", units=5), head="nll")],
    "ramp": [case((6,), dense_then("ramp"))],
    "elu": [case((6,), dense_then("elu", alpha=0.5)), case((2, 5, 5), conv_then("elu"))],
    "selu": [case((6,), dense_then("selu")), case((2, 5, 5), conv_then("selu"), always=True)],
    "silu": [case((6,), dense_then("silu")), case((2, 5, 5), conv_then("silu"))],
    "mish": [case((6,), dense_then("mish"))],
    "softplus": [case((6,), dense_then("softplus", beta=2.0)), case((2, 5, 5), conv_then("softplus"), always=True),
                 case((6,), dense_then("softplus", threshold=0.5), fd=False, always=True,
                      note="threshold: softplus is discontinuous there, no finite differences")],
    "hardswish": [case((6,), dense_then("hardswish"))],
    "hardsigmoid": [case((6,), dense_then("hardsigmoid"))],
    "relu6": [case((6,), dense_then("relu6"))],
    "prelu": [case((2, 5, 5), conv_then("prelu", per_channel=True)), case((6,), dense_then("prelu"), always=True)],
    "glu": [case((6,), lambda p, b: b.op(b.op("x", "dense", units=6), "glu")),
            case((2, 5, 5), conv_then("glu", axis=1), always=True)],
    # ---- structural
    "flatten": [case((2, 3, 3), conv_then("flatten"))],
    "reshape": [case((12,), lambda p, b: b.op(b.op("x", "dense", units=12), "reshape", shape=[3, 4]), head="ce_seq")],
    "transpose": [case((3, 4), lambda p, b: b.op(b.op("x", "dense", units=5), "transpose", perm=[0, 2, 1]))],
    "squeeze": [case((1, 6), lambda p, b: b.op(b.op("x", "dense", units=5), "squeeze", axis=1))],
    "unsqueeze": [case((6,), lambda p, b: b.op(b.op("x", "dense", units=5), "unsqueeze", axis=1), head="ce_seq")],
    "add": [case((6,), two_branches("add")), case((2, 5, 5), residual)],
    "mul": [case((2, 5, 5), squeeze_excite), case((6,), two_branches("mul"), always=True)],
    "sub": [case((6,), centre), case((6,), two_branches("sub"))],
    "div": [case((6,), ratio)],
    "mean": [case((2, 5, 5), conv_then("mean", axes=[2, 3])), case((3, 4), lambda p, b: b.op(b.op("x", "dense", units=5), "mean", axes=[1]))],
    "sum": [case((2, 5, 5), conv_then("sum", axes=[1], keepdims=True))],
    "max": [case((2, 5, 5), conv_then("max", axes=[1, 3]))],
    "group_norm": [case((2, 5, 5), conv_then("group_norm", c=4, groups=2)),
                   case((3, 7), lambda p, b: b.op(b.op("x", "conv1d", filters=6, kernel=3), "group_norm", groups=3, eps=1e-3),
                        always=True)],
    "instance_norm": [case((2, 5, 5), conv_then("instance_norm")),
                      case((2, 5, 5), conv_then("instance_norm", affine=True, eps=1e-3), always=True)],
    "maxpool1d": [case((2, 9), lambda p, b: b.op(b.op("x", "conv1d", filters=3, kernel=3, pad=1), "maxpool1d", kernel=2)),
                  case((2, 11), lambda p, b: b.op(b.op("x", "conv1d", filters=3, kernel=3), "maxpool1d", kernel=3, stride=2,
                                                  pad=1, dilation=2), always=True)],
    "avgpool1d": [case((2, 9), lambda p, b: b.op(b.op("x", "conv1d", filters=3, kernel=3, pad=1), "avgpool1d", kernel=3,
                                                 stride=2, pad=[1, 0]))],
    "global_maxpool": [case((2, 5, 5), conv_then("global_maxpool"))],
    "adaptive_avgpool": [case((2, 7, 7), conv_then("adaptive_avgpool", size=3)),
                         case((2, 6, 5), conv_then("adaptive_avgpool", size=[4, 2]), always=True)],
    "concat": [case((6,), two_branches("concat")),
               case((2, 4, 4), lambda p, b: b.op([b.op("x", "conv2d", filters=2, kernel=1), b.op("x", "conv2d", filters=3, kernel=3, pad=1)],
                                                 "concat", axis=1))],
    "conv_transpose2d": [case((2, 4, 4), lambda p, b: b.op("x", "conv_transpose2d", filters=3, kernel=3, stride=2, pad=1,
                                                            output_pad=1)),
                         case((4, 3, 3), lambda p, b: b.op("x", "conv_transpose2d", filters=4, kernel=[2, 3], stride=[1, 2],
                                                           pad=[0, 1], output_pad=[0, 1], dilation=[2, 1], groups=2,
                                                           bias=False), always=True)],
    "slice": [case((2, 6, 6), conv_then("slice", axis=2, start=1, end=-1, step=2)),
              case((6,), lambda p, b: b.op(b.op("x", "dense", units=6), "slice", axis=-1, start=-4), always=True)],
    "pad": [case((2, 5, 5), conv_then("pad", pads=[1, 2, 2, 1], mode=D.Word("reflect"))),
            case((2, 5, 5), conv_then("pad", pads=[2, 1], mode=D.Word("replicate")), always=True),
            case((2, 5, 5), conv_then("pad", pads=[1, 0, 0, 2, 1, 1], value=0.5), always=True)],
    "repeat": [case((2, 3, 3), conv_then("repeat", counts=[1, 1, 2, 3]))],
    # ---- losses (the op under test is the head)
    "cross_entropy": [case((6,), lambda p, b: "x", head="ce"),
                      case((6,), lambda p, b: "x", head="ce_onehot"),
                      case((6,), lambda p, b: "x", head="ce_ls"),
                      case((6,), lambda p, b: "x", head="ce_ign", always=True),
                      case((5, 3), lambda p, b: b.op("x", "dense", units=4), head="ce_seq_ign", always=True)],
    "softmax_cross_entropy": [case((6,), lambda p, b: "x", head="sce", note="deprecated spelling of cross_entropy")],
    "nll": [case((6,), lambda p, b: b.op("x", "dense", units=5), head="nll"),
            case((5, 3), lambda p, b: b.op("x", "dense", units=4), head="nll_seq_ign", always=True)],
    "bce_with_logits": [case((6,), lambda p, b: b.op("x", "dense", units=5), head="bce_logits")],
    "bce": [case((6,), lambda p, b: b.op("x", "dense", units=5), head="bce")],
    "mse": [case((6,), lambda p, b: b.op("x", "dense", units=5), head="mse")],
    "l1": [case((6,), lambda p, b: b.op("x", "dense", units=5), head="l1")],
    "huber": [case((6,), lambda p, b: b.op("x", "dense", units=5), head="huber")],
    "smooth_l1": [case((6,), lambda p, b: b.op("x", "dense", units=5), head="smooth_l1")],
    "poisson": [case((6,), lambda p, b: b.op("x", "dense", units=5), head="poisson")],
    "kl_div": [case((6,), lambda p, b: b.op("x", "dense", units=5), head="kl_div")],
    "focal": [case((6,), lambda p, b: b.op("x", "dense", units=5), head="focal")],
    "hinge": [case((6,), lambda p, b: b.op("x", "dense", units=5), head="hinge")],
    "cosine_embedding": [case((6,), lambda p, b: b.op("x", "dense", units=5), head="pair")],
}
# Class weights of cross_entropy and nll (the `weight` list), always run.
CASES["cross_entropy"].append(case((6,), lambda p, b: "x", head="ce_w", always=True))
CASES["nll"].append(case((6,), lambda p, b: b.op("x", "dense", units=5), head="nll_w", always=True))


def read_expected(path):
    """expected_failures.tsv: ID <TAB> reason. IDs: walk:OP[#k] and regression:NAME."""
    out = {}
    if os.path.exists(path):
        for line in open(path):
            if line.strip() and not line.startswith("#"):
                k, _, why = line.rstrip("\n").partition("\t")
                out[k.strip()] = why.strip()
    return out


def make_program(op, k, c, work):
    d = os.path.join(work, f"{op}-{k}")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    p, b = D.new_program(c["in_shape"], c["dtype"], batch=4, data_dir=d)
    if c["dtype"] == "i64":
        p.vocab = 10
    h = c["build"](p, b)
    head = c["head"]
    if head == "pair":  # cosine_embedding: two embeddings of the value, against 1/-1 targets
        p.output, p.output2 = b.op(h, "dense", units=4), b.op(h, "dense", units=4)
        p.out_kind, p.out_shape, p.classes = "real", (4,), 0
        p.label_decl, p.label_np = "f32[1]", ("pm1", (1,))
        p.loss = ("cosine_embedding", [("margin", 0.2)])
        p.optimizer = ("sgd", [("lr", 0.1)])
        return p, d
    base = {"ce_ls": "ce", "ce_ign": "ce", "ce_seq_ign": "ce_seq", "nll_seq_ign": "ce_seq", "huber": "mse",
            "smooth_l1": "mse", "poisson": "mse", "kl_div": "ce_onehot", "focal": "bce_logits", "hinge": "bce_logits",
            "ce_w": "ce", "nll_w": "nll"}.get(head, head)
    h = D.finish(p, b, h, base, classes=4)
    if head == "ce_ls":
        p.loss = ("cross_entropy", [("label_smoothing", 0.1)])
    elif head in ("ce_ign", "ce_seq_ign"):  # label 1 (one step or sample in four) is skipped
        p.loss = ("cross_entropy", [("ignore_index", 1)])
    elif head == "nll_seq_ign":
        p.loss = ("nll", [("ignore_index", 1)])
        p.output = h = b.op(h, "log_softmax")
        p.out_kind = "log_probs"
    elif head in ("huber", "smooth_l1", "poisson", "focal", "hinge"):
        p.loss = (head, {"huber": [("delta", 0.5)], "smooth_l1": [("beta", 0.5)],
                         "focal": [("gamma", 2.0), ("alpha", 0.25)]}.get(head, []))
    elif head == "kl_div":  # log-probabilities against one-hot target distributions
        p.loss = ("kl_div", [])
        p.output = h = b.op(h, "log_softmax")
        p.out_kind = "log_probs"
    elif head in ("ce_w", "nll_w"):
        p.loss = ("cross_entropy" if head == "ce_w" else "nll", [("weight", [0.5, 2.0, 1.0, 0.25])])
    p.optimizer = ("sgd", [("lr", 0.1)])
    return p, d


def run_case(dlspec, op, k, c, work, opinfo, gen):
    """Returns (status, message): PASS, FAIL, CHECK-ONLY."""
    p, d = make_program(op, k, c, work)
    spec = os.path.join(d, "case.dls")
    open(spec, "w").write(p.render())
    x, y = H.make_data(p, gen)
    H.write_data(p, x, y)
    verdict, msg = H.check_spec(dlspec, spec)
    check_only = opinfo["opcode"] == "none"
    if check_only:
        rc, out = H.build(dlspec, spec, os.path.join(d, "case.bin"))
        said = "check: " + (verdict if verdict != "rejected" else "rejected " + msg)
        codes = sorted(set(w for w in out.split() if len(w) >= 5 and w[0] in "EWRIDM" and w[1:5].isdigit()))
        said += f"; build: exit {rc} {' '.join(codes)}".rstrip()
        if verdict == "bug":
            return "FAIL", said + "\n" + msg
        if verdict == "clean" and rc == 0:
            return "FAIL", "has no runtime kernel (kOpcodeNone), yet check and build accept it: " + said
        ok = verdict == "rejected"
        return ("CHECK-ONLY" if ok else "FAIL"), ("" if ok else "accepted by check, rejected only by build: ") + said
    if verdict != "clean":
        return "FAIL", f"check: {verdict} {msg}\n--- spec\n{p.render()}"
    exe = os.path.join(d, "case.bin")
    rc, out = H.build(dlspec, spec, exe)
    if rc != 0:
        return "FAIL", f"check is clean but build fails (exit {rc}):\n{out[-1500:]}"
    notes = []
    if c["torch"]:
        r, weights, xin, yt, grads = H.step_compare(p, exe, d, gen, batch=(x, y))
        notes.append(f"torch {r.msg}" if r.ok else "")
        if not r.ok:
            return "FAIL", f"{r.kind}: {r.msg}"
    else:
        specs = p.param_specs()
        weights = D.init_params(specs, gen)
        xin, yt = H.pipeline_torch(p, x), H.label_torch(p, y)
        got, out = H.step_check(exe, d, weights, xin, yt)
        if got is None:
            return "FAIL", f"step-check failed:\n{out[-1500:]}"
        grads = got[1]
    if c["fd"]:
        trainable = {n: tr for n, _, tr in p.param_specs()}
        r = H.fd_check(exe, d, weights, trainable, xin, yt, grads, gen)
        if not r.ok:
            return "FAIL", f"{r.kind}: {r.msg}"
        notes.append("fd ok")
    return "PASS", ", ".join(n for n in notes if n) + (f" ({c['note']})" if c["note"] else "")


def main():
    if len(sys.argv) < 4:
        print(__doc__)
        return 2
    all_cases = "--all" in sys.argv
    argv = [a for a in sys.argv if a != "--all"]
    dlspec, dump, work = argv[1:4]
    only = set(argv[4:])
    torch.set_num_threads(1)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    table = D.load_optable(dump)
    expected = read_expected(os.path.join(D.HERE, "expected_failures.tsv"))
    walked = [o for o in table if o["category"] in D.NETWORK_CATEGORIES or o["category"] == "loss"]
    failures, counts = [], {}
    t0 = time.time()
    jobs = []
    for o in walked:
        if only and o["name"] not in only:
            continue
        cases = CASES.get(o["name"])
        if not cases:
            failures.append(f"{o['name']}: no canonical case in optable_walk.py CASES ({o['category']}): add one")
            print(f"MISSING    {o['name']:22s} no canonical case")
            continue
        if o["name"] not in D.OPS and o["name"] not in D.LOSSES:
            failures.append(f"{o['name']}: no PyTorch semantics in dlsprog.OPS")
        for k, c in enumerate(cases):
            if k == 0 or c["always"] or all_cases or only:
                jobs.append((o, k, c))

    def job(j):
        o, k, c = j
        gen = torch.Generator().manual_seed(1000 + k)
        try:
            return run_case(dlspec, o["name"], k, c, work, o, gen)
        except Exception as e:  # a harness error is a failure of the test, never a skip
            return "FAIL", f"harness: {type(e).__name__}: {e}"

    with concurrent.futures.ThreadPoolExecutor(max_workers=int(os.environ.get("WALK_JOBS", "2"))) as pool:
        results = list(pool.map(job, jobs))
    for (o, k, c), (status, msg) in zip(jobs, results):
        if True:
            cid = f"walk:{o['name']}" + (f"#{k}" if k else "")
            if cid in expected:
                if status == "FAIL":
                    status, msg = "XFAIL", f"{expected[cid]} | {msg.splitlines()[0] if msg else ''}"
                elif status == "PASS":
                    status = "XPASS"
                    failures.append(f"{cid}: passes but is listed in expected_failures.tsv: remove the line")
            elif status == "FAIL":
                failures.append(f"{cid}: {msg}")
            counts[status] = counts.get(status, 0) + 1
            print(f"{status:10s} {cid:28s} {msg if status != 'FAIL' else msg.splitlines()[0] if msg else ''}")
            sys.stdout.flush()
    known = {o["name"] for o in table}
    for name in CASES:
        if name not in known:
            failures.append(f"{name}: has a case but is not in the op table (renamed or removed?)")
    print(f"\n{len(walked)} ops walked in {time.time() - t0:.0f} s: " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items())))
    if failures:
        print("\nFAILURES:")
        for f in failures:
            print("  " + f)
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
