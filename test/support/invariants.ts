import type { Db } from '../../src/db/db.ts';
import { findDrift } from './drift.ts';

/**
 * Checks DESIGN §8 invariants 1, 2, 4 and 5 against the database and returns every violation
 * found (an empty list means all hold). Invariant 3 and 6 need what clients saw: tests check them.
 */
export async function invariantViolations(db: Db): Promise<string[]> {
  const violations: string[] = [];

  const sums = await db.query<{ resource: string; total: string }>(
    'SELECT resource, sum(amount)::text AS total FROM balances GROUP BY resource HAVING sum(amount) <> 0',
  );
  for (const row of sums.rows) violations.push(`1: balances of ${row.resource} sum to ${row.total}, not 0`);
  const ledgerSums = await db.query<{ resource: string; total: string }>(
    `SELECT resource, sum(d)::text AS total FROM (SELECT resource, amount AS d FROM ledger UNION ALL SELECT resource, -amount FROM ledger) m
      GROUP BY resource HAVING sum(d) <> 0`,
  );
  for (const row of ledgerSums.rows) violations.push(`1: ledger of ${row.resource} sums to ${row.total}`);

  for (const row of await findDrift(db, 100)) {
    violations.push(`2: balance ${row.actor ?? row.actor_id}/${row.resource} is ${row.balance}, the ledger says ${row.expected}`);
  }

  // Per (actor, resource) the ledger id order is the commit order (a writer holds the balance row
  // lock while it takes ids), so a running sum replays each balance exactly as it was.
  const floors = await db.query<{ id: number; actor: string; resource: string; running: string; floor: string }>(
    `WITH moves AS (
       SELECT id, kind, actor_from AS actor, resource, -amount AS delta, true AS sent FROM ledger
       UNION ALL SELECT id, kind, actor_to, resource, amount, false FROM ledger
     ), running AS (
       SELECT *, sum(delta) OVER (PARTITION BY actor, resource ORDER BY id) AS balance FROM moves
     )
     SELECT r.id, a.name AS actor, r.resource, r.balance::text AS running,
            coalesce(c.min_balance, g.min_balance, 0)::text AS floor
       FROM running r JOIN actors a ON a.id = r.actor
       LEFT JOIN constraints c ON c.resource = r.resource
       LEFT JOIN constraints g ON g.resource IS NULL
      WHERE a.kind <> 'system'
        AND (r.balance < 0 OR (r.kind = 'trade' AND r.sent AND r.balance < coalesce(c.min_balance, g.min_balance, 0)))
      LIMIT 20`,
  );
  for (const row of floors.rows) {
    violations.push(`4: after ledger ${row.id}, ${row.actor} held ${row.running} ${row.resource} (floor ${row.floor})`);
  }

  const both = await db.query<{ proposal_id: string }>(
    'SELECT DISTINCT l.proposal_id::text FROM ledger l JOIN rejected_proposals r USING (proposal_id) LIMIT 20',
  );
  for (const row of both.rows) violations.push(`3/5: ${row.proposal_id} is both applied and rejected`);

  const gaps = await db.query<{ proposal_id: string }>(
    `SELECT proposal_id::text FROM ledger GROUP BY proposal_id HAVING count(*) <> max(leg) + 1 OR min(leg) <> 0 LIMIT 20`,
  );
  for (const row of gaps.rows) violations.push(`3: ${row.proposal_id} has a partial set of legs`);

  const tickets = await db.query<{ dedupe_key: string }>(
    `SELECT o.dedupe_key FROM outbox o WHERE o.topic IN ('linear', 'discord')
       AND NOT EXISTS (SELECT 1 FROM rejected_proposals r WHERE o.dedupe_key = o.topic || ':' || r.proposal_id) LIMIT 20`,
  );
  for (const row of tickets.rows) violations.push(`5: outbox row ${row.dedupe_key} has no rejection`);
  return violations;
}
