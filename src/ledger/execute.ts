import { WORLD_ACTOR_ID } from '../domain/ids.ts';
import type { BusinessErrorCode } from '../domain/errors.ts';
import { canonicalLegs, type Leg, type Proposal } from '../domain/proposal.ts';
import { balanceKey, validateLegs } from '../domain/validate.ts';
import type { Db } from '../db/db.ts';
import type { ActorDirectory } from './actors.ts';
import { appendEntries, LedgerKind } from './append.ts';
import { loadTradingState } from './state.ts';
import { lockAndLoad, proposalLockKeys, type PriorOutcome } from './execute-sql.ts';

export interface ExecuteItem {
  proposal: Proposal;
  /** The body as received, kept verbatim in the rejection record. */
  raw: unknown;
  /** The caller holds the system role and may move world's funds. */
  system: boolean;
  /** Who asked (an API key's name, or "anonymous"), for the audit of conflicts. */
  caller: string;
}

export type ExecuteOutcome =
  | { status: 'applied'; proposal_id: string; replayed: boolean; ledger_ids: number[]; executed_at: string }
  | { status: 'rejected'; proposal_id: string; replayed: boolean; error_code: BusinessErrorCode; message: string; rejected_at: string }
  | { status: 'conflict'; proposal_id: string; message: string };

export class CircuitBreakerOpenError extends Error {
  constructor(readonly reason: string | null) {
    super(`circuit breaker is open${reason ? `: ${reason}` : ''}`);
  }
}

export interface NotifyTargets {
  /** Outbox topics written for every rejection, each pending or, when unconfigured, skipped. */
  topics: ReadonlyArray<{ topic: string; configured: boolean }>;
}

export interface ExecutorDeps {
  db: Db;
  actors: ActorDirectory;
  validatorVersion: string;
  notify: NotifyTargets;
}

interface Decision {
  canonical: string;
  outcome: PriorOutcome;
}

/**
 * Decides and records proposals. A batch is one transaction: proposals are locked by id, the
 * balance rows they touch are locked in one sorted order, each item is decided in arrival order
 * against the balances its predecessors left, and everything is written with one commit.
 */
