#!/usr/bin/env bash
# Benchmark (issue 6): core's own inference engine next to the runtimes it stands in for,
# ResNet-18 at 128 and 224 px, batch 1, on one thread and on all cores, side by side in one run:
#   wasm    core's engine in core's wasm build (the page's ?backend=ursa) vs ONNX Runtime
#           Web's wasm backend (the page's default), both under Node (bench/engine_bench_node.mjs)
#   native  core's engine (as `ursa predict` runs it) vs libtorch on the run's model
#           (bench/bench_engine.cpp, ursa_bench_engine)
# and the download size of each .wasm (raw and gzip -9), with its JS glue. Prints a table.
#
# usage: bash bench/engine_bench.sh [URSA_BIN [WORKDIR]]
#   URSA_BIN   default build/native/bin/ursa (native build; ursa_bench_engine beside it in
#              build/native/bench); the wasm build gives build/wasm/wasm/ursa_core_node.{js,wasm}
#   WORKDIR    default build/engine-bench (kept: data, runs, models, results.jsonl)
#   RUNS=20    timed runs per measurement (median), after WARMUP=3
#   ROUNDS=3   measurements of each program, interleaved; the table shows their median
#   SIZES="128 224"
#   THREADS="1 $(nproc)"  thread counts to measure (each runtime gets the same count; the
#              engine in wasm then runs from core's pthreads build, ursa_core_mt_node)
#   URSA_BENCH_LOCK=FILE  hold this flock(1) lock while timing (not while training the
#              models), so that parallel builds in a shared tree do not disturb the timings
#
# The models are ResNet-18s trained for one epoch on 12 generated images: their weights
# are meaningless, only their shape (and so their size and compute) is a real classifier's.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ursa=$(realpath "${1:-$root/build/native/bin/ursa}")
work=${2:-$root/build/engine-bench}
python=/usr/bin/python3
runs=${RUNS:-20}
warmup=${WARMUP:-3}
rounds=${ROUNDS:-3}
sizes=${SIZES:-128 224}
threads_list=${THREADS:-1 $(nproc)}
wasm_dir=${URSA_WASM_DIR:-$root/build/wasm/wasm}
bench_engine=${URSA_BENCH_ENGINE:-$(dirname "$(dirname "$ursa")")/bench/ursa_bench_engine}
ort_dist="$root/web/node_modules/onnxruntime-web/dist"

for need in node "$python" gzip "$ursa" "$bench_engine" "$wasm_dir/ursa_core_node.js" "$wasm_dir/ursa_core.wasm" "$wasm_dir/ursa_core_mt_node.js" \
  "$ort_dist/ort-wasm-simd-threaded.wasm"; do
  command -v "$need" >/dev/null || [ -f "$need" ] || {
    echo "engine_bench: missing $need (tools/setup.sh; native build with ursa_bench_engine; wasm build)" >&2; exit 1; }
done
mkdir -p "$work"
work=$(realpath "$work")

# 2 labels x 6 generated 224 px images, then one ResNet-18 per size.
if [ ! -d "$work/data" ]; then
  "$python" "$root/bench/make_shapes.py" "$work/data.tmp"
  mv "$work/data.tmp" "$work/data"
fi
for size in $sizes; do
  [ -f "$work/model-$size.onnx" ] && continue
  echo "== train + export ResNet-18 at $size px (1 epoch on 12 images: timing only, not accuracy)"
  rm -rf "$work/run-$size"
  "$ursa" train "$work/data" --arch resnet18 --size "$size" --epochs 1 --bs 4 --valid-pct 0.25 --seed 1 --no-aug \
    --out "$work/run-$size" | tail -n 1
  "$ursa" export "$work/run-$size" -o "$work/model-$size.onnx.tmp" >/dev/null
  mv "$work/model-$size.onnx.tmp" "$work/model-$size.onnx"
done

measure() {
  : > "$work/results.jsonl"
  for threads in $threads_list; do
  for size in $sizes; do
    model="$work/model-$size.onnx"
    for round in $(seq 1 "$rounds"); do
      # Alternate the order, so that no program always runs first (or after the same one).
      order="ursa ort native"
      [ $((round % 2)) -eq 0 ] && order="native ort ursa"
      for what in $order; do
        case $what in
          ursa|ort) line=$(node "$root/bench/engine_bench_node.mjs" "$what" "$model" "$wasm_dir" "$runs" "$warmup" "$threads") ;;
          native) line=$("$bench_engine" "$work/run-$size" "$model" --runs "$runs" --warmup "$warmup" --threads "$threads") ;;
        esac
        echo "$line" | sed "s/^{/{\"what\":\"$what\",\"round\":$round,/" >> "$work/results.jsonl"
        echo "  $size px, $threads thread(s), round $round, $what: $line"
      done
    done
  done
  done
}
echo "== timing: sizes $sizes, threads $threads_list, $rounds rounds x $runs runs (after $warmup warm-up runs), batch 1"
if [ -n "${URSA_BENCH_LOCK:-}" ]; then
  export -f measure
  export work sizes threads_list rounds runs warmup root wasm_dir bench_engine
  flock "$URSA_BENCH_LOCK" bash -c measure
