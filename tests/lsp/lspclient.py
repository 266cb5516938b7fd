"""A minimal headless LSP client for the tests: starts `dlspec lsp`, frames messages with Content-Length,
reads the server's messages on a thread, and waits for responses and notifications with a timeout."""
import json
import queue
import subprocess
import threading

TIMEOUT = 20


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)


class Client:
    def __init__(self, dlspec, *args):
        self.proc = subprocess.Popen([dlspec, "lsp", *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self.messages = queue.Queue()
        self.pending = []
        self.next_id = 1
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        out = self.proc.stdout
        while True:
            headers = {}
            while True:
                line = out.readline()
                if not line:
                    self.messages.put(None)
                    return
                line = line.decode("ascii", "replace").strip()
                if not line:
                    break
                k, _, v = line.partition(":")
                headers[k.strip().lower()] = v.strip()
            n = int(headers["content-length"])
            body = out.read(n)
            self.messages.put(json.loads(body))

    def raw(self, data):
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def send(self, msg):
        body = json.dumps(msg).encode()
        self.raw(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    def request(self, method, params=None):
        rid = self.next_id
        self.next_id += 1
        self.send({"jsonrpc": "2.0", "id": rid, "method": method, "params": params or {}})
        return rid

    def notify(self, method, params=None):
        self.send({"jsonrpc": "2.0", "method": method, "params": params or {}})

    def wait(self, pred, what):
        """The first message (kept ones first) for which pred holds; others are kept for later waits."""
        for i, m in enumerate(self.pending):
            if pred(m):
                return self.pending.pop(i)
        while True:
            try:
                m = self.messages.get(timeout=TIMEOUT)
            except queue.Empty:
                raise Failure(f"timed out waiting for {what}")
            if m is None:
                raise Failure(f"the server closed its output while waiting for {what}")
            if pred(m):
                return m
            self.pending.append(m)

    def response(self, rid):
        return self.wait(lambda m: m.get("id") == rid and "method" not in m, f"the response to request {rid}")

    def call(self, method, params=None):
        m = self.response(self.request(method, params))
        check("error" not in m, f"{method} answered an error: {m.get('error')}")
        return m["result"]

    def diagnostics(self, uri, version=None):
        def pred(m):
            return (m.get("method") == "textDocument/publishDiagnostics" and m["params"]["uri"] == uri and
                    (version is None or m["params"].get("version") == version))
        return self.wait(pred, f"diagnostics of {uri} version {version}")["params"]["diagnostics"]

    def finish(self, timeout=TIMEOUT):
        try:
            self.proc.stdin.close()
        except BrokenPipeError:
            pass
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise Failure("the server did not exit when its input ended")
