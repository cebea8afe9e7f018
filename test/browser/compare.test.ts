/**
 * The Compare page in Chromium over a real validator holding two runs of the commons (two seeds,
 * three epochs each): it lists the runs from GET /runs, and once two are ticked overlays their
 * per-epoch figures, one chart per figure with a line per run; a link with the runs in it draws
 * the same. No console errors.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { browserAvailability, launchBrowser, TIMEOUT, visit, withPages, type TestBrowser } from '../support/browser.ts';
import { startDashboard, type TestDashboard } from '../support/dashboard.ts';
import { createTestDatabase } from '../support/db.ts';
import { scenarioFile } from '../support/economy.ts';
import { simulate } from '../support/simulation.ts';
import { startValidator } from '../support/validator.ts';
import { readScenarioFile } from '../../src/ledger/writing/seed.ts';

const chromium = browserAvailability();
const skip = 'reason' in chromium ? chromium.reason : false;
const EPOCHS = 3;
let d: TestDashboard;
let browser: TestBrowser;
let validatorUrl = '';
const runIds: string[] = [];
/** What before() started, stopped in the reverse order. */
const started: Array<{ close(): Promise<unknown> }> = [];

before(async () => {
  if (skip) return;
  const t = await createTestDatabase();
  started.push({ close: () => t.drop() });
  const v = await startValidator(t.db);
  started.push(v);
  validatorUrl = v.url;
  const commons = await readScenarioFile(scenarioFile('commons'));
  for (const seed of ['1', '2']) runIds.push((await simulate(v.url, commons, { epochs: EPOCHS, seed })).runId);
  d = await startDashboard(v.url);
  started.push(d);
  browser = await launchBrowser(chromium.path!);
  started.push(browser);
});

after(async () => {
  for (const piece of started.reverse()) await piece.close();
});

/** The runs each chart draws, by chart title. */
const drawn = (page: import('playwright-core').Page) =>
  page.$$eval('figure.chart', (figures) =>
    Object.fromEntries(
      figures.map((f) => [
        f.querySelector('figcaption')?.textContent ?? '',
        [...f.querySelectorAll('path.series')].map((p) => p.getAttribute('data-series')).sort(),
      ]),
    ),
  );

test('Compare lists the runs, and overlays the ticked ones on one chart per figure', { skip }, async () => {
  await withPages(browser, 1, async ({ page }) => {
    await visit(page, d.url, '#/overview');
    await page.click('nav a[data-nav="compare"]');
    await page.locator('#compare-hint').waitFor({ timeout: TIMEOUT });
    assert.equal(await page.getAttribute('nav a[data-nav="compare"]', 'aria-current'), 'page');
    assert.equal(await page.locator('#compare-form input[name=run]').count(), 2);
    for (const id of runIds) await page.check(`#run-${id}`);
    await page.click('#compare-form button[type=submit]');
    await page.locator('figure.chart').first().waitFor({ timeout: TIMEOUT });
    const linked = decodeURIComponent(new URL(page.url()).hash.split('runs=')[1] ?? '').split(',');
    assert.deepEqual(linked.sort(), [...runIds].sort(), 'the chosen runs are in the address, to share');
    const charts = await drawn(page);
    const both = ['commons · heuristic · seed 1', 'commons · heuristic · seed 2'];
    for (const title of [
      'Actors alive (share)',
      'Need met / need',
      'Equality of payoffs (1 − Gini)',
      'Over-usage of the commons',
      'Applied proposals',
    ])
      assert.deepEqual(charts[title], both, `${title}: ${JSON.stringify(charts)}`);
    // Each line has a point per epoch.
    const points = await page.$$eval('figure.chart', (fs) => fs[0]!.querySelectorAll('circle').length);
    assert.equal(points, 2 * EPOCHS);
    await browser.screenshot(page, 'compare');
  });
});

test('a link naming the runs draws them straight away; an unknown run is said so', { skip }, async () => {
  await withPages(browser, 1, async ({ page }) => {
    await visit(page, d.url, `#/compare?runs=${runIds[1]}`);
    await page.locator('figure.chart').first().waitFor({ timeout: TIMEOUT });
    assert.deepEqual((await drawn(page))['Actors alive (share)'], ['commons · heuristic · seed 2']);
    assert.equal(await page.isChecked(`#run-${runIds[1]}`), true);
    assert.equal(await page.isChecked(`#run-${runIds[0]}`), false);
    await visit(page, d.url, '#/compare?runs=00000000-0000-0000-0000-000000000000');
    await page
      .locator('[role=alert]')
      .filter({ hasText: /No run 00000000/ })
      .waitFor({ timeout: TIMEOUT });
  });
});

test('with the simulation running, the boxes ticked stay ticked as epochs finish, until Compare is pressed', { skip }, async () => {
  const commons = await readScenarioFile(scenarioFile('commons'));
  const running = new AbortController();
  // A third run, going on while the page is open: every finished epoch is an `epoch` event.
  const simulation = simulate(validatorUrl, commons, { epochs: 10_000, seed: 'live', signal: running.signal }).catch(() => undefined);
  try {
    await withPages(browser, 1, async ({ page }) => {
      await visit(page, d.url, '#/compare');
      await page.locator('#compare-hint').waitFor({ timeout: TIMEOUT });
      await page.locator('#compare-form label', { hasText: 'seed live' }).waitFor({ timeout: TIMEOUT });
      await page.check(`#run-${runIds[0]}`);
      // The list is drawn anew when an epoch finishes: the running run's label shows its new epoch.
      const before = await page.textContent('#compare-form label:has-text("seed live")');
      await page.waitForFunction(
        (text) => {
          const label = [...document.querySelectorAll('#compare-form label')].find((l) => l.textContent?.includes('seed live'));
          return label !== undefined && label.textContent !== text;
        },
        before,
        { timeout: TIMEOUT },
      );
      assert.equal(await page.isChecked(`#run-${runIds[0]}`), true, 'the ticked run is still ticked after a refresh');
      assert.equal(await page.isChecked(`#run-${runIds[1]}`), false);
      await page.check(`#run-${runIds[1]}`);
      await page.click('#compare-form button[type=submit]');
      await page.locator('figure.chart').first().waitFor({ timeout: TIMEOUT });
      assert.deepEqual((await drawn(page))['Actors alive (share)'], ['commons · heuristic · seed 1', 'commons · heuristic · seed 2']);
    });
  } finally {
    running.abort();
    await simulation;
  }
});
