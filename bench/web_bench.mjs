#!/usr/bin/env node
// Times pages in real Chromium (playwright-core from web/node_modules, headless): navigation
// to #status[data-state=ready] cold (a fresh browser profile: empty HTTP cache, no service worker)
// and warm (a second navigation in the same context), the latency of one photo from
// input#files' change event to its .result[data-label], and the bytes the server sent.
// Run by bench/web_bench.sh, which builds the sites and starts the servers.
//
// usage: node bench/web_bench.mjs --photo JPEG [--runs N] [--photos M] [--json OUT]
//          [--chromium PATH] --page NAME=URL,BYTES_URL [--page NAME=URL,BYTES_URL ...]
//   NAME       a label for the table ("ursa", "ort-baseline-isolated", ...)
//   URL        the page; it must have #status[data-state], input#files and .result[data-label]
//   BYTES_URL  the server's counter (bench/web_bench_serve.py: GET returns and resets it)
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..');

function parseArgs(argv) {
  const args = { runs: 5, photos: 5, pages: [], chromium: process.env.URSA_CHROMIUM || '/usr/bin/chromium', timeout: 180e3 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = argv[i + 1];
    if (v === undefined) throw new Error(`missing value after ${a}`);
    i++;
    if (a === '--photo') args.photo = path.resolve(v);
    else if (a === '--runs') args.runs = Number(v);
    else if (a === '--photos') args.photos = Number(v);
    else if (a === '--json') args.json = v;
    else if (a === '--chromium') args.chromium = v;
    else if (a === '--page') {
      const m = /^([\w.-]+)=([^,]+),(.+)$/.exec(v);
      if (!m) throw new Error(`--page wants NAME=URL,BYTES_URL, got ${v}`);
      args.pages.push({ name: m[1], url: m[2], bytesUrl: m[3] });
    } else throw new Error(`unknown argument ${a}`);
  }
  if (!args.photo || !args.pages.length) throw new Error('usage: web_bench.mjs --photo JPEG --page NAME=URL,BYTES_URL ...');
  return args;
}

const median = (xs) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!s.length) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

// Runs in every page before its scripts: notes when #status first leaves `loading`,
// when input#files changes, and when each photo's .result gets its label (or error).
function instrument() {
  const b = window.__bench = { ready: null, state: null, change: [], done: [] };
  const seen = () => document.querySelectorAll('#results .result[data-label], #results .result[data-error]').length;
  new MutationObserver(() => {
    const now = performance.now();
    const s = document.querySelector('#status');
    if (b.ready === null && s && s.dataset.state && s.dataset.state !== 'loading') {
      b.ready = now;
      b.state = s.dataset.state;
      b.stateText = s.textContent.trim();
    }
    while (b.done.length < seen()) b.done.push(now);
  }).observe(document, { subtree: true, childList: true, attributes: true });
  document.addEventListener('change', (e) => {
    if (e.target && e.target.id === 'files') b.change.push(performance.now());
  }, true);
}

async function counter(url) {
  const r = await fetch(url);
  return r.json();
}

// Bytes the server sent since the last call, once it has sent nothing more for `quietMs`
// (a page may keep downloading after it is ready: Ursa's service worker caches the site).
async function settle(url, first, quietMs = 1500, maxMs = 30000) {
  const total = { bytes: first.bytes, requests: first.requests, paths: { ...first.paths } };
  const t0 = Date.now();
  let quietSince = Date.now();
  while (Date.now() - quietSince < quietMs && Date.now() - t0 < maxMs) {
    await new Promise((r) => setTimeout(r, 250));
    const c = await counter(url);
    if (c.requests || c.bytes) {
      quietSince = Date.now();
      total.bytes += c.bytes;
      total.requests += c.requests;
      for (const [p, [n, bytes]] of Object.entries(c.paths)) {
        const e = total.paths[p] || [0, 0];
        total.paths[p] = [e[0] + n, e[1] + bytes];
      }
    }
  }
  return total;
}

