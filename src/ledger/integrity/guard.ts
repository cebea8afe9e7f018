import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { Db } from '../../db/db.ts';
import { sealThrough } from './chain.ts';
import { recheckStep } from './chain-audit.ts';
import { createFenceTracker } from './fence.ts';
import { createDriftVerifier } from './verifier.ts';

export interface GuardOptions {
  verifyIntervalMs: number;
  checkpointEvery: number;
  sealIntervalMs: number;
  sealBlockSize: number;
  /** Rows sealed per transaction at most; more work loops at once. */
  sealMaxRows: number;
  /** Rows of sealed blocks re-verified per sealing tick (0: no rolling re-verification). */
  recheckRows: number;
}

export interface LedgerGuard {
  /** Resolves once the first verification has run (or after timeoutMs, whichever comes first). */
  ready(timeoutMs: number): Promise<void>;
  stop(): Promise<void>;
}

// How long ago any replica stored a verdict, or re-verified a slice of the chain, by the
// database's clock (null: never).
const LAST_DONE = {
  verdict: 'SELECT (extract(epoch FROM clock_timestamp() - checked_at) * 1000)::float8 AS ms FROM verifier_status WHERE id = 1',
  recheck: 'SELECT (extract(epoch FROM clock_timestamp() - checked_at) * 1000)::float8 AS ms FROM chain_state WHERE id = 1',
};

/** How long a session of the application's login may sit idle inside a transaction. */
const STALLED_SESSION_MS = 30_000;

/** True when another tick (of any replica) did this work within the last interval. */
async function doneWithin(db: Db, work: keyof typeof LAST_DONE, intervalMs: number): Promise<boolean> {
  const age = (await db.query<{ ms: number | null }>(LAST_DONE[work])).rows[0]?.ms;
  // A little early counts as due, so that timer jitter does not skip the replica whose turn it is.
  return age !== null && age !== undefined && age < intervalMs * 0.9;
}

/**
 * The validator's background workers: the drift verifier (a verdict every verifyIntervalMs, a
 * checkpoint every checkpointEvery ids) and the sealer (hash-chain blocks over settled entries,
 * then a slice of re-verification). Every replica runs them; advisory locks make one replica do
 * each tick's work, and a replica that dies releases its lock with its connection. The verdict
 * and the re-verification are paced by the database: a tick finding them done by another replica
 * within the interval skips them, so their cost is one per interval for the deployment, not one
 * per replica. With the verdict, the write path's tables are analyzed once they have doubled.
 */
export function startLedgerGuard(db: Db, logger: Logger, options: GuardOptions): LedgerGuard {
  const name = `${hostname()}:${process.pid}`;
  const verifier = createDriftVerifier(db, { name, checkpointEvery: options.checkpointEvery });
  const sealFences = createFenceTracker();
  let stopped = false;
  const sleepers = new Set<() => void>();
  let lastOk: boolean | undefined;
  let lastBreak: string | undefined;
  let firstTick: () => void = () => undefined;
  const firstTickDone = new Promise<void>((resolve) => (firstTick = resolve));

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      timer.unref();
      sleepers.add(wake);
    });

  async function verifyOnce(): Promise<void> {
    // A session of the application's login idle inside a transaction holds what its functions
    // locked and stalls everyone behind it; the database ends it (migration 000157).
    const ended = (await db.query<{ n: number }>('SELECT end_stalled_sessions($1) AS n', [STALLED_SESSION_MS])).rows[0]?.n ?? 0;
    if (ended > 0) logger.warn({ sessions: ended, idle_ms: STALLED_SESSION_MS }, 'ended sessions left idle in a transaction');
    if (await doneWithin(db, 'verdict', options.verifyIntervalMs)) return;
    // Statistics first: the write path's cached plans are only as good as what the planner knew
    // when it made them, and a new world's ledger outgrows that within seconds (migration 000141).
    await db.query('SELECT refresh_write_statistics()');
    const verdict = await verifier.tick();
    if (!verdict) return;
    if (verdict.checkpoint !== undefined) logger.info({ ledger_id: verdict.checkpoint }, 'checkpoint made');
    if (verdict.ok !== lastOk) {
      if (verdict.ok) logger.info({ settled_through: verdict.settledThrough }, 'balances agree with the ledger');
      else
        logger.error({ drift: verdict.drift, drift_count: verdict.driftCount }, 'balances drifted from the ledger: run gridgov rehydrate');
    }
    lastOk = verdict.ok;
  }

  /** Seals what has settled; returns true when more is waiting. */
  async function sealOnce(): Promise<boolean> {
    const settled = await sealFences.advance(db);
    if (settled === undefined) return false;
    return db.transaction(async (tx) => {
      const sealed = await sealThrough(tx, settled, { blockSize: options.sealBlockSize, maxRows: options.sealMaxRows, skipIfBusy: true });
      if (!sealed) return false;
      if (options.recheckRows > 0 && !(await doneWithin(tx, 'recheck', options.sealIntervalMs))) {
        const check = await recheckStep(tx, options.recheckRows);
        const found = check?.break ? JSON.stringify(check.break) : undefined;
        if (found && found !== lastBreak)
          logger.error({ break: check!.break }, 'the ledger hash chain is broken: a sealed row or block was changed');
        lastBreak = found ?? lastBreak;
      }
      return sealed.more;
    });
  }

  async function loop(work: () => Promise<boolean | void>, intervalMs: number, label: string, onFirst?: () => void): Promise<void> {
    while (!stopped) {
      let more = false;
      try {
        more = (await work()) === true;
      } catch (error) {
        if (!stopped) logger.warn({ err: error, worker: label }, 'ledger guard tick failed; retrying');
      }
      onFirst?.();
      onFirst = undefined;
      if (!more && !stopped) await sleep(intervalMs);
    }
  }

  const running = Promise.all([
    loop(verifyOnce, options.verifyIntervalMs, 'verifier', () => firstTick()),
    loop(sealOnce, options.sealIntervalMs, 'sealer'),
  ]);

  return {
    async ready(timeoutMs) {
      await Promise.race([firstTickDone, new Promise<void>((resolve) => setTimeout(resolve, timeoutMs).unref())]);
    },
    async stop() {
      stopped = true;
      for (const wake of [...sleepers]) wake();
      await running;
    },
  };
}
