/**
 * The dashboard end to end in Debian's Chromium, driven by playwright-core: the validator on a
 * real database, the dashboard server in front of it, and a browser reading through both. Every
 * test fails on a console error or an uncaught page error. Screenshots of each page land in
 * test-artifacts/screenshots/.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { pino } from 'pino';
import type { Page } from 'playwright-core';
import { loadConfig } from '../../src/config.ts';
import { createApiKey } from '../../src/governance/keys.ts';
import { dispatcherFromConfig } from '../../src/notify/index.ts';
import { browserAvailability, launchBrowser, type PageWatch, type TestBrowser } from '../support/browser.ts';
import { startDashboard, type TestDashboard } from '../support/dashboard.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { startFakeLinear, type FakeLinear } from '../support/fake-linear.ts';
import { seedTestScenario } from '../support/scenario.ts';
import { ADMIN_KEY, http, startValidator, type TestValidator } from '../support/validator.ts';

const chromium = browserAvailability();
const skip = 'reason' in chromium ? chromium.reason : false;

let t: TestDatabase;
let v: TestValidator;
let d: TestDashboard;
let linear: FakeLinear;
let browser: TestBrowser;
let viewerKey: string;
let negotiated: string;
let rejected: string;

const TIMEOUT = 10_000;

before(async () => {
  if (skip) return;
  t = await createTestDatabase();
  await seedTestScenario(t.db);
  linear = await startFakeLinear();
  const env = { LINEAR_API_KEY: linear.apiKey, LINEAR_TEAM_ID: 'team-1', LINEAR_API_URL: linear.url };
  v = await startValidator(t.db, env);
  d = await startDashboard(v.url);
  viewerKey = (await createApiKey(t.db, 'dash-viewer', 'viewer')).key;

  // A negotiated swap with reasoning and a transcript, a plain transfer, and a rejection whose
  // Linear ticket the dispatcher delivers.
  negotiated = randomUUID();
  const swap = await http(v.url, 'POST', '/execute', {
    proposal_id: negotiated,
    legs: [
      { actor_from: 'alice', actor_to: 'bob', resource: 'energy', amount: 12 },
      { actor_from: 'bob', actor_to: 'alice', resource: 'water', amount: 8 },
    ],
    metadata: {
      reasoning: 'alice is short of water and holds spare energy',
      transcript: [
        { round: 0, by: 'alice', type: 'offer', give: { resource: 'energy', amount: 10 }, get: { resource: 'water', amount: 8 }, reasoning: 'energy for water' },
        { round: 1, by: 'bob', type: 'counter', give: { resource: 'water', amount: 8 }, get: { resource: 'energy', amount: 12 }, reasoning: 'water is dear this epoch' },
        { round: 2, by: 'alice', type: 'accept', reasoning: 'fair enough' },
      ],
      strategy: 'heuristic',
    },
  });
  assert.equal(swap.status, 200);
  await http(v.url, 'POST', '/execute', { proposal_id: randomUUID(), actor_from: 'carol', actor_to: 'dave', resource: 'credits', amount: 25 });
  rejected = randomUUID();
  const refused = await http(v.url, 'POST', '/execute', { proposal_id: rejected, actor_from: 'dave', actor_to: 'alice', resource: 'energy', amount: 15 });
  assert.equal(refused.status, 422);
  const dispatcher = dispatcherFromConfig(t.db, loadConfig({ ...env, GRIDGOV_OUTBOX_TIMEOUT_MS: '2000' }), pino({ level: 'silent' }));
  while ((await dispatcher.runOnce()) > 0);

  browser = await launchBrowser(chromium.path!);
});

after(async () => {
  if (skip) return;
  await browser?.close();
  await d?.close();
  await v?.close();
  await linear?.close();
  await t?.drop();
});

/**
 * Runs `fn` with fresh tabs, then fails the test on anything they reported (console errors,
 * uncaught exceptions); the tabs are closed whatever happens, so a failure cannot leave streams
 * open for the next test.
 */
async function withPages(count: number, fn: (...watches: PageWatch[]) => Promise<void>): Promise<void> {
  const watches: PageWatch[] = [];
  try {
    for (let i = 0; i < count; i++) watches.push(await browser.open());
    await fn(...watches);
    for (const w of watches) assert.deepEqual(w.problems, [], 'the page reported errors');
  } finally {
    for (const w of watches) await w.page.close().catch(() => undefined);
  }
}

async function visit(page: Page, hash: string): Promise<void> {
  if (page.url().startsWith(d.url)) await page.evaluate((h) => (location.hash = h), hash);
  else await page.goto(`${d.url}/${hash}`);
}

