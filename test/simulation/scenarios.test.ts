import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { readScenarioFile } from '../../src/ledger/seed.ts';
import { createTestDatabase } from '../support/db.ts';
import { ledgerDigest } from '../support/digest.ts';
import { invariantViolations } from '../support/invariants.ts';
import { simulate } from '../support/simulation.ts';
import { http, startValidator } from '../support/validator.ts';

const scenarioFile = (name: string) => fileURLToPath(new URL(`../../scenarios/${name}.json`, import.meta.url));

/** A fresh database and validator, one heuristic run, and what it left behind. */
async function runFresh(name: string, epochs: number, seed?: string) {
  const t = await createTestDatabase();
  const v = await startValidator(t.db);
  try {
    const scenario = await readScenarioFile(scenarioFile(name));
    const started = Date.now();
    const result = await simulate(v.url, scenario, { epochs, seed });
    const served = await http(v.url, 'GET', `/epochs?run_id=${result.runId}&limit=1000`);
    return { ...result, ms: Date.now() - started, digest: await ledgerDigest(t.db), violations: await invariantViolations(t.db), served: served.body };
  } finally {
    await v.close();
    await t.drop();
  }
}

test('the same scenario and seed, run twice into fresh databases, write the same ledger row for row', async () => {
  const first = await runFresh('drought', 30);
  const second = await runFresh('drought', 30);
  assert.ok(first.digest.rows > 300, `only ${first.digest.rows} ledger rows`);
  assert.ok(first.digest.rejections > 0, 'the run saw rejections too');
  assert.deepEqual(second.digest, first.digest);
  assert.equal(second.runId, first.runId);
  const otherSeed = await runFresh('drought', 30, '43');
  assert.notEqual(otherSeed.digest.digest, first.digest.digest, 'another seed gives another history');
});

for (const name of ['demo', 'drought', 'energy-crisis']) {
  test(`${name}: heuristic agents keep trading for 100 epochs with a mix of applied and rejected proposals`, async () => {
    const run = await runFresh(name, 100);
    assert.deepEqual(run.violations, []);
    assert.equal(run.stats.length, 100);
    const applied = run.stats.reduce((n, s) => n + s.proposals.applied, 0);
    const rejected = run.stats.reduce((n, s) => n + s.proposals.rejected, 0);
    const share = rejected / (applied + rejected);
    assert.ok(run.stats.every((s) => s.proposals.applied > 0), 'trades applied in every epoch');
    assert.ok(share > 0.05 && share < 0.6, `rejected share ${share.toFixed(2)} is not a realistic mix`);
    const codes = new Set(run.stats.flatMap((s) => Object.keys(s.proposals.rejected_by_code)));
    assert.ok(codes.size >= 2, `rejections by ${[...codes].join(', ')} only`);
    assert.ok(run.stats.some((s) => s.deficit.actors > 0), 'scarcity leaves some need unmet');
    const last = run.stats[99]!;
    assert.ok(last.negotiation.sessions > 0 && last.negotiation.success_rate > 0);
    assert.deepEqual(Object.keys(last.gini).sort(), ['credits', 'energy', 'water']);
    // Served back by GET /epochs, with the settlement the validator recorded.
    assert.equal(run.served.epochs.length, 100);
    assert.deepEqual(run.served.epochs[99].stats.proposals, last.proposals);
    assert.ok(run.served.epochs.every((e: { finished_at: string | null }) => e.finished_at !== null));
    console.log(`${name}: ${applied} applied, ${rejected} rejected (${(share * 100).toFixed(0)}%), ${(run.ms / 100).toFixed(0)} ms per epoch`);
  });
}
