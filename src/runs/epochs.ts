import type { SettlementSummary } from '../domain/economy.ts';
import type { Db } from '../db/db.ts';
import { CodedError } from '../domain/errors.ts';
import { lockRun } from './registry.ts';
import { settleExtraction } from './settlement.ts';

/**
 * Records an epoch's plan once: the first plan stored wins and every later call gets it back.
 * Storing it also settles the extraction from the commons it asks for (living actors of the run
 * only, scaled down when together they ask for more than the stock), and records the grants in it.
 */
export async function storePlan(
  db: Db,
  runId: string,
  epoch: number,
  plan: unknown,
  validatorVersion: string,
  key: string | undefined,
): Promise<{ plan: unknown; stored: boolean }> {
  return db.transaction(async (tx) => {
    const scenario = await lockRun(tx, runId);
    const { rows } = await tx.query<{ plan: unknown; settled: boolean; settlement: SettlementSummary | null }>(
      'SELECT plan, settled_at IS NOT NULL AS settled, settlement FROM epochs WHERE run_id = $1 AND epoch = $2',
      [runId, epoch],
    );
    if (!rows[0]?.settled) throw new CodedError('EPOCH_OUT_OF_ORDER', `epoch ${epoch} of run ${runId} is not settled yet`);
    if (rows[0].plan !== null) return { plan: rows[0].plan, stored: false };
    const stored = scenario.commons
      ? await settleExtraction(tx, { scenario, runId, epoch, plan, settlement: rows[0].settlement, validatorVersion, key })
      : plan;
    await tx.query('UPDATE epochs SET plan = $3, planned_at = now() WHERE run_id = $1 AND epoch = $2', [
      runId,
      epoch,
      JSON.stringify(stored),
    ]);
    return { plan: stored, stored: true };
  });
}

/** Records an epoch's stats and marks it finished (the first finish time stays). */
export async function storeStats(db: Db, runId: string, epoch: number, stats: unknown): Promise<{ finished_at: string }> {
  return db.transaction(async (tx) => {
    await lockRun(tx, runId);
    const { rows } = await tx.query<{ finished_at: Date }>(
      `UPDATE epochs SET stats = $3, finished_at = coalesce(finished_at, now())
        WHERE run_id = $1 AND epoch = $2 AND settled_at IS NOT NULL RETURNING finished_at`,
      [runId, epoch, JSON.stringify(stats)],
    );
    if (!rows[0]) throw new CodedError('EPOCH_OUT_OF_ORDER', `epoch ${epoch} of run ${runId} is not settled yet`);
    return { finished_at: rows[0].finished_at.toISOString() };
  });
}
