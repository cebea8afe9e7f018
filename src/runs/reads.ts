import type { SettlementSummary } from '../domain/economy.ts';
import { runSummary, type RunSummary } from '../domain/run-summary.ts';
import type { EpochStats } from '../domain/stats.ts';
import type { Db } from '../db/db.ts';
import { getRun } from './registry.ts';

export interface EpochRow {
  run_id: string;
  epoch: number;
  started_at: string;
  settled_at: string | null;
  finished_at: string | null;
  ledger_head: number | null;
  settlement: SettlementSummary | null;
  stats: Record<string, unknown>;
  plan?: unknown;
}

type EpochDbRow = Omit<EpochRow, 'started_at' | 'settled_at' | 'finished_at'> & {
  started_at: Date;
  settled_at: Date | null;
  finished_at: Date | null;
};

const toEpochRow = (r: EpochDbRow): EpochRow => ({
  ...r,
  started_at: r.started_at.toISOString(),
  settled_at: r.settled_at?.toISOString() ?? null,
  finished_at: r.finished_at?.toISOString() ?? null,
});

/** Epochs of a run in order, from `from` on, without their plans (GET /runs/:id/epochs/:n has them). */
export async function listEpochs(
  db: Db,
  q: { runId: string; from: number; limit: number },
): Promise<{ epochs: EpochRow[]; next_from: number | null }> {
  const { rows } = await db.query<EpochDbRow>(
    `SELECT run_id::text, epoch, started_at, settled_at, finished_at, ledger_head, settlement, stats
       FROM epochs WHERE run_id = $1 AND epoch >= $2 ORDER BY epoch LIMIT $3`,
    [q.runId, q.from, q.limit + 1],
  );
  const page = rows.slice(0, q.limit).map(toEpochRow);
  return { epochs: page, next_from: rows.length > q.limit ? rows[q.limit]!.epoch : null };
}

export async function getEpoch(db: Db, runId: string, epoch: number): Promise<EpochRow | undefined> {
  const { rows } = await db.query<EpochDbRow>(
    `SELECT run_id::text, epoch, started_at, settled_at, finished_at, ledger_head, settlement, stats, plan
       FROM epochs WHERE run_id = $1 AND epoch = $2`,
    [runId, epoch],
  );
  return rows[0] ? toEpochRow(rows[0]) : undefined;
}

/** The figures of a whole run, from the stats of its finished epochs. */
export async function getRunSummary(db: Db, runId: string): Promise<(RunSummary & { run_id: string }) | undefined> {
  if (!(await getRun(db, runId))) return undefined;
  const { rows } = await db.query<{ stats: EpochStats }>(
    'SELECT stats FROM epochs WHERE run_id = $1 AND finished_at IS NOT NULL ORDER BY epoch',
    [runId],
  );
  return { run_id: runId, ...runSummary(rows.map((r) => r.stats)) };
}
