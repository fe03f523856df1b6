// Benchmark (not a test): one image through the classifier under Node, batch 1, on
// THREADS threads (1 by default), with either runtime the page can use:
//   ursa  core's own engine in core's wasm build (ursa_core_node.js/.wasm: the page's
//         bindings, loadEngine + Engine.run, compiled with -msimd128); with THREADS > 1
//         core's pthreads build (ursa_core_mt_node: a pool of THREADS - 1 workers), as an
//         isolated page runs it
//   ort   ONNX Runtime Web's wasm backend (web/node_modules/onnxruntime-web: the same
//         ort-wasm-simd-threaded.wasm the page ships), numThreads THREADS, the page's options
// usage: node bench/engine_bench_node.mjs ursa|ort MODEL.onnx WASM_DIR [RUNS] [WARMUP] [THREADS]
// Prints one JSON line: {"runtime":…, "size":[H,W], "load_ms":…, "first_ms":…, "median_ms":…, "min_ms":…, "threads":…}.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const webDir = join(here, '..', 'web');
const require = createRequire(join(webDir, 'package.json'));
const [runtime, modelPath, wasmDir, runsArg = '20', warmupArg = '3', threadsArg = '1'] = process.argv.slice(2);
if (!['ursa', 'ort'].includes(runtime) || !modelPath || !wasmDir) {
  console.error('usage: node bench/engine_bench_node.mjs ursa|ort MODEL.onnx WASM_DIR [RUNS] [WARMUP] [THREADS]');
  process.exit(2);
}
const runs = Math.max(1, Number(runsArg));
const warmup = Math.max(0, Number(warmupArg));
const threads = Math.max(1, Number(threadsArg));
const bytes = new Uint8Array(readFileSync(modelPath));
const now = () => Number(process.hrtime.bigint()) / 1e6;

// Ursa's metadata gives the input size (core.modelInfo, as the page reads it).
const build = runtime === 'ursa' && threads > 1 ? 'ursa_core_mt_node' : 'ursa_core_node';
const factory = require(resolve(wasmDir, `${build}.js`));
const core = await factory({ wasmBinary: readFileSync(resolve(wasmDir, `${build}.wasm`)),
  ...(build === 'ursa_core_mt_node' ? { ursaPoolSize: threads - 1 } : {}) });
if (runtime === 'ursa' && core.setEngineThreads(threads) !== threads) throw new Error(`could not start ${threads} threads`);
const info = JSON.parse(core.modelInfo(bytes));
if (info.error) throw new Error(info.error);
const [h, w] = info.input.size;
const x = new Float32Array(3 * h * w);
for (let i = 0; i < x.length; i++) x[i] = Math.sin(i * 0.37);  // deterministic, not all zeros

let run;
const t0 = now();
if (runtime === 'ursa') {
  const loaded = core.loadEngine(bytes);
  if (loaded.error) throw new Error(loaded.error);
  run = async () => {
    const out = loaded.engine.run(x, [1, 3, h, w]);
    if (out.error) throw new Error(out.error);
    return out.logits;
  };
} else {
  const ort = require('onnxruntime-web');
  ort.env.wasm.numThreads = threads;
  ort.env.wasm.wasmPaths = `${join(webDir, 'node_modules', 'onnxruntime-web', 'dist')}/`;
  ort.env.logLevel = 'error';
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
  const [input] = session.inputNames;
  const output = session.outputNames.includes('logits') ? 'logits' : session.outputNames[0];
  run = async () => {
    const outputs = await session.run({ [input]: new ort.Tensor('float32', x, [1, 3, h, w]) });
    return outputs[output].data;
  };
}
const loadMs = now() - t0;
let t = now();
await run();
const firstMs = now() - t;
for (let i = 1; i < warmup; i++) await run();
const ms = [];
for (let i = 0; i < runs; i++) {
  t = now();
  await run();
  ms.push(now() - t);
}
ms.sort((a, b) => a - b);
const round = (v) => Math.round(v * 100) / 100;
console.log(JSON.stringify({ runtime, size: [h, w], load_ms: round(loadMs), first_ms: round(firstMs),
  median_ms: round(ms[ms.length >> 1]), min_ms: round(ms[0]), runs, threads, node: process.version }));
process.exit(0);  // the pthreads build's workers would keep Node alive
