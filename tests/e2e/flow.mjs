// The web UI in a real browser (headless chromium through playwright-core):
// log in, search, open an indicator, create a watch hunt, then — after the
// Rust test (tests/ui_e2e.rs) ingests a list with the watched value — see
// the hit on the dashboard, and the dashboard in Japanese; then, on a
// phone, that no main page is wider than 390 px in English or Japanese,
// that times are in the reader's locale and zone, and that the indicator
// page's score reads in Japanese.
//
//   node tests/e2e/flow.mjs BASE USER PASSWORD SCREENSHOT_DIR
//
// Env: REXIST_CHROMIUM (the browser), REXIST_PLAYWRIGHT (dir with
// node_modules/playwright-core). Protocol with the test: prints
// `{"step":"hunt-created"}` and waits for one line on stdin before
// reloading the dashboard; ends with one JSON line of results and exits
// non-zero on failure.
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const require = createRequire(join(process.env.REXIST_PLAYWRIGHT || '.', 'node_modules', '.'));
const { chromium } = require('playwright-core');

const [base, user, password, shots] = process.argv.slice(2);
const SEARCH = 'https://login.phish.example/secure/';
const HUNT = 'e2e-watch';
const WATCHED = '192.0.2.100';
const result = { ok: false, steps: [] };

// The whole flow is bounded; the test has its own bound around it.
const watchdog = setTimeout(() => finish('timed out'), 140_000);

let browser;
async function finish(error) {
  clearTimeout(watchdog);
  if (error) result.error = String(error && error.stack ? error.message : error);
  result.ok = !error;
  try { if (browser) await browser.close(); } catch (_) { /* closing anyway */ }
  process.stdout.write(JSON.stringify(result) + '\n');
  process.exit(result.ok ? 0 : 1);
}

const lines = createInterface({ input: process.stdin });
const nextLine = () => new Promise((resolve) => lines.once('line', resolve));

function step(name, extra = {}) {
  result.steps.push(name);
  Object.assign(result, extra);
}

async function shot(page, name, fullPage = false) {
  await page.screenshot({ path: join(shots, name), fullPage });
}

