// Ursa page, worker: core.wasm (decode + resize + normalise, the same C++ as training)
// → the model, run by ONNX Runtime Web (wasm backend; ?backend=ort, the default) or by
// core's own engine in the same core.wasm (?backend=ursa; on a cross-origin isolated page
// core's pthreads build, ursa_core_mt, so that the engine runs on threads) → core.wasm
// (softmax + top-k).
// Every file comes from this site: ./core/ (Ursa's wasm), ./ort/ (ONNX Runtime Web, loaded
// only for ?backend=ort), ./model.onnx.
// One photo at a time: its bytes, pixels and tensors are released before the next.

const TOP_K = 5;                    // probabilities sent back per photo
const MAX_BROWSER_PIXELS = 50e6;    // same limit as core's decoder (Pillow's bomb guard)
const PREVIEW = 320;                // long side of the preview sent back for the card
const CORE_FORMATS = new Set(['jpeg', 'png', 'bmp', 'gif']);  // what core decodes itself

let core = null;                    // Embind module from ./core/ursa_core.mjs
let ort = null;                     // onnxruntime-web (wasm only), for backend 'ort'
let backend = 'ort';                // 'ort' | 'ursa', from the page's ?backend= (init message)
let model = null;                   // {runner, info, specJson, source, loadMs, warmupMs}

const post = (message, transfer) => self.postMessage(message, transfer || []);
const errorText = (e) => String((e && e.message) ? e.message : e)
  .replace(/\s*Build with -s ?ASSERTIONS(=1)? for more info\.?/g, '')  // Emscripten's hint, no use to a visitor
  .replace(/; raise it with --max-pixels/g, '');                          // nor a command-line flag

let runtimesLoading = null;
function loadRuntimes() {
  if (!runtimesLoading) {
    runtimesLoading = loadRuntimesOnce().catch((e) => {
      runtimesLoading = null;  // a later model load tries again
      throw e;
    });
  }
  return runtimesLoading;
}

// Imports and starts one of core's builds; throws naming the file and the reason.
async function startCore(name, options) {
  const module = await import(`./core/${name}.mjs`).catch((e) => { throw new Error(`core/${name}.mjs: ${errorText(e)}`); });
  try {
    return await module.default(options);
  } catch (e) {
    throw new Error(`core/${name}.wasm could not start: ${errorText(e)}`);
  }
}

// Core's pthreads build (its own pool of workers) when the engine is to run on several
// threads, else, or if that build cannot start (e.g. workers refused), the single-thread one.
async function loadCore(threads, locateFile) {
  if (threads > 1) {
    try {
      return await startCore('ursa_core_mt', { locateFile, ursaPoolSize: threads - 1 });
    } catch { /* one thread is still right */ }
  }
  return startCore('ursa_core', { locateFile });
}

async function loadRuntimesOnce() {
  post({ type: 'status', state: 'loading', message: 'Loading the classifier runtime…' });
  const here = new URL('./', import.meta.url);
  const threads = threadCount();
  const locateFile = (path) => new URL(`core/${path}`, here).href;
  let ortModule;
  [core, ortModule] = await Promise.all([
    // Threads for core only where core's engine runs the model.
    loadCore(backend === 'ursa' ? threads : 1, locateFile),
    backend === 'ort'
      ? import('./ort/ort.wasm.min.mjs').catch((e) => { throw new Error(`ort/ort.wasm.min.mjs: ${errorText(e)}`); })
      : null,  // core's engine is in core.wasm: no ONNX Runtime download
  ]);
  if (backend === 'ursa') core.setEngineThreads(threads);
  if (!ortModule) return;
  ort = ortModule;
  // Self-hosted runtime files; threads only where the page is cross-origin isolated.
  ort.env.wasm.wasmPaths = new URL('ort/', here).href;
  ort.env.wasm.numThreads = threads;
  ort.env.logLevel = 'error';
}

