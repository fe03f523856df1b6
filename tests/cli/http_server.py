#!/usr/bin/env python3
"""A loopback HTTP server for the `ursa fetch-weights` test (Python stdlib only).

usage: http_server.py ROOT LOG
Binds 127.0.0.1 on a free port, prints the port on stdout, serves ROOT. The first
path segment picks the behaviour for the file named by the rest:
  /plain/F          Range requests honoured (206, or 416 past the end)
  /flaky/F          the first request for a path sends headers and FLAKY_BYTES bytes,
                    then drops the connection; later ones are plain
  /error500-once/F  the first request for a path answers 500; later ones are plain
  /norange/F        ignores Range: always 200 with the whole file
  /redirect/F       302 to /plain/F
A query string is ignored but makes a separate path for the "first request" modes.
Anything else (or a missing F) is 404. Each request is logged to LOG as one line:
  METHOD PATH range=<Range header or -> status=<code>
"""
import http.server
import os
import re
import sys
import threading

FLAKY_BYTES = 100_000


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen = set()  # paths whose "once" behaviour has been used
    lock = threading.Lock()

    def log_message(self, fmt, *args):  # quiet on stderr; LOG has what the test needs
        pass

    def log(self, status):
        with self.lock, open(self.server.log_path, "a") as f:
            f.write(f"{self.command} {self.path} range={self.headers.get('Range', '-')} status={status}\n")

    def first_time(self):
        with self.lock:
            if self.path in self.seen:
                return False
            self.seen.add(self.path)
            return True

    def send_status_only(self, status, headers=()):
        self.log(status)
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self):
        # a query string (?1, ?2 …) gives a path of its own, with fresh "once" behaviour
        parts = self.path.split("?", 1)[0].lstrip("/").split("/", 1)
        mode, name = (parts[0], parts[1]) if len(parts) == 2 else (parts[0], "")
        file = os.path.join(self.server.root, name)
        if mode not in ("plain", "flaky", "error500-once", "norange", "redirect") or not name or not os.path.isfile(file):
            return self.send_status_only(404)
        if mode == "redirect":
            return self.send_status_only(302, [("Location", "/plain/" + name)])
        if mode == "error500-once" and self.first_time():
            return self.send_status_only(500)
        with open(file, "rb") as f:
            data = f.read()
        size = len(data)
        status, start = 200, 0
        m = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
        if m and mode != "norange":
            start = int(m.group(1))
            end = int(m.group(2)) if m.group(2) else size - 1
            if start >= size:
                return self.send_status_only(416, [("Content-Range", f"bytes */{size}")])
            status, data = 206, data[start:min(end, size - 1) + 1]
        self.log(status)
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Accept-Ranges", "none" if mode == "norange" else "bytes")
        self.send_header("Content-Length", str(len(data)))
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{start + len(data) - 1}/{size}")
        self.end_headers()
        if mode == "flaky" and self.first_time():
            self.wfile.write(data[:FLAKY_BYTES])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(data)


def main():
    root, log_path = sys.argv[1], sys.argv[2]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.root, server.log_path = root, log_path
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
