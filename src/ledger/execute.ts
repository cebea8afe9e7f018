import { WORLD_ACTOR_ID } from '../domain/ids.ts';
import type { BusinessErrorCode } from '../domain/errors.ts';
import type { Micro } from '../domain/money.ts';
import { canonicalLegs, type Leg, type Proposal } from '../domain/proposal.ts';
import { balanceKey, validateLegs } from '../domain/validate.ts';
import type { Db } from '../db/db.ts';
import { inSpan, inSpanSync } from '../observability/tracing.ts';
import { ignoreWritePath, type WritePathObserver } from '../observability/write-path.ts';
import type { ActorDirectory } from './actors.ts';
import { loadTradingState, type TradingState } from './state.ts';
import { commitDecisions, isStaleDecision, lockAndLoad, proposalLockKeys, readBalances, type Decisions, type Decision, type PriorOutcome } from './execute-sql.ts';

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
  /** Metrics of each group committed and each proposal decided. */
  observer?: WritePathObserver;
}

interface Prepared {
  item: ExecuteItem;
  legs: Leg[];
  canonical: string;
}

/** Most balance rows remembered between groups; past it the memory starts again empty. */
const MAX_REMEMBERED = 200_000;

/**
 * Decides and records proposals. A batch is one transaction: each item is decided in arrival
 * order against the balances its predecessors left, and everything is recorded with one commit.
 *
 * Two ways to get there, with the same outcomes. Optimistic (the usual one): the items are
 * decided against the balances and rules this process last saw, which cost no round trip, and
 * commit_decisions records them in one statement, its own transaction, only if those are still
 * the database's: it locks the proposal ids and the balance rows read, and records nothing if a
 * row moved, the rules changed, an id was decided meanwhile or the breaker is open. Then the batch
 * goes the locked way: proposal locks, balance rows locked and read, decided, recorded, committed.
 * What was remembered is only ever a guess that the database confirms.
 */
export function createExecutor(deps: ExecutorDeps) {
  const { db, actors, validatorVersion, notify } = deps;
  const observer = deps.observer ?? ignoreWritePath;
  /** Balances as the last decisions left them (groups still committing included). */
  const remembered = new Map<string, Micro>();
  /** Balance rows that groups still committing move, with when that group ends. */
  const committingRows = new Map<string, Promise<void>>();
  let rules: TradingState | undefined;
  const counters = { optimistic: 0, locked: 0 };

  const record = (tx: Db, decisions: Decisions, read: Map<string, Micro>, lockKeys: string[], state: TradingState) =>
    commitDecisions(tx, decisions, { read, lockKeys, rules: state.rules, validatorVersion, topics: notify.topics });

  function remember(balances: Map<string, Micro>): void {
    if (remembered.size + balances.size > MAX_REMEMBERED) remembered.clear();
    for (const [key, amount] of balances) remembered.set(key, amount);
  }

  /** One group, decided and committed in a span of its own; reported to the observer once committed. */
  function executeBatch(items: ReadonlyArray<ExecuteItem>): Promise<ExecuteOutcome[]> {
    return inSpan('gridgov.group_commit', { 'gridgov.group.size': items.length }, async (span) => {
      const started = performance.now();
      const { path, results } = await decideAndRecord(items);
      span.setAttribute('gridgov.commit.path', path);
      observer.groupCommitted({ size: items.length, seconds: (performance.now() - started) / 1000, path });
      observer.decided(results);
      return results;
    });
  }

  async function decideAndRecord(items: ReadonlyArray<ExecuteItem>): Promise<{ path: string; results: ExecuteOutcome[] }> {
    const refs = items.flatMap((item) => item.proposal.legs.flatMap((leg) => [leg.actor_from, leg.actor_to]));
    const directory = await actors.resolve(refs);
    const prepared = items.map((item): Prepared => {
      const legs: Leg[] = item.proposal.legs.map((leg) => ({
        ...leg,
        actor_from: directory.get(leg.actor_from)?.id ?? leg.actor_from,
        actor_to: directory.get(leg.actor_to)?.id ?? leg.actor_to,
      }));
      return { item, legs, canonical: canonicalLegs(legs) };
    });
    const knownActors = new Set([...directory.values()].map((actor) => actor.id));
    const lockKeys = proposalLockKeys([...new Set(items.map((item) => item.proposal.proposal_id))]);

    const decided = await executeOptimistic(prepared, knownActors, lockKeys);
    if (decided) {
      counters.optimistic++;
      return { path: 'optimistic', results: outcomes(prepared, decided) };
    }
    counters.locked++;
    return { path: 'locked', results: outcomes(prepared, await executeLocked(prepared, knownActors, lockKeys)) };
  }

  /** The decisions, recorded; undefined when the guesses they relied on were wrong (nothing recorded). */
  async function executeOptimistic(prepared: Prepared[], knownActors: Set<string>, lockKeys: string[]): Promise<Decisions | undefined> {
    rules ??= await loadTradingState(db);
    const state = rules;
    if (state.breakerOn) return undefined;
    const pairs = balancePairs(prepared, state, knownActors);
    // Balances not remembered are read (no lock). Another group failing meanwhile may forget
    // some again, so the check is repeated until, with no wait in between, every one is known.
    for (let attempt = 0; ; attempt++) {
      const unknown = pairs.filter(([actor, resource]) => !remembered.has(balanceKey(actor, resource)));
      if (unknown.length === 0) break;
      if (attempt === 3) return undefined;
      const found = await readBalances(db, unknown);
      // A missing row is created by the locked way.
      if (found.size < unknown.length) return undefined;
      for (const [key, amount] of found) if (!remembered.has(key)) remembered.set(key, amount);
    }
    const read = new Map(pairs.map(([actor, resource]) => {
      const key = balanceKey(actor, resource);
      return [key, remembered.get(key)!] as const;
    }));
    const balances = new Map(read);
    const decisions = inSpanSync('gridgov.decide', { 'gridgov.path': 'optimistic' }, () => decide(prepared, state, knownActors, balances, new Map()));
    // Later groups decide on top of this one before it commits. One that shares a balance row
    // with it sends its own commit only once this one has ended, so it cannot overtake it: if
    // this one fails, the later one's balances will not match and it goes the locked way too.
    remember(balances);
    const earlier = new Set<Promise<void>>();
    for (const key of read.keys()) {
      const committing = committingRows.get(key);
      if (committing) earlier.add(committing);
    }
    const committed = (async () => {
      if (earlier.size > 0) await Promise.all(earlier);
      await record(db, decisions, read, lockKeys, state);
    })();
    const ended = committed.then(
      () => undefined,
      () => undefined,
    );
    for (const key of read.keys()) committingRows.set(key, ended);
    try {
      await committed;
      return decisions;
    } catch (error) {
      for (const key of read.keys()) remembered.delete(key);
      if (!isStaleDecision(error)) throw error;
      if (error.code === 'GG001' || error.code === 'GG002') rules = undefined;
      return undefined;
    } finally {
      for (const key of read.keys()) if (committingRows.get(key) === ended) committingRows.delete(key);
    }
  }

  async function executeLocked(prepared: Prepared[], knownActors: Set<string>, lockKeys: string[]): Promise<Decisions> {
    const ids = [...new Set(prepared.map((p) => p.item.proposal.proposal_id))];
    const { state, decisions, balances } = await db.transaction(async (tx) => {
      const state = await loadTradingState(tx, lockKeys);
      if (state.breakerOn) throw new CircuitBreakerOpenError(state.breakerReason);
      const { balances, prior } = await lockAndLoad(tx, ids, balancePairs(prepared, state, knownActors));
      const read = new Map(balances);
      const decisions = inSpanSync('gridgov.decide', { 'gridgov.path': 'locked' }, () => decide(prepared, state, knownActors, balances, prior));
      // The proposal locks are held already, and the rows read stay locked: nothing can have moved.
      await record(tx, decisions, read, [], state);
      return { state, decisions, balances };
    });
    rules = state;
    remember(balances);
    return decisions;
  }

  return {
    executeBatch,
    execute: async (item: ExecuteItem): Promise<ExecuteOutcome> => (await executeBatch([item]))[0]!,
    /** Batches recorded the optimistic way, and batches that had to go the locked way. */
    stats: () => ({ ...counters }),
  };
}

