"""Runs one `Program` (dlsprog.py) through dlspec and through PyTorch and compares them.

  check      `dlspec check`: clean, or rejected with located diagnostics (file, line, column, code)
  build      `dlspec build` of a clean spec must succeed
  step       `EXE step-check` (one forward + backward, no update) on a batch with given weights: the loss and
             every parameter gradient against PyTorch within TOL (1e-4) relative
  fd         finite differences of the compiled program's own loss along two directions (the gradient's and a
             random one) against its gradient (step-check at W + e d and W - e d)
  train      `EXE train` from a checkpoint holding the same initial weights (written here, `--resume`):
             every epoch's training loss and the parameters after the last update against PyTorch running the
             same pipeline, optimizer, schedules and gradient clipping

Each returns a Result: kind ('ok' or what disagreed) and a message.
"""
import json, math, os, shutil

import numpy as np
import torch
import torch.nn.functional as F

import dlsprog as D

UPDATE_TOL = 1e-3  # parameters after training: the update W_E - W_0, relative (Adam amplifies rounding of tiny grads)


class Result:
    def __init__(self, kind, msg="", stage=""):
        self.kind, self.msg, self.stage = kind, msg, stage

    @property
    def ok(self):
        return self.kind == "ok"

    def __repr__(self):
        return f"{self.kind}: {self.msg}"


# ---------------------------------------------------------------------------------------------------------
# data


def make_data(prog, gen):
    """Raw samples (the data file) and labels for prog.samples samples."""
    S = prog.samples
    shp = (S, *prog.sample_shape)
    if prog.sample_dtype == "u8":
        x = torch.randint(0, 256, shp, generator=gen).to(torch.uint8)
    elif prog.sample_dtype in ("i64", "i32"):
        x = torch.randint(0, prog.vocab, shp, generator=gen)
    else:
        x = torch.randn(shp, generator=gen)
    dt, lshape = prog.label_np
    if dt == "i8":
        C = prog.classes
        y = torch.randint(0, C, (S, *lshape), generator=gen)
    elif dt == "onehot":
        y = F.one_hot(torch.randint(0, lshape[0], (S,), generator=gen), lshape[0]).float()
    elif dt == "binary":
        y = (torch.rand((S, *lshape), generator=gen) > 0.5).float()
    elif dt == "pm1":  # cosine_embedding's targets: 1 or -1
        y = (torch.rand((S, *lshape), generator=gen) > 0.5).float() * 2 - 1
    else:
        y = torch.randn((S, *lshape), generator=gen)
    return x, y


def np_of(t):
    if t.dtype == torch.uint8:
        return t.numpy().astype(np.uint8)
    if t.dtype == torch.int64:
        return t.numpy().astype("<i8")
    return t.numpy().astype("<f4")


def write_data(prog, x, y):
    D.write_npy(os.path.join(prog.data_dir, "x.npy"), np_of(x))
    D.write_npy(os.path.join(prog.data_dir, "y.npy"), np_of(y))


def pipeline_torch(prog, x):
    """The sample field's transformations, applied to the whole split (runtime.h note [7])."""
    for step, args in prog.transforms:
        a = dict(args)
        if step == "to_f32":
            x = x.float()
        elif step == "scale":
            x = x.float() * float(a["factor"])
        elif step == "normalize":
            x = (x.float() - float(a["mean"])) / float(a["std"])
        elif step == "reshape":
            x = x.reshape(x.shape[0], *a["shape"])
        elif step == "random_crop" or step == "random_flip":
            pass  # identity settings only (size = the sample's, pad 0; p 0)
        else:
            raise KeyError(step)
    if prog.sample_dtype in ("i64", "i32") and not prog.transforms:
        return x
    return x.float() if x.dtype != torch.int64 else x


