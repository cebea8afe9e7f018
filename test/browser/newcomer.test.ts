/**
 * What a newcomer meets first in the dashboard, in Debian's Chromium: the sign-in link that
 * `gridgov start` prints, the hash-chain check on the overview, refusals that go away once a key
 * is accepted, amounts checked in words, and a validator that does not answer.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { text, TIMEOUT, visit, waitText, withPages, type TestBrowser } from '../support/browser.ts';
import { startDashboard, useDashboardWorld, type TestDashboard } from '../support/dashboard.ts';
import { freePort } from '../../src/db/embedded.ts';
import { ADMIN_KEY } from '../support/validator.ts';

let d: TestDashboard;
let browser: TestBrowser;
const { skip } = useDashboardWorld((world) => ({ d, browser } = world));

test('the sign-in link keeps the key for the tab and takes it out of the address', { skip }, () =>
  withPages(browser, 1, async ({ page }) => {
    await page.goto(`${d.url}/#key=${encodeURIComponent(ADMIN_KEY)}`);
    await waitText(page, 'h1', 'Overview');
    assert.ok(!page.url().includes(ADMIN_KEY), `the key left the address bar: ${page.url()}`);
    assert.match(page.url(), /#\/overview$/);
    await visit(page, d.url, '#/admin');
    await waitText(page, '#key-state', 'A key is set');
    await page.locator('#audit-table tbody tr').first().waitFor({ timeout: TIMEOUT });
  }),
);

test('the overview shows the hash-chain check that /health reports, and long codes fit under their bars', { skip }, () =>
  withPages(browser, 1, async ({ page }) => {
    await visit(page, d.url, '#/overview');
    await waitText(page, '[data-check="Hash chain"]', /intact/);
    await page.locator('#overview-activity figure.chart').first().waitFor({ timeout: TIMEOUT });
    // No two tick labels of a bar chart overlap.
    const boxes = await page.$$eval('#overview-activity figure.chart svg text.tick', (els) =>
      els
        .filter((e) => e.getAttribute('text-anchor') === 'middle')
        .map((e) => (e as SVGTextElement).getBBox())
        .map((b) => ({ x: b.x, w: b.width, y: b.y })),
    );
    for (let i = 1; i < boxes.length; i++) assert.ok(boxes[i]!.x >= boxes[i - 1]!.x + boxes[i - 1]!.w, `labels ${i - 1} and ${i} overlap`);
    await browser.screenshot(page, 'newcomer-overview');
  }),
);

test('a refusal under a form goes once a key is accepted; a bad amount is explained in words', { skip }, () =>
  withPages(browser, 1, async ({ page }) => {
    await visit(page, d.url, '#/admin');
    await page.evaluate(() => sessionStorage.clear());
    await page.reload();
    await waitText(page, '#key-state', 'No key set');
    await page.click('#breaker-on');
    await waitText(page, '#breaker-result', /401/);
    await page.fill('#admin-key', ADMIN_KEY);
    await page.click('#key-form button[type=submit]');
    await waitText(page, '#key-result', 'Key accepted');
    assert.equal((await text(page, '#breaker-result').catch(() => '')).trim(), '', 'the stale 401 is gone');

    await page.locator('#balance-actor option').first().waitFor({ state: 'attached', timeout: TIMEOUT });
    await page.fill('#balance-amount', '12,5');
    await page.click('#balance-submit');
    await waitText(page, '#balance-result', /New balance: “12,5” is not an amount/);
    assert.equal(await page.getAttribute('#balance-amount', 'aria-invalid'), 'true');
    await browser.screenshot(page, 'newcomer-admin-amount');
  }),
);

test('with the validator down the overview says so once and stops loading', { skip }, async () => {
  const lonely = await startDashboard(`http://127.0.0.1:${await freePort()}`);
  try {
    await withPages(browser, 1, async ({ page, problems }) => {
      await visit(page, lonely.url, '#/overview');
      await waitText(page, '.page-status', /cannot reach the validator/);
      await waitText(page, '#overview-activity', /cannot be shown until the validator answers/);
      assert.equal(await page.locator('.page-status .notice').count(), 1, 'one notice, not one per panel');
      assert.equal(await page.locator('#main .loading').count(), 0, 'nothing is left loading');
      await browser.screenshot(page, 'newcomer-validator-down');
      // The browser logs the failed live stream; that is the point of this test, not a fault.
      problems.length = 0;
    });
  } finally {
    await lonely.close();
  }
});