const text = (page: Page, selector: string) => page.locator(selector).first().innerText();
const waitText = (page: Page, selector: string, pattern: RegExp | string) =>
  page.locator(selector).filter({ hasText: pattern }).first().waitFor({ timeout: TIMEOUT });

async function rowsOf(page: Page, table: string): Promise<string[][]> {
  return page.$$eval(`${table} tbody tr`, (rows) => rows.map((r) => [...r.querySelectorAll('td')].map((c) => (c as HTMLElement).innerText.trim())));
}

test('every page loads with data', { skip }, () =>
  withPages(1, async ({ page }) => {
    await visit(page, '#/overview');
    await waitText(page, '#health-status', 'Healthy');
    await waitText(page, '#breaker-badge', 'Trading: running');
    await waitText(page, '#live-status', 'Live');
    assert.match(await text(page, '#kpi-applied'), /^\d/);
    const resources = await rowsOf(page, '#resources-table');
    assert.deepEqual(resources.map((r) => r[0]), ['credits', 'energy', 'water']);
    assert.equal(resources.find((r) => r[0] === 'energy')![1], '320');
    await page.locator('#latest-entries tbody tr').first().waitFor();
    await browser.screenshot(page, 'overview');

    await visit(page, '#/actors');
    await page.locator('#actors-table tbody tr').nth(3).waitFor({ timeout: TIMEOUT });
    // Sort by energy, descending: a click sorts ascending, a second click reverses.
    // From the keyboard: the heading is a button; Enter sorts ascending, again descending.
    const energy = page.locator('#actors-table th', { hasText: 'energy' }).locator('button');
    await energy.focus();
    await page.keyboard.press('Enter');
    await page.locator('#actors-table th', { hasText: 'energy' }).locator('button').press('Enter');
    const byEnergy = await rowsOf(page, '#actors-table');
    const energyColumn = byEnergy.map((r) => Number(r[3]!.replace(/,/g, '')));
    assert.deepEqual(energyColumn, [...energyColumn].sort((a, b) => b - a));
    assert.equal(await page.locator('#actors-table th[aria-sort="descending"]').innerText(), 'energy (kWh)');
    await page.fill('#actor-filter', 'car');
    assert.deepEqual((await rowsOf(page, '#actors-table')).map((r) => r[0]), ['carol']);
    await browser.screenshot(page, 'actors');

    await page.getByRole('link', { name: 'carol' }).click();
    await waitText(page, 'h1', 'carol');
    await page.locator('#actor-entries tbody tr').first().waitFor({ timeout: TIMEOUT });
    const carolEntries = await rowsOf(page, '#actor-entries');
    assert.ok(carolEntries.some((r) => r[2] === 'trade' && r[3] === 'to dave' && r[5] === '-25'), JSON.stringify(carolEntries));
    assert.ok((await page.locator('figure.chart svg path.series').count()) >= 3, 'one history line per resource');
    await browser.screenshot(page, 'actor');

    await visit(page, '#/ledger');
    await page.locator('#ledger-table tbody tr').first().waitFor({ timeout: TIMEOUT });
    await page.selectOption('#filter-kind', 'trade');
    await page.click('#ledger-filters button[type=submit]');
    await page.waitForFunction(() => location.hash.includes('kind=trade'));
    await waitText(page, '#ledger-table caption', 'kind trade');
    const trades = await rowsOf(page, '#ledger-table');
    assert.equal(trades.length, 3, 'two legs of the swap and one transfer');
    assert.ok(trades.every((r) => r[2] === 'trade'));
    await browser.screenshot(page, 'ledger');

    await page.locator('#ledger-table a', { hasText: negotiated.slice(0, 8) }).first().click();
    await waitText(page, '#proposal-status', 'applied');
    assert.equal((await rowsOf(page, '#proposal-legs')).length, 2);
    await waitText(page, 'blockquote.reasoning', 'alice is short of water');
    assert.equal(await page.locator('ol.transcript > li').count(), 3);
    assert.match(await page.locator('ol.transcript > li').nth(1).innerText(), /bob counter — gives 8 water, asks 12 energy/);
    assert.match(await page.locator('dl.meta').last().innerText(), /strategy\s+heuristic/);
    assert.match(await text(page, 'main'), /Validator version\s+test/);
    await browser.screenshot(page, 'proposal');

    await visit(page, `#/proposals/${rejected}`);
    await waitText(page, '#proposal-status', 'rejected');
    assert.match(await text(page, 'main'), /CONSTRAINT_VIOLATION/);

    await visit(page, '#/rejections');
    await page.locator('#rejections-table tbody tr').first().waitFor({ timeout: TIMEOUT });
    assert.deepEqual(await rowsOf(page, '#rejection-counts'), [['CONSTRAINT_VIOLATION', '1']]);
    const ticket = page.locator('#rejections-table a.ticket').first();
    assert.equal(await ticket.innerText(), 'GOV-1');
    assert.equal(await ticket.getAttribute('href'), 'https://linear.app/team/issue/GOV-1');
    assert.match((await rowsOf(page, '#rejections-table'))[0]![5]!, /not configured/, 'Discord is not configured here');
    await browser.screenshot(page, 'rejections');

    // This validator may or may not serve GET /epochs; with no run either way, the page says why
    // it is empty (charts with data: charts.test.ts).
    await visit(page, '#/charts');
    await page.locator('#epochs-unavailable, #epochs-empty').first().waitFor({ timeout: TIMEOUT });
    await browser.screenshot(page, 'charts-unavailable');

    await visit(page, '#/admin');
    await waitText(page, '#admin-breaker-state', 'Trading is running');
    await browser.screenshot(page, 'admin');

    // Every form control on every page has a label.
    for (const hash of ['#/actors', '#/ledger', '#/rejections', '#/admin']) {
      await visit(page, hash);
      await page.locator('main form').first().waitFor({ timeout: TIMEOUT });
      const unlabelled = await page.$$eval('main input, main select', (els) =>
        els.filter((e) => !(e as HTMLInputElement).labels?.length && !e.getAttribute('aria-label')).map((e) => e.outerHTML),
      );
      assert.deepEqual(unlabelled, [], hash);
    }
  }));

