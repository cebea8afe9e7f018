import assert from 'node:assert/strict';
import { test } from 'node:test';
import { columnCi, meanByEpoch, meanCi, RATE, tQuantile975 } from '../../src/experiments/summary.ts';

test('the 95% interval uses Student t with n - 1 degrees of freedom', () => {
  // Five seeds 1..5: mean 3, sample sd sqrt(2.5), t(0.975, 4) = 2.776.
  const ci = meanCi([1, 2, 3, 4, 5]);
  assert.equal(ci.n, 5);
  assert.equal(ci.mean, 3);
  assert.ok(Math.abs(ci.half! - 2.776 * Math.sqrt(2.5 / 5)) < 1e-12);
  assert.equal(tQuantile975(1), 12.706);
  assert.equal(tQuantile975(30), 2.042);
  assert.equal(tQuantile975(45), 2.021, 'between tabled rows the wider interval');
  assert.equal(tQuantile975(10_000), 1.98);
});

test('one value has a mean and no interval; none has neither', () => {
  assert.deepEqual(meanCi([0.5]), { n: 1, mean: 0.5, half: null, low: null, high: null });
  assert.equal(meanCi([]).n, 0);
  assert.equal(meanCi([2, 2, 2]).half, 0);
});

test('null figures (no commons in the scenario) are left out, and epochs are averaged over the episodes that reached them', () => {
  assert.equal(columnCi([{ r: 0.2 }, { r: null }, { r: 0.4 }], 'r').n, 2);
  const rows = [
    { epoch: 1, y: 1 },
    { epoch: 2, y: 3 },
    { epoch: 1, y: 3 },
    { epoch: 2, y: null },
  ];
  // Epoch 1 has two episodes, so a band: 2 ± t(0.975, 1) · √(2 / 2) = 2 ± 12.706; epoch 2 has one.
  assert.deepEqual(meanByEpoch(rows, 'y'), [
    { x: 1, y: 2, low: 2 - 12.706, high: 2 + 12.706 },
    { x: 2, y: 3 },
  ]);
});

test("intervals are clipped to the figure's range: a rate never runs past 1 or below 0", () => {
  // Five seeds, four survived: mean 0.8, sd √0.2, half 2.776 · √(0.2 / 5) = 0.5552, so 0.8 ± 0.5552
  // would run to 1.3552; clipped, [0.2448, 1].
  const ci = meanCi([1, 1, 1, 1, 0], RATE);
  assert.equal(ci.mean, 0.8);
  assert.ok(Math.abs(ci.half! - 0.5552) < 1e-4);
  assert.ok(Math.abs(ci.low! - 0.2448) < 1e-4);
  assert.equal(ci.high, 1);
  assert.deepEqual(
    meanByEpoch(
      [
        { epoch: 1, y: 0 },
        { epoch: 1, y: 1 },
      ],
      'y',
      RATE,
    ),
    [{ x: 1, y: 0.5, low: 0, high: 1 }],
  );
});
