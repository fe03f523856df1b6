#!/usr/bin/env bash
# Browser end-to-end test (CTest "web"): tiny dataset → ursa train → export → web,
# then the real page in headless Chromium must agree with `ursa predict`.
# usage: bash tests/web/run.sh URSA_BIN WORKDIR
set -euo pipefail
if [ $# -ne 2 ]; then
  echo "usage: bash tests/web/run.sh URSA_BIN WORKDIR" >&2
  exit 2
fi
ursa=$(realpath "$1")
work=$2
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
python=/usr/bin/python3
photo=/usr/share/darknet/data/dog.jpg

for need in node "$python" /usr/bin/chromium; do
  command -v "$need" >/dev/null || { echo "FAIL missing $need (run tools/setup.sh)"; exit 1; }
done
[ -d "$repo/web/node_modules/playwright-core" ] || { echo "FAIL web/node_modules missing (run tools/setup.sh)"; exit 1; }
[ -f "$photo" ] || { echo "FAIL missing $photo (apt-get install darknet)"; exit 1; }

rm -rf "$work"
mkdir -p "$work"
work=$(realpath "$work")

# 3 labels x 12 coloured shapes, 48 px, on varied backgrounds (deterministic).
"$python" - "$work/data" <<'EOF'
import os, random, sys
from PIL import Image, ImageDraw
root = sys.argv[1]
rng = random.Random(1)
for label in ("circle", "square", "triangle"):
    os.makedirs(os.path.join(root, label), exist_ok=True)
    for i in range(12):
        bg = tuple(rng.randrange(0, 120) for _ in range(3))
        fg = tuple(rng.randrange(130, 256) for _ in range(3))
        im = Image.new("RGB", (48, 48), bg)
        d = ImageDraw.Draw(im)
        r = rng.randrange(12, 20)
        cx, cy = rng.randrange(r + 2, 46 - r), rng.randrange(r + 2, 46 - r)
        if label == "circle":
            d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fg)
        elif label == "square":
            d.rectangle([cx - r, cy - r, cx + r, cy + r], fill=fg)
        else:
            d.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=fg)
        im.save(os.path.join(root, label, f"{label}_{i:02d}.png"))
EOF

echo "== train"
"$ursa" train "$work/data" --arch resnet18 --size 32 --epochs 1 --valid-pct 0.25 --seed 1 --out "$work/run"
echo "== export"
"$ursa" export "$work/run" -o "$work/model.onnx"
echo "== web"
"$ursa" web --model "$work/model.onnx" --out "$work/site"
if grep -q "Cross-Origin-Embedder-Policy: require-corp" "$work/site/README.txt" &&
   grep -q "3 labels: circle, square, triangle" "$work/site/README.txt"; then
  echo "PASS site README.txt names the model and how to host it (threads headers)"
else
  echo "FAIL site README.txt missing or incomplete"; exit 1
fi
echo "== predict"
"$ursa" predict "$work/model.onnx" "$photo" --json > "$work/predict.json"
cat "$work/predict.json"

# A model without Ursa metadata, for the page's bring-your-own-model error
# (python3-onnx is installed by tools/setup.sh).
"$python" -c 'import onnx, sys; m = onnx.load(sys.argv[1]); del m.metadata_props[:]; onnx.save(m, sys.argv[2])' \
  "$work/model.onnx" "$work/no-metadata.onnx"
# A model whose ursa.input size (40x40) disagrees with its graph input (32x32), and one
# with other label names (same graph): bring-your-own models the page must refuse / show.
"$python" - "$work/model.onnx" "$work/wrong-size.onnx" "$work/relabelled.onnx" <<'EOF'
import json, onnx, sys
m = onnx.load(sys.argv[1])
props = {p.key: p for p in m.metadata_props}
spec = json.loads(props["ursa.input"].value)
assert spec["size"] == [32, 32], spec
spec["size"] = [40, 40]
props["ursa.input"].value = json.dumps(spec)
onnx.save(m, sys.argv[2])
m = onnx.load(sys.argv[1])
for p in m.metadata_props:
    if p.key == "ursa.labels":
        assert json.loads(p.value) == ["circle", "square", "triangle"], p.value
        p.value = json.dumps(["alpha", "beta", "gamma"])