else
  measure
fi

"$python" - "$work/results.jsonl" "$wasm_dir" "$ort_dist" <<'PY'
import gzip, json, os, statistics, sys
results, wasm_dir, ort_dist = sys.argv[1:4]
rows = [json.loads(l) for l in open(results) if l.strip()]
def med(what, key, size, threads):
    v = [r[key] for r in rows if r["what"] == what and r["size"][0] == size and r.get("threads", 1) == threads]
    return statistics.median(v) if v else float("nan")
sizes = sorted({r["size"][0] for r in rows})
thread_counts = sorted({r.get("threads", 1) for r in rows})
for t in thread_counts:
    print()
    print(f"ResNet-18, batch 1, {t} thread{'s' if t > 1 else ''}: median ms per image (median of the rounds' medians)")
    print(f"{'size':>5} | {'engine wasm':>11} | {'ORT Web wasm':>12} | {'wasm ratio':>10} | {'engine native':>13} | {'libtorch':>8} | {'native ratio':>12} | max |Δlogit|")
    print("-" * 104)
    for s in sizes:
        uw, ow = med("ursa", "median_ms", s, t), med("ort", "median_ms", s, t)
        un, tn = med("native", "engine_ms", s, t), med("native", "torch_ms", s, t)
        diff = max(r["max_abs_diff"] for r in rows if r["what"] == "native" and r["size"][0] == s)
        print(f"{s:>5} | {uw:>11.1f} | {ow:>12.1f} | {uw / ow:>9.2f}x | {un:>13.1f} | {tn:>8.1f} | {un / tn:>11.2f}x | {diff:.1e}")
    def spread(what, key, size):
        v = sorted(r[key] for r in rows if r["what"] == what and r["size"][0] == size and r.get("threads", 1) == t)
        return f"{v[0]:.0f}-{v[-1]:.0f}" if v else "-"
    def best(what, size):
        return min(r["min_ms"] for r in rows if r["what"] == what and r["size"][0] == size and r.get("threads", 1) == t)
    for s in sizes:
        print(f"  {s} px, the rounds' medians: engine wasm {spread('ursa', 'median_ms', s)}, ORT Web {spread('ort', 'median_ms', s)}, "
              f"engine native {spread('native', 'engine_ms', s)}, libtorch {spread('native', 'torch_ms', s)} ms; "
              f"best single run: engine wasm {best('ursa', s):.0f}, ORT Web {best('ort', s):.0f} ms")
print("(ratio = core's engine time / the other runtime's time: below 1 means the engine is faster)")
print()
print("Model open (load + plan) and first run under Node, ms (median of rounds)")
for s in sizes:
    print(f"  {s} px, 1 thread: engine wasm load {med('ursa', 'load_ms', s, 1):.0f}, first run {med('ursa', 'first_ms', s, 1):.0f}; "
          f"ORT Web session create {med('ort', 'load_ms', s, 1):.0f}, first run {med('ort', 'first_ms', s, 1):.0f}")
print()
def size_of(path):
    data = open(path, "rb").read()
    return len(data), len(gzip.compress(data, 9))
print("Download size (bytes; gzip -9)")
files = [("core.wasm (decode + preprocess + engine)", os.path.join(wasm_dir, "ursa_core.wasm")),
         ("core JS glue ursa_core.mjs", os.path.join(wasm_dir, "ursa_core.mjs")),
         ("core's pthreads build ursa_core_mt.wasm", os.path.join(wasm_dir, "ursa_core_mt.wasm")),
         ("its JS glue ursa_core_mt.mjs + ursa_core_mt.worker.js", [os.path.join(wasm_dir, "ursa_core_mt.mjs"),
                                                                 os.path.join(wasm_dir, "ursa_core_mt.worker.js")]),
         ("ORT Web ort-wasm-simd-threaded.wasm", os.path.join(ort_dist, "ort-wasm-simd-threaded.wasm")),
         ("ORT Web JS ort.wasm.min.mjs + ort-wasm-simd-threaded.mjs", [os.path.join(ort_dist, "ort.wasm.min.mjs"),
                                                                    os.path.join(ort_dist, "ort-wasm-simd-threaded.mjs")])]
sized = {}
for name, path in files:
    paths = path if isinstance(path, list) else [path]
    raw = sum(size_of(p)[0] for p in paths)
    gz = sum(size_of(p)[1] for p in paths)
    sized[name] = (raw, gz)
    print(f"  {name:<60} {raw:>10,} raw {gz:>10,} gzip")
core, ort = sized[files[0][0]], sized[files[4][0]]
print(f"  core.wasm / ORT's wasm: {core[0] / ort[0]:.3f} raw, {core[1] / ort[1]:.3f} gzip")
PY
