#!/usr/bin/env node
// Browser end-to-end test of the Ursa page in real (Debian) Chromium via playwright-core.
//
// usage: node tests/web/e2e.mjs --site URL --photo PATH [--expect-json PREDICT_JSON]
//          [--labels a,b,c] [--screenshot FILE] [--bad-model FILE] [--model-file FILE]
//          [--offline] [--batch N] [--csp POLICY] [--isolated-site URL [--csp-header]]
//          [--update-cmd SHELL_COMMAND --update-expect TEXT] [--wrong-size-model FILE]
//          [--relabelled-model FILE --relabelled-labels a,b,c] [--proof-dir DIR --proof-json PREDICT_JSON]
//          [--chromium PATH] [--timeout SECONDS]
//
// Checks (one PASS/FAIL line each; exit status 1 when any fails):
//   the page becomes ready; the photo yields one .result with a known label and a
//   probability in (0,1]; it agrees with `ursa predict --json` (same label, |Δprob| ≤ 1e-3);
//   a non-image file yields .result[data-error] while the page stays ready; the photo
//   dropped on the page and pasted is classified the same; optionally
//   #model-file rejects a model without Ursa metadata and accepts a good one; optionally
//   (--offline) the page works offline after the first visit (service worker); and no
//   request leaves the site's origin or carries a body (no POST/PUT: photos stay local).
//   Also: the strict Content-Security-Policy is in force and never violated; latency and
//   backend are shown; results are announced (aria-live); every control is labelled and
//   reachable with Tab, Enter opens the file picker and classifies a sample; a batch of
//   --batch photos runs through a visible queue (progress with aria values) without
//   freezing the page; previews' object URLs are revoked by Clear; a decompression bomb
//   is refused; no horizontal scrolling at 360 px; a dark theme; on the plain server the
//   page reloads itself once and is then cross-origin isolated by its service worker's
//   headers (threads); with --isolated-site (COOP/COEP headers from the host) ONNX
//   Runtime uses several threads at once; with --update-cmd (deploys a
//   new build) the open page offers "a new version is available", reloads once when asked.
//   Also: the page is installable (Page.getInstallabilityErrors: none; PNG icons 192/512 and an
//   apple-touch-icon, all in the service worker's file list); with service workers blocked
//   (not isolated) it runs on 1 thread and agrees with `ursa predict`; a model whose input
//   disagrees with its ursa.input is refused naming the input; a model with other labels
//   (--relabelled-model) shows them; and (--proof-dir) several real photos, a truncated and a
//   corrupt JPEG, a .txt and a WebP uploaded at once agree with `ursa predict` card by card
//   (the WebP, which core does not decode, is decoded by the browser; the bad JPEGs, which
//   core claims and refuses, are errors even where Chromium would show them).
//   And ?backend=ursa: core's own engine (in core.wasm) runs the model, ONNX Runtime is not
//   downloaded, the footer and cards name Ursa's engine, the photo and (--proof-dir) every
//   proof card equal `ursa predict --json`, and #model-file swaps models on that engine too.
import { execSync } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..', '..');
const PROB_TOLERANCE = 1e-3;
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

function parseArgs(argv) {
  const args = { labels: null, timeout: 180, chromium: process.env.URSA_CHROMIUM || '/usr/bin/chromium' };
  const names = {
    '--site': 'site', '--photo': 'photo', '--expect-json': 'expectJson', '--labels': 'labels',
    '--screenshot': 'screenshot', '--bad-model': 'badModel', '--model-file': 'modelFile',
    '--chromium': 'chromium', '--timeout': 'timeout', '--batch': 'batch', '--csp': 'csp',
    '--isolated-site': 'isolatedSite', '--update-cmd': 'updateCmd', '--update-expect': 'updateExpect',
    '--wrong-size-model': 'wrongSizeModel', '--relabelled-model': 'relabelledModel',
    '--relabelled-labels': 'relabelledLabels', '--proof-dir': 'proofDir', '--proof-json': 'proofJson',
  };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--offline' || argv[i] === '--csp-header') {
      args[argv[i] === '--offline' ? 'offline' : 'cspHeader'] = true;
      continue;
    }
    const key = names[argv[i]];
    if (!key || i + 1 >= argv.length) {
      console.error(`e2e: unknown or incomplete argument '${argv[i]}'`);
      process.exit(2);
    }
    args[key] = argv[++i];
  }
  if (!args.site || !args.photo) {
    console.error('usage: node tests/web/e2e.mjs --site URL --photo PATH [--expect-json FILE] [--labels a,b,c] '
      + '[--screenshot FILE] [--bad-model FILE] [--model-file FILE] [--offline] [--chromium PATH] [--timeout SECONDS]');
    process.exit(2);
  }
  if (args.labels) args.labels = args.labels.split(',').map((s) => s.trim()).filter(Boolean);
  if (args.relabelledLabels) args.relabelledLabels = args.relabelledLabels.split(',').map((s) => s.trim()).filter(Boolean);
  args.timeout = Number(args.timeout) * 1000;
  args.batch = Number(args.batch || 0);
  return args;
}

const failures = [];
let checkPrefix = '';  // names the page variant under test (e.g. "?backend=ursa: ")
function check(name, ok, detail = '') {
  console.log(`${ok ? 'PASS' : 'FAIL'} ${checkPrefix}${name}${detail ? ` — ${detail}` : ''}`);
  if (!ok) failures.push(`${checkPrefix}${name}`);
  return ok;
}

async function statusOf(page) {
  return page.$eval('#status', (el) => ({ state: el.dataset.state, text: el.textContent.trim() }));
}

// Waits until #status leaves `loading` and returns it.
// On a first visit the page reloads itself once, to be cross-origin isolated by its
// service worker's headers: the wait goes on through that navigation.
async function settledStatus(page, timeout) {
  const until = Date.now() + timeout;
  for (;;) {
    try {
      await page.waitForFunction(() => {
        const el = document.querySelector('#status');
        return el && el.dataset.state && el.dataset.state !== 'loading';
      }, null, { timeout: Math.max(1, until - Date.now()) });
      return await statusOf(page);
    } catch (e) {
      if (Date.now() >= until || !/context was destroyed|navigat/i.test(String(e))) throw e;
      await page.waitForLoadState('load').catch(() => {});
    }
  }
}

async function resultCount(page) {
  return page.$$eval('#results .result', (els) => els.length);
}

async function waitResults(page, n, timeout) {
  await page.waitForFunction((count) => document.querySelectorAll('#results .result').length >= count, n, { timeout });
}

// Drop and paste events carrying the photo as a File, as the browser makes them.
async function checkDropAndPaste(page, args, first) {
  const photo = { b64: fs.readFileSync(args.photo).toString('base64'), type: 'image/jpeg' };
  for (const [how, name] of [['drop', 'dropped.jpg'], ['paste', 'image.png']]) {
    const before = await resultCount(page);
    await page.evaluate(({ how, name, b64, type }) => {
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const data = new DataTransfer();
      data.items.add(new File([bytes], name, { type }));
      const event = how === 'drop'
        ? new DragEvent('drop', { dataTransfer: data, bubbles: true, cancelable: true })
        : new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true });
      document.body.dispatchEvent(event);  // drops, like pastes, work anywhere on the page
    }, { how, name, ...photo });
    await waitResults(page, before + 1, args.timeout);
    const r = await lastResult(page);
    const named = how === 'drop' ? r.file === name : /^pasted-\d{6}\.jpeg$/.test(r.file || '');
    check(`a ${how === 'drop' ? 'dropped' : 'pasted'} photo is classified as when picked (${r.file})`,
      named && !r.error && r.label === first.label && Math.abs(Number(r.prob) - Number(first.prob)) < 1e-6,
      `${r.file}: ${r.error || `${r.label} ${r.prob}`} vs ${first.label} ${first.prob}`);
  }
}

