#!/usr/bin/env python3
"""Scores `dlspec check` on the real-world corpus of tests/realworld/ (see README.md there).

usage: score.py [--dlspec PATH] [--check] [--write-expected] [--markdown FILE] [--quiet]

For every faulty program cases/NAME.dls it runs `dlspec check --format=json` and reports
  found      a counted finding has its primary span on a line marked `// fault:`
  label      no primary span there, but a counted finding points at a marked line with a secondary label
  elsewhere  findings the fixed twin does not share exist, on other lines only
  missed     none (findings the fixed twin shares do not speak of the fault)
and for its fixed twin cases/NAME.fixed.dls whether it is clean (no counted finding) or which codes fire.
Recall is found / programs; precision is clean twins / twins. The programs dlspec cannot express are
listed in inexpressible.json with the feature each lacks, ranked by how often a feature is missing.

--check compares with expected.json and fails only when a fault recorded as found is no longer found
or a twin recorded as clean gets a finding (misses stay recorded, they do not fail the run).
--write-expected records the current results. --markdown writes the report page (docs/realworld.md).
"""

import argparse
import collections
import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CASES = os.path.join(HERE, "cases")
EXPECTED = os.path.join(HERE, "expected.json")
INEXPRESSIBLE = os.path.join(HERE, "inexpressible.json")
TWIN_REASONS = os.path.join(HERE, "twin-findings.json")
HISTORY = os.path.join(HERE, "history.json")

# The flags `check` runs with. Today every diagnostic is printed without flags; once lint groups exist,
# this is where the profile that prints everything (e.g. ["--lint-level", "pedantic"]) goes.
CHECK_FLAGS = []


def counted(diag):
    """Whether a finding counts: a correctness or suspicious one when the checker reports lint groups,
    otherwise any error or warning (notes never count)."""
    group = diag.get("group")
    if group is not None:
        return group in ("correctness", "suspicious")
    return diag.get("severity") in ("error", "warning")


def header(text, key):
    m = re.search(r"^// " + key + r": (.*)$", text, re.M)
    return m.group(1).strip() if m else ""


def fault_lines(text):
    return [i + 1 for i, line in enumerate(text.splitlines()) if "// fault:" in line]


def run_check(dlspec, path, extra):
    cmd = [dlspec, "check", "--format=json"] + CHECK_FLAGS + extra + [os.path.basename(path)]
    proc = subprocess.run(cmd, cwd=os.path.dirname(path), capture_output=True, text=True, timeout=120)
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr.strip()}")
    doc = json.loads(proc.stdout)
    return [d for d in doc.get("diagnostics", []) if counted(d)]


def classify(diags, twin_diags, lines):
    if any(d["span"]["line"] in lines for d in diags):
        return "found"
    # Elsewhere, only the findings the fixed twin does not share speak of the fault.
    twin = collections.Counter(d["code"] for d in twin_diags)
    own = []
    for d in diags:
        if twin[d["code"]] > 0:
            twin[d["code"]] -= 1
        else:
            own.append(d)
    for d in own:
        if any(lab.get("span", {}).get("line") in lines for lab in d.get("labels", [])):
            return "label"
    return "elsewhere" if own else "missed"


def describe(diags):
    return ", ".join(f"{d['code']}@{d['span']['line']}" for d in diags)


def score(dlspec):
    results = []
    names = sorted(f[:-4] for f in os.listdir(CASES) if f.endswith(".dls") and not f.endswith(".fixed.dls"))
    for name in names:
        faulty = os.path.join(CASES, name + ".dls")
        fixed = os.path.join(CASES, name + ".fixed.dls")
        text = open(faulty, encoding="utf-8").read()
        lines = fault_lines(text)
        if not lines:
            raise RuntimeError(f"{faulty}: no line is marked `// fault:`")
        if not os.path.exists(fixed):
            raise RuntimeError(f"{faulty}: no fixed twin {os.path.basename(fixed)}")
        extra = header(text, "dlspec-check").split()
        fault_diags = run_check(dlspec, faulty, extra)
        twin_diags = run_check(dlspec, fixed, extra)
        results.append({
            "name": name,
            "source": header(text, "source"),
            "category": header(text, "category"),
            "lines": lines,
            "fault": classify(fault_diags, twin_diags, lines),
            "fault_findings": describe(fault_diags),
            "found_by": sorted({d["code"] for d in fault_diags if d["span"]["line"] in lines}),
            "twin": "clean" if not twin_diags else "findings",
            "twin_findings": describe(twin_diags),
            "twin_codes": sorted({d["code"] for d in twin_diags}),
        })
    return results


