import { createHash } from 'node:crypto';
import { actorIdFor, deriveId } from '../domain/ids.ts';
import { grantExtraction, stocksOf, type ExtractionGrant, type ExtractionRequest } from '../domain/commons.ts';
import { economyProfiles, settleEconomy, settlementPairs, type CarriedState, type SettlementSummary } from '../domain/economy.ts';
import { parseAmount } from '../domain/money.ts';
import { runSummary, type EpochStats, type RunSummary } from '../domain/stats.ts';
import { parseScenario, seededActors, type Scenario } from '../domain/scenario.ts';
import { balanceKey } from '../domain/validate.ts';
import type { Db } from '../db/db.ts';
import { LedgerKind, settleEntries } from '../ledger/writing/append.ts';
import { CodedError } from '../domain/errors.ts';
import { lockBalanceRows } from '../ledger/writing/record.ts';
import { seedScenario } from '../ledger/writing/seed.ts';

/** Why a run operation cannot proceed; the API maps each reason to a status. */
export class RunError extends Error {
  constructor(
    readonly reason: 'RUN_CONFLICT' | 'EPOCH_OUT_OF_ORDER' | 'NOT_FOUND' | 'SCENARIO_MISMATCH',
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

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

async function lastEpoch(db: Db, runId: string): Promise<EpochProgress | null> {
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
  if (!run) throw new RunError('NOT_FOUND', `run ${runId} vanished`);
  if (run.digest !== digest || run.seed !== input.seed || run.strategy !== input.strategy) {
    throw new RunError('RUN_CONFLICT', `run ${runId} exists with another scenario, seed or strategy`);
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
  throw new RunError(
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
  if (rowCount === 0) throw new RunError('NOT_FOUND', `no run ${runId}`);
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
async function lockRun(tx: Db, runId: string): Promise<Scenario> {
  const { rows } = await tx.query<{ definition: unknown }>('SELECT definition FROM runs WHERE id = $1 FOR UPDATE', [runId]);
  if (!rows[0]) throw new RunError('NOT_FOUND', `no run ${runId}`);
  const parsed = parseScenario(rows[0].definition);
  if (!parsed.ok) throw new Error(`run ${runId} holds an invalid scenario: ${parsed.message}`);
  return parsed.scenario;
}

export interface Settlement {
  epoch: number;
  replayed: boolean;
  settled_at: string;
  /** The ledger head right after the settlement: the state the epoch's plan is made from. */
  ledger_head: number;
  settlement: SettlementSummary;
  planned: boolean;
}

/**
 * Settles production then consumption of one epoch, exactly once however often it is asked: the
 * run row lock serialises callers, a settled epoch answers from its record, and the entries'
 * deterministic ids are a second wall. Epoch N may settle only after epoch N-1 finished. The
 * entries move world's funds, so the database checks `key` (the caller's) holds the system role.
 */
export async function settleEpoch(
  db: Db,
  runId: string,
  epoch: number,
  validatorVersion: string,
  key: string | undefined,
): Promise<Settlement> {
  return db.transaction(async (tx) => {
    const scenario = await lockRun(tx, runId);
    const { rows: existing } = await tx.query<{
      settlement: SettlementSummary | null;
      settled_at: Date | null;
      ledger_head: number | null;
      planned: boolean;
    }>('SELECT settlement, settled_at, ledger_head, plan IS NOT NULL AS planned FROM epochs WHERE run_id = $1 AND epoch = $2', [
      runId,
      epoch,
    ]);
    const prior = existing[0];
    if (prior?.settled_at && prior.settlement) {
      return {
        epoch,
        replayed: true,
        settled_at: prior.settled_at.toISOString(),
        ledger_head: prior.ledger_head ?? 0,
        settlement: prior.settlement,
        planned: prior.planned,
      };
    }
    const last = await lastEpoch(tx, runId);
    const expected = last === null ? 1 : last.finished ? last.epoch + 1 : last.epoch;
    if (epoch !== expected) {
      throw new RunError(
        'EPOCH_OUT_OF_ORDER',
        `run ${runId} is at epoch ${last?.epoch ?? 0}${last && !last.finished ? ' (not finished)' : ''}: the next epoch to settle is ${expected}`,
      );
    }
    const { rows: control } = await tx.query<{ breaker_on: boolean; reason: string | null }>(
      'SELECT breaker_on, reason FROM control WHERE id = 1',
    );
    if (control[0]?.breaker_on) {
      throw new CodedError('CIRCUIT_BREAKER_OPEN', `circuit breaker is open${control[0].reason ? `: ${control[0].reason}` : ''}`, {
        reason: control[0].reason,
      });
    }

    const profiles = economyProfiles(scenario, actorIdFor);
    const { rows: before } = await tx.query<{ settlement: SettlementSummary | null }>(
      'SELECT settlement FROM epochs WHERE run_id = $1 AND epoch = $2',
      [runId, epoch - 1],
    );
    const carried: CarriedState | undefined = before[0]?.settlement
      ? { streaks: before[0].settlement.streaks ?? {}, failed: before[0].settlement.failed ?? [] }
      : undefined;
    const balances = await lockBalanceRows(tx, runPairs(scenario));
    const { entries, summary } = settleEconomy({
      runId,
      epoch,
      scenario,
      profiles,
      idFor: actorIdFor,
      balance: (actor, resource) => balances.get(balanceKey(actor, resource)) ?? 0n,
      previous: carried,
    });
    await settleEntries(
      tx,
      key,
      entries.map((e) => ({ ...e, kind: LedgerKind[e.kind] })),
      validatorVersion,
    );
    const { rows } = await tx.query<{ settled_at: Date; ledger_head: number }>(
      `INSERT INTO epochs (run_id, epoch, settlement, settled_at, ledger_head)
       VALUES ($1, $2, $3, now(), (SELECT coalesce(max(id), 0) FROM ledger))
       ON CONFLICT (run_id, epoch) DO UPDATE SET settlement = excluded.settlement, settled_at = excluded.settled_at, ledger_head = excluded.ledger_head
       RETURNING settled_at, ledger_head`,
      [runId, epoch, JSON.stringify(summary)],
    );
    return {
      epoch,
      replayed: false,
      settled_at: rows[0]!.settled_at.toISOString(),
      ledger_head: rows[0]!.ledger_head,
      settlement: summary,
      planned: false,
    };
  });
}

/** Every balance row a run's settlement may touch: its actors', the commons' and world's. */
function runPairs(scenario: Scenario): Array<[string, string]> {
  return settlementPairs(
    seededActors(scenario).map((a) => actorIdFor(a.name)),
    scenario.resources.map((r) => r.name),
  );
}

/** The extraction a plan asks for, read defensively: the plan is the runner's document. */
function extractionRequests(plan: unknown): ExtractionRequest[] {
  const raw = (plan as { extraction?: { requests?: unknown } } | null)?.extraction?.requests;
  if (!Array.isArray(raw)) return [];
  return raw.flatMap((r: { agent?: unknown; resource?: unknown; amount?: unknown }) => {
    const amount = typeof r.amount === 'number' || typeof r.amount === 'string' ? parseAmount(r.amount) : undefined;
    if (typeof r.agent !== 'string' || typeof r.resource !== 'string' || !amount?.ok || amount.value <= 0n) return [];
    return [{ actor: r.agent, actorId: actorIdFor(r.agent), resource: r.resource, amount: amount.value }];
  });
}

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
    if (!rows[0]?.settled) throw new RunError('EPOCH_OUT_OF_ORDER', `epoch ${epoch} of run ${runId} is not settled yet`);
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

async function settleExtraction(
  tx: Db,
  {
    scenario,
    runId,
    epoch,
    plan,
    settlement,
    validatorVersion,
    key,
  }: {
    scenario: Scenario;
    runId: string;
    epoch: number;
    plan: unknown;
    settlement: SettlementSummary | null;
    validatorVersion: string;
    key: string | undefined;
  },
): Promise<unknown> {
  const failed = new Set(settlement?.failed ?? []);
  const members = new Set(scenario.actors.map((a) => a.name));
  const requests = extractionRequests(plan).filter((r) => members.has(r.actor) && !failed.has(r.actor));
  const commonsId = actorIdFor(scenario.commons!.name);
  const balances = await lockBalanceRows(tx, runPairs(scenario));
  const { entries, grants } = grantExtraction(
    runId,
    epoch,
    commonsId,
    stocksOf(scenario.commons),
    (resource) => balances.get(balanceKey(commonsId, resource)) ?? 0n,
    requests,
  );
  await settleEntries(
    tx,
    key,
    entries.map((e) => ({ ...e, kind: LedgerKind[e.kind] })),
    validatorVersion,
  );
  const granted: ExtractionGrant[] = grants;
  return { ...(plan as Record<string, unknown>), extraction: { ...((plan as { extraction?: object }).extraction ?? {}), granted } };
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
    if (!rows[0]) throw new RunError('EPOCH_OUT_OF_ORDER', `epoch ${epoch} of run ${runId} is not settled yet`);
    return { finished_at: rows[0].finished_at.toISOString() };
  });
}

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

/** The run GET /epochs shows when none is named: the one whose epoch began last, else the newest. */
export async function latestRunId(db: Db): Promise<string | undefined> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT coalesce((SELECT run_id FROM epochs ORDER BY started_at DESC LIMIT 1), (SELECT id FROM runs ORDER BY started_at DESC, id LIMIT 1))::text AS id`,
  );
  return rows[0]?.id ?? undefined;
}