// The last card's preview has arrived (it follows the result) or is marked broken.
async function previewSettled(page, timeout) {
  await page.waitForFunction(() => {
    const el = [...document.querySelectorAll('#results .result')].pop();
    return el && (el.querySelector('.thumb img') || el.querySelector('.thumb.broken'));
  }, null, { timeout });
}

async function lastResult(page) {
  return page.$$eval('#results .result', (els) => {
    const el = els[els.length - 1];
    return { file: el.dataset.file, label: el.dataset.label, prob: el.dataset.prob, error: el.dataset.error };
  });
}

// The entry of `ursa predict --json` for this photo (by file name, else the first).
function expectedFor(expectJson, photo) {
  const records = JSON.parse(fs.readFileSync(expectJson, 'utf8'));
  const list = Array.isArray(records) ? records : [records];
  return list.find((r) => r.file && path.basename(r.file) === path.basename(photo)) || list[0];
}

function checkAgainstNative(result, expected) {
  if (!check('native prediction available', expected && !expected.error && typeof expected.prob === 'number',
    expected?.error || '')) return;
  const webProb = Number(result.prob);
  if (result.label === expected.label) {
    check('same top label as ursa predict', true, expected.label);
    const diff = Math.abs(webProb - expected.prob);
    check(`probability matches ursa predict within ${PROB_TOLERANCE}`, diff <= PROB_TOLERANCE,
      `web ${webProb.toFixed(6)}, native ${expected.prob.toFixed(6)}, |Δ| ${diff.toExponential(2)}`);
    return;
  }
  // Different labels are acceptable only for a tie that float rounding can flip.
  const native = (expected.top || []).find((t) => t.label === result.label);
  const tie = native && Math.abs(native.prob - expected.prob) <= PROB_TOLERANCE
    && Math.abs(webProb - expected.prob) <= PROB_TOLERANCE;
  check('same top label as ursa predict', Boolean(tie),
    `web '${result.label}' ${webProb}, native '${expected.label}' ${expected.prob}${tie ? ' (tie)' : ''}`);
}

// Collects CSP violations and long main-thread tasks from the start of every page.
function instrument() {
  window.__csp = [];
  document.addEventListener('securitypolicyviolation', (e) => {
    window.__csp.push({ directive: e.violatedDirective, blocked: e.blockedURI, source: e.sourceFile, line: e.lineNumber });
  });
  window.__longTasks = [];
  try {
    new PerformanceObserver((list) => {
      for (const t of list.getEntries()) window.__longTasks.push({ start: t.startTime, duration: t.duration });
    }).observe({ type: 'longtask', buffered: true });
  } catch { /* no long-task timing */ }
}

