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
 * Serialises work on the same proposal_id across transactions and replicas, so an id can never
 * get two outcomes (the ledger and the rejection table cannot share a unique constraint). Keys
 * are taken in sorted order, before any row lock, so batches cannot deadlock on them.
 */
export async function lockProposals(tx: Db, proposalIds: string[]): Promise<void> {
  const keys = [...new Set(proposalIds.map(proposalLockKey))];
  await tx.query('SELECT pg_advisory_xact_lock(k) FROM (SELECT k FROM unnest($1::bigint[]) AS k ORDER BY k) AS sorted', [keys]);
}

interface PriorRow {
  kind: 'applied' | 'rejected';
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

/** What was already decided for these ids, with the canonical payload each decision was made on. */
export async function loadPriorOutcomes(tx: Db, proposalIds: string[]): Promise<Map<string, { canonical: string; outcome: PriorOutcome }>> {
  const { rows } = await tx.query<PriorRow>(
    `SELECT 'applied' AS kind, proposal_id::text, leg, actor_from::text, actor_to::text, resource, amount::text, id,
            executed_at AS at, NULL AS code, NULL AS message, NULL AS canonical
       FROM ledger WHERE proposal_id = ANY($1::uuid[])
     UNION ALL
     SELECT 'rejected', proposal_id::text, NULL, NULL, NULL, NULL, NULL, NULL, rejected_at, validation_error_code, message, canonical
       FROM rejected_proposals WHERE proposal_id = ANY($1::uuid[])
     ORDER BY proposal_id, leg`,
    [proposalIds],
  );
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

/**
 * Locks the balance rows of (actor, resource) pairs in one sorted order (no deadlocks) and returns
 * their amounts. A missing row (an actor created before a resource existed) is created first.
 */
export async function lockBalances(tx: Db, pairs: Array<[string, string]>): Promise<Map<string, Micro>> {
  if (pairs.length === 0) return new Map();
  const params = [pairs.map((p) => p[0]), pairs.map((p) => p[1])];
  const lock = () =>
    tx.query<{ actor_id: string; resource: string; amount: string }>(
      `SELECT b.actor_id::text, b.resource, b.amount::text FROM balances b
         JOIN unnest($1::uuid[], $2::text[]) AS p(actor_id, resource) USING (actor_id, resource)
        ORDER BY b.actor_id, b.resource FOR UPDATE OF b`,
      params,
    );
  let { rows } = await lock();
  if (rows.length < pairs.length) {
    await tx.query(
      `INSERT INTO balances (actor_id, resource, is_world)
       SELECT p.actor_id, p.resource, a.kind = 'system' FROM unnest($1::uuid[], $2::text[]) AS p(actor_id, resource)
         JOIN actors a ON a.id = p.actor_id
       ON CONFLICT DO NOTHING`,
      params,
    );
    ({ rows } = await lock());
  }
  return new Map(rows.map((r) => [balanceKey(r.actor_id, r.resource), microFromDb(r.amount)]));
}
