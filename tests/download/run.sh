#!/usr/bin/env bash
# CTest "download": `ursa download` against a loopback HTTP server (server.py) that
# serves real images, a truncated JPEG, HTML labelled image/jpeg, a 404, a slow
# response, redirect chains, redirects to ftp:// and file://, one image under two URLs,
# a decompression bomb and more. The report must account for every URL exactly, the
# folder must hold exactly the good unique images, and a run killed midway must
# complete on a re-run with no partial file. Permission errors run as an unprivileged
# user (root ignores file modes); a full disk needs a tmpfs mount (skipped without).
# usage: bash tests/download/run.sh URSA_BIN WORKDIR
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/../cli/lib.sh"
begin_test "$@"

# --- what the server serves ---
mkdir files
"$py" - files <<'PY'
import io, os, random, struct, sys, zlib
from PIL import Image, ImageDraw
out = sys.argv[1]
def photo(seed, w=320, h=240):
    r = random.Random(seed)
    im = Image.new("RGB", (w, h), tuple(r.randrange(256) for _ in range(3)))
    d = ImageDraw.Draw(im)
    for _ in range(12):
        x0, y0 = r.randrange(w), r.randrange(h)
        d.ellipse([x0, y0, x0 + r.randrange(20, w // 2), y0 + r.randrange(20, h // 2)],
                  fill=tuple(r.randrange(256) for _ in range(3)))
    return im
photo(1).save(f"{out}/a.jpg", quality=90)
photo(2).save(f"{out}/b.jpg", quality=90)
photo(3).save(f"{out}/c.png")
photo(4).save(f"{out}/d.jpg", quality=90)
photo(5, 1600, 1200).save(f"{out}/big.jpg", quality=90)
full = io.BytesIO(); photo(6).save(full, "JPEG", quality=90)
open(f"{out}/truncated.jpg", "wb").write(full.getvalue()[: len(full.getvalue()) * 2 // 3])
open(f"{out}/page.html", "w").write("<!DOCTYPE html><html><body>not a photo</body></html>")
Image.frombytes("RGB", (900, 900), os.urandom(900 * 900 * 3)).save(f"{out}/huge.png")  # ~2.4 MB
# A decompression bomb: 12000 x 12000 grey (144 MP) from about 150 kB of zlib data.
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
z, row, idat = zlib.compressobj(9), b"\0" * 12001, b""
for _ in range(12000):
    idat += z.compress(row)
idat += z.flush()
open(f"{out}/bomb.png", "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 12000, 12000, 8, 0, 0, 0, 0))
                                    + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
for i in range(30):  # for the interruption test
    photo(100 + i, 64, 48).save(f"{out}/drip{i:02d}.png")
PY

"$py" "$here/server.py" files server.log >port.txt &
server=$!
perm=""  # the permission tests' folder, outside the build tree
cleanup() {
  kill $server 2>/dev/null
  if mountpoint -q "$work/tiny" 2>/dev/null; then umount "$work/tiny"; fi
  if [ -n "$perm" ]; then rm -rf "$perm"; fi
}
trap cleanup EXIT
for _ in $(seq 50); do [ -s port.txt ] && break; sleep 0.1; done
port=$(cat port.txt)
base="http://127.0.0.1:$port"

cat >grizzly.txt <<EOF
# grizzly bears, one URL per line
$base/img/a.jpg
$base/img/a.jpg?copy
$base/redirect/3/b.jpg
$base/redirect/9/c.png

$base/img/truncated.jpg
$base/as/image_jpeg/page.html
$base/as/text_html/page.html
$base/status/404
$base/slow/5/c.png
$base/img/bomb.png
$base/redirect-to?ftp://127.0.0.1/x.jpg
$base/redirect-to?file:///etc/passwd
ftp://127.0.0.1/x.jpg
$base/img/huge.png
$base/fail-once/d.jpg
$base/img/big.jpg
EOF
cat >black.csv <<EOF
label,url,page,license,author,title
black,$base/img/c.png,https://commons.example/File:c.png,CC BY-SA 4.0,Ann Author,"A bear, black"
black,$base/img/a.jpg?other,,,,
black,$base/img/a.jpg?other,,,,
EOF
dl() { "$ursa" download --urls grizzly=grizzly.txt --urls black.csv --out photos --timeout 1 --retries 1 \
  --backoff 0.1 --host-delay 0 --per-host 2 --workers 8 --max-bytes 2000000 --max-size 400 "$@"; }

run first 1 dl
"$py" - photos "$base" files >check.out 2>&1 <<'PY'
import hashlib, json, os, sys
from PIL import Image
out, base, files = sys.argv[1:]
report = json.load(open(f"{out}/download-report.json"))
items = report["items"]
sha = lambda p: hashlib.sha256(open(p, "rb").read()).hexdigest()
name = lambda label, f, ext: f"{label}/{sha(os.path.join(files, f))[:16]}.{ext}"
want = [  # (url, status, file or duplicate_of, error substring)
    ("/img/a.jpg", "downloaded", name("grizzly", "a.jpg", "jpg"), None),
    ("/img/a.jpg?copy", "duplicate", name("grizzly", "a.jpg", "jpg"), None),
    ("/redirect/3/b.jpg", "downloaded", name("grizzly", "b.jpg", "jpg"), None),
    ("/redirect/9/c.png", "failed", None, "more than 5 redirects"),
    ("/img/truncated.jpg", "failed", None, "(the file is truncated)"),
    ("/as/image_jpeg/page.html", "failed", None, 'not an image: the bytes match no image format (they begin "<!DOCTYPE html><html><bo"), though the server said image/jpeg'),
    ("/as/text_html/page.html", "failed", None, "not an image: the server sent text/html"),
    ("/status/404", "failed", None, "HTTP 404 Not Found"),
    ("/slow/5/c.png", "failed", None, "timed out after 1 s"),
    ("/img/bomb.png", "failed", None, "12000x12000"),
    ("/redirect-to?ftp://127.0.0.1/x.jpg", "failed", None, "redirected to a URL that is not http(s), refused"),
    ("/redirect-to?file:///etc/passwd", "failed", None, "redirected to a URL that is not http(s), refused"),
    ("ftp://127.0.0.1/x.jpg", "failed", None, "not an http(s) URL"),
    ("/img/huge.png", "failed", None, "larger than the 2 MB limit"),
    ("/fail-once/d.jpg", "downloaded", name("grizzly", "d.jpg", "jpg"), None),
    ("/img/big.jpg", "downloaded", name("grizzly", "big.jpg", "jpg"), None),
    ("/img/c.png", "downloaded", name("black", "c.png", "png"), None),
    ("/img/a.jpg?other", "duplicate", name("grizzly", "a.jpg", "jpg"), None),
    ("/img/a.jpg?other", "duplicate", name("grizzly", "a.jpg", "jpg"), None),
]
ok = True
def expect(cond, what):
    global ok
    if not cond:
        print("MISMATCH:", what); ok = False
expect(len(items) == len(want), f"{len(items)} items, expected {len(want)}")
for it, (url, status, file, error) in zip(items, want):
    full = url if url.startswith("ftp") else base + url
    expect(it["url"] == full, f"item order: {it['url']} != {full}")
    expect(it["status"] == status, f"{url}: status {it['status']} != {status} ({it.get('error')})")
    if status == "downloaded":
        expect(it.get("file") == file, f"{url}: file {it.get('file')} != {file}")
    if status == "duplicate":
        expect(it.get("duplicate_of") == file, f"{url}: duplicate_of {it.get('duplicate_of')} != {file}")
    if error:
        expect(error in it.get("error", ""), f"{url}: error {it.get('error')!r} lacks {error!r}")
s = report["summary"]
expect((s["urls"], s["downloaded"], s["duplicate"], s["failed"], s["earlier_run"], s["pending"]) == (19, 5, 3, 11, 0, 0), f"summary {s}")
by_url = {it["url"]: it for it in items}
expect(by_url[base + "/fail-once/d.jpg"]["attempts"] == 2, "the 503 was retried once")
expect(by_url[base + "/slow/5/c.png"]["attempts"] == 2, "the timeout was retried once (--retries 1)")
expect(by_url[base + "/status/404"]["attempts"] == 1, "a 404 is not retried")
to_ftp, to_file = by_url[base + "/redirect-to?ftp://127.0.0.1/x.jpg"], by_url[base + "/redirect-to?file:///etc/passwd"]
expect(to_file["error"] == to_ftp["error"] and to_file["attempts"] == 1, f"file:// redirect: {to_file}")
expect(items[1]["conflict"] is False and items[17]["conflict"] is True, "conflict: same bytes under black")
expect(items[18].get("reason", "").startswith("listed before, at black.csv:3"), f"repeat reason {items[17].get('reason')}")
c = by_url[base + "/img/c.png"]
expect((c["page"], c["license"], c["author"], c["title"]) == ("https://commons.example/File:c.png", "CC BY-SA 4.0", "Ann Author", "A bear, black"), f"metadata {c}")
big = by_url[base + "/img/big.jpg"]
expect((big["width"], big["height"], big["resized_from"]) == (400, 300, [1600, 1200]), f"resize {big}")
expect(big["sha256"] == sha(os.path.join(files, "big.jpg")), "sha256 is of the bytes sent")
with Image.open(os.path.join(out, big["file"])) as im:
    expect(im.size == (400, 300) and im.format == "JPEG", f"saved big.jpg is {im.size} {im.format}")
# The folder holds exactly the good unique images, byte-identical to what was served.
on_disk = sorted(os.path.relpath(os.path.join(d, f), out) for d, _, fs in os.walk(out) for f in fs
                 if not os.path.relpath(d, out).startswith(".ursa-download") and f != "download-report.json")
expected = sorted(it["file"] for it in items if it["status"] == "downloaded")
expect(on_disk == expected, f"files {on_disk} != {expected}")
for f, src in [("a.jpg", "grizzly"), ("b.jpg", "grizzly"), ("d.jpg", "grizzly"), ("c.png", "black")]:
    p = os.path.join(out, name(src, f, f.split(".")[1]))
    expect(open(p, "rb").read() == open(os.path.join(files, f), "rb").read(), f"{p} differs from what was served")
parts = [f for f in os.listdir(os.path.join(out, ".ursa-download")) if f.endswith(".part")]
expect(not parts, f"temporary files left: {parts}")
print("report ok" if ok else "report WRONG")
PY
check "report accounts for every URL; folder holds exactly the good unique images" contains check.out "report ok" || cat check.out
check "failures are listed with URL and reason on stderr" contains first.err "failed: grizzly $base/status/404 (grizzly.txt:10): HTTP 404 Not Found"
check "a redirect to file:// is refused" contains first.err \
  "failed: grizzly $base/redirect-to?file:///etc/passwd (grizzly.txt:14): redirected to a URL that is not http(s), refused"
check "summary line" contains first.out "19 URLs: 5 downloaded, 0 already there from an earlier run, 3 duplicates, 11 failed"
max_active=$(curl -s "$base/stats" | "$py" -c 'import json,sys; print(json.load(sys.stdin)["max_active"])')
check "at most --per-host 2 requests at once to one host (saw $max_active)" test "$max_active" -le 2

# --- a 429 with Retry-After: 1 is retried after that second, not the 0.1 s backoff ---
printf 'label,url\nbusy,%s/busy-once/b.jpg\n' "$base" >busy.csv
: >server.log
run busy 0 "$ursa" download --urls busy.csv --out busy --backoff 0.1 --host-delay 0 --no-progress
"$py" - <<'PY' >busy.check
import re
times = [float(m.group(1)) for m in re.finditer(r"/busy-once/b.jpg status=\d+ active=\d+ t=([0-9.]+)", open("server.log").read())]
print("waited", len(times) == 2 and times[1] - times[0] >= 0.95)
PY
check "the retry waited for Retry-After" contains busy.check "waited True"

# --- --per-host 1 --host-delay 0.5: requests to one host start at least 0.5 s apart ---
printf 'label,url\nspaced,%s/img/a.jpg\nspaced,%s/img/b.jpg\nspaced,%s/img/c.png\n' "$base" "$base" "$base" >spaced.csv
: >server.log
run spaced 0 "$ursa" download --urls spaced.csv --out spaced --per-host 1 --host-delay 0.5 --workers 3 --no-progress
"$py" - <<'PY' >spaced.check
import re
t = sorted(float(m.group(1)) for m in re.finditer(r"^/img/\S+ status=200 active=\d+ t=([0-9.]+)$", open("server.log").read(), re.M))
gaps = [round(b - a, 3) for a, b in zip(t, t[1:])]
print("gaps", gaps, "spaced", len(t) == 3 and min(gaps) >= 0.45)
PY
check "--host-delay 0.5 spaces the starts to one host" contains spaced.check "spaced True" || cat spaced.check

# --- a re-run fetches only what failed; nothing saved is touched ---
before=$(find photos -type f -not -path '*/.ursa-download/*' -not -name download-report.json | sort | xargs sha256sum)
: >server.log
run rerun 1 dl
after=$(find photos -type f -not -path '*/.ursa-download/*' -not -name download-report.json | sort | xargs sha256sum)
check "re-run leaves the saved files as they were" test "$before" = "$after"
check "re-run asks nothing for settled URLs" lacks server.log "/img/a.jpg"
check "re-run retries the failures" contains server.log "/status/404 status=404"
check "re-run summary" contains rerun.out "19 URLs: 0 downloaded, 8 already there from an earlier run, 0 duplicates, 11 failed"

# --- a folder of <label>.txt / <label>.csv lists: the file name is the label (over a
# CSV's label column); --max-per-label keeps the first N of each; file names never come
# from the server ---
mkdir lists
printf '%s/evil-name/b.jpg\n%s/img/d.jpg\n' "$base" "$base" >lists/teddy.txt
printf 'label,url,license\nteddy_bear,%s/img/c.png,CC0\nteddy_bear,%s/img/a.jpg,CC0\n' "$base" "$base" >lists/brown.csv
run folder 0 "$ursa" download --urls lists --out fromfolder --max-per-label 1 --host-delay 0 --no-progress
"$py" - fromfolder files >folder.check <<'PY'
import hashlib, json, os, sys
out, files = sys.argv[1:]
items = json.load(open(f"{out}/download-report.json"))["items"]
print([(i["label"], i["url"].split("/", 3)[3], i["status"], i.get("license", "")) for i in items])
# Content-Disposition said "../../evil.jpg": the name is still <label>/<16 hex of the bytes>.<ext>.
want = "teddy/" + hashlib.sha256(open(f"{files}/b.jpg", "rb").read()).hexdigest()[:16] + ".jpg"
evil = next(i for i in items if i["url"].endswith("/evil-name/b.jpg"))
print("evil-name saved as", "content name" if evil.get("file") == want and os.path.isfile(f"{out}/{want}") else evil.get("file"))
PY
check "folder lists: labels from the file names, first one of each" contains folder.check \
  "[('brown', 'img/c.png', 'downloaded', 'CC0'), ('teddy', 'evil-name/b.jpg', 'downloaded', '')]"
check "a server's Content-Disposition name is ignored" contains folder.check "evil-name saved as content name"
no_evil() {  # nowhere below the work folder, nor in any folder above it, nor in /tmp
  [ -z "$(find "$work" -name 'evil.jpg')" ] || return 1
  local d=$work
  while [ "$d" != / ]; do d=$(dirname "$d"); [ ! -e "$d/evil.jpg" ] || return 1; done
  [ ! -e /tmp/evil.jpg ]
}
check "no file is named by the server" no_evil

# --- bad lists and flags: clear errors, exit 2 ---
run no-label 2 "$ursa" download --urls grizzly.txt --out photos2
check "a .txt list without a label is refused" contains no-label.err "needs its label (LABEL=grizzly.txt)"
run bad-label 2 "$ursa" download --urls a/b=grizzly.txt --out photos2
check "a label with a slash is refused" contains bad-label.err "contains '/'"
run missing-list 2 "$ursa" download --urls bears=nope.txt --out photos2
check "a missing list is named" contains missing-list.err "nope.txt"
printf 'grizzly,%s/img/a.jpg\n' "$base" >plain.csv
mkdir notdir && : >notdir/grizzly
run label-is-a-file 1 "$ursa" download --urls plain.csv --out notdir --no-progress
check "a label path that is a file fails with the reason" contains label-is-a-file.err "cannot move the download to notdir/grizzly/"
check "and leaves nothing behind" test -z "$(find notdir/.ursa-download -name '*.part')"

# --- a write that fails (a file-size limit stands in for a full disk: the same
# write(2) error path) is reported with the path and reason, and leaves no partial file ---
printf 'label,url\ngrizzly,%s/img/a.jpg\ngrizzly,%s/img/big.jpg\n' "$base" "$base" >two.csv
( trap '' XFSZ; ulimit -f 40; "$ursa" download --urls two.csv --out full --no-progress >full.out 2>full.err; echo $? >full.rc )
check "the write failure exits 1" test "$(cat full.rc)" = 1
check "the write failure names the file and the reason" contains full.err ".part: File too large"
check "the small image was saved" test "$(ls full/grizzly | wc -l)" = 1
check "no partial file is left" test -z "$(find full -name '*.part')"

# --- a full disk (ENOSPC on a 1 MB tmpfs): the write that fails is reported, and the
# URLs after it fail at once with the reason instead of each being fetched to fail the
# same way. Mounting needs privileges; without them this is skipped. ---
mkdir tiny
if mount -t tmpfs -o size=1m tmpfs tiny 2>/dev/null; then
  printf 'label,url\ngrizzly,%s/img/a.jpg\ngrizzly,%s/img/huge.png\ngrizzly,%s/img/b.jpg\ngrizzly,%s/img/c.png\n' \
    "$base" "$base" "$base" "$base" >tiny.csv
  : >server.log
  run disk-full 1 "$ursa" download --urls tiny.csv --out tiny/photos --workers 1 --host-delay 0 --no-progress
  check "the failed write names the file and says the disk is full" contains disk-full.err \
    "failed: grizzly $base/img/huge.png (tiny.csv:3): cannot write tiny/photos/.ursa-download/1.part: No space left on device"
  for f in b.jpg:4 c.png:5; do
    check "the URL after it is skipped with the reason (${f%:*})" contains disk-full.err \
      "failed: grizzly $base/img/${f%:*} (tiny.csv:${f#*:}): skipped: the disk is full (No space left on device); free some space and run again"
  done
  check "the skipped URLs were not fetched" lacks server.log "/img/b.jpg"
  check "the image before it was saved" test "$(ls tiny/photos/grizzly | wc -l)" = 1
  check "the full disk leaves no partial file" test -z "$(find tiny -name '*.part' -o -name '*.tmp-*')"
  check "the full disk's summary" contains disk-full.out "4 URLs: 1 downloaded, 0 already there from an earlier run, 0 duplicates, 3 failed"
  umount tiny
else
  echo "SKIP a full disk: cannot mount a tmpfs here"
fi

# --- permission errors, as an unprivileged user (root ignores file modes): the binary
# and list are copied to a world-readable folder in /tmp that the user can reach ---
as_user() {
  if [ "$(id -u)" = 0 ]; then setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; else "$@"; fi
}
if [ "$(id -u)" != 0 ] || { command -v setpriv >/dev/null && as_user true 2>/dev/null; }; then
  perm=$(mktemp -d /tmp/ursa-download-perm.XXXXXX) && chmod 755 "$perm"
  cp "$ursa" "$perm/ursa" && chmod 755 "$perm/ursa"
  printf 'label,url\ngrizzly,%s/img/a.jpg\ngrizzly,%s/img/b.jpg\nblack,%s/img/c.png\n' "$base" "$base" "$base" >"$perm/perm.csv"
  chmod 644 "$perm/perm.csv"
  # 555: not writable by the user, be it root's folder or (run as non-root) the user's own.
  mkdir "$perm/locked" && chmod 555 "$perm/locked"
  run perm-out 2 as_user "$perm/ursa" download --urls "$perm/perm.csv" --out "$perm/locked/photos" --no-progress
  check "an --out the user cannot create is named, with the reason" contains perm-out.err \
    "cannot create $perm/locked/photos/.ursa-download: Permission denied"
  check "and nothing is created" test -z "$(ls -A "$perm/locked")"
  mkdir -p "$perm/out/grizzly" && chmod 555 "$perm/out/grizzly"
  if [ "$(id -u)" = 0 ]; then chown 65534:65534 "$perm/out"; fi
  run perm-label 1 as_user "$perm/ursa" download --urls "$perm/perm.csv" --out "$perm/out" --host-delay 0 --no-progress
  for f in a.jpg:2 b.jpg:3; do
    hex=$(sha256sum "files/${f%:*}" | cut -c1-16)
    check "a label folder the user cannot write fails its URL with the reason (${f%:*})" contains perm-label.err \
      "failed: grizzly $base/img/${f%:*} ($perm/perm.csv:${f#*:}): cannot move the download to $perm/out/grizzly/$hex.jpg: Permission denied"
  done
  check "the other label is saved" test -f "$perm/out/black/$(sha256sum files/c.png | cut -c1-16).png"
  check "the permission summary" contains perm-label.out "3 URLs: 1 downloaded, 0 already there from an earlier run, 0 duplicates, 2 failed"
  check "permission errors leave no partial or temporary file" test -z "$(find "$perm" -name '*.part' -o -name '*.tmp-*')"
else
  echo "SKIP permission errors: cannot run as an unprivileged user (setpriv)"
fi

# --- killed midway, then re-run: it completes, with no partial file ---
for i in $(seq -w 0 29); do echo "$base/drip/drip$i.png"; done >drip.txt
"$ursa" download --urls drip=drip.txt --out dripped --workers 2 --host-delay 0 --no-progress >kill.out 2>&1 &
pid=$!
for _ in $(seq 100); do [ "$(ls dripped/drip 2>/dev/null | wc -l)" -ge 6 ] && break; sleep 0.1; done
kill -9 $pid; wait $pid 2>/dev/null
n_before=$(ls dripped/drip | wc -l)
# What a kill inside write_file_atomic leaves (the report's temporary copy; too brief a
# moment to hit on purpose), and a user's file that only looks alike.
echo '{"version":1,' >dripped/download-report.json.tmp-4194301
echo 'mine' >dripped/download-report.json.tmp-mine
check "the kill came midway ($n_before of 30 saved)" test "$n_before" -ge 1 -a "$n_before" -lt 30
"$py" - dripped/drip >partial.out <<'PY'
import hashlib, os, sys
from PIL import Image
bad = []
for f in os.listdir(sys.argv[1]):
    p = os.path.join(sys.argv[1], f)
    data = open(p, "rb").read()
    if hashlib.sha256(data).hexdigest()[:16] != f.split(".")[0]: bad.append(f)
    else:
        with Image.open(p) as im: im.load()
print("whole" if not bad else f"partial: {bad}")
PY
check "every file left by the kill is whole" contains partial.out "whole"
run resume 0 "$ursa" download --urls drip=drip.txt --out dripped --workers 2 --host-delay 0 --no-progress
check "the re-run completes all 30" test "$(ls dripped/drip | wc -l)" -eq 30
check "no partial or temporary files remain" \
  test -z "$(find dripped \( -name '*.part' -o -name '*.tmp-*' \) -not -name download-report.json.tmp-mine)"
check "a user's file is not swept" test -f dripped/download-report.json.tmp-mine
"$py" -c '
import json, sys
s = json.load(open("dripped/download-report.json"))["summary"]
print("counts", s["downloaded"] + s["earlier_run"], s["failed"], s["pending"])' >resume.counts
check "the report accounts for all 30 after the re-run" contains resume.counts "counts 30 0 0"

run help 0 "$ursa" download --help
check "--help names the report" contains help.out "download-report.json"

echo "download: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
