"""The programs behind tests/difffuzz/regressions/*.dls: each builds the Program (dlsprog.py) whose rendering is
that spec (with @DATA@ for its data directory) and whose PyTorch twin it is compared with.

`python3 regress_programs.py` rewrites the .dls files from these builders (run it after changing one);
difffuzz.py --regressions fails when a stored spec differs from its builder's rendering.
"""
import os, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dlsprog as D  # noqa: E402
from dlsprog import Word  # noqa: E402


def label_scale(d):
    """mse on f32 targets scaled in the pipeline (`y = y |> scale(0.5)`): the loss must be that of the
    scaled targets."""
    p, b = D.new_program((4,), batch=4, data_dir=d)
    h = b.op("x", "dense", units=3)
    D.finish(p, b, h, "mse", classes=2)
    p.label_transforms = [("scale", [("factor", 0.5)])]
    p.optimizer = ("sgd", [("lr", 0.1)])
    p.checkpoint = "ck"
    return p


def drop_last_false(d):
    """batch(4) over 10 samples without shuffling, drop_last at its default (false): every epoch trains on
    three batches, the last of 2 samples."""
    p, b = D.new_program((5,), batch=4, data_dir=d)
    h = b.op(b.op("x", "dense", units=4), "tanh")
    D.finish(p, b, h, "ce", classes=3)
    p.samples = 10
    p.steps = [("batch", [("size", 4), ("drop_last", False)])]
    p.optimizer = ("sgd", [("lr", 0.1)])
    p.epochs = 2
    p.checkpoint = "ck"
    return p


def embedding_int_data(d):
    """embedding over i64 samples from an .npy file, trained from data."""
    p, b = D.new_program((5,), dtype="i64", batch=4, data_dir=d)
    p.vocab = 10
    h = b.op("x", "embedding", vocab=10, dim=3)
    D.finish(p, b, h, "ce", classes=4)
    p.optimizer = ("sgd", [("lr", 0.1)])
    p.checkpoint = "ck"
    return p


def l1_loss(d):
    """l1 checks clean: it must build and match torch's l1_loss (or check must reject it with a code)."""
    p, b = D.new_program((6,), batch=4, data_dir=d)
    h = b.op("x", "dense", units=5)
    D.finish(p, b, h, "l1", classes=3)
    p.optimizer = ("sgd", [("lr", 0.1)])
    return p


def one_logit_bce(d):
    """One-logit binary classification: logits[N, 1], bce_with_logits, 0/1 targets."""
    p, b = D.new_program((6,), batch=4, data_dir=d)
    h = b.op("x", "dense", units=4)
    D.finish(p, b, h, "bce_logits", classes=1)
    p.optimizer = ("sgd", [("lr", 0.1)])
    p.checkpoint = "ck"
    return p


def random_crop_after_reshape(d):
    """The language doc's augmentation after a pipeline reshape; size = the sample's, pad 0: an identity crop."""
    p, b = D.new_program((1, 4, 4), batch=4, data_dir=d)
    p.sample_shape = (16,)
    p.transforms = [("reshape", [("shape", [1, 4, 4])])]
    p.augments = [("random_crop", [("size", 4)])]
    h = b.op("x", "conv2d", filters=2, kernel=3, pad=1)
    D.finish(p, b, h, "ce", classes=3)
    p.optimizer = ("sgd", [("lr", 0.1)])
    p.checkpoint = "ck"
    return p


def declared_output_mismatch(d):
    """`-> sigmoid_probs[N, 3]` over a network that returns `dense(3) |> relu`, trained with bce (which takes
    the declared type): a declared type is a contract, the mismatch must be an error at the `return`."""
    p, b = D.new_program((4,), batch=4, data_dir=d)
    h = b.op(b.op("x", "dense", units=3), "relu")
    p.output, p.out_shape, p.out_kind = h, (3,), "real"
    p.declared = ("sigmoid_probs", (3,))
    p.label_decl, p.label_np, p.classes = "multilabel<3>", ("binary", (3,)), 3
    p.loss = ("bce", [])
    p.optimizer = ("sgd", [("lr", 0.1)])
    return p


def onehot_target(d):
    """cross_entropy on onehot<C> targets (accepted by the loss's signature): PyTorch's probability targets."""
    p, b = D.new_program((6,), batch=4, data_dir=d)
    h = b.op(b.op("x", "dense", units=5), "relu")
    D.finish(p, b, h, "ce_onehot", classes=3)
    p.optimizer = ("sgd", [("lr", 0.1)])
    return p


