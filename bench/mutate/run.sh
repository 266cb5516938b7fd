#!/usr/bin/env bash
# Mutation benchmark of the taxonomy checker: `dlspec mutate` every clean example spec (specs/*.dls, not
# specs/faults/), `dlspec check` every mutant, and report per operator the share of mutants flagged (any
# error or warning). Fault operators whose fault is reported statically should be flagged in >= 90% of their
# mutants; non-fault operators (legal variations) should mostly pass. The clean originals must check clean.
# Data operators (data_relabel, data_unbalance) write a modified copy of the training data beside their
# mutant and are checked with `dlspec check --data`.
#   bench/mutate/run.sh [DLSPEC]        (default: build/compiler/dlspec)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
dlspec=${1:-$root/build/compiler/dlspec}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0
for spec in "$root"/specs/*.dls; do
  name=$(basename "$spec" .dls)
  if ! out=$("$dlspec" check "$spec" 2>&1) || grep -qE '^(error|warning)\[' <<<"$out"; then
    echo "NOT CLEAN: specs/$name.dls"; echo "$out"; status=1
  fi
  "$dlspec" mutate "$spec" -o "$work/$name" >/dev/null
done
python3 - "$work" "$dlspec" <<'PY'
import json, os, re, subprocess, sys
work, dlspec = sys.argv[1], sys.argv[2]
rows = {}
for spec in sorted(os.listdir(work)):
    man = json.load(open(os.path.join(work, spec, "manifest.json")))
    for m in man["mutants"]:
        # Data operators change the data, not the spec: their mutants are checked with --data.
        data = ["--data"] if m["operator"].startswith("data_") else []
        out = subprocess.run([dlspec, "check", *data, os.path.join(work, spec, m["file"])], capture_output=True, text=True)
        text = out.stdout + out.stderr
        codes = sorted(set(re.findall(r"^(?:error|warning)\[(\w+)\]", text, re.M)))
        r = rows.setdefault(m["operator"], {"by": m["detected_by"], "n": 0, "faults": 0, "ff": 0, "fn": 0, "codes": {}})
        r["n"] += 1
        r["faults"] += m["fault"]
        if codes:
            r["ff" if m["fault"] else "fn"] += 1
            for c in codes: r["codes"][c] = r["codes"].get(c, 0) + 1
pct = lambda a, b: f"{100 * a / b:.0f}% ({a}/{b})" if b else "-"
print(f"| operator | reported by | mutants | faults | faults flagged | non-faults flagged | codes |")
print(f"| --- | --- | ---: | ---: | ---: | ---: | --- |")
for op, r in rows.items():
    codes = ", ".join(f"{c} x{n}" for c, n in sorted(r["codes"].items(), key=lambda kv: -kv[1]))
    print(f"| {op} | {r['by']} | {r['n']} | {r['faults']} | {pct(r['ff'], r['faults'])} | {pct(r['fn'], r['n'] - r['faults'])} | {codes} |")
PY
exit $status
