import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { formatMicro, parseAmount, microToNumber } from '../../src/domain/money.ts';

const micro = (v: unknown) => {
  const r = parseAmount(v);
  assert.ok(r.ok, `expected ${String(v)} to parse`);
  return r.value;
};

test('amounts are exact: 0.1 + 0.2 is 0.3', () => {
  assert.equal(formatMicro(micro(0.1) + micro(0.2)), '0.3');
  assert.equal(microToNumber(micro('0.1') + micro('0.2')), 0.3);
});

test('numbers and decimal strings parse to the same canonical amount', () => {
  assert.equal(micro(10), micro('10.000'));
  assert.equal(formatMicro(micro('12.500000')), '12.5');
  assert.equal(formatMicro(micro('-2.25')), '-2.25');
});

test('inexact or non-decimal input is refused with a reason', () => {
  for (const bad of [0.1234567, '1.0000001', '1e3', 1e21, Number.NaN, Infinity, '', ' ', 'abc', '1.2.3', null, {}, [], true, '0x10']) {
    const result = parseAmount(bad);
    assert.equal(result.ok, false, `expected ${JSON.stringify(bad)} to be refused`);
  }
});

test('format and parse round-trip any 6-decimal amount', () => {
  fc.assert(
    fc.property(fc.bigInt({ min: -(10n ** 20n), max: 10n ** 20n }), (value) => {
      assert.equal(micro(formatMicro(value)), value);
    }),
  );
});

test('JSON numbers print the exact decimal for amounts within 15 significant digits', () => {
  fc.assert(
    fc.property(fc.bigInt({ min: 0n, max: 999_999_999_999_999n }), (value) => {
      assert.equal(micro(microToNumber(value)), value);
    }),
  );
});
