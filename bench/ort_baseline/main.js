// ORT Web baseline (see index.html). labels.json: {labels, size: [h, w], mean: [3], std: [3]},
// written next to model.onnx by bench/web_bench.sh from the model's metadata (a typical
// app hard-codes it). Crop like fastai's Resize(crop) at validation: the centre square.
import * as ort from './ort/ort.wasm.min.mjs';

const status = document.querySelector('#status');
const results = document.querySelector('#results');
const setStatus = (state, text) => { status.dataset.state = state; status.textContent = text; };

let session = null;
let config = null;

// Same thread policy as Ursa's page: threads only when cross-origin isolated, up to 4.
function threadCount() {
  const cores = navigator.hardwareConcurrency || 1;
  if (!self.crossOriginIsolated || cores < 2) return 1;
  return Math.min(4, Math.max(2, cores - 1));
}

async function start() {
  ort.env.wasm.wasmPaths = new URL('./ort/', location.href).href;
  ort.env.wasm.numThreads = threadCount();
  const [cfg, model] = await Promise.all([
    fetch('labels.json').then((r) => r.json()),
    fetch('model.onnx').then((r) => r.arrayBuffer()),
  ]);
  config = cfg;
  session = await ort.InferenceSession.create(new Uint8Array(model), {
    executionProviders: ['wasm'], graphOptimizationLevel: 'all',
  });
  // Warm-up run, as Ursa's page does before it says ready.
  const [h, w] = config.size;
  await run(new Float32Array(3 * h * w), h, w);
  setStatus('ready', `Ready · ${config.labels.length} labels · ${ort.env.wasm.numThreads} thread(s)`);
}

async function run(chw, h, w) {
  const out = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', chw, [1, 3, h, w]) });
  return out[session.outputNames[0]].data;
}

async function preprocess(file) {
  const [h, w] = config.size;
  const bitmap = await createImageBitmap(file);  // EXIF orientation: Chromium's default ('from-image')
  const s = Math.min(bitmap.width, bitmap.height);
  const canvas = document.createElement('canvas');
  canvas.width = w;
  canvas.height = h;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  ctx.imageSmoothingQuality = 'high';
  ctx.drawImage(bitmap, (bitmap.width - s) / 2, (bitmap.height - s) / 2, s, s, 0, 0, w, h);
  bitmap.close();
  const rgba = ctx.getImageData(0, 0, w, h).data;
  const chw = new Float32Array(3 * h * w);
  const plane = h * w;
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) chw[c * plane + i] = (rgba[4 * i + c] / 255 - config.mean[c]) / config.std[c];
  }
  return chw;
}

async function classify(file) {
  const card = document.createElement('div');
  card.dataset.file = file.name;
  const t0 = performance.now();
  try {
    const chw = await preprocess(file);
    const t1 = performance.now();
    const [h, w] = config.size;
    const logits = await run(chw, h, w);
    const max = Math.max(...logits);
    const exps = Array.from(logits, (v) => Math.exp(v - max));
    const sum = exps.reduce((a, b) => a + b, 0);
    const best = exps.indexOf(Math.max(...exps));
    const t2 = performance.now();
    Object.assign(card.dataset, { label: config.labels[best], prob: String(exps[best] / sum),
      ms: String(Math.round(t2 - t0)), prepMs: (t1 - t0).toFixed(1), inferMs: (t2 - t1).toFixed(1) });
    card.textContent = `${file.name}: ${config.labels[best]} ${(100 * exps[best] / sum).toFixed(1)}% · ${Math.round(t2 - t0)} ms`;
  } catch (e) {
    card.dataset.error = String(e?.message || e);
    card.textContent = `${file.name}: ${card.dataset.error}`;
  }
  card.className = 'result';
  results.append(card);
}

let chain = Promise.resolve();
document.querySelector('#files').addEventListener('change', (e) => {
  const files = [...e.target.files];
  e.target.value = '';
  for (const f of files) chain = chain.then(() => classify(f));
});

start().catch((e) => setStatus('error', `Could not start: ${e?.message || e}`));
