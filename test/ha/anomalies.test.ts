import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { checkListAppend, type MicroOp, type Txn } from './anomalies.ts';

// Each history is small and made by hand to hold exactly one anomaly (Adya's, or a lost or
// reordered acknowledged append); a checker that cannot fail proves nothing.

type Op = ['a', number, number] | ['r', number, number[] | null];
/** Transactions overlap in time unless told otherwise: only the stale-read test orders them. */
function txn(index: number, ops: Op[], type: Txn['type'] = 'ok', start = 0, end = 1_000): Txn {
  const micro: MicroOp[] = ops.map(([f, key, value]) =>
    f === 'a' ? { f: 'append', key, value: value as number } : { f: 'r', key, value: value as number[] | null },
  );
  return { index, type, ops: micro, start, end };
}
const X = 1;
const Y = 2;
const kinds = (history: Txn[], final: Array<[number, number[]]>) =>
  [...new Set(checkListAppend(history, new Map(final)).map((a) => a.kind))].sort();

test('a serial history has no anomaly', () => {
  const history = [
    txn(1, [['a', X, 1]]),
    txn(2, [
      ['r', X, [1]],
      ['a', X, 2],
      ['a', Y, 1],
    ]),
    txn(3, [
      ['r', X, [1, 2]],
      ['r', Y, [1]],
    ]),
  ];
  assert.deepEqual(
    kinds(history, [
      [X, [1, 2]],
      [Y, [1]],
    ]),
    [],
  );
});

test('G0: two transactions whose appends the database ordered both ways (write cycle)', () => {
  const history = [
    txn(1, [
      ['a', X, 1],
      ['a', Y, 2],
    ]),
    txn(2, [
      ['a', X, 2],
      ['a', Y, 1],
    ]),
  ];
  assert.deepEqual(
    kinds(history, [
      [X, [1, 2]],
      [Y, [1, 2]],
    ]),
    ['G0'],
  );
});

test('G1a: a read of a value whose transaction failed (aborted read)', () => {
  const history = [txn(1, [['a', X, 1]], 'fail'), txn(2, [['r', X, [1]]])];
  assert.deepEqual(kinds(history, [[X, []]]), ['G1a']);
});

test('G1b: a read that ends on a value its writer appended over (intermediate read)', () => {
  const history = [
    txn(1, [
      ['a', X, 1],
      ['a', X, 2],
    ]),
    txn(2, [['r', X, [1]]]),
  ];
  assert.deepEqual(kinds(history, [[X, [1, 2]]]), ['G1b']);
});

test('G1c: each transaction read the other one’s append (circular information flow)', () => {
  const history = [
    txn(1, [
      ['a', X, 1],
      ['r', Y, [1]],
    ]),
    txn(2, [
      ['a', Y, 1],
      ['r', X, [1]],
    ]),
  ];
  assert.deepEqual(
    kinds(history, [
      [X, [1]],
      [Y, [1]],
    ]),
    ['G1c'],
  );
});

test('G-single: a read that saw one of two appends of a transaction (read skew)', () => {
  const history = [
    txn(1, [
      ['a', X, 1],
      ['a', Y, 1],
    ]),
    txn(2, [
      ['r', X, []],
      ['r', Y, [1]],
    ]),
  ];
  assert.deepEqual(
    kinds(history, [
      [X, [1]],
      [Y, [1]],
    ]),
    ['G-single'],
  );
});

test('G2: two transactions each read what the other then appended to (write skew)', () => {
  const history = [
    txn(1, [
      ['r', X, []],
      ['a', Y, 1],
    ]),
    txn(2, [
      ['r', Y, []],
      ['a', X, 1],
    ]),
  ];
  assert.deepEqual(
    kinds(history, [
      [X, [1]],
      [Y, [1]],
    ]),
    ['G2'],
  );
});

test('lost: an acknowledged append the final read lacks', () => {
  const history = [txn(1, [['a', X, 1]]), txn(2, [['a', X, 2]])];
  assert.deepEqual(kinds(history, [[X, [2]]]), ['lost']);
});

test('an append in doubt (the connection broke) may be kept or lost', () => {
  assert.deepEqual(kinds([txn(1, [['a', X, 1]], 'info')], [[X, []]]), []);
  assert.deepEqual(kinds([txn(1, [['a', X, 1]], 'info'), txn(2, [['r', X, [1]]])], [[X, [1]]]), []);
});

test('stale: a read that began after an append was acknowledged and missed it', () => {
  const history = [txn(1, [['a', X, 1]], 'ok', 0, 10), txn(2, [['r', X, []]], 'ok', 20, 30)];
  assert.deepEqual(kinds(history, [[X, [1]]]), ['stale']);
});

test('incompatible-order: two reads that disagree on the order of acknowledged appends', () => {
  const history = [txn(1, [['a', X, 1]]), txn(2, [['a', X, 2]]), txn(3, [['r', X, [2, 1]]])];
  assert.deepEqual(kinds(history, [[X, [1, 2]]]), ['incompatible-order']);
});

test('duplicate and garbage: a value read twice, a value nobody appended', () => {
  assert.deepEqual(kinds([txn(1, [['a', X, 1]]), txn(2, [['r', X, [1, 1]]])], [[X, [1]]]), ['duplicate', 'incompatible-order']);
  assert.deepEqual(kinds([txn(1, [['r', X, [9]]])], [[X, [9]]]), ['garbage']);
});

test('the messages name the cycle, edge by edge', () => {
  const history = [
    txn(1, [
      ['r', X, []],
      ['a', Y, 1],
    ]),
    txn(2, [
      ['r', Y, []],
      ['a', X, 1],
    ]),
  ];
  const [anomaly] = checkListAppend(
    history,
    new Map([
      [X, [1]],
      [Y, [1]],
    ]),
  );
  assert.match(anomaly!.message, /^T\d -rw\(key \d\)→ T\d -rw\(key \d\)→ T\d$/);
});

test('any history a serial database produces has no anomaly', () => {
  const op = fc.oneof(
    fc.record({ f: fc.constant('append' as const), key: fc.integer({ min: 1, max: 3 }) }),
    fc.record({ f: fc.constant('r' as const), key: fc.integer({ min: 1, max: 3 }) }),
  );
  fc.assert(
    fc.property(fc.array(fc.array(op, { minLength: 1, maxLength: 4 }), { maxLength: 40 }), (plans) => {
      const state = new Map<number, number[]>();
      let next = 0;
      const history: Txn[] = plans.map((plan, index) => ({
        index,
        type: 'ok',
        start: index * 2,
        end: index * 2 + 1,
        ops: plan.map((p): MicroOp => {
          if (p.f === 'r') return { f: 'r', key: p.key, value: [...(state.get(p.key) ?? [])] };
          const value = ++next;
          state.set(p.key, [...(state.get(p.key) ?? []), value]);
          return { f: 'append', key: p.key, value };
        }),
      }));
      assert.deepEqual(checkListAppend(history, state), []);
    }),
  );
});

test('read-lost: a read saw an append in doubt that the database then lost', () => {
  const history = [txn(1, [['a', X, 1]]), txn(2, [['a', X, 2]], 'info'), txn(3, [['r', X, [1, 2]]]), txn(4, [['a', X, 3]])];
  assert.deepEqual(kinds(history, [[X, [1, 3]]]), ['read-lost']);
});
