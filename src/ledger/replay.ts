/**
 * SQL for replaying the ledger, shared by checkpoints, rehydrate, the drift verifier and
 * point-in-time reads, so that every one of them means the same thing by "replay".
 */

/**
 * One row per balance movement of the ledger entries with lo < id <= hi: the sender's debit and
 * the receiver's credit, from a single scan. `lo` and `hi` are SQL expressions (parameters).
 */
export function movesSql(lo: string, hi: string | null): string {
  return `SELECT m.actor, l.resource, m.delta, l.id
            FROM ledger l CROSS JOIN LATERAL (VALUES (l.actor_from, -l.amount), (l.actor_to, l.amount)) AS m(actor, delta)
           WHERE l.id > ${lo}${hi === null ? '' : ` AND l.id <= ${hi}`}`;
}

/** Per (actor, resource): the summed movement, the last entry and the number of entries. */
export function aggregatedMovesSql(lo: string, hi: string | null): string {
  return `SELECT actor, resource, sum(delta) AS amount, max(id) AS last_id, count(*) AS moves
            FROM (${movesSql(lo, hi)}) AS moves GROUP BY actor, resource`;
}
