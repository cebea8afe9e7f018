import type { Db } from '../../src/db/db.ts';

export interface DriftRow {
  actor_id: string;
  actor: string | null;
  resource: string;
  balance: string | null;
  expected: string | null;
}

/**
 * Compares the balances cache with a replay of the whole ledger in one statement (one snapshot,
 * so concurrent commits cannot cause a false alarm). Returns the rows that differ, at most `limit`.
 */
export async function findDrift(db: Db, limit = 20): Promise<DriftRow[]> {
  const { rows } = await db.query<DriftRow>(
    `WITH replay AS (
       SELECT actor, resource, sum(delta) AS amount FROM (
         SELECT actor_from AS actor, resource, -amount AS delta FROM ledger
         UNION ALL SELECT actor_to, resource, amount FROM ledger
       ) AS moves GROUP BY actor, resource
     )
     SELECT coalesce(b.actor_id, r.actor)::text AS actor_id, a.name AS actor, coalesce(b.resource, r.resource) AS resource,
            b.amount::text AS balance, r.amount::text AS expected
       FROM balances b FULL JOIN replay r ON r.actor = b.actor_id AND r.resource = b.resource
       LEFT JOIN actors a ON a.id = coalesce(b.actor_id, r.actor)
      WHERE coalesce(b.amount, 0) <> coalesce(r.amount, 0)
      ORDER BY 1, 3 LIMIT $1`,
    [limit],
  );
  return rows;
}