def label_torch(prog, y):
    for step, args in prog.label_transforms:
        a = dict(args)
        if step == "scale":
            y = y * float(a["factor"])
        elif step == "normalize":
            y = (y - float(a["mean"])) / float(a["std"])
        elif step == "one_hot":
            y = F.one_hot(y.long(), a["classes"]).float()
        elif step == "to_f32":
            y = y.float()
        else:
            raise KeyError(step)
    return y


# ---------------------------------------------------------------------------------------------------------
# dlspec


def check_spec(dlspec, path):
    """('clean'|'rejected'|'bug', message). A rejection must carry located diagnostics with codes; an internal
    error (I0001), a crash (signal) or a timeout is a bug."""
    rc, diags, out = D.located_diagnostics(dlspec, path)
    if rc < 0 or rc == 124:
        return "bug", f"dlspec check ended with {'signal ' + str(-rc) if rc < 0 else 'a timeout'}:\n{out[-2000:]}"
    if "I0001" in out:
        return "bug", f"internal error:\n{out[-2000:]}"
    if rc == 0:
        return "clean", ""
    if rc != 1:
        return "bug", f"dlspec check exit {rc}:\n{out[-2000:]}"
    errors = [d for d in diags if (d[1] or "").startswith("error")]
    if not errors:
        return "bug", f"exit 1 without an error diagnostic in the JSON output:\n{out[-2000:]}"
    for code, sev, f, line, col in errors:
        if not code or not f or not line or not col:
            return "bug", f"an error without a code or location: {(code, f, line, col)}\n{out[-2000:]}"
    return "rejected", " ".join(sorted({d[0] for d in errors}))


def build(dlspec, spec, exe):
    rc, out = D.run([dlspec, "build", spec, "-o", exe], timeout=300)
    return rc, out


def step_check(exe, work, weights, x, y, tag="s"):
    wdir, odir = os.path.join(work, tag + "-w"), os.path.join(work, tag + "-out")
    shutil.rmtree(wdir, ignore_errors=True)
    shutil.rmtree(odir, ignore_errors=True)
    os.makedirs(wdir)
    for n, t in weights.items():
        D.write_npy(os.path.join(wdir, n + ".npy"), t.detach().numpy().astype("<f4"))
    D.write_npy(os.path.join(work, tag + "-x.npy"), np_of(x))
    D.write_npy(os.path.join(work, tag + "-y.npy"), np_of(y))
    rc, out = D.run([exe, "step-check", "--weights", wdir, "--batch", os.path.join(work, tag + "-x.npy"),
                     os.path.join(work, tag + "-y.npy"), "--out", odir], cwd=work)
    if rc != 0:
        return None, out
    loss = D.read_npy(os.path.join(odir, "loss.npy")).reshape(())
    grads = {}
    for n in weights:
        p = os.path.join(odir, n + ".grad.npy")
        if os.path.exists(p):
            grads[n] = D.read_npy(p)
    return (loss, grads), out


def torch_step(prog, weights, xin, y, training=True, dtype=torch.float32):
    """Loss and gradients of every trainable parameter in PyTorch, computed in `dtype`."""
    ps = {n: t.clone().to(dtype).requires_grad_(tr) for n, (t, tr) in weights.items()}
    xd = xin if xin.dtype == torch.int64 else xin.to(dtype)
    yd = y if y.dtype == torch.int64 else y.to(dtype)
    out = prog.forward(xd, ps, training)
    loss = D.loss_torch(prog.loss[0], dict(prog.loss[1]), out, yd)
    loss.backward()
    return loss.detach(), {n: p.grad for n, p in ps.items() if p.requires_grad}


