import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { decide, type GroupOutcome, type PriorDecision } from '../oracle/decide.ts';
import type { BusinessErrorCode } from '../../src/domain/errors.ts';
import { WORLD_ACTOR_ID } from '../../src/domain/ids.ts';
import { microFromDb, type Micro } from '../../src/domain/money.ts';
import { canonicalLegs, parseProposal } from '../../src/domain/proposal.ts';
import { balanceKey } from '../../src/domain/ids.ts';
import type { LimitSet } from '../oracle/validate.ts';
import { createApiKey } from '../../src/governance/keys.ts';
import { createActorDirectory } from '../../src/ledger/writing/actors.ts';
import { createExecutor, type ExecuteItem, type ExecuteOutcome } from '../../src/ledger/writing/execute.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { invariantViolations } from '../support/invariants.ts';
import { seedTestScenario } from '../support/scenario.ts';

// Random groups go through the pure decide and through record_proposals; both must give the same
// outcomes, codes and messages, and leave the same balances.

let t: TestDatabase;
let keys: { system: string; agent: string };
before(async () => {
  t = await createTestDatabase(4);
  await seedTestScenario(t.db);
  keys = { system: (await createApiKey(t.db, 'runner', 'system')).key, agent: `ggk_${randomUUID()}` };
  await t.db.query(
    "INSERT INTO api_keys (id, name, role, key_hash, actor_id) SELECT $1, 'carol-agent', 'agent', encode(sha256(convert_to($2, 'UTF8')), 'hex'), id FROM actors WHERE name = 'carol'",
    [randomUUID(), keys.agent],
  );
});
after(() => t.drop());

interface World {
  names: Map<string, string>;
  byName: Map<string, string>;
  resources: Set<string>;
  limits: (resource: string) => LimitSet;
  balances: Map<string, Micro>;
}

async function loadWorld(): Promise<World> {
  const actors = await t.db.query<{ id: string; name: string }>('SELECT id::text, name FROM actors');
  const resources = await t.db.query<{ name: string }>('SELECT name FROM resources');
  const limits = await t.db.query<{ resource: string | null; max_transfer: string | null; min_balance: string | null }>(
    'SELECT resource, max_transfer::text, min_balance::text FROM constraints',
  );
  const balances = await t.db.query<{ actor_id: string; resource: string; amount: string }>(
    'SELECT actor_id::text, resource, amount::text FROM balances',
  );
  const parse = (v: string | null | undefined) => (v === null || v === undefined ? null : microFromDb(v));
  const global = limits.rows.find((r) => r.resource === null)!;
  return {
    names: new Map(actors.rows.map((a) => [a.id, a.name])),
    byName: new Map(actors.rows.map((a) => [a.name, a.id])),
    resources: new Set(resources.rows.map((r) => r.name)),
    limits: (resource) => {
      const own = limits.rows.find((r) => r.resource === resource);
      return {
        maxTransfer: parse(own?.max_transfer) ?? parse(global.max_transfer),
        minBalance: parse(own?.min_balance) ?? parse(global.min_balance) ?? 0n,
      };
    },
    balances: new Map(balances.rows.map((b) => [balanceKey(b.actor_id, b.resource), microFromDb(b.amount)])),
  };
}

async function loadPrior(ids: string[]): Promise<Map<string, PriorDecision>> {
  const prior = new Map<string, PriorDecision>();
  const applied = await t.db.query<{
    proposal_id: string;
    legs: Array<{ actor_from: string; actor_to: string; resource: string; amount: string }>;
  }>(
    `SELECT proposal_id::text, json_agg(json_build_object('actor_from', actor_from, 'actor_to', actor_to, 'resource', resource, 'amount', amount::text) ORDER BY leg) AS legs
       FROM ledger WHERE proposal_id = ANY($1::uuid[]) GROUP BY proposal_id`,
    [ids],
  );
  for (const row of applied.rows) {
    prior.set(row.proposal_id, {
      canonical: canonicalLegs(row.legs.map((l) => ({ ...l, amount: microFromDb(l.amount) }))),
      outcome: { kind: 'applied' },
    });
  }
  const rejected = await t.db.query<{ proposal_id: string; canonical: string; code: BusinessErrorCode; message: string }>(
    'SELECT proposal_id::text, canonical, validation_error_code AS code, message FROM rejected_proposals WHERE proposal_id = ANY($1::uuid[])',
    [ids],
  );
  for (const row of rejected.rows)
    prior.set(row.proposal_id, { canonical: row.canonical, outcome: { kind: 'rejected', code: row.code, message: row.message } });
  return prior;
}

