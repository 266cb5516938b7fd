"""Generates long specs and times `dlspec check` on each (best of 3). Target: 10,000 layers under 0.5 s."""
import os, subprocess, sys, tempfile, time

HEAD = "dlspec 1\n\nnetwork Deep(x: f32[N, 64]) -> real[N, 64] {\n"

def statements(n):  # one stage per statement: h = h |> dense(64) |> relu
    body = "".join("  h = %s |> dense(64) |> relu\n" % ("x" if i == 0 else "h") for i in range(n // 2))
    return HEAD + body + "  return h\n}\n"

def chain(n):  # the whole network as one pipe chain
    return HEAD + "  return x" + "".join(" |> dense(64) |> relu" for _ in range(n // 2)) + "\n}\n"

TRAIN_HEAD = """dlspec 1

dataset d {
  train = csv("d.csv", label: "y")
  sample x: f32[64]
  label  y: class<10>
}

pipeline p from d.train {
  shuffle(buffer: all)
  batch(32)
}

network Deep(x: f32[N, 64]) -> logits[N, 10] {
"""

TRAIN_TAIL = """  return h |> dense(10)
}

train t {
  model     = Deep on cpu
  data      = p
  loss      = cross_entropy(model.out, y)
  optimizer = sgd(lr: 0.01, momentum: 0.9)
  epochs    = 1
}
"""

def with_train(n):  # a whole training setup: the checker rules and the lowering (memory plan) run too
    body = "".join("  h = %s |> dense(64) |> relu\n" % ("x" if i == 0 else "h") for i in range(n // 2))
    return TRAIN_HEAD + body + TRAIN_TAIL

def best_of(cmd, runs=3):
    best = None
    for _ in range(runs):
        t = time.perf_counter()
        r = subprocess.run(cmd, capture_output=True, text=True)
        dt = time.perf_counter() - t
        if r.returncode not in (0,) or "error[" in r.stderr:
            sys.exit("dlspec check failed on %s:\n%s" % (cmd[-1], r.stderr[:2000]))
        best = dt if best is None else min(best, dt)
    return best

def main():
    dlspec = sys.argv[1]
    if not os.access(dlspec, os.X_OK):
        sys.exit("bench: no dlspec binary at %s (build first, or pass its path)" % dlspec)
    print("%-12s %8s %10s %12s" % ("variant", "layers", "ms/run", "us/layer"))
    with tempfile.TemporaryDirectory() as d:
        for name, gen in (("statements", statements), ("pipe chain", chain), ("with train", with_train)):
            for n in (100, 1000, 10000):
                path = os.path.join(d, "%s-%d.dls" % (name.replace(" ", "_"), n))
                with open(path, "w") as f:
                    f.write(gen(n))
                t = best_of([dlspec, "check", path])
                print("%-12s %8d %10.1f %12.1f" % (name, n, t * 1e3, t * 1e6 / n))

main()
