#!/usr/bin/env bash
# CLI test (CTest "fetch"): `ursa fetch-weights` against a loopback HTTP server
# (tests/cli/http_server.py) that can drop connections, fail once, ignore Range and
# redirect. Nothing here reaches the internet: every call passes --url.
# usage: bash tests/cli/fetch_weights.sh URSA_BIN WORKDIR
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/lib.sh"
begin_test "$@"
same() { cmp -s "$1" "$2" || { echo "  $2 differs from $1"; return 1; }; }
last_line() { [ "$(tail -n1 "$1")" = "$2" ] || { echo "  last line of $1 is '$(tail -n1 "$1")', expected '$2'"; return 1; }; }
absent() { [ ! -e "$1" ] || { echo "  $1 exists"; return 1; }; }
# log_has PATTERN: a line of the server log matches (grep -E)
log_has() { grep -qE -- "$1" server.log || { echo "  server log lacks /$1/:"; sed 's/^/    /' server.log; return 1; }; }
log_count() { grep -cE -- "$1" server.log; }

# --- the files served: small valid weights (the tensor names of a ResNet-18) and junk ---
mkdir files
"$py" - files/w.safetensors files/junk.bin <<'PY'
import json, random, struct, sys
rng = random.Random(0)
shapes = {"conv1.weight": [8, 3, 7, 7], "layer1.0.conv1.weight": [64, 64, 3, 3],
          "layer4.1.conv2.weight": [16, 16, 3, 3], "fc.weight": [10, 16]}
