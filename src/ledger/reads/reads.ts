import { dbAmountToNumber } from '../../domain/money.ts';
import type { Db } from '../../db/db.ts';

export interface LedgerRow {
  id: number;
  proposal_id: string;
  leg: number;
  kind: string;
  actor_from: string;
  actor_from_name: string;
  actor_to: string;
  actor_to_name: string;
  resource: string;
  amount: number;
  validator_version: string;
  executed_at: string;
  metadata: Record<string, unknown>;
}

export interface LedgerQuery {
  before?: number;
  limit: number;
  actorId?: string;
  resource?: string;
  proposalId?: string;
  kind?: string;
}

/** Newest first, keyset-paginated on id: `next_cursor` is the id to pass as `cursor`. */
export async function listLedger(db: Db, q: LedgerQuery): Promise<{ entries: LedgerRow[]; next_cursor: number | null }> {
  const { rows } = await db.query<LedgerRow & { amount: string; executed_at: Date }>(
    `SELECT l.id, l.proposal_id::text, l.leg, l.kind, l.actor_from::text, af.name AS actor_from_name,
            l.actor_to::text, at.name AS actor_to_name, l.resource, l.amount::text, l.validator_version,
            l.executed_at, l.metadata
       FROM ledger l JOIN actors af ON af.id = l.actor_from JOIN actors at ON at.id = l.actor_to
      WHERE ($1::bigint IS NULL OR l.id < $1)
        AND ($2::uuid IS NULL OR l.actor_from = $2 OR l.actor_to = $2)
        AND ($3::text IS NULL OR l.resource = $3)
        AND ($4::uuid IS NULL OR l.proposal_id = $4)
        AND ($5::text IS NULL OR l.kind = $5)
      ORDER BY l.id DESC LIMIT $6`,
    [q.before ?? null, q.actorId ?? null, q.resource ?? null, q.proposalId ?? null, q.kind ?? null, q.limit + 1],
  );
  const page = rows.slice(0, q.limit).map((r) => ({ ...r, amount: dbAmountToNumber(r.amount), executed_at: r.executed_at.toISOString() }));
  return { entries: page, next_cursor: rows.length > q.limit ? page[page.length - 1]!.id : null };
}

export interface RejectionRow {
  proposal_id: string;
  error_code: string;
  message: string;
  proposal: unknown;
  validator_version: string;
  rejected_at: string;
  deliveries: Array<{ topic: string; status: string; attempts: number; last_error: string | null; external_ref: unknown }>;
}

/** Newest first; the cursor is opaque (rejected_at and proposal_id of the last row). */
export async function listRejections(
  db: Db,
  q: { cursor?: { at: string; id: string }; limit: number; code?: string; proposalId?: string },
): Promise<{ rejections: RejectionRow[]; next_cursor: string | null }> {
  const { rows } = await db.query<Omit<RejectionRow, 'rejected_at'> & { rejected_at: Date; at_text: string }>(
    `SELECT r.proposal_id::text, r.validation_error_code AS error_code, r.message, r.proposal_json AS proposal,
            r.validator_version, r.rejected_at, r.rejected_at::text AS at_text,
            coalesce((SELECT json_agg(json_build_object('topic', o.topic, 'status', o.status, 'attempts', o.attempts,
                                                        'last_error', o.last_error, 'external_ref', o.external_ref) ORDER BY o.topic)
                        FROM outbox o WHERE o.dedupe_key IN ('linear:' || r.proposal_id, 'discord:' || r.proposal_id)), '[]') AS deliveries
       FROM rejected_proposals r
      WHERE ($1::timestamptz IS NULL OR (r.rejected_at, r.proposal_id) < ($1::timestamptz, $2::uuid))
        AND ($3::text IS NULL OR r.validation_error_code = $3)
        AND ($4::uuid IS NULL OR r.proposal_id = $4)
      ORDER BY r.rejected_at DESC, r.proposal_id DESC LIMIT $5`,
    [q.cursor?.at ?? null, q.cursor?.id ?? null, q.code ?? null, q.proposalId ?? null, q.limit + 1],
  );
  const page = rows.slice(0, q.limit);
  const last = page[page.length - 1];
  return {
    rejections: page.map(({ at_text: _, ...r }) => ({ ...r, rejected_at: r.rejected_at.toISOString() })),
    next_cursor:
      rows.length > q.limit && last ? Buffer.from(JSON.stringify({ at: last.at_text, id: last.proposal_id })).toString('base64url') : null,
  };
}

export async function listResources(db: Db) {
  const { rows } = await db.query<{ name: string; unit: string; max_transfer: string | null; min_balance: string | null }>(
    `SELECT r.name, r.unit,
            coalesce(c.max_transfer, g.max_transfer)::text AS max_transfer,
            coalesce(c.min_balance, g.min_balance)::text AS min_balance
       FROM resources r
       LEFT JOIN constraints c ON c.resource = r.name
       LEFT JOIN constraints g ON g.resource IS NULL
      ORDER BY r.name`,
  );
  return rows.map((r) => ({
    name: r.name,
    unit: r.unit,
    max_transfer: r.max_transfer === null ? null : dbAmountToNumber(r.max_transfer),
    min_balance: r.min_balance === null ? 0 : dbAmountToNumber(r.min_balance),
  }));
}