function newContext(browser, options = {}) {
  return browser.newContext({ viewport: { width: 1100, height: 820 }, acceptDownloads: true, ...options })
    .then(async (context) => {
      await context.addInitScript(instrument);
      return context;
    });
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const require = createRequire(path.join(repo, 'web', 'package.json'));
  let chromium;
  try {
    ({ chromium } = require('playwright-core'));
  } catch (e) {
    console.error(`FAIL playwright-core not found in web/node_modules (run tools/setup.sh): ${e.message}`);
    return 1;
  }
  const site = new URL(args.site);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ursa-e2e-'));

  const browser = await chromium.launch({ executablePath: args.chromium, args: CHROMIUM_ARGS });
  try {
    const context = await newContext(browser);
    const requests = new Map();  // url+method -> {url, method, hasBody, from}
    const record = (from) => (req) => {
      const key = `${req.method()} ${req.url()}`;
      const body = req.postDataBuffer();
      if (!requests.has(key)) {
        requests.set(key, { url: req.url(), method: req.method(), hasBody: Boolean(body?.length),
          jpegBytes: Boolean(body && body.includes(Buffer.from([0xff, 0xd8, 0xff]))), from });
      }
    };
    context.on('request', record('context'));
    const page = await context.newPage();
    page.on('request', record('page'));
    page.on('worker', (w) => console.log(`info: worker ${w.url()}`));
    const pageErrors = [];
    const cspConsole = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => {
      if (m.type() !== 'error' && m.type() !== 'warning') return;
      console.log(`info: console ${m.type()}: ${m.text()}`);
      if (/Content.Security.Policy/i.test(m.text())) cspConsole.push(m.text());
    });

    await page.goto(site.href, { waitUntil: 'load', timeout: args.timeout });

    // 1. ready
    let status = await settledStatus(page, args.timeout).catch((e) => ({ state: 'timeout', text: e.message }));
    if (!check('page ready', status.state === 'ready', `${status.state}: ${status.text}`)) {
      if (args.screenshot) await page.screenshot({ path: args.screenshot, fullPage: true }).catch(() => {});
      return 1;
    }
    const info = await page.$eval('#model-info', (el) => el.textContent.trim());
    console.log(`info: ${info}`);
    const hooks = await page.evaluate(() => ({
      files: Boolean(document.querySelector('input[type=file][multiple]#files[accept^="image/"]')),
      drop: Boolean(document.querySelector('#drop')),
      results: Boolean(document.querySelector('#results')),
      modelFile: Boolean(document.querySelector('input[type=file]#model-file')),
      privacy: /never leave this device/i.test(document.body.textContent),
    }));
    check('DOM hooks present (#files, #drop, #results, #model-file, privacy line)', Object.values(hooks).every(Boolean),
      JSON.stringify(hooks));
    await checkCspPolicy(page, args, cspConsole);
    // No COOP/COEP from the host: the service worker adds them (after one reload), so
    // threads are on here too where there are cores for them.
    const reloads = await page.evaluate(() => sessionStorage.getItem('ursa-coi-reload'));
    check('plain http.server: the page reloaded itself once to be cross-origin isolated', reloads === '1', `${reloads}`);
    await checkBackend(page, 'plain http.server (isolated by the service worker)', { isolated: true,
      threads: (n) => (os.cpus().length >= 2 ? n > 1 : n === 1) });
    await checkInstallable(chromium, args, tmp);
    await checkIcons(page);

    // 2. a photo
    await page.setInputFiles('#files', args.photo);
    await waitResults(page, 1, args.timeout);
    const first = await lastResult(page);
    check('photo gives one .result', (await resultCount(page)) === 1 && first.file === path.basename(args.photo),
      `data-file=${first.file}`);
    check('photo classified without error', !first.error, first.error || `${first.label} ${first.prob}`);
    if (args.labels) {
      check('label is one of the model labels', args.labels.includes(first.label), `'${first.label}' in [${args.labels}]`);
    } else {
      check('label present', Boolean(first.label), `'${first.label}'`);
    }
    const prob = Number(first.prob);
    check('probability in (0, 1]', first.prob !== undefined && Number.isFinite(prob) && prob > 0 && prob <= 1, `${first.prob}`);
    if (args.expectJson) checkAgainstNative(first, expectedFor(args.expectJson, args.photo));
    await previewSettled(page, args.timeout);
    const shown = await page.$$eval('#results .result', (els) => {
      const el = els[els.length - 1];
      const img = el.querySelector('.thumb img');
      return { ms: el.dataset.ms, meta: el.querySelector('.meta')?.textContent || '', img: img?.src || '',
        announce: document.querySelector('#announce').textContent,
        live: document.querySelector('#announce').getAttribute('aria-live') };
    });
    check('latency shown on the card (total, prep + model)', Number(shown.ms) > 0
      && new RegExp(`^${shown.ms} ms \\(\\d+ prep \\+ \\d+ model\\)`).test(shown.meta), JSON.stringify(shown.meta));
    check('result announced in an aria-live region', shown.live === 'polite'
      && shown.announce.includes(`${first.file}: ${first.label}`), JSON.stringify(shown.announce));
    check('card preview is a small JPEG made in the worker (blob: URL)', shown.img.startsWith('blob:'), shown.img);

    // 3. a file that is no image
    const junk = path.join(tmp, 'not-a-photo.jpg');
    fs.writeFileSync(junk, 'This is a text file, not a JPEG.\n');
    await page.setInputFiles('#files', junk);
    await waitResults(page, 2, args.timeout);
    const bad = await lastResult(page);
    check('non-image gives .result[data-error]', bad.file === 'not-a-photo.jpg' && Boolean(bad.error && bad.error.trim()),
      `data-error=${JSON.stringify(bad.error)}`);
    status = await statusOf(page);
    check('page stays ready after a bad file', status.state === 'ready', `${status.state}: ${status.text}`);

    // 3b. a phone photo lying on its side: 24x16 pixels with EXIF orientation 6 is
    // 16x24 upright, and the page reports it so (turned once, by core, not twice).
    await page.setInputFiles('#files', path.join(repo, 'tests', 'fixtures', 'exif', 'exif_6.jpg'));
    await waitResults(page, 3, args.timeout);
    await previewSettled(page, args.timeout);
    const turned = await page.$$eval('#results .result', async (els) => {
      const el = els[els.length - 1];
      const img = el.querySelector('.thumb img');
      if (img && !img.complete) await new Promise((r) => { img.onload = r; img.onerror = r; });
      return { file: el.dataset.file, error: el.dataset.error, meta: el.querySelector('.meta')?.textContent || '',
        preview: img ? `${img.naturalWidth}×${img.naturalHeight}` : 'none' };
    });
    check('EXIF orientation 6 photo is reported upright (16×24)', turned.file === 'exif_6.jpg' && !turned.error
      && turned.meta.includes('16×24'), JSON.stringify(turned));
    check('its preview is upright too (16×24)', turned.preview === '16×24', turned.preview);

    // 3c. download the results: JSON in `ursa predict --json`'s shape, and CSV.
    const [jsonDl] = await Promise.all([page.waitForEvent('download'), page.click('#download-json')]);
    const records = JSON.parse(fs.readFileSync(await jsonDl.path(), 'utf8'));
    check('download JSON holds every result in predict --json shape', jsonDl.suggestedFilename() === 'ursa-results.json'
      && records.length === 3 && records[0].file === first.file && records[0].label === first.label
      && Math.abs(records[0].prob - Number(first.prob)) < 1e-9 && records[0].top.length >= 1
      && records[1].file === 'not-a-photo.jpg' && Boolean(records[1].error) && records[1].label === undefined,
    JSON.stringify(records).slice(0, 300));
    const [csvDl] = await Promise.all([page.waitForEvent('download'), page.click('#download-csv')]);
    const csv = fs.readFileSync(await csvDl.path(), 'utf8').trimEnd().split('\r\n');
    check('download CSV has a header and one row per photo', csv.length === 4 && csv[0] === 'file,label,prob,error'
      && csv[1].startsWith(`${first.file},${first.label},`) && csv[2].startsWith('not-a-photo.jpg,,,'),
    JSON.stringify(csv).slice(0, 300));

    // 3d. a decompression bomb (100000×100000 PNG header) is refused before decoding.
    await page.setInputFiles('#files', path.join(repo, 'tests', 'fixtures', 'bomb_100000x100000.png'));
    await waitResults(page, 4, args.timeout);
    const bomb = await lastResult(page);
    status = await statusOf(page);
    check('decompression bomb refused with a reason, page still ready', Boolean(bomb.error)
      && status.state === 'ready', `${bomb.error} / ${status.state}`);

    // 3d'. the same photo dropped on the page, then pasted (a clipboard image named
    // image.png gets a name of its own): each is classified as when picked.
    await checkDropAndPaste(page, args, first);

    // 3e. keyboard, labels, samples
    await checkKeyboard(page, args);

    // 4. optional: model switching through #model-file
    await checkModels(page, args, first);

    // 4b. optional: several real photos, a corrupt JPEG, a .txt and a WebP in one upload
    if (args.proofDir) await checkProof(page, args);

    const light = await screenshots(page, args.screenshot);

    // 5. a batch through the queue
    if (args.batch > 0) await checkBatch(page, args, tmp);

    // 6. dark theme
    if (args.screenshot) await checkDark(browser, args, light);

    // 7. optional: offline after the first visit
    if (args.offline) await checkOffline(page, context, args);

    // 8. optional: threads where the host sends COOP/COEP (and the CSP as a header)
    if (args.isolatedSite) {
      await checkIsolated(browser, args);
      await checkIsolated(browser, args, 'ursa');
    }

    // 8b. no service worker and no headers: not isolated, one thread, the same results
    await checkSingleThread(browser, args);

    // 8c. ?backend=ursa: core's engine instead of ONNX Runtime Web
    await checkUrsaBackend(browser, args);

    // 9. optional: a new version deployed while the page is open
    if (args.updateCmd) await checkUpdate(page, args);

    // 10. privacy: only GETs of the site's own files; the policy was never broken
    const all = [...requests.values()];
    const foreign = all.filter((r) => !/^(data|blob):/.test(r.url) && new URL(r.url).origin !== site.origin);
    const writes = all.filter((r) => !['GET', 'HEAD'].includes(r.method) || r.hasBody);
    for (const r of all) console.log(`info: request ${r.method} ${r.url}`);
    check('model fetched by the page', all.some((r) => /model\.onnx$/.test(r.url)),
      `${all.length} requests seen`);
    check('no request outside the site origin', foreign.length === 0, foreign.map((r) => r.url).join(', '));
    check('no request carries data (no POST/PUT, no body)', writes.length === 0,
      writes.map((r) => `${r.method} ${r.url}`).join(', '));
    check('no request body holds JPEG bytes', all.every((r) => !r.jpegBytes));
    const violations = await page.evaluate(() => window.__csp);
    check('no Content-Security-Policy violations', violations.length === 0 && cspConsole.length === 0,
      JSON.stringify(violations) + cspConsole.join(' | '));
    check('no uncaught page errors', pageErrors.length === 0, pageErrors.join(' | '));
  } finally {
    await browser.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return failures.length ? 1 : 0;
}

