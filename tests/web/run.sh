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
bad_model=(--bad-model "$work/no-metadata.onnx" --model-file "$work/model.onnx")

# Serve the site on a free loopback port.
port=$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
"$python" -m http.server "$port" --bind 127.0.0.1 --directory "$work/site" >"$work/http.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true' EXIT
"$python" - "$port" <<'EOF'
import sys, time, urllib.request
for _ in range(100):
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/", timeout=1).read(); sys.exit(0)
    except OSError:
        time.sleep(0.1)
sys.exit("http server did not start")
EOF

echo "== browser"
status=0
node "$here/e2e.mjs" --site "http://127.0.0.1:$port/" --photo "$photo" --expect-json "$work/predict.json" \
  --labels circle,square,triangle --screenshot "$work/page.png" --offline "${bad_model[@]}" || status=$?
exit "$status"
