import type { Db } from '../db/db.ts';
import { settledHorizon } from './fence.ts';
import { aggregatedMovesSql } from './replay.ts';

/** Serialises checkpoint writers (the verifier of each replica, `gridgov checkpoint`, rehydrate). */
const CHECKPOINT_LOCK_KEY = 4_711_000_010;

export const CheckpointMaker = { auto: 'auto', manual: 'manual', rehydrate: 'rehydrate' } as const;
export type CheckpointMaker = (typeof CheckpointMaker)[keyof typeof CheckpointMaker];

export interface Checkpoint {
  ledger_id: number;
  balances_digest: string;
  /** Circulating amount per resource (every balance but world's), as exact decimal text. */
  supply: Record<string, string>;
  /** How many ledger entries the checkpoint covers. */
  entries: number;
  made_by: CheckpointMaker;
  created_at: string;
}

const COLUMNS = `ledger_id, balances_digest, supply, entries, made_by,
                 to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS created_at`;

/**
 * SHA-256 over the checkpoint's non-zero rows, one "actor resource amount" line each, in a fixed
 * order (uuid bytes, then resource name byte-wise), so that it does not depend on the collation.
 */
const digestSql = (ledgerId: string) => `
  SELECT encode(sha256(convert_to(coalesce(string_agg(actor_id::text || ' ' || resource || ' ' || amount::text, E'\\n'
                ORDER BY actor_id, resource COLLATE "C"), ''), 'UTF8')), 'hex')
    FROM checkpoint_balances WHERE ledger_id = ${ledgerId} AND amount <> 0`;

const supplySql = (ledgerId: string) => `
  SELECT coalesce(jsonb_object_agg(r.name, trim_scale(coalesce(s.circulating, 0))::text), '{}'::jsonb) AS supply,
         coalesce(bool_and(coalesce(s.total, 0) = 0), true) AS balanced
    FROM resources r LEFT JOIN (
      SELECT cb.resource, sum(cb.amount) FILTER (WHERE a.kind <> 'system') AS circulating, sum(cb.amount) AS total
        FROM checkpoint_balances cb JOIN actors a ON a.id = cb.actor_id
       WHERE cb.ledger_id = ${ledgerId} GROUP BY cb.resource) s ON s.resource = r.name`;

export class CheckpointError extends Error {}

export async function getCheckpoint(db: Db, ledgerId: number): Promise<Checkpoint | undefined> {
  const { rows } = await db.query<Checkpoint>(`SELECT ${COLUMNS} FROM checkpoints WHERE ledger_id = $1`, [ledgerId]);
  return rows[0];
}

/** The newest checkpoint, or the newest at or below `atOrBelow`. */
export async function latestCheckpoint(db: Db, atOrBelow?: number): Promise<Checkpoint | undefined> {
  const { rows } = await db.query<Checkpoint>(
    `SELECT ${COLUMNS} FROM checkpoints WHERE $1::bigint IS NULL OR ledger_id <= $1 ORDER BY ledger_id DESC LIMIT 1`,
    [atOrBelow ?? null],
  );
  return rows[0];
}

export async function listCheckpoints(db: Db, limit = 20): Promise<Checkpoint[]> {
  const { rows } = await db.query<Checkpoint>(`SELECT ${COLUMNS} FROM checkpoints ORDER BY ledger_id DESC LIMIT $1`, [limit]);
  return rows;
}

/** Recomputes a checkpoint's digest and supply from its stored rows: false means they were altered. */
export async function verifyCheckpoint(db: Db, ledgerId: number): Promise<{ ok: boolean; digest: string; recorded: string | undefined }> {
  const { rows } = await db.query<{ digest: string; recorded: string | null; balanced: boolean }>(
    `SELECT (${digestSql('$1')}) AS digest, (SELECT balances_digest FROM checkpoints WHERE ledger_id = $1) AS recorded,
            (SELECT balanced FROM (${supplySql('$1')}) s) AS balanced`,
    [ledgerId],
  );
  const row = rows[0]!;
  return { ok: row.recorded === row.digest && row.balanced, digest: row.digest, recorded: row.recorded ?? undefined };
}

