import type { BusinessErrorCode } from '../../domain/errors.ts';
import { canonicalLegs, type Proposal } from '../../domain/proposal.ts';
import type { Db } from '../../db/db.ts';
import { inSpan } from '../../observability/tracing.ts';
import { ignoreWritePath, type WritePathObserver } from '../../observability/write-path.ts';
import type { ActorDirectory } from './actors.ts';
import { recordProposals, type LegSpec, type ProposalSpec } from './record.ts';

export interface ExecuteItem {
  proposal: Proposal;
  /** The body as received, kept verbatim in the rejection record. */
  raw: unknown;
  /** Who asked: the API key as presented (the database checks its role), and a name for the audit. */
  caller: { key: string | null; name: string };
}

export type ExecuteOutcome =
  | { status: 'applied'; proposal_id: string; replayed: boolean; ledger_ids: number[]; executed_at: string }
  | { status: 'rejected'; proposal_id: string; replayed: boolean; error_code: BusinessErrorCode; message: string; rejected_at: string }
  | { status: 'conflict'; proposal_id: string; message: string };

export interface ExecutorDeps {
  db: Db;
  actors: ActorDirectory;
  validatorVersion: string;
  /** Outbox topics written for every rejection, each pending or, when unconfigured, skipped. */
  topics: ReadonlyArray<{ topic: string; configured: boolean }>;
  /** Metrics of each group committed and each proposal decided. */
  observer?: WritePathObserver;
}

/**
 * Decides and records a group of proposals in one call to record_proposals, one transaction: each
 * item in arrival order, against the balances its predecessors left. The database checks every
 * rule and the caller's key itself; this side only resolves actor names to ids (from a cache)
 * and shapes the request and the answers.
 */
export function createExecutor(deps: ExecutorDeps) {
  const { db, actors, validatorVersion, topics } = deps;
  const observer = deps.observer ?? ignoreWritePath;

  /** One group in a span of its own, reported to the observer once committed. */
  return function recordGroup(items: ReadonlyArray<ExecuteItem>): Promise<ExecuteOutcome[]> {
    return inSpan('gridgov.group_commit', { 'gridgov.group.size': items.length, 'gridgov.commit.path': 'database' }, async () => {
      const started = performance.now();
      const outcomes = await decideAndRecord(items);
      observer.groupCommitted({ size: items.length, seconds: (performance.now() - started) / 1000, path: 'database' });
      observer.decided(outcomes);
      return outcomes;
    });
  };

  async function decideAndRecord(items: ReadonlyArray<ExecuteItem>): Promise<ExecuteOutcome[]> {
    const directory = await actors.resolve(items.flatMap((item) => item.proposal.legs.flatMap((leg) => [leg.actor_from, leg.actor_to])));
    const id = (ref: string) => directory.get(ref)?.id ?? null;
    const specs: ProposalSpec[] = [];
    const legs: LegSpec[] = [];
    items.forEach((item, index) => {
      const resolved = item.proposal.legs.map((leg) => ({
        ...leg,
        actor_from: id(leg.actor_from) ?? leg.actor_from,
        actor_to: id(leg.actor_to) ?? leg.actor_to,
      }));
      const { proposal, raw, caller } = item;
      specs.push({
        proposal_id: proposal.proposal_id,
        api_key: caller.key,
        caller: caller.name,
        canonical: canonicalLegs(resolved),
        body: raw,
        metadata: proposal.metadata,
      });
      proposal.legs.forEach((leg, n) =>
        legs.push({
          item: index + 1,
          leg: n,
          ...leg,
          actor_from: id(leg.actor_from),
          actor_to: id(leg.actor_to),
          from_ref: leg.actor_from,
          to_ref: leg.actor_to,
        }),
      );
    });
    // The database decides and records the group in this one call (record_proposals).
    const rows = await inSpan('gridgov.decide', { 'gridgov.group.size': items.length }, () =>
      recordProposals(db, { specs, legs, topics, validatorVersion }),
    );
    return rows.map((row, index): ExecuteOutcome => {
      const proposal_id = items[index]!.proposal.proposal_id;
      switch (row.outcome) {
        case 'applied':
          return {
            status: 'applied',
            proposal_id,
            replayed: row.replayed,
            ledger_ids: row.ledger_ids!.map(Number),
            executed_at: row.decided_at!.toISOString(),
          };
        case 'rejected':
          return {
            status: 'rejected',
            proposal_id,
            replayed: row.replayed,
            error_code: row.error_code!,
            message: row.message!,
            rejected_at: row.decided_at!.toISOString(),
          };
        case 'conflict':
          return { status: 'conflict', proposal_id, message: `proposal_id ${proposal_id} was already used with a different payload` };
      }
    });
  }
}

export type RecordGroup = ReturnType<typeof createExecutor>;