/** The (actor, resource) balance rows the items read or move: known actors, known resources. */
function balancePairs(prepared: Prepared[], state: TradingState, knownActors: Set<string>): Array<[string, string]> {
  const pairs = new Map<string, [string, string]>();
  for (const p of prepared) {
    for (const leg of p.legs) {
      if (!state.resources.has(leg.resource)) continue;
      for (const actor of [leg.actor_from, leg.actor_to]) {
        if (knownActors.has(actor)) pairs.set(balanceKey(actor, leg.resource), [actor, leg.resource]);
      }
    }
  }
  return [...pairs.values()];
}

/**
 * Decides every item in order: an id decided before (prior, or earlier in the batch) replays that
 * decision or conflicts; a new one is validated against `balances`, which it then moves.
 */
function decide(
  prepared: Prepared[],
  state: TradingState,
  knownActors: Set<string>,
  balances: Map<string, Micro>,
  prior: Map<string, Decision>,
): Decisions {
  const decisions: Decisions = { decided: new Map(prior), results: [], legs: [], rejections: [], conflicts: [] };
  for (const p of prepared) {
    const id = p.item.proposal.proposal_id;
    const earlier = decisions.decided.get(id);
    if (earlier) {
      if (earlier.canonical === p.canonical) decisions.results.push({ decision: earlier, replayed: true });
      else {
        decisions.results.push({ conflict: id });
        decisions.conflicts.push({ proposalId: id, caller: p.item.caller });
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
    let outcome: PriorOutcome;
    if (verdict.ok) {
      for (const [key, delta] of verdict.deltas) balances.set(key, (balances.get(key) ?? 0n) + delta);
      p.legs.forEach((leg, index) => decisions.legs.push({ proposalId: id, leg: index, data: leg, metadata: index === 0 ? p.item.proposal.metadata : {} }));
      outcome = { kind: 'applied', ledgerIds: [], executedAt: '' };
    } else {
      decisions.rejections.push({ proposalId: id, code: verdict.code, message: verdict.message, raw: p.item.raw, canonical: p.canonical });
      outcome = { kind: 'rejected', code: verdict.code, message: verdict.message, rejectedAt: '' };
    }
    const decision = { canonical: p.canonical, outcome };
    decisions.decided.set(id, decision);
    decisions.results.push({ decision, replayed: false });
  }
  return decisions;
}

function outcomes(prepared: Prepared[], decisions: Decisions): ExecuteOutcome[] {
  return decisions.results.map((result, index): ExecuteOutcome => {
    const proposal_id = prepared[index]!.item.proposal.proposal_id;
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
}

export type Executor = ReturnType<typeof createExecutor>;
