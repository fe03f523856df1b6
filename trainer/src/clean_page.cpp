// The page `ursa clean --serve` serves: plain HTML, CSS and an ES module (no inline
// script, so the strict Content-Security-Policy holds).
namespace ursa {

extern const char* const kCleanPageHtml;
extern const char* const kCleanPageJs;
extern const char* const kCleanPageCss;

const char* const kCleanPageHtml = R"HTML(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Ursa cleaner</title>
<link rel="stylesheet" href="clean.css">
<script type="module" src="clean.js"></script>
</head>
<body>
<header>
  <h1>Clean the data</h1>
  <p id="about">Images sorted by loss, highest first: the model's worst mistakes and likely wrong labels come first.
  Mark what to delete or relabel; nothing moves until you apply the saved plan.</p>
</header>
<form id="controls" aria-label="Which images">
  <label>Label <select id="label"></select></label>
  <label>Split <select id="split"><option value="train">Train</option><option value="valid">Valid</option></select></label>
  <span id="marks" aria-live="polite">0 changes marked</span>
  <button type="button" id="save">Save plan</button>
  <button type="button" id="stop">Save and stop the server</button>
</form>
<p id="status" role="status" aria-live="polite" data-state="loading">Loading…</p>
<nav class="pager" aria-label="Pages"><button type="button" id="prev">&larr; Previous</button>
  <span id="page"></span><button type="button" id="next">Next &rarr;</button></nav>
<ul id="items" aria-label="Images"></ul>
</body>
</html>
)HTML";

const char* const kCleanPageCss = R"CSS(:root { color-scheme: light dark; --bg: #fff; --fg: #1b1b1b; --card: #f3f3f3; --accent: #2557d6;
  --del: #c62828; --rel: #b26a00; font-family: system-ui, sans-serif; }
@media (prefers-color-scheme: dark) { :root { --bg: #161616; --fg: #eee; --card: #262626; --accent: #8fb0ff;
  --del: #ff7b7b; --rel: #ffb74d; } }
body { background: var(--bg); color: var(--fg); margin: 1rem auto; max-width: 1200px; padding: 0 1rem; }
h1 { margin: 0 0 .25rem; font-size: 1.5rem; }
#about { margin-top: 0; max-width: 60rem; }
#controls { display: flex; flex-wrap: wrap; gap: .75rem; align-items: center; position: sticky; top: 0;
  background: var(--bg); padding: .5rem 0; z-index: 1; }
select, button { font: inherit; padding: .3rem .5rem; }
button { cursor: pointer; }
#status[data-state=error] { color: var(--del); }
.pager { display: flex; gap: 1rem; align-items: center; margin: .5rem 0; }
#items { list-style: none; padding: 0; display: grid; grid-template-columns: repeat(auto-fill, minmax(180px, 1fr));
  gap: .75rem; }
.item { background: var(--card); border-radius: 6px; padding: .5rem; border: 3px solid transparent; }
.item[data-action=delete] { border-color: var(--del); }
.item[data-action=relabel] { border-color: var(--rel); }
.item img { display: block; width: 100%; height: 128px; object-fit: contain; background: #0002; }
.item .file { font-size: .75rem; word-break: break-all; }
.item .stats { font-size: .8rem; margin: .25rem 0; }
.item select { width: 100%; }
)CSS";

const char* const kCleanPageJs = R"JS(// Marks live in a Map keyed by file, saved to localStorage on every change, so they
// survive label/split switches and reloads; the server's saved plan seeds them.
const token = new URLSearchParams(location.search).get('token') || '';
const $ = (id) => document.getElementById(id);
const marks = new Map();
let state = null;
let offset = 0;
let storeKey = '';

async function api(path, options = {}) {
  const res = await fetch(path, { ...options, headers: { ...(options.headers || {}), 'X-Ursa-Token': token } });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body.error || `${res.status} ${res.statusText}`);
  return body;
}

function setStatus(text, kind = 'ready') {
  $('status').textContent = text;
  $('status').dataset.state = kind;
}

function persist() {
  localStorage.setItem(storeKey, JSON.stringify([...marks.entries()]));
  const n = marks.size;
  $('marks').textContent = `${n} change${n === 1 ? '' : 's'} marked`;
}

function planBody() {
  const items = [...marks.entries()].map(([file, m]) =>
    m.action === 'relabel' ? { file, action: 'relabel', label: m.label } : { file, action: 'delete' });
  return JSON.stringify({ version: 1, data: state.data, items });
}

