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
    epochs: [{ epoch: 1, efficiency }],
    agents: [],
    rejections: [{ code: 'INSUFFICIENT_BALANCE' }],
  };
}

test('the comparison leaves failed episodes out, says so, and escapes what it quotes', () => {
  const html = reportHtml([episode('2', 'finished', 0.5), episode('1', 'finished', 0.7), episode('3', 'failed', 0)], meta);
  assert.match(html, /3 episodes, 1 failed \(left out of the comparison/);
  // Two seeds: mean 0.6, half-width t(0.975, 1) × sd / √2 = 12.706 × 0.1414… / 1.414… = 1.2706.
  assert.match(html, /<th scope="row">heuristic<\/th><td>2<\/td><td>1 ± 0<\/td><td>0\.6 ± 1\.3<\/td>/);
  assert.doesNotMatch(html, /<script>/);
  assert.match(html, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
  assert.doesNotMatch(html, /https?:\/\//, 'nothing to fetch');
});
