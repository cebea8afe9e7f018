import type { Db } from '../../db/db.ts';
import { CheckpointMaker, createCheckpointFromTable, latestCheckpoint, verifyCheckpoint } from './checkpoint.ts';
import { settledHorizon } from './fence.ts';
import { aggregatedMovesSql } from './replay.ts';

const REHYDRATE_LOCK_KEY = 4_711_000_013;
const STAGING = 'rehydrate_staging';
const CHUNK = 'rehydrate_chunk';

export interface RehydrateProgress {
  /** Ledger ids replayed so far out of the bulk range. */
  doneIds: number;
  totalIds: number;
  entries: number;
  elapsedMs: number;
}

export interface RehydrateOptions {
  /** Start from the newest checkpoint at or below this id instead of from genesis. */
  fromId?: number;
  /** Compute and report, change nothing. */
  dryRun?: boolean;
  /** Ledger ids per bulk statement: the granularity of progress reports. */
  chunkIds?: number;
  /** How long one attempt to lock balances for the final swap may wait, and how many attempts. */
  lockTimeoutMs?: number;
  lockAttempts?: number;
  /** Also record a checkpoint at the settled id the bulk replay reached (not in dry runs). */
  checkpoint?: boolean;
  /** Called after each bulk chunk; a returned promise is awaited before the replay goes on. */
  onProgress?: (progress: RehydrateProgress) => void | Promise<void>;
}

export interface BalanceCorrection {
  actor_id: string;
  actor: string | null;
  resource: string;
  /** changed: both differ; missing: no balance row; extra: a balance where the ledger has none. */
  kind: 'changed' | 'missing' | 'extra';
  balance: string | null;
  expected: string;
}

export interface SupplyCheck {
  resource: string;
  /** Every balance, world included: must be exactly 0. */
  total: string;
  /** Every balance but world's. */
  circulating: string;
  ok: boolean;
}

export interface RehydrateReport {
  ok: boolean;
  dryRun: boolean;
  /** The checkpoint replay started from, or null for genesis. */
  fromCheckpoint: number | null;
  settledThrough: number;
  bulkEntries: number;
  catchUpEntries: number;
  supply: SupplyCheck[];
  failures: string[];
  corrections: BalanceCorrection[];
  checkpoint: number | null;
  /** How long the swap waited for in-flight trades before it held the lock (new trades queue meanwhile). */
  lockWaitMs: number;
  /** How long balances were then held locked against writers for the catch-up, checks and swap. */
  lockedMs: number;
  durationMs: number;
}

export class RehydrateBusyError extends Error {}

/** Thrown inside the transaction to roll it back while keeping the report. */
class VerificationFailed extends Error {
  constructor(readonly report: RehydrateReport) {
    super('rehydrate verification failed');
  }
}

/**
 * Replays the entries lo < id <= hi into the staging table: aggregated with CREATE TABLE AS (which,
 * unlike INSERT ... SELECT, may run in parallel workers), then merged. Returns the entries replayed.
 */
async function mergeMoves(tx: Db, lo: number, hi: number | null): Promise<number> {
  await tx.query(`CREATE TEMP TABLE ${CHUNK} AS ${aggregatedMovesSql('$1', hi === null ? null : '$2')}`, hi === null ? [lo] : [lo, hi]);
  await tx.query(
    `INSERT INTO ${STAGING} AS s (actor_id, resource, amount, last_ledger_id)
     SELECT actor, resource, amount, last_id FROM ${CHUNK}
     ON CONFLICT (actor_id, resource) DO UPDATE
       SET amount = s.amount + excluded.amount, last_ledger_id = greatest(s.last_ledger_id, excluded.last_ledger_id)`,
  );
  const { rows } = await tx.query<{ entries: string }>(`SELECT (coalesce(sum(moves), 0) / 2)::text AS entries FROM ${CHUNK}`);
  await tx.query(`DROP TABLE ${CHUNK}`);
  return Number(rows[0]!.entries);
}

async function checkSupply(tx: Db): Promise<{ supply: SupplyCheck[]; negative: string[] }> {
  const { rows } = await tx.query<{ resource: string; total: string; circulating: string; negative: string[] | null }>(
    `SELECT s.resource, trim_scale(sum(s.amount))::text AS total,
            trim_scale(coalesce(sum(s.amount) FILTER (WHERE a.kind <> 'system'), 0))::text AS circulating,
            array_agg(a.name) FILTER (WHERE a.kind <> 'system' AND s.amount < 0) AS negative
       FROM ${STAGING} s JOIN actors a ON a.id = s.actor_id GROUP BY s.resource ORDER BY s.resource`,
  );
  return {
    supply: rows.map((r) => ({ resource: r.resource, total: r.total, circulating: r.circulating, ok: r.total === '0' })),
    negative: rows.flatMap((r) => (r.negative ?? []).map((name) => `${name}/${r.resource}`)),
  };
}

