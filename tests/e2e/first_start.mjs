// A new user's first ten minutes in a real browser (headless chromium
// through playwright-core): the Rust test (tests/ui_e2e.rs) starts
// `rexist serve` on an empty data directory, loads `rexist demo` into it
// and reads the first admin's password file; this logs in as that admin,
// sees the demo data on the dashboard in English, then in Japanese, and
// finds a demo item by searching ランサムウェア; then opens a demo domain's
// pivot graph, expands nodes by click and by keyboard, hides a relation,
// and opens the graph on a 390 px phone.
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
// A demo domain an OTX pulse reports, resolving to GRAPH_IP.
const GRAPH_DOMAIN = 'leak-1.example.org';
const GRAPH_IP = '203.0.113.100';
const GRAPH_CVE = 'CVE-2025-0001';
const result = { ok: false, steps: [] };

// The whole flow is bounded; the test has its own bound around it.
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

  // The pivot graph on a demo domain's page (still in Japanese): drawn
  // from the API, a click expands a node, a relation box hides its edges.
  await page.goto(`${base}/indicators/domain/${GRAPH_DOMAIN}`);
  const nodes = () => page.locator('.pivot-graph svg.pivot g.gnode').count();
  await page.waitForSelector('.pivot-graph svg.pivot g.gnode.item');
  const drawn = await nodes();
  if (drawn < 3) throw new Error(`the graph drew ${drawn} nodes`);
  // A CVE the same items name: the vulnerability items reporting it join.
  await page.locator(`.pivot-graph g.gnode[data-id="indicator:cve:${GRAPH_CVE}"]`).click();
  await page.waitForFunction((n) => document.querySelectorAll('.pivot-graph g.gnode').length > n, drawn);
  const expanded = await nodes();
  // Enter on a focused node expands it too.
  const ip = page.locator(`.pivot-graph g.gnode[data-id="indicator:ipv4:${GRAPH_IP}"]`);
  await ip.focus();
  await page.keyboard.press('Enter');
  await page.waitForSelector(`.pivot-graph g.gnode.expanded[data-id="indicator:ipv4:${GRAPH_IP}"]`);
  const open = await page.locator('.pivot-graph a.graph-open').getAttribute('href');
  if (open !== `/indicators/ipv4/${GRAPH_IP}`) throw new Error(`the selected node opens ${open}`);
  const lines = (r) => page.locator(`.pivot-graph line[data-relations~="${r}"]`).count();
  const before = await lines('resolves-to');
  if (!before) throw new Error('no resolves-to edge drawn');
  await page.locator('.pivot-graph input[data-relation="resolves-to"]').uncheck();
  const after = await lines('resolves-to');
  if (after !== 0) throw new Error(`${after} resolves-to edges left after unticking it`);
  step('graph', { graph_nodes: [drawn, expanded], graph_hidden: before - after });
  await shot(page, 'graph.png');

  // The same graph on a 390 px phone: it fits, nothing is wider than the screen.
  const phone = await browser.newContext({
    viewport: { width: 390, height: 844 }, locale: 'ja-JP', timezoneId: 'UTC',
    storageState: await context.storageState(),
  });
  const small = await phone.newPage();
  small.setDefaultTimeout(15_000);
  await small.goto(`${base}/indicators/domain/${GRAPH_DOMAIN}`);
  await small.waitForSelector('.pivot-graph svg.pivot g.gnode.item');
  const width = await small.evaluate(() => document.documentElement.scrollWidth);
  const svgWidth = await small.evaluate(() => document.querySelector('.pivot-graph svg.pivot').getBoundingClientRect().width);
  if (width > 390 || svgWidth > 390) throw new Error(`the graph page is ${width} px wide (svg ${svgWidth})`);
  step('graph-phone', { graph_phone_width: width });
  await small.locator('.pivot-graph').screenshot({ path: join(shots, 'graph-phone.png') });
}

main().then(() => finish(null), (e) => finish(e));
