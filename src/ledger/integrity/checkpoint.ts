import { fromDatabaseRefusal } from '../../domain/errors.ts';
import type { Db } from '../../db/db.ts';
import { settledHorizon } from './fence.ts';

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

export class CheckpointError extends Error {}

/** The database refuses a checkpoint whose balances do not sum to zero per resource (GG015). */
async function refusedAsCoded(work: Promise<unknown>): Promise<void> {
  try {
    await work;
  } catch (error) {
    throw fromDatabaseRefusal(error) ?? error;
  }
}

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
    `SELECT checkpoint_digest($1) AS digest, (SELECT balances_digest FROM checkpoints WHERE ledger_id = $1) AS recorded,
            (SELECT balanced FROM checkpoint_supply($1)) AS balanced`,
    [ledgerId],
  );
  const row = rows[0]!;
  return { ok: row.recorded === row.digest && row.balanced, digest: row.digest, recorded: row.recorded ?? undefined };
}

/**
 * A checkpoint at `through`, built by the database (checkpoint_make, migration 000074) from the
 * previous checkpoint plus the entries after it. `through` must be settled (see fence.ts), or a
 * late entry below it would be left out. Idempotent: an existing checkpoint at that id is
 * returned as it is.
 */
export async function createCheckpoint(tx: Db, through: number, madeBy: CheckpointMaker): Promise<Checkpoint> {
  await refusedAsCoded(tx.query('SELECT checkpoint_make($1, $2)', [through, madeBy]));
  return (await getCheckpoint(tx, through))!;
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
  await refusedAsCoded(tx.query('SELECT checkpoint_finish($1, $2, $3)', [ledgerId, entries, madeBy]));
  return (await getCheckpoint(tx, ledgerId))!;
}

/** `gridgov checkpoint`: a checkpoint at the settled head of the ledger. */
export async function checkpointNow(db: Db, madeBy: CheckpointMaker = CheckpointMaker.manual): Promise<Checkpoint> {
  const through = await settledHorizon(db);
  if (through <= 0) throw new CheckpointError('the ledger is empty: nothing to checkpoint');
  return db.transaction((tx) => createCheckpoint(tx, through, madeBy));
}
