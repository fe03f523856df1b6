#!/usr/bin/env bash
# CLI test (CTest "search"): `ursa search` against a loopback server
# (tests/cli/search_server.py) that speaks the JSON of Wikimedia Commons' MediaWiki
# API and of Openverse. Nothing here reaches the internet: every call passes --endpoint.
# usage: bash tests/cli/search.sh URSA_BIN WORKDIR
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/lib.sh"
begin_test "$@"
absent() { [ ! -e "$1" ] || { echo "  $1 exists"; return 1; }; }
# log_has API PATTERN: a logged request to API has a tab-separated field matching PATTERN
# exactly (grep -E on the whole field) in the log lines since mark
log_since() { tail -n +"$((mark + 1))" server.log; }
log_has() { log_since | grep -P "^$1\t" | tr '\t' '\n' | grep -qxE -- "$2" ||
  { echo "  no $1 request since line $mark has a field /$2/:"; log_since | sed 's/^/    /'; return 1; }; }
log_lacks() { ! log_since | grep -P "^$1\t" | tr '\t' '\n' | grep -qxE -- "$2"; }
requests() { log_since | grep -cP "^$1\t"; }
# nth_request_has API N PATTERN: the Nth request to API since mark has the field
nth_request_has() { log_since | grep -P "^$1\t" | sed -n "$2p" | tr '\t' '\n' | grep -qxE -- "$3" ||
  { echo "  request $2 to $1 lacks /$3/:"; log_since | sed 's/^/    /'; return 1; }; }
begin() { mark=$(wc -l <server.log); }
# csv_check FILE PYTHON-EXPR: rows = the parsed CSV (header included), as lists
csv_check() { "$py" - "$1" "$2" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline="")))
ok = eval(sys.argv[2])
if not ok:
    print("  " + sys.argv[2] + " is false for " + sys.argv[1] + ":")
    for r in rows[:6]:
        print("    ", r)
sys.exit(0 if ok else 1)
PY
}
line_is() { [ "$(sed -n "$2p" "$1")" = "$3" ] ||
  { echo "  line $2 of $1 is:"; echo "    $(sed -n "$2p" "$1")"; echo "  expected:"; echo "    $3"; return 1; }; }
same() { cmp -s "$1" "$2" || { echo "  $2 differs from $1"; diff "$1" "$2" | head -5; return 1; }; }

# --- the server -------------------------------------------------------------------------
: >server.log
"$py" "$here/search_server.py" server.log >port.txt 2>server.err &
server_pid=$!
trap 'kill "$server_pid" 2>/dev/null' EXIT
for _ in $(seq 100); do [ -s port.txt ] && break; sleep 0.1; done
port=$(head -n1 port.txt)
[ -n "$port" ] || { echo "FAIL the test server did not start"; cat server.err; exit 1; }
wiki=http://127.0.0.1:$port/w/api.php
ov=http://127.0.0.1:$port/v1/images/
unset OPENVERSE_TOKEN

# --- help -------------------------------------------------------------------------------
run help 0 "$ursa" search --help
for word in --provider --max --label --out --width --endpoint --retries wikimedia openverse OPENVERSE_TOKEN \
            "label,url,page,license,author,title" "Exit status"; do
  check "--help mentions $word" contains help.out "$word"
done

# --- wikimedia: --max across pages, the request parameters, the CSV --------------------
begin
run wm 0 "$ursa" search "grizzly bear" --endpoint "$wiki" --max 25 -o wm.csv
check "wm: 3 requests for 25 hits in pages of 10" test "$(requests wikimedia)" -eq 3
check "wm: gsrsearch is the query with filetype:bitmap" log_has wikimedia "gsrsearch=grizzly bear filetype:bitmap"
check "wm: generator=search" log_has wikimedia "generator=search"
check "wm: gsrnamespace=6 (files)" log_has wikimedia "gsrnamespace=6"
check "wm: prop=imageinfo" log_has wikimedia "prop=imageinfo"
check "wm: iiprop=url|extmetadata|mime|size" log_has wikimedia "iiprop=url\|extmetadata\|mime\|size"
check "wm: iiurlwidth defaults to 1024" log_has wikimedia "iiurlwidth=1024"
check "wm: format=json, formatversion=2" \
  bash -c "$(declare -f log_has log_since); mark=$mark; log_has wikimedia format=json && log_has wikimedia formatversion=2"
