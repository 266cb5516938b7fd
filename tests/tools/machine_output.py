#!/usr/bin/env python3
"""`dlspec check --format=json|sarif` on several files: one document each time, valid against
schemas/diagnostics.schema.json and against schemas/sarif-2.1.0-subset.schema.json (the part of the
OASIS SARIF 2.1.0 schema that dlspec writes), with the properties SARIF consumers need.

usage: machine_output.py DLSPEC SOURCE_ROOT
"""
import json
import os
import re
import subprocess
import sys

import jsonschema

dlspec, root = sys.argv[1], sys.argv[2]
os.chdir(root)
CLEAN = "specs/lenet.dls"
FIXIT = "specs/faults/types/unknown_layer.dls"        # E0102 with a did-you-mean fix-it
TAXON = "specs/faults/model/constant_init.dls"        # M0101, a taxonomy leaf
MISSING = "no/such/file.dls"
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)


def run(*args, env=None):
    p = subprocess.run([dlspec, "check", *args], capture_output=True, text=True, env=env)
    return p.returncode, p.stdout


def schema(name):
    with open(os.path.join("schemas", name)) as f:
        s = json.load(f)
    jsonschema.Draft7Validator.check_schema(s)
    return jsonschema.Draft7Validator(s)


json_schema = schema("diagnostics.schema.json")
sarif_schema = schema("sarif-2.1.0-subset.schema.json")


def validate(validator, doc, what):
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
    for e in errors[:5]:
        failures.append(f"{what}: {'/'.join(map(str, e.path))}: {e.message}")


# ---- json: one document, per-file results, empty lists when clean ----
rc, out = run("--format=json", CLEAN)
check(rc == 0, f"json clean: exit {rc}")
doc = json.loads(out)
validate(json_schema, doc, "json clean")
check(doc["diagnostics"] == [] and doc["files"] == [{"path": CLEAN, "diagnostics": []}], "json clean: empty lists")

rc, out = run("--format=json", CLEAN, FIXIT, TAXON, MISSING)
check(rc == 1, f"json: exit {rc}")
doc = json.loads(out)  # one document for four files: json.loads fails on anything else
validate(json_schema, doc, "json")
check([f["path"] for f in doc["files"]] == [CLEAN, FIXIT, TAXON, MISSING], "json: one entry per file, in order")
flat = [d for f in doc["files"] for d in f["diagnostics"]]
check(doc["diagnostics"] == flat, "json: `diagnostics` is the files' lists in order")
check(any(d["code"] == "E0102" and d["fixits"] for d in flat), "json: E0102 with its fix-it")
check(any(d["code"] == "E0901" and d["file"] == MISSING for d in flat), "json: the missing file's E0901")
check(doc["summary"]["errors"] == sum(d["severity"] == "error" for d in flat), "json: summary counts")

# ---- sarif: one log, one run, for any number of files ----
rc, out = run("--format=sarif", CLEAN, FIXIT, TAXON, MISSING)
check(rc == 1, f"sarif: exit {rc}")
log = json.loads(out)
validate(sarif_schema, log, "sarif")
check(len(log["runs"]) == 1, "sarif: one run")
run0 = log["runs"][0]
base = run0["originalUriBaseIds"]["%SRCROOT%"]["uri"]
check(base == "file://" + os.path.realpath(root).rstrip("/") + "/" or base.startswith("file:///"), f"sarif: %SRCROOT% {base}")
rules = run0["tool"]["driver"]["rules"]
ids = [r["id"] for r in rules]
check(ids == sorted(set(ids)), "sarif: one rule per code")
for r in rules:
    text = r["shortDescription"]["text"]
    check("…" not in text and "{" not in text and text.strip(), f"sarif: rule {r['id']} short description `{text}`")
    check(re.match(r"^[a-z][a-z0-9+.-]*://", r["helpUri"]) and r["helpUri"].endswith(r["id"] + ".md"),
          f"sarif: rule {r['id']} helpUri {r['helpUri']} is not absolute")
results = run0["results"]
check({r["ruleId"] for r in results} <= set(ids), "sarif: every result's rule is declared")
for res in results:
    check(rules[res["ruleIndex"]]["id"] == res["ruleId"], "sarif: ruleIndex points at the rule")
    for loc in res.get("locations", []):
        al = loc["physicalLocation"]["artifactLocation"]
        check(al.get("uriBaseId") == "%SRCROOT%" and not al["uri"].startswith("/"),
              f"sarif: artifactLocation {al} is not relative to %SRCROOT%")
fixed = [r for r in results if r["ruleId"] == "E0102"]
check(fixed and fixed[0].get("fixes"), "sarif: E0102's fix-it as `fixes`")
if fixed and fixed[0].get("fixes"):
    rep = fixed[0]["fixes"][0]["artifactChanges"][0]["replacements"][0]
    check(rep["insertedContent"]["text"] == "relu", f"sarif: the fix inserts {rep}")
taxonomy = run0["taxonomies"][0]
taxa = [t["id"] for t in taxonomy["taxa"]]
check(taxa and all(re.match(r"^[1-5] ", t) for t in taxa), f"sarif: taxa {taxa}")
m0101 = [r for r in results if r["ruleId"] == "M0101"]
check(m0101 and taxa[m0101[0]["taxa"][0]["index"]] == m0101[0]["taxa"][0]["id"], "sarif: M0101's taxon")
rule = rules[ids.index("M0101")] if "M0101" in ids else {}
check(rule.get("relationships", [{}])[0].get("target", {}).get("toolComponent", {}).get("name") == taxonomy["name"],
      "sarif: the rule points at its taxon")

# helpUri's base: the option, then the environment variable.
_, out = run("--format=sarif", "--help-uri-base=https://example.org/d/", FIXIT)
check(json.loads(out)["runs"][0]["tool"]["driver"]["rules"][0]["helpUri"].startswith("https://example.org/d/"),
      "sarif: --help-uri-base")
env = dict(os.environ, DLSPEC_HELP_URI_BASE="https://example.com/docs")
_, out = run("--format=sarif", FIXIT, env=env)
check(json.loads(out)["runs"][0]["tool"]["driver"]["rules"][0]["helpUri"].startswith("https://example.com/docs/"),
      "sarif: DLSPEC_HELP_URI_BASE")
rc, _ = run("--format=sarif", "--help-uri-base=docs/", FIXIT)
check(rc == 2, "sarif: a relative --help-uri-base is refused")

# The schemas can fail: a document with a misspelt property is rejected.
bad = json.loads(json.dumps(log))
bad["runs"][0]["results"][0]["ruleID"] = "x"
check(any(True for _ in sarif_schema.iter_errors(bad)), "the SARIF schema rejects a misspelt property")

for f in failures:
    print("FAIL", f)
print(f"{'FAILED' if failures else 'ok'}: machine output ({len(failures)} problems)")
sys.exit(1 if failures else 0)