onnx.save(m, sys.argv[3])
EOF
bad_model=(--bad-model "$work/no-metadata.onnx" --wrong-size-model "$work/wrong-size.onnx"
  --relabelled-model "$work/relabelled.onnx" --relabelled-labels alpha,beta,gamma --model-file "$work/model.onnx")

# One upload of several real photos, a truncated JPEG, a real text file and a lossless
# WebP (core leaves WebP to the browser's decoder) with its PNG twin (the same pixels):
# `ursa predict` gives the expected card of each (the WebP's through its twin).
proof="$work/proof"
mkdir -p "$proof"
cp "$repo/web/samples/eagle.jpg" "$repo/web/samples/giraffe.jpg" "$repo/web/samples/horses.jpg" \
  /usr/share/darknet/data/person.jpg /usr/share/darknet/data/kite.jpg "$repo/tests/fixtures/truncated.jpg" "$proof/"
printf 'Notes on the photos\n\nThese are not pictures, just words.\n' > "$proof/notes.txt"
"$python" - "$repo/web/samples/dog.jpg" "$proof/lossless.webp" "$proof/lossless.png" <<'EOF'
import sys
from PIL import Image
im = Image.open(sys.argv[1]).convert("RGB")
im = im.resize((160, round(160 * im.height / im.width)), Image.LANCZOS)
im.save(sys.argv[2], "WEBP", lossless=True)
im.save(sys.argv[3])
assert Image.open(sys.argv[2]).convert("RGB").tobytes() == im.tobytes()
EOF
# A JPEG with a corrupt scan header (Ss = 1 in a baseline SOS): core refuses it ("bad
# SOS"), Chromium's decoder only warns and shows it. The page must say error, as predict does.
"$python" - "$repo/web/samples/eagle.jpg" "$proof/bad-scan.jpg" <<'EOF'
import sys
d = bytearray(open(sys.argv[1], "rb").read())
sos = d.index(b"\xff\xda")
assert b"\xff\xc0" in d[:sos], "a baseline JPEG"
d[sos + 5 + 2 * d[sos + 4]] = 1  # spectral selection start: must be 0 in a baseline scan
open(sys.argv[2], "wb").write(bytes(d))
EOF
proof_status=0
"$ursa" predict "$work/model.onnx" "$proof"/* --json > "$work/proof.json" || proof_status=$?
cat "$work/proof.json"
if [ "$proof_status" -eq 1 ] && grep -q '"error"' "$work/proof.json"; then
  echo "PASS ursa predict on the proof set: exit status 1, the bad files reported, the rest classified"
else
  echo "FAIL ursa predict on the proof set: exit status $proof_status"; exit 1
fi
proof_args=(--proof-dir "$proof" --proof-json "$work/proof.json")

# The page's ?backend=ursa bindings (core's engine in wasm) under Node: the proof photos
# as ursa predict classified them, errors as objects, a swapped model's memory reused.
# Same wasm folder as `ursa web` uses (the CommonJS build beside the page's module).
echo "== core's engine in wasm (Node)"
wasm_dir=${URSA_WASM_DIR:-$repo/build/wasm/wasm}
[ -f "$wasm_dir/ursa_core_node.js" ] || { echo "FAIL missing $wasm_dir/ursa_core_node.js (wasm build)"; exit 1; }
node "$here/engine_node.cjs" "$wasm_dir" "$work/model.onnx" "$work/proof.json"

# The policy README.txt offers hosts (the page's <meta> must say the same).
csp=$(sed -n 's/^ *Content-Security-Policy: //p' "$work/site/README.txt")
[ -n "$csp" ] || { echo "FAIL site README.txt gives no Content-Security-Policy"; exit 1; }

# A new build to deploy while the page is open: the same model with another
# validation error in its metadata (so another model.onnx and another site version).
"$python" - "$work/model.onnx" "$work/model-v2.onnx" <<'EOF'
import onnx, sys
m = onnx.load(sys.argv[1])
for p in m.metadata_props:
    if p.key == "ursa.valid_error":
        p.value = "0.125"
onnx.save(m, sys.argv[2])
EOF
update_cmd="'$ursa' web --model '$work/model-v2.onnx' --out '$work/site' >/dev/null"

# A static server that sends COOP/COEP (threads) with every file, and the CSP too when
# given one: only when core's bindings need no run-time code (Emscripten's
# -sDYNAMIC_EXECUTION=0), as the policy then holds in the workers as well.
cat > "$work/serve_isolated.py" <<'EOF'
import functools, http.server, sys
port, directory, csp = int(sys.argv[1]), sys.argv[2], sys.argv[3]
class Handler(http.server.SimpleHTTPRequestHandler):
    def end_headers(self):
        self.send_header("Cross-Origin-Opener-Policy", "same-origin")
        self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
        if csp:
            self.send_header("Content-Security-Policy", csp)
        super().end_headers()
http.server.ThreadingHTTPServer(("127.0.0.1", port), functools.partial(Handler, directory=directory)).serve_forever()
EOF

# Serve the site on two free loopback ports: plain `python3 -m http.server`, and with headers.
free_port() { "$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }
port=$(free_port)
port2=$(free_port)
# core is linked with -sDYNAMIC_EXECUTION=0: its glue must not build code at run time.
if grep -q "new Function\|eval(" "$work/site/core/ursa_core.mjs" "$work/site/core/ursa_core_mt.mjs" \
    "$work/site/core/ursa_core_mt.worker.js"; then
  echo "FAIL core's bindings build functions at run time (new Function/eval): a CSP header would break the page"
  exit 1
fi
echo "PASS core's bindings need no eval, so the CSP also holds as a header (workers included)"
csp_header=$csp
header_csp=(--csp-header)
"$python" -m http.server "$port" --bind 127.0.0.1 --directory "$work/site" >"$work/http.log" 2>&1 &
server=$!
"$python" "$work/serve_isolated.py" "$port2" "$work/site" "$csp_header" >"$work/http-isolated.log" 2>&1 &
server2=$!
trap 'kill "$server" "$server2" 2>/dev/null || true; wait "$server" "$server2" 2>/dev/null || true' EXIT
"$python" - "$port" "$port2" <<'EOF'
import sys, time, urllib.request
for port in sys.argv[1:]:
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1).read(); break
        except OSError:
            time.sleep(0.1)
    else:
        sys.exit("http server did not start")
EOF

echo "== browser"
status=0
node "$here/e2e.mjs" --site "http://127.0.0.1:$port/" --photo "$photo" --expect-json "$work/predict.json" \
  --labels circle,square,triangle --screenshot "$work/page.png" --offline "${bad_model[@]}" \
  "${proof_args[@]}" --batch 200 --csp "$csp" --isolated-site "http://127.0.0.1:$port2/" "${header_csp[@]}" \
  --update-cmd "$update_cmd" --update-expect "validation error 12.5%" || status=$?

# The servers' own logs: every request the browser made was a GET (or HEAD), none with data.
others=$(cat "$work/http.log" "$work/http-isolated.log" | grep -E '"[A-Z]+ ' | grep -vE '"(GET|HEAD) ' || true)
if [ -z "$others" ] && grep -q '"GET /model.onnx' "$work/http.log"; then
  echo "PASS servers saw only GET/HEAD requests ($(grep -cE '"(GET|HEAD) ' "$work/http.log") on the plain server)"
else
  echo "FAIL servers saw requests other than GET/HEAD: $others"; status=1
fi
exit "$status"