export function createExecutor(deps: ExecutorDeps) {
  const { db, actors, validatorVersion, notify } = deps;

  async function executeBatch(items: ReadonlyArray<ExecuteItem>): Promise<ExecuteOutcome[]> {
    const refs = items.flatMap((item) => item.proposal.legs.flatMap((leg) => [leg.actor_from, leg.actor_to]));
    const directory = await actors.resolve(refs);
    const prepared = items.map((item) => {
      const legs: Leg[] = item.proposal.legs.map((leg) => ({
        ...leg,
        actor_from: directory.get(leg.actor_from)?.id ?? leg.actor_from,
        actor_to: directory.get(leg.actor_to)?.id ?? leg.actor_to,
      }));
      return { item, legs, canonical: canonicalLegs(legs) };
    });
    const knownActors = new Set([...directory.values()].map((actor) => actor.id));

    return db.transaction(async (tx) => {
      const ids = [...new Set(items.map((item) => item.proposal.proposal_id))];
      const state = await loadTradingState(tx, proposalLockKeys(ids));
      if (state.breakerOn) throw new CircuitBreakerOpenError(state.breakerReason);

      const pairs = new Map<string, [string, string]>();
      for (const p of prepared) {
        for (const leg of p.legs) {
          if (!state.resources.has(leg.resource)) continue;
          for (const actor of [leg.actor_from, leg.actor_to]) {
            if (knownActors.has(actor)) pairs.set(balanceKey(actor, leg.resource), [actor, leg.resource]);
          }
        }
      }
      const { balances, prior } = await lockAndLoad(tx, ids, [...pairs.values()]);
      const decided = new Map<string, Decision>(prior);

      const appliedLegs: Array<{ proposalId: string; leg: number; data: Leg; metadata: Record<string, unknown> }> = [];
      const rejections: Array<{ proposalId: string; code: BusinessErrorCode; message: string; raw: unknown; canonical: string }> = [];
      const conflicts: Array<{ proposalId: string; caller: string }> = [];
      const results: Array<{ decision: Decision; replayed: boolean } | { conflict: string }> = [];

      for (const p of prepared) {
        const id = p.item.proposal.proposal_id;
        const prior = decided.get(id);
        if (prior) {
          if (prior.canonical === p.canonical) results.push({ decision: prior, replayed: true });
          else {
            results.push({ conflict: id });
            conflicts.push({ proposalId: id, caller: p.item.caller });
          }
          continue;
        }
        const verdict = validateLegs(p.legs, {
          worldId: WORLD_ACTOR_ID,
          actors: knownActors,
          resources: state.resources,
          limits: state.limits,
          balance: (actor, resource) => balances.get(balanceKey(actor, resource)) ?? 0n,
          system: p.item.system,
        });
        let decision: Decision;
        if (verdict.ok) {
          for (const [key, delta] of verdict.deltas) balances.set(key, (balances.get(key) ?? 0n) + delta);
          p.legs.forEach((leg, index) =>
            appliedLegs.push({ proposalId: id, leg: index, data: leg, metadata: index === 0 ? p.item.proposal.metadata : {} }),
          );
          decision = { canonical: p.canonical, outcome: { kind: 'applied', ledgerIds: [], executedAt: '' } };
        } else {
          rejections.push({ proposalId: id, code: verdict.code, message: verdict.message, raw: p.item.raw, canonical: p.canonical });
          decision = { canonical: p.canonical, outcome: { kind: 'rejected', code: verdict.code, message: verdict.message, rejectedAt: '' } };
        }
        decided.set(id, decision);
        results.push({ decision, replayed: false });
      }

      await writeLedger(tx, appliedLegs, decided);
      await writeRejections(tx, rejections, decided);
      await writeConflicts(tx, conflicts);

      return results.map((result, index): ExecuteOutcome => {
        const proposal_id = items[index]!.proposal.proposal_id;
        if ('conflict' in result) {
          return { status: 'conflict', proposal_id, message: `proposal_id ${proposal_id} was already used with a different payload` };
        }
        const { outcome } = result.decision;
        return outcome.kind === 'applied'
          ? { status: 'applied', proposal_id, replayed: result.replayed, ledger_ids: outcome.ledgerIds, executed_at: outcome.executedAt }
          : {
              status: 'rejected',
              proposal_id,
              replayed: result.replayed,
              error_code: outcome.code,
              message: outcome.message,
              rejected_at: outcome.rejectedAt,
            };
      });
    });
  }

  async function writeLedger(
    tx: Db,
    legs: Array<{ proposalId: string; leg: number; data: Leg; metadata: Record<string, unknown> }>,
    decided: Map<string, Decision>,
  ): Promise<void> {
    const entries = legs.map(({ proposalId, leg, data, metadata }) => ({
      proposalId,
      leg,
      kind: LedgerKind.trade,
      from: data.actor_from,
      to: data.actor_to,
      resource: data.resource,
      amount: data.amount,
      metadata,
    }));
    for (const row of await appendEntries(tx, entries, validatorVersion)) {
      const outcome = decided.get(row.proposal_id)?.outcome;
      if (outcome?.kind !== 'applied') continue;
      outcome.ledgerIds.push(row.id);
      outcome.executedAt = row.executed_at.toISOString();
    }
  }

  async function writeRejections(
    tx: Db,
    rejections: Array<{ proposalId: string; code: BusinessErrorCode; message: string; raw: unknown; canonical: string }>,
    decided: Map<string, Decision>,
  ): Promise<void> {
    if (rejections.length === 0) return;
    const { rows } = await tx.query<{ proposal_id: string; rejected_at: Date }>(
      `WITH rejected AS (
         INSERT INTO rejected_proposals (proposal_id, validation_error_code, message, proposal_json, canonical, validator_version)
         SELECT r.id, r.code, r.message, r.raw::jsonb, r.canonical, $6
           FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[]) AS r(id, code, message, raw, canonical)
         RETURNING proposal_id, validation_error_code, rejected_at
       ), queued AS (
         INSERT INTO outbox (topic, dedupe_key, payload, status)
         SELECT t.topic, t.topic || ':' || r.proposal_id,
                jsonb_build_object('proposal_id', r.proposal_id, 'error_code', r.validation_error_code),
                CASE WHEN t.configured THEN 'pending' ELSE 'skipped' END
           FROM rejected r CROSS JOIN unnest($7::text[], $8::boolean[]) AS t(topic, configured)
         RETURNING 1
       )
       SELECT proposal_id::text, rejected_at FROM rejected, (SELECT count(*) FROM queued) q`,
      [
        rejections.map((r) => r.proposalId),
        rejections.map((r) => r.code),
        rejections.map((r) => r.message),
        rejections.map((r) => JSON.stringify(r.raw)),
        rejections.map((r) => r.canonical),
        validatorVersion,
        notify.topics.map((t) => t.topic),
        notify.topics.map((t) => t.configured),
      ],
    );
    for (const row of rows) {
      const outcome = decided.get(row.proposal_id)?.outcome;
      if (outcome?.kind === 'rejected') outcome.rejectedAt = row.rejected_at.toISOString();
    }
  }

  async function writeConflicts(tx: Db, conflicts: Array<{ proposalId: string; caller: string }>): Promise<void> {
    if (conflicts.length === 0) return;
    await tx.query(
      `INSERT INTO admin_audit (admin_user, action, payload, outcome)
       SELECT c.caller, 'execute', jsonb_build_object('proposal_id', c.id), 'IDEMPOTENCY_CONFLICT'
         FROM unnest($1::text[], $2::text[]) AS c(id, caller)`,
      [conflicts.map((c) => c.proposalId), conflicts.map((c) => c.caller)],
    );
  }

  return {
    executeBatch,
    execute: async (item: ExecuteItem): Promise<ExecuteOutcome> => (await executeBatch([item]))[0]!,
  };
}

export type Executor = ReturnType<typeof createExecutor>;