// Threads need SharedArrayBuffer, which browsers give only to cross-origin isolated
// pages (COOP/COEP headers); elsewhere one thread. Up to 4, leaving a core to the page.
function threadCount() {
  const cores = navigator.hardwareConcurrency || 1;
  if (!self.crossOriginIsolated || typeof SharedArrayBuffer !== 'function' || cores < 2) return 1;
  return Math.min(4, Math.max(2, cores - 1));
}

// Which runtime runs the model and how: shown in the page's footer and on each card.
function backendInfo(loadMs, warmupMs) {
  const isolated = Boolean(self.crossOriginIsolated);
  if (backend === 'ursa') {
    // core's engine: its pthreads build's threads where the page is isolated, else 1.
    return { backend, name: "Ursa's engine", version: core.version(), threads: core.engineThreads(), simd: core.simd(),
      isolated, loadMs, warmupMs };
  }
  return {
    backend, name: 'ONNX Runtime Web',
    version: ort.env.versions?.web || '',
    threads: ort.env.wasm.numThreads || 1,
    simd: ort.env.wasm.simd !== false,
    isolated, loadMs, warmupMs,
  };
}

// A model opened by ONNX Runtime Web: {inputNames, input (metadata), run, release}.
async function openOrt(bytes, source) {
  let session;
  try {
    session = await ort.InferenceSession.create(bytes, {
      executionProviders: ['wasm'],
      graphOptimizationLevel: 'all',
    });
  } catch (e) {
    throw new Error(`${source}: ONNX Runtime could not open the model: ${errorText(e)}`);
  }
  const inputName = session.inputNames[0];
  const outputName = session.outputNames.includes('logits') ? 'logits' : session.outputNames[0];
  return {
    inputNames: session.inputNames,
    input: session.inputMetadata?.[0],
    async run(chw, h, w) {
      const input = new ort.Tensor('float32', chw, [1, 3, h, w]);
      const outputs = await session.run({ [inputName]: input });
      const logits = Float32Array.from(outputs[outputName].data);
      for (const t of Object.values(outputs)) t.dispose?.();
      return logits;
    },
    release: () => session.release().catch(() => {}),
  };
}

// A model planned by core's engine inside core.wasm. Its weights live in wasm memory
// until release() deletes the engine (a replaced model is released at once).
function openUrsa(bytes, source) {
  const loaded = core.loadEngine(bytes);
  if (loaded.error) throw new Error(`${source}: Ursa's engine could not open the model: ${loaded.error}`);
  let engine = loaded.engine;
  return {
    inputNames: loaded.inputNames,
    input: { isTensor: true, shape: loaded.inputShape.map((d) => (d < 0 ? null : d)) },
    async run(chw, h, w) {
      if (!engine) throw new Error('the model was released');
      const out = engine.run(chw, [1, 3, h, w]);
      if (out.error) throw new Error(out.error);
      return out.logits;
    },
    async release() {
      engine?.delete();
      engine = null;
    },
  };
}

// Reads Ursa's metadata through core and opens the model with the chosen runtime;
// throws with a readable reason.
async function openModel(bytes, source) {
  const infoJson = core.modelInfo(bytes);
  const info = JSON.parse(infoJson);
  if (info.error) throw new Error(`${source} is not an Ursa model: ${info.error}`);
  if (!Array.isArray(info.labels) || info.labels.length === 0) throw new Error(`${source}: the model has no labels`);

  const t0 = performance.now();
  const runner = backend === 'ursa' ? openUrsa(bytes, source) : await openOrt(bytes, source);
  const problem = inputProblem(runner, info);
  if (problem) {
    await runner.release();
    throw new Error(`${source}: ${problem}`);
  }
  const next = { runner, info, source, specJson: JSON.stringify(info.input) };
  next.loadMs = performance.now() - t0;
  // Warm-up run (JIT, allocations) and a check that the output matches the labels.
  try {
    const [h, w] = info.input.size;
    const t1 = performance.now();
    const logits = await runner.run(new Float32Array(3 * h * w), h, w);
    next.warmupMs = performance.now() - t1;
    if (logits.length !== info.labels.length) {
      throw new Error(`the model gives ${logits.length} outputs for ${info.labels.length} labels`);
    }
  } catch (e) {
    await runner.release();
    throw new Error(`${source}: ${errorText(e)}`);
  }
  return next;
}

