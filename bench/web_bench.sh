#!/usr/bin/env bash
# Benchmark: Ursa's page in Chromium next to the usual ONNX Runtime Web page (issue 7).
# Times navigation → #status[data-state=ready] cold (new browser context) and warm (second
# visit: service worker / HTTP cache), the latency of one 12 MP JPEG (input#files change →
# .result[data-label]; the first photo separately) and the bytes the server sent per load,
# on a plain static host and on one that sends COOP/COEP (threads). Results: a table here,
# written up in BENCHMARKS.md.
#
# usage: bash bench/web_bench.sh [URSA_BIN [WORKDIR]]
#   URSA_BIN  default build/native/bin/ursa (after tools/setup.sh and the native build;
#             `ursa web` also needs the wasm build, build/wasm/wasm/ursa_core.{mjs,wasm})
#   WORKDIR   default build/web-bench (kept: model, photo, sites, results.json)
#   RUNS=5    cold+warm loads per page (medians)      PHOTOS=5  photos after the first one
#   PAGES="ursa ort-baseline ursa-isolated ort-baseline-isolated"  which pages to time
#
# The model is a ResNet-18 at 224×224 trained for one epoch on 8 generated images: its
# weights are meaningless, only its shape (and so its size and compute) is a real
# classifier's. The photo is darknet's dog.jpg upscaled to 4000×3000 with mild noise.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ursa=$(realpath "${1:-$root/build/native/bin/ursa}")
work=${2:-$root/build/web-bench}
python=/usr/bin/python3
runs=${RUNS:-5}
photos=${PHOTOS:-5}
pages=${PAGES:-ursa ort-baseline ursa-isolated ort-baseline-isolated}
ort_dist="$root/web/node_modules/onnxruntime-web/dist"

for need in node "$python" /usr/bin/chromium "$ursa"; do
  command -v "$need" >/dev/null || { echo "web_bench: missing $need (tools/setup.sh, native build)" >&2; exit 1; }
done
[ -d "$root/web/node_modules/playwright-core" ] || { echo "web_bench: web/node_modules missing (run tools/setup.sh)" >&2; exit 1; }
mkdir -p "$work"
work=$(realpath "$work")

# A ResNet-18-shaped 224 px model (see above).
if [ ! -f "$work/model.onnx" ]; then
  rm -rf "$work/data" "$work/run"
  "$python" "$root/bench/make_shapes.py" "$work/data"
  echo "== train (ResNet-18, 224 px, 1 epoch on 8 images: timing only, not accuracy)"
  "$ursa" train "$work/data" --arch resnet18 --size 224 --epochs 1 --bs 4 --valid-pct 0.25 --seed 1 --no-aug \
    --out "$work/run" | tail -n 2
  "$ursa" export "$work/run" -o "$work/model.onnx.tmp"
  mv "$work/model.onnx.tmp" "$work/model.onnx"
fi

# A 12 MP photo-like JPEG.
photo="$work/photo_12mp.jpg"
if [ ! -f "$photo" ]; then
  "$python" - "$photo" <<'PY'
import sys, numpy as np
from PIL import Image
im = Image.open("/usr/share/darknet/data/dog.jpg").convert("RGB").resize((4000, 3000), Image.LANCZOS)
rng = np.random.default_rng(0)
a = np.asarray(im).astype(np.int16) + rng.normal(0, 8, size=(3000, 4000, 3)).astype(np.int16)
Image.fromarray(np.clip(a, 0, 255).astype(np.uint8)).save(sys.argv[1] + ".tmp.jpg", quality=90)
PY
  mv "$photo.tmp.jpg" "$photo"
fi

echo "== sites"
rm -rf "$work/site" "$work/ort-site"
"$ursa" web --model "$work/model.onnx" --out "$work/site" >/dev/null
mkdir -p "$work/ort-site/ort"
cp "$root/bench/ort_baseline/index.html" "$root/bench/ort_baseline/main.js" "$work/model.onnx" "$work/ort-site/"
cp "$ort_dist/ort.wasm.min.mjs" "$ort_dist/ort-wasm-simd-threaded.mjs" "$ort_dist/ort-wasm-simd-threaded.wasm" "$work/ort-site/ort/"
# What a typical app hard-codes: labels, input size, mean/std (here from the model's metadata).
"$python" - "$work/model.onnx" "$work/ort-site/labels.json" <<'PY'
import json, onnx, sys
meta = {p.key: json.loads(p.value) for p in onnx.load(sys.argv[1], load_external_data=False).metadata_props
        if p.key in ("ursa.labels", "ursa.input")}
inp = meta["ursa.input"]
json.dump({"labels": meta["ursa.labels"], "size": inp["size"], "mean": inp["mean"], "std": inp["std"]}, open(sys.argv[2], "w"))
PY

free_port() { "$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }
servers=()
trap 'for p in "${servers[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true' EXIT
page_args=()
for name in $pages; do
  case $name in
    ursa) dir=site; flag= ;;
    ursa-isolated) dir=site; flag=--isolated ;;
    ort-baseline) dir=ort-site; flag= ;;
    ort-baseline-isolated) dir=ort-site; flag=--isolated ;;
    *) echo "web_bench: unknown page $name" >&2; exit 2 ;;
  esac
  port=$(free_port)
  "$python" "$root/bench/web_bench_serve.py" "$port" "$work/$dir" $flag &
  servers+=($!)
  page_args+=(--page "$name=http://127.0.0.1:$port/,http://127.0.0.1:$port/__bench__/bytes")
  for _ in $(seq 100); do
    "$python" -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/__bench__/bytes', timeout=1)" 2>/dev/null && break
    sleep 0.1
  done
done

echo "== source: $(git -C "$root" describe --always --dirty 2>/dev/null || echo unknown) ($(git -C "$root" status --porcelain -- web 2>/dev/null | wc -l) changed files under web/)"
echo "== machine: $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1), load:$(uptime | sed 's/.*load average://')"
echo "== model: $(du -k "$work/model.onnx" | cut -f1) kB ResNet-18 224 px; photo: $(du -k "$photo" | cut -f1) kB 4000x3000"
node "$root/bench/web_bench.mjs" --photo "$photo" --runs "$runs" --photos "$photos" --json "$work/results.json" "${page_args[@]}"
echo "== load after: $(uptime | sed 's/.*load average://')"
