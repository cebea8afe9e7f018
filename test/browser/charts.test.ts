/**
 * The charts over epochs in Chromium, against each answer GET /epochs may give: absent (a
 * validator without the runner's routes), empty, an error, and data in both the flat and the
 * runner's nested stats shapes. A stub in front of the validator answers /epochs; everything
 * else reaches the real validator.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import type { Page } from 'playwright-core';
import { createProxy } from '../../src/dashboard/proxy.ts';
import { browserAvailability, launchBrowser, type TestBrowser } from '../support/browser.ts';
import { startDashboard, type TestDashboard } from '../support/dashboard.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { seedTestScenario } from '../support/scenario.ts';
import { startValidator, type TestValidator } from '../support/validator.ts';

const chromium = browserAvailability();
const skip = 'reason' in chromium ? chromium.reason : false;
const RUN_A = '3f0c2a44-9a51-5d8e-8d7e-1b2c3d4e5f60';
const RUN_B = '7a1b2c3d-4e5f-5a6b-8c7d-8e9f0a1b2c3d';

type Mode = 'missing' | 'empty' | 'failing' | 'flat' | 'nested';
let mode: Mode = 'missing';
const asked: string[] = [];

/** Epoch stats as in the issue: flat counters. */
function flatEpoch(run: string, epoch: number) {
  return {
    run_id: run,
    epoch,
    started_at: new Date(Date.UTC(2026, 0, 1, 0, epoch)).toISOString(),
    finished_at: new Date(Date.UTC(2026, 0, 1, 0, epoch, 30)).toISOString(),
    stats: {
      applied: 10 + epoch,
      rejected: epoch % 3,
      rejected_by_code: epoch % 3 ? { INSUFFICIENT_BALANCE: epoch % 3 } : {},
      supply: { energy: 300 + epoch * 5, water: 320 - epoch * 4 },
      gini: { energy: 0.2 + epoch / 100, water: 0.3 },
      deficit_actors: epoch % 2,
      unmet_need: { water: epoch * 1.5 },
      negotiation: { sessions: 4, agreed: 3 },
      llm_tokens: 1000 * epoch,
    },
  };
}

/** The same figures in the runner's nested shape. */
function nestedEpoch(run: string, epoch: number) {
  const f = flatEpoch(run, epoch).stats;
  return {
    ...flatEpoch(run, epoch),
    stats: {
      epoch,
      proposals: {
        sent: f.applied + f.rejected,
        applied: f.applied,
        rejected: f.rejected,
        conflicts: 0,
        malformed: 0,
        rejected_by_code: f.rejected_by_code,
      },
      supply: f.supply,
      gini: f.gini,
      deficit: { actors: f.deficit_actors, names: [], unmet: f.unmet_need },
      negotiation: { sessions: 4, agreed: 3, success_rate: 0.75 },
      llm: { calls: 0, errors: 0, prompt_tokens: 0, completion_tokens: 0, total_tokens: f.llm_tokens, by_agent: {} },
    },
  };
}

function epochsAnswer(url: URL): { status: number; body: unknown } {
  const run = url.searchParams.get('run_id') ?? RUN_A;
  const epochs = [1, 2, 3, 4, 5, 6];
  switch (mode) {
    case 'missing':
      return { status: 404, body: { status: 'error', error_code: 'NOT_FOUND', message: 'no route GET /epochs' } };
    case 'empty':
      return { status: 200, body: { runs: [], epochs: [] } };
    case 'failing':
      return { status: 503, body: { status: 'error', error_code: 'DATABASE_UNAVAILABLE', message: 'the database could not be reached' } };
    case 'flat':
      return {
        status: 200,
        body: {
          runs: [
            { run_id: RUN_A, scenario: 'demo', strategy: 'heuristic', seed: '1' },
            { run_id: RUN_B, scenario: 'demo', strategy: 'gemini', seed: '2' },
          ],
          // An epoch still running has no stats yet.
          epochs: [...epochs.map((e) => flatEpoch(run, e)), { run_id: run, epoch: 7, stats: {}, started_at: null, finished_at: null }],
        },
      };
    case 'nested':
      return {
        status: 200,
        body: {
          run: { run_id: run, scenario: 'demo', strategy: 'heuristic', seed: '1', status: 'running' },
          epochs: epochs.map((e) => nestedEpoch(run, e)),
          next_from: null,
        },
      };
  }
}

let t: TestDatabase;
let v: TestValidator;
let stub: Server;
let d: TestDashboard;
let browser: TestBrowser;

