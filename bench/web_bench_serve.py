#!/usr/bin/env python3
"""Static loopback server for bench/web_bench.sh that counts the bytes it sends.

usage: web_bench_serve.py PORT DIRECTORY [--isolated]

Serves DIRECTORY like `python3 -m http.server` (same handler: Last-Modified,
If-Modified-Since -> 304, no Cache-Control), and with --isolated adds the COOP/COEP
headers that make a page cross-origin isolated (threads). Every byte written to a
socket (status line, headers and body) is counted, per path too.

GET /__bench__/bytes returns {"bytes": N, "requests": R, "paths": {path: [requests, bytes]}}
for everything since the previous such call and starts counting afresh; the counter
request itself is not counted. The harness asks for it from Node, never from the page.
"""
import functools
import http.server
import json
import sys
import threading

lock = threading.Lock()
counts = {"bytes": 0, "requests": 0, "paths": {}}


class CountingWriter:
    def __init__(self, raw, handler):
        self.raw = raw
        self.handler = handler

    def write(self, data):
        n = self.raw.write(data)
        sent = len(data) if n is None else n
        path = getattr(self.handler, "bench_path", None)
        if path is not None:
            with lock:
                counts["bytes"] += sent
                entry = counts["paths"].setdefault(path, [0, 0])
                entry[1] += sent
        return n

    def flush(self):
        self.raw.flush()

    def __getattr__(self, name):
        return getattr(self.raw, name)


class Handler(http.server.SimpleHTTPRequestHandler):
    isolated = False
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map,
                      ".mjs": "text/javascript", ".js": "text/javascript", ".wasm": "application/wasm",
                      ".onnx": "application/octet-stream", ".webmanifest": "application/manifest+json"}

    def setup(self):
        super().setup()
        self.wfile = CountingWriter(self.wfile, self)

    def log_message(self, *args):
        pass

    def parse_request(self):
        ok = super().parse_request()
        self.bench_path = None
        if ok and not self.path.startswith("/__bench__/"):
            self.bench_path = self.path.split("?", 1)[0]
            with lock:
                counts["requests"] += 1
                counts["paths"].setdefault(self.bench_path, [0, 0])[0] += 1
        return ok

    def do_GET(self):
        if self.path.startswith("/__bench__/bytes"):
            with lock:
                body = json.dumps(counts).encode()
                counts.update({"bytes": 0, "requests": 0, "paths": {}})
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()

    def end_headers(self):
        if self.isolated:
            self.send_header("Cross-Origin-Opener-Policy", "same-origin")
            self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
        super().end_headers()


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    port, directory = int(sys.argv[1]), sys.argv[2]
    Handler.isolated = "--isolated" in sys.argv[3:]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), functools.partial(Handler, directory=directory))
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
