import { createHash } from 'node:crypto';
import { CodedError } from '../domain/errors.ts';
import { deriveId } from '../domain/ids.ts';
import { parseScenario, type Scenario } from '../domain/scenario.ts';
import type { Db } from '../db/db.ts';
import { seedScenario } from '../ledger/writing/seed.ts';

export interface Run {
  run_id: string;
  scenario: string;
  seed: string;
  strategy: string;
  digest: string;
  status: string;
  started_at: string;
  ended_at: string | null;
  last_epoch: EpochProgress | null;
}

export interface EpochProgress {
  epoch: number;
  settled: boolean;
  planned: boolean;
  finished: boolean;
}

/** Canonical digest of a parsed scenario: a resumed run must simulate the same economy. */
export function scenarioDigest(scenario: Scenario): string {
  return createHash('sha256').update(JSON.stringify(scenario)).digest('hex');
}

export function runIdFor(scenario: Scenario, seed: string, strategy: string): string {
  return deriveId('run', scenario.name, seed, strategy, scenarioDigest(scenario));
}

interface RunRow {
  id: string;
  scenario: string;
  seed: string;
  strategy: string;
  digest: string;
  status: string;
  started_at: Date;
  ended_at: Date | null;
  definition: unknown;
}

const RUN_COLUMNS = 'id::text, scenario, seed, strategy, digest, status, started_at, ended_at, definition';

export async function lastEpoch(db: Db, runId: string): Promise<EpochProgress | null> {
  const { rows } = await db.query<{ epoch: number; settled: boolean; planned: boolean; finished: boolean }>(
    `SELECT epoch, settled_at IS NOT NULL AS settled, plan IS NOT NULL AS planned, finished_at IS NOT NULL AS finished
       FROM epochs WHERE run_id = $1 ORDER BY epoch DESC LIMIT 1`,
    [runId],
  );
  return rows[0] ?? null;
}

function runView(row: RunRow, last: EpochProgress | null): Run {
  return {
    run_id: row.id,
    scenario: row.scenario,
    seed: row.seed,
    strategy: row.strategy,
    digest: row.digest,
    status: row.status,
    started_at: row.started_at.toISOString(),
    ended_at: row.ended_at ? row.ended_at.toISOString() : null,
    last_epoch: last,
  };
}

/**
 * Registers a run, or finds it again: seeds the scenario (idempotent), then records the run under
 * its id. The same id with another scenario, seed or strategy is a conflict, never a silent mix.
 */
export async function registerRun(
  db: Db,
  input: {
    runId?: string;
    scenario: Scenario;
    seed: string;
    strategy: string;
    caller: string;
    key: string | undefined;
    validatorVersion: string;
    merge?: boolean;
  },
): Promise<{ run: Run; created: boolean }> {
  const digest = scenarioDigest(input.scenario);
  const runId = input.runId ?? runIdFor(input.scenario, input.seed, input.strategy);
  if (!input.merge) await refuseOtherWorld(db, input.scenario.name);
  await seedScenario(db, input.scenario, input.validatorVersion, input.key);
  const inserted = await db.query(
    `INSERT INTO runs (id, scenario, seed, strategy, definition, digest, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (id) DO NOTHING`,
    [runId, input.scenario.name, input.seed, input.strategy, JSON.stringify(input.scenario), digest, input.caller],
  );
  if (inserted.rowCount === 0)
    await db.query("UPDATE runs SET status = 'running', ended_at = NULL WHERE id = $1 AND status <> 'running'", [runId]);
  const run = await getRun(db, runId);
  if (!run) throw new CodedError('NOT_FOUND', `run ${runId} vanished`);
  if (run.digest !== digest || run.seed !== input.seed || run.strategy !== input.strategy) {
    throw new CodedError('RUN_CONFLICT', `run ${runId} exists with another scenario, seed or strategy`);
  }
  return { run, created: inserted.rowCount === 1 };
}

/**
 * Seeding a scenario into a world seeded from others adds its actors and overwrites the limits:
 * refused unless the caller asks for that merge.
 */
async function refuseOtherWorld(db: Db, scenario: string): Promise<void> {
  const { rows } = await db.query<{ name: string }>('SELECT name FROM scenarios ORDER BY seeded_at');
  const names = rows.map((r) => r.name);
  if (names.length === 0 || names.includes(scenario)) return;
  throw new CodedError(
    'SCENARIO_MISMATCH',
    `this world was seeded from scenario ${names.map((n) => `"${n}"`).join(', ')}, not "${scenario}": running it here would add its actors and overwrite the world's limits; use an empty database, or merge on purpose (merge: true, gridgov runner --merge-scenario)`,
    { world_scenarios: names, scenario },
  );
}

export const RunEnd = { finished: 'finished', stopped: 'stopped', failed: 'failed' } as const;
export type RunEnd = (typeof RunEnd)[keyof typeof RunEnd];

/** Marks a run ended; a later registration of the same run resumes it. */
export async function endRun(db: Db, runId: string, status: RunEnd): Promise<Run> {
  const { rowCount } = await db.query('UPDATE runs SET status = $2, ended_at = now() WHERE id = $1', [runId, status]);
  if (rowCount === 0) throw new CodedError('NOT_FOUND', `no run ${runId}`);
  return (await getRun(db, runId))!;
}

export async function getRun(db: Db, runId: string): Promise<Run | undefined> {
  const { rows } = await db.query<RunRow>(`SELECT ${RUN_COLUMNS} FROM runs WHERE id = $1`, [runId]);
  return rows[0] ? runView(rows[0], await lastEpoch(db, runId)) : undefined;
}

export async function listRuns(db: Db, limit: number): Promise<Run[]> {
  const { rows } = await db.query<RunRow>(`SELECT ${RUN_COLUMNS} FROM runs ORDER BY started_at DESC, id LIMIT $1`, [limit]);
  return Promise.all(rows.map(async (row) => runView(row, await lastEpoch(db, row.id))));
}

/** Locks the run (every epoch step of one run is serialised on it) and reads its scenario. */
export async function lockRun(tx: Db, runId: string): Promise<Scenario> {
  const { rows } = await tx.query<{ definition: unknown }>('SELECT definition FROM runs WHERE id = $1 FOR UPDATE', [runId]);
  if (!rows[0]) throw new CodedError('NOT_FOUND', `no run ${runId}`);
  const parsed = parseScenario(rows[0].definition);
  if (!parsed.ok) throw new Error(`run ${runId} holds an invalid scenario: ${parsed.message}`);
  return parsed.scenario;
}

/** The run GET /epochs shows when none is named: the one whose epoch began last, else the newest. */
export async function latestRunId(db: Db): Promise<string | undefined> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT coalesce((SELECT run_id FROM epochs ORDER BY started_at DESC LIMIT 1), (SELECT id FROM runs ORDER BY started_at DESC, id LIMIT 1))::text AS id`,
  );
  return rows[0]?.id ?? undefined;
}
