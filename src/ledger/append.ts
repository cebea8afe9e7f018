import { formatMicro, type Micro } from '../domain/money.ts';
import type { Db } from '../db/db.ts';

export const LedgerKind = {
  trade: 'trade',
  genesis: 'genesis',
  production: 'production',
  consumption: 'consumption',
  adjustment: 'adjustment',
} as const;
export type LedgerKind = (typeof LedgerKind)[keyof typeof LedgerKind];

export interface LedgerEntry {
  proposalId: string;
  leg: number;
  kind: LedgerKind;
  from: string;
  to: string;
  resource: string;
  amount: Micro;
  metadata: Record<string, unknown>;
}

export interface AppendedRow {
  id: number;
  proposal_id: string;
  leg: number;
  executed_at: Date;
}

/**
 * The one writer of ledger rows: appends entries and moves the balances they touch in the same
 * statement. With skipExisting, entries whose (proposal_id, leg) is already there are left out,
 * and only the rows actually inserted move balances (for idempotent system entries).
 */
export async function appendEntries(
  tx: Db,
  entries: ReadonlyArray<LedgerEntry>,
  validatorVersion: string,
  options: { skipExisting?: boolean } = {},
): Promise<AppendedRow[]> {
  if (entries.length === 0) return [];
  const { rows } = await tx.query<AppendedRow>(
    `WITH input AS (
       SELECT * FROM unnest($1::uuid[], $2::smallint[], $3::text[], $4::uuid[], $5::uuid[], $6::text[], $7::numeric[], $8::jsonb[])
         WITH ORDINALITY AS t(proposal_id, leg, kind, actor_from, actor_to, resource, amount, metadata, ord)
     ), inserted AS (
       INSERT INTO ledger (proposal_id, leg, kind, actor_from, actor_to, resource, amount, validator_version, metadata)
       SELECT proposal_id, leg, kind, actor_from, actor_to, resource, amount, $9, metadata FROM input ORDER BY ord
       ${options.skipExisting ? 'ON CONFLICT (proposal_id, leg) DO NOTHING' : ''}
       RETURNING id, proposal_id, leg, actor_from, actor_to, resource, amount, executed_at
     ), moves AS (
       SELECT actor_from AS actor, resource, -amount AS delta, id FROM inserted
       UNION ALL SELECT actor_to, resource, amount, id FROM inserted
     ), totals AS (
       SELECT actor, resource, sum(delta) AS delta, max(id) AS last_id FROM moves GROUP BY actor, resource
     ), updated AS (
       UPDATE balances b SET amount = b.amount + t.delta, last_ledger_id = greatest(b.last_ledger_id, t.last_id)
         FROM totals t WHERE b.actor_id = t.actor AND b.resource = t.resource
       RETURNING 1
     )
     SELECT id, proposal_id::text, leg, executed_at FROM inserted, (SELECT count(*) FROM updated) AS u ORDER BY id`,
    [
      entries.map((e) => e.proposalId),
      entries.map((e) => e.leg),
      entries.map((e) => e.kind),
      entries.map((e) => e.from),
      entries.map((e) => e.to),
      entries.map((e) => e.resource),
      entries.map((e) => formatMicro(e.amount)),
      entries.map((e) => JSON.stringify(e.metadata)),
      validatorVersion,
    ],
  );
  return rows;
}
