import type { BusinessErrorCode } from '../domain/errors.ts';
import { microFromDb, type Micro } from '../domain/money.ts';
import { canonicalLegs } from '../domain/proposal.ts';
import { balanceKey } from '../domain/validate.ts';
import type { Db } from '../db/db.ts';

export type PriorOutcome =
  | { kind: 'applied'; ledgerIds: number[]; executedAt: string }
  | { kind: 'rejected'; code: BusinessErrorCode; message: string; rejectedAt: string };

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
const LOCK_BALANCES = `
  SELECT b.actor_id, b.resource, b.amount FROM balances b
   WHERE b.actor_id = ANY($2::uuid[]) AND (b.actor_id, b.resource) IN (SELECT * FROM unnest($2::uuid[], $3::text[]))
   ORDER BY b.actor_id, b.resource FOR UPDATE OF b`;

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
      `WITH locked AS (${LOCK_BALANCES})
       SELECT 'balance' AS kind, NULL AS proposal_id, NULL::smallint AS leg, actor_id::text AS actor_from, NULL AS actor_to, resource,
              amount::text, NULL::bigint AS id, NULL::timestamptz AS at, NULL AS code, NULL AS message, NULL AS canonical
         FROM locked
       UNION ALL
       SELECT 'applied', proposal_id::text, leg, actor_from::text, actor_to::text, resource, amount::text, id,
              executed_at, NULL, NULL, NULL
         FROM ledger WHERE proposal_id = ANY($1::uuid[])
       UNION ALL
       SELECT 'rejected', proposal_id::text, NULL, NULL, NULL, NULL, NULL, NULL, rejected_at, validation_error_code, message, canonical
         FROM rejected_proposals WHERE proposal_id = ANY($1::uuid[])`,
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
