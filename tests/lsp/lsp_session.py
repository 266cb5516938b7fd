#!/usr/bin/env python3
"""A headless editor session against `dlspec lsp`: open a spec with an error, see its diagnostic, take the
quick fix, edit until it is clean, then hover, complete, go to definition, find references, list symbols,
show inlay hints, rename, format, and silence a warning with allow(…). Every answer is checked against the spec's text.

    lsp_session.py DLSPEC
"""
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lspclient import Client, Failure, check  # noqa: E402

SPEC = """dlspec 1

dataset digits {
  train = idx("train-images.gz", "train-labels.gz")
  test  = idx("test-images.gz", "test-labels.gz")
  sample image: u8[28, 28]
  label kind: class<10>
}

pipeline train_input from digits.train {
  image = image |> to_f32 |> scale(1/255) |> reshape([1, 28, 28])
  shuffle(buffer: all)
  batch(64)
}

pipeline test_input from digits.test {
  image = image |> to_f32 |> scale(1/255) |> reshape([1, 28, 28])
  batch(64)
}

network Net(x: f32[N, 1, 28, 28]) -> logits[N, 10] {
  /* ünïcode 🙂 */ h = x |> conv2d(filtres: 20, kernel: 5) |> relu
  h = h |> maxpool(2) |> flatten
  return h |> dense(10)
}

train run {
  model     = Net on cpu
  data      = train_input
  loss      = cross_entropy(model.out, kind)
  optimizer = sgd(lr: 0.01)
  epochs    = 1
  validate  = test_input every 1 epoch metrics [accuracy]
}
"""


def utf16(s):
    return len(s.encode("utf-16-le")) // 2


def pos(text, needle, nth=0, delta=0):
    """LSP position (line, UTF-16 code units) of the nth occurrence of needle, plus delta characters."""
    off = -1
    for _ in range(nth + 1):
        off = text.index(needle, off + 1)
    off += delta
    line = text.count("\n", 0, off)
    return {"line": line, "character": utf16(text[text.rfind("\n", 0, off) + 1:off])}


def span(text, needle, nth=0):
    return {"start": pos(text, needle, nth), "end": pos(text, needle, nth, len(needle))}


def apply_edits(text, edits):
    lines = text.split("\n")
    starts = [0]
    for line in lines[:-1]:
        starts.append(starts[-1] + len(line) + 1)

    def off(p):  # UTF-16 units on the line -> index in the str
        line, units, i = lines[p["line"]], 0, 0
        while i < len(line) and units < p["character"]:
            units += utf16(line[i])
            i += 1
        return starts[p["line"]] + i
    for e in sorted(edits, key=lambda e: off(e["range"]["start"]), reverse=True):
        text = text[:off(e["range"]["start"])] + e["newText"] + text[off(e["range"]["end"]):]
    return text