def load_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def load_inexpressible():
    return load_json(INEXPRESSIBLE)


def totals(results, inexpressible):
    n = len(results)
    found = sum(r["fault"] == "found" for r in results)
    clean = sum(r["twin"] == "clean" for r in results)
    features = collections.Counter(feat for e in inexpressible for feat in e["features"])
    fp = collections.Counter(code for r in results for code in r["twin_codes"])
    return n, found, clean, features, fp


def print_report(results, inexpressible):
    for r in results:
        extra = f" [{r['fault_findings']}]" if r["fault_findings"] else ""
        twin = "clean" if r["twin"] == "clean" else f"findings [{r['twin_findings']}]"
        print(f"{r['name']}: fault {r['fault']} (line {', '.join(map(str, r['lines']))}){extra}; twin {twin}")
    n, found, clean, features, fp = totals(results, inexpressible)
    states = collections.Counter(r["fault"] for r in results)
    print()
    print(f"programs: {n} expressed, {len(inexpressible)} inexpressible")
    print(f"recall: {found}/{n} = {100.0 * found / n:.1f}% (found at the fault's line; "
          f"{states['label']} with a secondary label there, {states['elsewhere']} elsewhere only, "
          f"{states['missed']} missed)")
    near = found + states["label"]
    some = near + states["elsewhere"]
    print(f"  pointing at the fault's line (primary or label): {near}/{n} = {100.0 * near / n:.1f}%; "
          f"with a finding of its own anywhere: {some}/{n} = {100.0 * some / n:.1f}%")
    print(f"precision: {clean}/{n} = {100.0 * clean / n:.1f}% of the fixed twins have no error or warning")
    print("codes on the fixed twins: " + (", ".join(f"{c} x{k}" for c, k in fp.most_common()) or "none"))
    missing = sorted(set(fp) - set(load_json(TWIN_REASONS)))
    if missing:
        print("codes on the fixed twins without a reason in twin-findings.json: " + ", ".join(missing))
    print(f"inexpressible: {len(inexpressible)}, missing features by frequency:")
    for feat, k in features.most_common():
        print(f"  {k}  {feat}")


