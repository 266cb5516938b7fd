#!/usr/bin/env python3
"""Runtime reliability through real compiled executables (`dlspec build SPEC -o EXE`):
  data      broken data files (truncated/corrupt gzip, IDX header vs spec, ragged/non-numeric CSV, NaN and
            out-of-range labels, missing and unreadable files): a diagnostic naming the file and the byte
            or line, exit 1, never a signal
  cli       unknown flag, missing resume directory, a checkpoint of another spec: a diagnostic, no crash
  disk      a full disk (RLIMIT_FSIZE) during a checkpoint write keeps the previous checkpoint, says so
  kill      kill -9 at random points of training, KILLS times; after each, `eval --checkpoint` loads the
            newest checkpoint without falling back and `train --resume` continues from it
Usage: runtime_faults.py DLSPEC [data|cli|disk|kill]... [--kills N] (default: all, 50 kills)"""
import gzip, os, random, re, resource, shutil, signal, struct, subprocess, sys, tempfile, time

SPEC = """dlspec 1

dataset d {{
  train = {train}
  test  = {test}
  sample {sample}
  label  y: class<3>
}}

pipeline train_input from d.train {{
{pre}  shuffle(buffer: all)
  batch(32)
}}

pipeline test_input from d.test {{
{pre}  batch(32)
}}

network Net(x: f32[N, 4]) -> logits[N, 3] {{
  h = x |> dense({hidden}) |> relu
  return h |> dense(3)
}}

train run {{
  model      = Net on cpu
  data       = train_input
  loss       = cross_entropy(model.out, y)
  optimizer  = sgd(lr: 0.05, momentum: 0.9)
  epochs     = {epochs}
  validate   = test_input every 1 epoch metrics [accuracy, loss]
  checkpoint = "ckpt" every 1 epoch keep 2
  seed       = 7
}}
"""

def npy(path, descr, shape, payload):
    dims = ",".join(str(s) for s in shape) + ("," if len(shape) == 1 else "")
    h = "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }" % (descr, dims)
    h += " " * ((64 - (10 + len(h) + 1) % 64) % 64) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h.encode() + payload)

def blobs(n, seed):
    r = random.Random(seed)
    c = [(2, 0, 0, 1), (-2, 1, 0, -1), (0, -2, 2, 0)]
    xs, ys = [], []
    for i in range(n):
        ys.append(i % 3)
        xs.append([c[i % 3][k] + r.gauss(0, 0.6) for k in range(4)])
    return xs, ys

def write_npy_set(d, name, n, seed):
    xs, ys = blobs(n, seed)
    npy(f"{d}/{name}_x.npy", "<f4", [n, 4], struct.pack(f"<{4*n}f", *[v for x in xs for v in x]))
    npy(f"{d}/{name}_y.npy", "<i8", [n], struct.pack(f"<{n}q", *ys))

def write_idx_set(d, name, n, seed, gz=True):
    xs, ys = blobs(n, seed)
    img = struct.pack(">IIII", 0x0803, n, 2, 2) + bytes(max(0, min(255, int(128 + 40 * v))) for x in xs for v in x)
    lab = struct.pack(">II", 0x0801, n) + bytes(ys)
    op = gzip.open if gz else open
    with op(f"{d}/{name}-images.idx.gz", "wb") as f: f.write(img)
    with open(f"{d}/{name}-labels.idx", "wb") as f: f.write(lab)

def write_csv_set(d, name, n, seed):
    xs, ys = blobs(n, seed)
    with open(f"{d}/{name}.csv", "w") as f:
        f.write("a,b,c,d,y\n")
        for x, y in zip(xs, ys): f.write(",".join(f"{v:.4f}" for v in x) + f",{y}\n")

def sh(args, cwd, timeout=120, fsize=None):
    def pre():
        if fsize is not None: resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
    p = subprocess.run(args, cwd=cwd, capture_output=True, timeout=timeout, preexec_fn=pre)
    return p.returncode, (p.stdout + p.stderr).decode("utf-8", "replace")

class T:
    failed = 0
    passed = 0
    def check(self, ok, what, out=""):
        print(("ok   " if ok else "FAIL ") + what)
        if ok: self.passed += 1
        else:
            self.failed += 1
            print("     " + out[-1500:].replace("\n", "\n     "))

def build(t, dlspec, d, name, **kw):
    with open(f"{d}/{name}.dls", "w") as f: f.write(SPEC.format(**kw))
    rc, out = sh([dlspec, "build", f"{d}/{name}.dls", "-o", f"{d}/{name}"], d, timeout=300)
    t.check(rc == 0, f"build {name}", out)
    return f"{d}/{name}"