def main(dlspec, tmp):
    path = os.path.join(tmp, "net.dls")
    uri = "file://" + path
    c = Client(dlspec, "--debounce-ms=50")

    # A request before initialize is refused with ServerNotInitialized.
    m = c.response(c.request("textDocument/hover", {"textDocument": {"uri": uri}, "position": {"line": 0, "character": 0}}))
    check(m.get("error", {}).get("code") == -32002, f"hover before initialize: {m}")

    caps = c.call("initialize", {"processId": None, "rootUri": None, "capabilities": {}})["capabilities"]
    for cap in ("hoverProvider", "definitionProvider", "referencesProvider", "documentSymbolProvider",
                "documentFormattingProvider", "completionProvider", "codeActionProvider", "inlayHintProvider",
                "renameProvider", "signatureHelpProvider"):
        check(caps.get(cap), f"initialize does not announce {cap}: {caps}")
    check(caps["textDocumentSync"]["change"] == 1, "full document sync")
    c.notify("initialized")
    print("initialize: capabilities announced")

    # 1. The misspelt argument: one E0103 on `filtres`, with its fix-it as a quick fix.
    c.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "dlspec", "version": 1, "text": SPEC}})
    diags = c.diagnostics(uri, 1)
    codes = [d["code"] for d in diags]
    check(codes == ["E0103"], f"diagnostics of the misspelt argument: {codes}")
    d = diags[0]
    check(d["range"] == span(SPEC, "filtres"), f"E0103's range {d['range']} is not `filtres`'s {span(SPEC, 'filtres')}")
    check(d["severity"] == 1 and d["source"] == "dlspec", f"severity/source: {d}")
    check(d["codeDescription"]["href"].endswith("/E0103.md"), f"codeDescription: {d.get('codeDescription')}")
    print(f"diagnostic: {d['code']} at {d['range']['start']}: {d['message'].splitlines()[0]}")

    actions = c.call("textDocument/codeAction", {"textDocument": {"uri": uri}, "range": d["range"],
                                                  "context": {"diagnostics": [d]}})
    fixes = [a for a in actions if a.get("kind") == "quickfix" and a.get("isPreferred")]
    check(len(fixes) == 1, f"one preferred quick fix for E0103: {actions}")
    edits = fixes[0]["edit"]["changes"][uri]
    fixed = apply_edits(SPEC, edits)
    check("conv2d(filters: 20, kernel: 5)" in fixed and "filtres" not in fixed, f"the fix-it's edit: {edits}")
    print(f"code action: {fixes[0]['title']}")

    # 2. The fixed text: the diagnostics clear.
    c.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": 2}, "contentChanges": [{"text": fixed}]})
    diags = c.diagnostics(uri, 2)
    check(diags == [], f"diagnostics after the fix: {diags}")
    print("after the fix: no diagnostics")
    text = fixed

    # 3. Hover on a value (its type with the symbolic batch dim) and on an op (its doc and arguments).
    h = c.call("textDocument/hover", {"textDocument": {"uri": uri}, "position": pos(text, "h = h", 0, 4)})
    value = h["contents"]["value"]
    check("f32[N, 20, 24, 24]" in value, f"hover on h (conv2d 5x5 then relu on 28x28): {value}")
    check("dtype `f32`" in value and "kind `real`" in value, f"hover on h names dtype and kind: {value}")
    check(h["range"] == {"start": pos(text, "h = h", 0, 4), "end": pos(text, "h = h", 0, 5)}, f"hover range on h: {h['range']}")
    h = c.call("textDocument/hover", {"textDocument": {"uri": uri}, "position": pos(text, "conv2d", 0, 2)})
    op = h["contents"]["value"]
    check("filters" in op and "kernel" in op and "stride" in op, f"hover on conv2d lists its arguments: {op}")
    check("f32[N, 20, 24, 24]" in op, f"hover on conv2d shows the layer's output: {op}")
    h = c.call("textDocument/hover", {"textDocument": {"uri": uri}, "position": pos(text, "kernel:", 0, 1)})
    check("kernel" in h["contents"]["value"] and "conv2d" in h["contents"]["value"], f"hover on kernel: {h}")
    print(f"hover: h -> {value.splitlines()[1]}; conv2d -> {op.splitlines()[1]}")

    # 4. Completion of conv2d's named arguments after `filters: 20, `: the others, not filters again.
    items = c.call("textDocument/completion", {"textDocument": {"uri": uri}, "position": pos(text, "kernel: 5")})
    labels = [i["label"] for i in (items["items"] if isinstance(items, dict) else items)]
    check("kernel:" in labels and "stride:" in labels, f"conv2d's arguments: {labels}")
    check("filters:" not in labels, f"filters is already given: {labels}")
    # And op names in a network body: layers and activations, no losses.
    items = c.call("textDocument/completion", {"textDocument": {"uri": uri}, "position": pos(text, "dense(10)")})
    labels = [i["label"] for i in items["items"]]
    check("dense" in labels and "relu" in labels and "cross_entropy" not in labels, f"ops in a network: {labels[:20]}")
    items = c.call("textDocument/completion", {"textDocument": {"uri": uri}, "position": pos(text, "sgd(")})
    labels = [i["label"] for i in items["items"]]
    check("sgd" in labels and "adam" in labels and "conv2d" not in labels, f"ops in a train block: {labels[:20]}")
    # While the spec does not parse (as while typing): the open call's arguments, and an argument's words.
    for version, typed, want, unwanted in ((10, "conv2d(filters: 20, ", ["kernel:", "stride:"], "filters:"),
                                            (11, "conv2d(filters: 20, pad: ", ["same", "valid"], "kernel:")):
        broken = text.replace("conv2d(filters: 20, kernel: 5) |> relu", typed)
        c.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": version}, "contentChanges": [{"text": broken}]})
        items = c.call("textDocument/completion", {"textDocument": {"uri": uri}, "position": pos(broken, typed, 0, len(typed))})
        labels = [i["label"] for i in items["items"]]
        check(all(w in labels for w in want) and unwanted not in labels, f"completion after `{typed}`: {labels}")
        check(c.diagnostics(uri, version), f"the unfinished call `{typed}` has a diagnostic")
        # Signature help: conv2d's arguments from the op table, the one being written active (by name after `pad:`,
        # else by position: the third argument is stride).
        sh = c.call("textDocument/signatureHelp", {"textDocument": {"uri": uri}, "position": pos(broken, typed, 0, len(typed))})
        sig = sh["signatures"][sh["activeSignature"]]
        names = [sig["label"][p["label"][0]:p["label"][1]].split(":")[0] for p in sig["parameters"]]
        check(sig["label"].startswith("conv2d(filters, kernel, stride: ") and names[:4] == ["filters", "kernel", "stride", "pad"],
              f"signature of conv2d: {sig['label']} {names}")
        check(names[sh["activeParameter"]] == ("pad" if "pad:" in typed else "kernel"),
              f"active argument after `{typed}`: {sh.get('activeParameter')}")
    c.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": 12}, "contentChanges": [{"text": text}]})
    check(c.diagnostics(uri, 12) == [], "the finished text is clean again")
    print(f"completion: conv2d(filters: 20, |) offers kernel:, stride:; `pad: |` offers same, valid; a train body sgd, adam; "
          "signature help: conv2d's arguments, kernel then pad active")

    # 5. Go to definition and references.
    loc = c.call("textDocument/definition", {"textDocument": {"uri": uri}, "position": pos(text, "Net on", 0, 1)})
    check(loc["uri"] == uri and loc["range"] == span(text, "Net", 0), f"definition of Net: {loc}")
    loc = c.call("textDocument/definition", {"textDocument": {"uri": uri}, "position": pos(text, "h |> dense", 0, 0)})
    check(loc["range"] == {"start": pos(text, "h = h |> maxpool"), "end": pos(text, "h = h |> maxpool", 0, 1)},
          f"definition of the last h: {loc}")
    loc = c.call("textDocument/definition", {"textDocument": {"uri": uri}, "position": pos(text, "train_input", 1)})
    check(loc["range"] == span(text, "train_input", 0), f"definition of train_input: {loc}")
    loc = c.call("textDocument/definition", {"textDocument": {"uri": uri}, "position": pos(text, "digits.train", 0, 1)})
    check(loc["range"] == span(text, "digits", 0), f"definition of the data set: {loc}")
    refs = c.call("textDocument/references", {"textDocument": {"uri": uri}, "position": pos(text, "Net", 0),
                                              "context": {"includeDeclaration": True}})
    check(sorted(r["range"]["start"]["line"] for r in refs) == [pos(text, "Net", 0)["line"], pos(text, "Net on")["line"]],
          f"references of Net: {refs}")
    refs = c.call("textDocument/references", {"textDocument": {"uri": uri}, "position": pos(text, "kind:"),
                                              "context": {"includeDeclaration": False}})
    check([r["range"] for r in refs] == [{"start": pos(text, "kind)"), "end": pos(text, "kind)", 0, 4)}],
          f"references of the label field: {refs}")
    print(f"definition/references: Net, h, train_input, digits resolved; {len(refs)} use of `kind`")

    # 6. Document symbols.
    syms = c.call("textDocument/documentSymbol", {"textDocument": {"uri": uri}})
    check([s["name"] for s in syms] == ["digits", "train_input", "test_input", "Net", "run"], f"symbols: {[s['name'] for s in syms]}")
    check([ch["name"] for ch in syms[4]["children"]] == ["model", "data", "loss", "optimizer", "epochs", "validate"],
          f"the train block's children: {syms[4]['children']}")
    print(f"symbols: {[s['name'] for s in syms]}")

    # 6a. Inlay hints: the typed shape after each network statement and pipeline field transformation, at the end
    # of its expression (UTF-16 positions: the line with the emoji comes first).
    hints = c.call("textDocument/inlayHint", {"textDocument": {"uri": uri},
                                              "range": {"start": {"line": 0, "character": 0}, "end": pos(text, "train run")}})
    got = [(h["position"], h["label"]) for h in hints]
    want = [(pos(text, "reshape([1, 28, 28])", 0, len("reshape([1, 28, 28])")), ": f32[1, 28, 28]"),
            (pos(text, "reshape([1, 28, 28])", 1, len("reshape([1, 28, 28])")), ": f32[1, 28, 28]"),
            (pos(text, "|> relu", 0, len("|> relu")), ": f32[N, 20, 24, 24]"),
            (pos(text, "|> flatten", 0, len("|> flatten")), ": f32[N, 2880]"),
            (pos(text, "dense(10)", 0, len("dense(10)")), ": logits f32[N, 10]")]
    check(got == want, f"inlay hints: {got}, expected {want}")
    hints = c.call("textDocument/inlayHint", {"textDocument": {"uri": uri},
                                              "range": {"start": pos(text, "network Net"), "end": pos(text, "  return")}})
    check([h["label"] for h in hints] == [": f32[N, 20, 24, 24]", ": f32[N, 2880]"], f"inlay hints of a range: {hints}")
    print(f"inlay hints: {[label for _, label in got]}")

    # 6b. Rename: a value binding with its uses (not the other binding of the same name), a data set field;
    # refused when the new name is not a name or the renamed spec would not check (a clash, a keyword).
    p = c.call("textDocument/prepareRename", {"textDocument": {"uri": uri}, "position": pos(text, "h = x")})
    check(p == {"range": {"start": pos(text, "h = x"), "end": pos(text, "h = x", 0, 1)},
                "placeholder": "h"}, f"prepareRename on h: {p}")
    check(c.call("textDocument/prepareRename", {"textDocument": {"uri": uri}, "position": pos(text, "conv2d")}) is None,
          "prepareRename on an op name: nothing to rename")
    edit = c.call("textDocument/rename", {"textDocument": {"uri": uri}, "position": pos(text, "h = x"), "newName": "conv"})
    renamed = apply_edits(text, edit["changes"][uri])
    check("conv = x |> conv2d" in renamed and "h = conv |> maxpool" in renamed and "return h |> dense" in renamed,
          f"renaming the first h: {edit}")
    edit = c.call("textDocument/rename", {"textDocument": {"uri": uri}, "position": pos(text, "kind:"), "newName": "category"})
    renamed = apply_edits(renamed, edit["changes"][uri])
    check("label category: class<10>" in renamed and "cross_entropy(model.out, category)" in renamed and "kind" not in renamed,
          f"renaming the label field: {edit}")
    c.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": 13}, "contentChanges": [{"text": renamed}]})
    check(c.diagnostics(uri, 13) == [], "the renamed spec checks clean")
    for at, to, why in (("Net(x", "run", "clashes with the train block"), ("category: class", "image", "clashes with the sample field"),
                        ("Net(x", "2net", "not a name")):
        m = c.response(c.request("textDocument/rename", {"textDocument": {"uri": uri}, "position": pos(renamed, at), "newName": to}))
        check(m.get("error", {}).get("code") == -32803 and ("would not check" in m["error"]["message"] or
                                                            "not a name" in m["error"]["message"]),
              f"rename to `{to}` ({why}) is refused: {m}")
        print(f"  refused: {m['error']['message']}")
    c.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": 14}, "contentChanges": [{"text": text}]})
    check(c.diagnostics(uri, 14) == [], "back to the text before the renames")
    print("rename: a binding of h, the field kind; refused: a clash with a declaration or a field, not a name")

    # 6b. Blocks, in the example spec specs/vgg.dls: calls of a block, its parameters, a value after blocks.
    vgg_path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "specs", "vgg.dls")
    with open(vgg_path, encoding="utf-8") as f:
        vgg = f.read()
    vgg_uri = "file://" + os.path.abspath(vgg_path)
    c.notify("textDocument/didOpen", {"textDocument": {"uri": vgg_uri, "languageId": "dlspec", "version": 1, "text": vgg}})
    check(c.diagnostics(vgg_uri, 1) == [], "specs/vgg.dls checks clean")
    loc = c.call("textDocument/definition", {"textDocument": {"uri": vgg_uri}, "position": pos(vgg, "conv_bn_relu(c)", 0, 3)})
    check(loc["range"] == span(vgg, "conv_bn_relu", 0), f"definition of the block conv_bn_relu: {loc}")
    loc = c.call("textDocument/definition", {"textDocument": {"uri": vgg_uri}, "position": pos(vgg, "conv_bn_relu(c)", 0, 13)})
    check(loc["range"] == {"start": pos(vgg, "c: int) (x)"), "end": pos(vgg, "c: int) (x)", 0, 1)},
          f"definition of vgg_stage's parameter c: {loc}")
    refs = c.call("textDocument/references", {"textDocument": {"uri": vgg_uri}, "position": pos(vgg, "vgg_stage", 0),
                                              "context": {"includeDeclaration": True}})
    check(len(refs) == 4, f"vgg_stage: declared once, used three times: {refs}")
    h = c.call("textDocument/hover", {"textDocument": {"uri": vgg_uri}, "position": pos(vgg, "return h", 0, 7)})
    check("f32[N, 256, 4, 4]" in h["contents"]["value"], f"h after three VGG stages on 32x32: {h['contents']['value']}")
    c.notify("textDocument/didClose", {"textDocument": {"uri": vgg_uri}})
    check(c.diagnostics(vgg_uri) == [], "closing a document clears its diagnostics")
    print("blocks: definition of a block and of its parameter, 4 references, h: f32[N, 256, 4, 4]")

    # 6b. A network with several outputs (specs/multihead.dls): hover on it names each output with its type; a loss
    # term on an output it does not declare is E0135 at that name.
    mh_path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "specs", "multihead.dls")
    with open(mh_path, encoding="utf-8") as f:
        mh = f.read()
    mh_uri = "file://" + os.path.abspath(mh_path)
    c.notify("textDocument/didOpen", {"textDocument": {"uri": mh_uri, "languageId": "dlspec", "version": 1, "text": mh}})
    check(c.diagnostics(mh_uri, 1) == [], "specs/multihead.dls checks clean")
    h = c.call("textDocument/hover", {"textDocument": {"uri": mh_uri}, "position": pos(mh, "TwoHeads(x", 0, 2)})
    value = h["contents"]["value"] if h else ""
    check("`model.cls: logits f32[N, 10]`" in value and "`model.recon: real f32[N, 784]`" in value,
          f"hover on TwoHeads names its outputs: {value}")
    bad = mh.replace("mse(model.recon, image)", "mse(model.box, image)")
    c.notify("textDocument/didChange", {"textDocument": {"uri": mh_uri, "version": 2}, "contentChanges": [{"text": bad}]})
    diags = c.diagnostics(mh_uri, 2)
    check([d["code"] for d in diags] == ["E0135"] and diags[0]["range"] == span(bad, "box", 0),
          f"E0135 at `box`: {diags}")
    c.notify("textDocument/didClose", {"textDocument": {"uri": mh_uri}})
    print("several outputs: hover names cls and recon; model.box is E0135")

    # 7. Formatting: the same text `dlspec fmt` prints.
    messy = text.replace("*/ h = x |> conv2d", "*/     h   =  x |>conv2d").replace("epochs    = 1", "epochs = 1")
    c.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": 3}, "contentChanges": [{"text": messy}]})
    edits = c.call("textDocument/formatting", {"textDocument": {"uri": uri}, "options": {"tabSize": 2, "insertSpaces": True}})
    with open(path, "w", encoding="utf-8") as f:
        f.write(messy)
    want = subprocess.run([dlspec, "fmt", path], capture_output=True, check=True).stdout.decode("utf-8")
    check(want != messy, "the messy text is not in fmt's layout")
    check(apply_edits(messy, edits) == want, f"formatting's edits do not give `dlspec fmt`'s text: {edits}")
    print(f"formatting: {len(edits)} edit, equal to dlspec fmt")

    # 8. The language server prints what `dlspec check` prints by default: W0301 (`on cuda`) is pedantic and
    # hidden; a suspicious warning (W0702, an unusually high learning rate) is shown, with the allow(…) quick
    # fix that silences it.
    hidden = want.replace("Net on cpu", "Net on cuda")
    c.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": 4}, "contentChanges": [{"text": hidden}]})
    diags = c.diagnostics(uri, 4)
    check(diags == [], f"W0301 is pedantic, not shown by default: {diags}")
    warn = want.replace("sgd(lr: 0.01)", "sgd(lr: 5)")
    c.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": 5}, "contentChanges": [{"text": warn}]})
    diags = c.diagnostics(uri, 5)
    check([d["code"] for d in diags] == ["W0702"] and diags[0]["severity"] == 2, f"W0702 expected: {diags}")
    actions = c.call("textDocument/codeAction", {"textDocument": {"uri": uri}, "range": diags[0]["range"],
                                                  "context": {"diagnostics": diags}})
    allow = [a for a in actions if "allow(W0702" in a["title"]]
    check(len(allow) == 1, f"an allow(W0702, …) action: {[a['title'] for a in actions]}")
    allowed = apply_edits(warn, allow[0]["edit"]["changes"][uri])
    check('  allow(W0702, reason: "' in allowed, f"the allow edit: {allowed}")
    c.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": 6}, "contentChanges": [{"text": allowed}]})
    diags = c.diagnostics(uri, 6)
    check(diags == [], f"W0702 is allowed: {diags}")
    print("lint groups: W0301 (pedantic) hidden; allow quick fix: W0702 silenced")

    # 9. Shutdown, a request after it, exit: status 0.
    check(c.call("shutdown") is None, "shutdown's result is null")
    m = c.response(c.request("textDocument/hover", {"textDocument": {"uri": uri}, "position": {"line": 0, "character": 0}}))
    check(m.get("error", {}).get("code") == -32600, f"a request after shutdown: {m}")
    c.notify("exit")
    rc = c.finish()
    check(rc == 0, f"exit after shutdown: status {rc}")
    print("shutdown/exit: status 0")


if __name__ == "__main__":
    tmp = tempfile.mkdtemp(prefix="dlspec-lsp-")
    try:
        main(sys.argv[1], tmp)
    except Failure as e:
        print(f"FAIL: {e}")
        sys.exit(1)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("PASS")
