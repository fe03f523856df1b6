#!/usr/bin/env bash
# Benchmark: a 12-megapixel JPEG → 224×224 model input, side by side in one run:
# core natively, core's wasm build under Node, and Pillow + numpy (the fastai way).
# usage: bench/preprocess.sh   (after cmake --build --preset native and --preset wasm)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$root/build/bench"
mkdir -p "$work"
img="$work/photo_12mp.jpg"
if [ ! -f "$img" ]; then
  /usr/bin/python3 - "$img" <<'PY'
import sys, numpy as np
from PIL import Image
rng = np.random.default_rng(0)
w, h = 4000, 3000
y, x = np.mgrid[0:h, 0:w]
base = np.stack([(x * 255 // w), (y * 255 // h), ((x + y) * 255 // (w + h))], -1).astype(np.int16)
noise = rng.integers(-20, 20, size=(h, w, 3))
Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8)).save(sys.argv[1], quality=90)
PY
fi
runs=${RUNS:-10}
echo "input: $img ($(du -h "$img" | cut -f1), 4000x3000), output 224x224 crop, $runs runs each"
"$root/build/native/bench/ursa_bench_preprocess" "$img" --size 224 --method crop --runs "$runs"
node --no-experimental-fetch "$root/bench/bench_preprocess_wasm.cjs" "$root/build/wasm/wasm" "$img" 224 "$runs"
/usr/bin/python3 "$root/bench/bench_preprocess_pillow.py" "$img" 224 "$runs"