test('a trade made through the API appears live, without a reload', { skip }, () =>
  withPages(3, async (ledger, overview, rejections) => {
    await visit(ledger.page, '#/ledger');
    await visit(overview.page, '#/overview');
    await visit(rejections.page, '#/rejections');
    for (const w of [ledger, overview, rejections]) {
      await waitText(w.page, '#live-status', 'Live');
      // Marks this document: a reload would lose it.
      await w.page.evaluate(() => ((window as unknown as { marker: number }).marker = 42));
    }
    await ledger.page.locator('#ledger-table tbody tr').first().waitFor();
    const head = Number(await overview.page.locator('#overview-activity').getAttribute('data-head'));

    const trade = await http(v.url, 'POST', '/execute', { proposal_id: randomUUID(), actor_from: 'bob', actor_to: 'carol', resource: 'water', amount: 3.25 });
    assert.equal(trade.status, 200);
    const id = String(trade.body.ledger_ids[0]);
    await ledger.page.locator('#ledger-table tbody tr.fresh td:first-child', { hasText: id }).waitFor({ timeout: TIMEOUT });
    assert.deepEqual((await rowsOf(ledger.page, '#ledger-table'))[0]!.slice(2), ['trade', 'bob', 'carol', 'water', '3.25', trade.body.proposal_id.slice(0, 8) + '…']);
    await overview.page.waitForFunction((h) => Number(document.querySelector('#overview-activity')?.getAttribute('data-head')) > h, head, { timeout: TIMEOUT });
    await waitText(overview.page, '#latest-entries tbody tr:first-child', '3.25 water');

    const refused = await http(v.url, 'POST', '/execute', { proposal_id: randomUUID(), actor_from: 'nobody', actor_to: 'carol', resource: 'water', amount: 1 });
    assert.equal(refused.status, 422);
    await waitText(rejections.page, '#rejections-table tbody tr:first-child', 'INVALID_ACTOR');
    await waitText(rejections.page, '#rejection-counts', 'INVALID_ACTOR');

    for (const w of [ledger, overview, rejections]) {
      assert.equal(await w.page.evaluate(() => (window as unknown as { marker?: number }).marker), 42, 'the page was not reloaded');
    }
    await browser.screenshot(ledger.page, 'ledger-live');
  }));

