#!/usr/bin/env python3
"""`dlspec lsp` against broken input: bytes that are no message, a header without or with a bad
Content-Length, a body that is not JSON or not an object, unknown methods, wrong params, a request before
initialize, a document that is not open, a length past the limit, and the input ending without `exit`. The
server answers each with the JSON-RPC error it calls for, keeps serving, and ends when its input ends.

    lsp_robustness.py DLSPEC
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lspclient import Client, Failure, check  # noqa: E402


def error_code(m):
    return m.get("error", {}).get("code")


def parse_error(c, what):
    m = c.wait(lambda m: m.get("id") is None and error_code(m) == -32700, f"a ParseError for {what}")
    print(f"{what}: ParseError ({m['error']['message']})")


def main(dlspec):
    c = Client(dlspec)
    # Before initialize: requests are refused, notifications dropped.
    m = c.response(c.request("textDocument/documentSymbol", {"textDocument": {"uri": "file:///x.dls"}}))
    check(error_code(m) == -32002, f"a request before initialize: {m}")
    c.notify("textDocument/didOpen", {"textDocument": {"uri": "file:///x.dls", "version": 1, "text": "dlspec 1\n"}})

    c.raw(b"Content-Length: 2\r\n\r\n{]")
    parse_error(c, "a body that is not JSON")
    c.raw(b"Content-Length: abc\r\n\r\n")
    parse_error(c, "a Content-Length that is not a number")
    c.raw(b"Content-Length: -5\r\n\r\n")
    parse_error(c, "a negative Content-Length")
    c.raw(b"Content-Type: application/json\r\n\r\n")
    parse_error(c, "a header without Content-Length")
    c.raw(b"\x00\xff garbage without any header" * 400 + b"\r\n\r\n")
    parse_error(c, "binary garbage")
    c.send([1, 2, 3])
    m = c.wait(lambda m: error_code(m) == -32600, "InvalidRequest for a JSON array")
    print("a JSON array: InvalidRequest")
    body = b'{"jsonrpc":"2.0","id":{"x":1},"method":"initialize"}'
    c.raw(b"Content-Length: %d\r\n\r\n" % len(body) + body)
    m = c.wait(lambda m: error_code(m) == -32600 and m.get("id") is None, "InvalidRequest for an object id")
    print("an object as id: InvalidRequest")

    result = c.call("initialize", {"capabilities": {}})
    check("capabilities" in result, f"initialize after the garbage: {result}")
    m = c.response(c.request("initialize", {"capabilities": {}}))
    check(error_code(m) == -32600, f"a second initialize: {m}")
    m = c.response(c.request("no/suchMethod", {}))
    check(error_code(m) == -32601, f"an unknown request: {m}")
    c.notify("no/suchNotification", {"x": 1})
    c.notify("textDocument/didChange", {"textDocument": {"uri": "file:///never-opened.dls"}, "contentChanges": [{"text": ""}]})
    m = c.response(c.request("textDocument/hover", {"textDocument": {"uri": "file:///x.dls"}, "position": "here"}))
    check(error_code(m) in (-32602,), f"hover with a document that is not open / a string position: {m}")
    c.notify("textDocument/didOpen", {"textDocument": {"uri": "file:///x.dls", "version": 1, "text": "network {{{ ((("}})
    diags = c.diagnostics("file:///x.dls", 1)
    check(diags and all(d["code"].startswith("E") for d in diags), f"a spec that does not parse: {diags}")
    m = c.response(c.request("textDocument/hover", {"textDocument": {"uri": "file:///x.dls"}, "position": "here"}))
    check(error_code(m) == -32602, f"hover with a string position: {m}")
    for method in ("textDocument/hover", "textDocument/definition", "textDocument/completion", "textDocument/formatting",
                   "textDocument/documentSymbol", "textDocument/references"):
        m = c.response(c.request(method, {"textDocument": {"uri": "file:///x.dls"}, "position": {"line": 99, "character": 99},
                                          "options": {}, "context": {}}))
        check("result" in m, f"{method} on a broken spec, past its end: {m}")
    m = c.response(c.request("textDocument/codeAction", {"textDocument": {"uri": "file:///x.dls"},
                                                         "range": {"start": {"line": 0, "character": 0}, "end": {"line": 5, "character": 0}},
                                                         "context": {"diagnostics": []}}))
    check("result" in m, f"codeAction on a broken spec: {m}")
    print("unknown methods, bad params, a spec that does not parse: answered, server alive")

    # A length past the limit: the server skips what it declares, then the input ends without `exit`.
    c.raw(b"Content-Length: 99999999999999\r\n\r\n{}")
    parse_error(c, "a Content-Length past the limit")
    rc = c.finish()
    check(rc == 1, f"the input ended without shutdown/exit: status {rc} (LSP says 1)")
    print("end of input without exit: status 1")


if __name__ == "__main__":
    try:
        main(sys.argv[1])
    except Failure as e:
        print(f"FAIL: {e}")
        sys.exit(1)
    print("PASS")