async function load(page, target, timeout) {
  await counter(target.bytesUrl);  // reset
  const t0 = Date.now();
  await page.goto(target.url, { waitUntil: 'commit', timeout });
  // Polled, not waitForFunction: a page may reload itself on the way (Ursa's page does
  // once, to become cross-origin isolated through its service worker), so the time is
  // taken from before the first navigation, in wall-clock milliseconds.
  let b = null;
  while (!b) {
    if (Date.now() - t0 > timeout) throw new Error(`${target.name}: not ready after ${timeout} ms`);
    await new Promise((r) => setTimeout(r, 50));
    b = await page.evaluate(() => (window.__bench && window.__bench.ready !== null ? {
      readyEpoch: performance.timeOrigin + window.__bench.ready, ready: window.__bench.ready,
      state: window.__bench.state, text: window.__bench.stateText,
      navType: performance.getEntriesByType('navigation')[0]?.type,
      workerStart: performance.getEntriesByType('resource').find((e) => /\/worker\.js$/.test(e.name))?.startTime,
    } : null)).catch(() => null);
  }
  if (b.state !== 'ready') throw new Error(`${target.name}: page state ${b.state}: ${b.text}`);
  const atReady = await counter(target.bytesUrl);
  const all = await settle(target.bytesUrl, atReady);
  return { readyMs: b.readyEpoch - t0, readyInLastNavMs: b.ready, reloaded: b.navType === 'reload', workerStartMs: b.workerStart, bytesToReady: atReady.bytes, bytes: all.bytes, requests: all.requests, paths: all.paths };
}

// A fresh browser profile (user data dir) per context: a visitor's real disk HTTP cache and
// storage. (An incognito context, playwright's newContext, keeps its HTTP cache in memory
// and does not cache files as large as the model or ORT's wasm, so a second visit would
// download them again.)
async function newContext(chromium, args) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ursa-web-bench-'));
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: args.chromium, args: BROWSER_ARGS, viewport: { width: 1100, height: 820 },
  });
  await context.addInitScript(instrument);
  const close = context.close.bind(context);
  context.close = async () => {
    await close();
    fs.rmSync(dir, { recursive: true, force: true });
  };
  return context;
}

const BROWSER_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync'];

async function photoRun(page, photo, timeout) {
  const n = await page.evaluate(() => window.__bench.done.length);
  await page.setInputFiles('#files', photo);
  await page.waitForFunction((k) => window.__bench.done.length > k, n, { timeout, polling: 50 });
  return page.evaluate((k) => {
    const b = window.__bench;
    const cards = document.querySelectorAll('#results .result');
    const el = cards[cards.length - 1];
    const out = { ms: b.done[k] - b.change[b.change.length - 1], label: el.dataset.label, error: el.dataset.error };
    // The page's own split: Ursa's card title, the baseline's data attributes.
    const title = el.querySelector('.ms')?.title || '';
    const m = /decode \+ resize ([\d.]+) ms, model ([\d.]+) ms/.exec(title);
    out.prepMs = m ? Number(m[1]) : Number(el.dataset.prepMs);
    out.inferMs = m ? Number(m[2]) : Number(el.dataset.inferMs);
    out.pageMs = Number(el.dataset.ms);  // the page's own total (Ursa's: without its preview)
    return out;
  }, n);
}

async function benchPage(chromium, target, args, log) {
  const res = { name: target.name, cold: [], warm: [] };
  for (let i = 0; i < args.runs; i++) {
    const context = await newContext(chromium, args);
    const page = context.pages()[0] || await context.newPage();
    const cold = await load(page, target, args.timeout);
    const warm = await load(page, target, args.timeout);
    res.cold.push(cold);
    res.warm.push(warm);
    if (i === 0) {
      res.info = await page.evaluate(() => ({
        isolated: self.crossOriginIsolated,
        threads: document.querySelector('#backend')?.dataset.threads || (/(\d+) thread/.exec(document.querySelector('#status').textContent) || [])[1],
        sw: Boolean(navigator.serviceWorker?.controller),
      }));
    }
    const ws = (r) => `${r.reloaded ? ` (reloaded itself; ${r.readyInLastNavMs.toFixed(0)} ms after the reload)` : ''}`
      + `${r.workerStartMs === undefined ? '' : `, worker started at ${r.workerStartMs.toFixed(0)} ms`}`;
    log(`${target.name} run ${i + 1}: cold ${cold.readyMs.toFixed(0)} ms${ws(cold)}, ${(cold.bytes / 1e6).toFixed(2)} MB (${cold.requests} requests); `
      + `warm ${warm.readyMs.toFixed(0)} ms${ws(warm)}, ${(warm.bytes / 1e3).toFixed(1)} kB (${warm.requests} requests)`);
    await context.close();
  }
  // Photos: a fresh context, cold load, wait until the page has stopped downloading.
  const context = await newContext(chromium, args);
  const page = context.pages()[0] || await context.newPage();
  await load(page, target, args.timeout);
  res.photos = [];
  for (let i = 0; i <= args.photos; i++) {
    const r = await photoRun(page, args.photo, args.timeout);
    if (r.error) throw new Error(`${target.name}: photo failed: ${r.error}`);
    res.photos.push(r);
    log(`${target.name} photo ${i + 1}: ${r.ms.toFixed(0)} ms (page's own ${r.pageMs} ms: prep ${r.prepMs.toFixed(0)} + model ${r.inferMs.toFixed(0)}) → ${r.label}`);
  }
  await context.close();
  const steady = res.photos.slice(1);
  res.summary = {
    coldMs: median(res.cold.map((r) => r.readyMs)),
    coldWorkerStartMs: median(res.cold.map((r) => r.workerStartMs)),
    warmWorkerStartMs: median(res.warm.map((r) => r.workerStartMs)),
    warmMs: median(res.warm.map((r) => r.readyMs)),
    coldBytes: median(res.cold.map((r) => r.bytes)),
    coldBytesToReady: median(res.cold.map((r) => r.bytesToReady)),
    coldRequests: median(res.cold.map((r) => r.requests)),
    warmBytes: median(res.warm.map((r) => r.bytes)),
    warmRequests: median(res.warm.map((r) => r.requests)),
    firstPhotoMs: res.photos[0].ms,
    photoMs: median(steady.map((r) => r.ms)),
    photoPageMs: median(steady.map((r) => r.pageMs)),
    photoPrepMs: median(steady.map((r) => r.prepMs)),
    photoInferMs: median(steady.map((r) => r.inferMs)),
  };
  return res;
}

