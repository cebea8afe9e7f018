import { formatMicro, type Micro } from '../domain/money.ts';
import type { Db } from '../db/db.ts';

export const LedgerKind = {
  trade: 'trade',
  genesis: 'genesis',
  production: 'production',
  consumption: 'consumption',
  adjustment: 'adjustment',
  regrowth: 'regrowth',
  extraction: 'extraction',
  upkeep: 'upkeep',
  tax: 'tax',
  failure: 'failure',
  inheritance: 'inheritance',
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
 * Appends entries through ledger_append, the one writer of ledger rows (migration 000050): the
 * rows and the balances they move, in one statement. With skipExisting, entries whose
 * (proposal_id, leg) is already there are left out, and only the rows actually inserted move
 * balances (for idempotent system entries).
 */
export async function appendEntries(
  tx: Db,
  entries: ReadonlyArray<LedgerEntry>,
  validatorVersion: string,
  options: { skipExisting?: boolean } = {},
): Promise<AppendedRow[]> {
  if (entries.length === 0) return [];
  const { rows } = await tx.query<AppendedRow>(
    `SELECT ledger_id AS id, proposal::text AS proposal_id, leg_index AS leg, executed AS executed_at
       FROM ledger_append($1::uuid[], $2::smallint[], $3::text[], $4::uuid[], $5::uuid[], $6::text[], $7::numeric[], $8::jsonb[], $9, $10)`,
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
      options.skipExisting === true,
    ],
  );
  return rows;
}
