/**
 * The dashboard's pages in Debian's Chromium, driven by playwright-core: the validator on a real
 * database, the dashboard server in front of it, and a browser reading through both. Every test
 * fails on a console error or an uncaught page error; screenshots of each page land in
 * test-artifacts/screenshots/.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { rowsOf, text, TIMEOUT, visit, waitText, withPages, type TestBrowser } from '../support/browser.ts';
import { useDashboardWorld, type TestDashboard } from '../support/dashboard.ts';
import { ADMIN_KEY, http, type TestValidator } from '../support/validator.ts';

let v: TestValidator;
let d: TestDashboard;
let browser: TestBrowser;
const dash = useDashboardWorld((world) => ({ v, d, browser } = world));
const { skip } = dash;

test('every page loads with data', { skip }, () =>
  withPages(browser, 1, async ({ page }) => {
    await visit(page, d.url, '#/overview');
    await waitText(page, '#health-status', 'Healthy');
    await waitText(page, '#breaker-badge', 'Trading: running');
    await waitText(page, '#live-status', 'Live');
    assert.match(await text(page, '#kpi-applied'), /^\d/);
    const resources = await rowsOf(page, '#resources-table');
    assert.deepEqual(
      resources.map((r) => r[0]),
      ['credits', 'energy', 'water'],
    );
    assert.equal(resources.find((r) => r[0] === 'energy')![1], '320');
    await page.locator('#latest-entries tbody tr').first().waitFor();
    await browser.screenshot(page, 'overview');

    await visit(page, d.url, '#/actors');
    await page.locator('#actors-table tbody tr').nth(3).waitFor({ timeout: TIMEOUT });
    // Sort by energy, descending: a click sorts ascending, a second click reverses.
    // From the keyboard: the heading is a button; Enter sorts ascending, again descending.
    const energy = page.locator('#actors-table th', { hasText: 'energy' }).locator('button');
    await energy.focus();
    await page.keyboard.press('Enter');
    await page.locator('#actors-table th', { hasText: 'energy' }).locator('button').press('Enter');
    const byEnergy = await rowsOf(page, '#actors-table');
    const energyColumn = byEnergy.map((r) => Number(r[3]!.replace(/,/g, '')));
    assert.deepEqual(
      energyColumn,
      [...energyColumn].sort((a, b) => b - a),
    );
    assert.equal(await page.locator('#actors-table th[aria-sort="descending"]').innerText(), 'energy (kWh)');
    await page.fill('#actor-filter', 'car');
    assert.deepEqual(
      (await rowsOf(page, '#actors-table')).map((r) => r[0]),
      ['carol'],
    );
    await browser.screenshot(page, 'actors');

    await page.getByRole('link', { name: 'carol' }).click();
    await waitText(page, 'h1', 'carol');
    await page.locator('#actor-entries tbody tr').first().waitFor({ timeout: TIMEOUT });
    const carolEntries = await rowsOf(page, '#actor-entries');
    assert.ok(
      carolEntries.some((r) => r[2] === 'trade' && r[3] === 'to dave' && r[5] === '-25'),
      JSON.stringify(carolEntries),
    );
    assert.ok((await page.locator('figure.chart svg path.series').count()) >= 3, 'one history line per resource');
    await browser.screenshot(page, 'actor');

    // The filter lists arrive after the table; a kind picked before they do must survive their
    // arrival. Hold the actor list back until the kind is picked, so that order is certain.
    let release = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    await page.route('**/api/actors', async (route) => {
      await held;
      await route.continue();
    });
    await visit(page, d.url, '#/ledger');
    await page.locator('#ledger-table tbody tr').first().waitFor({ timeout: TIMEOUT });
    await page.selectOption('#filter-kind', 'trade');
    release();
    await page.locator('#filter-actor option', { hasText: 'carol' }).waitFor({ state: 'attached', timeout: TIMEOUT });
    await page.unroute('**/api/actors');
    assert.equal(await page.locator('#filter-kind').inputValue(), 'trade', 'the kind picked while the lists loaded stays');
    await page.click('#ledger-filters button[type=submit]');
    await page.waitForFunction(() => location.hash.includes('kind=trade'));
    await waitText(page, '#ledger-table caption', 'kind trade');
    const trades = await rowsOf(page, '#ledger-table');
    assert.equal(trades.length, 3, 'two legs of the swap and one transfer');
    assert.ok(trades.every((r) => r[2] === 'trade'));
    await browser.screenshot(page, 'ledger');

    await page
      .locator('#ledger-table a', { hasText: dash.world.negotiated.slice(0, 8) })
      .first()
      .click();
    await waitText(page, '#proposal-status', 'applied');
    assert.equal((await rowsOf(page, '#proposal-legs')).length, 2);
    await waitText(page, 'blockquote.reasoning', 'alice is short of water');
    assert.equal(await page.locator('ol.transcript > li').count(), 3);
    assert.match(await page.locator('ol.transcript > li').nth(1).innerText(), /bob counter — gives 8 water, asks 12 energy/);
    assert.match(await page.locator('dl.meta').last().innerText(), /strategy\s+heuristic/);
    assert.match(await text(page, 'main'), /Validator version\s+test/);
    await browser.screenshot(page, 'proposal');

    await visit(page, d.url, `#/proposals/${dash.world.rejected}`);
    await waitText(page, '#proposal-status', 'rejected');
    assert.match(await text(page, 'main'), /CONSTRAINT_VIOLATION/);

    await visit(page, d.url, '#/rejections');
    await page.locator('#rejections-table tbody tr').first().waitFor({ timeout: TIMEOUT });
    // The counts come from their own request (GET /stats), which may answer after the table's.
    await page.locator('#rejection-counts tbody tr').first().waitFor({ timeout: TIMEOUT });
    assert.deepEqual(await rowsOf(page, '#rejection-counts'), [['CONSTRAINT_VIOLATION', '1']]);
    const ticket = page.locator('#rejections-table a.ticket').first();
    assert.equal(await ticket.innerText(), 'GOV-1');
    assert.equal(await ticket.getAttribute('href'), 'https://linear.app/team/issue/GOV-1');
    assert.match((await rowsOf(page, '#rejections-table'))[0]![5]!, /not configured/, 'Discord is not configured here');
    await browser.screenshot(page, 'rejections');

    // This validator may or may not serve GET /epochs; with no run either way, the page says why
    // it is empty (charts with data: charts.test.ts).
    await visit(page, d.url, '#/charts');
    await page.locator('#epochs-unavailable, #epochs-empty').first().waitFor({ timeout: TIMEOUT });
    await browser.screenshot(page, 'charts-unavailable');

    await visit(page, d.url, '#/admin');
    await waitText(page, '#admin-breaker-state', 'Trading is running');
    await browser.screenshot(page, 'admin');

    // Every form control on every page has a label.
    for (const hash of ['#/actors', '#/ledger', '#/rejections', '#/admin']) {
      await visit(page, d.url, hash);
      await page.locator('main form').first().waitFor({ timeout: TIMEOUT });
      const unlabelled = await page.$$eval('main input, main select', (els) =>
        els.filter((e) => !(e as HTMLInputElement).labels?.length && !e.getAttribute('aria-label')).map((e) => e.outerHTML),
      );
      assert.deepEqual(unlabelled, [], hash);
    }
  }),
);