test('the ledger explorer pages back and forth', { skip }, () =>
  withPages(1, async ({ page }) => {
    for (let i = 0; i < 30; i++) {
      const reply = await http(v.url, 'POST', '/execute', { proposal_id: randomUUID(), actor_from: 'carol', actor_to: 'bob', resource: 'credits', amount: (1 + i / 100).toFixed(2) });
      assert.equal(reply.status, 200);
    }
    await visit(page, '#/ledger?resource=credits&limit=25');
    await waitText(page, '#ledger-table caption', 'resource credits');
    const first = await rowsOf(page, '#ledger-table');
    assert.equal(first.length, 25);
    assert.equal(await page.locator('#filter-resource').inputValue(), 'credits', 'the form shows the filters of the URL');
    await page.getByRole('button', { name: 'Older →' }).click();
    await page.waitForFunction(() => location.hash.includes('cursor='));
    await waitText(page, '#ledger-table caption', 'before entry');
    const second = await rowsOf(page, '#ledger-table');
    assert.ok(second.length > 0);
    assert.ok(Number(second[0]![0]) < Number(first[24]![0]), 'older entries follow');
    assert.ok(second.every((r) => r[5] === 'credits'));
    await page.getByRole('button', { name: '← Newer' }).click();
    await page.waitForFunction(() => !location.hash.includes('cursor='));
    await waitText(page, '#ledger-table tbody tr:first-child td:first-child', first[0]![0]!);
    assert.deepEqual(await rowsOf(page, '#ledger-table'), first);
  }));

async function useKey(page: Page, key: string): Promise<void> {
  await page.fill('#admin-key', key);
  await page.click('#key-form button[type=submit]');
}

test('toggling the breaker from the console shows on the overview and in the audit log', { skip }, () =>
  withPages(2, async (admin, overview) => {
    await visit(overview.page, '#/overview');
    await waitText(overview.page, '#breaker-state', 'closed');
    await waitText(overview.page, '#live-status', 'Live');

    await visit(admin.page, '#/admin');
    await waitText(admin.page, '#live-status', 'Live');
    await useKey(admin.page, ADMIN_KEY);
    await waitText(admin.page, '#key-result', 'Key accepted');
    // Keyboard only: focus the reason field, type, tab to the halt button, press Enter.
    await admin.page.focus('#breaker-reason');
    await admin.page.keyboard.type('storm drill');
    await admin.page.keyboard.press('Tab');
    assert.equal(await admin.page.evaluate(() => document.activeElement?.id), 'breaker-on');
    await admin.page.keyboard.press('Enter');
    await waitText(admin.page, '#breaker-result', 'Trading halted: storm drill.');
    await waitText(admin.page, '#admin-breaker-state', 'Trading is halted: storm drill (by bootstrap');

    // The other tab hears it through /events.
    await waitText(overview.page, '#breaker-state', 'open — storm drill (by bootstrap');
    await waitText(overview.page, '#health-status', 'Unhealthy');
    await waitText(overview.page, '#breaker-badge', 'Trading halted: storm drill');
    const halted = await http(v.url, 'POST', '/execute', { proposal_id: randomUUID(), actor_from: 'bob', actor_to: 'carol', resource: 'water', amount: 1 });
    assert.equal(halted.status, 503);
    await browser.screenshot(overview.page, 'overview-breaker-open');

    await waitText(admin.page, '#audit-table tbody tr:first-child', 'admin.circuit_breaker');
    const [latest] = await rowsOf(admin.page, '#audit-table');
    assert.equal(latest![2], 'bootstrap');
    assert.equal(latest![4], 'applied');
    assert.match(latest![5]!, /enabled: true/);
    assert.match(latest![5]!, /reason: storm drill/);

    await admin.page.click('#breaker-off');
    await waitText(admin.page, '#breaker-result', 'Trading resumed.');
    await waitText(overview.page, '#breaker-state', 'closed');
    await waitText(overview.page, '#breaker-badge', 'Trading: running');
    await waitText(admin.page, '#audit-table tbody tr:first-child', 'enabled: false');
    await browser.screenshot(admin.page, 'admin-audit');
  }));

