#!/usr/bin/env bash
# Benchmark: the training loader alone (decode + RandomResizedCrop + aug_transforms +
# normalise, batch 64, no model) — Ursa (build/native/bin/ursa_bench_loader) vs
# torchvision ImageFolder + DataLoader(num_workers=2) — side by side in one run on the
# same folder of JPEG photos.
# usage: bench/loader_vs_torchvision.sh [DATA_DIR] [SIZE] [EPOCHS]
#   DATA_DIR: <label>/*.jpg folders; default: 1,000 photos of 500x375 made from the
#   darknet package's photos (random crops, flips and scales, JPEG quality 90) in
#   build/bench/loader-photos. SIZE default 128, EPOCHS default 3.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
data="${1:-$root/build/bench/loader-photos}"
size="${2:-128}"
epochs="${3:-3}"
bin="$root/build/native/bench/ursa_bench_loader"
[ -x "$bin" ] || { echo "build first: cmake --build --preset native (no $bin)" >&2; exit 2; }
if [ -z "${1:-}" ] && [ ! -f "$data/.complete" ]; then
  echo "== making 1,000 test photos in $data"
  rm -rf "$data" && mkdir -p "$data"
  /usr/bin/python3 "$root/bench/make_photos.py" "$data" 1000
  touch "$data/.complete"
fi
echo "== Ursa: $(nproc) threads, size $size, $epochs epochs"
"$bin" "$data" --size "$size" --epochs "$epochs"
echo "== torchvision $(/usr/bin/python3 -c 'import torchvision; print(torchvision.__version__)'), 2 workers"
/usr/bin/python3 "$root/bench/loader_torchvision.py" "$data" --size "$size" --epochs "$epochs" --workers 2
