// Ursa page, main thread: UI only. Decoding, preprocessing (core.wasm), inference
// (ONNX Runtime Web, or core's own engine with ?backend=ursa) and the small preview of
// each photo happen in worker.js, one photo at a time, so the page never freezes and
// memory stays bounded however many photos are queued: the page holds the File handles
// (no pixels) and one small JPEG preview per card. Photos are read locally and handed
// to the worker; nothing is ever uploaded.

const $ = (selector) => document.querySelector(selector);
const statusEl = $('#status');
const resultsEl = $('#results');
const dropEl = $('#drop');
const summaryEl = $('#summary');
const resultsHead = $('.results-head');
const modelInfoEl = $('#model-info');
const backendEl = $('#backend');
const queueTextEl = $('#queue-text');
const progressEl = $('#progress');
const announceEl = $('#announce');

const TOP_SHOWN = 3;       // labels with bars on each card
// Which runtime runs the model: ?backend=ort (ONNX Runtime Web, the default) or
// ?backend=ursa (core's own engine, compiled to WebAssembly with the preprocessing).
const BACKEND = new URLSearchParams(location.search).get('backend') === 'ursa' ? 'ursa' : 'ort';

let worker = null;           // created by start(), once the service worker (if any) is in place
let ready = false;           // the worker has a working model
const queue = [];            // {id, file, card} waiting for the worker
let inFlight = null;         // the job the worker is on
let nextId = 1;
const previewUrls = new Set();  // object URLs of the cards' previews, revoked by Clear
const previewsDue = new Map();  // photo id -> its card, until the worker's preview arrives
let modelLabels = [];

// Counts since the last Clear (the queue's progress) and since the queue was last empty
// (what is announced when it empties).
const tally = { total: 0, done: 0, failed: 0, ms: 0, timed: 0, labels: new Map() };
let batch = { size: 0, labels: new Map(), failed: 0 };

function setStatus(state, message) {
  statusEl.dataset.state = state;
  statusEl.textContent = message;
}

function announce(text) {
  announceEl.textContent = text;
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

// Which runtime runs the model and how: shown in the footer, with hooks for scripts.
function describeBackend(b) {
  if (!b) return;
  backendEl.dataset.backend = b.backend;
  backendEl.dataset.threads = String(b.threads);
  backendEl.dataset.isolated = String(b.isolated);
  // Both runtimes use threads only where the page is cross-origin isolated.
  const threads = b.threads > 1
    ? `${b.threads} threads (cross-origin isolated)`
    : `1 thread${b.isolated ? '' : ' (the host sends no COOP/COEP headers)'}`;
  backendEl.textContent = [`Inference: ${b.name} ${b.version || ''}`.trim(),
    `WebAssembly${b.simd ? ' SIMD' : ''}`, threads,
    `model load ${Math.round(b.loadMs)} ms, warm-up run ${Math.round(b.warmupMs)} ms`].join(' · ');
  $('#credit-runtime').textContent = b.backend === 'ursa' ? "Ursa's engine (C++ core)" : b.name;
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
      describeBackend(data.backend);
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
    case 'thumb': {
      const card = previewsDue.get(data.id);
      previewsDue.delete(data.id);
      if (card?.isConnected) setPreview(card, data.thumb);
      break;
    }
  }
}

function onWorkerError(event) {
  ready = false;
  setStatus('error', `The classifier could not start: ${event.message || 'worker failed to load'}`);
}

// ---- queue: one photo at a time through the worker ---------------------------------

// Cards of queued photos are made a few dozen ahead of the worker, not all at once:
// adding 1000 photos costs the page no more than adding 40.
const CARDS_AHEAD = 40;

function enqueue(files) {
  let added = 0;
  for (const file of files) {
    if (!file) continue;
    queue.push({ id: nextId++, file, card: null });
    added++;
  }
  if (!added) return;
  if (!inFlight && queue.length === added) batch = { size: 0, labels: new Map(), failed: 0 };
  batch.size += added;
  tally.total += added;
  resultsHead.hidden = false;
  showQueued();
  updateProgress();
  pump();
}