header, blobs, offset = {}, [], 0
for name, shape in shapes.items():
    n = 4
    for d in shape:
        n *= d
    header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + n]}
    blobs.append(struct.pack(f"<{n // 4}f", *(rng.uniform(-1, 1) for _ in range(n // 4))))
    offset += n
head = json.dumps(header).encode()
head += b" " * (-len(head) % 8)
with open(sys.argv[1], "wb") as f:
    f.write(struct.pack("<Q", len(head)) + head + b"".join(blobs))
with open(sys.argv[2], "wb") as f:
    f.write(b"<html>this is not a weights file</html>\n" * 5000)
PY
sha=$(sha256sum files/w.safetensors | cut -d' ' -f1)
junk_sha=$(sha256sum files/junk.bin | cut -d' ' -f1)
zeros=0000000000000000000000000000000000000000000000000000000000000000
[ "$(stat -c %s files/w.safetensors)" -gt 150000 ] || { echo "FAIL test weights too small for the flaky server"; exit 1; }

# --- the server -------------------------------------------------------------------------
: >server.log
"$py" "$here/http_server.py" files server.log >port.txt 2>server.err &
server_pid=$!
trap 'kill "$server_pid" 2>/dev/null' EXIT
for _ in $(seq 100); do [ -s port.txt ] && break; sleep 0.1; done
port=$(head -n1 port.txt)
[ -n "$port" ] || { echo "FAIL the test server did not start"; cat server.err; exit 1; }
base=http://127.0.0.1:$port

# --- help -------------------------------------------------------------------------------
run help 0 "$ursa" fetch-weights --help
check "--help lists --sha256, --cache-dir and --retries" \
  bash -c 'grep -q -- --sha256 help.out && grep -q -- --cache-dir help.out && grep -q -- --retries help.out'

# --- a plain download: the source bytes, the path as the last line of stdout ------------
run plain 0 "$ursa" fetch-weights resnet18 --url "$base/plain/w.safetensors" --cache-dir c1
check "plain: the file is byte-identical to the source" same files/w.safetensors c1/resnet18.safetensors
check "plain: stdout's last line is the path" last_line plain.out c1/resnet18.safetensors
check "plain: no .part is left" absent c1/resnet18.safetensors.part
check "plain: without --sha256 the computed hash is printed to pin" contains plain.err "pass --sha256 $sha"

# --- a second call downloads nothing ----------------------------------------------------
before=$(wc -l <server.log)
run again 0 "$ursa" fetch-weights resnet18 --url "$base/plain/w.safetensors" --cache-dir c1 --sha256 "$sha"
check "again: no request reaches the server" test "$(wc -l <server.log)" -eq "$before"
check "again: it says the file is already there" contains again.err "already there"
check "again: stdout's last line is the path" last_line again.out c1/resnet18.safetensors
run again_wrong 2 "$ursa" fetch-weights resnet18 --url "$base/plain/w.safetensors" --cache-dir c1 --sha256 "$zeros"
check "an existing file that does not match --sha256 is reported, not replaced" \
  bash -c "grep -qF 'actual   sha256 $sha' again_wrong.err && cmp -s files/w.safetensors c1/resnet18.safetensors"

# --- a dropped connection is resumed with a Range request -------------------------------
run flaky 0 "$ursa" fetch-weights resnet18 --url "$base/flaky/w.safetensors" --cache-dir c2 --sha256 "$sha"
check "flaky: the first request was cut short, then resumed with Range" \
  log_has "^GET /flaky/w.safetensors range=bytes=100000- status=206$"
check "flaky: the result is byte-identical" same files/w.safetensors c2/resnet18.safetensors
check "flaky: it says it resumed" contains flaky.err "resuming"
check "flaky: the checksum was checked" contains flaky.err "checksum ok"

# --- an HTTP 500 is retried --------------------------------------------------------------
run err500 0 "$ursa" fetch-weights resnet18 --url "$base/error500-once/w.safetensors" --cache-dir c3
check "500-once: the server answered 500 first" log_has "^GET /error500-once/w.safetensors range=- status=500$"
check "500-once: then 200" log_has "^GET /error500-once/w.safetensors range=- status=200$"
check "500-once: the retry is reported" contains err500.err "HTTP 500"
check "500-once: the result is byte-identical" same files/w.safetensors c3/resnet18.safetensors

# --- a wrong --sha256: exit 2, both hashes named, nothing at the final path -------------
run wrong_sha 2 "$ursa" fetch-weights resnet18 --url "$base/plain/w.safetensors" --cache-dir c4 --sha256 "$zeros"
check "wrong sha: the expected hash is named" contains wrong_sha.err "expected sha256 $zeros"
check "wrong sha: the actual hash is named" contains wrong_sha.err "actual   sha256 $sha"
check "wrong sha: no file at the final path" absent c4/resnet18.safetensors
check "wrong sha: no .part is left" absent c4/resnet18.safetensors.part
check "wrong sha: the bad download is kept aside" same files/w.safetensors c4/resnet18.safetensors.bad

# --- 404: exit 2, URL and status named, not retried --------------------------------------
run missing 2 "$ursa" fetch-weights resnet18 --url "$base/missing" --cache-dir c5
check "404: the URL is named" contains missing.err "$base/missing"
check "404: the status is named" contains missing.err "HTTP 404"
check "404: it is not retried" test "$(log_count '^GET /missing ')" -eq 1
check "404: nothing is left behind" test -z "$(ls -A c5)"

# --- the right bytes, but not safetensors ------------------------------------------------
run junk 2 "$ursa" fetch-weights resnet18 --url "$base/plain/junk.bin" --cache-dir c6 --sha256 "$junk_sha"
check "junk: the error says it is not safetensors" contains junk.err "not a safetensors file"
check "junk: no file at the final path" absent c6/resnet18.safetensors
run wrong_arch 2 "$ursa" fetch-weights resnet34 --url "$base/plain/w.safetensors" --cache-dir c6
check "ResNet-18 weights are refused as resnet34" contains wrong_arch.err "not ResNet-34 weights"
check "wrong arch: no file at the final path" absent c6/resnet34.safetensors

# --- a server that ignores Range: the stale .part is replaced ---------------------------
mkdir c7 && head -c 5000 /dev/urandom >c7/resnet18.safetensors.part
run norange 0 "$ursa" fetch-weights resnet18 --url "$base/norange/w.safetensors" --cache-dir c7 --sha256 "$sha"
check "norange: the Range request got a 200" log_has "^GET /norange/w.safetensors range=bytes=5000- status=200$"
check "norange: it says it starts over" contains norange.err "starting over"
check "norange: the result is byte-identical" same files/w.safetensors c7/resnet18.safetensors

# --- a complete .part: the server's 416 means done ---------------------------------------
mkdir c8 && cp files/w.safetensors c8/resnet18.safetensors.part
run complete 0 "$ursa" fetch-weights resnet18 --url "$base/plain/w.safetensors?416" --cache-dir c8 --sha256 "$sha"
check "416: the server said there is nothing more" log_has "^GET /plain/w.safetensors\?416 range=bytes=[0-9]+- status=416$"
check "416: the result is byte-identical" same files/w.safetensors c8/resnet18.safetensors
mkdir c12 && { cat files/w.safetensors; head -c 1000 /dev/urandom; } >c12/resnet18.safetensors.part
run too_long 0 "$ursa" fetch-weights resnet18 --url "$base/plain/w.safetensors?long" --cache-dir c12 --sha256 "$sha"
check "a .part longer than the file (416) is started over" contains too_long.err "HTTP 416); starting over"
check "416 on a too-long .part: the result is byte-identical" same files/w.safetensors c12/resnet18.safetensors

# --- a .part from some other file: the checksum catches it, one fresh download fixes it --
mkdir c9 && head -c 50000 /dev/urandom >c9/resnet18.safetensors.part
run stale 0 "$ursa" fetch-weights resnet18 --url "$base/plain/w.safetensors?stale" --cache-dir c9 --sha256 "$sha"
check "stale .part: resumed, mismatched, downloaded again" contains stale.err "downloading again from the start"
check "stale .part: the result is byte-identical" same files/w.safetensors c9/resnet18.safetensors

# --- redirects are followed --------------------------------------------------------------
run redirect 0 "$ursa" fetch-weights resnet18 --url "$base/redirect/w.safetensors" -o out/weights.safetensors
check "redirect: the server sent a 302" log_has "^GET /redirect/w.safetensors range=- status=302$"
check "redirect: --out is where the file goes" same files/w.safetensors out/weights.safetensors
check "redirect: stdout's last line is --out" last_line redirect.out out/weights.safetensors

# --- nobody listening: retried, then exit 2 naming the URL --------------------------------
dead=$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
run refused 2 "$ursa" fetch-weights resnet18 --url "http://127.0.0.1:$dead/w.safetensors" --cache-dir c10 --retries 1
check "refused: retried once" test "$(grep -c 'retrying in' refused.err)" -eq 1
check "refused: the URL is named" contains refused.err "http://127.0.0.1:$dead/w.safetensors"

# --- the cache folder: $URSA_CACHE_DIR, then $XDG_CACHE_HOME, then $HOME -----------------
run env_ursa 0 env URSA_CACHE_DIR="$work/e1" "$ursa" fetch-weights resnet18 --url "$base/plain/w.safetensors"
check "\$URSA_CACHE_DIR is used" last_line env_ursa.out "$work/e1/resnet18.safetensors"
run env_xdg 0 env -u URSA_CACHE_DIR XDG_CACHE_HOME="$work/e2" "$ursa" fetch-weights resnet18 --url "$base/plain/w.safetensors"
check "\$XDG_CACHE_HOME/ursa/weights is used" last_line env_xdg.out "$work/e2/ursa/weights/resnet18.safetensors"
run env_home 0 env -u URSA_CACHE_DIR -u XDG_CACHE_HOME HOME="$work/e3" "$ursa" fetch-weights resnet18 --url "$base/plain/w.safetensors"
check "\$HOME/.cache/ursa/weights is used" last_line env_home.out "$work/e3/.cache/ursa/weights/resnet18.safetensors"

# --- usage errors --------------------------------------------------------------------------
run bad_arch 2 "$ursa" fetch-weights resnet50 --url "$base/plain/w.safetensors" --cache-dir c11
check "an unknown arch names the choices" contains bad_arch.err "resnet34"
run bad_sha 2 "$ursa" fetch-weights resnet18 --url "$base/plain/w.safetensors" --cache-dir c11 --sha256 xyz
check "a malformed --sha256 is explained" contains bad_sha.err "64 hex digits"

echo "fetch: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