async function main() {
  mkdirSync(shots, { recursive: true });
  browser = await chromium.launch({
    executablePath: process.env.REXIST_CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--lang=en-US'],
    timeout: 30_000,
  });
  const context = await browser.newContext({
    viewport: { width: 1280, height: 800 },
    locale: 'en-US',
    timezoneId: 'UTC',
  });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  page.setDefaultNavigationTimeout(15_000);

  // log in
  await page.goto(`${base}/login`);
  await page.fill('#user', user);
  await page.fill('#password', password);
  await shot(page, 'login.png');
  await Promise.all([page.waitForURL(`${base}/`), page.press('#password', 'Enter')]);
  await page.waitForSelector('h1');
  step('login', { dashboard_title: await page.title() });
  await shot(page, 'dashboard.png');

  // search: a word lists results; an indicator goes to its page
  await page.fill('#q', 'phish');
  await Promise.all([page.waitForURL(/\/search\?/), page.press('#q', 'Enter')]);
  await page.waitForLoadState('domcontentloaded');
  step('search', { search_url: page.url().slice(base.length) });
  await shot(page, 'search.png');
  await page.fill('#q', SEARCH);
  await Promise.all([page.waitForURL(/\/indicators\//), page.press('#q', 'Enter')]);
  await page.waitForLoadState('domcontentloaded');
  const indicatorText = await page.evaluate(() => document.body.innerText);
  if (!/phish/.test(indicatorText)) throw new Error('the indicator page does not name the indicator');
  step('indicator', { indicator_url: page.url().slice(base.length) });
  await shot(page, 'indicator.png');

  // create a watch hunt; the preview answers as the analyst types
  await page.goto(`${base}/hunts/new`);
  await page.fill('#hunt-name', HUNT);
  await page.check('input[name=kind][value=watch]');
  await page.locator('#hunt-definition').pressSequentially(`${WATCHED}, url:/phish/`, { delay: 10 });
  await page.waitForSelector('#preview-count');
  const previewed = Number(await page.getAttribute('#preview-count', 'data-count'));
  step('preview', { preview_count: previewed });
  await shot(page, 'hunt-new.png');
  await Promise.all([
    page.waitForURL(`${base}/hunts/${HUNT}`),
    page.click('#hunt-save'),
  ]);
  step('hunt-created');
  await page.goto(`${base}/hunts`);
  await shot(page, 'hunts.png');

  // the test ingests a list with the watched value, then says so
  process.stdout.write(JSON.stringify({ step: 'hunt-created' }) + '\n');
  const answer = await Promise.race([
    nextLine(),
    new Promise((_, reject) => setTimeout(() => reject(new Error('no answer from the test')), 30_000)),
  ]);
  if (answer.trim() !== 'ingested') throw new Error(`the test said ${answer}`);

  await page.goto(`${base}/`);
  const hits = await page.locator('#hits').innerText();
  if (!hits.includes(HUNT)) throw new Error(`no hit of ${HUNT} on the dashboard: ${hits}`);
  step('hit-seen', { hit_seen: true });
  await page.goto(`${base}/hunts/${HUNT}`);
  await page.waitForSelector('#hit-list, #hits');
  await shot(page, 'hunt.png', true);

  // triage the hit: in progress, assigned, with a note; it holds on reload
  const form = page.locator('#hunt-hits form.triage').first();
  await form.locator('select[name=status]').selectOption('in_progress');
  await form.locator('input[name=assignee]').fill('e2e-analyst');
  await form.locator('input[name=note]').fill('checking the proxy logs');
  await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/triage') && r.request().method() === 'POST'),
    form.locator('button[type=submit]').click(),
  ]);
  await page.goto(`${base}/hunts/${HUNT}`);
  const kept = page.locator('#hunt-hits form.triage').first();
  const state = await kept.locator('select[name=status]').inputValue();
  const assignee = await kept.locator('input[name=assignee]').inputValue();
  if (state !== 'in_progress' || assignee !== 'e2e-analyst') {
    throw new Error(`the triage did not hold: ${state} / ${assignee}`);
  }
  step('triaged', { triaged: true });

  // the dashboard in Japanese, with no mojibake
  await page.goto(`${base}/?lang=ja`);
  const ja = await page.evaluate(() => document.body.innerText);
  const lang = await page.getAttribute('html', 'lang');
  if (!ja.includes('ダッシュボード') || lang !== 'ja') throw new Error('the Japanese dashboard does not read ダッシュボード');
  step('japanese', { japanese: true });
  await shot(page, 'dashboard-ja.png');
  await page.goto(`${base}/?lang=en`);

  // a phone, British English in Tokyo: no page is wider than its 390 px,
  // in English and in Japanese; times are written day first in the
  // reader's zone, with the zone named
  const phone = await browser.newContext({
    viewport: { width: 390, height: 844 },
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
    locale: 'en-GB',
    timezoneId: 'Asia/Tokyo',
    storageState: await context.storageState(),
  });
  const small = await phone.newPage();
  small.setDefaultTimeout(15_000);
  await small.goto(`${base}/?lang=en`);
  await small.waitForSelector('#hits');
  await shot(small, 'dashboard-phone.png');
  const times = await small.$$eval('time', (ts) => ts.map((t) => t.textContent));
  const dayFirst = /^\d{1,2} [A-Z][a-z]{2} \d{4}, \d{2}:\d{2} GMT\+9$/;
  if (!times.length || !times.every((t) => dayFirst.test(t))) {
    throw new Error(`times are not day first in Tokyo's zone: ${times.slice(0, 3).join(' | ')}`);
  }
  step('phone', { local_time: times[0] });

  const pages = [
    '/',
    '/search?q=phish',
    result.indicator_url,
    '/hunts',
    '/hunts/new',
    `/hunts/${HUNT}`,
    '/sources',
    '/sources/openphish',
    '/exports',
    '/account',
    '/admin',
    '/no/such/page',
  ];
  const widths = {};
  for (const lang of ['en', 'ja']) {
    for (const path of pages) {
      const sep = path.includes('?') ? '&' : '?';
      await small.goto(`${base}${path}${sep}lang=${lang}`);
      await small.waitForLoadState('load');
      const wide = await small.evaluate(() =>
        Math.max(document.documentElement.scrollWidth, document.body ? document.body.scrollWidth : 0));
      widths[`${lang} ${path}`] = wide;
      if (wide > 390) {
        await shot(small, 'too-wide.png', true);
        throw new Error(`${lang} ${path} is ${wide} px wide in a 390 px viewport`);
      }
      if (lang === 'ja' && (await small.getAttribute('html', 'lang')) !== 'ja') {
        throw new Error(`${path} is not in Japanese`);
      }
    }
  }
  step('narrow', { narrow: true, widths });

  // the indicator page in Japanese says its score and relations in Japanese
  await small.goto(`${base}${result.indicator_url}?lang=ja`);
  await shot(small, 'indicator-phone-ja.png', true);
  const indicatorJa = await small.evaluate(() => document.body.innerText);
  const english = /highest confidence|last seen \d+ days|\d+ sightings|\d+ sources|lies in|stated by/;
  if (english.test(indicatorJa) || !indicatorJa.includes('スコアの内訳')) {
    throw new Error(`the Japanese indicator page has English: ${indicatorJa.match(english)}`);
  }
  step('indicator-ja', { indicator_ja: true });
  await small.goto(`${base}/?lang=en`);
}

main().then(() => finish(null), (e) => finish(e));
