#!/usr/bin/env python3
"""A loopback HTTP server for the `ursa download` test (Python stdlib only).

usage: server.py ROOT LOG
Binds 127.0.0.1 on a free port and prints it. Serves the files of ROOT by path:
  /img/NAME             ROOT/NAME as image/jpeg or image/png (by extension); a query
                        string is ignored, so /img/a.jpg?1 and ?2 are the same bytes
  /as/TYPE/NAME         ROOT/NAME with Content-Type TYPE ("_" for "/": text_html)
  /evil-name/NAME       ROOT/NAME with Content-Disposition naming "../../evil.jpg"
  /status/CODE          that status, empty body
  /slow/SECONDS/NAME    waits, then serves ROOT/NAME
  /drip/NAME            serves ROOT/NAME after 0.4 s (for the interruption test)
  /fail-once/NAME       the first request for the path answers 503; later ones serve
  /busy-once/NAME       the first request for the path answers 429 with Retry-After: 1
  /redirect/N/NAME      N redirects (302), then /img/NAME
  /redirect-to?URL      302 to URL (any scheme)
Each request is logged to LOG as "PATH status=CODE active=N t=SECONDS" with the number of
requests in progress at its start (a request ends, for this count, just before its
reply is sent) and the time it arrived (time.monotonic(), before any waiting);
GET /stats answers {"max_active": N}.
"""
import http.server
import json
import os
import sys
import threading
import time
import urllib.parse


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    lock = threading.Lock()
    active = 0
    max_active = 0
    seen = set()

    def log_message(self, fmt, *args):
        pass

    def log(self, status, active, arrived):
        with self.lock, open(self.server.log_path, "a") as f:
            f.write(f"{self.path} status={status} active={active} t={arrived:.3f}\n")

    def reply(self, status, body=b"", ctype="application/octet-stream", headers=()):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def file(self, name):
        path = os.path.join(self.server.root, os.path.basename(name))
        if not os.path.isfile(path):
            return None
        with open(path, "rb") as f:
            return f.read()

    def serve(self, name, ctype=None):
        data = self.file(name)
        if data is None:
            return 404, lambda: self.reply(404, b"not found", "text/plain")
        if ctype is None:
            ctype = "image/png" if name.endswith(".png") else "image/jpeg"
        return 200, lambda: self.reply(200, data, ctype)

    def do_GET(self):
        if self.path == "/stats":
            with self.lock:
                body = json.dumps({"max_active": Handler.max_active}).encode()
            return self.reply(200, body, "application/json")
        arrived = time.monotonic()
        with self.lock:
            Handler.active += 1
            Handler.max_active = max(Handler.max_active, Handler.active)
            active = Handler.active
        try:
            status, send = self.route()
            self.log(status, active, arrived)
        finally:
            # Counted as ended before the reply goes out: the client cannot have seen
            # the end of a request the count still holds.
            with self.lock:
                Handler.active -= 1
        send()

    def route(self):
        path, _, query = self.path.partition("?")
        parts = path.lstrip("/").split("/")
        kind = parts[0]
        if kind == "img" and len(parts) == 2:
            return self.serve(parts[1])
        if kind == "as" and len(parts) == 3:
            return self.serve(parts[2], parts[1].replace("_", "/"))
        if kind == "evil-name" and len(parts) == 2:  # a server that suggests a file name outside the folder
            data = self.file(parts[1])
            return 200, lambda: self.reply(200, data, "image/jpeg",
                                           [("Content-Disposition", 'attachment; filename="../../evil.jpg"')])
        if kind == "status" and len(parts) == 2:
            code = int(parts[1])
            return code, lambda: self.reply(code, b"", "text/plain")
        if kind == "slow" and len(parts) == 3:
            time.sleep(float(parts[1]))
            return self.serve(parts[2])
        if kind == "drip" and len(parts) == 2:
            time.sleep(0.4)
            return self.serve(parts[1])
        if kind == "fail-once" and len(parts) == 2:
            with self.lock:
                first = self.path not in Handler.seen
                Handler.seen.add(self.path)
            if first:
                return 503, lambda: self.reply(503, b"busy", "text/plain")
            return self.serve(parts[1])
        if kind == "busy-once" and len(parts) == 2:  # 429 with Retry-After: 1, then the file
            with self.lock:
                first = self.path not in Handler.seen
                Handler.seen.add(self.path)
            if first:
                return 429, lambda: self.reply(429, b"slow down", "text/plain", [("Retry-After", "1")])
            return self.serve(parts[1])
        if kind == "redirect" and len(parts) == 3:
            n = int(parts[1])
            target = f"/redirect/{n - 1}/{parts[2]}" if n > 1 else f"/img/{parts[2]}"
            return 302, lambda: self.reply(302, b"", "text/plain", [("Location", target)])
        if kind == "redirect-to":
            target = urllib.parse.unquote(query)
            return 302, lambda: self.reply(302, b"", "text/plain", [("Location", target)])
        return 404, lambda: self.reply(404, b"not found", "text/plain")


def main():
    root, log_path = sys.argv[1], sys.argv[2]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.handle_error = lambda request, address: None  # clients that hang up (timeouts, size limits) are expected
    server.root, server.log_path = root, log_path
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
