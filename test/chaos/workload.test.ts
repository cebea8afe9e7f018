import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseProposal } from '../../src/domain/proposal.ts';
import { makeWorkload, payloadKey, SendKind } from './workload.ts';

test('the workload mixes new proposals, same-payload retries and id reuses as the bank test asks', () => {
  const sends = makeWorkload(20_000, 3);
  const share = (kind: SendKind) => sends.filter((s) => s.kind === kind).length / sends.length;
  assert.ok(Math.abs(share(SendKind.duplicate) - 0.2) < 0.015, `duplicates ${share(SendKind.duplicate)}`);
  assert.ok(Math.abs(share(SendKind.reuse) - 0.05) < 0.01, `reuses ${share(SendKind.reuse)}`);
  const swaps = sends.filter((s) => s.kind === SendKind.fresh && s.legs.length === 2).length;
  assert.ok(swaps > 5_000, `only ${swaps} swaps`);

  const fresh = new Map(sends.filter((s) => s.kind === SendKind.fresh).map((s) => [s.id, s]));
  assert.equal(fresh.size, sends.filter((s) => s.kind === SendKind.fresh).length, 'new proposals have distinct ids');
  for (const send of sends) {
    assert.ok(parseProposal(send.body).ok, `${send.index} is not a well-formed proposal`);
    assert.equal(send.key, payloadKey(send.legs));
    const original = fresh.get(send.id)!;
    assert.ok(original.index <= send.index, 'a retry or reuse follows its original');
    if (send.kind === SendKind.duplicate) assert.equal(send.key, original.key);
    if (send.kind === SendKind.reuse) assert.notEqual(send.key, original.key);
  }
});

test('the same seed gives the same workload', () => {
  assert.deepEqual(makeWorkload(500, 9), makeWorkload(500, 9));
  assert.notDeepEqual(makeWorkload(500, 9), makeWorkload(500, 10));
});
