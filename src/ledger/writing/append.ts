import { formatMicro, type Micro } from '../../domain/money.ts';
import type { Db } from '../../db/db.ts';

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
 * rows and the balances they move, in one statement, unchecked. Only the schema's owner may call
 * it (tools and tests); services write through the checking functions (settleEntries below, the
 * admin and commit functions). With skipExisting, entries whose (proposal_id, leg) is already
 * there are left out, and only the rows actually inserted move balances.
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

/** An entry of a kind the system role writes (anything but trade and adjustment), against world. */
export type SystemEntry = LedgerEntry;

/** Entries as the JSON array of system_entry rows the database functions take (migration 000073). */
export function systemEntriesJson(entries: ReadonlyArray<SystemEntry>): string {
  return JSON.stringify(
    entries.map((e) => ({
      proposal_id: e.proposalId,
      leg: e.leg,
      kind: e.kind,
      actor_from: e.from,
      actor_to: e.to,
      resource: e.resource,
      amount: formatMicro(e.amount),
      metadata: e.metadata,
    })),
  );
}

/**
 * Writes system entries through settle_entries (migration 000073), which checks the presented key
 * holds the system role and refuses a trade or adjustment, an entry without world on one side, or
 * one that would leave a trader below zero. Idempotent on (proposal_id, leg): returns the rows it
 * appended, none for entries already there.
 */
export async function settleEntries(
  db: Db,
  key: string | undefined,
  entries: ReadonlyArray<SystemEntry>,
  validatorVersion: string,
): Promise<AppendedRow[]> {
  if (entries.length === 0) return [];
  const { rows } = await db.query<AppendedRow>(
    `SELECT ledger_id AS id, proposal::text AS proposal_id, leg_index AS leg, executed AS executed_at
       FROM settle_entries($1, $2, $3)`,
    [key ?? null, systemEntriesJson(entries), validatorVersion],
  );
  return rows;
}
