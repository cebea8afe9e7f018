import type { Db } from '../../db/db.ts';
import { aggregatedMovesSql } from '../integrity/replay.ts';

export interface AsOf {
  ledger_id: number;
  /** The timestamp asked for, when the state was asked for by time. */
  timestamp?: string;
  /** The checkpoint replay started from (null: from genesis). */
  checkpoint: number | null;
  /** Ledger entries replayed from that checkpoint, forwards or backwards. */
  replayed_entries: number;
}

/**
 * The ledger id a timestamp stands for: the newest entry executed at or before it (0 before the
 * first entry), compared at the millisecond precision the API reports executed_at in, so that the
 * executed_at of a reply names a state that includes that trade. executed_at is the writing
 * transaction's start: entries written within one transaction's duration of it may fall either side.
 */
export async function ledgerIdAtTime(db: Db, timestamp: string): Promise<number> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT coalesce((SELECT id FROM ledger WHERE executed_at < date_trunc('milliseconds', $1::timestamptz) + interval '1 millisecond'
                       ORDER BY executed_at DESC, id DESC LIMIT 1), 0)::text AS id`,
    [timestamp],
  );
  return Number(rows[0]!.id);
}

/**
 * Balances as of ledger entry `at`, replayed from the nearest checkpoint: forwards from one at or
 * below it, or backwards (subtracting entries) from one above it, whichever is closer; genesis
 * counts as an empty checkpoint at 0. Checkpoints sit at settled ids, so no late entry is missed.
 */
export async function balancesAt(
  db: Db,
  at: number,
): Promise<{ rows: Array<{ actor_id: string; resource: string; amount: string }>; asOf: AsOf }> {
  const near = await db.query<{ below: string | null; above: string | null }>(
    `SELECT (SELECT ledger_id FROM checkpoints WHERE ledger_id <= $1 ORDER BY ledger_id DESC LIMIT 1)::text AS below,
            (SELECT ledger_id FROM checkpoints WHERE ledger_id > $1 ORDER BY ledger_id LIMIT 1)::text AS above`,
    [at],
  );
  const below = Number(near.rows[0]?.below ?? 0);
  const above = near.rows[0]?.above == null ? undefined : Number(near.rows[0].above);
  const backwards = above !== undefined && above - at < at - below;
  const start = backwards ? above : below;
  const { rows } = await db.query<{ actor_id: string; resource: string; amount: string; moves: string }>(
    `SELECT actor::text AS actor_id, resource, sum(amount)::text AS amount, sum(moves)::text AS moves FROM (
       SELECT actor_id AS actor, resource, amount, 0 AS moves FROM checkpoint_balances WHERE ledger_id = $1
       UNION ALL
       SELECT actor, resource, ${backwards ? '-amount' : 'amount'}, moves
         FROM (${backwards ? aggregatedMovesSql('$2', '$1') : aggregatedMovesSql('$1', '$2')}) AS m
     ) AS parts GROUP BY actor, resource`,
    [start, at],
  );
  const replayed = rows.reduce((total, row) => total + Number(row.moves), 0) / 2;
  return {
    rows: rows.map(({ actor_id, resource, amount }) => ({ actor_id, resource, amount })),
    asOf: { ledger_id: at, checkpoint: start === 0 && !backwards ? null : start, replayed_entries: replayed },
  };
}
