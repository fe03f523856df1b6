#!/usr/bin/env bash
# Benchmark: training throughput of `ursa train` vs PyTorch from Python (the peer
# ../shared/peers/torch_train_bench.py: torchvision resnet18, ImageFolder, DataLoader
# with 2 workers, AdamW), side by side in one run, on the same Fashion-MNIST PNG folder.
# usage: bench/train_vs_torch.sh [DATA_DIR] [SIZE]   (environment: STEPS, default 30; AMP_STEPS, default STEPS)
#   DATA_DIR: <label>/*.png folders (default: demo-out/fashion-mnist/train, from tools/demo.sh
#   or `ursa import-mnist --out demo-out/fashion-mnist`); SIZE default 128 (issue 5's setting).
# Each program's peak RSS is measured with /usr/bin/time.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
data="$(realpath "${1:-$root/demo-out/fashion-mnist/train}")"
size="${2:-128}"
steps="${STEPS:-30}"
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
rss() { /usr/bin/time -f "peak RSS %M KiB" -o "$work/rss" "$@"; cat "$work/rss"; }
# Ursa in both precisions (channels-last either way): fp32, and bf16 autocast, which
# `--precision auto` (the default) picks on CPUs with AMX/AVX512-bf16, with its small-map
# convolutions as matrix products (the default) and without (--no-matmul-convs). On CPUs
# without native bf16 (emulated there, an order of magnitude slower) fp32 both ways instead.
if grep -m1 '^flags' /proc/cpuinfo | grep -qwE 'avx512_bf16|amx_bf16'; then
  precisions=("fp32" "bf16" "bf16 --no-matmul-convs")
else
  precisions=("fp32" "fp32 --no-matmul-convs")
fi
for precision in "${precisions[@]}"; do
  echo "== ursa train --precision $precision (channels-last), size $size, bs $bs, $steps steps"
  # shellcheck disable=SC2086  # the flags split on purpose
  rss "$ursa" train "$work/ds" --arch resnet18 --size "$size" --resize-method squish --epochs 1 --bs "$bs" \
    --precision $precision --limit-train $(((steps + 1) * bs)) --out "$work/run" 2>/dev/null | grep -E "images/s|peak RSS"
done
# The peer's settings: fp32 NCHW, channels-last, and its best on CPUs with AMX/AVX512-bf16,
# bf16 autocast + channels-last (--amp --cl; slow where bf16 is emulated).
# AMP_STEPS (default: STEPS) can shorten the bf16 run, which is several times slower on
# CPUs without native bf16.
for flags in "" "--cl" "--amp --cl"; do
  n=$steps; [ "$flags" = "--amp --cl" ] && n="${AMP_STEPS:-$steps}"
  echo "== PyTorch $flags ($n steps)"
  rss /usr/bin/python3 "$peer" "$data" --size "$size" --steps "$n" --bs "$bs" $flags
done
