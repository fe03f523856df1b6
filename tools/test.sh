#!/usr/bin/env bash
# Set up, build the presets (native, wasm, fuzz), run every test: core natively and
# under Node, trainer, CLI, the page in Chromium, and core's fuzzers from a fixed
# seed, bounded in inputs and time. Exits non-zero on any failure; the last line is "tests: N passed, N failed".
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

"$root/tools/setup.sh"
export NODE_PATH=/usr/share/nodejs

echo "== build: wasm"
cmake --preset wasm >/dev/null
cmake --build --preset wasm
echo "== build: fuzz (clang, libFuzzer + ASan/UBSan)"
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz
echo "== build: native"
cmake --preset native >/dev/null
cmake --build --preset native

passed=0
failed=0
run_ctest() {
  local preset=$1 log
  log=$(mktemp)
  set +e
  ctest --preset "$preset" 2>&1 | tee "$log"
  set -e
  local line total bad
  line=$(grep -E "tests passed, [0-9]+ tests? failed out of [0-9]+" "$log" | tail -n 1 || true)
  rm -f "$log"
  if [ -z "$line" ]; then
    echo "test.sh: ctest --preset $preset printed no summary" >&2
    failed=$((failed + 1))
    return
  fi
  bad=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$line")
  total=$(sed -E 's/.* failed out of ([0-9]+).*/\1/' <<<"$line")
  passed=$((passed + total - bad))
  failed=$((failed + bad))
}
echo "== test: wasm (core under Node)"
run_ctest wasm
echo "== test: native (core, trainer, CLI, browser)"
run_ctest native
echo "== test: fuzz (seed 1, up to 100,000 inputs or 150 s each; tests/fuzz/CMakeLists.txt says how to fuzz longer)"
run_ctest fuzz

echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
