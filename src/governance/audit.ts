import type { Db } from '../db/db.ts';
import { findUnstorable } from '../domain/proposal.ts';

const MAX_PAYLOAD_CHARS = 8 * 1024;

/** What an audit row may keep of a request body: JSON that Postgres can store, bounded in size. */
export function auditPayload(body: unknown): Record<string, unknown> {
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body)) return { body_type: Array.isArray(body) ? 'array' : typeof body };
  if (findUnstorable(body)) return { unstorable: true };
  const text = JSON.stringify(body);
  return text.length > MAX_PAYLOAD_CHARS ? { truncated: text.slice(0, 200) } : (body as Record<string, unknown>);
}

/**
 * Audits a refused call through audit_denied (migration 000071), which records only refusals
 * (an error code as the outcome) under the name the presented key proves.
 */
export async function auditDenied(
  db: Db,
  entry: { key: string | undefined; action: string; payload: unknown; outcome: string },
): Promise<void> {
  await db.query('SELECT audit_denied($1, $2, $3, $4)', [
    entry.key ?? null,
    entry.action,
    JSON.stringify(auditPayload(entry.payload)),
    entry.outcome,
  ]);
}

/** Audits a read of the governance records; the database checks that the key holds the viewer role. */
export async function auditRead(
  db: Db,
  key: string | undefined,
  action: 'admin.audit' | 'admin.auth_failures',
  payload: unknown,
): Promise<void> {
  await db.query('SELECT audit_read($1, $2, $3)', [key ?? null, action, JSON.stringify(auditPayload(payload))]);
}

export interface AuditRow {
  id: number;
  admin_user: string;
  action: string;
  payload: unknown;
  outcome: string;
  at: string;
}

/** Newest first, keyset-paginated on id. */
export async function listAudit(
  db: Db,
  q: { before?: number; limit: number; action?: string; adminUser?: string },
): Promise<{ entries: AuditRow[]; next_cursor: number | null }> {
  const { rows } = await db.query<Omit<AuditRow, 'at'> & { at: Date }>(
    `SELECT id, admin_user, action, payload, outcome, at FROM admin_audit
      WHERE ($1::bigint IS NULL OR id < $1) AND ($2::text IS NULL OR action = $2) AND ($3::text IS NULL OR admin_user = $3)
      ORDER BY id DESC LIMIT $4`,
    [q.before ?? null, q.action ?? null, q.adminUser ?? null, q.limit + 1],
  );
  const page = rows.slice(0, q.limit).map((r) => ({ ...r, at: r.at.toISOString() }));
  return { entries: page, next_cursor: rows.length > q.limit ? page[page.length - 1]!.id : null };
}