check "wm: the first request has no continuation" bash -c \
  "$(declare -f log_since); mark=$mark; ! log_since | grep -P '^wikimedia\t' | head -n1 | grep -q gsroffset"
check "wm: request 2 echoes gsroffset=10" nth_request_has wikimedia 2 "gsroffset=10"
check "wm: request 2 echoes continue=gsroffset||" nth_request_has wikimedia 2 "continue=gsroffset\|\|"
check "wm: request 3 echoes gsroffset=20" nth_request_has wikimedia 3 "gsroffset=20"
check "wm: every answer was 200" bash -c "$(declare -f log_since); mark=$mark; ! log_since | cut -f2 | grep -vqx 200"
check "wm: the header is the download contract" line_is wm.csv 1 "label,url,page,license,author,title"
check "wm: 25 rows of 6 columns" csv_check wm.csv 'len(rows) == 26 and all(len(r) == 6 for r in rows)'
check "wm: the URLs are unique" csv_check wm.csv 'len({r[1] for r in rows[1:]}) == 25'
check "wm: the label is the query made folder-safe" csv_check wm.csv 'all(r[0] == "grizzly_bear" for r in rows[1:])'
# row 1: a title with a comma and quotes (quoted per RFC 4180), the Artist's HTML stripped
check "wm: row 1 exactly as served, quoted per RFC 4180" line_is wm.csv 2 \
  'grizzly_bear,https://upload.wikimedia.org/wikipedia/commons/thumb/7/75/Grizzly%2C_%22the_big_one%22.jpg/1024px-Grizzly%2C_%22the_big_one%22.jpg,https://commons.wikimedia.org/wiki/File:Grizzly%2C_%22the_big_one%22.jpg,CC BY-SA 4.0,Ann & Bob (talk),"File:Grizzly, ""the big one"".jpg"'
check "wm: row 1 parses back to the served title" csv_check wm.csv 'rows[1][5] == "File:Grizzly, \"the big one\".jpg"'
check "wm: the author's HTML is stripped, &nbsp; decoded" csv_check wm.csv 'rows[2][4] == "Photographer 1"'
check "wm: licences as served" csv_check wm.csv '[r[3] for r in rows[1:4]] == ["CC BY-SA 4.0", "CC BY 2.0", "Public domain"]'
check "wm: the thumbnail URL is used (iiurlwidth)" csv_check wm.csv 'rows[2][1].endswith("/1024px-Grizzly_bear_01.jpg")'
check "wm: without a thumburl, the file's url is used" csv_check wm.csv \
  'rows[4][1].endswith("/Grizzly_bear_03.jpg") and "/thumb/" not in rows[4][1]'
check "wm: the page is the descriptionurl" csv_check wm.csv \
  'rows[2][2] == "https://commons.wikimedia.org/wiki/File:Grizzly_bear_01.jpg"'
check "wm: the rows are in search rank (index) order, not page-id order" csv_check wm.csv \
  '[r[5] for r in rows[2:5]] == ["File:Grizzly bear 01.jpg", "File:Grizzly bear 02.jpg", "File:Grizzly bear 03.jpg"]'
check "wm: a page without imageinfo is skipped" lacks wm.csv "Grizzly bear 05.jpg"
check "wm: a URL already seen (#12 = #2's image) is skipped" lacks wm.csv "File:Grizzly bear 12.jpg"
check "wm: stderr says how many were found" contains wm.err "found 25 image URLs"
check "wm: stdout is empty with -o" test ! -s wm.out

# --- --width, and --max below one page -------------------------------------------------
begin
run wm_width 0 "$ursa" search "grizzly bear" --endpoint "$wiki" --max 3 --width 640 -o width.csv
check "width: iiurlwidth=640 is sent" log_has wikimedia "iiurlwidth=640"
check "width: gsrlimit asks for no more than --max" log_has wikimedia "gsrlimit=3"
check "width: one request" test "$(requests wikimedia)" -eq 1
check "width: 3 rows, thumbnails 640 wide" csv_check width.csv \
  'len(rows) == 4 and rows[1][1].endswith("/640px-Grizzly%2C_%22the_big_one%22.jpg")'