// The page's policy: strict, equal to the one README.txt offers hosts, and enforced.
async function checkCspPolicy(page, args, cspConsole) {
  const policy = await page.$eval('meta[http-equiv="Content-Security-Policy"]', (m) => m.content).catch(() => '');
  const directives = Object.fromEntries(policy.split(';').map((d) => d.trim()).filter(Boolean)
    .map((d) => { const [name, ...values] = d.split(/\s+/); return [name, values]; }));
  const sources = Object.values(directives).flat();
  check('strict CSP meta: self only, no inline script, wasm-unsafe-eval the only exception',
    directives['default-src']?.join(' ') === "'self'"
    && directives['script-src']?.join(' ') === "'self' 'wasm-unsafe-eval'"
    && directives['object-src']?.join(' ') === "'none'"
    && !sources.some((v) => /unsafe-inline|unsafe-eval'|^\*|^https?:|^data:/.test(v) && v !== "'wasm-unsafe-eval'"),
  policy);
  if (args.csp) check('CSP meta equals the policy README.txt gives hosts', policy === args.csp, `${policy} vs ${args.csp}`);
  const before = (await page.evaluate(() => window.__csp)).length;
  const ran = await page.evaluate(async () => {
    const s = document.createElement('script');
    s.textContent = 'window.__inlineRan = true;';
    document.head.append(s);
    await new Promise((r) => setTimeout(r, 100));
    return window.__inlineRan === true;
  });
  const after = await page.evaluate(() => window.__csp.splice(0));  // the probe's violation, set aside
  cspConsole.length = 0;  // and its console message
  check('CSP is enforced: an injected inline script does not run', !ran && after.length === before + 1
    && /script-src/.test(after[after.length - 1].directive), JSON.stringify(after));
}

async function checkBackend(page, where, expect) {
  const b = await page.evaluate(() => {
    const el = document.querySelector('#backend');
    return { text: el.textContent, threads: Number(el.dataset.threads), isolated: el.dataset.isolated,
      backend: el.dataset.backend, crossOriginIsolated: window.crossOriginIsolated };
  });
  check(`${where}: backend shown (crossOriginIsolated ${expect.isolated}, threads ${b.threads})`,
    b.backend === 'ort' && b.crossOriginIsolated === expect.isolated && b.isolated === String(expect.isolated)
    && expect.threads(b.threads) && /ONNX Runtime Web \d/.test(b.text)
    && b.text.includes(b.threads > 1 ? `${b.threads} threads` : '1 thread'), b.text);
  return b;
}

// Keyboard only: every control has a name, Tab reaches each, Enter opens the picker
// and classifies a sample.
async function checkKeyboard(page, args) {
  const unlabelled = await page.evaluate(() => [...document.querySelectorAll('input, button, select, textarea, a[href]')]
    .filter((el) => {
      const name = el.getAttribute('aria-label') || (el.labels && [...el.labels].map((l) => l.textContent).join(' '))
        || el.textContent;
      return !(name && name.trim());
    }).map((el) => el.outerHTML.slice(0, 80)));
  check('every control has an accessible name', unlabelled.length === 0, unlabelled.join(' | '));

  // Start from the top of the page, as a visitor who just arrived.
  await page.evaluate(() => {
    document.body.tabIndex = -1;
    document.body.focus();
    document.body.removeAttribute('tabindex');
    window.scrollTo(0, 0);
  });
  const seen = [];
  let filesOutline = null;
  for (let i = 0; i < 40; i++) {
    await page.keyboard.press('Tab');
    const f = await page.evaluate(() => {
      const el = document.activeElement;
      if (!el || el === document.body) return null;
      const visible = el.id === 'files' || el.id === 'model-file' ? el.nextElementSibling : el;
      const style = getComputedStyle(visible);
      return { id: el.id || (el.dataset.sample ? `sample:${el.dataset.sample}` : el.tagName), outline: style.outlineStyle };
    });
    if (!f) continue;
    if (seen.includes(f.id)) break;
    seen.push(f.id);
    if (f.id === 'files') filesOutline = f.outline;
  }
  const wanted = ['files', 'sample:dog.jpg', 'download-csv', 'download-json', 'clear', 'model-file'];
  check('Tab reaches every control in order (picker, samples, downloads, clear, model)',
    seen[0] === 'files' && wanted.every((id, i) => i === 0 || seen.indexOf(wanted[i - 1]) < seen.indexOf(id))
    && !seen.includes('camera'), seen.join(' → '));
  check('the focused picker shows a focus ring', filesOutline && filesOutline !== 'none', String(filesOutline));

  let count = await resultCount(page);
  // Up to 3 tries: on a loaded 2-core machine Chromium sometimes drops the first key
  // press while the page is busy (seen once in three runs).
  let chooser = null;
  for (let attempt = 0; attempt < 3 && !chooser; attempt++) {
    await page.focus('#files');
    chooser = await Promise.all([page.waitForEvent('filechooser', { timeout: 10000 }), page.keyboard.press('Enter')])
      .then(([c]) => c, () => null);
  }
  if (check('Enter on the focused picker opens the file chooser', Boolean(chooser && chooser.isMultiple()))) {
    await chooser.setFiles(args.photo);
    await waitResults(page, count + 1, args.timeout);
    count++;
  }

  const samples = await page.$$eval('#samples:not([hidden]) button.sample', (els) => els.map((e) => e.dataset.sample));
  check('sample photos offered', samples.length >= 3, samples.join(', '));
  await page.focus('#samples button.sample');
  await page.keyboard.press('Enter');
  await waitResults(page, count + 1, args.timeout);
  const sample = await lastResult(page);
  const announced = await page.$eval('#announce', (el) => el.textContent);
  check('Enter on a sample classifies it (and announces the label)', sample.file === samples[0] && !sample.error
    && Number(sample.prob) > 0 && announced.startsWith(`${sample.file}: ${sample.label}`),
  `${sample.file} ${sample.label} ${sample.prob} / ${announced}`);
}

// Hundreds of photos: a queue with a visible, accessible counter; one photo in the
// worker at a time; the page keeps responding; every photo gets its .result.
async function checkBatch(page, args, tmp) {
  const oldPreview = await page.$eval('#results .result .thumb img', (img) => img.src).catch(() => '');
  await page.click('#clear');
  const cleared = await page.evaluate(async (url) => {
    const revoked = url ? await new Promise((resolve) => {
      const img = new Image();
      img.onload = () => resolve(false);
      img.onerror = () => resolve(true);
      img.src = url;
    }) : false;
    return { cards: document.querySelectorAll('#results .card').length, revoked,
      headHidden: document.querySelector('.results-head').hidden };
  }, oldPreview);
  check('Clear empties the results and revokes the previews\' object URLs',
    cleared.cards === 0 && cleared.revoked && cleared.headHidden, JSON.stringify(cleared));

  const dir = path.join(tmp, 'batch');
  fs.mkdirSync(dir);
  const ext = path.extname(args.photo);
  const files = [];
  for (let i = 0; i < args.batch; i++) {
    const f = path.join(dir, `batch-${String(i).padStart(3, '0')}${ext}`);
    fs.copyFileSync(args.photo, f);
    files.push(f);
  }
  const startedAt = await page.evaluate(() => performance.now());
  const t0 = Date.now();
  await page.setInputFiles('#files', files);
  let maxWorking = 0;
  let midway = null;
  let maxPing = 0;
  for (;;) {
    const p0 = Date.now();
    const s = await page.evaluate(() => {
      const bar = document.querySelector('#progress');
      return { working: document.querySelectorAll('#results .card.working').length,
        now: Number(bar.getAttribute('aria-valuenow')), max: Number(bar.getAttribute('aria-valuemax')),
        valuetext: bar.getAttribute('aria-valuetext'), text: document.querySelector('#queue-text').textContent,
        role: bar.getAttribute('role'), results: document.querySelectorAll('#results .result').length };
    });
    maxPing = Math.max(maxPing, Date.now() - p0);
    maxWorking = Math.max(maxWorking, s.working);
    if (!midway && s.now > 0 && s.now < s.max) midway = s;
    if (s.now >= args.batch || Date.now() - t0 > args.timeout) break;
    await page.waitForTimeout(100);
  }
  const seconds = (Date.now() - t0) / 1000;
  const end = await page.evaluate((since) => {
    const bar = document.querySelector('#progress');
    const cards = [...document.querySelectorAll('#results .result')];
    return { now: bar.getAttribute('aria-valuenow'), max: bar.getAttribute('aria-valuemax'),
      text: document.querySelector('#queue-text').textContent, results: cards.length,
      labelled: cards.filter((c) => c.dataset.label && Number(c.dataset.prob) > 0).length,
      files: new Set(cards.map((c) => c.dataset.file)).size,
      announce: document.querySelector('#announce').textContent,
      longest: Math.max(0, ...window.__longTasks.filter((t) => t.start >= since).map((t) => t.duration)) };
  }, startedAt);
  console.log(`info: batch of ${args.batch} in ${seconds.toFixed(1)} s (${(1000 * seconds / args.batch).toFixed(0)} ms/photo), `
    + `longest main-thread task ${end.longest.toFixed(0)} ms, slowest page round trip ${maxPing} ms`);
  check(`batch: the queue counter was visible midway ("k of ${args.batch} done", role=progressbar)`, Boolean(midway)
    && midway.role === 'progressbar' && midway.max === args.batch
    && midway.text === `${midway.now} of ${args.batch} done` && midway.valuetext === midway.text, JSON.stringify(midway));
  check(`batch: the counter reaches "${args.batch} of ${args.batch} done"`, end.now === String(args.batch)
    && end.max === String(args.batch) && end.text === `${args.batch} of ${args.batch} done`, JSON.stringify(end));
  check(`batch: every one of the ${args.batch} photos has its .result with a label`, end.results === args.batch
    && end.labelled === args.batch && end.files === args.batch, `${end.results} results, ${end.labelled} labelled`);
  check('batch: one photo in the worker at a time', maxWorking === 1, `at most ${maxWorking} working`);
  check('batch: the page never froze (no main-thread task over 250 ms)', end.longest < 250,
    `${end.longest.toFixed(0)} ms`);
  check('batch: announced once, when done', end.announce.startsWith(`${args.batch} photos done:`), end.announce);
  if (args.screenshot) {
    const file = args.screenshot.replace(/(\.png)?$/i, '-batch.png');
    await page.screenshot({ path: file, animations: 'disabled' });
    console.log(`info: screenshot ${file}`);
  }
}

// Desktop (full page) and a 360 px phone: nothing wider than the screen.
async function screenshots(page, file) {
  const size = page.viewportSize();
  await page.mouse.move(0, 0);
  await page.evaluate(() => document.activeElement?.blur());
  await page.setViewportSize({ width: 360, height: 740 });
  const phone = await page.evaluate(() => ({ scroll: document.scrollingElement.scrollWidth, width: innerWidth }));
  check('360 px wide phone: no horizontal scrolling', phone.scroll <= 360, `scrollWidth ${phone.scroll}`);
  if (file) {
    const phoneFile = file.replace(/(\.png)?$/i, '-phone.png');
    await page.screenshot({ path: phoneFile, fullPage: true, animations: 'disabled' });
    console.log(`info: screenshot ${phoneFile}`);
  }
  await page.setViewportSize(size);
  const background = await page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor);
  if (file) {
    await page.screenshot({ path: file, fullPage: true, animations: 'disabled' });
    console.log(`info: screenshot ${file}`);
  }
  return background;
}

