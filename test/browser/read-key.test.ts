/**
 * A validator that wants a key for reads (GRIDGOV_READ_AUTH=required) behind the dashboard: the
 * dashboard asks for one once, keeps it for the browser session, and its live stream uses it.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createApiKey } from '../../src/governance/keys.ts';
import {
  browserAvailability,
  launchBrowser,
  rowsOf,
  text,
  TIMEOUT,
  visit,
  waitText,
  withPages,
  type TestBrowser,
} from '../support/browser.ts';
import { startDashboard, type TestDashboard } from '../support/dashboard.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { seedTestScenario } from '../support/scenario.ts';
import { startValidator, type TestValidator } from '../support/validator.ts';

const chromium = browserAvailability();
const skip = 'reason' in chromium ? chromium.reason : false;
let t: TestDatabase;
let v: TestValidator;
let d: TestDashboard;
let browser: TestBrowser;
let viewerKey: string;
before(async () => {
  if (skip) return;
  t = await createTestDatabase(4);
  await seedTestScenario(t.db);
  viewerKey = (await createApiKey(t.db, 'dashboard-viewer', 'viewer')).key;
  v = await startValidator(t.db, { GRIDGOV_READ_AUTH: 'required', GRIDGOV_EXECUTE_AUTH: 'required' });
  d = await startDashboard(v.url);
  browser = await launchBrowser(chromium.path!);
});
after(async () => {
  await browser?.close();
  await d?.close();
  await v?.close();
  await t?.drop();
});

test('the dashboard asks for a key once, refuses a wrong one, and keeps a good one for the session', { skip }, () =>
  withPages(browser, 1, async ({ page }) => {
    await visit(page, d.url, '#/actors');
    await page.locator('#key-needed').waitFor({ timeout: TIMEOUT });
    await page.fill('#read-key', 'ggk_not-a-key-we-issued');
    await page.click('#read-key-form button[type=submit]');
    await waitText(page, '#read-key-result', /did not accept the API key/);

    await page.fill('#read-key', viewerKey);
    await page.click('#read-key-form button[type=submit]');
    await page.locator('#actors-table tbody tr').nth(3).waitFor({ timeout: TIMEOUT });
    assert.equal(await page.locator('#key-needed').count(), 0);
    assert.deepEqual((await rowsOf(page, '#actors-table')).map((r) => r[0]).sort(), ['alice', 'bob', 'carol', 'dave']);

    // Other pages, and the live stream, use the kept key without asking again.
    await visit(page, d.url, '#/ledger');
    await page.locator('#ledger-table tbody tr').first().waitFor({ timeout: TIMEOUT });
    await page.reload();
    await waitText(page, '#live-status', 'Live');
    assert.equal(await page.locator('#key-needed').count(), 0);
    assert.match(await text(page, '#breaker-badge'), /Trading: running/);
    await browser.screenshot(page, 'read-key');
  }),
);