# --- all there were: fewer than --max ---------------------------------------------------
begin
run wm_all 0 "$ursa" search "grizzly bear" --endpoint "$wiki" --max 150 -o all.csv
check "all: 37 results - 1 hidden - 1 duplicate = 35 rows" csv_check all.csv 'len(rows) == 36'
check "all: 4 requests, the last without a continue" test "$(requests wikimedia)" -eq 4
check "all: it says these are all there were" contains wm_all.err "(all there were)"

# --- .txt output: URLs, and the sources CSV next to them --------------------------------
run txt 0 "$ursa" search "grizzly bear" --endpoint "$wiki" --max 25 --label grizzly -o out/urls.txt
check "txt: the URLs, one per line, as in the CSV" bash -c \
  "cmp -s out/urls.txt <('$py' -c 'import csv; [print(r[1]) for r in list(csv.reader(open(\"wm.csv\")))[1:]]')"
check "txt: the sources CSV is next to it" test -s out/urls.txt.sources.csv
check "txt: the sources CSV has the given --label" csv_check out/urls.txt.sources.csv \
  'len(rows) == 26 and all(r[0] == "grizzly" for r in rows[1:])'
check "txt: the sources CSV equals the .csv output but for the label" bash -c \
  "diff <(cut -d, -f2- wm.csv) <(cut -d, -f2- out/urls.txt.sources.csv) >/dev/null"
check "txt: stderr names the sources file" contains txt.err "out/urls.txt.sources.csv"
check "txt: no temporary files are left" test "$(ls out | wc -l)" -eq 2

# --- stdout mode --------------------------------------------------------------------------
run stdout 0 "$ursa" search "grizzly bear" --endpoint "$wiki" --max 25
check "stdout: exactly the URLs" same out/urls.txt stdout.out
check "stdout: the summary is on stderr" contains stdout.err "found 25 image URLs"

# --- openverse ----------------------------------------------------------------------------
begin
run ov 0 "$ursa" search "grizzly bear" --provider openverse --endpoint "$ov" --max 30 -o ov.csv
check "ov: 2 requests for 30 hits in pages of 20" test "$(requests openverse)" -eq 2
check "ov: q is the query" log_has openverse "q=grizzly bear"
check "ov: page_size=20" log_has openverse "page_size=20"
check "ov: page 1 then page 2" bash -c \
  "$(declare -f nth_request_has log_since); mark=$mark; nth_request_has openverse 1 page=1 && nth_request_has openverse 2 page=2"
check "ov: no Authorization header without OPENVERSE_TOKEN" log_has openverse "auth=-"
check "ov: 30 rows of 6 columns" csv_check ov.csv 'len(rows) == 31 and all(len(r) == 6 for r in rows)'
check "ov: row 1 exactly as served, quoted per RFC 4180" line_is ov.csv 2 \
  'grizzly_bear,https://live.staticflickr.com/65535/1000_abc.jpg,https://www.flickr.com/photos/someone/1000,CC BY 2.0,Creator 0,"Bear, ""Grizzly"""'
check "ov: a null creator is empty" csv_check ov.csv 'rows[2][4] == ""'
check "ov: licence names from license + license_version" csv_check ov.csv \
  '[r[3] for r in rows[1:5]] == ["CC BY 2.0", "CC0 1.0", "Public Domain Mark 1.0", "CC BY-NC-SA 4.0"]'
check "ov: page 2 continues where page 1 ended" csv_check ov.csv 'rows[21][5] == "Grizzly 20"'
begin
run ov_all 0 "$ursa" search "grizzly bear" --provider openverse --endpoint "$ov" -o ov_all.csv
check "ov: all 45 over page_count 3 pages" csv_check ov_all.csv 'len(rows) == 46'
check "ov: stops at page_count (3 requests)" test "$(requests openverse)" -eq 3

