import assert from 'node:assert/strict';
import { test } from 'node:test';
import { reportHtml } from '../../src/experiments/report.ts';
import type { EpisodeData, EpisodeMeta } from '../../src/experiments/types.ts';

const meta = {
  experiment_id: 'e1',
  command: 'gridgov experiment --out "<script>alert(1)</script>"',
  versions: { gridgov: '0.1.0' },
  started_at: '2026-01-01T00:00:00.000Z',
  finished_at: '2026-01-01T00:01:00.000Z',
};

function episode(seed: string, status: EpisodeMeta['status'], efficiency: number): EpisodeData {
  const m: EpisodeMeta = {
    ...meta,
    episode_id: `commons/heuristic/${seed}`,
    scenario: 'commons',
    strategy: 'heuristic',
    seed,
    epochs: 2,
    run_id: `run-${seed}`,
    database: `db_${seed}`,
    status,
    cost_usd: 0,
  };
  return {
    meta: m,
    runs: [{ efficiency, survival_rate: 1 }],
    epochs: [
      { epoch: 1, stock: 800 },
      { epoch: 2, stock: 1000 * efficiency },
    ],
    agents: [{ epoch: 1, agent: 'farm', harvest_granted: 10 * efficiency }],
    rejections: [{ code: 'INSUFFICIENT_BALANCE' }],
  };
}

test('the comparison leaves failed episodes out, says so, and escapes what it quotes', () => {
  const html = reportHtml([episode('2', 'finished', 0.5), episode('1', 'finished', 0.7), episode('3', 'failed', 0)], meta);
  assert.match(html, /3 episodes, 1 failed \(left out of the comparison/);
  // Two seeds: mean 0.6, half-width t(0.975, 1) × sd / √2 = 12.706 × 0.1414… / 1.414… = 1.2706,
  // which would run from −0.67 to 1.87: an efficiency lies in [0, 1], so the interval is clipped.
  assert.match(html, /<th scope="row">heuristic<\/th><td>2<\/td><td>1 ± 0<\/td><td>0\.6 \[0, 1\]<\/td>/);
  // The stock leads, with its band, then each agent's gain; charts of figures nobody has are left out.
  const captions = [...html.matchAll(/<figcaption>([^<]*)<\/figcaption>/g)].map((m) => m[1]);
  assert.deepEqual(captions, [
    'Commons stock, mean per epoch with its 95% band',
    'Gain per agent (harvest in all), mean per episode',
    'Rejections by code, mean per episode',
  ]);
  assert.match(html, /<path class="band" d="M[^"]+Z"/);
  assert.doesNotMatch(html, /<script>/);
  assert.match(html, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
  assert.doesNotMatch(html, /https?:\/\//, 'nothing to fetch');
});
