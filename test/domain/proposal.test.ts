import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AMOUNT_EXPECTED, canonicalLegs, parseProposal } from '../../src/domain/proposal.ts';

const id = '0b8f3c1e-8d7a-4c2b-9f1e-2a3b4c5d6e7f';

test('a one-leg TradeJSON and the same proposal as legs parse to the same canonical form', () => {
  const one = parseProposal({ proposal_id: id, actor_from: 'a', actor_to: 'b', resource: 'energy', amount: 10 });
  const multi = parseProposal({ proposal_id: id, legs: [{ actor_from: 'a', actor_to: 'b', resource: 'energy', amount: '10.000' }] });
  assert.ok(one.ok && multi.ok);
  assert.equal(canonicalLegs(one.proposal.legs), canonicalLegs(multi.proposal.legs));
});

test('malformed proposals name the offending field', () => {
  const cases: Array<[unknown, string]> = [
    [null, 'body'],
    [[], 'body'],
    [{ actor_from: 'a', actor_to: 'b', resource: 'energy', amount: 1 }, 'proposal_id'],
    [{ proposal_id: 'nope', actor_from: 'a', actor_to: 'b', resource: 'energy', amount: 1 }, 'proposal_id'],
    [{ proposal_id: id, actor_to: 'b', resource: 'energy', amount: 1 }, 'actor_from'],
    [{ proposal_id: id, actor_from: 'a', actor_to: 'b', resource: 'energy', amount: -1 }, 'amount'],
    [{ proposal_id: id, actor_from: 'a', actor_to: 'b', resource: 'energy', amount: 0 }, 'amount'],
    [{ proposal_id: id, actor_from: 'a', actor_to: 'b', resource: 'energy', amount: 1.0000001 }, 'amount'],
    [{ proposal_id: id, actor_from: 'a', actor_to: 'b', resource: 'energy', amount: '1e9' }, 'amount'],
    [{ proposal_id: id, actor_from: 'a', actor_to: 'b', resource: 'energy', amount: 1e12 }, 'amount'],
    [{ proposal_id: id, actor_from: 'a', actor_to: 'b', resource: 'energy', amount: 1, extra: true }, 'extra'],
    [{ proposal_id: id, legs: [] }, 'legs'],
    [{ proposal_id: id, legs: [{ actor_from: 'a', actor_to: 'b', resource: 'energy', amount: 'x' }] }, 'legs.0.amount'],
    [{ proposal_id: id, actor_from: 'a', actor_to: 'b', resource: 'energy', amount: 1, metadata: 'text' }, 'metadata'],
    [{ proposal_id: id, actor_from: 'a\u0000', actor_to: 'b', resource: 'energy', amount: 1 }, 'actor_from'],
  ];
  for (const [body, field] of cases) {
    const result = parseProposal(body);
    assert.ok(!result.ok, `expected ${JSON.stringify(body)} to be refused`);
    assert.equal(result.field, field, `field for ${JSON.stringify(body)}: ${result.message}`);
  }
});

test('a missing or mistyped field says what is expected, not "Invalid input"', () => {
  const message = (body: unknown) => {
    const result = parseProposal(body);
    assert.ok(!result.ok);
    return result.message;
  };
  const leg = { actor_from: 'a', actor_to: 'b', resource: 'energy', amount: 1 };
  const { amount: _amount, ...noAmount } = leg;
  assert.equal(message({ proposal_id: id, ...noAmount }), `amount: required, ${AMOUNT_EXPECTED}`);
  assert.match(AMOUNT_EXPECTED, /^a positive number .*6 decimal places/);
  assert.equal(message({ proposal_id: id, ...leg, amount: true }), `amount: must be ${AMOUNT_EXPECTED}`);
  const { actor_from: _from, ...noFrom } = leg;
  assert.equal(message({ proposal_id: id, ...noFrom }), 'actor_from: required, an actor id (uuid) or name');
  const { actor_to: _to, ...noTo } = leg;
  assert.equal(message({ proposal_id: id, legs: [noTo] }), 'legs.0.actor_to: required, an actor id (uuid) or name');
  assert.equal(message({ proposal_id: id, ...leg, resource: 7 }), 'resource: must be a resource name');
});

test('proposal ids are normalised to lower case', () => {
  const result = parseProposal({ proposal_id: id.toUpperCase(), actor_from: 'a', actor_to: 'b', resource: 'energy', amount: 1 });
  assert.ok(result.ok);
  assert.equal(result.proposal.proposal_id, id);
});