async function diffBalances(tx: Db): Promise<BalanceCorrection[]> {
  const { rows } = await tx.query<BalanceCorrection>(
    `SELECT coalesce(b.actor_id, s.actor_id)::text AS actor_id, a.name AS actor, coalesce(b.resource, s.resource) AS resource,
            CASE WHEN b.actor_id IS NULL THEN 'missing' WHEN s.actor_id IS NULL OR s.amount = 0 THEN 'extra' ELSE 'changed' END AS kind,
            trim_scale(b.amount)::text AS balance, trim_scale(coalesce(s.amount, 0))::text AS expected
       FROM balances b FULL JOIN ${STAGING} s ON s.actor_id = b.actor_id AND s.resource = b.resource
       LEFT JOIN actors a ON a.id = coalesce(b.actor_id, s.actor_id)
      WHERE b.actor_id IS NULL OR b.amount <> coalesce(s.amount, 0)
      ORDER BY a.name, 3`,
  );
  return rows;
}

/** Writes the staged balances over the live ones: only rows that differ are touched. */
async function applyStaging(tx: Db): Promise<void> {
  await tx.query(
    `INSERT INTO balances AS b (actor_id, resource, amount, is_world, last_ledger_id)
     SELECT s.actor_id, s.resource, s.amount, a.kind = 'system', s.last_ledger_id FROM ${STAGING} s JOIN actors a ON a.id = s.actor_id
     ON CONFLICT (actor_id, resource) DO UPDATE SET amount = excluded.amount, last_ledger_id = excluded.last_ledger_id
      WHERE b.amount <> excluded.amount`,
  );
  await tx.query(
    `UPDATE balances b SET amount = 0
      WHERE b.amount <> 0 AND NOT EXISTS (SELECT 1 FROM ${STAGING} s WHERE s.actor_id = b.actor_id AND s.resource = b.resource)`,
  );
}

/**
 * Locks balances against writers (readers go on): EXCLUSIVE conflicts with the row locks every
 * trade takes, so once granted no trade is between locking its rows and committing. Each attempt
 * waits at most lockTimeoutMs, so a long transaction cannot stall trading behind this request.
 */
async function lockBalanceTable(tx: Db, timeoutMs: number, attempts: number): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    await tx.query('SAVEPOINT rehydrate_lock');
    try {
      await tx.query(`SET LOCAL lock_timeout = ${Math.max(1, Math.floor(timeoutMs))}`);
      await tx.query('LOCK TABLE balances IN EXCLUSIVE MODE');
      await tx.query('RELEASE SAVEPOINT rehydrate_lock');
      return;
    } catch (error) {
      await tx.query('ROLLBACK TO SAVEPOINT rehydrate_lock');
      if ((error as { code?: string }).code !== '55P03' || attempt >= attempts) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50 * attempt));
    }
  }
}

/**
 * Rebuilds balances from the ledger (DESIGN §3, the blueprint's State Rehydration Protocol):
 *  1. base: genesis, or the newest checkpoint at or below fromId (its digest verified first);
 *  2. bulk: a settled horizon is taken (fence.ts), and the entries up to it are replayed set-based,
 *     in id-range chunks, into a staging table, without holding any lock writers care about;
 *     Entries that settled meanwhile are replayed the same way, still unlocked.
 *  3. swap: balances are locked against writers, the entries after the horizon are added (only
 *     what was written meanwhile), the supply checksum is verified, and only the rows that differ
 *     are rewritten, all in one transaction, so no concurrent write is lost or counted twice.
 * A dry run does the same in one repeatable-read snapshot, takes no lock and changes nothing.
 */