// prefers-color-scheme: dark gives the dark theme.
async function checkDark(browser, args, lightBackground) {
  const context = await newContext(browser, { colorScheme: 'dark' });
  try {
    const page = await context.newPage();
    await page.goto(args.site, { waitUntil: 'load', timeout: args.timeout });
    await settledStatus(page, args.timeout);
    await page.setInputFiles('#files', [args.photo, path.join(repo, 'tests', 'fixtures', 'not_an_image.jpg')]);
    await waitResults(page, 2, args.timeout);
    const dark = await page.evaluate(() => ({ bg: getComputedStyle(document.documentElement).backgroundColor,
      text: getComputedStyle(document.body).color, scheme: matchMedia('(prefers-color-scheme: dark)').matches }));
    const lum = (rgb) => { const [r, g, b] = rgb.match(/\d+/g).map(Number); return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
    check('dark theme under prefers-color-scheme: dark (darker background, lighter text)', dark.scheme
      && dark.bg !== lightBackground && lum(dark.bg) < 60 && lum(dark.text) > 180,
    `light ${lightBackground}, dark ${dark.bg}, text ${dark.text}`);
    const file = args.screenshot.replace(/(\.png)?$/i, '-dark.png');
    await page.screenshot({ path: file, fullPage: true, animations: 'disabled' });
    console.log(`info: screenshot ${file}`);
  } finally {
    await context.close();
  }
}

// Served with COOP/COEP (and, with --csp-header, the CSP as a header too): the page is
// cross-origin isolated, ONNX Runtime (or, with ?backend=ursa, core's engine in core's
// pthreads build) uses threads, and the results are the same.
async function checkIsolated(browser, args, backend = 'ort') {
  const context = await newContext(browser);
  const where = backend === 'ursa' ? 'isolated site, ?backend=ursa' : 'isolated site';
  try {
    const page = await context.newPage();
    const workers = [];
    page.on('worker', (w) => workers.push(w.url()));
    const requested = [];
    context.on('request', (r) => requested.push(r.url()));
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    const url = new URL(args.isolatedSite);
    if (backend === 'ursa') url.searchParams.set('backend', 'ursa');
    await page.goto(url.href, { waitUntil: 'load', timeout: args.timeout });
    const status = await settledStatus(page, args.timeout).catch((e) => ({ state: 'timeout', text: e.message }));
    if (!check(`${where} (COOP/COEP${args.cspHeader ? '/CSP' : ''} headers): page ready`, status.state === 'ready', `${status.state}: ${status.text}`)) return;
    if (backend === 'ursa') {
      const b = await page.evaluate(() => {
        const el = document.querySelector('#backend');
        return { text: el.textContent, backend: el.dataset.backend, threads: Number(el.dataset.threads),
          isolated: el.dataset.isolated };
      });
      const many = os.cpus().length >= 2;
      check(`${where}: core's engine runs on ${many ? 'several threads' : '1 thread (1 core)'}, and the footer says so`,
        b.backend === 'ursa' && b.isolated === 'true' && (many ? b.threads > 1 : b.threads === 1)
        && b.text.startsWith("Inference: Ursa's engine")
        && b.text.includes(b.threads > 1 ? `${b.threads} threads (cross-origin isolated)` : '1 thread'), b.text);
      const pool = workers.filter((u) => /ursa_core_mt\.worker\.js$/.test(u)).length;
      // (The service worker's install fetches every file of the site, ONNX Runtime's too.)
      check(`${where}: core's pthreads build runs it, with one pool worker per extra thread`,
        pool === b.threads - 1 && requested.some((u) => /ursa_core_mt\.wasm$/.test(u)) === (b.threads > 1),
      `${pool} engine worker(s) for ${b.threads} threads: ${workers.join(', ')}`);
    } else {
      const b = await checkBackend(page, where, { isolated: true, threads: (n) => n > 1 });
      const pool = workers.filter((u) => /ort-wasm-simd-threaded\.mjs/.test(u)).length;
      check(`${where}: ONNX Runtime started its thread pool (workers beside the page's own)`,
        pool >= b.threads - 1 && pool > 0, `${pool} ORT thread worker(s): ${workers.join(', ')}`);
    }
    await page.setInputFiles('#files', args.photo);
    await waitResults(page, 1, args.timeout);
    const r = await lastResult(page);
    if (args.expectJson) {
      const expected = expectedFor(args.expectJson, args.photo);
      check(`${where}: threaded result equals ursa predict (label, prob within 1e-3)`, !r.error
        && r.label === expected.label && Math.abs(Number(r.prob) - expected.prob) <= PROB_TOLERANCE,
      r.error || `${r.label} ${r.prob} vs ${expected.label} ${expected.prob}`);
    }
    const violations = await page.evaluate(() => window.__csp);
    check(`${where}: no CSP violations or errors${args.cspHeader ? ' (workers under the header policy too)' : ''}`,
      violations.length === 0 && errors.length === 0, JSON.stringify(violations) + errors.join(' | '));
  } finally {
    await context.close();
  }
}

// Waits until #status is in `state` with a text that includes `text`, and returns it.
async function statusBecomes(page, state, text, timeout) {
  await page.waitForFunction(([state, text]) => {
    const el = document.querySelector('#status');
    return el.dataset.state === state && el.textContent.includes(text);
  }, [state, text], { timeout }).catch(() => {});
  return statusOf(page);
}

// #model-file: models the page must refuse (no metadata; an input unlike ursa.input), a
// model with other labels (same graph), then the original model again.
async function checkModels(page, args, first) {
  let status;
  if (args.badModel) {
    const name = path.basename(args.badModel);
    await page.setInputFiles('#model-file', args.badModel);
    status = await statusBecomes(page, 'error', name, args.timeout);
    check('model without Ursa metadata is refused, naming what is missing', status.state === 'error'
      && status.text.includes(name) && status.text.includes('no Ursa metadata: missing ursa.labels, ursa.input')
      && status.text.includes('Still using model.onnx'), `${status.state}: ${status.text}`);
  }
  if (args.wrongSizeModel) {
    const name = path.basename(args.wrongSizeModel);
    await page.setInputFiles('#model-file', args.wrongSizeModel);
    status = await statusBecomes(page, 'error', name, args.timeout);
    check('model whose input disagrees with ursa.input is refused, naming the input', status.state === 'error'
      && /model input is \d+x\d+ but ursa\.input says \d+x\d+/.test(status.text)
      && !/ONNX Runtime|ERROR_CODE|failed to call/i.test(status.text), `${status.state}: ${status.text}`);
    const still = await page.$eval('#model-info', (el) => el.textContent);
    check('the refused model leaves the previous one in use', still.startsWith('Model: model.onnx'), still);
  }
  if (args.relabelledModel && args.relabelledLabels) {
    const labels = args.relabelledLabels;
    await page.setInputFiles('#model-file', args.relabelledModel);
    status = await statusBecomes(page, 'ready', labels.join(', '), args.timeout);
    const info = await page.$eval('#model-info', (el) => ({ text: el.textContent, title: el.title }));
    check('a model with other labels: status and #model-info show the new labels', status.state === 'ready'
      && info.text.includes(`Model: ${path.basename(args.relabelledModel)}`) && info.text.includes(labels.join(', '))
      && info.title === `Labels: ${labels.join(', ')}` && !(args.labels || []).some((l) => info.text.includes(l)),
    `${status.text} / ${info.text}`);
    const before = await resultCount(page);
    await page.setInputFiles('#files', args.photo);
    await waitResults(page, before + 1, args.timeout);
    const r = await page.$$eval('#results .result', (els) => {
      const el = els[els.length - 1];
      return { label: el.dataset.label, prob: el.dataset.prob, error: el.dataset.error,
        top: JSON.parse(el.dataset.top || '[]').map((t) => t.label),
        shown: [...el.querySelectorAll('.topk li')].map((li) => li.dataset.label) };
    });
    const want = args.labels ? labels[args.labels.indexOf(first.label)] : undefined;
    check('its cards carry the new labels (same graph: same class, same probability)', !r.error
      && labels.includes(r.label) && (!want || r.label === want) && r.top.every((l) => labels.includes(l))
      && r.shown.every((l) => labels.includes(l)) && Math.abs(Number(r.prob) - Number(first.prob)) < 1e-6,
    `${r.error || `${r.label} ${r.prob} [${r.top}]`} vs ${want} ${first.prob}`);
  }
  if (args.modelFile) {
    await page.setInputFiles('#model-file', args.modelFile);
    status = await statusBecomes(page, 'ready', args.labels ? args.labels.join(', ') : 'Ready', args.timeout);
    check('#model-file loads a model', status.state === 'ready', `${status.state}: ${status.text}`);
    const before = await resultCount(page);
    await page.setInputFiles('#files', args.photo);
    await waitResults(page, before + 1, args.timeout);
    const again = await lastResult(page);
    check('photo classified with the loaded model', !again.error && Number(again.prob) > 0
      && (!args.labels || args.labels.includes(again.label)), again.error || `${again.label} ${again.prob}`);
  }
}

// Same top label (or a tie float rounding can flip) and probability within PROB_TOLERANCE.
function agrees(result, expected) {
  const webProb = Number(result.prob);
  if (result.error || !expected || expected.error) return false;
  if (Math.abs(webProb - expected.prob) > PROB_TOLERANCE) return false;
  if (result.label === expected.label) return true;
  const native = (expected.top || []).find((t) => t.label === result.label);
  return Boolean(native && Math.abs(native.prob - expected.prob) <= PROB_TOLERANCE);
}

// One upload of real photos, a truncated JPEG, a real .txt and a WebP (which core does not
// decode): compared card by card, by file name, with `ursa predict --json` on the same files.
async function checkProof(page, args, backend = 'ort') {
  const records = JSON.parse(fs.readFileSync(args.proofJson, 'utf8'));
  const native = new Map(records.map((r) => [path.basename(r.file), r]));
  const files = fs.readdirSync(args.proofDir).sort().map((f) => path.join(args.proofDir, f));
  if (await resultCount(page)) await page.click('#clear');
  await page.setInputFiles('#files', files);
  await waitResults(page, files.length, args.timeout);
  const cards = await page.$$eval('#results .result', (els) => els.map((el) => ({
    file: el.dataset.file, label: el.dataset.label, prob: el.dataset.prob, error: el.dataset.error,
    backend: el.dataset.backend, meta: el.querySelector('.meta')?.textContent || '' })));
  const names = files.map((f) => path.basename(f));
  check(`proof upload: ${files.length} files give one card each, in order`,
    JSON.stringify(cards.map((c) => c.file)) === JSON.stringify(names), cards.map((c) => c.file).join(', '));
  const run = cards.filter((c) => !c.error);
  check(`proof upload: every classified card says it was run by ${backend} (data-backend)`,
    run.length > 0 && run.every((c) => c.backend === backend), run.map((c) => c.backend).join(', '));
  let photos = 0;
  let failed = 0;
  let browser = 0;
  for (const card of cards) {
    const expected = native.get(card.file);
    if (!check(`proof ${card.file}: ursa predict has a record`, Boolean(expected))) continue;
    const seen = card.error ? `error "${card.error}"` : `${card.label} ${card.prob}${card.meta.includes('decoded by the browser') ? ' (browser)' : ''}`;
    if (expected.error && /unsupported image format/.test(expected.error)) {
      // Core leaves this format to the browser; a lossless twin PNG gives the expected result.
      const twin = native.get(card.file.replace(/\.[^.]+$/, '.png'));
      browser++;
      check(`proof ${card.file}: decoded by the browser and labelled${twin ? ' as its lossless PNG twin' : ''}`,
        !card.error && card.meta.includes('decoded by the browser') && (args.labels || [card.label]).includes(card.label)
        && (!twin || agrees(card, twin)), `${seen} vs ${twin ? `${twin.label} ${twin.prob}` : expected.error}`);
    } else if (expected.error) {
      failed++;
      check(`proof ${card.file}: an error card, as in ursa predict`, Boolean(card.error) && !card.label
        && card.error.includes(expected.error), `${seen} vs "${expected.error}"`);
    } else {
      photos++;
      check(`proof ${card.file}: same label and probability as ursa predict (±${PROB_TOLERANCE})`,
        agrees(card, expected) && !card.meta.includes('decoded by the browser'),
        `${seen} vs ${expected.label} ${expected.prob}`);
    }
  }
  check('proof upload held several photos, bad files (.txt, truncated and corrupt JPEGs) and a browser-decoded one',
    photos >= 4 && failed >= 3 && browser >= 1, `${photos} photos, ${failed} bad, ${browser} browser-decoded`);
  const status = await statusOf(page);
  check('proof upload: the page stays ready', status.state === 'ready', `${status.state}: ${status.text}`);
}

// ?backend=ursa: the same site, the model run by core's own engine (compiled to wasm with
// the preprocessing, in core.wasm) instead of ONNX Runtime Web. Service workers are
// blocked here (no install, no reload: quick); the cards must equal `ursa predict --json`.
async function checkUrsaBackend(browser, args) {
  const context = await newContext(browser, { serviceWorkers: 'block' });
  const requested = [];
  context.on('request', (r) => requested.push(r.url()));
  const t0 = Date.now();
  checkPrefix = '?backend=ursa: ';
  try {
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    const url = new URL(args.site);
    url.searchParams.set('backend', 'ursa');
    await page.goto(url.href, { waitUntil: 'load', timeout: args.timeout });
    const status = await settledStatus(page, args.timeout).catch((e) => ({ state: 'timeout', text: e.message }));
    if (!check('page ready', status.state === 'ready', `${status.state}: ${status.text}`)) return;
    const b = await page.evaluate(() => {
      const el = document.querySelector('#backend');
      return { text: el.textContent, backend: el.dataset.backend, threads: el.dataset.threads,
        credits: document.querySelector('.credits').textContent };
    });
    check("the footer says Ursa's engine runs the model (WebAssembly SIMD, 1 thread: not isolated), not ONNX Runtime",
      b.backend === 'ursa' && b.threads === '1'
      && /^Inference: Ursa's engine \d+\.\d+\.\d+ · WebAssembly SIMD · 1 thread \(the host sends no COOP\/COEP headers\) · model load \d+ ms, warm-up run \d+ ms$/.test(b.text)
      && b.credits.includes("inference with Ursa's engine") && !/ONNX Runtime/.test(b.text + b.credits),
    `${b.backend}: ${b.text} / ${b.credits}`);

    await page.setInputFiles('#files', args.photo);
    await waitResults(page, 1, args.timeout);
    const first = await page.$$eval('#results .result', (els) => {
      const el = els[els.length - 1];
      return { file: el.dataset.file, label: el.dataset.label, prob: el.dataset.prob, error: el.dataset.error,
        backend: el.dataset.backend, meta: el.querySelector('.meta')?.textContent || '' };
    });
    check("the photo's card is run by Ursa's engine and says so", !first.error && first.backend === 'ursa'
      && first.meta.includes("Ursa's engine"), first.error || `${first.backend} / ${first.meta}`);
    if (args.expectJson) checkAgainstNative(first, expectedFor(args.expectJson, args.photo));

    // #model-file on this engine: refusals, other labels, the first model again (each
    // replaced model is deleted from wasm memory; tests/web/engine_node.cjs measures it).
    await checkModels(page, args, first);
    if (args.proofDir) await checkProof(page, args, 'ursa');

    const ort = requested.filter((u) => /\/ort\//.test(u));
    check('ONNX Runtime Web is not downloaded, nor core\'s pthreads build (the page is not isolated)', ort.length === 0
      && requested.some((u) => /ursa_core\.wasm$/.test(u)) && !requested.some((u) => /ursa_core_mt/.test(u)),
      ort.join(', ') || `${requested.length} requests`);
    const violations = await page.evaluate(() => window.__csp);
    check('no CSP violations or errors (glue linked with -sDYNAMIC_EXECUTION=0)', violations.length === 0
      && errors.length === 0, JSON.stringify(violations) + errors.join(' | '));
    console.log(`info: ?backend=ursa checks took ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  } finally {
    checkPrefix = '';
    await context.close();
  }
}

// Installable as an app: Chromium finds no installability error. Playwright's contexts are
// incognito ones, where nothing is installable, so this takes a browser profile of its own.
async function checkInstallable(chromium, args, tmp) {
  const profile = fs.mkdtempSync(path.join(tmp, 'profile-'));
  const context = await chromium.launchPersistentContext(profile, { executablePath: args.chromium,
    args: CHROMIUM_ARGS, viewport: { width: 1100, height: 820 } });
  try {
    const page = context.pages()[0] || await context.newPage();
    await page.goto(args.site, { waitUntil: 'load', timeout: args.timeout });
    const status = await settledStatus(page, args.timeout).catch((e) => ({ state: 'timeout', text: e.message }));
    const cdp = await context.newCDPSession(page);
    const { installabilityErrors } = await cdp.send('Page.getInstallabilityErrors')
      .catch((e) => ({ installabilityErrors: [{ errorId: e.message }] }));
    check('installable (a browser profile): Page.getInstallabilityErrors reports none', status.state === 'ready'
      && installabilityErrors.length === 0, `${status.state}; ${JSON.stringify(installabilityErrors)}`);
  } finally {
    await context.close();
  }
}

// The PNG icons (192, 512) of the manifest and the apple-touch-icon: each of its size, a
// PNG, and in the service worker's file list (so cached for offline use).
async function checkIcons(page) {
  const icons = await page.evaluate(async () => {
    const manifest = await (await fetch(document.querySelector('link[rel=manifest]').href)).json();
    const apple = document.querySelector('link[rel=apple-touch-icon]');
    const wanted = manifest.icons.filter((i) => i.type === 'image/png')
      .map((i) => ({ src: i.src, sizes: i.sizes }));
    if (apple) wanted.push({ src: apple.getAttribute('href'), sizes: apple.sizes.value || '180x180' });
    const sw = await (await fetch('sw.js')).text();
    const out = [];
    for (const icon of wanted) {
      const response = await fetch(icon.src);
      const bitmap = response.ok ? await createImageBitmap(await response.blob()).catch(() => null) : null;
      out.push({ ...icon, type: response.headers.get('content-type'), got: bitmap ? `${bitmap.width}x${bitmap.height}` : 'none',
        listed: sw.includes(`"${icon.src}":"`) });
    }
    return { apple: Boolean(apple), icons: out };
  });
  const sizes = icons.icons.map((i) => i.sizes);
  check('PNG icons 192 and 512 in the manifest, an apple-touch-icon, each of its size and cached by sw.js',
    icons.apple && sizes.includes('192x192') && sizes.includes('512x512')
    && icons.icons.every((i) => i.got === i.sizes && /image\/png/.test(i.type || '') && i.listed), JSON.stringify(icons.icons));
}

// Service workers blocked on the plain server: no COOP/COEP at all, so the page is not
// cross-origin isolated, ONNX Runtime runs on one thread, and the results are the same.
async function checkSingleThread(browser, args) {
  const context = await newContext(browser, { serviceWorkers: 'block' });
  try {
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(args.site, { waitUntil: 'load', timeout: args.timeout });
    const status = await settledStatus(page, args.timeout).catch((e) => ({ state: 'timeout', text: e.message }));
    if (!check('no service worker (blocked): page ready', status.state === 'ready', `${status.state}: ${status.text}`)) return;
    const b = await checkBackend(page, 'no service worker, no headers', { isolated: false, threads: (n) => n === 1 });
    const reloads = await page.evaluate(() => ({ sw: Boolean(navigator.serviceWorker?.controller),
      reload: sessionStorage.getItem('ursa-coi-reload') }));
    check('no service worker: not controlled, no reload for isolation, "1 thread" shown', !reloads.sw && !reloads.reload
      && b.text.includes('1 thread (the host sends no COOP/COEP headers)'), `${JSON.stringify(reloads)} ${b.text}`);
    await page.setInputFiles('#files', args.photo);
    await waitResults(page, 1, args.timeout);
    const r = await lastResult(page);
    if (args.expectJson) {
      const expected = expectedFor(args.expectJson, args.photo);
      check('single thread: result equals ursa predict (label, prob within 1e-3)', agrees(r, expected),
        r.error || `${r.label} ${r.prob} vs ${expected.label} ${expected.prob}`);
    }
    check('single thread: no page errors', errors.length === 0, errors.join(' | '));
  } finally {
    await context.close();
  }
}

// A new build is deployed while the page is open: on the next load the page says a new
// version is available; "Reload" switches to it, exactly once.
async function checkUpdate(page, args) {
  const version = () => page.$eval('#site-version', (el) => el.dataset.version || '');
  await page.waitForFunction(() => document.querySelector('#site-version').dataset.version, null, { timeout: 10000 })
    .catch(() => {});
  const before = await version();
  check('site version shown', /^[0-9a-f]{12}$/.test(before), before);
  try {
    execSync(args.updateCmd, { stdio: 'inherit', shell: '/bin/bash' });
  } catch (e) {
    check('new version deployed', false, e.message);
    return;
  }
  await page.reload({ waitUntil: 'load', timeout: args.timeout });
  const offered = await page.waitForSelector('#update:not([hidden])', { timeout: args.timeout }).then(() => true, () => false);
  const banner = offered ? await page.$eval('#update', (el) => el.textContent.replace(/\s+/g, ' ').trim()) : '';
  check('after a deploy the page says a new version is available', offered && /new version/i.test(banner)
    && (await version()) === before, banner);
  if (!offered) return;
  if (args.screenshot) {
    const file = args.screenshot.replace(/(\.png)?$/i, '-update.png');
    await page.screenshot({ path: file, animations: 'disabled' });
    console.log(`info: screenshot ${file}`);
  }
  let navigations = 0;
  const count = (frame) => { if (frame === page.mainFrame()) navigations++; };
  page.on('framenavigated', count);
  await Promise.all([page.waitForNavigation({ waitUntil: 'load', timeout: args.timeout }), page.click('#update-reload')]);
  const status = await settledStatus(page, args.timeout).catch((e) => ({ state: 'timeout', text: e.message }));
  await page.waitForFunction(() => document.querySelector('#site-version').dataset.version, null, { timeout: 10000 })
    .catch(() => {});
  await page.waitForTimeout(3000);  // a loop would show up as more navigations
  page.off('framenavigated', count);
  const after = await version();
  const model = await page.$eval('#model-info', (el) => el.textContent);
  const hidden = await page.$eval('#update', (el) => el.hidden);
  check('"Reload" switches to the new version once (no reload loop)', status.state === 'ready' && navigations === 1
    && after && after !== before && hidden && (!args.updateExpect || model.includes(args.updateExpect)),
  `${navigations} navigation(s), version ${before} → ${after}, ${status.state}, banner hidden ${hidden}, ${model}`);
  await page.reload({ waitUntil: 'load', timeout: args.timeout });
  await settledStatus(page, args.timeout).catch(() => {});
  await page.waitForTimeout(1500);
  check('no banner once up to date', await page.$eval('#update', (el) => el.hidden));
}

// The service worker has cached the site; reloaded with no network, the page still works.
async function checkOffline(page, context, args) {
  const cached = await page.waitForFunction(async () => {
    if (!navigator.serviceWorker?.controller) return false;
    const hits = await Promise.all(['model.onnx', 'core/ursa_core.wasm', 'ort/ort-wasm-simd-threaded.wasm']
      .map((f) => caches.match(new URL(f, location.href).href)));
    return hits.every(Boolean);
  }, null, { timeout: args.timeout, polling: 250 }).then(() => true, () => false);
  if (!check('service worker caches the site', cached)) return;
  await context.setOffline(true);
  try {
    await page.reload({ waitUntil: 'load', timeout: args.timeout });
    const status = await settledStatus(page, args.timeout).catch((e) => ({ state: 'timeout', text: e.message }));
    check('page ready offline', status.state === 'ready', `${status.state}: ${status.text}`);
    if (status.state !== 'ready') return;
    await page.setInputFiles('#files', args.photo);
    await waitResults(page, 1, args.timeout);
    const r = await lastResult(page);
    check('photo classified offline', !r.error && Number(r.prob) > 0, r.error || `${r.label} ${r.prob}`);
  } finally {
    await context.setOffline(false);
  }
}

main().then((code) => {
  console.log(code === 0 ? 'e2e: PASS' : `e2e: FAIL (${failures.join('; ') || 'see above'})`);
  process.exit(code);
}, (e) => {
  console.error(`FAIL e2e crashed: ${e.stack || e}`);
  console.log('e2e: FAIL');
  process.exit(1);
});
