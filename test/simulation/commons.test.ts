import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runFresh, withCharacter } from '../support/economy.ts';

const EPOCHS = 40;

test('commons: greedy agents collapse the lake and fail; cooperative ones keep it and all survive as long', async () => {
  const greedy = await runFresh(await withCharacter('commons', 'greedy'), EPOCHS);
  const cooperative = await runFresh(await withCharacter('commons', 'cooperative'), EPOCHS);
  for (const run of [greedy, cooperative]) {
    assert.deepEqual(run.violations, []);
    assert.equal(run.stats.length, EPOCHS);
  }
  // GovSim's figures (docs/economy.md): the greedy lake collapses, its harvest actions are mostly
  // above the sustainable share; the cooperative lake lives all 40 epochs, over-usage 0.
  const g = greedy.summary;
  assert.notEqual(g.commons.collapsed_at, null, 'the lake collapsed');
  assert.ok(g.commons.stock.water < 150, `stock left ${g.commons.stock.water}`);
  assert.ok(g.actor_survival.failed.length > 0, 'actors failed');
  assert.equal(g.survival.rate, 0);
  assert.ok(g.survival.time < EPOCHS);
  assert.ok(g.over_usage.rate > 0.9, `over-usage ${g.over_usage.rate}`);

  const c = cooperative.summary;
  assert.equal(c.commons.collapsed_at, null, 'the lake never collapsed');
  assert.ok(c.commons.stock.water > 500, `stock ${c.commons.stock.water}`);
  assert.deepEqual(c.actor_survival.failed, []);
  assert.equal(c.survival.rate, 1);
  assert.equal(c.survival.time, EPOCHS, 'it survived every epoch');
  assert.equal(c.over_usage.rate, 0, `over-usage ${c.over_usage.rate}`);
  assert.ok(c.efficiency > g.efficiency, `efficiency ${c.efficiency} against ${g.efficiency}`);
  assert.ok(c.equality > 0.9, `equality of gains ${c.equality}`);
});
