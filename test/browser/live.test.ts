/**
 * The dashboard live and at work, in Debian's Chromium: writes made through the API appear
 * without a reload, the admin console halts trading and forces balances, refusals are explained.
 * Every test fails on a console error or an uncaught page error.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { rowsOf, text, TIMEOUT, visit, waitText, withPages, type TestBrowser } from '../support/browser.ts';
import { useDashboardWorld, type TestDashboard } from '../support/dashboard.ts';
import { ADMIN_KEY, http, type TestValidator } from '../support/validator.ts';

let v: TestValidator;
let d: TestDashboard;
let browser: TestBrowser;
const dash = useDashboardWorld((world) => ({ v, d, browser } = world));
const { skip } = dash;

test('a trade made through the API appears live, without a reload', { skip }, () =>
  withPages(browser, 3, async (ledger, overview, rejections) => {
    await visit(ledger.page, d.url, '#/ledger');
    await visit(overview.page, d.url, '#/overview');
    await visit(rejections.page, d.url, '#/rejections');
    for (const w of [ledger, overview, rejections]) {
      await waitText(w.page, '#live-status', 'Live');
      // Marks this document: a reload would lose it.
      await w.page.evaluate(() => ((window as unknown as { marker: number }).marker = 42));
    }
    await ledger.page.locator('#ledger-table tbody tr').first().waitFor();
    const head = Number(await overview.page.locator('#overview-activity').getAttribute('data-head'));

    const trade = await http(v.url, 'POST', '/execute', {
      proposal_id: randomUUID(),
      actor_from: 'bob',
      actor_to: 'carol',
      resource: 'water',
      amount: 3.25,
    });
    assert.equal(trade.status, 200);
    const id = String(trade.body.ledger_ids[0]);
    await ledger.page.locator('#ledger-table tbody tr.fresh td:first-child', { hasText: id }).waitFor({ timeout: TIMEOUT });
    assert.deepEqual((await rowsOf(ledger.page, '#ledger-table'))[0]!.slice(2), [
      'trade',
      'bob',
      'carol',
      'water',
      '3.25',
      trade.body.proposal_id.slice(0, 8) + '…',
    ]);
    await overview.page.waitForFunction((h) => Number(document.querySelector('#overview-activity')?.getAttribute('data-head')) > h, head, {
      timeout: TIMEOUT,
    });
    await waitText(overview.page, '#latest-entries tbody tr:first-child', '3.25 water');

    const refused = await http(v.url, 'POST', '/execute', {
      proposal_id: randomUUID(),
      actor_from: 'nobody',
      actor_to: 'carol',
      resource: 'water',
      amount: 1,
    });
    assert.equal(refused.status, 422);
    await waitText(rejections.page, '#rejections-table tbody tr:first-child', 'INVALID_ACTOR');
    await waitText(rejections.page, '#rejection-counts', 'INVALID_ACTOR');

    for (const w of [ledger, overview, rejections]) {
      assert.equal(await w.page.evaluate(() => (window as unknown as { marker?: number }).marker), 42, 'the page was not reloaded');
    }
    await browser.screenshot(ledger.page, 'ledger-live');
  }),
);

async function useKey(page: Page, key: string): Promise<void> {
  await page.fill('#admin-key', key);
  await page.click('#key-form button[type=submit]');
}

test('toggling the breaker from the console shows on the overview and in the audit log', { skip }, () =>
  withPages(browser, 2, async (admin, overview) => {
    await visit(overview.page, d.url, '#/overview');
    await waitText(overview.page, '#breaker-state', 'closed');
    await waitText(overview.page, '#live-status', 'Live');

    await visit(admin.page, d.url, '#/admin');
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
    const halted = await http(v.url, 'POST', '/execute', {
      proposal_id: randomUUID(),
      actor_from: 'bob',
      actor_to: 'carol',
      resource: 'water',
      amount: 1,
    });
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
  }),
);

test('a forced balance shows in the actors table and the ledger', { skip }, () =>
  withPages(browser, 1, async ({ page }) => {
    await visit(page, d.url, '#/admin');
    await useKey(page, ADMIN_KEY);
    await waitText(page, '#key-result', 'Key accepted');
    await page.selectOption('#balance-actor', { label: 'bob' });
    await page.selectOption('#balance-resource', 'water');
    await page.fill('#balance-amount', '123.456');
    await page.click('#balance-submit');
    await waitText(page, '#balance-result', /Set bob’s water from [\d.,]+ to 123\.456 \(adjustment [+-][\d.,]+, ledger entry #\d+\)/);
    const ledgerId = (await text(page, '#balance-result')).match(/#(\d+)/)![1]!;

    await visit(page, d.url, '#/actors');
    await page.locator('#actors-table tbody tr').first().waitFor({ timeout: TIMEOUT });
    const bob = (await rowsOf(page, '#actors-table')).find((r) => r[0] === 'bob')!;
    assert.equal(bob[4], '123.456');

    await visit(page, d.url, '#/ledger?kind=adjustment');
    await waitText(page, '#ledger-table tbody tr:first-child', 'bob');
    const [row] = await rowsOf(page, '#ledger-table');
    assert.equal(row![0], ledgerId);
    assert.equal(row![2], 'adjustment');
    await browser.screenshot(page, 'ledger-adjustment');

    await visit(page, d.url, '#/admin');
    await page.selectOption('#credit-actor', { label: 'dave' });
    await page.click('#credit-submit');
    await waitText(page, '#credit-result', /Reset dave’s credits from 75 to 100 \(the scenario’s default credit\)\./);
  }),
);

test('a wrong key, a missing key and a weak role each show a clear error', { skip }, () =>
  withPages(browser, 1, async ({ page }) => {
    await visit(page, d.url, '#/admin');
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

    await useKey(page, dash.world.viewerKey);
    await waitText(page, '#key-result', 'Key accepted');
    await page.click('#breaker-on');
    await waitText(
      page,
      '#breaker-result [role=alert]',
      "This API key's role does not allow that: admin.circuit_breaker needs the operator role. (403 FORBIDDEN)",
    );
    await waitText(page, '#audit-table tbody tr:first-child', 'FORBIDDEN');
    const health = await http(v.url, 'GET', '/health');
    assert.equal(health.body.checks.circuit_breaker.state, 'closed');
  }),
);

test('many tabs share one event stream and all stay live', { skip }, () =>
  withPages(browser, 8, async (...tabs) => {
    for (const [i, tab] of tabs.entries()) await visit(tab.page, d.url, i % 2 ? '#/ledger' : '#/overview');
    for (const tab of tabs) await waitText(tab.page, '#live-status', 'Live');
    const trade = await http(v.url, 'POST', '/execute', {
      proposal_id: randomUUID(),
      actor_from: 'alice',
      actor_to: 'carol',
      resource: 'energy',
      amount: 1.5,
    });
    const id = String(trade.body.ledger_ids[0]);
    for (const [i, tab] of tabs.entries()) {
      if (i % 2) await tab.page.locator('#ledger-table tbody tr:first-child td:first-child', { hasText: id }).waitFor({ timeout: TIMEOUT });
      else
        await tab.page.waitForFunction((h) => document.querySelector('#overview-activity')?.getAttribute('data-head') === h, id, {
          timeout: TIMEOUT,
        });
    }
  }),
);

test('without SharedWorker, a tab streams on its own', { skip }, () =>
  withPages(browser, 1, async ({ page }) => {
    await page.addInitScript(() => {
      delete (window as unknown as { SharedWorker?: unknown }).SharedWorker;
    });
    await visit(page, d.url, '#/ledger');
    await waitText(page, '#live-status', 'Live');
    await page.locator('#ledger-table tbody tr').first().waitFor({ timeout: TIMEOUT });
    const trade = await http(v.url, 'POST', '/execute', {
      proposal_id: randomUUID(),
      actor_from: 'carol',
      actor_to: 'alice',
      resource: 'energy',
      amount: 2.5,
    });
    await page
      .locator('#ledger-table tbody tr:first-child td:first-child', { hasText: String(trade.body.ledger_ids[0]) })
      .waitFor({ timeout: TIMEOUT });
  }),
);
