/**
 * SQL for replaying the ledger, shared by checkpoints, rehydrate, the drift verifier and
 * point-in-time reads, so that every one of them means the same thing by "replay".
 */

/**
 * Per (actor, resource), over the entries with lo < id <= hi (hi null: no upper bound): the net
 * movement `amount`, the last entry `last_id` and `moves`, the number of entry sides touching it
 * (the entries counted are the sum of moves over all rows, halved). `lo` and `hi` are SQL
 * expressions, usually parameters.
 *
 * Senders and receivers are aggregated separately and then combined: two plain aggregates run
 * several times faster than one scan emitting two rows per entry, and PostgreSQL can run the two
 * sides in parallel workers.
 */
export function aggregatedMovesSql(lo: string, hi: string | null): string {
  const range = `id > ${lo}${hi === null ? '' : ` AND id <= ${hi}`}`;
  return `SELECT actor, resource, sum(amount) AS amount, max(last_id) AS last_id, sum(moves)::bigint AS moves FROM (
      SELECT actor_from AS actor, resource, -sum(amount) AS amount, max(id) AS last_id, count(*) AS moves
        FROM ledger WHERE ${range} GROUP BY actor_from, resource
      UNION ALL
      SELECT actor_to, resource, sum(amount), max(id), count(*) FROM ledger WHERE ${range} GROUP BY actor_to, resource
    ) AS sides GROUP BY actor, resource`;
}
