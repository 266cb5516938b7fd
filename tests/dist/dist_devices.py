#!/usr/bin/env python3
"""Data parallelism over the devices of a device list in one process (`on [cuda:0, cuda:1]`, runtime/dist/Replicas.h),
through real `dlspec build` executables on a slice of Fashion-MNIST. Without GPUs the replicas run on the CPU backend
(DLS_REPLICA_BACKEND=cpu): the same threads, shards, collectives and host reduction of the gradients as on GPUs,
where NCCL sums them instead (runtime/tests/cuda/test_cuda_gpu.cpp, bench/gpu.sh).
  equal SPEC   specs/SPEC.dls trained for 2 epochs by one process `on cpu` and by the same spec `on [cuda:0, cuda:1]`
               (2 replicas), `on [cuda:0]` (a list of one) and, where mpirun exists, 2 ranks of 2 devices each
               (4 replicas), all with the same global batch: every epoch's losses agree within 1e-5 relative and the
               accuracies within one sample; a 2-replica checkpoint resumes in one process as the one-process run
               continued; replica 0 alone prints and writes; eval on the list's first device prints what one process
               prints
  faults       the list names devices this machine does not have (R0515 at the list, naming the device), a batch
               that does not divide over 3 ranks of 2 devices (R0510); `dlspec summary` shows each device's memory
Usage: dist_devices.py DLSPEC equal mlp|lenet | faults"""
import os, re, shutil, sys, tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dist_mpi import ENV, FASHION, MPI, MPIRUN, T, build, compare, fresh, make_spec, metrics, sh  # noqa: E402

CPU_REPLICAS = dict(ENV, DLS_REPLICA_BACKEND="cpu")


def placed(spec, devices):
    """A copy of `spec` with the model placed on `devices` (the text after `on`)."""
    text = open(spec).read()
    text, n = re.subn(r'(model\s*=\s*\w+) on cpu', rf'\1 on {devices}', text)
    assert n == 1, "the spec places its model `on cpu` once"
    tag = re.sub(r'[^a-z0-9]+', '', devices)
    path = spec.replace(".dls", f"-{tag}.dls")
    open(path, "w").write(text)
    return path


def equal(t, dlspec, name, tmp):
    spec = make_spec(name, tmp, epochs=2)
    exe = f"{tmp}/{name}"
    if not build(t, dlspec, spec, exe):
        return
    one = fresh(tmp, "one")
    rc, out1 = sh([exe, "train", "--threads", "1"], one)
    t.check(rc == 0, f"{name}: one process on cpu, 2 epochs", out1)
    if rc != 0:
        return
    ref = metrics(one)
    runs = [("[cuda:0, cuda:1]", [], "2 devices"), ("[cuda:0]", [], "a list of one device")]
    if MPIRUN:
        runs.append(("[cuda:0, cuda:1]", MPI + ["-x", "DLS_REPLICA_BACKEND", "-np", "2"], "2 ranks of 2 devices"))
    exes = {}
    for devices, launcher, what in runs:
        if devices not in exes:
            exes[devices] = f"{tmp}/{name}-{len(exes)}"
            if not build(t, dlspec, placed(spec, devices), exes[devices]):
                return
        d = fresh(tmp, what.replace(" ", "-"))
        rc, out = sh(launcher + [exes[devices], "train", "--threads", "1"], d, env=CPU_REPLICAS)
        t.check(rc == 0, f"{name} on {what}: 2 epochs", out)
        if rc != 0:
            continue
        t.check(out.count("epoch 1/2  loss") == 1, f"{name} on {what}: replica 0 alone prints the epoch lines", out)
        compare(t, f"{name} on {what} = 1 process", ref, metrics(d), [1, 2], 512, 256, out)
    two = f"{tmp}/2-devices"
    exe2 = exes["[cuda:0, cuda:1]"]
    if not os.path.exists(f"{two}/ckpt/ckpt-000002.dlsc"):
        t.check(False, f"{name}: the 2-device run wrote its checkpoints", str(os.listdir(two)))
        return
    # A 2-device checkpoint continues in one process `on cpu` as the one-process run did, and the other way round.
    for src, cmd, what in ((two, [exe], "a 2-device checkpoint resumed by one process on cpu"),
                           (one, [exe2], "a one-process checkpoint resumed on 2 devices")):
        d = fresh(tmp, "resume-" + ("one" if cmd == [exe] else "two"))
        os.makedirs(f"{d}/ckpt")
        for f in ("ckpt-000001.dlsc", "metrics.jsonl", "metrics.csv"):
            shutil.copy(f"{src}/ckpt/{f}", f"{d}/ckpt/")
        rc, out = sh(cmd + ["train", "--threads", "1", "--resume", "ckpt"], d, env=CPU_REPLICAS)
        t.check(rc == 0 and "resumed from" in out, f"{name}: {what}", out)
        if rc == 0:
            compare(t, f"{name} {what}", ref, metrics(d), [2], 512, 256, out)
    # eval runs on the list's first device: what one process prints.
    rc1, e1 = sh([exe, "eval", "--checkpoint", "ckpt", "--threads", "1"], one)
    rc2, e2 = sh([exe2, "eval", "--checkpoint", "ckpt", "--threads", "1"], one, env=CPU_REPLICAS)
    line = lambda s: [l for l in s.splitlines() if "samples" in l]
    t.check(rc1 == 0 and rc2 == 0 and len(line(e2)) == 1 and line(e1) == line(e2),
            f"{name}: eval of a device-list program = one process ({line(e1)} / {line(e2)})", e1 + e2)


