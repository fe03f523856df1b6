#!/usr/bin/env node
// Browser end-to-end test of the Ursa page in real (Debian) Chromium via playwright-core.
//
// usage: node tests/web/e2e.mjs --site URL --photo PATH [--expect-json PREDICT_JSON]
//          [--labels a,b,c] [--screenshot FILE] [--bad-model FILE] [--model-file FILE]
//          [--offline] [--chromium PATH] [--timeout SECONDS]
//
// Checks (one PASS/FAIL line each; exit status 1 when any fails):
//   the page becomes ready; the photo yields one .result with a known label and a
//   probability in (0,1]; it agrees with `ursa predict --json` (same label, |Δprob| ≤ 1e-3);
//   a non-image file yields .result[data-error] while the page stays ready; optionally
//   #model-file rejects a model without Ursa metadata and accepts a good one; optionally
//   (--offline) the page works offline after the first visit (service worker); and no
//   request leaves the site's origin or carries a body (no POST/PUT: photos stay local).
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..', '..');
const PROB_TOLERANCE = 1e-3;

function parseArgs(argv) {
  const args = { labels: null, timeout: 180, chromium: process.env.URSA_CHROMIUM || '/usr/bin/chromium' };
  const names = {
    '--site': 'site', '--photo': 'photo', '--expect-json': 'expectJson', '--labels': 'labels',
    '--screenshot': 'screenshot', '--bad-model': 'badModel', '--model-file': 'modelFile',
    '--chromium': 'chromium', '--timeout': 'timeout',
  };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--offline') {
      args.offline = true;
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
  args.timeout = Number(args.timeout) * 1000;
  return args;
}

const failures = [];
function check(name, ok, detail = '') {
  console.log(`${ok ? 'PASS' : 'FAIL'} ${name}${detail ? ` — ${detail}` : ''}`);
  if (!ok) failures.push(name);
  return ok;
}

async function statusOf(page) {
  return page.$eval('#status', (el) => ({ state: el.dataset.state, text: el.textContent.trim() }));
}

// Waits until #status leaves `loading` and returns it.
async function settledStatus(page, timeout) {
  await page.waitForFunction(() => {
    const el = document.querySelector('#status');
    return el && el.dataset.state && el.dataset.state !== 'loading';
  }, null, { timeout });
  return statusOf(page);
}

async function resultCount(page) {
  return page.$$eval('#results .result', (els) => els.length);
}

async function waitResults(page, n, timeout) {
  await page.waitForFunction((count) => document.querySelectorAll('#results .result').length >= count, n, { timeout });
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

  const browser = await chromium.launch({
    executablePath: args.chromium,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  try {
    const context = await browser.newContext({ viewport: { width: 1100, height: 820 }, acceptDownloads: true });
    const requests = new Map();  // url+method -> {url, method, hasBody, from}
    const record = (from) => (req) => {
      const key = `${req.method()} ${req.url()}`;
      if (!requests.has(key)) requests.set(key, { url: req.url(), method: req.method(), hasBody: Boolean(req.postDataBuffer()?.length), from });
    };
    context.on('request', record('context'));
    const page = await context.newPage();
    page.on('request', record('page'));
    page.on('worker', (w) => console.log(`info: worker ${w.url()}`));
    const pageErrors = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => { if (m.type() === 'error') console.log(`info: console error: ${m.text()}`); });

    await page.goto(site.href, { waitUntil: 'load', timeout: args.timeout });

    // 1. ready
    let status = await settledStatus(page, args.timeout).catch((e) => ({ state: 'timeout', text: e.message }));
    if (!check('page ready', status.state === 'ready', `${status.state}: ${status.text}`)) {
      await screenshot(page, args.screenshot);
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
    const turned = await page.$$eval('#results .result', (els) => {
      const el = els[els.length - 1];
      return { file: el.dataset.file, error: el.dataset.error, meta: el.querySelector('.meta')?.textContent || '' };
    });
    check('EXIF orientation 6 photo is reported upright (16×24)', turned.file === 'exif_6.jpg' && !turned.error
      && turned.meta.includes('16×24'), JSON.stringify(turned));

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

    // 4. optional: model switching through #model-file
    if (args.badModel) {
      await page.setInputFiles('#model-file', args.badModel);
      await page.waitForFunction(() => document.querySelector('#status').dataset.state === 'error', null, { timeout: args.timeout })
        .catch(() => {});
      status = await statusOf(page);
      check('model without Ursa metadata is refused with a message', status.state === 'error' && status.text.length > 0,
        `${status.state}: ${status.text}`);
    }
    if (args.modelFile) {
      await page.setInputFiles('#model-file', args.modelFile);
      await page.waitForFunction(() => document.querySelector('#status').dataset.state === 'ready', null, { timeout: args.timeout })
        .catch(() => {});
      status = await statusOf(page);
      check('#model-file loads a model', status.state === 'ready', `${status.state}: ${status.text}`);
      const before = await resultCount(page);
      await page.setInputFiles('#files', args.photo);
      await waitResults(page, before + 1, args.timeout);
      const again = await lastResult(page);
      check('photo classified with the loaded model', !again.error && Number(again.prob) > 0,
        again.error || `${again.label} ${again.prob}`);
    }

    await screenshot(page, args.screenshot);

    // 5. optional: offline after the first visit
    if (args.offline) await checkOffline(page, context, args);

    // 6. privacy: only GETs of the site's own files
    const all = [...requests.values()];
    const foreign = all.filter((r) => !/^(data|blob):/.test(r.url) && new URL(r.url).origin !== site.origin);
    const writes = all.filter((r) => !['GET', 'HEAD'].includes(r.method) || r.hasBody);
    for (const r of all) console.log(`info: request ${r.method} ${r.url}`);
    check('model fetched by the page', all.some((r) => /model\.onnx$/.test(r.url)),
      `${all.length} requests seen`);
    check('no request outside the site origin', foreign.length === 0, foreign.map((r) => r.url).join(', '));
    check('no request carries data (no POST/PUT, no body)', writes.length === 0,
      writes.map((r) => `${r.method} ${r.url}`).join(', '));
    check('no uncaught page errors', pageErrors.length === 0, pageErrors.join(' | '));
  } finally {
    await browser.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return failures.length ? 1 : 0;
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

async function screenshot(page, file) {
  if (!file) return;
  await page.screenshot({ path: file, fullPage: true });
  console.log(`info: screenshot ${file}`);
  // The same page at phone width, next to it.
  const phone = file.replace(/(\.png)?$/i, '-phone.png');
  const size = page.viewportSize();
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: phone, fullPage: true });
  await page.setViewportSize(size);
  console.log(`info: screenshot ${phone}`);
}

main().then((code) => {
  console.log(code === 0 ? 'e2e: PASS' : `e2e: FAIL (${failures.join('; ') || 'see above'})`);
  process.exit(code);
}, (e) => {
  console.error(`FAIL e2e crashed: ${e.stack || e}`);
  console.log('e2e: FAIL');
  process.exit(1);
});
