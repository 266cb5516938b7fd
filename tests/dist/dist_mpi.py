#!/usr/bin/env python3
"""Data parallelism over MPI ranks through real `dlspec build` executables, on a slice of Fashion-MNIST.
  equal SPEC   specs/SPEC.dls trained for 2 epochs by one process and by 2 ranks (`mpirun -np 2`) with the same
               global batch: every epoch's losses agree within 1e-5 relative and the accuracies within one
               sample; a 2-rank checkpoint resumes in one process and a one-process checkpoint under 2 ranks,
               each continuing as the one-process run did; eval and predict under mpirun print what one
               process prints
  faults       a batch that does not divide over 3 ranks (R0510 at the pipeline's batch); a rank killed
               (SIGKILL) mid-run and a rank that hangs (SIGSTOP): the job ends within the timeout with a
               message naming rank 1, and the newest checkpoint loads without falling back
Exits 77 (skipped) when mpirun is missing.
Usage: dist_mpi.py DLSPEC equal mlp|lenet | faults"""
import json, os, re, shutil, signal, struct, subprocess, sys, tempfile, time, gzip

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FASHION = "/usr/share/datasets/fashion-mnist"
MPIRUN = shutil.which("mpirun")
MPI = [MPIRUN, "--oversubscribe", "--allow-run-as-root", "--bind-to", "none"] if MPIRUN else []
ENV = dict(os.environ, OMP_NUM_THREADS="1", OMPI_MCA_btl_vader_single_copy_mechanism="none")


class T:
    failed = 0

    def check(self, ok, what, out=""):
        print(("ok   " if ok else "FAIL ") + what, flush=True)
        if not ok:
            self.failed += 1
            print("     " + out[-2500:].replace("\n", "\n     "), flush=True)


def sh(args, cwd, timeout=120, env=None):
    p = subprocess.run(args, cwd=cwd, capture_output=True, timeout=timeout, env=env or ENV)
    return p.returncode, (p.stdout + p.stderr).decode("utf-8", "replace")


def idx_slice(src_images, src_labels, n, dst_images, dst_labels):
    with gzip.open(src_images, "rb") as f:
        img = f.read()
    with gzip.open(src_labels, "rb") as f:
        lab = f.read()
    _, _, h, w = struct.unpack(">IIII", img[:16])
    with open(dst_images, "wb") as f:
        f.write(struct.pack(">IIII", 0x0803, n, h, w) + img[16:16 + n * h * w])
    with open(dst_labels, "wb") as f:
        f.write(struct.pack(">II", 0x0801, n) + lab[8:8 + n])


def make_spec(name, d, epochs, train_n=512, test_n=256, batch=None):
    """specs/NAME.dls on the first train_n/test_n samples, `epochs` epochs, checkpoints in ckpt/ every epoch."""
    idx_slice(f"{FASHION}/train-images-idx3-ubyte.gz", f"{FASHION}/train-labels-idx1-ubyte.gz", train_n,
              f"{d}/train-images.idx", f"{d}/train-labels.idx")
    idx_slice(f"{FASHION}/t10k-images-idx3-ubyte.gz", f"{FASHION}/t10k-labels-idx1-ubyte.gz", test_n,
              f"{d}/test-images.idx", f"{d}/test-labels.idx")
    text = open(f"{ROOT}/specs/{name}.dls").read()
    text = re.sub(r'train\s*=\s*idx\([^)]*\)', f'train = idx("{d}/train-images.idx", "{d}/train-labels.idx")', text)
    text = re.sub(r'test\s*=\s*idx\([^)]*\)', f'test  = idx("{d}/test-images.idx", "{d}/test-labels.idx")', text)
    text = re.sub(r'epochs(\s*)=\s*\d+', rf'epochs\g<1>= {epochs}', text)
    text = re.sub(r'\n\s*checkpoint\s*=[^\n]*', '', text)
    text = re.sub(r'(\n(\s*)seed(\s*)=[^\n]*)', r'\1\n\2checkpoint\3= "ckpt" every 1 epoch keep 10', text)
    if batch:
        text = re.sub(r'batch\(\d+', f'batch({batch}', text, count=1)
    path = f"{d}/{name}.dls"
    open(path, "w").write(text)
    return path


def build(t, dlspec, spec, exe):
    rc, out = sh([dlspec, "build", spec, "-o", exe], os.path.dirname(spec), timeout=300)
    t.check(rc == 0, f"build {os.path.basename(spec)}", out)
    return rc == 0


def metrics(run_dir):
    rows = [json.loads(l) for l in open(f"{run_dir}/ckpt/metrics.jsonl")]
    return {r["epoch"]: r for r in rows}


def close(a, b, rel=1e-5):
    return abs(a - b) <= rel * max(abs(a), abs(b), 1e-12)