def step_compare(prog, exe, work, gen, batch=None):
    """Forward + backward on one batch with the same weights in both. Returns (Result, weights, x, y, grads)."""
    specs = prog.param_specs()
    weights = D.init_params(specs, gen)
    train = {n: tr for n, _, tr in specs}
    x, y = batch if batch else make_data(prog, gen)
    xin = pipeline_torch(prog, x)[:prog.batch]
    yt = label_torch(prog, y)[:prog.batch]
    got, out = step_check(exe, work, weights, xin, yt)
    if got is None:
        return Result("step-failed", out[-1500:], "step"), weights, xin, yt, None
    loss, grads = got
    w = {n: (t, train[n]) for n, t in weights.items()}
    # The reference is PyTorch in float64; PyTorch in float32 measures how much rounding the program itself
    # suffers: dlspec may differ from the reference by TOL or by 10 times PyTorch's own float32 error,
    # whichever is more. Two kinds of gradient are judged by what they are made of:
    # - a gradient that is a cancelling sum (a bias far from the loss) amplifies the few-ulp errors of
    #   dlspec's kernels (oneDNN's eltwise functions approximate exp and tanh) that PyTorch's float32 run does
    #   not show; PyTorch in float64 on weights and batch perturbed by 1e-6 relative measures that
    #   amplification, and 10 times it is tolerated too;
    # - a gradient that is zero in exact arithmetic (a bias before batch_norm, or before a softmax over the
    #   axis it is constant on) is all rounding: its error is absolute, against 1e-5 of the largest gradient.
    ref_loss, ref_grads = torch_step(prog, w, xin, yt, dtype=torch.float64)
    loss32, grads32 = torch_step(prog, w, xin, yt)
    pert = torch.Generator().manual_seed(1)

    def perturbed(t):
        if not t.is_floating_point():
            return t
        return t.double() * (1 + 1e-6 * torch.randn(t.shape, generator=pert, dtype=torch.float64))

    _, grads_p = torch_step(prog, {n: (perturbed(t), tr) for n, (t, tr) in w.items()}, perturbed(xin), yt,
                            dtype=torch.float64)
    msgs, worst = [], 0.0
    e = D.rel(loss, ref_loss)
    worst = max(worst, e)
    msgs.append(f"loss dlspec {loss.item():.7g} torch {ref_loss.item():.7g} rel {e:.1e}")
    bad = e > max(D.TOL, 10 * D.rel(loss32, ref_loss)) or not math.isfinite(loss.item())
    largest = max([g.norm().item() for g in ref_grads.values()] + [1e-6])
    floor = 1e-6 * largest
    for n, g in ref_grads.items():
        if n not in grads:
            msgs.append(f"d {n}: not written by step-check")
            bad = True
            continue
        got = grads[n].reshape(g.shape).double()
        if g.norm().item() < 1e-6 * largest:
            e = (got - g.double()).norm().item() / largest
            if e > 1e-5 or not math.isfinite(e):
                msgs.append(f"d {n} {tuple(g.shape)} zero in exact arithmetic: error {e:.1e} of the largest "
                            f"gradient (tolerance 1.0e-05)  MISMATCH")
                bad = True
            continue
        e = D.rel(got, g, floor)
        tol = max(D.TOL, 10 * D.rel(grads32[n], g, floor), 10 * D.rel(grads_p[n], g, floor))
        worst = max(worst, e)
        if e > tol or not math.isfinite(e):
            msgs.append(f"d {n} {tuple(g.shape)} rel {e:.1e} (tolerance {tol:.1e})  MISMATCH")
            bad = True
    if not bad:
        return Result("ok", f"worst rel {worst:.1e}", "step"), weights, xin, yt, grads
    return Result("step-mismatch", "; ".join(msgs), "step"), weights, xin, yt, grads


