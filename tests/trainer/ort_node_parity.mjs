// Runs ONNX models with ONNX Runtime Web (its wasm backend, one thread, the page's
// session options) under Node, for the export parity tests.
//
//   node ort_node_parity.mjs INPUT.f32 N,C,H,W MODEL.onnx OUT.f32 [MODEL.onnx OUT.f32 ...]
//
// INPUT.f32 holds the models' first input as raw little-endian float32 (N*C*H*W
// values); each model's first output is written to its OUT.f32 the same way, and one
// JSON line per model {"model":…, "input":…, "output":…, "dims":[…]} goes to stdout.
// Several models share one Node start (the runtime's start-up is most of the time).
// Exit status 2 on a usage error, 1 when ONNX Runtime fails (its message on stderr).
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const webDir = join(here, '..', '..', 'web');
const require = createRequire(join(webDir, 'package.json'));

const [inputPath, shapeArg, ...pairs] = process.argv.slice(2);
if (pairs.length === 0 || pairs.length % 2) {
  console.error('usage: node ort_node_parity.mjs INPUT.f32 N,C,H,W MODEL.onnx OUT.f32 [MODEL.onnx OUT.f32 ...]');
  process.exit(2);
}
const dims = shapeArg.split(',').map(Number);
if (dims.some((d) => !Number.isInteger(d) || d < 0)) {
  console.error(`bad shape '${shapeArg}'`);
  process.exit(2);
}

try {
  const ort = require('onnxruntime-web');
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.wasmPaths = join(webDir, 'node_modules', 'onnxruntime-web', 'dist') + '/';
  ort.env.logLevel = 'error';

  const raw = readFileSync(inputPath);
  const count = dims.reduce((a, b) => a * b, 1);
  if (raw.length !== count * 4) throw new Error(`${inputPath} has ${raw.length} bytes, shape [${dims}] needs ${count * 4}`);
  const data = new Float32Array(count);
  new Uint8Array(data.buffer).set(raw);  // copy: Buffer's byteOffset need not be 4-aligned

  for (let k = 0; k < pairs.length; k += 2) {
    const [model, outPath] = [pairs[k], pairs[k + 1]];
    const session = await ort.InferenceSession.create(readFileSync(model), {
      executionProviders: ['wasm'],
      graphOptimizationLevel: 'all',
    });
    const input = session.inputNames[0], output = session.outputNames[0];
    const results = await session.run({ [input]: new ort.Tensor('float32', data, dims) });
    const out = results[output];
    if (out.type !== 'float32') throw new Error(`${model}: output '${output}' is ${out.type}, expected float32`);
    const values = out.data;
    writeFileSync(outPath, Buffer.from(values.buffer, values.byteOffset, values.byteLength));
    console.log(JSON.stringify({ model, input, output, dims: out.dims }));
    await session.release();
  }
} catch (e) {
  console.error(`onnxruntime-web: ${e && e.message ? e.message : e}`);
  process.exit(1);
}
