import { dbAmountToNumber } from '../../domain/money.ts';
import type { Db } from '../../db/db.ts';

export interface Stats {
  at: string;
  ledger_head: number;
  epoch: number;
  actors: number;
  /** What happened in the last `seconds`: trade proposals applied, entries of every kind, rejections. */
  window: {
    seconds: number;
    applied: number;
    rejected: number;
    entries: number;
    entries_by_kind: Record<string, number>;
    rejected_by_code: Record<string, number>;
    applied_per_minute: number;
    rejected_per_minute: number;
    /** applied / (applied + rejected), null when nothing was decided. */
    acceptance: number | null;
  };
  rejections: { total: number; by_code: Record<string, number> };
  outbox: {
    backlog: number;
    by_status: Record<string, number>;
    by_topic: Record<string, Record<string, number>>;
    oldest_pending_at: string | null;
  };
  supply: Record<string, number>;
  gini: Record<string, number>;
}

interface StatsRow {
  at: Date;
  ledger_head: number;
  epoch: number | null;
  actors: number;
  entries_by_kind: Record<string, number> | null;
  applied: number;
  window_codes: Record<string, number> | null;
  rejections: Record<string, number> | null;
  outbox: Array<{ topic: string; status: string; n: number }> | null;
  oldest_pending_at: Date | null;
  resources: Array<{ resource: string; supply: string; gini: string }>;
}

/**
 * The overview's aggregates in one statement (one snapshot). Windowed counts read only recent
 * ledger rows (the index on executed_at); Gini and supply come from the balances cache, not
 * a replay. Gini of the non-world holdings of a resource: (2·Σ i·x_i − (n+1)·Σx) / (n·Σx) over the
 * amounts sorted ascending, rounded to 4 places; 0 when nobody holds any.
 */
export async function readStats(db: Db, windowSeconds: number): Promise<Stats> {
  const { rows } = await db.query<StatsRow>(
    `WITH recent AS (
       SELECT proposal_id, kind FROM ledger WHERE executed_at >= now() - make_interval(secs => $1)
     ), holdings AS (
       SELECT b.resource, b.amount,
              row_number() OVER (PARTITION BY b.resource ORDER BY b.amount) AS i,
              count(*) OVER (PARTITION BY b.resource) AS n,
              sum(b.amount) OVER (PARTITION BY b.resource) AS total
         FROM balances b WHERE NOT b.is_world
     ), per_resource AS (
       SELECT r.name AS resource, coalesce(max(h.total), 0)::text AS supply,
              CASE WHEN coalesce(max(h.total), 0) > 0
                   THEN round((2 * sum(h.i * h.amount) - (max(h.n) + 1) * max(h.total)) / (max(h.n) * max(h.total)), 4)
                   ELSE 0 END::text AS gini
         FROM resources r LEFT JOIN holdings h ON h.resource = r.name
        GROUP BY r.name ORDER BY r.name
     )
     SELECT now() AS at,
            (SELECT coalesce(max(id), 0) FROM ledger) AS ledger_head,
            -- The epoch of the run that started an epoch last, as GET /world-state counts it.
            (SELECT max(e.epoch) FROM epochs e WHERE e.run_id = (SELECT run_id FROM epochs ORDER BY started_at DESC LIMIT 1)) AS epoch,
            (SELECT count(*) FROM actors WHERE kind <> 'system') AS actors,
            (SELECT json_object_agg(kind, n) FROM (SELECT kind, count(*) AS n FROM recent GROUP BY kind) k) AS entries_by_kind,
            (SELECT count(DISTINCT proposal_id) FROM recent WHERE kind = 'trade') AS applied,
            (SELECT json_object_agg(code, n) FROM (
               SELECT validation_error_code AS code, count(*) AS n FROM rejected_proposals
                WHERE rejected_at >= now() - make_interval(secs => $1) GROUP BY 1) c) AS window_codes,
            (SELECT json_object_agg(code, n) FROM (
               SELECT validation_error_code AS code, count(*) AS n FROM rejected_proposals GROUP BY 1) c) AS rejections,
            (SELECT json_agg(json_build_object('topic', topic, 'status', status, 'n', n)) FROM (
               SELECT topic, status, count(*) AS n FROM outbox GROUP BY 1, 2) o) AS outbox,
            (SELECT min(created_at) FROM outbox WHERE status = 'pending') AS oldest_pending_at,
            (SELECT coalesce(json_agg(p), '[]') FROM per_resource p) AS resources`,
    [windowSeconds],
  );
  const row = rows[0]!;
  const entriesByKind = row.entries_by_kind ?? {};
  const windowCodes = row.window_codes ?? {};
  const sum = (values: Record<string, number>) => Object.values(values).reduce((a, b) => a + Number(b), 0);
  const rejected = sum(windowCodes);
  const byStatus: Record<string, number> = { pending: 0, delivered: 0, skipped: 0, dead: 0 };
  const byTopic: Record<string, Record<string, number>> = {};
  for (const { topic, status, n } of row.outbox ?? []) {
    byStatus[status] = (byStatus[status] ?? 0) + n;
    (byTopic[topic] ??= {})[status] = n;
  }
  const perMinute = (n: number) => Math.round((n * 60 * 100) / windowSeconds) / 100;
  return {
    at: row.at.toISOString(),
    ledger_head: row.ledger_head,
    epoch: row.epoch ?? 0,
    actors: row.actors,
    window: {
      seconds: windowSeconds,
      applied: row.applied,
      rejected,
      entries: sum(entriesByKind),
      entries_by_kind: entriesByKind,
      rejected_by_code: windowCodes,
      applied_per_minute: perMinute(row.applied),
      rejected_per_minute: perMinute(rejected),
      acceptance: row.applied + rejected === 0 ? null : Math.round((row.applied / (row.applied + rejected)) * 10_000) / 10_000,
    },
    rejections: { total: sum(row.rejections ?? {}), by_code: row.rejections ?? {} },
    outbox: {
      backlog: (byStatus.pending ?? 0) + (byStatus.dead ?? 0),
      by_status: byStatus,
      by_topic: byTopic,
      oldest_pending_at: row.oldest_pending_at?.toISOString() ?? null,
    },
    supply: Object.fromEntries(row.resources.map((r) => [r.resource, dbAmountToNumber(r.supply)])),
    gini: Object.fromEntries(row.resources.map((r) => [r.resource, Number(r.gini)])),
  };
}