def fd_check(exe, work, weights, trainable, xin, y, grads, gen, eps=1e-2, tol=2e-2):
    """Central differences of the compiled loss along the gradient direction and one random direction."""
    names = [n for n in weights if trainable.get(n) and n in grads]
    if not names:
        return Result("ok", "no trainable parameters")
    # one direction: the gradient's plus a random one (a gradient that is wrong in size or sign shows in the
    # first part, one missing where the loss does depend on a parameter in the second)
    gnorm = math.sqrt(sum(float((grads[n] ** 2).sum()) for n in names))
    r = {n: torch.randn(weights[n].shape, generator=gen) for n in names}
    rn = math.sqrt(sum(float((t ** 2).sum()) for t in r.values()))
    d = {n: r[n] / rn + (grads[n].reshape(weights[n].shape) / gnorm if gnorm > 0 else 0) for n in names}
    dn = math.sqrt(sum(float((t ** 2).sum()) for t in d.values()))
    dirs = [("gradient + random", {n: t / dn for n, t in d.items()})]
    msgs = []
    for what, d in dirs:
        plus = {n: (t + eps * d[n] if n in d else t) for n, t in weights.items()}
        minus = {n: (t - eps * d[n] if n in d else t) for n, t in weights.items()}
        a, oa = step_check(exe, work, plus, xin, y, "fdp")
        b, ob = step_check(exe, work, minus, xin, y, "fdm")
        if a is None or b is None:
            return Result("fd-failed", (oa if a is None else ob)[-1000:], "fd")
        fd = (a[0].item() - b[0].item()) / (2 * eps)
        an = sum(float((grads[n].reshape(d[n].shape) * d[n]).sum()) for n in names)
        err = abs(fd - an)
        msgs.append(f"{what}: fd {fd:.6g} grad {an:.6g}")
        if err > tol * max(abs(an), abs(fd)) + 2e-4:
            return Result("fd-mismatch", "; ".join(msgs), "fd")
    return Result("ok", "; ".join(msgs), "fd")


# ---------------------------------------------------------------------------------------------------------
# training: the same pipeline, optimizer and schedule in PyTorch


def torch_lrs(prog, steps_per_epoch):
    """The learning rate of every step, as torch.optim.lr_scheduler computes it: epoch schedules stepped once
    per epoch, warmup (a LambdaLR) once per step, several schedules chained (their factors multiply)."""
    base = float(dict(prog.optimizer[1]).get("lr", DEFAULT_LR[prog.optimizer[0]]))
    total = prog.epochs * steps_per_epoch
    for name, args in prog.schedules:
        if name == "onecycle":  # stepped once per update; it sets the rate itself
            a = dict(args)
            o = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=base)
            s = torch.optim.lr_scheduler.OneCycleLR(o, max_lr=a["max_lr"], total_steps=total,
                                                    pct_start=a.get("pct_start", 0.3), anneal_strategy="cos",
                                                    cycle_momentum=False, div_factor=a.get("div_factor", 25.0),
                                                    final_div_factor=a.get("final_div_factor", 1e4))
            out = []
            for _ in range(total):
                out.append(o.param_groups[0]["lr"])
                o.step()
                s.step()
            return out
    per_epoch = []
    for name, args in prog.schedules:
        a = dict(args)
        p = torch.nn.Parameter(torch.zeros(1))
        o = torch.optim.SGD([p], lr=base)
        if name == "step":
            s = torch.optim.lr_scheduler.StepLR(o, a["every"], a.get("gamma", 0.1))
        elif name == "multistep":
            s = torch.optim.lr_scheduler.MultiStepLR(o, a["milestones"], a.get("gamma", 0.1))
        elif name == "cosine":
            s = torch.optim.lr_scheduler.CosineAnnealingLR(o, a["t_max"], a.get("eta_min", 0.0))
        elif name == "exponential":
            s = torch.optim.lr_scheduler.ExponentialLR(o, a["gamma"])
        else:
            continue
        f = []
        for _ in range(prog.epochs):
            f.append(o.param_groups[0]["lr"] / base)
            o.step()
            s.step()
        per_epoch.append(f)
    lrs = []
    for k in range(total):
        e = k // steps_per_epoch
        lr = base
        for f in per_epoch:
            lr *= f[e]
        for name, args in prog.schedules:
            if name == "warmup":
                lr *= min(1.0, (k + 1) / dict(args)["steps"])
        # Keras' optimizer `decay` (its legacy time-based decay): lr / (1 + decay * iterations), iterations the
        # updates made before this one.
        decay = dict(prog.optimizer[1]).get("decay", 0.0)
        if decay:
            lr *= 1.0 / (1.0 + decay * k)
        lrs.append(lr)
    return lrs


