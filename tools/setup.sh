#!/usr/bin/env bash
# Installs everything Ursa needs to build, test and demo: Debian packages and the
# npm dependencies of web/ (from the lockfile). Idempotent: a second run is quick.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

packages=(
  build-essential cmake ninja-build pkg-config git ca-certificates
  # core + tests
  libstb-dev doctest-dev zlib1g-dev
  # fuzzing core (libFuzzer)
  clang libclang-rt-14-dev
  # trainer and CLI (libgloo-dev: the headers of c10d's Gloo process group, for data-parallel training)
  libtorch-dev libgloo-dev libcli11-dev nlohmann-json3-dev libfmt-dev
  # OpenBLAS (OpenMP build, libtorch's runtime) as the system libblas.so.3: libtorch's fp32
  # matrix products then run at sgemm speed instead of the reference BLAS's (the fp32
  # matmul convolutions rely on it; without it they stay with oneDNN)
  libopenblas0-openmp
  libonnx-dev libprotobuf-dev protobuf-compiler libcurl4-openssl-dev libssl-dev libcpp-httplib-dev
  # wasm build and its Node runtime
  emscripten nodejs
  # browser end-to-end tests
  chromium
  # data: Fashion-MNIST (demo) and real photos (tests)
  dataset-fashion-mnist darknet
  # references for parity tests (not needed by the product)
  python3 python3-pil python3-numpy python3-onnx python3-torch python3-torchvision libonnx-testdata
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup: all Debian packages present"
fi

if [ -f "$root/web/package-lock.json" ]; then
  if [ ! -d "$root/web/node_modules" ] || [ "$root/web/package-lock.json" -nt "$root/web/node_modules/.package-lock.json" ]; then
    echo "setup: npm ci in web/"
    (cd "$root/web" && npm ci --no-audit --no-fund --loglevel=error)
  fi
fi
echo "setup: done"
