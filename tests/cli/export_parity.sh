#!/usr/bin/env bash
# Export parity (CTest "export-parity"): `ursa export --weights fp32|fp16` runs the same
# in libtorch, core's engine and ONNX Runtime Web (wasm backend, under Node).
#  1. the doctest "export parity: …" (random-init resnet18 and small, batch of 2):
#     logits within 1e-4 of libtorch for fp32, within the stated fp16 bound, same argmax,
#     fp16 file < 0.55x the fp32 one;
#  2. the real CLI on a tiny trained run: export both ways, `ursa predict --json` (core's
#     engine) on each, ONNX Runtime Web on the fp16 file from `ursa preprocess`'s pixels.
# usage: bash tests/cli/export_parity.sh URSA_BIN URSA_TRAINER_TESTS WORKDIR
set -uo pipefail
[ $# -eq 3 ] || { echo "usage: bash tests/cli/export_parity.sh URSA_BIN URSA_TRAINER_TESTS WORKDIR" >&2; exit 2; }
ursa=$(realpath "$1")
trainer_tests=$(realpath "$2")
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
py=/usr/bin/python3
rm -rf "$3" && mkdir -p "$3" && work=$(realpath "$3")
cd "$work"

source "$here/lib.sh"

# --- 1. libtorch vs core's engine vs ONNX Runtime Web, fp32 and fp16 --------------------
"$trainer_tests" "-tc=export parity:*" >doctest.out 2>&1
rc=$?
grep -E "MESSAGE|fp32|fp16|ERROR|FAILED|test cases" doctest.out | sed 's/^/  /'
if [ "$rc" -eq 0 ] && grep -qE "test cases: *1 \| *1 passed" doctest.out; then
  ok "libtorch, core's engine and ONNX Runtime Web agree on fp32 and fp16 exports"
else
  bad "export parity doctest (exit $rc)"; cat doctest.out
fi

# --- 2. the CLI: train, export fp32/fp16, predict ---------------------------------------
"$py" "$here/make_data.py" data
# One batch of one epoch (exit 1: make_data.py adds two bad files).
run train 1 "$ursa" train data --arch resnet18 --size 32 --resize-method squish --epochs 1 --bs 8 --limit-train 8 \
  --valid-pct 0.25 --seed 3 --out run
run export_default 0 "$ursa" export run -o default.onnx
run export32 0 "$ursa" export run -o fp32.onnx --weights fp32
run export16 0 "$ursa" export run -o fp16.onnx --weights fp16
check "--weights fp32 is the default, byte for byte" cmp -s default.onnx fp32.onnx
size32=$(stat -c %s fp32.onnx)
size16=$(stat -c %s fp16.onnx)
echo "  file sizes: fp32 $size32 bytes, fp16 $size16 bytes"
check "the fp16 file is < 0.55x the fp32 one" test $((size16 * 100)) -lt $((size32 * 55))
run export_bad 2 "$ursa" export run -o bad.onnx --weights fp8
check "an unknown --weights is refused with the choices" grep -q "fp16" export_bad.err
check "a refused export writes nothing" test ! -e bad.onnx
check "the fp16 model keeps the metadata contract" grep -aqF '"mean":[0.485,0.456,0.406],"std":[0.229,0.224,0.225]' fp16.onnx

files=(data/red/red_00.PNG data/blue/blue_03.jpg)
run predict32 0 "$ursa" predict fp32.onnx "${files[@]}" --json --top 3
run predict16 0 "$ursa" predict fp16.onnx "${files[@]}" --json --top 3

# ONNX Runtime Web on the fp16 model, fed exactly what core feeds it: `ursa preprocess`'s
# pixels, normalised with the model's mean/std.
for k in 0 1; do run "preprocess$k" 0 "$ursa" preprocess "${files[$k]}" --size 32 --method squish -o "x$k.png"; done
"$py" - <<'PY' >make_input.out 2>&1
import struct
from PIL import Image
mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
values = []
for k in (0, 1):
    im = Image.open(f"x{k}.png").convert("RGB")
    w, h = im.size
    px = im.load()
    for c in range(3):
        for y in range(h):
            for x in range(w):
                values.append((px[x, y][c] / 255.0 - mean[c]) / std[c])
open("input.f32", "wb").write(struct.pack(f"<{len(values)}f", *values))
PY
check "the batch of 2 is written" test "$(stat -c %s input.f32 2>/dev/null)" = $((2 * 3 * 32 * 32 * 4))
run ort 0 node "$repo/tests/trainer/ort_node_parity.mjs" input.f32 2,3,32,32 fp16.onnx ort16.f32 fp32.onnx ort32.f32

"$py" - <<'PY' >compare.out 2>&1
import json, math, struct, sys
labels = open("run/labels.txt").read().split()
def predicted(path):
    rows = json.load(open(path))
    return [{t["label"]: t["prob"] for t in r["top"]} for r in rows], [r["label"] for r in rows]
def ort(path):
    raw = open(path, "rb").read()
    logits = struct.unpack(f"<{len(raw) // 4}f", raw)
    rows = []
    for n in range(2):
        row = logits[n * len(labels):(n + 1) * len(labels)]
        m = max(row)
        e = [math.exp(v - m) for v in row]
        rows.append({l: v / sum(e) for l, v in zip(labels, e)})
    return rows
p32, l32 = predicted("predict32.out")
p16, l16 = predicted("predict16.out")
o16, o32 = ort("ort16.f32"), ort("ort32.f32")
def worst(a, b):
    return max(abs(x[l] - y[l]) for x, y in zip(a, b) for l in labels)
d_engine_ort16, d_engine_ort32, d_16_32 = worst(p16, o16), worst(p32, o32), worst(p16, p32)
print(f"max |prob| difference: fp16 engine vs ONNX Runtime Web {d_engine_ort16:.2e}, "
      f"fp32 engine vs ONNX Runtime Web {d_engine_ort32:.2e}, fp16 vs fp32 (engine) {d_16_32:.2e}")
ok = True
def need(cond, what):
    global ok
    print(("ok: " if cond else "NOT OK: ") + what)
    ok &= cond
need(len(p16) == 2 and all(len(r) == 3 for r in p16), "predict gives 3 probabilities for each of 2 files")
need(d_engine_ort16 <= 1e-4, "fp16: core's engine and ONNX Runtime Web within 1e-4")
need(d_engine_ort32 <= 1e-4, "fp32: core's engine and ONNX Runtime Web within 1e-4")
need(d_16_32 <= 2e-3, "fp16 and fp32 probabilities within 2e-3")
need(l16 == l32, f"same labels for fp16 and fp32: {l16} vs {l32}")
need([max(r, key=r.get) for r in o16] == l16, "ONNX Runtime Web picks the same labels")
sys.exit(0 if ok else 1)
PY
rc=$?
sed 's/^/  /' compare.out
check "ursa predict (fp16, fp32) and ONNX Runtime Web agree" test "$rc" -eq 0

echo "export-parity: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
