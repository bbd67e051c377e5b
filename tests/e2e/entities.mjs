// Threat entities in a real browser (headless chromium through
// playwright-core): after an OTX source ran against the shared pulses, an
// analyst opens the actor the pulse names, sees the pulse's indicators and
// the pulse on the actor's page, follows it and sees it on the dashboard,
// and the page fits a 390 px phone and reads in Japanese.
//
//   node tests/e2e/entities.mjs BASE USER PASSWORD SCREENSHOT_DIR
//
// Env: REXIST_CHROMIUM, REXIST_PLAYWRIGHT (as curation.mjs). Ends with one
// JSON line of results and exits non-zero on failure.
import { createRequire } from 'node:module';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const require = createRequire(join(process.env.REXIST_PLAYWRIGHT || '.', 'node_modules', '.'));
const { chromium } = require('playwright-core');

const [base, user, password, shots] = process.argv.slice(2);
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

  // The pulse's page names its actor; the link leads to the actor's page.
  const pulses = await (await page.request.get(`${base}/api/v1/items?q=${encodeURIComponent('"Example Panda"')}&kind=event`)).json();
  const pulse = pulses.items.find((i) => i.title.includes('Panda'));
  if (!pulse) throw new Error(`no pulse about the actor: ${JSON.stringify(pulses)}`);
  await page.goto(`${base}/items/${pulse.id}`);
  const named = await page.locator('#item-entities li').allInnerTexts();
  step('pulse-names-entities', { pulse_entities: named.length });
  await Promise.all([
    page.waitForURL(/\/items\/\d+$/),
    page.click('#item-entities a:text("Example Panda")'),
  ]);
  await page.waitForSelector('#entity');
  const indicators = await page.locator('#entity-indicators td a.ioc').allInnerTexts();
  const reports = await page.locator('#entity-items li').allInnerTexts();
  step('actor-page', {
    actor_indicators: indicators.length,
    actor_lists_c2: indicators.some((t) => t.replace(/\[\.\]/g, '.').includes('192.0.2.10')),
    actor_lists_pulse: reports.some((t) => t.includes(pulse.title)),
  });
  // The actor's graph draws its neighbours; expanding the malware it shares
  // a pulse with adds that malware's own neighbours.
  await page.waitForSelector('.pivot-graph svg.pivot g.gnode');
  const drawn = await page.locator('.pivot-graph g.gnode').count();
  const loader = page.locator('.pivot-graph g.gnode[data-id^="entity:"]').filter({ hasText: 'ExampleLoader' });
  await loader.first().click();
  await page.waitForFunction((n) => document.querySelectorAll('.pivot-graph g.gnode').length > n, drawn);
  const expanded = await page.locator('.pivot-graph g.gnode').count();
  step('actor-graph', { graph_nodes: drawn, graph_expanded: expanded > drawn });
  await page.screenshot({ path: join(shots, 'entity.png'), fullPage: true });

  // Follow it; the page then names the hunt, and the dashboard lists it.
  await Promise.all([page.waitForURL(/\/items\/\d+$/), page.click('#follow')]);
  await page.waitForSelector('#unfollow');
  const hunt = await page.locator('#follow-hunt').innerText();
  await page.goto(`${base}/`);
  const followed = await page.locator('#followed').innerText();
  step('followed', { follow_hunt: hunt, dashboard_follows: followed.includes('Example Panda') });

  // The actor's page at 390 px, and in Japanese.
  const actorUrl = `${base}/items/${(await (await page.request.get(`${base}/api/v1/items?kind=threat-actor`)).json()).items[0].id}`;
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(actorUrl);
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  if (width > 390) throw new Error(`the entity page is ${width} px wide at 390 px`);
  await page.goto(`${actorUrl}?lang=ja`);
  const ja = await page.locator('h1').innerText();
  step('phone-and-japanese', { entity_phone_width: width, japanese_kind: ja.includes('攻撃者') });
}

main().then(() => finish(), (e) => finish(e));
