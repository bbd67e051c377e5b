// A new user's first ten minutes in a real browser (headless chromium
// through playwright-core): the Rust test (tests/ui_e2e.rs) starts
// `rexist serve` on an empty data directory, loads `rexist demo` into it
// and reads the first admin's password file; this logs in as that admin,
// sees the demo data on the dashboard in English, then in Japanese, and
// finds a demo item by searching ランサムウェア.
//
//   node tests/e2e/first_start.mjs BASE USER PASSWORD SCREENSHOT_DIR
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
// Stable parts of the bundled sample (data/demo/sample.json).
const DEMO_SOURCES = ['demo-blocklist', 'demo-news'];
const SEARCH_JA = 'ランサムウェア';
const SAMPLE_JA = 'サンプルデータ';
const result = { ok: false, steps: [] };

// The whole flow is bounded; the test has its own bound around it.
const watchdog = setTimeout(() => finish('timed out'), 80_000);

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

async function shot(page, name, fullPage = false) {
  await page.screenshot({ path: join(shots, name), fullPage });
}

// The dashboard's count cards, in order: indicators, items, sightings, sources.
async function cards(page) {
  const texts = await page.locator('.cards .card .n').allInnerTexts();
  return texts.map((t) => Number(t.replace(/[^0-9]/g, '')));
}

// What the dashboard must show of the demo, in either language.
async function demoShown(page, lang) {
  const [indicators, items, , sources] = await cards(page);
  if (!(indicators > 0 && items > 0 && sources > 0)) {
    throw new Error(`(${lang}) the dashboard counts no demo data: ${await cards(page)}`);
  }
  const health = await page.locator('#health').innerText();
  for (const s of DEMO_SOURCES) {
    if (!health.includes(s)) throw new Error(`(${lang}) the dashboard does not list ${s}: ${health}`);
  }
  return { indicators, items, sources };
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

  // log in as the first admin, with the password from its file
  await page.goto(`${base}/login`);
  await page.fill('#user', user);
  await page.fill('#password', password);
  await shot(page, 'first-login.png');
  await Promise.all([page.waitForURL(`${base}/`), page.press('#password', 'Enter')]);
  await page.waitForSelector('h1');
  step('login');

  // the dashboard, in English, shows the demo data
  const lang = await page.getAttribute('html', 'lang');
  const title = (await page.locator('h1').first().innerText()).trim();
  if (lang !== 'en' || title !== 'Dashboard') throw new Error(`not the English dashboard: lang=${lang} h1=${title}`);
  const en = await demoShown(page, 'en');
  step('dashboard-en', { english: true, counts: en });
  await shot(page, 'first-dashboard.png');

  // switched to Japanese: Japanese labels, the same data
  await page.goto(`${base}/?lang=ja`);
  await page.waitForSelector('h1');
  const ja = await page.evaluate(() => document.body.innerText);
  const jaLang = await page.getAttribute('html', 'lang');
  if (jaLang !== 'ja' || !ja.includes('ダッシュボード') || !ja.includes('ソースの状態')) {
    throw new Error('the Japanese dashboard does not read ダッシュボード / ソースの状態');
  }
  await demoShown(page, 'ja');
  step('dashboard-ja', { japanese: true });
  await shot(page, 'first-dashboard-ja.png');

  // search in Japanese: a Japanese demo item
  await page.fill('#q', SEARCH_JA);
  await Promise.all([page.waitForURL(/\/search\?/), page.press('#q', 'Enter')]);
  await page.waitForSelector('#results');
  const titles = await page.locator('#results a.title').allInnerTexts();
  const found = titles.find((t) => t.includes(SEARCH_JA) && t.includes(SAMPLE_JA));
  if (!found) throw new Error(`no demo item for ${SEARCH_JA}: ${JSON.stringify(titles)}`);
  step('search-ja', { search_ja: found });
  await shot(page, 'first-search-ja.png');
}

main().then(() => finish(null), (e) => finish(e));