function showQueued() {
  const fragment = document.createDocumentFragment();
  for (let i = 0; i < Math.min(queue.length, CARDS_AHEAD); i++) {
    if (!queue[i].card) fragment.append(queue[i].card = makeCard(queue[i].file));
  }
  resultsEl.append(fragment);
}

function pump() {
  if (!ready || inFlight || queue.length === 0) return;
  inFlight = queue.shift();
  if (!inFlight.card) resultsEl.append(inFlight.card = makeCard(inFlight.file));
  showQueued();
  inFlight.card.classList.add('working');
  worker.postMessage({ type: 'classify', id: inFlight.id, file: inFlight.file });
}

function finish(data) {
  const job = inFlight;
  if (!job || job.id !== data.id) return;
  inFlight = null;
  if (job.card.isConnected) {  // not cleared meanwhile
    fillCard(job.card, data);
    if (data.thumbPending) previewsDue.set(data.id, job.card);
    tally.done++;
    if (data.error) {
      tally.failed++;
      batch.failed++;
    } else {
      tally.ms += data.ms;
      tally.timed++;
      const label = data.top[0].label;
      tally.labels.set(label, (tally.labels.get(label) || 0) + 1);
      batch.labels.set(label, (batch.labels.get(label) || 0) + 1);
    }
    updateProgress();
    if (queue.length === 0) announceBatch(job, data);
  }
  pump();
}

// One photo: its label. A batch: the counts, once it is done (not hundreds of messages).
function announceBatch(job, data) {
  if (batch.size <= 1) {
    const name = job.card.dataset.file;
    announce(data.error ? `${name}: ${data.error}` : `${name}: ${data.top[0].label}, ${percent(data.top[0].prob)}`);
  } else {
    announce(`${batch.size} photos done: ${countsText(batch.labels, batch.failed)}.`);
  }
}

function countsText(labels, failed) {
  const order = modelLabels.filter((l) => labels.has(l));
  for (const l of labels.keys()) if (!order.includes(l)) order.push(l);
  const parts = order.map((l) => `${labels.get(l)} ${l}`);
  if (failed) parts.push(`${failed} failed`);
  return parts.join(', ');
}

function updateProgress() {
  if (tally.total === 0) {
    resultsHead.hidden = true;
    return;
  }
  const text = `${tally.done} of ${tally.total} done`;
  queueTextEl.textContent = text;
  progressEl.setAttribute('aria-valuemax', String(tally.total));
  progressEl.setAttribute('aria-valuenow', String(tally.done));
  progressEl.setAttribute('aria-valuetext', text);
  progressEl.dataset.done = String(tally.done === tally.total);
  progressEl.firstElementChild.style.width = `${(100 * tally.done) / tally.total}%`;
  const avg = tally.timed ? ` · ${Math.round(tally.ms / tally.timed)} ms per photo` : '';
  summaryEl.textContent = `${countsText(tally.labels, tally.failed)}${avg}`;
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
  card.append(el('div', 'thumb'));
  const body = el('div', 'body');
  body.append(el('p', 'file', card.dataset.file));
  body.append(el('p', 'waiting', 'Waiting…'));
  card.append(body);
  return card;
}

function percent(p) {
  const v = p * 100;
  return v >= 99.95 ? '100%' : v < 0.1 ? '<0.1%' : `${v.toFixed(1)}%`;
}

// The card's small preview (a JPEG Blob from the worker), or a broken-image mark.
function setPreview(card, thumb) {
  const figure = card.querySelector('.thumb');
  if (!thumb) {
    figure.classList.add('broken');
    return;
  }
  const url = URL.createObjectURL(thumb);
  previewUrls.add(url);
  const img = el('img');
  img.alt = '';
  img.decoding = 'async';
  img.src = url;
  figure.append(img);
}

