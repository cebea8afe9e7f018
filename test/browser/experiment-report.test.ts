/**
 * report.html of a small experiment (two heuristic kinds on the commons, two seeds each) in
 * Chromium: it opens from disk with no console errors and asks nothing of the network, shows the
 * comparison table and its charts, and a screenshot is kept in the test's temporary folder.
 */
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, test } from 'node:test';
import { writeExports } from '../../src/experiments/export.ts';
import type { EpisodeData, ExperimentMeta } from '../../src/experiments/types.ts';
import { browserAvailability, launchBrowser, SCREENSHOTS, withPages, type TestBrowser } from '../support/browser.ts';
import { runEpisode } from '../support/episode.ts';

const chromium = browserAvailability();
const skip = 'reason' in chromium ? chromium.reason : false;
const EPOCHS = 5;
const meta: ExperimentMeta = {
  experiment_id: 'report-test',
  command:
    'gridgov experiment --scenario scenarios/commons.json --strategies heuristic:greedy,heuristic:cooperative --seeds 1-2 --epochs 5 --out DIR',
  versions: { gridgov: '0.1.0', node: process.version, postgresql: '15' },
  started_at: '2026-01-01T00:00:00.000Z',
  finished_at: '2026-01-01T00:02:00.000Z',
};
let dir: string;
let browser: TestBrowser;

before(async () => {
  if (skip) return;
  dir = await mkdtemp(join(tmpdir(), 'gridgov-report-'));
  const episodes: EpisodeData[] = [];
  for (const character of ['greedy', 'cooperative'] as const) {
    for (const seed of ['1', '2']) {
      const episode = await runEpisode({ experimentId: meta.experiment_id, scenario: 'commons', character, seed, epochs: EPOCHS });
      episodes.push(episode.data);
      await episode.close();
    }
  }
  await writeExports(dir, episodes, meta);
  browser = await launchBrowser(chromium.path!);
});

after(async () => {
  await browser?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('report.html opens offline in Chromium with the comparison table and charts, and no console errors', { skip }, async () => {
  await withPages(browser, 1, async ({ page }) => {
    const requests: string[] = [];
    page.on('request', (request) => {
      if (!request.url().startsWith('file:')) requests.push(request.url());
    });
    await page.goto(pathToFileURL(join(dir, 'report.html')).href);
    assert.equal(await page.title(), 'Experiment report-test');
    assert.match(await page.locator('pre').first().innerText(), /--strategies heuristic:greedy,heuristic:cooperative/);
    const rows = await page.$$eval('section table tbody tr', (trs) => trs.map((tr) => (tr as HTMLElement).innerText));
    assert.equal(rows.length, 2, 'a row per strategy');
    for (const row of rows) {
      assert.match(row, /^heuristic:(greedy|cooperative)\t2\t/, 'two seeds each');
      assert.match(row, /±/, 'two seeds give an interval');
    }
    const captions = await page.$$eval('figure figcaption', (fs) => fs.map((f) => f.textContent ?? ''));
    for (const title of [
      'Commons stock',
      'Harvest taken',
      'Over-usage',
      'Actors alive',
      'Need met',
      'Equality of payoffs',
      'Rejected proposals',
      'Model tokens',
      'Model cost',
      'Rejections by code',
    ])
      assert.ok(
        captions.some((c) => c.startsWith(title)),
        `a chart titled ${title}: ${captions.join(' | ')}`,
      );
    assert.ok((await page.locator('figure svg path').count()) >= 2 * 7, 'a line per strategy in each chart over epochs');
    const shot = join(dir, 'report.png');
    await page.screenshot({ path: shot, fullPage: true });
    assert.ok((await stat(shot)).size > 10_000, 'the screenshot holds a page');
    await copyFile(shot, join(SCREENSHOTS, 'experiment-report.png'));
    assert.deepEqual(requests, [], 'nothing fetched from the network');
  });
});