test('the ledger explorer pages back and forth', { skip }, () =>
  withPages(browser, 1, async ({ page }) => {
    for (let i = 0; i < 30; i++) {
      const reply = await http(v.url, 'POST', '/execute', {
        proposal_id: randomUUID(),
        actor_from: 'carol',
        actor_to: 'bob',
        resource: 'credits',
        amount: (1 + i / 100).toFixed(2),
      });
      assert.equal(reply.status, 200);
    }
    await visit(page, d.url, '#/ledger?resource=credits&limit=25');
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
  }),
);

test('keys stay in the browser session and out of URLs', { skip }, () =>
  withPages(browser, 1, async ({ page }) => {
    const urls: string[] = [];
    page.on('request', (request) => urls.push(request.url()));
    await visit(page, d.url, '#/admin');
    await page.fill('#admin-key', ADMIN_KEY);
    await page.click('#key-form button[type=submit]');
    await waitText(page, '#key-result', 'Key accepted');
    assert.equal(await page.evaluate(() => sessionStorage.getItem('gridgov.apiKey')), ADMIN_KEY);
    assert.equal(await page.evaluate(() => localStorage.length), 0);
    assert.ok(urls.length > 0 && urls.every((u) => !u.includes(ADMIN_KEY)));
    assert.equal((await http(d.url, 'GET', '/api/admin/audit?limit=1')).status, 401, 'the dashboard adds no key of its own');
  }),
);
