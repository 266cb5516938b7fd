#!/usr/bin/python3
"""Re-runs saved disagreements (DIR/*/program.pickle, as difffuzz.py saves them) against the current dlspec
and harness, and says which still disagree: the "after" figures of a fuzzing campaign.

usage: rerun.py DLSPEC DIR...
"""
import json, os, pickle, shutil, sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import difffuzz as FZ  # noqa: E402
import harness as H  # noqa: E402


def main():
    dlspec, dirs = sys.argv[1], sys.argv[2:]
    counts = {}
    for top in dirs:
        for name in sorted(os.listdir(top)):
            src = os.path.join(top, name)
            pk = os.path.join(src, "program.pickle")
            if not os.path.exists(pk):
                continue
            p = pickle.load(open(pk, "rb"))
            before = json.load(open(os.path.join(src, "result.json")))
            d = os.path.join("/tmp", "difffuzz-rerun", name)
            shutil.rmtree(d, ignore_errors=True)
            os.makedirs(d)
            p.data_dir = d
            gen = torch.Generator().manual_seed(before["seed"])
            res, _ = FZ.run_program(dlspec, p, d, None, True, gen)
            tag = FZ.known_issue(p, res) if not res.ok else None
            key = f"{before['kind']} -> {res.kind}" + (f" [{tag}]" if tag else "")
            counts[key] = counts.get(key, 0) + 1
            print(f"{name}: {key}: {res.msg.splitlines()[0][:160] if res.msg else ''}", flush=True)
    print(json.dumps(counts, indent=1))


if __name__ == "__main__":
    sys.exit(main())