def multilabel_npy(d):
    """multilabel<3> targets read from an .npy file of [samples, 3] 0/1 floats, bce_with_logits, trained."""
    p, b = D.new_program((6,), batch=4, data_dir=d)
    h = b.op(b.op("x", "dense", units=5), "relu")
    D.finish(p, b, h, "bce_logits", classes=3)
    p.optimizer = ("sgd", [("lr", 0.1)])
    p.checkpoint = "ck"
    return p


def weight_decay_bias(d):
    """sgd(weight_decay: 0.05): torch.optim decays every parameter it is given, biases included."""
    p, b = D.new_program((5,), batch=4, data_dir=d)
    h = b.op(b.op("x", "dense", units=4), "tanh")
    D.finish(p, b, h, "ce", classes=3)
    p.optimizer = ("sgd", [("lr", 0.1), ("weight_decay", 0.05)])
    p.epochs = 2
    p.checkpoint = "ck"
    return p


def repeat_count(d):
    """repeat(2) before batch(4) over 8 samples in order: each epoch trains on the data twice (4 steps)."""
    p, b = D.new_program((5,), batch=4, data_dir=d)
    h = b.op(b.op("x", "dense", units=4), "tanh")
    D.finish(p, b, h, "ce", classes=3)
    p.samples = 8
    p.steps = [("repeat", [("count", 2)]), ("batch", [("size", 4)])]
    p.optimizer = ("sgd", [("lr", 0.1)])
    p.checkpoint = "ck"
    return p


def schedule_list(d):
    """schedule = [cosine(t_max: 3), step(every: 1, gamma: 0.5)] over 3 epochs: in PyTorch the two chain."""
    p, b = D.new_program((5,), batch=4, data_dir=d)
    h = b.op(b.op("x", "dense", units=4), "tanh")
    D.finish(p, b, h, "ce", classes=3)
    p.schedules = [("cosine", [("t_max", 3)]), ("step", [("every", 1), ("gamma", 0.5)])]
    p.optimizer = ("sgd", [("lr", 0.1)])
    p.epochs = 3
    p.checkpoint = "ck"
    return p


def batch_norm_partial_batch(d):
    """batch_norm trained on a final partial batch (10 samples, batch(4), drop_last false): its statistics are
    those of the batch's real rows, as PyTorch's for a batch of 2."""
    p, b = D.new_program((5,), batch=4, data_dir=d)
    h = b.op(b.op(b.op("x", "dense", units=4), "batch_norm"), "tanh")
    D.finish(p, b, h, "ce", classes=3)
    p.samples = 10
    p.steps = [("batch", [("size", 4), ("drop_last", False)])]
    p.optimizer = ("sgd", [("lr", 0.1)])
    p.epochs = 2
    p.checkpoint = "ck"
    return p


def cosine_past_t_max(d):
    """cosine(t_max: 1) over 3 epochs: past t_max the rate rises again along the cosine, as in PyTorch."""
    p, b = D.new_program((5,), batch=4, data_dir=d)
    h = b.op(b.op("x", "dense", units=4), "tanh")
    D.finish(p, b, h, "ce", classes=3)
    p.schedules = [("cosine", [("t_max", 1)])]
    p.optimizer = ("sgd", [("lr", 0.1)])
    p.epochs = 3
    p.checkpoint = "ck"
    return p


def schedule_exponential(d):
    """schedule = exponential(gamma: 0.5) over 3 epochs of 2 steps: torch's ExponentialLR stepped per epoch."""
    p, b = D.new_program((5,), batch=4, data_dir=d)
    h = b.op(b.op("x", "dense", units=4), "tanh")
    D.finish(p, b, h, "ce", classes=3)
    p.samples = 8
    p.schedules = [("exponential", [("gamma", 0.5)])]
    p.optimizer = ("sgd", [("lr", 0.2)])
    p.epochs = 3
    p.checkpoint = "ck"
    return p


def clip_norm_lstm(d):
    """clip = norm(max_norm: 0.05) on an LSTM with per-step labels and sgd with momentum, as clip_grad_norm_.
    Every step's global gradient norm is above 0.05, so each of the 4 updates is rescaled."""
    p, b = D.new_program((6, 3), batch=4, data_dir=d)
    h = b.op("x", "lstm", units=4)
    D.finish(p, b, h, "ce_seq", classes=3)
    p.samples = 8
    p.optimizer = ("sgd", [("lr", 0.5), ("momentum", 0.9)])
    p.clip = ("norm", [("max_norm", 0.05)])
    p.epochs = 2
    p.checkpoint = "ck"
    return p


def clip_value_decay(d):
    """clip = value(clip_value: 0.01) with adam and L2 weight decay, as clip_grad_value_ before optimizer.step().
    The gradients are clamped before the optimizer adds the decay, over 2 epochs of 2 steps."""
    p, b = D.new_program((5,), batch=4, data_dir=d)
    h = b.op(b.op("x", "dense", units=4), "tanh")
    D.finish(p, b, h, "ce", classes=3)
    p.samples = 8
    p.optimizer = ("adam", [("lr", 0.01), ("weight_decay", 0.1)])
    p.clip = ("value", [("clip_value", 0.01)])
    p.epochs = 2
    p.checkpoint = "ck"
    return p


