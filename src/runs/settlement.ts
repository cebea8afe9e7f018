import { actorIdFor } from '../domain/ids.ts';
import { grantExtraction, stocksOf, type ExtractionGrant, type ExtractionRequest } from '../domain/commons.ts';
import { economyProfiles, settleEconomy, settlementPairs, type CarriedState, type SettlementSummary } from '../domain/economy.ts';
import { CodedError } from '../domain/errors.ts';
import { parseAmount } from '../domain/money.ts';
import { seededActors, type Scenario } from '../domain/scenario.ts';
import { balanceKey } from '../domain/ids.ts';
import type { Db } from '../db/db.ts';
import { LedgerKind, settleEntries } from '../ledger/writing/append.ts';
import { lockBalanceRows } from '../ledger/writing/record.ts';
import { lastEpoch, lockRun } from './registry.ts';

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
      throw new CodedError(
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
    const { rows: seeded } = await tx.query<{ seed: string }>('SELECT seed FROM runs WHERE id = $1', [runId]);
    const balances = await lockBalanceRows(tx, key, runPairs(scenario));
    const { entries, summary } = settleEconomy({
      runId,
      epoch,
      scenario,
      profiles,
      idFor: actorIdFor,
      balance: (actor, resource) => balances.get(balanceKey(actor, resource)) ?? 0n,
      previous: carried,
      seed: seeded[0]!.seed,
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

export async function settleExtraction(
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
  const balances = await lockBalanceRows(tx, key, runPairs(scenario));
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