# --- the keyed path: OPENVERSE_TOKEN --------------------------------------------------------
begin
run token 0 env OPENVERSE_TOKEN=good-token "$ursa" search "grizzly bear" --provider openverse --endpoint "$ov" --max 5
check "token: sent as Authorization: Bearer" log_has openverse "auth=Bearer good-token"
check "token: the token is not printed" lacks token.err "good-token"
begin
run bad_token 2 env OPENVERSE_TOKEN=wrong "$ursa" search "grizzly bear" --provider openverse --endpoint "$ov" -o bad_token.csv
check "bad token: HTTP 401 and the API's detail" contains bad_token.err "HTTP 401 Unauthorized for $ov?q=grizzly%20bear&page_size=20&page=1: Invalid token."
check "bad token: the provider is named" contains bad_token.err "openverse:"
check "bad token: not retried" test "$(requests openverse)" -eq 1
check "bad token: nothing written" absent bad_token.csv
run ov_error 2 "$ursa" search "api error" --provider openverse --endpoint "$ov" -o x.csv
check "openverse 400: the API's detail is shown" contains ov_error.err "The search query is not valid."

# --- errors: an API error object, non-JSON, failures part-way, nothing found ----------------
echo "old" >keep.csv
run api_error 2 "$ursa" search "api error" --endpoint "$wiki" -o keep.csv
check "api error: the provider is named" contains api_error.err "wikimedia: the API answered with an error"
check "api error: the code and info are shown" \
  contains api_error.err "internal_api_error_DBQueryError: [abc123] Caught exception of type"
check "api error: the request URL is named" contains api_error.err "for $wiki?action=query"
check "api error: an existing output file is left as it was" test "$(cat keep.csv)" = old
run not_json 2 "$ursa" search "not json" --endpoint "$wiki" -o nj.csv
check "not json: said so, with the content type" contains not_json.err "is not JSON (text/html"
check "not json: the URL is named" contains not_json.err "$wiki?action=query"
check "not json: nothing written" absent nj.csv
run partial 1 "$ursa" search "fail later" --endpoint "$wiki" -o partial.csv
check "partial: the hits before the failure are written" csv_check partial.csv 'len(rows) == 10'
check "partial: the error is shown" contains partial.err "readonly: The wiki is currently in read-only mode."
check "partial: it says the search stopped early" contains partial.err "stopped early"
run nothing 1 "$ursa" search "nothing" --endpoint "$wiki" -o nothing.csv
check "nothing: said so" contains nothing.err "no images found"
check "nothing: nothing written" absent nothing.csv
run nothing_ov 1 "$ursa" search "nothing" --provider openverse --endpoint "$ov"
begin
run unavailable 2 "$ursa" search "server error" --endpoint "$wiki" --retries 1
check "503: retried once" test "$(requests wikimedia)" -eq 2
check "503: the retry is reported" contains unavailable.err "retrying in"
check "503: the status is named" contains unavailable.err "HTTP 503"

# --- usage errors ---------------------------------------------------------------------------
run bad_provider 2 "$ursa" search "grizzly bear" --provider bing
check "an unknown provider names the choices" bash -c 'grep -q wikimedia bad_provider.err && grep -q openverse bad_provider.err'
run bad_endpoint 2 "$ursa" search "grizzly bear" --endpoint "ftp://127.0.0.1/x"
check "a non-http endpoint is refused, naming it" contains bad_endpoint.err "--endpoint ftp://127.0.0.1/x: "
run bad_label 2 "$ursa" search "grizzly bear" --endpoint "$wiki" --label "../up"
check "a label with a slash is refused" contains bad_label.err "--label: the label \"../up\" contains a slash"
run hidden_label 2 "$ursa" search "grizzly bear" --endpoint "$wiki" --label .bears
check "a label starting with . is refused" contains hidden_label.err "starts with '.'"
run bad_max 2 "$ursa" search "grizzly bear" --endpoint "$wiki" --max 0
run no_query 2 "$ursa" search
run empty_query 2 "$ursa" search "  " --endpoint "$wiki"
run case_query 0 "$ursa" search "Grizzly  Bear" --endpoint "$wiki" --max 1 -o case.csv
check "the default label is the query in lower case, spaces as _" csv_check case.csv 'rows[1][0] == "grizzly_bear"'

echo "search: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