function card(item) {
  const li = document.createElement('li');
  li.className = 'item';
  li.dataset.file = item.file;
  const img = document.createElement('img');
  img.loading = 'lazy';
  img.alt = item.file;
  img.src = `thumb?file=${encodeURIComponent(item.file)}&token=${encodeURIComponent(token)}`;
  const file = document.createElement('div');
  file.className = 'file';
  file.textContent = item.file;
  const stats = document.createElement('div');
  stats.className = 'stats';
  stats.textContent = `predicted ${item.predicted} (${item.prob.toFixed(2)}), loss ${item.loss.toFixed(2)}`;
  const select = document.createElement('select');
  select.className = 'action';
  select.setAttribute('aria-label', `What to do with ${item.file}`);
  const options = [['keep', '<Keep>'], ['delete', '<Delete>']];
  for (const l of state.vocab) if (l !== item.label) options.push([`relabel:${l}`, `relabel as ${l}`]);
  for (const [value, text] of options) select.add(new Option(text, value));
  const m = marks.get(item.file);
  select.value = m ? (m.action === 'delete' ? 'delete' : `relabel:${m.label}`) : 'keep';
  li.dataset.action = m ? m.action : 'keep';
  select.addEventListener('change', () => {
    const v = select.value;
    if (v === 'keep') marks.delete(item.file);
    else if (v === 'delete') marks.set(item.file, { action: 'delete' });
    else marks.set(item.file, { action: 'relabel', label: v.slice('relabel:'.length) });
    li.dataset.action = v === 'keep' ? 'keep' : v.split(':')[0];
    persist();
  });
  li.append(img, file, stats, select);
  return li;
}

async function show() {
  const split = $('split').value, label = $('label').value;
  setStatus(`Loading ${label} (${split})…`, 'loading');
  try {
    const r = await api(`api/items?split=${encodeURIComponent(split)}&label=${encodeURIComponent(label)}` +
                        `&offset=${offset}&limit=${state.page_size}`);
    $('items').replaceChildren(...r.items.map(card));
    const last = Math.min(r.total, offset + r.items.length);
    $('page').textContent = r.total ? `${offset + 1}–${last} of ${r.total}` : 'no images';
    $('prev').disabled = offset === 0;
    $('next').disabled = last >= r.total;
    setStatus(`${r.total} ${label} image${r.total === 1 ? '' : 's'} in ${split}, highest loss first`);
  } catch (e) {
    setStatus(`Could not load images: ${e.message}`, 'error');
  }
}

async function save(stop) {
  try {
    const r = await api(stop ? 'api/stop' : 'api/plan', { method: 'POST', body: planBody(),
                                                         headers: { 'Content-Type': 'application/json' } });
    setStatus(`Saved ${r.items} change${r.items === 1 ? '' : 's'} to ${r.path}. Apply with: ` +
              `ursa clean ${state.run} --plan ${r.path} --apply` + (stop ? ' (the server has stopped)' : ''), 'saved');
  } catch (e) {
    setStatus(`Could not save: ${e.message}`, 'error');
  }
}

async function main() {
  try {
    state = await api('api/state');
  } catch (e) {
    setStatus(`Could not reach the cleaner: ${e.message}`, 'error');
    return;
  }
  storeKey = `ursa-clean:${state.run}:${state.data}`;
  for (const it of state.plan || []) marks.set(it.file, it.action === 'relabel' ? { action: 'relabel', label: it.label } : { action: 'delete' });
  const stored = localStorage.getItem(storeKey);  // newer than the saved plan: it has every change since
  if (stored) { marks.clear(); for (const [f, m] of JSON.parse(stored)) marks.set(f, m); }
  for (const l of state.vocab) {
    const n = (state.counts.train?.[state.vocab.indexOf(l)] ?? 0) + (state.counts.valid?.[state.vocab.indexOf(l)] ?? 0);
    $('label').add(new Option(`${l} (${n})`, l));
  }
  if (!state.counts.valid) $('split').querySelector('option[value=valid]').disabled = true;
  $('label').addEventListener('change', () => { offset = 0; show(); });
  $('split').addEventListener('change', () => { offset = 0; show(); });
  $('prev').addEventListener('click', () => { offset = Math.max(0, offset - state.page_size); show(); });
  $('next').addEventListener('click', () => { offset += state.page_size; show(); });
  $('save').addEventListener('click', () => save(false));
  $('stop').addEventListener('click', () => save(true));
  persist();
  await show();
}

main();
)JS";

}  // namespace ursa
