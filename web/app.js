// Ursa page, main thread: UI only. Decoding, preprocessing (core.wasm) and inference
// (ONNX Runtime Web) run in worker.js, one photo at a time, so the page never freezes.
// Photos are read locally and handed to the worker; nothing is ever uploaded.

const $ = (selector) => document.querySelector(selector);
const statusEl = $('#status');
const resultsEl = $('#results');
const dropEl = $('#drop');
const summaryEl = $('#summary');
const resultsHead = $('.results-head');
const modelInfoEl = $('#model-info');

const TOP_SHOWN = 3;       // labels with bars on each card
const IMAGE_EXTENSIONS = /\.(jpe?g|png|gif|bmp|webp|avif|heic|heif|tiff?|jfif|pjpeg|pjp|ico|svg)$/i;

let worker = null;           // created by start(), once the service worker (if any) is in place
let ready = false;           // the worker has a working model
const queue = [];            // {id, file, card} waiting for the worker
let inFlight = null;         // the job the worker is on
let nextId = 1;
const objectUrls = new Set();
let modelLabels = [];

function setStatus(state, message) {
  statusEl.dataset.state = state;
  statusEl.textContent = message;
}

function describeModel(info, source) {
  const [h, w] = info.input.size;
  const parts = [
    `Model: ${source}`,
    info.arch ? info.arch : null,
    `${w}×${h} ${info.input.resize}${info.input.pad_mode ? ` (${info.input.pad_mode})` : ''}`,
    `${info.labels.length} labels (${info.labels.length > 12 ? `${info.labels.slice(0, 12).join(', ')}, …` : info.labels.join(', ')})`,
    info.valid_error != null && info.valid_error >= 0 ? `validation error ${(info.valid_error * 100).toFixed(1)}%` : null,
  ].filter(Boolean);
  modelInfoEl.textContent = parts.join(' · ');
  modelInfoEl.title = `Labels: ${info.labels.join(', ')}`;
}

function readyMessage(info) {
  const labels = info.labels;
  const shown = labels.length > 8 ? `${labels.slice(0, 8).join(', ')}, …` : labels.join(', ');
  return `Ready · ${labels.length} labels: ${shown}`;
}

function onWorkerMessage({ data }) {
  switch (data.type) {
    case 'status':
      setStatus(data.state, data.message);
      break;
    case 'ready':
      ready = true;
      modelLabels = data.info.labels;
      describeModel(data.info, data.source);
      setStatus('ready', readyMessage(data.info));
      pump();
      break;
    case 'model-error':
      // A model that failed to load: say why. The previous model, if any, stays in use.
      setStatus('error', data.message);
      pump();
      break;
    case 'result':
      finish(data);
      break;
  }
}

function onWorkerError(event) {
  ready = false;
  setStatus('error', `The classifier could not start: ${event.message || 'worker failed to load'}`);
}

// ---- queue: one photo at a time through the worker ---------------------------------

function enqueue(files) {
  let added = 0;
  for (const file of files) {
    if (!file) continue;
    const id = nextId++;
    const card = makeCard(file);
    queue.push({ id, file, card });
    added++;
  }
  if (added) {
    resultsHead.hidden = false;
    updateSummary();
    pump();
  }
}

function pump() {
  if (!ready || inFlight || queue.length === 0) return;
  inFlight = queue.shift();
  inFlight.card.classList.add('working');
  worker.postMessage({ type: 'classify', id: inFlight.id, file: inFlight.file });
}

function finish(data) {
  const job = inFlight;
  if (!job || job.id !== data.id) return;
  inFlight = null;
  if (job.card.isConnected) fillCard(job.card, data);
  updateSummary();
  pump();
}

// ---- cards --------------------------------------------------------------------------

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text != null) node.textContent = text;
  return node;
}