const ACTORS = ['alice', 'bob', 'carol', 'dave', 'world', 'ghost'];
// Ids come fresh, or from a small pool, so that replays and conflicts across groups happen.
const pool = Array.from({ length: 12 }, () => randomUUID());
const legArb = fc.record({
  actor_from: fc.constantFrom(...ACTORS),
  actor_to: fc.constantFrom(...ACTORS),
  resource: fc.constantFrom('energy', 'water', 'credits', 'gold'),
  amount: fc.integer({ min: 1, max: 12_000_000 }).map((n) => (n / 100_000).toFixed(5)),
});
const bodyArb = fc.record({
  id: fc.oneof({ weight: 3, arbitrary: fc.uuid({ version: 4 }) }, { weight: 1, arbitrary: fc.constantFrom(...pool) }),
  legs: fc.array(legArb, { minLength: 1, maxLength: 3 }),
  key: fc.constantFrom<'none' | 'system' | 'agent'>('none', 'none', 'system', 'agent'),
});

const simple = (o: ExecuteOutcome | GroupOutcome): unknown => {
  if ('status' in o)
    return o.status === 'conflict'
      ? ['conflict']
      : o.status === 'applied'
        ? ['applied', o.replayed]
        : ['rejected', o.replayed, o.error_code, o.message];
  return o.kind === 'conflict'
    ? ['conflict']
    : o.kind === 'applied'
      ? ['applied', o.replayed]
      : ['rejected', o.replayed, o.code, o.message];
};

test('random groups: the pure decide and record_proposals agree on outcomes, codes, messages and balances', async () => {
  const record = createExecutor({ db: t.db, actors: createActorDirectory(t.db), validatorVersion: 'test', topics: [] });
  await fc.assert(
    fc.asyncProperty(fc.array(bodyArb, { minLength: 1, maxLength: 8 }), async (group) => {
      const items: ExecuteItem[] = group.map(({ id, legs, key }) => {
        const body = { proposal_id: id, legs };
        const parsed = parseProposal(body);
        if (!parsed.ok) throw new Error(parsed.message);
        return { proposal: parsed.proposal, raw: body, caller: { key: key === 'none' ? null : keys[key], name: key } };
      });
      const w = await loadWorld();
      const prior = await loadPrior(items.map((i) => i.proposal.proposal_id));
      const resolve = (ref: string) => w.byName.get(ref) ?? ref;
      const expected = decide(
        items.map((item, index) => {
          const legs = item.proposal.legs.map((l) => ({ ...l, actor_from: resolve(l.actor_from), actor_to: resolve(l.actor_to) }));
          const key = group[index]!.key;
          const grant =
            key === 'system'
              ? { role: 'system', actorId: null }
              : key === 'agent'
                ? { role: 'agent', actorId: w.byName.get('carol')! }
                : { role: null, actorId: null };
          return { proposalId: item.proposal.proposal_id, canonical: canonicalLegs(legs), legs, grant };
        }),
        {
          worldId: WORLD_ACTOR_ID,
          actorName: (id) => w.names.get(id),
          resources: w.resources,
          limits: w.limits,
          balances: w.balances,
          prior,
        },
      );
      const actual = await record(items);
      assert.deepEqual(actual.map(simple), expected.outcomes.map(simple));
      const after = (await loadWorld()).balances;
      for (const [key, amount] of expected.balances) assert.equal(after.get(key) ?? 0n, amount, key);
    }),
    { numRuns: 120 },
  );
  assert.deepEqual(await invariantViolations(t.db), []);
});