def markdown(results, inexpressible):
    n, found, clean, features, fp = totals(results, inexpressible)
    states = collections.Counter(r["fault"] for r in results)
    out = []
    out.append("# The checker on real programs")
    out.append("")
    out.append("`tests/realworld/` holds faulty deep-learning programs written from public bug reports and "
               "Q&A threads, each expressed as a dlspec spec with the line of its fault marked, beside its "
               "fixed twin (the fix of the thread's answer), and a list of the reported programs dlspec "
               "cannot express with the feature each lacks (`tests/realworld/README.md` describes the "
               "layout). This page is written by `tests/realworld/score.py --markdown docs/realworld.md`; "
               "the test `realworld/corpus` fails when a fault found here is no longer found or a clean "
               "twin gets a finding.")
    out.append("")
    out.append("## Figures")
    out.append("")
    out.append(f"- Programs: {n} expressed, {len(inexpressible)} inexpressible.")
    out.append(f"- Recall: {found} of {n} faults ({100.0 * found / n:.1f}%) get a finding (error or warning) "
               f"whose primary span is on the fault's line; {states['label']} more point at it with a "
               f"secondary label only, {states['elsewhere']} get findings (that the fixed twin does not share) on other lines only, "
               f"{states['missed']} get none.")
    near = found + states["label"]
    some = near + states["elsewhere"]
    out.append(f"- Pointing at the fault's line with a primary span or a label: {near} of {n} "
               f"({100.0 * near / n:.1f}%); with a finding of its own anywhere: {some} of {n} ({100.0 * some / n:.1f}%).")
    out.append(f"- Precision: {clean} of {n} fixed twins ({100.0 * clean / n:.1f}%) check without an error "
               f"or a warning.")
    out.append("")
    out.append("The same figures for earlier states of the checker (`tests/realworld/history.json`), and now:")
    out.append("")
    out.append("| Checker | Found at the fault's line | Label only | Elsewhere only | Missed | Clean twins |")
    out.append("| --- | --- | --- | --- | --- | --- |")
    rows = load_json(HISTORY) if os.path.exists(HISTORY) else []
    rows = rows + [{"checker": "now", "n": n, "found": found, "label": states["label"],
                    "elsewhere": states["elsewhere"], "missed": states["missed"], "clean": clean}]
    for h in rows:
        out.append(f"| {h['checker']} | {h['found']} of {h['n']} ({100.0 * h['found'] / h['n']:.1f}%) | {h['label']} | "
                   f"{h['elsewhere']} | {h['missed']} | {h['clean']} of {h['n']} ({100.0 * h['clean'] / h['n']:.1f}%) |")
    out.append("")
    out.append("## Programs")
    out.append("")
    out.append("| Program | Category | Fault | Findings on the faulty spec | Fixed twin |")
    out.append("| --- | --- | --- | --- | --- |")
    for r in results:
        twin = "clean" if r["twin"] == "clean" else r["twin_findings"]
        out.append(f"| [{r['name']}]({r['source']}) | {r['category']} | {r['fault']} "
                   f"(line {', '.join(map(str, r['lines']))}) | {r['fault_findings'] or 'none'} | {twin} |")
    out.append("")
    out.append("Findings are written CODE@LINE. *found*: primary span on a marked line; *label*: a secondary "
               "label on it; *elsewhere*: findings the fixed twin does not share, on other lines only; *missed*: none of those.")
    out.append("")
    out.append("## Codes on the fixed twins")
    out.append("")
    out.append("A fixed twin is the reported program with the thread's fix and nothing else, so a finding on it is "
               "either a second, true fault of the program or a warning about something its author intended. "
               "Each code that fires on a twin has its reason in `tests/realworld/twin-findings.json`:")
    out.append("")
    out.append("| Code | Twins | Why it fires on a fixed twin |")
    out.append("| --- | --- | --- |")
    reasons = load_json(TWIN_REASONS)
    for code, k in fp.most_common():
        out.append(f"| {code} | {k} | {reasons.get(code, 'no reason written yet')} |")
    out.append("")
    out.append("## Inexpressible programs")
    out.append("")
    out.append("Missing features, most frequent first:")
    out.append("")
    out.append("| Feature | Programs |")
    out.append("| --- | --- |")
    for feat, k in features.most_common():
        out.append(f"| {feat} | {k} |")
    out.append("")
    out.append("| Report | Fault | Lacks |")
    out.append("| --- | --- | --- |")
    for e in inexpressible:
        out.append(f"| {e['url']} | {e['fault']} | {'; '.join(e['features'])} |")
    out.append("")
    return "\n".join(out)


def compare(results, expected):
    failures, notes = [], []
    for r in results:
        want = expected.get(r["name"])
        if want is None:
            notes.append(f"{r['name']}: not in expected.json (record it with --write-expected)")
            continue
        if want["fault"] == "found" and r["fault"] != "found":
            failures.append(f"{r['name']}: the fault was found at its line and is now {r['fault']} "
                            f"[{r['fault_findings']}]")
        elif want["fault"] != "found" and r["fault"] == "found":
            notes.append(f"{r['name']}: the fault is now found (was {want['fault']}): update expected.json")
        if want["twin"] == "clean" and r["twin"] != "clean":
            failures.append(f"{r['name']}: the fixed twin was clean and now gets [{r['twin_findings']}]")
        elif want["twin"] != "clean" and r["twin"] == "clean":
            notes.append(f"{r['name']}: the fixed twin is now clean: update expected.json")
    return failures, notes


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dlspec", default=os.environ.get("DLSPEC", "dlspec"))
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--write-expected", action="store_true")
    ap.add_argument("--markdown")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args()

    # check runs in each spec's folder: a relative path to dlspec is taken from here
    dlspec = os.path.abspath(args.dlspec) if os.sep in args.dlspec else args.dlspec
    results = score(dlspec)
    inexpressible = load_inexpressible()
    if not args.quiet:
        print_report(results, inexpressible)
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as f:
            f.write(markdown(results, inexpressible))
    if args.write_expected:
        with open(EXPECTED, "w", encoding="utf-8") as f:
            json.dump({r["name"]: {"fault": r["fault"], "twin": r["twin"]} for r in results}, f, indent=2,
                      sort_keys=True)
            f.write("\n")
    if args.check:
        with open(EXPECTED, encoding="utf-8") as f:
            expected = json.load(f)
        failures, notes = compare(results, expected)
        for line in notes:
            print("note: " + line)
        for line in failures:
            print("REGRESSION: " + line)
        if failures:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
