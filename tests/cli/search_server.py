#!/usr/bin/env python3
"""A loopback server for the `ursa search` test (Python stdlib only) that speaks the
JSON of the two search APIs from canned data made here.

usage: search_server.py LOG
Binds 127.0.0.1 on a free port and prints the port on stdout.

  /w/api.php    Wikimedia Commons' MediaWiki Action API: action=query&generator=search
                &prop=imageinfo, formatversion=2 (query.pages is a list, "index" is the
                search rank, pages come in page-id order, not rank order), continued with
                {"continue": {"gsroffset": N, "continue": "gsroffset||"}}. Pages hold at
                most 10 results whatever gsrlimit asks, so tests see continuation.
                Missing or wrong parameters, or a continuation not echoed back, get a
                MediaWiki error object {"error": {"code", "info", "docref"}}.
  /v1/images/   Openverse: ?q=&page_size=&page=, answering {"result_count", "page_count",
                "page_size", "page", "results": [...]}; page_size over 20 without an
                Authorization header, or a token other than "Bearer good-token", is a 401
                {"detail": ...} as Openverse answers.

The search text picks the canned answer (for wikimedia, gsrsearch without its
" filetype:bitmap"):
  grizzly bear   wikimedia: 37 files; #5 has no imageinfo (hidden), #12 repeats #2's
                 image, #3 has no thumburl; #0's title has a comma and quotes and its
                 Artist is HTML. openverse: 45 images over 3 pages of 20.
  nothing        no results ({"batchcomplete": true} / an empty list)
  api error      wikimedia: a MediaWiki error object (HTTP 200, as MediaWiki sends it);
                 openverse: HTTP 400 {"detail": ...}
  not json       HTTP 200 with an HTML page
  fail later     the first page is fine and continues; the second is an error object
  server error   HTTP 503 every time
Each request is logged to LOG as one line of tab-separated fields:
  API  STATUS  auth=<Authorization header or ->  key=value ...   (decoded, in request order)
"""
import hashlib
import http.server
import json
import sys
import threading
import urllib.parse

WIKI_TOTAL = 37
WIKI_PAGE_CAP = 10
OV_TOTAL = 45
DOCREF = "See https://commons.wikimedia.org/w/api.php for API usage."


def wiki_title(i):
    return 'File:Grizzly, "the big one".jpg' if i == 0 else f"File:Grizzly bear {i:02d}.jpg"


