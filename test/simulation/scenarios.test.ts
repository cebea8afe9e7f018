import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readScenarioFile } from '../../src/ledger/writing/seed.ts';
import { toMicro } from '../../src/domain/scenario.ts';
import { microToNumber } from '../../src/domain/money.ts';
import { runFresh, scenarioFile } from '../support/economy.ts';

const EPOCHS = 200;

/**
 * Production, then upkeep, then a tax at rate t on what is held: a supply S at or below
 * max(S0, P / t) stays there ((S + P)(1 - t) <= S for S >= P(1 - t) / t), and trades, consumption
 * and failures never add to it. So the credit supply has a ceiling the scenario fixes.
 */
async function creditCeiling(name: string): Promise<number> {
  const scenario = await readScenarioFile(scenarioFile(name));
  const sum = (field: 'balances' | 'production') => scenario.actors.reduce((s, a) => s + toMicro(a[field]?.credits ?? 0), 0n);
  const rate = scenario.economy.tax.credits;
  assert.ok(rate && rate > 0, `${name} taxes credits`);
  return Math.max(microToNumber(sum('balances')), microToNumber(sum('production')) / rate);
}

for (const name of ['commons', 'demo', 'drought', 'energy-crisis']) {
  test(`${name}: ${EPOCHS} epochs of heuristic agents keep the money supply bounded and the ledger sound`, async () => {
    const ceiling = await creditCeiling(name);
    const run = await runFresh(name, EPOCHS);
    assert.deepEqual(run.violations, []);
    assert.equal(run.stats.length, EPOCHS);
    const credits = run.stats.map((s) => s.supply.credits ?? 0);
    const peak = Math.max(...credits);
    assert.ok(peak <= ceiling + 1e-6, `credit supply peaked at ${peak}, above its ceiling ${ceiling}`);
    const applied = run.stats.reduce((n, s) => n + s.proposals.applied, 0);
    const rejected = run.stats.reduce((n, s) => n + s.proposals.rejected, 0);
    // Trade goes on all run long (on the commons, where shares of the lake feed everyone, less of it).
    assert.ok(applied > EPOCHS / 2, `${applied} trades applied`);
    assert.ok(rejected / (applied + rejected) < 0.6, 'most proposals are sound');
    // Governance is exercised where the dilemma is: the naive agent's mistakes meet the validator early.
    const early = run.stats.slice(0, 10).reduce((n, s) => n + s.proposals.rejected, 0);
    assert.ok(early > 0, `no rejection in the first 10 epochs of ${name}`);
    assert.equal(run.served.epochs.length, EPOCHS);
    assert.equal(run.summary.epochs, EPOCHS);
    assert.ok(run.summary.need_met > 0 && run.summary.need_met <= 1);
    // GovSim's figures where there is a commons, null where there is none.
    assert.equal(run.summary.efficiency === null, !['commons', 'drought'].includes(name));
    console.log(
      `${name}: credits peak ${peak.toFixed(0)} of ceiling ${ceiling.toFixed(0)}, last ${credits[EPOCHS - 1]!.toFixed(0)}; ${applied} applied, ${rejected} rejected (${run.stats.slice(0, 10).reduce((n, s) => n + s.proposals.rejected, 0)} in the first 10 epochs); actors alive ${run.summary.actor_survival.rate}; commons survival ${run.summary.survival?.rate ?? '–'}; ${(run.ms / EPOCHS).toFixed(0)} ms per epoch`,
    );
  });
}