def adadelta_steps(d):
    """adadelta(lr: 0.5, rho: 0.8, weight_decay: 0.01) over 3 epochs of 2 steps against torch.optim.Adadelta.
    Its square_avg and acc_delta start at 0."""
    p, b = D.new_program((5,), batch=4, data_dir=d)
    h = b.op(b.op("x", "dense", units=4), "tanh")
    D.finish(p, b, h, "ce", classes=3)
    p.samples = 8
    p.optimizer = ("adadelta", [("lr", 0.5), ("rho", 0.8), ("weight_decay", 0.01)])
    p.epochs = 3
    p.checkpoint = "ck"
    return p


def nadam_steps(d):
    """nadam(lr: 0.01, momentum_decay: 0.05) on an LSTM over 3 epochs of 2 steps against torch.optim.NAdam.
    Its mu_product runs over the steps."""
    p, b = D.new_program((4, 3), batch=4, data_dir=d)
    h = b.op("x", "lstm", units=4, output=Word("last"))
    D.finish(p, b, h, "ce", classes=3)
    p.samples = 8
    p.optimizer = ("nadam", [("lr", 0.01), ("momentum_decay", 0.05)])
    p.clip = ("norm", [("max_norm", 10.0)])
    p.epochs = 3
    p.checkpoint = "ck"
    return p


def time_decay_sgd(d):
    """sgd(lr: 0.2, momentum: 0.5, decay: 0.1): Keras' time-based decay, update k at lr / (1 + 0.1 k), 3 epochs.
    Two steps per epoch; k counts the updates from 0."""
    p, b = D.new_program((5,), batch=4, data_dir=d)
    h = b.op(b.op("x", "dense", units=4), "tanh")
    D.finish(p, b, h, "ce", classes=3)
    p.samples = 8
    p.optimizer = ("sgd", [("lr", 0.2), ("momentum", 0.5), ("decay", 0.1)])
    p.epochs = 3
    p.checkpoint = "ck"
    return p


def adagrad_steps(d):
    """adagrad(lr: 0.05, lr_decay: 0.1, initial_accumulator_value: 0.1, weight_decay: 0.01) over 3 epochs of 2 steps
    against torch.optim.Adagrad. Its sum starts at initial_accumulator_value; update t runs at lr / (1 + (t - 1) lr_decay)."""
    p, b = D.new_program((5,), batch=4, data_dir=d)
    h = b.op(b.op("x", "dense", units=4), "tanh")
    D.finish(p, b, h, "ce", classes=3)
    p.samples = 8
    p.optimizer = ("adagrad", [("lr", 0.05), ("lr_decay", 0.1), ("initial_accumulator_value", 0.1), ("weight_decay", 0.01)])
    p.epochs = 3
    p.checkpoint = "ck"
    return p


def amsgrad_steps(d):
    """adam(lr: 0.02, beta2: 0.9, amsgrad: true) over 4 epochs of 2 steps against torch.optim.Adam(amsgrad=True).
    With beta2 0.9 the second moment falls within a few steps, so the running maximum max_exp_avg_sq divides them."""
    p, b = D.new_program((5,), batch=4, data_dir=d)
    h = b.op(b.op("x", "dense", units=4), "tanh")
    D.finish(p, b, h, "ce", classes=3)
    p.samples = 8
    p.optimizer = ("adam", [("lr", 0.02), ("beta2", 0.9), ("amsgrad", True)])
    p.epochs = 4
    p.checkpoint = "ck"
    return p


def lamb_steps(d):
    """lamb(lr: 0.01, weight_decay: 0.01) over 3 epochs of 2 steps against LAMB written in torch (harness.Lamb).
    The trust ratio |p| / |r| of each parameter tensor scales its update."""
    p, b = D.new_program((5,), batch=4, data_dir=d)
    h = b.op(b.op("x", "dense", units=4), "tanh")
    D.finish(p, b, h, "ce", classes=3)
    p.samples = 8
    p.optimizer = ("lamb", [("lr", 0.01), ("weight_decay", 0.01)])
    p.epochs = 3
    p.checkpoint = "ck"
    return p


