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

test('inside mixed episodes the report shows what each kind got, so free-riding is visible', () => {
  const mixed = (seed: string, greedyGain: number): EpisodeData => {
    const base = episode(seed, 'finished', 0.5);
    const strategy = 'heuristic:greedy*1+heuristic:cooperative';
    const row = (agent: string, kind: string, harvest: number, payoff: number) => ({
      epoch: 1,
      agent,
      kind,
      harvest_granted: harvest,
      payoff,
    });
    return {
      ...base,
      meta: { ...base.meta, strategy, episode_id: `commons/mix/${seed}` },
      agents: [
        row('a', 'heuristic:greedy', greedyGain, 100),
        row('b', 'heuristic:cooperative', 10, 40),
        row('c', 'heuristic:cooperative', 14, 60),
      ],
    };
  };
  const html = reportHtml([mixed('1', 40), mixed('2', 44)], meta);
  // Greedy: gains 40 and 44, mean 42, half 12.706 × √8 / √2 = 25.41 (two digits: 25); payoff 100
  // both seeds. Cooperative: (10 + 14) / 2 = 12 per agent, payoff 50.
  assert.match(html, /<h3>Payoffs per kind in mixed episodes<\/h3>/);
  assert.match(html, /<td>heuristic:greedy<\/td><td>1<\/td><td>42 ± 25<\/td><td>100 ± 0<\/td>/);
  assert.match(html, /<td>heuristic:cooperative<\/td><td>2<\/td><td>12 ± 0<\/td><td>50 ± 0<\/td>/);
  assert.doesNotMatch(reportHtml([episode('1', 'finished', 0.5)], meta), /Payoffs per kind/, 'no mix, no table');
});
