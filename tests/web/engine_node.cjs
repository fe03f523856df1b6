// Core's engine through the page's bindings (loadEngine / Engine.run / .delete), in the
// wasm build under Node: the same photos give `ursa predict --json`'s label and
// probability, errors are {error} objects with readable messages, and a replaced model's
// memory is reused (wasm memory stops growing however often the model is swapped).
// All of it twice: the single-thread build (the page's default) and the pthreads build
// (ursa_core_mt_node, as an isolated page runs it: a pool of 1 worker, 2 threads), whose
// logits must equal the single-thread build's bit for bit.
//
// usage: node engine_node.cjs WASM_DIR MODEL.onnx PREDICT_JSON
//   WASM_DIR holds ursa_core_node.js/.wasm and ursa_core_mt_node.js/.wasm/.worker.js (the
//   CommonJS builds of the page's bindings);
//   PREDICT_JSON is `ursa predict MODEL FILES... --json` (its files are read again here).
// One PASS/FAIL line per check; exit status 1 when any fails, 2 on a usage error.
const fs = require('fs');
const path = require('path');

const [wasmDir, modelPath, predictJson] = process.argv.slice(2);
if (!predictJson) {
  console.error('usage: node engine_node.cjs WASM_DIR MODEL.onnx PREDICT_JSON');
  process.exit(2);
}

let failed = 0;
let prefix = '';
function check(name, ok, detail = '') {
  console.log(`${ok ? 'PASS' : 'FAIL'} wasm engine${prefix}: ${name}${detail ? ` — ${detail}` : ''}`);
  if (!ok) failed++;
  return ok;
}

// Runs the checks on one build; returns the logits of every photo (null when it failed early).
async function checkBuild(name, threads) {
  prefix = threads > 1 ? ` (pthreads build, ${threads} threads)` : '';
  const factory = require(path.resolve(wasmDir, `${name}.js`));
  const core = await factory({ wasmBinary: fs.readFileSync(path.resolve(wasmDir, `${name}.wasm`)),
    ...(threads > 1 ? { ursaPoolSize: threads - 1 } : {}) });
  const got = core.setEngineThreads(threads);
  if (!check(`setEngineThreads(${threads}) gives ${threads}`, got === threads && core.engineThreads() === threads,
    `${got}`)) return null;
  const bytes = new Uint8Array(fs.readFileSync(modelPath));
  const info = JSON.parse(core.modelInfo(bytes));
  const spec = JSON.stringify(info.input);
  const [h, w] = info.input.size;

  let loaded = core.loadEngine(bytes);
  if (!check('loadEngine plans the model', !loaded.error && loaded.engine, loaded.error)) return null;
  check('loadEngine describes the input and output', JSON.stringify(loaded.inputShape) === JSON.stringify([-1, 3, h, w])
    && loaded.inputNames.length === 1 && loaded.outputNames.includes('logits'),
  `${loaded.inputNames} ${JSON.stringify(loaded.inputShape)} -> ${loaded.outputNames}`);

  // Every photo ursa predict classified: same top label, probability within 1e-3.
  const records = JSON.parse(fs.readFileSync(predictJson, 'utf8')).filter((r) => !r.error);
  let worst = 0;
  let agree = 0;
  const logits = [];
  for (const r of records) {
    const pre = core.preprocess(new Uint8Array(fs.readFileSync(r.file)), spec);
    if (pre.error) continue;
    const out = loaded.engine.run(pre.tensor, [1, 3, h, w]);
    if (out.error) continue;
    logits.push(Array.from(out.logits));
    const [best] = core.topK(out.logits, 1);
    const diff = Math.abs(best.prob - r.prob);
    worst = Math.max(worst, diff);
    if (info.labels[best.index] === r.label && diff <= 1e-3) agree++;
  }
  check(`${records.length} photos: same label and probability as ursa predict (±1e-3)`,
    records.length >= 3 && agree === records.length, `${agree}/${records.length}, max |Δprob| ${worst.toExponential(2)}`);

  // Errors are objects with a reason, never exceptions.
  const bad = core.loadEngine(new Uint8Array([8, 1, 18, 3, 1, 2]));
  const empty = core.loadEngine(new Uint8Array(0));
  const shape = loaded.engine.run(new Float32Array(3 * h * w), [1, 3, h, w + 1]);
  const dims = loaded.engine.run(new Float32Array(3), [1, -3]);
  check('errors are {error} objects with readable messages', typeof bad.error === 'string' && bad.error.length > 5
    && empty.error === 'empty model file' && /expects shape \[-1,3,\d+,\d+\]/.test(shape.error || '')
    && /non-negative integers/.test(dims.error || ''), [bad.error, empty.error, shape.error, dims.error].join(' | '));

  // Model swaps as the page does them: the new one loads, then the old one is deleted.
  const heap = [];
  const x = new Float32Array(3 * h * w);
  for (let i = 0; i < 8; i++) {
    const next = core.loadEngine(bytes);
    if (next.error) break;
    next.engine.run(x, [1, 3, h, w]);
    loaded.engine.delete();
    loaded = next;
    heap.push(core.wasmMemory ? core.wasmMemory.buffer.byteLength : core.HEAP8.length);
  }
  loaded.engine.delete();
  const mb = (n) => (n / 2 ** 20).toFixed(0);
  check('replacing the model 8 times: wasm memory stops growing (freed models are reused)',
    heap.length === 8 && heap[7] === heap[1], `${heap.map(mb).join(', ')} MiB (model file ${mb(bytes.length)} MiB)`);
  let threw = false;
  try {
    loaded.engine.run(x, [1, 3, h, w]);
  } catch {
    threw = true;  // Embind: a deleted handle cannot be used again
  }
  check('a deleted engine cannot be run again', threw);
  return logits;
}

async function main() {
  const single = await checkBuild('ursa_core_node', 1);
  const multi = await checkBuild('ursa_core_mt_node', 2);
  prefix = '';
  const same = single && multi && single.length === multi.length
    && single.every((l, i) => l.length === multi[i].length && l.every((v, k) => Object.is(v, multi[i][k])));
  check('the pthreads build on 2 threads gives the single-thread build\'s logits bit for bit', same,
    `${single ? single.length : 0} and ${multi ? multi.length : 0} photos`);
  return failed ? 1 : 0;
}

main().then((code) => process.exit(code), (e) => {
  console.log(`FAIL wasm engine: crashed: ${e.stack || e}`);
  process.exit(1);
});