def onecycle_steps(d):
    """sgd(lr: 0.1, momentum: 0.9) with onecycle(max_lr: 0.2, pct_start: 0.25) over 4 epochs of 2 steps against
    torch.optim.lr_scheduler.OneCycleLR stepped per update (cycle_momentum=False)."""
    p, b = D.new_program((5,), batch=4, data_dir=d)
    h = b.op(b.op("x", "dense", units=4), "tanh")
    D.finish(p, b, h, "ce", classes=3)
    p.samples = 8
    p.optimizer = ("sgd", [("lr", 0.1), ("momentum", 0.9)])
    p.schedules = [("onecycle", [("max_lr", 0.2), ("pct_start", 0.25)])]
    p.epochs = 4
    p.checkpoint = "ck"
    return p


def warmup_cosine(d):
    """adam(lr: 0.01) with [warmup(steps: 3), cosine(t_max: 4)]: cosine annealing with a linear warm-up, over 4
    epochs of 2 steps, against LambdaLR (per step) chained with CosineAnnealingLR (per epoch)."""
    p, b = D.new_program((5,), batch=4, data_dir=d)
    h = b.op(b.op("x", "dense", units=4), "tanh")
    D.finish(p, b, h, "ce", classes=3)
    p.samples = 8
    p.optimizer = ("adam", [("lr", 0.01)])
    p.schedules = [("warmup", [("steps", 3)]), ("cosine", [("t_max", 4)])]
    p.epochs = 4
    p.checkpoint = "ck"
    return p


PROGRAMS = {f.__name__: f for f in (label_scale, drop_last_false, embedding_int_data, l1_loss, one_logit_bce,
                                    random_crop_after_reshape, declared_output_mismatch, onehot_target,
                                    multilabel_npy, weight_decay_bias, repeat_count, schedule_list,
                                    batch_norm_partial_batch, cosine_past_t_max, clip_norm_lstm, clip_value_decay,
                                    schedule_exponential, adadelta_steps, nadam_steps, time_decay_sgd,
                                    adagrad_steps, amsgrad_steps, lamb_steps, onecycle_steps, warmup_cosine)}
# How each is judged. mode: `step` (one step against PyTorch) or `train` (epochs from the same weights);
# expect `rejected`: check must refuse it with a located error; reject_ok: a located rejection by check
# also passes (the issue may be fixed either by making it run right or by refusing it); update_tol: every
# parameter's update after training within this relative error of PyTorch's; clips_every_step: PyTorch's run
# must have clipped the gradients of every step (the program tests clipping for real).
META = {
    "label_scale": dict(mode="train"),
    "drop_last_false": dict(mode="train"),
    "embedding_int_data": dict(mode="train"),
    "l1_loss": dict(mode="step", reject_ok=True),
    "one_logit_bce": dict(mode="train", reject_ok=False),
    "random_crop_after_reshape": dict(mode="train", reject_ok=True),
    "declared_output_mismatch": dict(expect="rejected"),
    "onehot_target": dict(mode="step", reject_ok=False),
    "multilabel_npy": dict(mode="train", reject_ok=False),
    "weight_decay_bias": dict(mode="train"),
    "repeat_count": dict(mode="train", reject_ok=False),
    "schedule_list": dict(mode="train", reject_ok=False),
    "batch_norm_partial_batch": dict(mode="train", reject_ok=False),
    "cosine_past_t_max": dict(mode="train", reject_ok=False),
    "clip_norm_lstm": dict(mode="train", reject_ok=False, update_tol=1e-4, clips_every_step=True),
    "clip_value_decay": dict(mode="train", reject_ok=False, update_tol=1e-4, clips_every_step=True),
    "schedule_exponential": dict(mode="train", reject_ok=False, update_tol=1e-4),
    "adadelta_steps": dict(mode="train", reject_ok=False, update_tol=1e-4),
    "nadam_steps": dict(mode="train", reject_ok=False, update_tol=1e-4),
    "time_decay_sgd": dict(mode="train", reject_ok=False, update_tol=1e-4),
    "adagrad_steps": dict(mode="train", reject_ok=False, update_tol=1e-5),
    "amsgrad_steps": dict(mode="train", reject_ok=False, update_tol=1e-5),
    "lamb_steps": dict(mode="train", reject_ok=False, update_tol=1e-5),
    "onecycle_steps": dict(mode="train", reject_ok=False, update_tol=1e-5),
    "warmup_cosine": dict(mode="train", reject_ok=False, update_tol=1e-5),
}


def header(f):
    return f"// Regression spec of the differential tests (tests/difffuzz): {f.__doc__.strip().splitlines()[0]}\n"


def render(name, d):
    lines = PROGRAMS[name](d).render().split("\n")
    return "\n".join(lines[:1] + [header(PROGRAMS[name]).rstrip("\n")] + lines[1:])


def main():
    rdir = os.path.join(D.HERE, "regressions")
    for name, f in PROGRAMS.items():
        open(os.path.join(rdir, name + ".dls"), "w").write(render(name, "@DATA@"))
        print("wrote", name)


if __name__ == "__main__":
    main()