def compare(t, what, one, many, epochs, n_train, n_test, out=""):
    for e in epochs:
        a, b = one.get(e), many.get(e)
        if a is None or b is None:
            t.check(False, f"{what}: epoch {e} in both metrics", out)
            continue
        bad = [k for k in ("train_loss", "val_loss") if not close(a[k], b[k])]
        bad += [k for k, n in (("train_accuracy", n_train), ("val_accuracy", n_test)) if abs(a[k] - b[k]) > 1.01 / n]
        rel = max(abs(a[k] - b[k]) / max(abs(a[k]), 1e-12) for k in ("train_loss", "val_loss"))
        t.check(not bad, f"{what}: epoch {e} train_loss {a['train_loss']:.7g} vs {b['train_loss']:.7g}, "
                         f"val_loss {a['val_loss']:.7g} vs {b['val_loss']:.7g}, largest relative difference {rel:.1e}"
                         + (f" (differ: {bad})" if bad else ""), out)


def fresh(base, name):
    d = f"{base}/{name}"
    os.makedirs(d)
    return d


def equal(t, dlspec, name, tmp):
    spec = make_spec(name, tmp, epochs=2)
    exe = f"{tmp}/{name}"
    if not build(t, dlspec, spec, exe):
        return
    one, two = fresh(tmp, "one"), fresh(tmp, "two")
    rc, out1 = sh([exe, "train", "--threads", "1"], one)
    t.check(rc == 0, f"{name}: one process, 2 epochs", out1)
    rc, out2 = sh(MPI + ["-np", "2", exe, "train", "--threads", "1"], two)
    t.check(rc == 0, f"{name}: 2 ranks, 2 epochs", out2)
    t.check(out2.count("epoch 1/2  loss") == 1, f"{name}: rank 0 alone prints the epoch lines", out2)
    if rc != 0:
        return
    ref = metrics(one)
    compare(t, f"{name} 2 ranks = 1 process", ref, metrics(two), [1, 2], 512, 256, out2)
    # The host copies a GPU backend's ranks take without NCCL (DLS_DIST_STAGED=1 sends a CPU run through them).
    staged = fresh(tmp, "staged")
    rc, out3 = sh(MPI + ["-np", "2", exe, "train", "--threads", "1"], staged, env=dict(ENV, DLS_DIST_STAGED="1"))
    t.check(rc == 0, f"{name}: 2 ranks through host copies, 2 epochs", out3)
    if rc == 0:
        compare(t, f"{name} 2 ranks through host copies = 1 process", ref, metrics(staged), [1, 2], 512, 256, out3)
    t.check(os.path.exists(f"{two}/ckpt/ckpt-000002.dlsc") and os.path.exists(f"{two}/ckpt/curves.svg"),
            f"{name}: rank 0 wrote the checkpoints and the plot", str(os.listdir(f"{two}/ckpt")))
    # Checkpoints interchange: epoch 1 of either run continues in the other configuration as one process did.
    for src, cmd, what in ((two, [exe], "a 2-rank checkpoint resumed by one process"),
                           (one, MPI + ["-np", "2", exe], "a one-process checkpoint resumed by 2 ranks")):
        d = fresh(tmp, "resume-" + ("one" if cmd == [exe] else "two"))
        os.makedirs(f"{d}/ckpt")
        shutil.copy(f"{src}/ckpt/ckpt-000001.dlsc", f"{d}/ckpt/")
        shutil.copy(f"{src}/ckpt/metrics.jsonl", f"{d}/ckpt/")
        shutil.copy(f"{src}/ckpt/metrics.csv", f"{d}/ckpt/")
        rc, out = sh(cmd + ["train", "--threads", "1", "--resume", "ckpt"], d)
        t.check(rc == 0 and "resumed from" in out, f"{name}: {what}", out)
        if rc == 0:
            compare(t, f"{name} {what}", ref, metrics(d), [2], 512, 256, out)
    # eval and predict under mpirun print what one process prints.
    rc1, e1 = sh([exe, "eval", "--checkpoint", "ckpt", "--threads", "1"], one)
    rc2, e2 = sh(MPI + ["-np", "2", exe, "eval", "--checkpoint", "ckpt", "--threads", "1"], one)
    line = lambda s: [l for l in s.splitlines() if "samples" in l]
    t.check(rc1 == 0 and rc2 == 0 and len(line(e2)) == 1 and line(e1) == line(e2),
            f"{name}: eval under 2 ranks = one process ({line(e1)} / {line(e2)})", e1 + e2)
    rc1, p1 = sh([exe, "predict", f"{tmp}/test-images.idx", "--checkpoint", "ckpt", "--threads", "1"], one)
    rc2, p2 = sh(MPI + ["-np", "2", exe, "predict", f"{tmp}/test-images.idx", "--checkpoint", "ckpt", "--threads", "1"], one)
    digits = lambda s: [l for l in s.splitlines() if re.fullmatch(r"\d+", l)]
    t.check(rc1 == 0 and rc2 == 0 and len(digits(p1)) == 256 and digits(p1) == digits(p2),
            f"{name}: predict under 2 ranks = one process ({len(digits(p2))} lines)", p1[-500:] + p2[-500:])


