import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { decide, type DecideWorld, type GroupItem } from './decide.ts';
import { canonicalLegs, type Leg } from '../../src/domain/proposal.ts';
import { balanceKey } from '../../src/domain/ids.ts';

const WORLD = 'world';
const ACTORS = ['a', 'b', 'c', WORLD];
const RESOURCES = ['energy', 'water'];

const world = (balances: Map<string, bigint>, minBalance = 0n): DecideWorld => ({
  worldId: WORLD,
  actorName: (actor) => (ACTORS.includes(actor) ? actor : undefined),
  resources: new Set(RESOURCES),
  limits: () => ({ maxTransfer: 60_000_000n, minBalance }),
  balances,
  prior: new Map(),
});

const legArb: fc.Arbitrary<Leg> = fc.record({
  actor_from: fc.constantFrom(...ACTORS, 'ghost'),
  actor_to: fc.constantFrom(...ACTORS),
  resource: fc.constantFrom(...RESOURCES, 'gold'),
  amount: fc.bigInt({ min: 1n, max: 80_000_000n }),
});
const itemArb: fc.Arbitrary<GroupItem> = fc
  .record({
    id: fc.constantFrom('p1', 'p2', 'p3', 'p4', 'p5', 'p6'),
    legs: fc.array(legArb, { minLength: 1, maxLength: 3 }),
    grant: fc.constantFrom({ role: null, actorId: null }, { role: 'system', actorId: null }, { role: 'agent', actorId: 'a' }),
  })
  .map(({ id, legs, grant }) => ({ proposalId: id, canonical: canonicalLegs(legs), legs, grant }));
const balancesArb = fc
  .array(fc.tuple(fc.constantFrom('a', 'b', 'c'), fc.constantFrom(...RESOURCES), fc.bigInt({ min: 0n, max: 150_000_000n })))
  .map((rows) => new Map(rows.map(([a, r, v]) => [balanceKey(a, r), v])));

const total = (balances: ReadonlyMap<string, bigint>, resource: string) =>
  [...balances].filter(([key]) => key.endsWith(`|${resource}`)).reduce((sum, [, v]) => sum + v, 0n);

test('a group conserves every resource and leaves no one but world below min_balance', () => {
  fc.assert(
    fc.property(
      fc.array(itemArb, { maxLength: 8 }),
      balancesArb,
      fc.bigInt({ min: 0n, max: 20_000_000n }),
      (items, balances, minBalance) => {
        const { balances: after } = decide(items, world(balances, minBalance));
        for (const resource of RESOURCES) assert.equal(total(after, resource), total(balances, resource));
        for (const [key, amount] of after) {
          if (key.startsWith(`${WORLD}|`) || amount === balances.get(key)) continue;
          assert.ok(amount >= minBalance || amount >= (balances.get(key) ?? 0n), `${key} ended at ${amount}`);
        }
      },
    ),
    { numRuns: 1500 },
  );
});

test('an id has one outcome: a repeat replays it with the same payload and conflicts with another', () => {
  fc.assert(
    fc.property(fc.array(itemArb, { minLength: 1, maxLength: 8 }), balancesArb, (items, balances) => {
      const { outcomes } = decide(items, world(balances));
      const first = new Map<string, number>();
      items.forEach((item, index) => {
        const earlier = first.get(item.proposalId);
        if (earlier === undefined) {
          first.set(item.proposalId, index);
          assert.ok(outcomes[index]!.kind !== 'conflict' && !outcomes[index]!.replayed);
          return;
        }
        const before = outcomes[earlier]!;
        if (items[earlier]!.canonical !== item.canonical) assert.equal(outcomes[index]!.kind, 'conflict');
        else assert.deepEqual(outcomes[index], before.kind === 'conflict' ? before : { ...before, replayed: true });
      });
    }),
    { numRuns: 1500 },
  );
});

test('deciding a group again, with its outcomes as the prior, replays everything and moves nothing', () => {
  fc.assert(
    fc.property(fc.array(itemArb, { minLength: 1, maxLength: 8 }), balancesArb, (items, balances) => {
      const once = decide(items, world(balances));
      const prior = new Map<string, NonNullable<ReturnType<DecideWorld['prior']['get']>>>();
      items.forEach((item, index) => {
        const outcome = once.outcomes[index]!;
        if (prior.has(item.proposalId) || outcome.kind === 'conflict') return;
        prior.set(item.proposalId, {
          canonical: item.canonical,
          outcome: outcome.kind === 'applied' ? { kind: 'applied' } : { kind: 'rejected', code: outcome.code, message: outcome.message },
        });
      });
      const twice = decide(items, { ...world(once.balances), prior });
      assert.deepEqual(twice.balances, once.balances);
      for (const outcome of twice.outcomes) assert.ok(outcome.kind === 'conflict' || outcome.replayed);
    }),
    { numRuns: 1000 },
  );
});

test('world moves need the system role, and an agent key moves only its own actor', () => {
  const balances = new Map([
    [balanceKey('a', 'energy'), 50_000_000n],
    [balanceKey('b', 'energy'), 50_000_000n],
  ]);
  const item = (legs: Leg[], grant: GroupItem['grant']): GroupItem => ({
    proposalId: JSON.stringify([legs.length, grant]),
    canonical: canonicalLegs(legs),
    legs,
    grant,
  });
  const fromWorld: Leg[] = [{ actor_from: WORLD, actor_to: 'a', resource: 'water', amount: 5n }];
  const fromB: Leg[] = [{ actor_from: 'b', actor_to: 'a', resource: 'energy', amount: 5n }];
  const { outcomes } = decide(
    [
      item(fromWorld, { role: null, actorId: null }),
      item(fromWorld, { role: 'system', actorId: null }),
      item(fromB, { role: 'agent', actorId: 'a' }),
      item(fromB, { role: 'agent', actorId: 'b' }),
    ],
    world(balances),
  );
  assert.deepEqual(
    outcomes.map((o) => (o.kind === 'rejected' ? o.code : o.kind)),
    ['FORBIDDEN_ACTOR', 'applied', 'FORBIDDEN_ACTOR', 'applied'],
  );
});
