#!/usr/bin/env python3
"""Bounded cost on adversarial specs: each case must end in the expected diagnostic (exit 1, the code in
the output) within TIME_LIMIT seconds and RSS_LIMIT_MB of memory. Prints one line per case with its
wall time and max RSS (getrusage of the child). Usage: adversarial.py DLSPEC [--table]"""
import os, resource, subprocess, sys, tempfile, time

TIME_LIMIT = 20.0
RSS_LIMIT_MB = 1024
if "ASAN_OPTIONS" in os.environ:  # AddressSanitizer roughly triples the memory of the same work
    RSS_LIMIT_MB *= 3

BIG = 1 << 62

def blobs(sample="f32[4]", net_body="  return x |> dense(3)\n", net_in="f32[N, 4]", extra=""):
    return f"""dlspec 1

dataset blobs {{
  train = npy("x.npy", "y.npy")
  sample x: {sample}
  label  y: class<3>
}}

pipeline train_input from blobs.train {{
  batch(32)
}}
{extra}
network Net(x: {net_in}) -> logits[N, 3] {{
{net_body}}}

train run {{
  model     = Net on cpu
  data      = train_input
  loss      = cross_entropy(model.out, y)
  optimizer = sgd(lr: 0.1)
  epochs    = 1
}}
"""

def cases(tmp):
    yield ("dimension 2^62 in a sample", blobs(sample=f"f32[{BIG}]", net_in=f"f32[N, {BIG}]"), None)
    yield ("dimension 2^62 x 2^62 (overflowing product)", blobs(sample=f"f32[{BIG}, {BIG}]", net_in=f"f32[N, {BIG}, {BIG}]",
           net_body="  return x |> flatten |> dense(3)\n"), None)
    yield ("10^12-unit dense layer", blobs(net_body="  h = x |> dense(1000000000000) |> relu\n  return h |> dense(3)\n"), None)
    yield ("10^12-filter convolution", blobs(sample="f32[1, 8, 8]", net_in="f32[N, 1, 8, 8]",
           net_body="  h = x |> conv2d(filters: 1000000000000, kernel: 3)\n  return h |> flatten |> dense(3)\n"), None)
    yield ("10,000-deep parentheses", blobs(net_body="  return (" * 1 + "(" * 9999 + "x" + ")" * 10000 + " |> dense(3)\n"), None)
    yield ("10,000-deep brackets", blobs(sample="f32" + "[" * 10000 + "4" + "]" * 10000), None)
    yield ("10,000-deep unary minus", blobs(net_body="  return " + "-" * 10000 + "x |> dense(3)\n"), None)
    yield ("10,000-long pipe chain (valid: checks clean)", blobs(net_body="  h = x" + " |> relu" * 10000 + "\n  return h |> dense(3)\n"), None)
    yield ("block that instantiates itself", blobs(extra="\nblock loop(c: int) (x) {\n  return x |> loop(c)\n}\n",
           net_body="  return x |> loop(3) |> dense(3)\n"), None)
    yield ("two blocks that instantiate each other", blobs(extra="\nblock a(c: int) (x) {\n  return x |> b(c)\n}\n"
           "block b(c: int) (x) {\n  return x |> a(c)\n}\n", net_body="  return x |> a(3) |> dense(3)\n"), None)
    yield ("block fan-out 2^40 instances", blobs(extra="".join(
        f"\nblock b{i}(c: int) (x) {{\n  return x |> b{i+1}(c) |> b{i+1}(c)\n}}\n" for i in range(40)) +
        "\nblock b40(c: int) (x) {\n  return x |> relu\n}\n", net_body="  return x |> b0(3) |> dense(3)\n"), None)
    # 100 MB of spec text, generated here: refused before parsing.
    big = os.path.join(tmp, "huge.dls")
    with open(big, "w") as f:
        f.write("dlspec 1\n\nnetwork Net(x: f32[N, 4]) -> logits[N, 3] {\n")
        line = "  h = x |> dense(4) |> relu\n"
        f.write(line * ((100 << 20) // len(line)))
        f.write("  return h |> dense(3)\n}\n")
    yield ("100 MB file", None, big)
    # Just under the 16 MiB limit: every line parsed and type-checked.
    # 20,000 layers (0.5 MB, valid): parsed, typed, checked and lowered to a step plan (checks clean).
    mid = os.path.join(tmp, "layers.dls")
    with open(mid, "w") as f:
        f.write(blobs(net_body="  h = x |> dense(4) |> relu\n" + "  h = h |> dense(4) |> relu\n" * 19999 + "  return h |> dense(3)\n"))
    yield ("20,000-layer network (valid: checks clean)", None, mid)

def main():
    dlspec = sys.argv[1]
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name, text, path in cases(tmp):
            if text is not None:
                path = os.path.join(tmp, "case.dls")
                with open(path, "w") as f:
                    f.write(text)
            t0 = time.monotonic()
            # Run under a memory cap so that a runaway case fails instead of swapping the machine. Under
            # AddressSanitizer (scripts/sanitize.sh sets ASAN_OPTIONS) an address-space cap cannot be used:
            # ASan reserves terabytes of shadow address space; the reported max RSS still bounds memory.
            def limit():
                if "ASAN_OPTIONS" not in os.environ:
                    resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))
            with open(os.path.join(tmp, "out"), "wb") as o:
                p = subprocess.Popen([dlspec, "check", path], stdout=o, stderr=o, preexec_fn=limit)
                deadline = t0 + TIME_LIMIT
                status = None
                while time.monotonic() < deadline:
                    r = os.wait4(p.pid, os.WNOHANG)
                    if r[0] != 0:
                        status, ru = r[1], r[2]
                        break
                    time.sleep(0.01)
                if status is None:
                    p.kill()
                    _, status, ru = os.wait4(p.pid, 0)
                    p.returncode = -9
            secs = time.monotonic() - t0
            rss_mb = ru.ru_maxrss / 1024
            out = open(os.path.join(tmp, "out"), "rb").read().decode("utf-8", "replace")
            codes = sorted(set(w.split("]")[0] for w in out.split("error[")[1:]))
            rc = os.waitstatus_to_exitcode(status)
            clean = "valid" in name
            ok = (rc == 0 if clean else rc == 1 and codes) and secs < TIME_LIMIT and rss_mb < RSS_LIMIT_MB and "I0001" not in out
            failed += not ok
            print(f"{'ok  ' if ok else 'FAIL'} {name:45s} exit {rc:3d}  {secs:6.2f} s  {rss_mb:7.1f} MB  {','.join(codes)[:60]}")
            if not ok:
                print("     " + out[:600].replace("\n", "\n     "))
    print(f"adversarial: {failed} failed")
    return 1 if failed else 0

if __name__ == "__main__":
    sys.exit(main())
