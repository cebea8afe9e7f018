import { parseScenario, type Scenario } from '../../src/domain/scenario.ts';
import type { Db } from '../../src/db/db.ts';
import { seedScenario } from '../../src/ledger/writing/seed.ts';
import { aggregatedMovesSql } from '../../src/ledger/integrity/replay.ts';

export const RESOURCES = ['energy', 'water', 'credits'];

export function benchScenario(actors: number): Scenario {
  const parsed = parseScenario({
    name: 'bench',
    default_credit: 100,
    resources: RESOURCES.map((name) => ({ name, unit: '' })),
    constraints: { max_transfer: 1000, min_balance: 0 },
    actors: Array.from({ length: actors }, (_, i) => ({
      name: `actor-${String(i).padStart(5, '0')}`,
      kind: 'agent',
      balances: Object.fromEntries(RESOURCES.map((r) => [r, 1_000_000_000])),
    })),
  });
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.scenario;
}

export async function seedBench(db: Db, actors: number): Promise<void> {
  await seedScenario(db, benchScenario(actors), 'bench');
}

/**
 * Trades g = lo..hi, generated in SQL: deterministic senders, receivers (never the sender),
 * resources (the three seeded ones) and amounts (0.001 to 100), 100 ms apart. The ledger keeps its trigger, constraints
 * and foreign keys: INSERT is what the ledger allows.
 */
const GENERATE = `
  INSERT INTO ledger (proposal_id, leg, kind, actor_from, actor_to, resource, amount, validator_version, executed_at)
  SELECT ('00000000-0000-4000-8000-' || lpad(to_hex(g), 12, '0'))::uuid, 0, 'trade',
         x.a[1 + (g * 7919) % x.n], x.a[1 + ((g * 7919) % x.n + 1 + g % (x.n - 1)) % x.n],
         y.r[1 + g % 3], ((g * 104729) % 100000 + 1) / 1000.0, 'bench', timestamptz '2025-01-01' + g * interval '100 milliseconds'
    FROM generate_series($1::bigint, $2::bigint) g,
         (SELECT array_agg(id ORDER BY name) AS a, count(*)::int AS n FROM actors WHERE kind <> 'system') x,
         (SELECT ARRAY['credits', 'energy', 'water'] AS r) y`;

/**
 * Appends `rows` generated trades on `workers` connections in chunks (balances untouched: call
 * syncBalances after). Reports progress after each chunk.
 */
export async function generateTrades(
  db: Db,
  options: { from: number; rows: number; workers: number; chunk: number; onChunk?: (done: number) => void },
): Promise<void> {
  let next = options.from;
  const end = options.from + options.rows - 1;
  let done = 0;
  await Promise.all(
    Array.from({ length: options.workers }, async () => {
      while (next <= end) {
        const lo = next;
        const hi = Math.min(end, lo + options.chunk - 1);
        next = hi + 1;
        await db.transaction(async (tx) => {
          await tx.query('SET LOCAL synchronous_commit = off');
          await tx.query(GENERATE, [lo, hi]);
        });
        done += hi - lo + 1;
        options.onChunk?.(done);
      }
    }),
  );
}

/** Sets every balance to a replay of the whole ledger (after generateTrades, which bypassed them). */
export async function syncBalances(db: Db): Promise<void> {
  await db.query(
    `UPDATE balances b SET amount = r.amount, last_ledger_id = r.last_id
       FROM (${aggregatedMovesSql('0', null)}) r WHERE b.actor_id = r.actor AND b.resource = r.resource`,
  );
}

/** Appends trades and moves the balances in the same statement, as appendEntries does. */
export async function appendTradesWithBalances(db: Db, lo: number, hi: number): Promise<void> {
  await db.query(
    `WITH inserted AS (${GENERATE} RETURNING id, actor_from, actor_to, resource, amount),
     totals AS (
       SELECT actor, resource, sum(delta) AS delta, max(id) AS last_id FROM (
         SELECT actor_from AS actor, resource, -amount AS delta, id FROM inserted
         UNION ALL SELECT actor_to, resource, amount, id FROM inserted) m GROUP BY actor, resource)
     UPDATE balances b SET amount = b.amount + t.delta, last_ledger_id = greatest(b.last_ledger_id, t.last_id)
       FROM totals t WHERE b.actor_id = t.actor AND b.resource = t.resource`,
    [lo, hi],
  );
}
