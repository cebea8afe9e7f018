import type { Db } from '../db/db.ts';

export interface AuthFailureCount {
  /** Failures from this address in the current minute, this one included, on every replica. */
  failures: number;
  /** Seconds until the minute ends and the count starts again. */
  retryAfterSeconds: number;
}

/**
 * Counts one failed admin authentication against its client address and minute. The row is
 * shared by every replica (the limit holds behind a load balancer) and is the audit of junk
 * calls: one row per address per minute, whatever the flood.
 */
export async function recordAuthFailure(db: Db, entry: { address: string; action: string; outcome: string }): Promise<AuthFailureCount> {
  const { rows } = await db.query<{ failures: number; retry_after: number }>(
    `INSERT INTO admin_auth_failures AS f (client_address, minute, failures, last_action, last_outcome)
     VALUES ($1, date_trunc('minute', now()), 1, $2, $3)
     ON CONFLICT (client_address, minute)
     DO UPDATE SET failures = f.failures + 1, last_action = EXCLUDED.last_action, last_outcome = EXCLUDED.last_outcome
     RETURNING failures, greatest(1, ceil(extract(epoch FROM f.minute + interval '1 minute' - now())))::int AS retry_after`,
    [entry.address.slice(0, 100), entry.action.slice(0, 100), entry.outcome],
  );
  const row = rows[0]!;
  return { failures: row.failures, retryAfterSeconds: row.retry_after };
}

export interface AuthFailureRow {
  client_address: string;
  minute: string;
  failures: number;
  last_action: string;
  last_outcome: string;
}

/** The newest aggregated rows, for operators looking at who is knocking. */
export async function listAuthFailures(db: Db, limit = 100): Promise<AuthFailureRow[]> {
  const { rows } = await db.query<AuthFailureRow & { minute: Date }>(
    'SELECT client_address, minute, failures, last_action, last_outcome FROM admin_auth_failures ORDER BY minute DESC, client_address LIMIT $1',
    [limit],
  );
  return rows.map((r) => ({ ...r, minute: r.minute.toISOString() }));
}