function makeCard(file) {
  const card = el('article', 'card pending');
  card.dataset.file = file.name || 'pasted image';

  const figure = el('div', 'thumb');
  const looksLikeImage = (file.type && file.type.startsWith('image/')) || IMAGE_EXTENSIONS.test(file.name || '');
  if (looksLikeImage) {
    const url = URL.createObjectURL(file);
    objectUrls.add(url);
    const img = el('img');
    img.alt = '';
    img.decoding = 'async';
    img.loading = 'lazy';
    img.src = url;
    img.addEventListener('error', () => figure.classList.add('broken'), { once: true });
    figure.append(img);
  } else {
    figure.classList.add('broken');
  }
  card.append(figure);

  const body = el('div', 'body');
  body.append(el('p', 'file', card.dataset.file));
  body.append(el('p', 'waiting', 'Waiting…'));
  card.append(body);
  resultsEl.append(card);
  return card;
}

function percent(p) {
  const v = p * 100;
  return v >= 99.95 ? '100%' : v < 0.1 ? '<0.1%' : `${v.toFixed(1)}%`;
}

function fillCard(card, data) {
  const body = card.querySelector('.body');
  body.querySelector('.waiting')?.remove();
  card.classList.remove('pending', 'working');
  card.classList.add('result');

  if (data.error) {
    card.classList.add('failed');
    card.dataset.error = data.error;
    body.append(el('p', 'error', data.error));
    return;
  }

  const best = data.top[0];
  card.dataset.label = best.label;
  card.dataset.prob = String(best.prob);
  card.dataset.top = JSON.stringify(data.top.map((t) => ({ label: t.label, prob: t.prob })));

  const head = el('p', 'label');
  head.append(el('span', 'name', best.label), el('span', 'pct', percent(best.prob)));
  body.append(head);

  const list = el('ol', 'topk');
  for (const item of data.top.slice(0, TOP_SHOWN)) {
    const li = el('li');
    li.dataset.label = item.label;
    li.dataset.prob = String(item.prob);
    const bar = el('span', 'bar');
    const fill = el('span', 'fill');
    fill.style.width = `${Math.max(0, Math.min(1, item.prob)) * 100}%`;
    bar.append(fill);
    li.append(el('span', 'l', item.label), bar, el('span', 'p', percent(item.prob)));
    list.append(li);
  }
  body.append(list);

  const meta = [`${Math.round(data.ms)} ms`];
  if (data.width && data.height) meta.push(`${data.width}×${data.height}`);
  if (data.decoder === 'browser') meta.push('decoded by the browser');
  body.append(el('p', 'meta', meta.join(' · ')));
}

function updateSummary() {
  const cards = resultsEl.querySelectorAll('.card');
  const done = resultsEl.querySelectorAll('.result');
  if (cards.length === 0) {
    resultsHead.hidden = true;
    return;
  }
  const counts = new Map();
  let failed = 0;
  for (const card of done) {
    if (card.dataset.error) failed++;
    else counts.set(card.dataset.label, (counts.get(card.dataset.label) || 0) + 1);
  }
  const order = modelLabels.length ? modelLabels.filter((l) => counts.has(l)) : [...counts.keys()];
  for (const l of counts.keys()) if (!order.includes(l)) order.push(l);
  const parts = order.map((l) => `${counts.get(l)} ${l}`);
  if (failed) parts.push(`${failed} failed`);
  const pending = cards.length - done.length;
  const head = `${cards.length} photo${cards.length === 1 ? '' : 's'}`;
  summaryEl.textContent = [head + (pending ? ` (${pending} to go)` : ''), parts.join(', ')]
    .filter(Boolean).join(' · ');
}

// ---- download: the finished results, in `ursa predict --json`'s shape or as CSV -------

function resultRecords() {
  return [...resultsEl.querySelectorAll('.result')].map((card) => (card.dataset.error
    ? { file: card.dataset.file, error: card.dataset.error }
    : { file: card.dataset.file, label: card.dataset.label, prob: Number(card.dataset.prob),
        top: JSON.parse(card.dataset.top || '[]') }));
}