DEFAULT_LR = {"sgd": None, "adam": 0.001, "adamw": 0.001, "rmsprop": 0.01, "adadelta": 1.0, "nadam": 0.002,
              "adagrad": 0.01, "lamb": 0.001}


class Lamb(torch.optim.Optimizer):
    """LAMB as runtime.h (dls_optimizer) defines it: You et al. 2019, Algorithm 2 with Adam's bias corrections,
    r = m_hat / (sqrt(v_hat) + eps) + weight_decay p, p -= lr * (|p| / |r|) r per parameter tensor (ratio 1 when
    either norm is 0); state exp_avg, exp_avg_sq, step."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-6, weight_decay=0.01):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self):
        for g in self.param_groups:
            b1, b2 = g["betas"]
            for p in g["params"]:
                if p.grad is None:
                    continue
                st = self.state[p]
                if not st:
                    st["step"], st["exp_avg"], st["exp_avg_sq"] = 0, torch.zeros_like(p), torch.zeros_like(p)
                st["step"] += 1
                t, m, v = st["step"], st["exp_avg"], st["exp_avg_sq"]
                m.mul_(b1).add_(p.grad, alpha=1 - b1)
                v.mul_(b2).addcmul_(p.grad, p.grad, value=1 - b2)
                r = (m / (1 - b1 ** t)) / ((v / (1 - b2 ** t)).sqrt() + g["eps"]) + g["weight_decay"] * p
                wn, rn = p.norm(), r.norm()
                ratio = (wn / rn).item() if wn > 0 and rn > 0 else 1.0
                p.add_(r, alpha=-g["lr"] * ratio)


def torch_optimizer(prog, params):
    name, args = prog.optimizer
    a = dict(args)
    lr = float(a.get("lr", DEFAULT_LR[name]))
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=a.get("momentum", 0.0), nesterov=a.get("nesterov", False),
                               weight_decay=a.get("weight_decay", 0.0))
    if name in ("adam", "adamw"):
        cls = torch.optim.Adam if name == "adam" else torch.optim.AdamW
        return cls(params, lr=lr, betas=(a.get("beta1", 0.9), a.get("beta2", 0.999)), eps=a.get("eps", 1e-8),
                   weight_decay=a.get("weight_decay", 0.0 if name == "adam" else 0.01), amsgrad=a.get("amsgrad", False))
    if name == "adagrad":
        return torch.optim.Adagrad(params, lr=lr, lr_decay=a.get("lr_decay", 0.0), weight_decay=a.get("weight_decay", 0.0),
                                   initial_accumulator_value=a.get("initial_accumulator_value", 0.0),
                                   eps=a.get("eps", 1e-10))
    if name == "lamb":
        return Lamb(params, lr=lr, betas=(a.get("beta1", 0.9), a.get("beta2", 0.999)), eps=a.get("eps", 1e-6),
                    weight_decay=a.get("weight_decay", 0.01))
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, alpha=a.get("alpha", 0.99), eps=a.get("eps", 1e-8),
                                   momentum=a.get("momentum", 0.0), weight_decay=a.get("weight_decay", 0.0))
    if name == "adadelta":
        return torch.optim.Adadelta(params, lr=lr, rho=a.get("rho", 0.9), eps=a.get("eps", 1e-6),
                                    weight_decay=a.get("weight_decay", 0.0))
    if name == "nadam":
        return torch.optim.NAdam(params, lr=lr, betas=(a.get("beta1", 0.9), a.get("beta2", 0.999)),
                                 eps=a.get("eps", 1e-8), weight_decay=a.get("weight_decay", 0.0),
                                 momentum_decay=a.get("momentum_decay", 4e-3))
    raise KeyError(name)


def clip_torch(prog, params):
    """The train block's `clip`, where a PyTorch loop puts it: after backward(), before the optimizer step.
    Returns whether it changed the gradients."""
    if not prog.clip:
        return False
    name, args = prog.clip
    a = dict(args)
    if name == "norm":
        return bool(torch.nn.utils.clip_grad_norm_(params, a["max_norm"]) > a["max_norm"])
    if name == "value":
        clipped = any(bool((p.grad.abs() > a["clip_value"]).any()) for p in params if p.grad is not None)
        torch.nn.utils.clip_grad_value_(params, a["clip_value"])
        return clipped
    raise KeyError(name)


def torch_train(prog, weights, trainable, x, y, dtype=torch.float32):
    """Epoch losses (mean over the epoch's steps) and final parameters, batches in data order. Sets
    prog.clipped_steps to the number of steps whose gradients `clip` changed (of prog.trained_steps)."""
    xin, yt = pipeline_torch(prog, x), label_torch(prog, y)
    xin = xin if xin.dtype == torch.int64 else xin.to(dtype)
    yt = yt if yt.dtype == torch.int64 else yt.to(dtype)
    weights = {n: t.to(dtype) for n, t in weights.items()}
    rep = dict(dict(prog.steps).get("repeat", [])).get("count", 1) if "repeat" in dict(prog.steps) else 1
    if rep > 1:  # repeat(count): each epoch reads the data count times
        xin, yt = torch.cat([xin] * rep), torch.cat([yt] * rep)
    S, B = xin.shape[0], prog.batch
    drop_last = bool(dict(dict(prog.steps).get("batch", [])).get("drop_last", False)) if prog.steps else False
    nb = S // B if (drop_last or S % B == 0) else S // B + 1
    ps = {n: t.clone().requires_grad_(trainable[n]) for n, t in weights.items()}
    opt = torch_optimizer(prog, [p for n, p in ps.items() if trainable[n]])
    lrs = torch_lrs(prog, nb)
    losses, k = [], 0
    prog.clipped_steps = 0
    for e in range(prog.epochs):
        tot = 0.0
        for b in range(nb):
            xb, yb = xin[b * B:(b + 1) * B], yt[b * B:(b + 1) * B]
            for g in opt.param_groups:
                g["lr"] = lrs[k]
            opt.zero_grad()
            loss = D.loss_torch(prog.loss[0], dict(prog.loss[1]), prog.forward(xb, ps, True), yb)
            loss.backward()
            prog.clipped_steps += clip_torch(prog, [p for n, p in ps.items() if trainable[n]])
            opt.step()
            tot += loss.item()
            k += 1
        losses.append(tot / nb)
    prog.trained_steps = k
    return losses, {n: p.detach() for n, p in ps.items()}


def train_compare(prog, exe, work, gen, x, y, update_tol=None):
    """Trains prog.epochs epochs in both from the same weights; compares epoch losses and the final weights.
    update_tol: a fixed bound on every parameter's update error, instead of UPDATE_TOL or 10 times float32
    PyTorch's own."""
    specs = prog.param_specs()
    weights = D.init_params(specs, gen)
    trainable = {n: tr for n, _, tr in specs}
    write_data(prog, x, y)
    # 1. a first run writes a checkpoint: its layout hash, tensor names and optimizer state slots
    a = os.path.join(work, "first")
    shutil.rmtree(a, ignore_errors=True)
    os.makedirs(a)
    rc, out = D.run([exe, "train", "--epochs", "1"], cwd=a, timeout=120)
    if rc != 0:
        return Result("train-failed", out[-1500:], "train")
    ck = sorted(f for f in os.listdir(os.path.join(a, prog.checkpoint)) if f.endswith(".dlsc"))
    hdr, ts = D.read_checkpoint(os.path.join(a, prog.checkpoint, ck[-1]))
    # 2. the same tensors holding our initial weights, zero optimizer state, nothing done yet
    init = {}
    for n, (rank, dims, vals) in ts.items():
        base = n.split("#")[0]
        if "#" in n:
            init[n] = (rank, dims, torch.zeros_like(vals))
        elif base in weights:
            init[n] = (rank, dims, weights[base].reshape(-1))
        else:
            return Result("harness", f"checkpoint tensor {n} is not a parameter of the program", "train")
    missing = set(weights) - set(ts)
    if missing:
        return Result("harness", f"parameters missing from the checkpoint: {sorted(missing)}", "train")
    hdr.update(epoch=0, step=0, updates=0)
    start = os.path.join(work, "start")
    shutil.rmtree(start, ignore_errors=True)
    os.makedirs(start)
    D.write_checkpoint(os.path.join(start, "ckpt-000000.dlsc"), hdr, init)
    b = os.path.join(work, "second")
    shutil.rmtree(b, ignore_errors=True)
    os.makedirs(b)
    rc, out = D.run([exe, "train", "--resume", start, "--epochs", str(prog.epochs)], cwd=b, timeout=300)
    if rc != 0:
        return Result("train-failed", out[-1500:], "train")
    mfile = None
    for root, _, files in os.walk(b):  # runs/NAME, or the checkpoint directory when there is one
        if "metrics.jsonl" in files:
            mfile = os.path.join(root, "metrics.jsonl")
    if not mfile:
        return Result("harness", "no metrics.jsonl written", "train")
    got_losses = [json.loads(l)["train_loss"] for l in open(mfile) if l.strip()]
    ck = sorted(f for f in os.listdir(os.path.join(b, prog.checkpoint)) if f.endswith(".dlsc"))
    _, final = D.read_checkpoint(os.path.join(b, prog.checkpoint, ck[-1]))
    # float64 is the reference; float32 PyTorch measures the rounding the run itself amplifies (Adam turns a
    # gradient that is rounding noise into a full step): tolerances are 10 times that, or the fixed ones.
    ref_losses, ref_params = torch_train(prog, weights, trainable, x, y, torch.float64)
    losses32, params32 = torch_train(prog, weights, trainable, x, y)
    msgs, bad = [], False
    if len(got_losses) != len(ref_losses):
        return Result("train-mismatch", f"epochs: dlspec {len(got_losses)} torch {len(ref_losses)}", "train")
    # A loss that training drove orders of magnitude down (a saturated softmax) is compared against 1% of the
    # run's largest loss: its last digits are those of exp() at the saturated end, not of the program.
    lfloor = max([1e-2 * abs(r) for r in ref_losses] + [1e-6])
    for e, (g, r) in enumerate(zip(got_losses, ref_losses)):
        err = abs((g if g is not None else math.nan) - r) / max(abs(r), lfloor)
        own = abs(losses32[e] - r) / max(abs(r), lfloor)
        if not err <= max(D.TOL * 2, 10 * own):  # the metrics file keeps 6 significant digits
            msgs.append(f"epoch {e + 1} loss dlspec {g} torch {r:.7g} rel {err:.1e}")
            bad = True
    floor = 1e-6 * max([(ref - weights[n].double()).norm().item() for n, ref in ref_params.items()] + [1e-6])
    worst = 0.0
    for n, ref in ref_params.items():
        w0 = weights[n].double()
        got = final[n][2].reshape(ref.shape).double()
        d_got, d_ref, d_32 = got - w0, ref - w0, params32[n].double() - w0
        err = D.rel(d_got, d_ref, floor)
        worst = max(worst, err)
        bound = update_tol if update_tol is not None else max(UPDATE_TOL, 10 * D.rel(d_32, d_ref, floor))
        if not err <= bound:
            msgs.append(f"{n}: update rel {err:.1e}")
            bad = True
    if bad:
        return Result("train-mismatch", "; ".join(msgs), "train")
    return Result("ok", f"losses {['%.5g' % l for l in ref_losses]}, worst update rel {worst:.1e}", "train")
