import { flushWal, type Db } from '../../db/db.ts';

/**
 * Ledger ids come from an identity sequence and are taken before commit, so writers can commit out
 * of id order: after ids up to 100 are visible, a transaction holding id 97 may still commit. Any
 * "from id X on" scheme would skip such a late row. A fence closes that gap without blocking
 * anyone: it records the sequence's last value, then every transaction holding a write lock on the
 * ledger. A writer that took an id before the first read still holds its lock at the second (it is
 * released at commit, after the commit is visible), so once every fenced transaction has ended,
 * each id up to `through` is settled: committed and visible to any new snapshot, or never to exist.
 *
 * "Never to exist" needs one more step. A sequence's advance is written to the WAL but not
 * flushed, and after a crash the sequence resumes from the last advance that reached disk: ids
 * handed out since (to writers the crash ended, or to commits made without waiting for the flush,
 * which the crash lost) are handed out again, to writers that begin after the fence has cleared.
 * A horizon counted before the crash would then pass over their rows (the drift verifier's base
 * would never hold them). So a fence flushes the WAL after reading the sequence: the ids it
 * covers are spent for good, whatever happens to the server afterwards.
 */
export interface Fence {
  through: number;
  writers: string[];
}

/** Lock modes that allow writing rows; a writer holds one of them until it ends. */
const WRITE_MODES = "('RowExclusiveLock', 'ShareRowExclusiveLock', 'ExclusiveLock', 'AccessExclusiveLock')";

export async function raiseFence(db: Db): Promise<Fence> {
  // In this order: the sequence, the flush that makes its advance durable, then the writers.
  const seq = await db.query<{ through: string | null }>("SELECT pg_sequence_last_value('ledger_id_seq'::regclass)::text AS through");
  await flushWal(db);
  const { rows } = await db.query<{ writers: string[] | null }>(
    `SELECT array_agg(DISTINCT virtualtransaction) AS writers FROM pg_locks
      WHERE locktype = 'relation' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
        AND relation = 'ledger'::regclass AND granted AND mode IN ${WRITE_MODES}
        AND pid IS DISTINCT FROM pg_backend_pid()`,
  );
  return { through: Number(seq.rows[0]?.through ?? 0), writers: rows[0]?.writers ?? [] };
}

/** True once every transaction the fence recorded has ended. */
export async function fenceCleared(db: Db, fence: Fence): Promise<boolean> {
  if (fence.writers.length === 0) return true;
  const { rows } = await db.query<{ cleared: boolean }>(
    'SELECT NOT EXISTS (SELECT 1 FROM pg_locks WHERE virtualtransaction = ANY($1::text[])) AS cleared',
    [fence.writers],
  );
  return rows[0]!.cleared;
}

export class SettleTimeoutError extends Error {}

/**
 * The settled horizon now: raises a fence and waits for the writers it saw (ordinary trades take
 * milliseconds). A writer that stays open longer than timeoutMs is reported, not skipped.
 */
export async function settledHorizon(db: Db, options: { timeoutMs?: number; pollMs?: number } = {}): Promise<number> {
  const fence = await raiseFence(db);
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  while (!(await fenceCleared(db, fence))) {
    if (Date.now() > deadline) {
      throw new SettleTimeoutError(
        `a ledger writer (${fence.writers.join(', ')}) has been open for over ${options.timeoutMs ?? 30_000} ms; ids up to ${fence.through} cannot be settled yet`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 5));
  }
  return fence.through;
}

/**
 * For periodic workers: each call raises a new fence and returns the highest horizon settled so
 * far (the previous fences that have cleared), never waiting. Undefined until one has cleared.
 */
export function createFenceTracker() {
  let pending: Fence[] = [];
  let settled: number | undefined;

  return {
    async advance(db: Db): Promise<number | undefined> {
      const still: Fence[] = [];
      for (const fence of pending) {
        if (await fenceCleared(db, fence)) settled = Math.max(settled ?? 0, fence.through);
        else still.push(fence);
      }
      const fresh = await raiseFence(db);
      if (fresh.writers.length === 0) settled = Math.max(settled ?? 0, fresh.through);
      else still.push(fresh);
      // Keep a few: a long writer must not make the list grow without bound.
      pending = still.slice(-8);
      return settled;
    },
    get settled() {
      return settled;
    },
  };
}
