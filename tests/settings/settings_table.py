#!/usr/bin/python3
"""Every setting `dlspec check` accepts has a row in settings.tsv saying how it is honoured, and the test or
the code that proves it.

What sema accepts is read from the compiler itself, not from a list kept here:
  - every op of the op table, of every category, and every attribute of each (dlspec_optable_dump),
    as `op:NAME` and `attr:NAME.ATTR` (pipeline steps, augmentations, losses, optimizers, schedules, data
    sources, metrics and initialisers included);
  - every train-block key of compiler/sema/TrainTyper.cpp (the `trainKeys()` list and every
    `key == "…"` branch) as `train:KEY`, and every clause kind of the AST (`ast::ClauseKind`) as `clause:KIND`.

Rows: NAME <TAB> STATUS <TAB> EVIDENCE <TAB> NOTE, STATUS one of
  honoured   the runtime does what it says; EVIDENCE names the test(s) that prove it
  rejected   `check` or `build` refuses it with a code that says it is not supported; EVIDENCE is the code
  ignored    accepted and not honoured (a defect): NOTE names the issue item that tracks it
  partial    honoured in part: NOTE says which part is not, and the issue item
  untested   lowered to the runtime, but no test proves the runtime honours it: NOTE names the issue item
  static     only read by the checker (a declared size, a placement, a metric's name): EVIDENCE the test
The test fails when an accepted name has no row, a row names nothing sema accepts (stale), a status is
unknown, an evidence is empty, or an ignored/partial row names no issue.

usage: settings_table.py OPTABLE_DUMP REPO
"""
import json, os, re, subprocess, sys

STATUSES = {"honoured", "rejected", "ignored", "partial", "untested", "static"}
# Row prefix per op-table category (reshape is both a structural op and a pipeline step).
PREFIX = {"layer": "op", "activation": "op", "structural op": "op", "pipeline step": "step", "loss": "loss",
          "optimizer": "optimizer", "schedule": "schedule", "data source": "source", "metric": "metric",
          "initialiser": "init", "gradient clipping": "clip",
          "stopping rule": "stop"}


def accepted(dump, repo):
    ops = json.loads(subprocess.run([dump], capture_output=True, text=True, check=True).stdout)["ops"]
    names = {}
    for o in ops:
        pre = PREFIX.get(o["category"], o["category"].replace(" ", "_"))
        names[f"{pre}:{o['name']}"] = o["category"]
        for a in o["attrs"]:
            names[f"{pre}:{o['name']}.{a['name']}"] = o["category"]
    src = open(os.path.join(repo, "compiler/sema/TrainTyper.cpp")).read()
    m = re.search(r"trainKeys\(\)\s*\{[^}]*?=\s*\{([^}]*)\}", src, re.S)
    if not m:
        sys.exit("settings_table: cannot find trainKeys() in compiler/sema/TrainTyper.cpp (moved? update this test)")
    keys = set(re.findall(r'"([a-z_]+)"', m.group(1)))
    keys |= set(re.findall(r'key == "([a-z_]+)"', src))
    for k in keys:
        names[f"train:{k}"] = "train"
    ast = ""
    for root, _, files in os.walk(os.path.join(repo, "compiler")):
        for f in files:
            if f.endswith(".h"):
                t = open(os.path.join(root, f)).read()
                if "enum class ClauseKind" in t:
                    ast = t
    m = re.search(r"enum class ClauseKind[^{]*\{([^}]*)\}", ast)
    if not m:
        sys.exit("settings_table: cannot find enum class ClauseKind in compiler/ (moved? update this test)")
    for c in re.findall(r"\b([A-Z][A-Za-z]*)\b", re.sub(r"//[^\n]*", "", m.group(1))):
        names[f"clause:{c.lower()}"] = "clause"
    return names


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    dump, repo = sys.argv[1:]
    names = accepted(dump, repo)
    table = os.path.join(os.path.dirname(os.path.abspath(__file__)), "settings.tsv")
    rows, errors = {}, []
    for i, line in enumerate(open(table), 1):
        if not line.strip() or line.startswith("#"):
            continue
        cols = line.rstrip("\n").split("\t")
        if len(cols) < 3:
            errors.append(f"settings.tsv:{i}: needs NAME, STATUS, EVIDENCE (tab-separated)")
            continue
        name, status, evidence = cols[0].strip(), cols[1].strip(), cols[2].strip()
        note = cols[3].strip() if len(cols) > 3 else ""
        if name in rows:
            errors.append(f"settings.tsv:{i}: {name} listed twice")
        rows[name] = (status, evidence, note)
        if status not in STATUSES:
            errors.append(f"settings.tsv:{i}: {name}: unknown status '{status}' ({', '.join(sorted(STATUSES))})")
        if not evidence:
            errors.append(f"settings.tsv:{i}: {name}: no evidence (a test, or the code that rejects it)")
        if status in ("ignored", "partial", "untested") and not re.search(r"issue \d+", note):
            errors.append(f"settings.tsv:{i}: {name} is {status}: the note must name the issue item that tracks it")
        for path in re.findall(r"(?:tests|runtime|specs|compiler|checker)/[\w/.-]+\.\w+", evidence):
            if not os.path.exists(os.path.join(repo, path.split(":")[0])):
                errors.append(f"settings.tsv:{i}: {name}: evidence {path} does not exist")
    for n, cat in sorted(names.items()):
        if n not in rows:
            errors.append(f"{n} ({cat}) is accepted by sema but has no row in tests/settings/settings.tsv")
    for n in sorted(rows):
        if n not in names:
            errors.append(f"settings.tsv: {n} is not accepted by sema (stale row: remove it)")
    counts = {}
    for s, _, _ in rows.values():
        counts[s] = counts.get(s, 0) + 1
    print(f"{len(names)} accepted names, {len(rows)} rows: " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items())))
    for n, (s, e, note) in sorted(rows.items()):
        if s in ("ignored", "partial", "untested"):
            print(f"  {s:8s} {n}: {note}")
    if errors:
        print("\n".join(errors))
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
