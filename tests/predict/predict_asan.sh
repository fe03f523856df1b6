#!/usr/bin/env bash
# CTest "predict.asan" (issue 6: "`ursa predict` on 100 images: time per image reported;
# no image leaks memory"). predict_driver is `ursa predict`'s own code
# (trainer/src/predict.cpp over core's Predictor and engine) built with ASan + UBSan
# (and so LeakSanitizer) in a core-only sanitizer preset (fuzz, asan). It predicts 100
# images from make_images.py (PNG, JPEG, BMP, GIF; gray to RGBA, progressive, EXIF
# rotations; 1 to 300 px a side), 4 bad files and a missing one with a small residual
# CNN (predict_driver make), as a table and as JSON, and checks: the exit
# status (1: some files failed), one result per image, the error of each bad file, the
# time per file on stderr, and no sanitizer report at all (leaks included). A
# deliberate leak first shows that LeakSanitizer is active here.
# usage: bash tests/predict/predict_asan.sh PREDICT_DRIVER WORKDIR
set -uo pipefail
[ $# -eq 2 ] || { echo "usage: bash $0 PREDICT_DRIVER WORKDIR" >&2; exit 2; }
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
driver=$(realpath "$1")
source "$here/../cli/lib.sh"
rm -rf "$2" && mkdir -p "$2/images" && work=$(realpath "$2")
cd "$work" || exit 2
# Every report fails the run (exit 23) and names itself; leaks are checked at exit.
export ASAN_OPTIONS=detect_leaks=1:exitcode=23:abort_on_error=0:allocator_may_return_null=1
export LSAN_OPTIONS=exitcode=23
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=23

no_report() { ! grep -qE "Sanitizer|runtime error:" "$1"; }

# LeakSanitizer must be on (it is off under some debuggers and on some platforms).
"$driver" leak >leak.out 2>leak.err
rc=$?
if [ "$rc" -eq 23 ] && grep -q "LeakSanitizer: detected memory leaks" leak.err; then
  ok "LeakSanitizer is active (a deliberate leak is reported)"
else
  bad "LeakSanitizer did not report a deliberate leak (exit $rc): is the driver built with ASan?"
  cat leak.err
fi

run make 0 "$driver" make model.onnx
/usr/bin/python3 "$here/make_images.py" images || bad "make_images.py"
images=(images/img_*)
bads=(images/bad_*)
check "100 images and 4 bad files generated" test "${#images[@]}" -eq 100 -a "${#bads[@]}" -eq 4
files=("${images[@]}" "${bads[@]}" images/missing.png)
nbad=$(( ${#bads[@]} + 1 ))

# The table: one block per image on stdout (file name, then the top-3 lines).
start=$(date +%s.%N)
run predict 1 "$driver" predict model.onnx "${files[@]}"
end=$(date +%s.%N)
check "no sanitizer report (ASan, LSan, UBSan) for the table" no_report predict.err
check "one result per image on stdout" test "$(grep -c '^images/img_' predict.out)" -eq 100
check "three labels per image" test "$(grep -cE '^  (circle|square|triangle) +[01]\.[0-9]{4}$' predict.out)" -eq 300
check "one error per bad file on stderr" test "$(grep -c '^images/.*: error: ' predict.err)" -eq "$nbad"
check "the time per file is reported on stderr" \
  grep -qE "^105 file\(s\) in [0-9.]+ s: [0-9.]+ ms per file" predict.err
lacks predict.out "error" || bad "stdout has errors in it"

# JSON: one entry per file, an error entry for each bad one, the same labels.
run json 1 "$driver" predict --json --top 2 model.onnx "${files[@]}"
check "no sanitizer report (ASan, LSan, UBSan) for --json" no_report json.err
check "one JSON entry per file" test "$(grep -o '"file":' json.out | wc -l)" -eq 105
check "an error entry per bad file" test "$(grep -o '"error":' json.out | wc -l)" -eq "$nbad"
check "the failures and the time per file are reported on stderr" \
  grep -qE "^$nbad of 105 file\(s\) failed" json.err
check "--json reports the time per file too" grep -qE "ms per file" json.err
if [ -x /usr/bin/python3 ]; then
  check "the JSON parses and agrees with the table" /usr/bin/python3 - json.out predict.out <<'PY'
import json, sys
entries = json.load(open(sys.argv[1]))
table, cur = {}, None
for line in open(sys.argv[2]):
    if not line.startswith("  "):
        cur = line.strip()
    elif cur not in table:
        table[cur] = line.split()[0]
ok = [e for e in entries if "label" in e]
assert len(ok) == 100 and all(len(e["top"]) == 2 for e in ok), len(ok)
assert all(table[e["file"]] == e["label"] for e in ok)
assert all(abs(sum(t["prob"] for t in e["top"])) <= 1.0001 for e in ok)
PY
fi

# A model that is not one: exit 2, and still no leak.
printf 'not a model' >bad.onnx
run bad_model 2 "$driver" predict bad.onnx images/img_000.png
check "no sanitizer report for a bad model" no_report bad_model.err

secs=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }')
grep -hE "ms per file" predict.err | sed "s/^/  (ASan build) /"
echo "  (ASan build) 105 files in ${secs} s wall, driver included"
echo "predict.asan: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