before(async () => {
  if (skip) return;
  t = await createTestDatabase();
  await seedTestScenario(t.db);
  v = await startValidator(t.db);
  const proxy = createProxy({ validatorUrl: v.url });
  stub = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://stub');
    if (url.pathname !== '/epochs')
      return void proxy.pipe({ method: req.method ?? 'GET', path: req.url ?? '/', headers: req.headers, body: undefined, res });
    asked.push(url.search);
    const { status, body } = epochsAnswer(url);
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
    res.end(JSON.stringify(body));
  });
  stub.listen(0, '127.0.0.1');
  await once(stub, 'listening');
  d = await startDashboard(`http://127.0.0.1:${(stub.address() as AddressInfo).port}`);
  browser = await launchBrowser(chromium.path!);
});

after(async () => {
  if (skip) return;
  await browser?.close();
  await d?.close();
  stub?.closeAllConnections();
  await new Promise((resolve) => stub?.close(resolve));
  await v?.close();
  await t?.drop();
});

async function chartsFor(next: Mode, fn: (page: Page) => Promise<void>): Promise<void> {
  mode = next;
  const watch = await browser.open();
  try {
    await watch.page.goto(`${d.url}/#/charts`);
    await fn(watch.page);
    assert.deepEqual(watch.problems, [], 'the page reported errors');
  } finally {
    await watch.page.close();
  }
}

test('without GET /epochs the charts page explains why it is empty', { skip }, () =>
  chartsFor('missing', async (page) => {
    const state = page.locator('#epochs-unavailable');
    await state.waitFor({ timeout: 10_000 });
    assert.match(await state.innerText(), /does not serve GET \/epochs/);
  }),
);

test('with no epochs recorded yet, it says how to get some', { skip }, () =>
  chartsFor('empty', async (page) => {
    const state = page.locator('#epochs-empty');
    await state.waitFor({ timeout: 10_000 });
    assert.match(await state.innerText(), /No epochs recorded yet/);
  }),
);

test('an error from /epochs is shown in words', { skip }, () =>
  chartsFor('failing', async (page) => {
    const alert = page.locator('[role=alert]');
    await alert.waitFor({ timeout: 10_000 });
    assert.equal(
      await alert.innerText(),
      'The validator cannot reach its database, so nothing was read or changed: the database could not be reached. (503 DATABASE_UNAVAILABLE)',
    );
  }),
);

async function assertCharts(page: Page, shot: string): Promise<void> {
  await page.locator('figure.chart svg').first().waitFor({ timeout: 10_000 });
  const captions = await page.$$eval('figure.chart figcaption', (els) => els.map((e) => e.textContent));
  assert.deepEqual(captions, [
    'Held by actors: energy',
    'Held by actors: water',
    'Applied vs rejected proposals',
    'Rejections by error code',
    'Unmet need per resource',
    'Gini per resource',
    'Actors in deficit',
    'LLM tokens per epoch',
  ]);
  assert.match(await page.locator('main h2').first().innerText(), /^6 epochs$/, 'the epoch still running is left out');
  // Each resource on its own scale: one chart, one line, one axis each.
  const energy = page.locator('figure.chart').nth(0);
  const water = page.locator('figure.chart').nth(1);
  assert.equal(await energy.locator('path.series').count(), 1);
  assert.equal(await water.locator('path.series').count(), 1);
  // The numbers behind each chart, for reading exact values.
  const applied = page.locator('figure.chart').nth(2);
  await applied.locator('summary').click();
  const rows = await applied.locator('tbody tr').allInnerTexts();
  assert.equal(rows.length, 6);
  assert.match(rows[2]!, /^3\s+13\s+0$/);
  assert.equal(await page.locator('figure.chart').nth(3).locator('rect.bar').count(), 4, 'epochs 1, 2, 4 and 5 had rejections');
  await browser.screenshot(page, shot);
}

test('epochs with flat stats become charts, per run', { skip }, () =>
  chartsFor('flat', async (page) => {
    await assertCharts(page, 'charts');
    await page.selectOption('select[name=run]', RUN_B);
    await page.getByRole('button', { name: 'Show run' }).click();
    await page.waitForFunction((run) => location.hash === `#/charts?run_id=${run}`, RUN_B);
    await page.waitForFunction(() => document.querySelectorAll('figure.chart svg').length > 0);
    assert.ok(
      asked.some((q) => q.includes(`run_id=${RUN_B}`)),
      'the chosen run is asked for',
    );
  }),
);

test("epochs with the runner's nested stats become the same charts", { skip }, () =>
  chartsFor('nested', async (page) => {
    await assertCharts(page, 'charts-nested');
  }),
);