def wiki_page(i, width):
    """The formatversion=2 page object of result i, as MediaWiki lays it out."""
    title = wiki_title(2 if i == 12 else i)  # #12: another file page with #2's image
    name = title[len("File:"):].replace(" ", "_")
    md5 = hashlib.md5(name.encode()).hexdigest()
    quoted = urllib.parse.quote(name)
    base = "https://upload.wikimedia.org/wikipedia/commons"
    licence = ["CC BY-SA 4.0", "CC BY 2.0", "Public domain"][i % 3]
    artist = ('<bdi><a href="//commons.wikimedia.org/wiki/User:Ann" title="User:Ann">Ann &amp; Bob</a> '
              '(<a href="//commons.wikimedia.org/wiki/User_talk:Ann">talk</a>)</bdi>') if i == 0 else \
        f'<a href="//commons.wikimedia.org/wiki/User:P{i}" title="User:P{i}">Photographer&nbsp;{i}</a>'
    page = {"pageid": 90000 - i, "ns": 6, "title": wiki_title(i), "index": i + 1, "imagerepository": "local"}
    if i == 5:
        return page  # no imageinfo: e.g. a revision-deleted file
    info = {
        "size": 2_000_000 + i, "width": 4000, "height": 3000,
        "url": f"{base}/{md5[0]}/{md5[:2]}/{quoted}",
        "descriptionurl": "https://commons.wikimedia.org/wiki/" + urllib.parse.quote(wiki_title(i).replace(" ", "_"), safe=":/"),
        "descriptionshorturl": f"https://commons.wikimedia.org/w/index.php?curid={90000 - i}",
        "mime": "image/jpeg",
        "extmetadata": {
            "LicenseShortName": {"value": licence, "source": "commons-desc-page", "hidden": ""},
            "Artist": {"value": artist, "source": "commons-desc-page"},
        },
    }
    if i != 3:
        info.update({"thumburl": f"{base}/thumb/{md5[0]}/{md5[:2]}/{quoted}/{width}px-{quoted}",
                     "thumbwidth": width, "thumbheight": width * 3 // 4})
    page["imageinfo"] = [info]
    return page


def ov_result(i):
    licences = [("by", "2.0"), ("cc0", "1.0"), ("pdm", "1.0"), ("by-nc-sa", "4.0")]
    lic, ver = licences[i % 4]
    return {
        "id": f"00000000-0000-4000-8000-{i:012d}",
        "title": 'Bear, "Grizzly"' if i == 0 else f"Grizzly {i}",
        "indexed_on": "2024-01-01T00:00:00Z",
        "foreign_landing_url": f"https://www.flickr.com/photos/someone/{1000 + i}",
        "url": f"https://live.staticflickr.com/65535/{1000 + i}_abc.jpg",
        "creator": None if i == 1 else f"Creator {i}",
        "creator_url": None,
        "license": lic, "license_version": ver,
        "license_url": f"https://creativecommons.org/licenses/{lic}/{ver}/",
        "provider": "flickr", "source": "flickr", "category": "photograph",
        "filesize": None, "filetype": "jpg", "tags": [], "attribution": "...",
        "fields_matched": ["title"], "mature": False,
        "height": 480, "width": 640,
        "thumbnail": f"https://api.openverse.org/v1/images/00000000-0000-4000-8000-{i:012d}/thumb/",
        "detail_url": f"https://api.openverse.org/v1/images/00000000-0000-4000-8000-{i:012d}/",
        "related_url": f"https://api.openverse.org/v1/images/00000000-0000-4000-8000-{i:012d}/related/",
        "unstable__sensitivity": [],
    }


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    lock = threading.Lock()

    def log_message(self, fmt, *args):
        pass

    def reply(self, status, body, content_type="application/json; charset=utf-8", headers=()):
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        with self.lock, open(self.server.log_path, "a") as f:
            fields = [self.api, str(status), "auth=" + self.headers.get("Authorization", "-")]
            fields += [f"{k}={v}" for k, v in self.params_list]
            f.write("\t".join(fields) + "\n")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        path, _, query = self.path.partition("?")
        self.params_list = urllib.parse.parse_qsl(query, keep_blank_values=True)
        self.params = dict(self.params_list)
        if path == "/w/api.php":
            self.api = "wikimedia"
            return self.wikimedia()
        if path == "/v1/images/":
            self.api = "openverse"
            return self.openverse()
        self.api = "other"
        return self.reply(404, {"detail": "Not found."})

    def wiki_error(self, code, info):
        return self.reply(200, {"error": {"code": code, "info": info, "docref": DOCREF}, "servedby": "mw-test"},
                          headers=[("MediaWiki-API-Error", code)])

    def wikimedia(self):
        p = self.params
        want = {"action": "query", "format": "json", "formatversion": "2", "generator": "search",
                "gsrnamespace": "6", "prop": "imageinfo"}
        for k, v in want.items():
            if p.get(k) != v:
                return self.wiki_error("badvalue", f'This test server wants {k}={v}, got "{p.get(k)}".')
        iiprop = p.get("iiprop", "").split("|")
        if not all(x in iiprop for x in ("url", "extmetadata", "mime", "size")):
            return self.wiki_error("badvalue", "iiprop lacks url|extmetadata|mime|size.")
        try:
            width = int(p["iiurlwidth"])
            limit = int(p.get("gsrlimit", "10"))
            offset = int(p.get("gsroffset", "0"))
        except (KeyError, ValueError):
            return self.wiki_error("badinteger", "iiurlwidth, gsrlimit and gsroffset must be integers.")
        if not 1 <= limit <= 500:
            return self.wiki_error("badinteger", f'Invalid value "{limit}" for integer parameter "gsrlimit".')
        if "gsroffset" in p and p.get("continue") != "gsroffset||":
            return self.wiki_error("badcontinue", "Invalid continue param. You should pass the original value "
                                                  "returned by the previous query.")
        search = p.get("gsrsearch", "")
        if not search.endswith(" filetype:bitmap"):
            return self.wiki_error("badvalue", "gsrsearch lacks filetype:bitmap.")
        text = " ".join(search[: -len(" filetype:bitmap")].lower().split())  # case and spacing do not matter
        if text == "api error":
            return self.wiki_error("internal_api_error_DBQueryError",
                                   "[abc123] Caught exception of type Wikimedia\\Rdbms\\DBQueryError")
        if text == "not json":
            return self.reply(200, "<!DOCTYPE html><html><body>Wikimedia Error</body></html>", "text/html")
        if text == "server error":
            return self.reply(503, "<html>Service Unavailable</html>", "text/html")
        if text == "nothing":
            return self.reply(200, {"batchcomplete": True})
        if text == "fail later" and offset > 0:
            return self.wiki_error("readonly", "The wiki is currently in read-only mode.")
        if text not in ("grizzly bear", "fail later"):
            return self.reply(200, {"batchcomplete": True})
        n = min(limit, WIKI_PAGE_CAP, WIKI_TOTAL - offset)
        pages = [wiki_page(i, width) for i in range(offset, offset + n)]
        pages.sort(key=lambda pg: pg["pageid"])  # page-id order, as MediaWiki sends them
        answer = {"batchcomplete": True, "query": {"pages": pages}}
        if offset + n < WIKI_TOTAL:
            answer["continue"] = {"gsroffset": offset + n, "continue": "gsroffset||"}
        return self.reply(200, answer)

    def openverse(self):
        p = self.params
        auth = self.headers.get("Authorization")
        if auth is not None and auth != "Bearer good-token":
            return self.reply(401, {"detail": "Invalid token."})
        try:
            size = int(p.get("page_size", "20"))
            page = int(p.get("page", "1"))
        except ValueError:
            return self.reply(400, {"detail": "page and page_size must be integers"})
        if size > 20 and auth is None:
            return self.reply(401, {"detail": "page_size may not exceed 20 for anonymous requests"})
        q = " ".join(p.get("q", "").lower().split())
        if q == "api error":
            return self.reply(400, {"detail": "The search query is not valid."})
        if q == "not json":
            return self.reply(200, "<!DOCTYPE html><html><body>Openverse</body></html>", "text/html")
        total = OV_TOTAL if q == "grizzly bear" else 0
        page_count = (total + size - 1) // size
        if page > max(page_count, 1):
            return self.reply(400, {"detail": f"Invalid page number; there are {page_count} pages."})
        results = [ov_result(i) for i in range((page - 1) * size, min(page * size, total))]
        return self.reply(200, {"result_count": total, "page_count": page_count, "page_size": size,
                                "page": page, "results": results})


def main():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.log_path = sys.argv[1]
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
