// Benchmark (not a test): the same preprocessing in core's wasm build under Node.
// usage: node --no-experimental-fetch bench/bench_preprocess_wasm.cjs WASM_DIR IMAGE [SIZE] [RUNS]
const fs = require('fs');
const path = require('path');
const [wasmDir, image, size = '224', runs = '10'] = process.argv.slice(2);
const factory = require(path.resolve(wasmDir, 'ursa_core_node.js'));
factory({ wasmBinary: fs.readFileSync(path.resolve(wasmDir, 'ursa_core_node.wasm')) }).then((core) => {
  const bytes = new Uint8Array(fs.readFileSync(image));
  const spec = JSON.stringify({ size: [+size, +size], resize: 'crop', mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] });
  const ms = [];
  for (let r = 0; r < +runs; r++) {
    const t0 = process.hrtime.bigint();
    const out = core.preprocess(bytes, spec);
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
    if (out.error) { console.error('error:', out.error); process.exit(1); }
  }
  ms.sort((a, b) => a - b);
  console.log(`wasm core (Node ${process.version}): median ${ms[ms.length >> 1].toFixed(1)} ms, best ${ms[0].toFixed(1)} ms (${runs} runs)`);
});