def rank_pid(mpirun_pid, rank):
    """The pid of rank `rank` among mpirun's children (its environment says OMPI_COMM_WORLD_RANK)."""
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            stat = open(f"/proc/{p}/stat").read()
            ppid = int(stat[stat.rindex(")") + 2:].split()[1])
            if ppid != mpirun_pid:
                continue
            env = open(f"/proc/{p}/environ", "rb").read().split(b"\0")
            if f"OMPI_COMM_WORLD_RANK={rank}".encode() in env:
                return int(p)
        except (OSError, ValueError):
            continue
    return None


def fault_run(t, exe, d, sig, what, timeout_s=5):
    """Starts 2 ranks for many epochs, waits for checkpoint 2, sends `sig` to rank 1; the job must end."""
    env = dict(ENV, DLS_RANK_TIMEOUT=str(timeout_s))
    p = subprocess.Popen(MPI + ["-x", "DLS_RANK_TIMEOUT", "-np", "2", exe, "train", "--threads", "1"], cwd=d,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    deadline = time.time() + 60
    while time.time() < deadline and not os.path.exists(f"{d}/ckpt/ckpt-000002.dlsc") and p.poll() is None:
        time.sleep(0.05)
    victim = rank_pid(p.pid, 1)
    t.check(victim is not None, f"{what}: found rank 1 (pid {victim})")
    if victim is None:
        p.kill()
        return
    os.kill(victim, sig)
    t0 = time.time()
    try:
        out, _ = p.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
        out, _ = p.communicate()
        try:
            os.kill(victim, signal.SIGKILL)
        except OSError:
            pass
    took = time.time() - t0
    out = out.decode("utf-8", "replace")
    t.check(p.returncode != 0 and took < 45, f"{what}: the job ended, status {p.returncode}, {took:.1f} s after the signal", out)
    t.check(re.search(r"\brank 1\b", out) is not None, f"{what}: a message names rank 1", out)
    return out


def faults(t, dlspec, tmp):
    spec = make_spec("mlp", tmp, epochs=400, train_n=1024)
    exe = f"{tmp}/mlp"
    if not build(t, dlspec, spec, exe):
        return
    # batch(128) over 3 ranks
    d = fresh(tmp, "three")
    rc, out = sh(MPI + ["-np", "3", exe, "train", "--threads", "1"], d)
    t.check(rc != 0 and "error[R0510]" in out and re.search(r"mlp\.dls:\d+:\d+", out) is not None
            and "does not divide over 3 ranks" in out, "batch(128) over 3 ranks: R0510 at the batch", out)
    t.check(not os.path.exists(f"{d}/ckpt/ckpt-000001.dlsc"), "nothing trained over 3 ranks")
    for sig, what in ((signal.SIGKILL, "rank 1 killed"), (signal.SIGSTOP, "rank 1 hangs")):
        d = fresh(tmp, what.replace(" ", "-"))
        out = fault_run(t, exe, d, sig, what)
        if out is None:
            continue
        if sig == signal.SIGSTOP:
            t.check("error[R0512]" in out and "rank 1 did not reach" in out, f"{what}: R0512 names rank 1", out)
        newest = sorted(f for f in os.listdir(f"{d}/ckpt") if f.endswith(".dlsc"))
        rc, ev = sh([exe, "eval", "--checkpoint", "ckpt", "--threads", "1"], d)
        t.check(rc == 0 and "R0304" not in ev and "samples" in ev,
                f"{what}: the newest checkpoint ({newest[-1] if newest else None}) is intact", ev)


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    if not MPIRUN:
        print("SKIP: mpirun not found (openmpi-bin): data parallelism over MPI ranks is not tested")
        return 77
    if not os.path.exists(f"{FASHION}/train-images-idx3-ubyte.gz"):
        print(f"SKIP: {FASHION} not found (dataset-fashion-mnist)")
        return 77
    dlspec, what = sys.argv[1], sys.argv[2]
    t = T()
    with tempfile.TemporaryDirectory(prefix="dls-dist-") as tmp:
        if what == "equal":
            equal(t, dlspec, sys.argv[3], tmp)
        elif what == "faults":
            faults(t, dlspec, tmp)
        else:
            print(__doc__)
            return 2
    print("FAILED" if t.failed else "PASSED", f"({t.failed} failed)")
    return 1 if t.failed else 0


if __name__ == "__main__":
    sys.exit(main())
