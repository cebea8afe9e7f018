import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { balanceKey } from '../../src/domain/ids.ts';
import { validateLegs, type ValidationContext } from './validate.ts';
import type { Leg } from '../../src/domain/proposal.ts';

const WORLD = 'world-id';
const ACTORS = ['a', 'b', 'c', WORLD];
const RESOURCES = ['energy', 'water'];

function context(
  balances: Map<string, bigint>,
  opts: { system?: boolean; agentOf?: string; maxTransfer?: bigint | null; minBalance?: bigint } = {},
): ValidationContext {
  return {
    worldId: WORLD,
    actorName: (actor) => (ACTORS.includes(actor) ? `name-of-${actor}` : undefined),
    resources: new Set(RESOURCES),
    limits: () => ({ maxTransfer: opts.maxTransfer ?? null, minBalance: opts.minBalance ?? 0n }),
    balance: (actor, resource) => balances.get(balanceKey(actor, resource)) ?? 0n,
    grant: opts.agentOf ? { role: 'agent', actorId: opts.agentOf } : { role: opts.system ? 'system' : null, actorId: null },
  };
}

const legArb = fc.record({
  actor_from: fc.constantFrom(...ACTORS, 'ghost'),
  actor_to: fc.constantFrom(...ACTORS, 'ghost'),
  resource: fc.constantFrom(...RESOURCES, 'gold'),
  amount: fc.bigInt({ min: 1n, max: 200_000_000n }),
});
const balancesArb = fc
  .array(fc.tuple(fc.constantFrom('a', 'b', 'c'), fc.constantFrom(...RESOURCES), fc.bigInt({ min: 0n, max: 300_000_000n })))
  .map((rows) => new Map(rows.map(([a, r, v]) => [balanceKey(a, r), v])));

test('an accepted proposal conserves every resource and leaves no sender below min_balance', () => {
  fc.assert(
    fc.property(
      fc.array(legArb, { minLength: 1, maxLength: 4 }),
      balancesArb,
      fc.boolean(),
      fc.bigInt({ min: 0n, max: 50_000_000n }),
      (legs, balances, system, minBalance) => {
        const ctx = context(balances, { system, minBalance });
        const result = validateLegs(legs as Leg[], ctx);
        if (!result.ok) return;
        const perResource = new Map<string, bigint>();
        for (const [key, delta] of result.deltas) {
          const [actor, resource] = key.split('|') as [string, string];
          perResource.set(resource, (perResource.get(resource) ?? 0n) + delta);
          const after = ctx.balance(actor, resource) + delta;
          if (actor !== WORLD) assert.ok(after >= 0n, `${key} would go negative`);
        }
        for (const total of perResource.values()) assert.equal(total, 0n);
        // Each sending leg left its sender at or above the floor at that point.
        const running = new Map(balances);
        for (const leg of legs) {
          if (leg.actor_from !== WORLD) {
            const left = (running.get(balanceKey(leg.actor_from, leg.resource)) ?? 0n) - leg.amount;
            assert.ok(left >= minBalance);
          }
          running.set(balanceKey(leg.actor_from, leg.resource), (running.get(balanceKey(leg.actor_from, leg.resource)) ?? 0n) - leg.amount);
          running.set(balanceKey(leg.actor_to, leg.resource), (running.get(balanceKey(leg.actor_to, leg.resource)) ?? 0n) + leg.amount);
        }
      },
    ),
    { numRuns: 2000 },
  );
});