/** Writes the checkpoints row for balance rows already inserted; refuses one whose supply does not sum to 0. */
async function finishCheckpoint(tx: Db, ledgerId: number, entries: number, madeBy: CheckpointMaker): Promise<Checkpoint> {
  const check = await tx.query<{ balanced: boolean }>(`SELECT balanced FROM (${supplySql('$1')}) s`, [ledgerId]);
  if (!check.rows[0]!.balanced) throw new CheckpointError(`the balances at ledger id ${ledgerId} do not sum to zero per resource`);
  const { rows } = await tx.query<Checkpoint>(
    `INSERT INTO checkpoints (ledger_id, balances_digest, supply, entries, made_by, last_executed_at)
     SELECT $1, (${digestSql('$1')}), (SELECT supply FROM (${supplySql('$1')}) s), $2, $3,
            (SELECT executed_at FROM ledger WHERE id <= $1 ORDER BY id DESC LIMIT 1)
     RETURNING ${COLUMNS}`,
    [ledgerId, entries, madeBy],
  );
  return rows[0]!;
}

/**
 * A checkpoint at `through`, built set-based from the previous checkpoint plus the entries after
 * it. `through` must be settled (see fence.ts), or a late entry below it would be left out.
 * Idempotent: an existing checkpoint at that id is returned as it is.
 */
export async function createCheckpoint(tx: Db, through: number, madeBy: CheckpointMaker): Promise<Checkpoint> {
  await tx.query('SELECT pg_advisory_xact_lock($1)', [CHECKPOINT_LOCK_KEY]);
  const existing = await getCheckpoint(tx, through);
  if (existing) return existing;
  const { rows } = await tx.query<{ entries: string }>(
    `WITH prev AS (SELECT ledger_id, entries FROM checkpoints WHERE ledger_id < $1 ORDER BY ledger_id DESC LIMIT 1),
     agg AS (
       SELECT actor, resource, sum(amount) AS amount, max(last_id) AS last_id, sum(moves) AS moves FROM (
         SELECT actor_id AS actor, resource, amount, last_ledger_id AS last_id, 0 AS moves
           FROM checkpoint_balances WHERE ledger_id = (SELECT ledger_id FROM prev)
         UNION ALL ${aggregatedMovesSql('coalesce((SELECT ledger_id FROM prev), 0)', '$1')}
       ) AS parts GROUP BY actor, resource
     ), inserted AS (
       INSERT INTO checkpoint_balances (ledger_id, actor_id, resource, amount, last_ledger_id)
       SELECT $1, actor, resource, amount, last_id FROM agg WHERE amount <> 0
       RETURNING 1
     )
     SELECT (coalesce((SELECT entries FROM prev), 0) + coalesce((SELECT sum(moves) FROM agg), 0) / 2)::text AS entries,
            (SELECT count(*) FROM inserted) AS written`,
    [through],
  );
  return finishCheckpoint(tx, through, Number(rows[0]!.entries), madeBy);
}

/** A checkpoint at `ledgerId` from a table of (actor_id, resource, amount, last_ledger_id) already replayed to it. */
export async function createCheckpointFromTable(
  tx: Db,
  ledgerId: number,
  table: string,
  entries: number,
  madeBy: CheckpointMaker,
): Promise<Checkpoint> {
  await tx.query('SELECT pg_advisory_xact_lock($1)', [CHECKPOINT_LOCK_KEY]);
  const existing = await getCheckpoint(tx, ledgerId);
  if (existing) return existing;
  await tx.query(
    `INSERT INTO checkpoint_balances (ledger_id, actor_id, resource, amount, last_ledger_id)
     SELECT $1, actor_id, resource, amount, last_ledger_id FROM ${table} WHERE amount <> 0`,
    [ledgerId],
  );
  return finishCheckpoint(tx, ledgerId, entries, madeBy);
}

/** `gridgov checkpoint`: a checkpoint at the settled head of the ledger. */
export async function checkpointNow(db: Db, madeBy: CheckpointMaker = CheckpointMaker.manual): Promise<Checkpoint> {
  const through = await settledHorizon(db);
  if (through <= 0) throw new CheckpointError('the ledger is empty: nothing to checkpoint');
  return db.transaction((tx) => createCheckpoint(tx, through, madeBy));
}