def faults(t, dlspec, tmp):
    spec = make_spec("mlp", tmp, epochs=1)
    exe = f"{tmp}/mlp-far"
    # Devices this machine does not have: R0515 at the list, before anything is trained.
    if not build(t, dlspec, placed(spec, "[cuda:6, cuda:7]"), exe):
        return
    d = fresh(tmp, "far")
    rc, out = sh([exe, "train", "--threads", "1"], d)
    t.check(rc != 0 and "error[R0515]" in out and "`cuda:6`" in out and re.search(r"mlp-cuda6cuda7\.dls:\d+:\d+", out),
            "[cuda:6, cuda:7] on this machine: R0515 at the list, naming cuda:6", out)
    t.check(not os.path.exists(f"{d}/ckpt/ckpt-000001.dlsc"), "nothing trained on missing devices")
    # The memory plan of each device: `dlspec summary` says what every replica holds and its share of the batch.
    rc, out = sh([dlspec, "summary", placed(spec, "[cuda:0, cuda:1]")], tmp)
    t.check(rc == 0 and re.search(r"per device: 2 devices, one replica each with 64 rows of every batch of 128: .* "
                                  r"[0-9.]+ MiB per device", out) is not None, "summary: the memory plan per device", out)
    if not MPIRUN:
        return
    # batch(128) over 3 ranks of 2 devices: 6 replicas.
    exe2 = f"{tmp}/mlp-two"
    if not build(t, dlspec, placed(spec, "[cuda:0, cuda:1]"), exe2):
        return
    d = fresh(tmp, "six")
    rc, out = sh(MPI + ["-x", "DLS_REPLICA_BACKEND", "-np", "3", exe2, "train", "--threads", "1"], d, env=CPU_REPLICAS)
    t.check(rc != 0 and "error[R0510]" in out and "does not divide over 6 ranks" in out,
            "batch(128) over 3 ranks of 2 devices: R0510", out)


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    if not os.path.exists(f"{FASHION}/train-images-idx3-ubyte.gz"):
        print(f"SKIP: {FASHION} not found (dataset-fashion-mnist)")
        return 77
    dlspec, what = sys.argv[1], sys.argv[2]
    t = T()
    with tempfile.TemporaryDirectory(prefix="dls-devices-") as tmp:
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