export async function rehydrate(db: Db, options: RehydrateOptions = {}): Promise<RehydrateReport> {
  const started = Date.now();
  const dryRun = options.dryRun ?? false;
  const report: RehydrateReport = {
    ok: true,
    dryRun,
    fromCheckpoint: null,
    settledThrough: 0,
    bulkEntries: 0,
    catchUpEntries: 0,
    supply: [],
    failures: [],
    corrections: [],
    checkpoint: null,
    lockWaitMs: 0,
    lockedMs: 0,
    durationMs: 0,
  };
  let baseEntries = 0;
  if (options.fromId !== undefined) {
    const checkpoint = await latestCheckpoint(db, options.fromId);
    if (checkpoint) {
      const check = await verifyCheckpoint(db, checkpoint.ledger_id);
      if (!check.ok) {
        report.failures.push(
          `checkpoint ${checkpoint.ledger_id} was altered: its rows hash to ${check.digest}, recorded ${check.recorded}; rehydrate from an earlier one or from genesis`,
        );
        return { ...report, ok: false, fromCheckpoint: checkpoint.ledger_id, durationMs: Date.now() - started };
      }
      report.fromCheckpoint = checkpoint.ledger_id;
      baseEntries = checkpoint.entries;
    }
  }
  const baseId = report.fromCheckpoint ?? 0;
  report.settledThrough = Math.max(baseId, await settledHorizon(db));

  try {
    return await db.transaction(async (tx) => {
      if (dryRun) await tx.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ');
      const lock = await tx.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS ok', [REHYDRATE_LOCK_KEY]);
      if (!lock.rows[0]!.ok) throw new RehydrateBusyError('another rehydrate is running against this database');
      await tx.query(
        `CREATE TEMP TABLE ${STAGING} (actor_id uuid NOT NULL, resource text NOT NULL, amount numeric NOT NULL,
           last_ledger_id bigint NOT NULL, PRIMARY KEY (actor_id, resource)) ON COMMIT DROP`,
      );
      await tx.query(
        `INSERT INTO ${STAGING} SELECT actor_id, resource, amount, last_ledger_id FROM checkpoint_balances WHERE ledger_id = $1`,
        [baseId],
      );

      const chunk = Math.max(1, options.chunkIds ?? 1_000_000);
      const total = report.settledThrough - baseId;
      for (let lo = baseId; lo < report.settledThrough; lo += chunk) {
        const hi = Math.min(lo + chunk, report.settledThrough);
        report.bulkEntries += await mergeMoves(tx, lo, hi);
        await options.onProgress?.({ doneIds: hi - baseId, totalIds: total, entries: report.bulkEntries, elapsedMs: Date.now() - started });
      }
      if (!dryRun) {
        // The bulk step may have taken a while under load: replay what settled meanwhile, still
        // unlocked, so that the locked catch-up below only covers the last moments.
        for (let pass = 0; pass < 3; pass++) {
          const next = await settledHorizon(tx);
          if (next - report.settledThrough < 1000) break;
          report.bulkEntries += await mergeMoves(tx, report.settledThrough, next);
          report.settledThrough = next;
        }
      }
      if (!dryRun && options.checkpoint !== false && report.settledThrough > baseId && (await checkSupply(tx)).supply.every((s) => s.ok)) {
        // The staging table now holds the state at a settled id: worth keeping as a checkpoint.
        const made = await createCheckpointFromTable(
          tx,
          report.settledThrough,
          STAGING,
          baseEntries + report.bulkEntries,
          CheckpointMaker.rehydrate,
        );
        report.checkpoint = made.ledger_id;
      }

      const lockStart = Date.now();
      if (!dryRun) await lockBalanceTable(tx, options.lockTimeoutMs ?? 2000, options.lockAttempts ?? 10);
      const lockedAt = Date.now();
      report.lockWaitMs = dryRun ? 0 : lockedAt - lockStart;
      report.catchUpEntries = await mergeMoves(tx, report.settledThrough, null);
      const { supply, negative } = await checkSupply(tx);
      report.supply = supply;
      for (const s of supply.filter((x) => !x.ok)) report.failures.push(`supply checksum: ${s.resource} sums to ${s.total}, not 0`);
      if (negative.length > 0) report.failures.push(`the ledger leaves non-world balances below zero: ${negative.slice(0, 10).join(', ')}`);
      report.corrections = await diffBalances(tx);
      if (report.failures.length > 0) throw new VerificationFailed({ ...report, ok: false });
      if (!dryRun) await applyStaging(tx);
      report.lockedMs = dryRun ? 0 : Date.now() - lockedAt;
      report.durationMs = Date.now() - started;
      return report;
    });
  } catch (error) {
    if (error instanceof VerificationFailed) return { ...error.report, checkpoint: null, durationMs: Date.now() - started };
    throw error;
  }
}