// What the page cannot feed, in the words of core's native predictor (predictor.cpp):
// one float32 input [N,3,H,W], its static H and W equal to ursa.input's size; else null.
function inputProblem(runner, info) {
  const names = runner.inputNames;
  if (names.length !== 1) {
    return `the model must have one input [N,3,H,W] float; this one has ${names.length} (${names.join(', ')})`;
  }
  const meta = runner.input;
  if (!meta) return null;  // a runtime that does not say: the warm-up run checks
  if (meta.isTensor === false) return `model input '${names[0]}' must be a [N,3,H,W] float tensor; it is not a tensor`;
  if (meta.type && meta.type !== 'float32') {
    return `model input '${names[0]}' must be [N,3,H,W] float; this model's input is ${meta.type}`;
  }
  const shape = Array.isArray(meta.shape) ? meta.shape : [];
  const known = (d) => typeof d === 'number' && d > 0;
  if (shape.length !== 4 || (known(shape[1]) && shape[1] !== 3)) {
    return `model input must be [N,3,H,W] float; this model's input has rank ${shape.length}`
      + (shape.length === 4 ? ` and ${shape[1]} channels` : '');
  }
  const [h, w] = info.input.size;
  if ((known(shape[2]) && shape[2] !== h) || (known(shape[3]) && shape[3] !== w)) {
    return `model input is ${shape[2]}x${shape[3]} but ursa.input says ${h}x${w}`;
  }
  return null;
}

async function useModel(bytes, source) {
  try {
    await loadRuntimes();
    post({ type: 'status', state: 'loading', message: `Loading model ${source}…` });
    const next = await openModel(bytes, source);
    const previous = model;
    model = next;
    if (previous) await previous.runner.release();  // its memory goes back now
    post({ type: 'ready', info: model.info, source, backend: backendInfo(model.loadMs, model.warmupMs) });
  } catch (e) {
    const still = model ? ` Still using ${model.source}.` : '';
    post({ type: 'model-error', message: `${errorText(e)}${still}` });
  }
}

// Downloads the model with progress in #status; the runtimes load meanwhile.
async function download(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`HTTP ${response.status} ${response.statusText}`.trim());
  // content-length is only a hint (a host may compress): chunks are joined at the end.
  const total = Number(response.headers.get('content-length')) || 0;
  if (!response.body) return new Uint8Array(await response.arrayBuffer());
  const chunks = [];
  const reader = response.body.getReader();
  let received = 0;
  let shown = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    received += value.length;
    const now = performance.now();
    if (now - shown > 150) {
      shown = now;
      const mb = (n) => (n / 1e6).toFixed(1);
      const of = total >= received ? ` / ${mb(total)}` : '';
      post({ type: 'status', state: 'loading', message: `Downloading the model… ${mb(received)}${of} MB` });
    }
  }
  const bytes = new Uint8Array(received);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return bytes;
}

async function init(url, wanted) {
  backend = wanted === 'ursa' ? 'ursa' : 'ort';
  const runtimes = loadRuntimes().catch((e) => e);
  let bytes;
  try {
    bytes = await download(url);
  } catch (e) {
    post({ type: 'model-error', message: `Could not load model.onnx: ${errorText(e)}` });
    return;
  }
  await runtimes;  // its error, if any, is reported by useModel
  await useModel(bytes, 'model.onnx');
}

// The browser's own decoder (WebP, AVIF, …, whatever core cannot read), through RGBA pixels.
async function decodeInBrowser(blob, specJson) {
  if (typeof createImageBitmap !== 'function' || typeof OffscreenCanvas !== 'function') {
    throw new Error('no browser decoder in this worker');
  }
  const bitmap = await createImageBitmap(blob, {
    imageOrientation: 'from-image', premultiplyAlpha: 'none', colorSpaceConversion: 'default',
  });
  try {
    const { width, height } = bitmap;
    if (width * height > MAX_BROWSER_PIXELS) throw new Error(`image too large (${width}×${height})`);
    const canvas = new OffscreenCanvas(width, height);
    const ctx = canvas.getContext('2d', { willReadFrequently: true });
    ctx.drawImage(bitmap, 0, 0);
    const rgba = ctx.getImageData(0, 0, width, height).data;
    return core.preprocessRGBA(new Uint8Array(rgba.buffer, rgba.byteOffset, rgba.byteLength), width, height, specJson);
  } finally {
    bitmap.close();
  }
}