function table(results) {
  const mb = (b) => `${(b / 1e6).toFixed(2)} MB`;
  const kb = (b) => `${(b / 1e3).toFixed(1)} kB`;
  const ms = (x) => `${Math.round(x)} ms`;
  const rows = [['page', 'threads', 'cold → ready', 'warm → ready', 'first 12 MP photo', '12 MP photo: to .result (page\'s own: prep + model)',
    'bytes cold (to ready)', 'bytes warm']];
  for (const r of results) {
    const s = r.summary;
    rows.push([r.name, String(r.info.threads ?? '?'), ms(s.coldMs), ms(s.warmMs), ms(s.firstPhotoMs),
      `${ms(s.photoMs)} (${ms(s.photoPageMs)}: ${Math.round(s.photoPrepMs)} + ${Math.round(s.photoInferMs)})`,
      `${mb(s.coldBytes)} (${mb(s.coldBytesToReady)}), ${s.coldRequests} req`, `${kb(s.warmBytes)}, ${s.warmRequests} req`]);
  }
  return rows.map((row) => `| ${row.join(' | ')} |`).join('\n').replace(/\n/, `\n|${rows[0].map(() => '---').join('|')}|\n`);
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const require = createRequire(path.join(repo, 'web', 'package.json'));
  const { chromium } = require('playwright-core');
  const browser = await chromium.launch({ executablePath: args.chromium, args: BROWSER_ARGS });
  const version = browser.version();
  await browser.close();
  const log = (s) => console.log(`  ${s}`);
  const results = [];
  console.log(`Chromium ${version} headless, a fresh profile per run, ${args.runs} cold+warm loads per page (median), `
    + `${args.photos} photos after a first one; photo ${path.basename(args.photo)} (${(fs.statSync(args.photo).size / 1e6).toFixed(2)} MB)`);
  for (const target of args.pages) results.push(await benchPage(chromium, target, args, log));
  console.log(`\n${table(results)}\n`);
  const byName = Object.fromEntries(results.map((r) => [r.name, r.summary]));
  for (const [a, b] of [['ursa', 'ort-baseline'], ['ursa-isolated', 'ort-baseline-isolated']]) {
    if (!byName[a] || !byName[b]) continue;
    const x = byName[a];
    const y = byName[b];
    const f = (p, q) => `${(p / q).toFixed(2)}×`;
    console.log(`${a} / ${b}: cold ${f(x.coldMs, y.coldMs)}, warm ${f(x.warmMs, y.warmMs)}, first photo ${f(x.firstPhotoMs, y.firstPhotoMs)}, `
      + `photo ${f(x.photoMs, y.photoMs)}, bytes cold ${f(x.coldBytes, y.coldBytes)}`);
  }
  // Biggest files of the first cold load of each page.
  for (const r of results) {
    const top = Object.entries(r.cold[0].paths).sort((p, q) => q[1][1] - p[1][1]).slice(0, 4)
      .map(([p, [n, b]]) => `${p} ${(b / 1e6).toFixed(2)} MB${n > 1 ? ` (${n}×)` : ''}`);
    console.log(`${r.name} cold, largest: ${top.join(', ')}`);
  }
  if (args.json) fs.writeFileSync(args.json, `${JSON.stringify({ chromium: version, results }, null, 1)}\n`);
}

main().catch((e) => {
  console.error(`web_bench: ${e.stack || e}`);
  process.exit(1);
});
