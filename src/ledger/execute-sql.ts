import type { BusinessErrorCode } from '../domain/errors.ts';
import { formatMicro, microFromDb, type Micro } from '../domain/money.ts';
import { canonicalLegs, type Leg } from '../domain/proposal.ts';
import { balanceKey } from '../domain/validate.ts';
import type { Db } from '../db/db.ts';

export type PriorOutcome =
  | { kind: 'applied'; ledgerIds: number[]; executedAt: string }
  | { kind: 'rejected'; code: BusinessErrorCode; message: string; rejectedAt: string };

export interface Decision {
  canonical: string;
  outcome: PriorOutcome;
}

/** What deciding a batch produced: each item's result, and what to record. */
export interface Decisions {
  /** Every id decided so far (before the batch, or in it), with its outcome. */
  decided: Map<string, Decision>;
  /** One per item, in order. */
  results: Array<{ decision: Decision; replayed: boolean } | { conflict: string }>;
  legs: Array<{ proposalId: string; leg: number; data: Leg; metadata: Record<string, unknown> }>;
  rejections: Array<{ proposalId: string; code: BusinessErrorCode; message: string; raw: unknown; canonical: string }>;
  conflicts: Array<{ proposalId: string; caller: string }>;
}

/** A 64-bit advisory-lock key from a proposal id: its first 16 hex digits. */
export function proposalLockKey(proposalId: string): string {
  return BigInt.asIntN(64, BigInt(`0x${proposalId.replace(/-/g, '').slice(0, 16)}`)).toString();
}

/**
 * Advisory-lock keys that serialise work on the same proposal_id across transactions and
 * replicas, so an id can never get two outcomes (the ledger and the rejection table cannot share
 * a unique constraint). They are taken before any row lock.
 */
export function proposalLockKeys(proposalIds: string[]): string[] {
  return [...new Set(proposalIds.map(proposalLockKey))];
}

interface PriorRow {
  kind: 'balance' | 'applied' | 'rejected';
  proposal_id: string;
  leg: number | null;
  actor_from: string | null;
  actor_to: string | null;
  resource: string | null;
  amount: string | null;
  id: number | null;
  at: Date;
  code: string | null;
  message: string | null;
  canonical: string | null;
}

// The actor_id = ANY(...) lets the planner probe the primary key instead of scanning balances.
const selectBalances = (actors: string, resources: string) => `
  SELECT b.actor_id, b.resource, b.amount FROM balances b
   WHERE b.actor_id = ANY(${actors}::uuid[]) AND (b.actor_id, b.resource) IN (SELECT * FROM unnest(${actors}::uuid[], ${resources}::text[]))`;
const LOCK_BALANCES = `${selectBalances('$2', '$3')} ORDER BY b.actor_id, b.resource FOR UPDATE OF b`;

// Built once: a statement's text is its prepared statement's key (src/db/db.ts).
const LOCK_AND_LOAD = `WITH locked AS (${LOCK_BALANCES})
   SELECT 'balance' AS kind, NULL AS proposal_id, NULL::smallint AS leg, actor_id::text AS actor_from, NULL AS actor_to, resource,
          amount::text, NULL::bigint AS id, NULL::timestamptz AS at, NULL AS code, NULL AS message, NULL AS canonical
     FROM locked
   UNION ALL
   SELECT 'applied', proposal_id::text, leg, actor_from::text, actor_to::text, resource, amount::text, id,
          executed_at, NULL, NULL, NULL
     FROM ledger WHERE proposal_id = ANY($1::uuid[])
   UNION ALL
   SELECT 'rejected', proposal_id::text, NULL, NULL, NULL, NULL, NULL, NULL, rejected_at, validation_error_code, message, canonical
     FROM rejected_proposals WHERE proposal_id = ANY($1::uuid[])`;

const READ_BALANCES = `SELECT actor_id::text, resource, amount::text FROM (${selectBalances('$1', '$2')}) AS b`;

const INSERT_MISSING_BALANCES = `
  INSERT INTO balances (actor_id, resource, is_world)
  SELECT p.actor_id, p.resource, a.kind = 'system' FROM unnest($1::uuid[], $2::text[]) AS p(actor_id, resource)
    JOIN actors a ON a.id = p.actor_id
  ON CONFLICT DO NOTHING`;

/**
 * In one round trip: locks the balance rows of (actor, resource) pairs in one sorted order (no
 * deadlocks) and reads what was already decided for the proposal ids. Run it after the
 * proposal locks are held, so its snapshot sees every earlier decision on those ids. A missing
 * balance row (an actor created before a resource existed) is created first.
 */
export async function lockAndLoad(
  tx: Db,
  proposalIds: string[],
  pairs: Array<[string, string]>,
): Promise<{ balances: Map<string, Micro>; prior: Map<string, { canonical: string; outcome: PriorOutcome }> }> {
  const params = [proposalIds, pairs.map((p) => p[0]), pairs.map((p) => p[1])];
  const run = () =>
    tx.query<PriorRow>(
      LOCK_AND_LOAD,
      params,
    );
  let { rows } = await run();
  const balanceRows = () => rows.filter((r) => r.kind === 'balance');
  if (balanceRows().length < pairs.length) {
    await tx.query(INSERT_MISSING_BALANCES, params.slice(1));
    ({ rows } = await run());
  }
  const balances = new Map(balanceRows().map((r) => [balanceKey(r.actor_from!, r.resource!), microFromDb(r.amount!)]));
  return { balances, prior: priorOutcomes(rows.filter((r) => r.kind !== 'balance').sort((a, b) => (a.leg ?? 0) - (b.leg ?? 0))) };
}

