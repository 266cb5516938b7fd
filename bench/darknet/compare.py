#!/usr/bin/env python3
"""Compares `dlspec import darknet` (the generated spec's `dlspec summary --format=json` shapes and BFLOPs,
and `dlspec check`) with the table darknet prints when it loads the same cfg. Used by validate.sh."""
import argparse, glob, json, os, re, subprocess, tempfile

ROW = re.compile(r"^\s*(\d+)\s+(\S+)")
SHAPE = re.compile(r"(\d+)\s*x\s*(\d+)\s*x\s*(\d+)")
DIAG = re.compile(r"^(error|warning)\[([EWI]\d+)\]: (.*)$")
RECURRENT = re.compile(r"(?:RNN|GRU|LSTM) Layer: (\d+) inputs, (\d+) outputs")
LOC = re.compile(r"-->\s*(\S+?):(\d+):(\d+)")


def darknet_table(cfg, data):
    """Layer index -> (kind, printed output: ('whc', w, h, c) | ('n', count) | None, bflops)."""
    cache = os.environ.get("DARKNET_TABLE_CACHE")  # a directory: reuse darknet's printed tables between runs
    cached = os.path.join(cache, os.path.basename(cfg) + ".txt") if cache else None
    if cached and os.path.exists(cached):
        text, rc = open(cached).read(), "cached"
    else:
        try:
            p = subprocess.run(["darknet", "classifier", "predict", data, cfg, "/dev/null"], stdin=subprocess.DEVNULL,
                               capture_output=True, text=True, timeout=120)
        except subprocess.TimeoutExpired:
            return None, "darknet timed out"
        text, rc = p.stdout + p.stderr, p.returncode
        if cached:
            os.makedirs(cache, exist_ok=True)
            open(cached, "w").write(text)
    rows = {}
    for line in text.splitlines():
        m = ROW.match(line)
        if not m or line.lstrip().startswith("layer"):
            continue
        idx, kind = int(m.group(1)), m.group(2)
        rec = RECURRENT.search(line)
        if rec:  # "RNN Layer: 256 inputs, 1024 outputs": values per time step
            out = ("n", int(rec.group(2)))
        elif "->" in line:
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
    return rows, f"rc {rc}"


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


ALIAS = re.compile(r"^\s*(\w+) = (\w+)\s*(//.*)?$")
INPUT = re.compile(r"^network \w+\((\w+): \w+(\[[^\]]*\])", re.M)
LNAME = re.compile(r"^l(\d+)$")


def summary_groups(js, spec_text):
    """`dlspec summary --format=json` rows grouped by the spec statement that produced them: rows are in
    source order and the last node of each imported statement `lK = …` is the only one whose output has a
    name, so the rows since the previous named one are statement lK's. Alias statements (`l25 = l24`)
    make no node and resolve to the value they name."""
    groups, cur = {}, []
    for net in js.get("networks", []):
        for row in net["layers"]:
            cur.append(row)
            if row.get("value"):
                groups[row["value"]] = cur
                cur = []
    # The network's input: the statement of a leading [crop] (the crop is the input pipeline's).
    m = INPUT.search(spec_text)
    if m and m.group(1) not in groups:
        groups[m.group(1)] = [{"op": "input", "output": m.group(2), "flops": 0}]
    for line in spec_text.splitlines():
        m = ALIAS.match(line)
        if m and m.group(1) not in groups and m.group(2) in groups:
            groups[m.group(1)] = groups[m.group(2)][-1:]
    return groups


