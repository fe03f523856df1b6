#!/usr/bin/env bash
# The cleaner end to end (CTest "clean-ui"): a tiny dataset → ursa train → ursa clean
# --serve driven in real Chromium (marks across labels, reload, save) → the saved plan
# applied and undone byte for byte.
# usage: bash tests/clean/run.sh URSA_BIN WORKDIR
set -uo pipefail
[ $# -eq 2 ] || { echo "usage: bash tests/clean/run.sh URSA_BIN WORKDIR" >&2; exit 2; }
ursa=$(realpath "$1")
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
rm -rf "$2" && mkdir -p "$2" && work=$(realpath "$2")
cd "$work"
source "$repo/tests/cli/lib.sh"
tree_hash() { (cd "$1" && find . -path ./.ursa-trash -prune -o -type f -print0 | sort -z | xargs -0 sha256sum); }

/usr/bin/python3 "$repo/tests/cli/make_data.py" data
"$ursa" train data --arch resnet18 --size 32 --epochs 1 --bs 8 --valid-pct 0.25 --seed 3 --out run >train.out 2>train.err
[ -f run/config.json ] || { echo "FAIL training the run for the cleaner"; cat train.err; exit 1; }
tree_hash data >before.txt

# The interpret report, rendered by Chromium for a screenshot (look at it).
"$ursa" interpret run -o report.html >interpret.out 2>interpret.err
check "interpret writes the report (exit 1: a validation file is unreadable)" test $? -eq 1 -a -s report.html
/usr/bin/chromium --headless --no-sandbox --disable-gpu --window-size=1000,2400 --screenshot="$work/report.png" \
  "file://$work/report.html" >/dev/null 2>&1
check "the report renders to a screenshot" test -s report.png

"$ursa" clean run --serve --plan plan.json >serve.out 2>serve.err &
pid=$!
for _ in $(seq 1 600); do grep -q '^cleaner: http' serve.out && break; sleep 0.2; done
url=$(grep -o 'http://127.0.0.1:[0-9]*/?token=[0-9a-f]*' serve.out | head -n1)
check "the cleaner prints its loopback URL with a token" test -n "$url"
port=$(sed -E 's#.*:([0-9]+)/.*#\1#' <<<"$url")
check "the cleaner listens on loopback only" bash -c "ss -ltn | grep -q '127.0.0.1:$port '"
node "$here/cleaner_ui.mjs" --url "$url" --plan "$work/plan.json" --screenshot "$work/cleaner.png"
if [ $? -ne 0 ]; then
  failed=$((failed + 1))
  kill "$pid" 2>/dev/null  # the page did not stop it
fi
wait "$pid"
check "the server exits 0 after 'Save and stop'" test $? -eq 0

"$ursa" clean run --plan plan.json --apply >apply.out 2>apply.err
check "the saved plan applies" test $? -eq 0
check "applying moved the marked files" test "$(grep -c '^delete' apply.out)" -eq 2
"$ursa" clean run --undo >undo.out 2>undo.err
check "undo exits 0" test $? -eq 0
tree_hash data >after.txt
check "after undo every file is back, byte for byte" cmp -s before.txt after.txt
echo "clean-ui: $failed failed"
[ "$failed" -eq 0 ]