function csvField(value) {
  const s = value === undefined ? '' : String(value);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function download(name, type, text) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

$('#download-json').addEventListener('click', () => {
  download('ursa-results.json', 'application/json', `${JSON.stringify(resultRecords(), null, 1)}\n`);
});

$('#download-csv').addEventListener('click', () => {
  const rows = [['file', 'label', 'prob', 'error']];
  for (const r of resultRecords()) rows.push([r.file, r.label, r.prob, r.error]);
  download('ursa-results.csv', 'text/csv', `${rows.map((row) => row.map(csvField).join(',')).join('\r\n')}\r\n`);
});

$('#clear').addEventListener('click', () => {
  queue.length = 0;
  for (const card of resultsEl.querySelectorAll('.card')) if (!inFlight || card !== inFlight.card) card.remove();
  if (!inFlight) {
    for (const url of objectUrls) URL.revokeObjectURL(url);
    objectUrls.clear();
  }
  updateSummary();
});

// ---- inputs: pick, camera, drop, paste, model -----------------------------------------

function takeFiles(fileList) {
  const photos = [];
  for (const file of fileList) {
    if (/\.onnx$/i.test(file.name)) loadModel(file);
    else photos.push(file);
  }
  enqueue(photos);
}

for (const id of ['#files', '#camera']) {
  const input = $(id);
  input.addEventListener('change', () => {
    takeFiles([...input.files]);
    input.value = '';
  });
}

let dragDepth = 0;
document.addEventListener('dragenter', (e) => {
  if (!e.dataTransfer || ![...e.dataTransfer.types].includes('Files')) return;
  dragDepth++;
  dropEl.classList.add('over');
});
document.addEventListener('dragleave', () => {
  dragDepth = Math.max(0, dragDepth - 1);
  if (dragDepth === 0) dropEl.classList.remove('over');
});
document.addEventListener('dragover', (e) => {
  e.preventDefault();
  if (e.dataTransfer) e.dataTransfer.dropEffect = 'copy';
});
document.addEventListener('drop', (e) => {
  e.preventDefault();
  dragDepth = 0;
  dropEl.classList.remove('over');
  if (e.dataTransfer?.files?.length) takeFiles([...e.dataTransfer.files]);
});

document.addEventListener('paste', (e) => {
  const items = e.clipboardData ? [...e.clipboardData.items] : [];
  const files = items.filter((i) => i.kind === 'file').map((i) => i.getAsFile()).filter(Boolean);
  if (!files.length) return;
  e.preventDefault();
  const stamp = new Date().toTimeString().slice(0, 8).replace(/:/g, '');
  enqueue(files.map((f, i) => (f.name && f.name !== 'image.png') ? f
    : new File([f], `pasted-${stamp}${files.length > 1 ? `-${i + 1}` : ''}.${(f.type.split('/')[1] || 'png')}`, { type: f.type })));
});

async function loadModel(file) {
  setStatus('loading', `Loading model ${file.name}…`);
  const bytes = await file.arrayBuffer();
  await started;
  worker.postMessage({ type: 'model', name: file.name, bytes }, [bytes]);
}

$('#model-file').addEventListener('change', (e) => {
  const file = e.target.files[0];
  e.target.value = '';
  if (file) loadModel(file);
});

// ---- start ----------------------------------------------------------------------------

// Offline after the first visit: sw.js caches every file the page and its worker fetch.
// The worker starts once the service worker controls the page, so that even the first
// visit's downloads (runtime, model) are cached in passing, not fetched twice.
async function offlineReady() {
  if (!('serviceWorker' in navigator) || !window.isSecureContext) return;
  try {
    await navigator.serviceWorker.register(new URL('./sw.js', import.meta.url));
    if (navigator.serviceWorker.controller) return;
    await new Promise((resolve) => {
      navigator.serviceWorker.addEventListener('controllerchange', resolve, { once: true });
      setTimeout(resolve, 4000);  // never hold the page back for long
    });
  } catch {
    // No service worker (e.g. a host that cannot serve sw.js): the page still works online.
  }
}

async function start() {
  await offlineReady();
  worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
  worker.addEventListener('message', onWorkerMessage);
  worker.addEventListener('error', onWorkerError);
  worker.postMessage({ type: 'init', url: new URL('./model.onnx', location.href).href });
}

const started = start();