test('static rules: same actor, unknown actor or resource, and world without the system role are refused', () => {
  fc.assert(
    fc.property(legArb, balancesArb, (leg, balances) => {
      const result = validateLegs([leg as Leg], context(balances));
      // The first static rule the leg breaks, in the order they are checked; none: only the
      // balance rules may still refuse it.
      const broken =
        leg.actor_from === leg.actor_to
          ? 'SAME_ACTOR'
          : leg.actor_from === 'ghost' || leg.actor_to === 'ghost'
            ? 'INVALID_ACTOR'
            : leg.resource === 'gold'
              ? 'INVALID_RESOURCE'
              : leg.actor_from === WORLD || leg.actor_to === WORLD
                ? 'FORBIDDEN_ACTOR'
                : undefined;
      const code = result.ok ? undefined : result.code;
      const balanceCodes = [undefined, 'INSUFFICIENT_BALANCE', 'CONSTRAINT_VIOLATION'];
      assert.ok(
        broken === undefined ? balanceCodes.includes(code) : code === broken,
        `${JSON.stringify(leg, (_, v: unknown) => (typeof v === 'bigint' ? String(v) : v))}: ${code}`,
      );
    }),
    { numRuns: 2000 },
  );
});

test('max_transfer and min_balance are constraint violations; too little is insufficient balance', () => {
  const balances = new Map([[balanceKey('a', 'energy'), 100_000_000n]]);
  const leg = (amount: bigint): Leg[] => [{ actor_from: 'a', actor_to: 'b', resource: 'energy', amount }];
  const limits = { maxTransfer: 50_000_000n, minBalance: 10_000_000n };
  assert.equal(validateLegs(leg(51_000_000n), context(balances, limits)).ok, false);
  assert.deepEqual(pick(validateLegs(leg(51_000_000n), context(balances, limits))), 'CONSTRAINT_VIOLATION');
  assert.deepEqual(pick(validateLegs(leg(120_000_000n), context(balances, { minBalance: 10_000_000n }))), 'INSUFFICIENT_BALANCE');
  assert.deepEqual(pick(validateLegs(leg(95_000_000n), context(balances, { minBalance: 10_000_000n }))), 'CONSTRAINT_VIOLATION');
  assert.equal(validateLegs(leg(90_000_000n), context(balances, { minBalance: 10_000_000n })).ok, true);
});

test('legs see the balances left by the legs before them', () => {
  const balances = new Map([[balanceKey('a', 'energy'), 30_000_000n]]);
  const chain: Leg[] = [
    { actor_from: 'a', actor_to: 'b', resource: 'energy', amount: 30_000_000n },
    { actor_from: 'b', actor_to: 'c', resource: 'energy', amount: 30_000_000n },
  ];
  assert.equal(validateLegs(chain, context(balances)).ok, true);
  const overdraw: Leg[] = [chain[0]!, { actor_from: 'a', actor_to: 'c', resource: 'energy', amount: 1n }];
  assert.equal(pick(validateLegs(overdraw, context(balances))), 'INSUFFICIENT_BALANCE');
});

test('the system role may move world funds, which may go negative', () => {
  const result = validateLegs([{ actor_from: WORLD, actor_to: 'a', resource: 'water', amount: 5n }], context(new Map(), { system: true }));
  assert.equal(result.ok, true);
});

test("an agent key moves only its own actor's funds; messages name actors", () => {
  const balances = new Map([[balanceKey('a', 'energy'), 30_000_000n]]);
  const own = validateLegs([{ actor_from: 'a', actor_to: 'b', resource: 'energy', amount: 5n }], context(balances, { agentOf: 'a' }));
  assert.equal(own.ok, true);
  const other = validateLegs([{ actor_from: 'b', actor_to: 'a', resource: 'energy', amount: 5n }], context(balances, { agentOf: 'a' }));
  assert.deepEqual(other.ok ? other : [other.code, other.message], [
    'FORBIDDEN_ACTOR',
    'leg 0: this key may only move the funds of name-of-a',
  ]);
  const short = validateLegs([{ actor_from: 'a', actor_to: 'b', resource: 'energy', amount: 40_000_000n }], context(balances));
  assert.equal(!short.ok && short.message, 'leg 0: name-of-a holds 30 energy, needs 40');
});

function pick(result: ReturnType<typeof validateLegs>): string | true {
  return result.ok ? true : result.code;
}
