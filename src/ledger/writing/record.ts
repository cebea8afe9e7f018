import { fromDatabaseRefusal, type BusinessErrorCode } from '../../domain/errors.ts';
import { formatMicro, microFromDb, type Micro } from '../../domain/money.ts';
import { balanceKey } from '../../domain/ids.ts';
import { flushWal, type Db } from '../../db/db.ts';

/** One proposal of a group, as record_proposals takes it (the proposal_spec row type, 000062; live definition 000152). */
export interface ProposalSpec {
  proposal_id: string;
  api_key: string | null;
  caller: string;
  canonical: string;
  body: unknown;
  metadata: Record<string, unknown>;
}

/** One leg (the proposal_leg_spec row type); item is its proposal's 1-based position. */
export interface LegSpec {
  item: number;
  leg: number;
  actor_from: string | null;
  actor_to: string | null;
  from_ref: string;
  to_ref: string;
  resource: string;
  amount: Micro;
}

export interface RecordedRow {
  item: number;
  outcome: 'applied' | 'rejected' | 'conflict';
  replayed: boolean;
  error_code: BusinessErrorCode | null;
  message: string | null;
  ledger_ids: Array<string | number> | null;
  decided_at: Date | null;
}

// Rows travel as JSON and become arrays of the row types in the statement, as graphile-worker's
// add_jobs does: one parameter per table, so no column can fall out of step with another.
//
// The transaction commits without waiting for its WAL to reach disk (synchronous_commit off for
// this transaction alone), so its row locks are released at once: a group of another replica
// waiting on the same balances goes on while this one's flush is still in progress, instead of
// after it. Nothing is acknowledged before flushWal has returned: its flush covers the group's
// commit, and every commit the group read from.
const RECORD_PROPOSALS = `
  SELECT item, outcome, replayed, error_code, message, ledger_ids, decided_at
    FROM record_proposals(array(SELECT json_populate_recordset(NULL::proposal_spec, $1::json)),
                          array(SELECT json_populate_recordset(NULL::proposal_leg_spec, $2::json)), $3::text[], $4::boolean[], $5)
   WHERE (SELECT set_config('synchronous_commit', 'off', true)) IS NOT NULL`;

/**
 * Decides and records a group in one statement (its own transaction), then waits until its commit
 * is durable; one row per spec, in order. Two round trips: the row locks are held for the first only.
 */
export async function recordProposals(
  db: Db,
  group: {
    specs: ProposalSpec[];
    legs: LegSpec[];
    topics: ReadonlyArray<{ topic: string; configured: boolean }>;
    validatorVersion: string;
  },
): Promise<RecordedRow[]> {
  const legs = group.legs.map((leg) => ({ ...leg, amount: formatMicro(leg.amount) }));
  try {
    const { rows } = await db.query<RecordedRow>(RECORD_PROPOSALS, [
      JSON.stringify(group.specs),
      JSON.stringify(legs),
      group.topics.map((t) => t.topic),
      group.topics.map((t) => t.configured),
      group.validatorVersion,
    ]);
    await flushWal(db);
    return rows;
  } catch (error) {
    throw fromDatabaseRefusal(error) ?? error;
  }
}

/**
 * Locks the balance rows of (actor, resource) pairs in one sorted order (no deadlocks with
 * record_proposals, which locks the same way) and returns their amounts; a missing row (an actor
 * created before a resource existed) is created first. For settlement, which holds the system key:
 * the database locks them (lock_run_balances, migration 000155), as the application role may not.
 */
export async function lockBalanceRows(tx: Db, key: string | undefined, pairs: Array<[string, string]>): Promise<Map<string, Micro>> {
  const { rows } = await tx.query<{ actor_id: string; resource: string; amount: string }>(
    'SELECT actor_id::text, resource, amount::text FROM lock_run_balances($1, $2::uuid[], $3::text[])',
    [key ?? null, pairs.map((p) => p[0]), pairs.map((p) => p[1])],
  );
  return new Map(rows.map((r) => [balanceKey(r.actor_id, r.resource), microFromDb(r.amount)]));
}
