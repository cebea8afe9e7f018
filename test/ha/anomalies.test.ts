import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { checkListAppend, type MicroOp, type Txn } from './anomalies.ts';

// Each history is small and made by hand to hold exactly one anomaly (Adya's, or a lost or
// reordered acknowledged append); a checker that cannot fail proves nothing.
//
// Operations are written short: `ax1` appends 1 to key x, `ry1,2` reads key y as [1, 2], `rx`
// reads key x as empty.

const KEYS: Record<string, number> = { x: 1, y: 2 };

/** Transactions overlap in time unless told otherwise: only the stale-read test orders them. */
function txn(index: number, ops: string, type: Txn['type'] = 'ok', start = 0, end = 1_000): Txn {
  const micro = ops.split(' ').map((op): MicroOp => {
    const key = KEYS[op[1]!]!;
    const rest = op.slice(2);
    if (op[0] === 'a') return { f: 'append', key, value: Number(rest) };
    return { f: 'r', key, value: rest === '' ? [] : rest.split(',').map(Number) };
  });
  return { index, type, ops: micro, start, end };
}

const kinds = (history: Txn[], final: Record<string, number[]>) =>
  [...new Set(checkListAppend(history, new Map(Object.entries(final).map(([k, v]) => [KEYS[k]!, v]))).map((a) => a.kind))].sort();

test('a serial history has no anomaly', () => {
  const history = [txn(1, 'ax1'), txn(2, 'rx1 ax2 ay1'), txn(3, 'rx1,2 ry1')];
  assert.deepEqual(kinds(history, { x: [1, 2], y: [1] }), []);
});

test('G0: two transactions whose appends the database ordered both ways (write cycle)', () => {
  assert.deepEqual(kinds([txn(1, 'ax1 ay2'), txn(2, 'ax2 ay1')], { x: [1, 2], y: [1, 2] }), ['G0']);
});

test('G1a: a read of a value whose transaction failed (aborted read)', () => {
  assert.deepEqual(kinds([txn(1, 'ax1', 'fail'), txn(2, 'rx1')], { x: [] }), ['G1a']);
});

test('G1b: a read that ends on a value its writer appended over (intermediate read)', () => {
  assert.deepEqual(kinds([txn(1, 'ax1 ax2'), txn(2, 'rx1')], { x: [1, 2] }), ['G1b']);
});

test('G1c: each transaction read the other one’s append (circular information flow)', () => {
  assert.deepEqual(kinds([txn(1, 'ax1 ry1'), txn(2, 'ay1 rx1')], { x: [1], y: [1] }), ['G1c']);
});

test('G-single: a read that saw one of two appends of a transaction (read skew)', () => {
  assert.deepEqual(kinds([txn(1, 'ax1 ay1'), txn(2, 'rx ry1')], { x: [1], y: [1] }), ['G-single']);
});

test('G2: two transactions each read what the other then appended to (write skew)', () => {
  assert.deepEqual(kinds([txn(1, 'rx ay1'), txn(2, 'ry ax1')], { x: [1], y: [1] }), ['G2']);
});

test('lost: an acknowledged append the final read lacks', () => {
  assert.deepEqual(kinds([txn(1, 'ax1'), txn(2, 'ax2')], { x: [2] }), ['lost']);
});

test('an append in doubt (the connection broke) may be kept or lost', () => {
  assert.deepEqual(kinds([txn(1, 'ax1', 'info')], { x: [] }), []);
  assert.deepEqual(kinds([txn(1, 'ax1', 'info'), txn(2, 'rx1')], { x: [1] }), []);
});

test('read-lost: a read saw an append in doubt that the database then lost', () => {
  assert.deepEqual(kinds([txn(1, 'ax1'), txn(2, 'ax2', 'info'), txn(3, 'rx1,2'), txn(4, 'ax3')], { x: [1, 3] }), ['read-lost']);
});

test('stale: a read that began after an append was acknowledged and missed it', () => {
  assert.deepEqual(kinds([txn(1, 'ax1', 'ok', 0, 10), txn(2, 'rx', 'ok', 20, 30)], { x: [1] }), ['stale']);
});

test('incompatible-order: two reads that disagree on the order of acknowledged appends', () => {
  assert.deepEqual(kinds([txn(1, 'ax1'), txn(2, 'ax2'), txn(3, 'rx2,1')], { x: [1, 2] }), ['incompatible-order']);
});

test('duplicate and garbage: a value read twice, a value nobody appended', () => {
  assert.deepEqual(kinds([txn(1, 'ax1'), txn(2, 'rx1,1')], { x: [1] }), ['duplicate', 'incompatible-order']);
  assert.deepEqual(kinds([txn(1, 'rx9')], { x: [9] }), ['garbage']);
});

test('the messages name the cycle, edge by edge', () => {
  const [anomaly] = checkListAppend(
    [txn(1, 'rx ay1'), txn(2, 'ry ax1')],
    new Map([
      [1, [1]],
      [2, [1]],
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