function priorOutcomes(rows: PriorRow[]): Map<string, { canonical: string; outcome: PriorOutcome }> {
  const legs = new Map<string, PriorRow[]>();
  const result = new Map<string, { canonical: string; outcome: PriorOutcome }>();
  for (const row of rows) {
    if (row.kind === 'rejected') {
      result.set(row.proposal_id, {
        canonical: row.canonical!,
        outcome: { kind: 'rejected', code: row.code as BusinessErrorCode, message: row.message!, rejectedAt: row.at.toISOString() },
      });
    } else {
      legs.set(row.proposal_id, [...(legs.get(row.proposal_id) ?? []), row]);
    }
  }
  for (const [id, applied] of legs) {
    const canonical = canonicalLegs(
      applied.map((r) => ({ actor_from: r.actor_from!, actor_to: r.actor_to!, resource: r.resource!, amount: microFromDb(r.amount!) })),
    );
    result.set(id, { canonical, outcome: { kind: 'applied', ledgerIds: applied.map((r) => r.id!), executedAt: applied[0]!.at.toISOString() } });
  }
  return result;
}

/** Locks the balance rows of (actor, resource) pairs in one sorted order and returns their amounts. */
export async function lockBalances(tx: Db, pairs: Array<[string, string]>): Promise<Map<string, Micro>> {
  return (await lockAndLoad(tx, [], pairs)).balances;
}

/** The balances of (actor, resource) pairs as last committed, without locking; missing rows are absent. */
export async function readBalances(db: Db, pairs: Array<[string, string]>): Promise<Map<string, Micro>> {
  const { rows } = await db.query<{ actor_id: string; resource: string; amount: string }>(
    READ_BALANCES,
    [pairs.map((p) => p[0]), pairs.map((p) => p[1])],
  );
  return new Map(rows.map((r) => [balanceKey(r.actor_id, r.resource), microFromDb(r.amount)]));
}

/** commit_decisions refused: what the decisions relied on has changed; nothing was recorded. */
export function isStaleDecision(error: unknown): error is Error & { code: 'GG001' | 'GG002' | 'GG003' | 'GG004' } {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^GG00[1-4]$/.test(code);
}

interface CommittedRow {
  outcome: 'applied' | 'rejected';
  proposal_id: string;
  ledger_id: number | null;
  decided_at: Date;
}

/**
 * Records decisions with commit_decisions (migration 000050), provided the balances in `read`
 * still hold those amounts, the rules are still `rules` and no id was decided meanwhile (after
 * taking `lockKeys`); fills in the ledger ids and times of the new outcomes.
 */
export async function commitDecisions(
  tx: Db,
  decisions: Decisions,
  context: { read: Map<string, Micro>; lockKeys: string[]; rules: string; validatorVersion: string; topics: ReadonlyArray<{ topic: string; configured: boolean }> },
): Promise<void> {
  const read = [...context.read];
  const { legs, rejections, conflicts } = decisions;
  const { rows } = await tx.query<CommittedRow>(
    `SELECT outcome, proposal::text AS proposal_id, ledger_id, decided_at
       FROM commit_decisions($1::bigint[], $2, $3::uuid[], $4::text[], $5::numeric[],
                             $6::uuid[], $7::smallint[], $8::uuid[], $9::uuid[], $10::text[], $11::numeric[], $12::jsonb[],
                             $13::uuid[], $14::text[], $15::text[], $16::text[], $17::text[], $18::text[], $19::boolean[],
                             $20::text[], $21::text[], $22)`,
    [
      context.lockKeys,
      context.rules,
      read.map(([key]) => key.slice(0, key.indexOf('|'))),
      read.map(([key]) => key.slice(key.indexOf('|') + 1)),
      read.map(([, amount]) => formatMicro(amount)),
      legs.map((l) => l.proposalId),
      legs.map((l) => l.leg),
      legs.map((l) => l.data.actor_from),
      legs.map((l) => l.data.actor_to),
      legs.map((l) => l.data.resource),
      legs.map((l) => formatMicro(l.data.amount)),
      legs.map((l) => JSON.stringify(l.metadata)),
      rejections.map((r) => r.proposalId),
      rejections.map((r) => r.code),
      rejections.map((r) => r.message),
      rejections.map((r) => JSON.stringify(r.raw)),
      rejections.map((r) => r.canonical),
      context.topics.map((t) => t.topic),
      context.topics.map((t) => t.configured),
      conflicts.map((c) => c.proposalId),
      conflicts.map((c) => c.caller),
      context.validatorVersion,
    ],
  );
  for (const row of rows) {
    const outcome = decisions.decided.get(row.proposal_id)?.outcome;
    if (row.outcome === 'applied' && outcome?.kind === 'applied') {
      outcome.ledgerIds.push(row.ledger_id!);
      outcome.executedAt = row.decided_at.toISOString();
    } else if (row.outcome === 'rejected' && outcome?.kind === 'rejected') {
      outcome.rejectedAt = row.decided_at.toISOString();
    }
  }
}