def data_tests(t, dlspec, tmp):
    cases = []
    # --- npy ---
    d = f"{tmp}/npy"; os.makedirs(d)
    write_npy_set(d, "train", 300, 1); write_npy_set(d, "test", 90, 2)
    exe = build(t, dlspec, d, "net", train='npy("train_x.npy", "train_y.npy")', test='npy("test_x.npy", "test_y.npy")',
                sample="x: f32[4]", pre="", hidden=16, epochs=1)
    good = {f: open(f"{d}/{f}", "rb").read() for f in os.listdir(d) if f.endswith(".npy")}
    def npy_case(what, file, data, code, where):
        cases.append((what, exe, d, good, file, data, code, where))
    x = good["train_x.npy"]
    npy_case("npy truncated", "train_x.npy", x[:len(x) - 100], "R0203", r"train_x\.npy")
    npy_case("npy bad header", "train_x.npy", x[:10] + b"{'descr': '<f4', 'shape': (300, 4 }" + x[45:], "R0210", r"train_x\.npy' byte \d+")
    npy_case("npy wrong sample shape", "train_x.npy", None, "R0205", r"train_x\.npy")
    npy_case("npy label out of range", "train_y.npy", good["train_y.npy"][:-8] + struct.pack("<q", 7), "R0209", r"train_y\.npy' record \d+")
    npy_case("npy missing file", "train_x.npy", "MISSING", "R0201", r"train_x\.npy")
    npy_case("npy unreadable (a directory)", "train_x.npy", "DIR", "R0201", r"train_x\.npy")
    # --- idx (gzip) ---
    d = f"{tmp}/idx"; os.makedirs(d)
    write_idx_set(d, "train", 300, 1); write_idx_set(d, "test", 90, 2)
    exe_i = build(t, dlspec, d, "net", train='idx("train-images.idx.gz", "train-labels.idx")',
                  test='idx("test-images.idx.gz", "test-labels.idx")', sample="x: u8[2, 2]",
                  pre="  x = x |> to_f32 |> scale(1/255) |> reshape([4])\n", hidden=16, epochs=1)
    goodi = {f: open(f"{d}/{f}", "rb").read() for f in os.listdir(d) if "idx" in f}
    gz = goodi["train-images.idx.gz"]
    raw = gzip.decompress(gz)
    corrupt = bytearray(gz); corrupt[len(gz) // 2] ^= 0xFF; corrupt[len(gz) // 2 + 1] ^= 0x55
    for what, data, code, where in [
            ("gzip truncated", gz[:len(gz) // 2], "R020[23]", r"train-images\.idx\.gz'"),
            ("gzip corrupt", bytes(corrupt), "R020[23]", r"train-images\.idx\.gz'"),
            ("idx header disagrees with spec (3x3 samples)", gzip.compress(struct.pack(">IIII", 0x0803, 300, 3, 3) + raw[16:] + bytes(300 * 5)), "R0205", r"train-images\.idx\.gz'"),
            ("idx bad magic", gzip.compress(b"\x00\x00\x09\x99" + raw[4:]), "R0204", r"train-images\.idx\.gz'.* at byte 0"),
            ("idx count disagrees with labels", gzip.compress(struct.pack(">IIII", 0x0803, 299, 2, 2) + raw[16:-4]), "R0212", r"train-images\.idx\.gz'"),
            ("idx truncated payload", gzip.compress(raw[:-50]), "R0203", r"train-images\.idx\.gz'")]:
        cases.append((what, exe_i, d, goodi, "train-images.idx.gz", data, code, where))
    # --- csv --- (label column by name)
    d = f"{tmp}/csv"; os.makedirs(d)
    write_csv_set(d, "train", 300, 1); write_csv_set(d, "test", 90, 2)
    exe_c = build(t, dlspec, d, "net", train='csv("train.csv", label: "y")', test='csv("test.csv", label: "y")',
                  sample="x: f32[4]", pre="", hidden=16, epochs=1)
    goodc = {f: open(f"{d}/{f}", "rb").read() for f in os.listdir(d) if f.endswith(".csv")}
    lines = goodc["train.csv"].decode().split("\n")
    def with_line(k, s):
        l = list(lines); l[k] = s; return "\n".join(l).encode()
    for what, data, code, where in [
            ("csv ragged row", with_line(17, "1.0,2.0,3.0"), "R0206", r"train\.csv' line 18"),
            ("csv not a number", with_line(42, "1.0,abc,3.0,4.0,1"), "R0207", r"train\.csv' line 43, column 2"),
            ("csv NaN label", with_line(9, "1.0,2.0,3.0,4.0,nan"), "R0208", r"train\.csv' record \d+"),
            ("csv label out of range", with_line(9, "1.0,2.0,3.0,4.0,5"), "R0209", r"train\.csv' record \d+"),
            ("csv binary garbage", bytes(range(256)) * 8, "R02", r"train\.csv'"),
            ("csv empty", b"", "R0213", r"train\.csv'")]:
        cases.append((what, exe_c, d, goodc, "train.csv", data, code, where))
    for what, exe, d, good, file, data, code, where in cases:
        for f, b in good.items():
            p = f"{d}/{f}"
            if os.path.isdir(p): os.rmdir(p)
            with open(p, "wb") as o: o.write(b)
        p = f"{d}/{file}"
        if data == "MISSING": os.unlink(p)
        elif data == "DIR": os.unlink(p); os.mkdir(p)
        elif data is None:   # same file, 5 features per sample
            xs, _ = blobs(300, 1)
            npy(p, "<f4", [300, 5], struct.pack(f"<{5*300}f", *[v for x in xs for v in x + [0.0]]))
        else:
            with open(p, "wb") as o: o.write(data)
        rc, out = sh([exe, "train", "--epochs", "1"], d)
        ok = rc == 1 and re.search(r"error\[" + code, out) and re.search(where, out) and "R0001" not in out
        t.check(bool(ok), f"data: {what:45s} -> exit {rc}, {(re.search(r'error.*', out) or [''])[0][:110]}", out)
    for d, good in [(f"{tmp}/npy", good), (f"{tmp}/idx", goodi), (f"{tmp}/csv", goodc)]:
        for f, b in good.items():
            p = f"{d}/{f}"
            if os.path.isdir(p): os.rmdir(p)
            with open(p, "wb") as o: o.write(b)
    return exe

def train_dir(t, dlspec, tmp):
    d = f"{tmp}/train"
    if not os.path.exists(d):
        os.makedirs(d)
        write_npy_set(d, "train", 600, 1); write_npy_set(d, "test", 150, 2)
        build(t, dlspec, d, "net", train='npy("train_x.npy", "train_y.npy")', test='npy("test_x.npy", "test_y.npy")',
              sample="x: f32[4]", pre="", hidden=32, epochs=100000)
        build(t, dlspec, d, "other", train='npy("train_x.npy", "train_y.npy")', test='npy("test_x.npy", "test_y.npy")',
              sample="x: f32[4]", pre="", hidden=24, epochs=100000)
    return d

def ckpts(d):
    c = f"{d}/ckpt"
    return sorted(f for f in os.listdir(c) if f.startswith("ckpt-")) if os.path.isdir(c) else []

def cli_tests(t, dlspec, tmp):
    d = train_dir(t, dlspec, tmp)
    shutil.rmtree(f"{d}/ckpt", ignore_errors=True)
    for what, args, code, rc_want in [
            ("unknown flag", ["train", "--bogus"], "R0402", 2),
            ("unknown command", ["fly"], "R0401", 2),
            ("flag without value", ["train", "--epochs"], "R0403", 2),
            ("bad number", ["train", "--epochs", "-3"], "R0404", 2),
            ("huge number", ["train", "--epochs", "99999999999999999999"], "R0404", 2),
            ("missing resume directory", ["train", "--resume", "nowhere"], "R0405", 2),
            ("resume from an empty directory", ["train", "--resume", "."], "R0302", 1),
            ("predict a missing file", ["predict", "nothing.npy"], "R0", 1)]:
        rc, out = sh([f"{d}/net"] + args, d, timeout=60)
        t.check(rc == rc_want and f"error[{code}" in out, f"cli: {what:40s} -> exit {rc}, {(re.search(r'error.*', out) or [''])[0][:100]}", out)
    rc, out = sh([f"{d}/net", "train", "--epochs", "1"], d)
    t.check(rc == 0 and ckpts(d), "cli: one epoch writes a checkpoint", out)
    rc, out = sh([f"{d}/other", "train", "--resume", "ckpt", "--epochs", "2"], d)
    t.check(rc == 1 and re.search(r"error\[R030[56]", out), f"cli: checkpoint of another spec -> exit {rc}, {(re.search(r'error.*', out) or [''])[0][:100]}", out)
    rc, out = sh([f"{d}/other", "eval", "--checkpoint", "ckpt"], d)
    t.check(rc == 1 and re.search(r"error\[R030[56]", out), f"cli: eval with another spec's checkpoint -> exit {rc}", out)

def disk_tests(t, dlspec, tmp):
    d = train_dir(t, dlspec, tmp)
    shutil.rmtree(f"{d}/ckpt", ignore_errors=True)
    rc, out = sh([f"{d}/net", "train", "--epochs", "1"], d)
    first = ckpts(d)
    size = os.path.getsize(f"{d}/ckpt/{first[-1]}")
    before = open(f"{d}/ckpt/{first[-1]}", "rb").read()
    rc, out = sh([f"{d}/net", "train", "--resume", "ckpt", "--epochs", "3"], d, fsize=size // 2)
    t.check(rc == 1 and "R0301" in out and "intact" in out and "file size limit" in out,
            f"disk: RLIMIT_FSIZE={size // 2} during a {size}-byte checkpoint -> exit {rc}, {(re.search(r'error.*', out) or [''])[0][:120]}", out)
    after = open(f"{d}/ckpt/{first[-1]}", "rb").read()
    leftovers = [f for f in os.listdir(f"{d}/ckpt") if f.startswith(".tmp")]
    t.check(after == before and not leftovers, f"disk: previous checkpoint {first[-1]} byte-identical, no temporary left ({leftovers})")
    rc, out = sh([f"{d}/net", "eval", "--checkpoint", "ckpt"], d)
    t.check(rc == 0 and "R030" not in out, "disk: previous checkpoint loads after the failed write", out)

def kill_tests(t, dlspec, tmp, kills):
    d = train_dir(t, dlspec, tmp)
    shutil.rmtree(f"{d}/ckpt", ignore_errors=True)
    r = random.Random(int(os.environ.get("KILL_SEED", "1")))
    survived, resumed, newest_epochs, bad = 0, 0, [], 0
    env = dict(os.environ, OMP_NUM_THREADS="1")
    # The kills land before and after the first checkpoint: the window follows this machine's speed, the time
    # from start to the first checkpoint measured once (about 0.7 s on an idle machine, several under load).
    p = subprocess.Popen([f"{d}/net", "train", "--threads", "1"], cwd=d, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, env=env)
    t1 = time.monotonic()
    while not ckpts(d) and p.poll() is None and time.monotonic() - t1 < 120:
        time.sleep(0.01)
    first = time.monotonic() - t1
    p.kill()
    p.communicate()
    shutil.rmtree(f"{d}/ckpt", ignore_errors=True)
    window = max(1.6, 2.3 * first)
    t0 = time.monotonic()
    for i in range(kills):
        args = [f"{d}/net", "train", "--threads", "1"] + (["--resume", "ckpt"] if ckpts(d) else [])
        resumed += "--resume" in args
        p = subprocess.Popen(args, cwd=d, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        time.sleep(r.uniform(0.05, window))
        p.send_signal(signal.SIGKILL)
        err = p.communicate()[1].decode("utf-8", "replace")
        if "error[" in err:
            bad += 1
            t.check(False, f"kill {i}: training reported an error before the kill", err)
            continue
        if not ckpts(d):
            continue
        rc, out = sh([f"{d}/net", "eval", "--checkpoint", "ckpt", "--threads", "1"], d)
        if rc != 0 or "R030" in out:
            bad += 1
            t.check(False, f"kill {i}: the checkpoint left behind does not load cleanly", out)
            continue
        survived += 1
        newest_epochs.append(int(ckpts(d)[-1][5:11]))
    stray = [f for f in os.listdir(f"{d}/ckpt") if f.startswith(".tmp")] if os.path.isdir(f"{d}/ckpt") else []
    grew = all(b >= a for a, b in zip(newest_epochs, newest_epochs[1:])) and newest_epochs and newest_epochs[-1] > newest_epochs[0]
    t.check(bad == 0 and survived >= kills * 0.8 and grew and len(stray) <= 1,
            f"kill: {kills} kill -9s within {window:.1f} s of the start in {time.monotonic() - t0:.0f} s, {survived} left a checkpoint that loaded cleanly, "
            f"{resumed} runs resumed, newest epoch {newest_epochs[0] if newest_epochs else '-'} -> {newest_epochs[-1] if newest_epochs else '-'}, "
            f"{len(stray)} stray temporaries, 0 lost")

def main():
    dlspec = os.path.abspath(sys.argv[1])
    args = sys.argv[2:]
    kills = 50
    if "--kills" in args:
        k = args.index("--kills"); kills = int(args[k + 1]); del args[k:k + 2]
    which = args or ["data", "cli", "disk", "kill"]
    t = T()
    with tempfile.TemporaryDirectory() as tmp:
        if "data" in which: data_tests(t, dlspec, tmp)
        if "cli" in which: cli_tests(t, dlspec, tmp)
        if "disk" in which: disk_tests(t, dlspec, tmp)
        if "kill" in which: kill_tests(t, dlspec, tmp, kills)
    print(f"runtime_faults: {t.passed} passed, {t.failed} failed")
    return 1 if t.failed else 0

if __name__ == "__main__":
    sys.exit(main())