// A small JPEG of the photo for its card, made by the browser's decoder (off this
// thread) while the model runs; null when the browser cannot decode it.
async function preview(file, width, height) {
  if (typeof createImageBitmap !== 'function' || typeof OffscreenCanvas !== 'function') return null;
  let bitmap = null;
  try {
    const options = { imageOrientation: 'from-image', premultiplyAlpha: 'none' };
    if (width > 0 && height > 0) {
      const scale = Math.min(1, PREVIEW / Math.max(width, height));
      Object.assign(options, { resizeWidth: Math.max(1, Math.round(width * scale)),
        resizeHeight: Math.max(1, Math.round(height * scale)), resizeQuality: 'medium' });
    }
    bitmap = await createImageBitmap(file, options);
    const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
    const ctx = canvas.getContext('2d');
    ctx.fillStyle = '#fff';  // alpha over white, as core does
    ctx.fillRect(0, 0, bitmap.width, bitmap.height);
    ctx.drawImage(bitmap, 0, 0);
    return await canvas.convertToBlob({ type: 'image/jpeg', quality: 0.8 });
  } catch {
    return null;
  } finally {
    bitmap?.close();
  }
}

async function classify(id, file) {
  if (!model) {
    post({ type: 'result', id, error: 'no model loaded' });
    return;
  }
  const m = model;
  const t0 = performance.now();
  try {
    let bytes = new Uint8Array(await file.arrayBuffer());
    let decoder = 'core';
    const format = core.sniffFormat(bytes);
    let pre = core.preprocess(bytes, m.specJson);
    bytes = null;  // the photo's bytes are not needed any more
    // The browser's decoder covers only the formats core leaves out (WebP, AVIF, …).
    // A file core claims (JPEG, PNG, BMP, GIF) and refuses stays refused, with core's
    // reason, as in `ursa predict`: a truncated JPEG, or an image over the pixel limit.
    if (pre.error && !CORE_FORMATS.has(format)) {
      const coreError = pre.error;
      try {
        pre = await decodeInBrowser(file, m.specJson);
        decoder = 'browser';
      } catch (e) {
        pre = { error: coreError };
      }
    }
    if (pre.error) throw new Error(pre.error);
    const t1 = performance.now();
    const { width, height } = pre;
    const previewing = preview(file, width, height);
    const [h, w] = m.info.input.size;
    const logits = await m.runner.run(pre.tensor, h, w);
    pre = null;  // nor its tensor
    const top = core.topK(logits, Math.min(TOP_K, logits.length))
      .map(({ index, prob }) => ({ index, prob, label: m.info.labels[index] ?? `#${index}` }));
    const t2 = performance.now();
    // The result goes out at once; its preview follows when the browser has made it
    // (the next photo waits for it, so only one photo's pixels are ever held).
    post({
      type: 'result', id, top, decoder, thumbPending: true, backend,
      width, height, ms: t2 - t0, prepMs: t1 - t0, inferMs: t2 - t1,
    });
    post({ type: 'thumb', id, thumb: await previewing });
  } catch (e) {
    post({ type: 'result', id, error: errorText(e), ms: performance.now() - t0 });
  }
}

// One message at a time: a model switch waits for the photo in progress, and vice versa.
let chain = Promise.resolve();
self.addEventListener('message', ({ data }) => {
  chain = chain.then(() => {
    switch (data.type) {
      case 'init': return init(data.url, data.backend);
      case 'model': return useModel(new Uint8Array(data.bytes), data.name);
      case 'classify': return classify(data.id, data.file);
      default: return undefined;
    }
  }).catch((e) => post({ type: 'status', state: 'error', message: errorText(e) }));
});
