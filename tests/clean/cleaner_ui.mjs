#!/usr/bin/env node
// The cleaner page of `ursa clean --serve` in real (Debian) Chromium via playwright-core:
// marks made across two labels survive switching back and forth and a reload, and
// "Save" writes them all to the plan; requests without the token are refused.
//
// usage: node tests/clean/cleaner_ui.mjs --url URL --plan PLAN_PATH --screenshot FILE [--chromium PATH]
// One PASS/FAIL line per check; exit status 1 when any fails.
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..', '..');
const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
const chromiumPath = args.chromium || '/usr/bin/chromium';

let failed = 0;
const check = (name, ok, detail = '') => {
  console.log(`${ok ? 'PASS' : 'FAIL'} ${name}${ok || !detail ? '' : `: ${detail}`}`);
  if (!ok) failed++;
};

const { chromium } = createRequire(path.join(repo, 'web', 'package.json'))('playwright-core');
const browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox', '--disable-gpu'] });
try {
  const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  const violations = [];
  page.on('console', (m) => { if (m.type() === 'error') violations.push(m.text()); });
  await page.goto(args.url);
  const ready = async () => page.waitForFunction(() => document.getElementById('status').dataset.state === 'ready',
                                                 null, { timeout: 60000 });
  await ready();
  check('the page loads the images of the first label', await page.locator('#items .item').count() > 0);
  const labels = await page.locator('#label option').evaluateAll((os) => os.map((o) => o.value));
  check('the label menu lists the vocabulary', JSON.stringify(labels) === JSON.stringify(['blue', 'green', 'red']),
        JSON.stringify(labels));
  const losses = await page.locator('#items .item .stats').allTextContents();
  const values = losses.map((t) => Number(/loss ([0-9.]+)/.exec(t)[1]));
  check('images are sorted by loss, highest first', values.every((v, i) => i === 0 || values[i - 1] >= v),
        JSON.stringify(values));

  const show = async (label, split) => {
    await page.selectOption('#label', label);
    await ready();
    await page.selectOption('#split', split);
    await ready();
  };
  const mark = async (n, value) => {
    const item = page.locator('#items .item').nth(n);
    await item.locator('select.action').selectOption(value);
    return item.getAttribute('data-file');
  };
  // Two marks on red (train), one on blue (valid), then back and forth.
  await show('red', 'train');
  const redDelete = await mark(0, 'delete');
  const redRelabel = await mark(1, 'relabel:green');
  await show('blue', 'valid');
  const blueDelete = await mark(0, 'delete');
  await show('red', 'train');
  const valueOf = async (file) => page.locator(`#items .item[data-file="${file}"] select.action`).inputValue();
  check('marks survive a switch of label and split',
        await valueOf(redDelete) === 'delete' && await valueOf(redRelabel) === 'relabel:green');
  check('the marked cards show their action', await page.locator(`#items .item[data-file="${redDelete}"]`)
    .getAttribute('data-action') === 'delete');
  check('the page counts the marks', (await page.textContent('#marks')).trim() === '3 changes marked',
        await page.textContent('#marks'));

  await page.reload();
  await ready();
  check('marks survive a reload', (await page.textContent('#marks')).trim() === '3 changes marked',
        await page.textContent('#marks'));
  await show('blue', 'valid');
  check('a reloaded page shows the marks on their cards', await valueOf(blueDelete) === 'delete');
  await show('red', 'train');
  await page.screenshot({ path: args.screenshot, fullPage: true });

  await page.click('#save');
  await page.waitForFunction(() => document.getElementById('status').dataset.state === 'saved', null,
                             { timeout: 10000 });
  const plan = JSON.parse(fs.readFileSync(args.plan, 'utf8'));
  const byFile = Object.fromEntries(plan.items.map((i) => [i.file, i]));
  check('the saved plan follows the contract', plan.version === 1 && typeof plan.data === 'string', JSON.stringify(plan));
  check('the saved plan holds every mark', plan.items.length === 3 && byFile[redDelete]?.action === 'delete'
        && byFile[blueDelete]?.action === 'delete' && byFile[redRelabel]?.action === 'relabel'
        && byFile[redRelabel]?.label === 'green', JSON.stringify(plan.items));
  check('the status tells how to apply the plan', (await page.textContent('#status')).includes('--apply'));

  // Unmarking goes back to Keep and leaves the plan on the next save.
  await page.locator(`#items .item[data-file="${redRelabel}"] select.action`).selectOption('keep');
  await page.click('#save');
  await page.waitForFunction(() => document.getElementById('status').textContent.startsWith('Saved 2'), null,
                             { timeout: 10000 });
  check('Keep removes a mark from the plan', JSON.parse(fs.readFileSync(args.plan, 'utf8')).items.length === 2);

  check('no errors or CSP violations in the console', violations.length === 0, violations.join(' | '));
  const origin = new URL(args.url).origin;
  const noToken = await page.evaluate(async (o) => (await fetch(`${o}/api/state`)).status, origin);
  check('a request without the token is refused (403)', noToken === 403, String(noToken));
  const badThumb = await page.evaluate(async (u) => {
    const t = new URL(u).searchParams.get('token');
    return (await fetch(`/thumb?file=${encodeURIComponent('../../etc/passwd')}&token=${t}`)).status;
  }, args.url);
  check('files outside the dataset are never served', badThumb === 404, String(badThumb));

  await page.click('#stop');
  await page.waitForFunction(() => document.getElementById('status').textContent.includes('server has stopped'),
                             null, { timeout: 10000 });
  check('"Save and stop" saves and stops the server', true);
} catch (e) {
  check('the cleaner test ran to the end', false, e.stack);
} finally {
  await browser.close();
}
console.log(`cleaner ui: ${failed} failed`);
process.exit(failed ? 1 : 0);
