#!/usr/bin/env bash
# Benchmark: training throughput of `ursa train` vs PyTorch from Python (the peer
# ../shared/peers/torch_train_bench.py: torchvision resnet18, ImageFolder, DataLoader
# with 2 workers, AdamW), side by side in one run, on the same Fashion-MNIST PNG folder.
# usage: bench/train_vs_torch.sh [DATA_DIR] [SIZE]
#   DATA_DIR: <label>/*.png folders (default: demo-out/fashion-mnist/train, from tools/demo.sh
#   or `ursa import-mnist --out demo-out/fashion-mnist`); SIZE default 64.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
data="${1:-$root/demo-out/fashion-mnist/train}"
size="${2:-64}"
steps=60
bs=64
peer="$root/../shared/peers/torch_train_bench.py"
[ -f "$peer" ] || peer="${URSA_PEERS:-/work/shared/peers}/torch_train_bench.py"
ursa="$root/build/native/bin/ursa"
work="$root/build/bench/train"
mkdir -p "$work"

# Ursa: the same number of optimizer steps on a random subset, 1 epoch, tiny validation.
rm -rf "$work/ds" && mkdir -p "$work/ds/train" "$work/ds/valid"
for d in "$data"/*/; do
  label=$(basename "$d")
  ln -s "$d" "$work/ds/train/$label"
  mkdir -p "$work/ds/valid/$label"
  files=("$d"*.png)
  for f in "${files[@]:0:2}"; do ln -sf "$f" "$work/ds/valid/$label/"; done
done
echo "== ursa train (fp32, channels-last), size $size, bs $bs, $steps steps"
"$ursa" train "$work/ds" --arch resnet18 --size "$size" --resize-method squish --epochs 1 --bs "$bs" \
  --limit-train $(((steps + 1) * bs)) --out "$work/run" 2>/dev/null | grep "images/s"
# (--amp, bf16 autocast, is left out: with Debian's torch 1.13 it runs at a fraction of
# fp32's speed on this CPU, see BENCHMARKS.md.)
for flags in "" "--cl"; do
  echo "== PyTorch $flags"
  /usr/bin/python3 "$peer" "$data" --size "$size" --steps "$steps" --bs "$bs" $flags
done
