// Curation in a real browser (headless chromium through playwright-core):
// log in as an analyst, paste text into the paste box and add the picked
// indicators, open one, write a note on it, mark it a false positive, and
// see it leave the EDL export while the others stay; then label the search
// results in bulk (all matching) and see the label on the indicator page,
// and check the search page fits a 390 px phone.
//
//   node tests/e2e/curation.mjs BASE USER PASSWORD SCREENSHOT_DIR
//
// Env: REXIST_CHROMIUM (the browser), REXIST_PLAYWRIGHT (dir with
// node_modules/playwright-core). Ends with one JSON line of results and
// exits non-zero on failure.
import { createRequire } from 'node:module';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const require = createRequire(join(process.env.REXIST_PLAYWRIGHT || '.', 'node_modules', '.'));
const { chromium } = require('playwright-core');

const [base, user, password, shots] = process.argv.slice(2);
// Values on no warning list, so they are exported while active.
const PASTED = 'Phishing kit seen today: C2 at hxxp://kit-gate[.]com/panel\n' +
  'relay-fp-candidate.com\n';
const FP = 'relay-fp-candidate.com';
const KEPT = 'http://kit-gate.com/panel';
const NOTE = 'Our own mail relay, whitelisted in the proxy';
const result = { ok: false, steps: [] };

const watchdog = setTimeout(() => finish('timed out'), 120_000);

let browser;
async function finish(error) {
  clearTimeout(watchdog);
  if (error) result.error = String(error && error.stack ? error.message : error);
  result.ok = !error;
  try { if (browser) await browser.close(); } catch (_) { /* closing anyway */ }
  process.stdout.write(JSON.stringify(result) + '\n');
  process.exit(result.ok ? 0 : 1);
}

function step(name, extra = {}) {
  result.steps.push(name);
  Object.assign(result, extra);
}

async function edl(page) {
  const res = await page.request.get(`${base}/api/v1/exports/edl`);
  if (!res.ok()) throw new Error(`the EDL export answered ${res.status()}`);
  return (await res.text()).split('\n').map((l) => l.trim()).filter(Boolean);
}

async function main() {
  mkdirSync(shots, { recursive: true });
  browser = await chromium.launch({
    executablePath: process.env.REXIST_CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--lang=en-US'],
    timeout: 30_000,
  });
  const context = await browser.newContext({
    viewport: { width: 1280, height: 900 },
    locale: 'en-US',
    timezoneId: 'UTC',
  });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  page.setDefaultNavigationTimeout(15_000);

  await page.goto(`${base}/login`);
  await page.fill('#user', user);
  await page.fill('#password', password);
  await Promise.all([page.waitForURL(`${base}/`), page.press('#password', 'Enter')]);
  step('login');

  // paste text, pick what was found, add it
  await Promise.all([page.waitForURL(`${base}/curation/paste`), page.click('#nav-add')]);
  await page.fill('#paste-text', PASTED);
  await page.click('#paste-extract');
  await page.waitForSelector('#paste-found');
  const found = await page.locator('#paste-found li').allInnerTexts();
  if (!found.some((t) => t.includes(KEPT)) || !found.some((t) => t.includes(FP))) {
    throw new Error(`the paste box did not find the indicators: ${found.join(' | ')}`);
  }
  await page.selectOption('#paste-tlp', 'clear');
  await page.fill('#paste-labels', 'phishing-kit');
  await shot(page, 'paste.png');
  await page.click('#paste-add');
  await page.waitForSelector('#paste-added');
  const added = await page.locator('#paste-added li').allInnerTexts();
  step('paste-added', { added: added.length });
  const before = await edl(page);
  if (!before.includes(FP) || !before.includes(KEPT)) {
    throw new Error(`the added indicators are not in the EDL export: ${before.join(', ')}`);
  }

  // open one, write a note
  await Promise.all([
    page.waitForURL(/\/indicators\/domain\//),
    page.click(`#paste-added a:has-text("${FP}")`),
  ]);
  await page.waitForSelector('#note-text');
  await page.fill('#note-text', NOTE);
  await page.click('#note-add');
  await page.waitForSelector(`#notes li:has-text("${NOTE}")`);
  step('note', { noted: true });

  // mark it a false positive: it leaves the EDL export
  await page.fill('#fp-reason', 'our mail relay');
  await page.click('#fp-mark');
  await page.waitForSelector('#fp-banner');
  await shot(page, 'curation.png', true);
  const after = await edl(page);
  if (after.includes(FP)) throw new Error(`${FP} is still in the EDL export`);
  if (!after.includes(KEPT)) throw new Error(`${KEPT} left the EDL export too`);
  step('false-positive', { gone_from_edl: true, edl_before: before.length, edl_after: after.length });

  // the indicator page says so after a reload
  await page.reload();
  const verdict = await page.locator('.verdict').innerText();
  if (!/false positive/.test(verdict)) throw new Error(`the verdict does not say false positive: ${verdict}`);
  step('verdict', { verdict_says_fp: true });

  // bulk label of search results: filter by the pasted label, tick all
  // matching, add a label, and the indicator page shows it
  await page.goto(`${base}/search?label=phishing-kit`);
  await page.waitForSelector('#indicator-results');
  const listed = await page.locator('#indicator-results li').count();
  await page.check('#select-matching');
  await page.selectOption('#bulk-action', 'label');
  await page.fill('#bulk-label', 'wave-7');
  await page.click('#bulk-apply');
  await page.waitForSelector('#bulk-done');
  const done = await page.locator('#bulk-done').innerText();
  await shot(page, 'search-bulk.png');
  step('bulk-label', { bulk_listed: listed, bulk_done: done });
  await Promise.all([
    page.waitForURL(/\/indicators\/url\//),
    page.click('#indicator-results a:has-text("kit-gate.com/panel")'),
  ]);
  await page.waitForSelector('#hand-labels');
  const labels = await page.locator('#hand-labels').innerText();
  if (!labels.includes('wave-7')) throw new Error(`the bulk label is not on the indicator page: ${labels}`);
  step('bulk-label-shown', { bulk_label_shown: true });

  // the search page with filters, facets and the bulk bar fits a 390 px phone
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`${base}/search?label=phishing-kit&q=`);
  await page.waitForSelector('#indicator-results');
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  if (width > 390) throw new Error(`the search page is ${width} px wide at 390 px`);
  step('phone-search', { search_phone_width: width });
}

async function shot(page, name, fullPage = false) {
  await page.screenshot({ path: join(shots, name), fullPage });
}

main().then(() => finish(null), (e) => finish(e));