def dims(shape):
    """"[N, 64, 128, 128]" -> (64, 128, 128); None when a dimension is not a number."""
    parts = [p.strip() for p in shape.strip("[]").split(",")][1:]
    return tuple(int(p) for p in parts) if parts and all(p.isdigit() for p in parts) else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root"); ap.add_argument("--dlspec"); ap.add_argument("--cfg-dir"); ap.add_argument("--out")
    a = ap.parse_args()
    data = os.path.join(a.cfg_dir, "imagenet1k.data")
    work = tempfile.mkdtemp(prefix="dlspec-darknet-")
    results, totals = [], dict(files=0, imported=0, checked=0, layers=0, agree=0, faults=0, faults_reported=0,
                               fault_shapes_agree=0, differ=0, unprinted=0, walk_differs=0, diagnosed=0)
    for cfg in sorted(glob.glob(os.path.join(a.cfg_dir, "*.cfg"))):
        name = os.path.basename(cfg)
        totals["files"] += 1
        dls, js = os.path.join(work, name + ".dls"), os.path.join(work, name + ".json")
        imp = subprocess.run([a.dlspec, "import", "darknet", cfg, "-o", dls, "--layers-json", js],
                             capture_output=True, text=True, timeout=60)
        idiags = diagnostics(imp.stdout + imp.stderr)
        table, dnote = darknet_table(cfg, data)
        r = {"name": name, "import_rc": imp.returncode, "import_diags": idiags, "darknet": dnote, "diffs": [],
             "faults": [], "check": None, "layers": 0, "agree": 0, "unprinted": 0, "walk": []}
        results.append(r)
        if imp.returncode != 0:
            totals["diagnosed"] += any(d["level"] == "error" for d in idiags)
            continue
        totals["imported"] += 1
        layers = json.load(open(js))
        chk = subprocess.run([a.dlspec, "check", dls], capture_output=True, text=True, timeout=120)
        cdiags = diagnostics(chk.stdout + chk.stderr)
        r["check"] = (chk.returncode, cdiags)
        if chk.returncode == 0:
            totals["checked"] += 1
        # The compiler's own shape inference; with errors in the spec summary still lists the typed layers.
        summ = subprocess.run([a.dlspec, "summary", "--format=json", dls], capture_output=True, text=True, timeout=120)
        try:
            groups = summary_groups(json.loads(summ.stdout), open(dls).read())
        except ValueError:
            groups = {}
            r["diffs"].append(f"`dlspec summary` printed no JSON (rc {summ.returncode})")
        errors_at = {d["line"] for d in cdiags if d["level"] == "error"}
        for l in layers:
            r["layers"] += 1
            totals["layers"] += 1
            row = table.get(l["index"]) if table else None
            g = groups.get(l.get("dls_name", f"l{l['index']}"))
            ours = dims(g[-1]["output"]) if g else None
            conv = [x for x in g or [] if x["op"] == "conv2d"]
            bflops = sum((x["flops"] or 0) for x in conv) / 1e9 if conv else 0.0
            steps = l.get("steps", 0)
            if ours is not None:
                walk = ((steps, l["c"]) if steps else (l["w"] * l["h"] * l["c"],) if l["flat"]
                        else (l["c"], l["h"], l["w"]))
                if walk != ours:
                    totals["walk_differs"] += 1
                    r["walk"].append(f"layer {l['index']}: importer walk {walk}, summary {ours}")
            if not row or row[1] is None:
                if l["fault"]:
                    r["faults"].append((l, l["dls_line"] in errors_at, None))
                    totals["faults"] += 1
                    totals["faults_reported"] += l["dls_line"] in errors_at
                    continue
                r["unprinted"] += 1
                totals["unprinted"] += 1
                continue
            kind, out, bf = row
            if ours is None:
                ok, got = False, "no summary row" if not g else f"summary {g[-1]['output']}"
            elif steps and (len(ours) != 2 or ours[0] != steps):
                ok, got = False, f"summary {g[-1]['output']}, not [N, {steps}, C]"
            else:
                if steps:  # a sequence [N, steps, C]: darknet prints the values of one step
                    ours = ours[1:]
                count = 1
                for v in ours:
                    count *= v
                got = f"dlspec {'x'.join(map(str, reversed(ours)))}" if len(ours) == 3 else f"dlspec {count} values"
                if out[0] == "whc" and len(ours) == 3:
                    ok = (out[1], out[2], out[3]) == (ours[2], ours[1], ours[0])
                else:
                    ok = (out[1] * out[2] * out[3] if out[0] == "whc" else out[1]) == count
            want = f"{out[1]}x{out[2]}x{out[3]}" if out[0] == "whc" else f"{out[1]} values"
            if ok and bf is not None and abs(bf - bflops) > 0.0015:
                ok = False
                want += f", {bf} BFLOPs (ours {bflops:.3f})"
            if l["fault"]:
                rep = l["dls_line"] in errors_at
                r["faults"].append((l, rep, ok))
                totals["faults"] += 1
                totals["faults_reported"] += rep
                totals["fault_shapes_agree"] += ok
                continue
            if ok:
                r["agree"] += 1
                totals["agree"] += 1
            else:
                totals["differ"] += 1
                r["diffs"].append(f"layer {l['index']} [{l['section']}] line {l['cfg_line']}: darknet {want}, {got}")
    write(a.out, results, totals)
    print(json.dumps(totals))