function fillCard(card, data) {
  const body = card.querySelector('.body');
  body.querySelector('.waiting')?.remove();
  card.classList.remove('pending', 'working');
  card.classList.add('result');
  if (data.thumb || !data.thumbPending) setPreview(card, data.thumb);
  if (data.ms != null) card.dataset.ms = String(Math.round(data.ms));
  if (data.backend) card.dataset.backend = data.backend;

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
  list.setAttribute('aria-label', 'Top labels');
  for (const item of data.top.slice(0, TOP_SHOWN)) {
    const li = el('li');
    li.dataset.label = item.label;
    li.dataset.prob = String(item.prob);
    const bar = el('span', 'bar');
    bar.setAttribute('aria-hidden', 'true');
    const fill = el('span', 'fill');
    fill.style.width = `${Math.max(0, Math.min(1, item.prob)) * 100}%`;
    bar.append(fill);
    li.append(el('span', 'l', item.label), bar, el('span', 'p', percent(item.prob)));
    list.append(li);
  }
  body.append(list);

  const meta = el('p', 'meta');
  const timing = el('span', 'ms', `${Math.round(data.ms)} ms`);
  const runtime = data.backend === 'ursa' ? "Ursa's engine" : 'ONNX Runtime Web';
  timing.title = `decode + resize ${data.prepMs.toFixed(1)} ms, model ${data.inferMs.toFixed(1)} ms (${runtime})`;
  meta.append(timing);
  const rest = [];
  if (data.width && data.height) rest.push(`${data.width}×${data.height}`);
  if (data.decoder === 'browser') rest.push('decoded by the browser');
  meta.append(` (${Math.round(data.prepMs)} prep + ${Math.round(data.inferMs)} model)`);
  if (data.backend === 'ursa') rest.push("Ursa's engine");
  if (rest.length) meta.append(` · ${rest.join(' · ')}`);
  body.append(meta);
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

// Stops the queue and forgets every card; the photo in the worker finishes unseen.
$('#clear').addEventListener('click', () => {
  queue.length = 0;
  resultsEl.replaceChildren();
  for (const url of previewUrls) URL.revokeObjectURL(url);
  previewUrls.clear();
  previewsDue.clear();
  Object.assign(tally, { total: 0, done: 0, failed: 0, ms: 0, timed: 0, labels: new Map() });
  batch = { size: 0, labels: new Map(), failed: 0 };
  updateProgress();
  announce('Results cleared.');
  $('#files').focus();
});

// ---- inputs: pick, camera, drop, paste, samples, model ------------------------------

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

// Enter opens the file pickers too (browsers open a focused file input on Space only).
for (const input of document.querySelectorAll('input[type=file]')) {
  input.addEventListener('keydown', (e) => {
    if (e.key !== 'Enter' || e.altKey || e.ctrlKey || e.metaKey || e.shiftKey) return;
    e.preventDefault();
    input.click();
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

// Sample photos shipped with the site (samples/index.json): one click classifies one.
async function showSamples() {
  let list;
  try {
    const response = await fetch(new URL('./samples/index.json', import.meta.url));
    if (!response.ok) return;
    list = await response.json();
  } catch {
    return;  // no samples on this site
  }
  const row = $('#samples .sample-row');
  for (const { file, title } of Array.isArray(list) ? list : []) {
    if (typeof file !== 'string' || !/^[\w.-]+$/.test(file)) continue;
    const button = el('button', 'sample');
    button.type = 'button';
    button.dataset.sample = file;
    button.setAttribute('aria-label', `Classify the sample photo: ${title || file}`);
    button.title = title || file;
    const img = el('img');
    img.src = new URL(`./samples/${file}`, import.meta.url).href;
    img.alt = '';
    img.decoding = 'async';
    button.append(img, el('span', 'sample-name', file.replace(/\.[^.]+$/, '')));
    button.addEventListener('click', async () => {
      try {
        const response = await fetch(img.src);
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
        const blob = await response.blob();
        enqueue([new File([blob], file, { type: blob.type || 'image/jpeg' })]);
      } catch (e) {
        setStatus('error', `Could not load the sample ${file}: ${e.message || e}`);
      }
    });
    row.append(button);
  }
  if (row.children.length) $('#samples').hidden = false;
}

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

// ---- offline and updates ----------------------------------------------------------------

// Offline after the first visit: sw.js keeps every file of this version of the site.
// The worker starts once the service worker controls the page, so that even the first
// visit's downloads (runtime, model) are cached in passing, not fetched twice.
// A newer version of the site installs in the background; the page then offers to
// reload, and reloads only when asked (once: never in a loop).
let reloadAsked = false;
let controlled = false;

function offerUpdate(waiting) {
  const banner = $('#update');
  if (!banner.hidden) return;
  banner.hidden = false;
  $('#update-reload').addEventListener('click', () => {
    if (waiting && waiting.state === 'installed') {
      reloadAsked = true;
      waiting.postMessage({ type: 'skip-waiting' });  // controllerchange then reloads
    } else {
      location.reload();  // the new version already controls the page
    }
  }, { once: true });
}

function watchUpdates(registration) {
  const track = (sw) => {
    if (!sw) return;
    const check = () => {
      if (sw.state === 'installed' && navigator.serviceWorker.controller) offerUpdate(sw);
    };
    check();
    sw.addEventListener('statechange', check);
  };
  track(registration.waiting);
  track(registration.installing);
  registration.addEventListener('updatefound', () => track(registration.installing));
  // A page left open for days still learns of a new version.
  setInterval(() => registration.update().catch(() => {}), 60 * 60 * 1000);
}

function showVersion() {
  const sw = navigator.serviceWorker?.controller;
  if (sw) sw.postMessage({ type: 'version' });
}

// Once per tab: a page that the service worker controls but that is not cross-origin
// isolated (the first visit, before the worker added COOP/COEP) reloads itself to be;
// if that does not help (a browser without the headers' support), it never tries again.
const COI_RELOAD = 'ursa-coi-reload';
function reloadForIsolation() {
  if (window.crossOriginIsolated || !navigator.serviceWorker?.controller) return false;
  try {
    if (sessionStorage.getItem(COI_RELOAD)) return false;
    sessionStorage.setItem(COI_RELOAD, '1');
  } catch {
    return false;  // no sessionStorage: no loop guard, so no reload
  }
  location.reload();
  return true;
}

async function offlineReady() {
  if (!('serviceWorker' in navigator) || !window.isSecureContext) return;
  try {
    controlled = Boolean(navigator.serviceWorker.controller);
    navigator.serviceWorker.addEventListener('message', ({ data }) => {
      if (data?.type === 'version' && data.version) {
        $('#site-version').textContent = ` · site version ${data.version}`;
        $('#site-version').dataset.version = data.version;
      }
    });
    navigator.serviceWorker.addEventListener('controllerchange', () => {
      if (reloadAsked) {
        reloadAsked = false;
        location.reload();
      } else if (controlled) {
        offerUpdate(null);  // another tab switched to the new version
      }
      controlled = true;
      showVersion();
    });
    const registration = await navigator.serviceWorker.register(new URL('./sw.js', import.meta.url),
      { updateViaCache: 'none' });
    watchUpdates(registration);
    if (navigator.serviceWorker.controller) {
      showVersion();
      return;
    }
    await new Promise((resolve) => {
      navigator.serviceWorker.addEventListener('controllerchange', resolve, { once: true });
      setTimeout(resolve, 4000);  // never hold the page back for long
    });
  } catch {
    // No service worker (e.g. a host that cannot serve sw.js): the page still works online.
  }
}

// ---- start ----------------------------------------------------------------------------

async function start() {
  await offlineReady();
  if (reloadForIsolation()) return;  // before any work starts: nothing is lost
  worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
  worker.addEventListener('message', onWorkerMessage);
  worker.addEventListener('error', onWorkerError);
  worker.postMessage({ type: 'init', url: new URL('./model.onnx', location.href).href, backend: BACKEND });
}

const started = start();
showSamples();