test('a forced balance shows in the actors table and the ledger', { skip }, () =>
  withPages(1, async ({ page }) => {
    await visit(page, '#/admin');
    await useKey(page, ADMIN_KEY);
    await waitText(page, '#key-result', 'Key accepted');
    await page.selectOption('#balance-actor', { label: 'bob' });
    await page.selectOption('#balance-resource', 'water');
    await page.fill('#balance-amount', '123.456');
    await page.click('#balance-submit');
    await waitText(page, '#balance-result', /Set bob’s water from [\d.,]+ to 123\.456 \(adjustment [+-][\d.,]+, ledger entry #\d+\)/);
    const ledgerId = (await text(page, '#balance-result')).match(/#(\d+)/)![1]!;

    await visit(page, '#/actors');
    await page.locator('#actors-table tbody tr').first().waitFor({ timeout: TIMEOUT });
    const bob = (await rowsOf(page, '#actors-table')).find((r) => r[0] === 'bob')!;
    assert.equal(bob[4], '123.456');

    await visit(page, '#/ledger?kind=adjustment');
    await waitText(page, '#ledger-table tbody tr:first-child', 'bob');
    const [row] = await rowsOf(page, '#ledger-table');
    assert.equal(row![0], ledgerId);
    assert.equal(row![2], 'adjustment');
    await browser.screenshot(page, 'ledger-adjustment');

    await visit(page, '#/admin');
    await page.selectOption('#credit-actor', { label: 'dave' });
    await page.click('#credit-submit');
    await waitText(page, '#credit-result', /Reset dave’s credits from 75 to 100 \(the scenario’s default credit\)\./);
  }));

test('a wrong key, a missing key and a weak role each show a clear error', { skip }, () =>
  withPages(1, async ({ page }) => {
    await visit(page, '#/admin');
    await page.locator('#balance-actor option').first().waitFor({ state: 'attached', timeout: TIMEOUT });

    await page.click('#key-form button[type=button]'); // forget any key of this session
    await page.click('#balance-submit');
    await page.fill('#balance-amount', '5');
    await page.click('#balance-submit');
    await waitText(page, '#balance-result', 'The validator did not accept the API key: an API key is required');

    await useKey(page, 'ggk_this-is-not-a-real-key');
    await waitText(page, '#key-result [role=alert]', 'The validator did not accept the API key: unknown API key. (401 UNAUTHORIZED)');
    assert.match(await text(page, '#key-state'), /No key set/, 'a refused key is not kept');
    await browser.screenshot(page, 'admin-wrong-key');

    await useKey(page, viewerKey);
    await waitText(page, '#key-result', 'Key accepted');
    await page.click('#breaker-on');
    await waitText(page, '#breaker-result [role=alert]', "This API key's role does not allow that: admin.circuit_breaker needs the operator role. (403 FORBIDDEN)");
    await waitText(page, '#audit-table tbody tr:first-child', 'FORBIDDEN');
    const health = await http(v.url, 'GET', '/health');
    assert.equal(health.body.checks.circuit_breaker.state, 'closed');
  }));

test('keys stay in the browser session and out of URLs', { skip }, () =>
  withPages(1, async ({ page }) => {
    const urls: string[] = [];
    page.on('request', (request) => urls.push(request.url()));
    await visit(page, '#/admin');
    await useKey(page, ADMIN_KEY);
    await waitText(page, '#key-result', 'Key accepted');
    assert.equal(await page.evaluate(() => sessionStorage.getItem('gridgov.apiKey')), ADMIN_KEY);
    assert.equal(await page.evaluate(() => localStorage.length), 0);
    assert.ok(urls.length > 0 && urls.every((u) => !u.includes(ADMIN_KEY)));
    assert.equal((await http(d.url, 'GET', '/api/admin/audit?limit=1')).status, 401, 'the dashboard adds no key of its own');
  }));

test('many tabs share one event stream and all stay live', { skip }, () =>
  withPages(8, async (...tabs) => {
    for (const [i, tab] of tabs.entries()) await visit(tab.page, i % 2 ? '#/ledger' : '#/overview');
    for (const tab of tabs) await waitText(tab.page, '#live-status', 'Live');
    const trade = await http(v.url, 'POST', '/execute', { proposal_id: randomUUID(), actor_from: 'alice', actor_to: 'carol', resource: 'energy', amount: 1.5 });
    const id = String(trade.body.ledger_ids[0]);
    for (const [i, tab] of tabs.entries()) {
      if (i % 2) await tab.page.locator('#ledger-table tbody tr:first-child td:first-child', { hasText: id }).waitFor({ timeout: TIMEOUT });
      else await tab.page.waitForFunction((h) => document.querySelector('#overview-activity')?.getAttribute('data-head') === h, id, { timeout: TIMEOUT });
    }
  }));

test('without SharedWorker, a tab streams on its own', { skip }, () =>
  withPages(1, async ({ page }) => {
    await page.addInitScript(() => {
      delete (window as unknown as { SharedWorker?: unknown }).SharedWorker;
    });
    await visit(page, '#/ledger');
    await waitText(page, '#live-status', 'Live');
    await page.locator('#ledger-table tbody tr').first().waitFor({ timeout: TIMEOUT });
    const trade = await http(v.url, 'POST', '/execute', { proposal_id: randomUUID(), actor_from: 'carol', actor_to: 'alice', resource: 'energy', amount: 2.5 });
    await page.locator('#ledger-table tbody tr:first-child td:first-child', { hasText: String(trade.body.ledger_ids[0]) }).waitFor({ timeout: TIMEOUT });
  }));
