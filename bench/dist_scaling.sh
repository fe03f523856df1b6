#!/usr/bin/env bash
# Benchmark: data-parallel `ursa train` scaling on one machine, 1 process (all cores)
# vs --nproc 2 (half the cores each), same global batch, side by side in one run.
# usage: bench/dist_scaling.sh [DATA_DIR] [SIZE] [ARCH]
#   DATA_DIR: <label>/*.jpg folders; default: the 1,000 photos of
#   bench/make_photos.py in build/bench/loader-photos. SIZE default 64, ARCH resnet18.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
data="${1:-$root/build/bench/loader-photos}"
size="${2:-64}"
arch="${3:-resnet18}"
ursa="$root/build/native/bin/ursa"
work="$root/build/bench/dist"
if [ -z "${1:-}" ] && [ ! -f "$data/.complete" ]; then
  mkdir -p "$data" && /usr/bin/python3 "$root/bench/make_photos.py" "$data" 1000 && touch "$data/.complete"
fi
rm -rf "$work" && mkdir -p "$work"
common=(train "$data" --arch "$arch" --size "$size" --epochs 2 --seed 1)
echo "== 1 process, $(nproc) threads, batch 64"
"$ursa" "${common[@]}" --bs 64 --out "$work/one" 2>/dev/null | grep -E "^[0-9]|images/s"
echo "== 2 processes (--nproc 2), batch 32 each"
"$ursa" "${common[@]}" --bs 32 --nproc 2 --out "$work/two" 2>/dev/null | grep -E "^[0-9]|images/s"