def write(path, results, t):
    o = ["# Darknet validation", "",
         "Produced by `bench/darknet/validate.sh`: every cfg of Debian's `darknet` package is imported with",
         "`dlspec import darknet`, the spec is checked with `dlspec check`, and darknet loads the same cfg",
         "(`darknet classifier predict imagenet1k.data X.cfg /dev/null < /dev/null`, which prints the layer table",
         "for every kind of cfg, detectors and recurrent ones included; no cfg crashed or hung). Each layer's output",
         "shape (W x H x C, or the value count darknet prints for avgpool/dropout/connected/softmax/cost) and",
         "conv BFLOPs are compared with the compiler's own shape inference, `dlspec summary --format=json` of the",
         "generated spec: the summary rows of the statement `lK = …` (each statement translates Darknet layer K)",
         "give layer K's output shape (its last row) and BFLOPs (its conv2d rows). Layers darknet prints no shape",
         "for (route, yolo, region, detection) are counted as unprinted; their shape is checked through the next",
         "layer's input. The importer's own shape walk (Darknet's rules) is cross-checked against the summary too.", "",
         "`dlspec check` errors other than the shape faults are the cfg's own [net] settings, faithfully carried:",
         "E0504 (deploy cfgs with batch=1 train batch_norm on one sample), E0801 (448-pixel cfgs at batch 64 do not",
         "fit this machine's memory for training on cpu). The check column counts errors only; the taxonomy",
         "rules run on every spec, including those with E0205, and their warnings are not listed here.", "",
         "Translations with a caveat: a leading `[crop]` (vgg-16, strided) is input augmentation, so it becomes the",
         "pipeline's `random_crop` / `random_flip` / `normalize(mean: 0.5, std: 0.5)` (Darknet maps values to [-1, 1])",
         "and the network's input is the crop (its layer 0 row is compared with the network's declared input);",
         "rotation, saturation, exposure and brightness shift are W1103 at their keys. `[local]` (yolov1) is the",
         "op `local` (conv's window without weight sharing; Darknet prints no BFLOPs for it). `[reorg]` is",
         "`reorg(stride)`, which trains in Darknet's own element order (not the standard space-to-depth).",
         "`[reorg] extra=` (go) is `reorg(stride, extra: k)`: Darknet copies the input flat and appends k zeros.",
         "`[softmax] tree=` (darknet9000) is a plain softmax over all values, W1103: the hierarchy is not modelled.",
         "`activation=ramp` (strided) is the activation `ramp`, relu(x) + 0.1 x. `local`, `reorg` and `ramp` train",
         "on cpu and cuda.", "",
         "Recurrent cfgs (gru, rnn, rnn.train): the input is `[N, time_steps, inputs]` and the layers act at every",
         "step; darknet prints a recurrent layer's values per step (`RNN Layer: 256 inputs, 1024 outputs`), compared",
         "with the last axis of our `[N, time_steps, C]`, the time axis checked against `time_steps`. `[gru]` is",
         "`gru(units, reset_after: false)` (Darknet applies the reset gate before the recurrent product), W1103 where",
         "the cfg leaves out `tanh=1`: Darknet's candidate is then logistic, ours tanh. `[rnn]` is three connected",
         "layers in Darknet (input, self, output) and `rnn(units) |> dense(units) |> act` here, the same three weight",
         "matrices; W1103 because Darknet activates the input and recurrent terms before adding them, and at",
         "`batch_normalize=1` (normalisation over batch and time inside the cell is not modelled). `adam=1` becomes",
         "`adam(…)` with Darknet's B1, B2 and eps.", "",
         "Darknet-silent faults are shortcuts between maps of different sizes or channels: Darknet strides and",
         "truncates silently, `dlspec check` reports E0205 at the shortcut's statement. Sema reports every one of",
         "them: after a failed `+` it continues with the left operand's shape, which is exactly the shape Darknet",
         "gives the shortcut (its own input), so the layers in between keep Darknet's shapes and each later",
         "mismatched shortcut is checked and reported at its own line (see compiler/sema/NetworkTyper.cpp).", "",
         f"**Totals**: {t['files']} cfg files, {t['imported']} imported, {t['diagnosed']} stop at a diagnosed "
         f"unsupported feature, {t['checked']} pass `dlspec check` without errors; "
         f"{t['layers']} layers: {t['agree']} agree with darknet, {t['differ']} differ, {t['unprinted']} unprinted by darknet, "
         f"{t['faults']} silently accepted by darknet but faulty ({t['faults_reported']} of them reported by `dlspec check` "
         f"at the layer's line; on {t['fault_shapes_agree']} of them the summary's shape also equals darknet's); "
         f"the importer's walk and the summary differ on {t['walk_differs']} layers.", "",
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
            codes = {}
            for d in cd:
                if d["level"] == "error":
                    codes[d["code"]] = codes.get(d["code"], 0) + 1
            check = "ok" if rc == 0 else "errors " + ", ".join(f"{c}" + (f" x{k}" if k > 1 else "")
                                                            for c, k in sorted(codes.items()))
        notes += r["diffs"][:3]
        notes += r["walk"][:2]
        fl = sum(1 for _, rep, _ in r["faults"] if rep)
        for l0, rep, ok in r["faults"]:
            notes.append(f"layer {l0['index']} (line {l0['cfg_line']}{'' if rep else ', NOT reported'}"
                         f"{'' if ok in (True, None) else ', shape differs'}): {l0['fault']}")
        o.append(f"| {r['name']} | {'ok' if r['import_rc'] == 0 else 'failed'} | {check} | {r['layers']} | {r['agree']} | "
                 f"{r['unprinted']} | {len(r['faults'])} ({fl}) | {'; '.join(notes).replace('|', '/')} |")
    open(path, "w").write("\n".join(o) + "\n")


if __name__ == "__main__":
    main()
