import type { Db } from '../../db/db.ts';

/**
 * A notification on EVENTS_CHANNEL as it came. Any login that can connect can NOTIFY on that
 * channel, so a notification is only a claim that something changed: what clients are sent is
 * read back from the tables it names (see docs/security.md, "Live events").
 */
export interface Announcement {
  type: string;
  payload: Record<string, unknown>;
}

/** An event as clients get it: its name and what the tables said. */
export interface LiveEvent {
  event: string;
  data: Record<string, unknown>;
}

/** Turns notifications into events re-read from the tables; it remembers what it last sent. */
export interface EventReader {
  /** Where to start: called whenever the LISTEN connection (re)opens, before the first read. */
  baseline(): Promise<void>;
  /** The events the tables bear out, for a batch of notifications (coalesced by kind). */
  read(batch: readonly Announcement[]): Promise<LiveEvent[]>;
}

/** Entries read per ledger event; more are announced by the next one. */
const MAX_ENTRIES = 10_000;
/** Proposal ids an event names, newest last. */
const MAX_IDS = 10;
/** Rejections and epochs looked up per batch of notifications. */
const MAX_KEYS = 100;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const uniqueUuids = (values: unknown[]) => [...new Set(values.filter((v): v is string => typeof v === 'string' && UUID.test(v)))];

interface BreakerRow {
  enabled: boolean;
  reason: string | null;
  changed_by: string | null;
  changed_at: string;
}

interface LedgerRow {
  head: number | null;
  entries: number;
  proposals: number;
  kinds: Record<string, number>;
  proposal_ids: string[];
}

/** The breaker as the control row holds it, in the shape admin_set_breaker announces. */
async function readBreaker(db: Db): Promise<BreakerRow> {
  const { rows } = await db.query<BreakerRow>(
    `SELECT breaker_on AS enabled, reason, changed_by,
            to_char(changed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS changed_at
       FROM control WHERE id = 1`,
  );
  return rows[0]!;
}

/** Ledger entries after `after` (when unknown, the newest one): how many, of which kinds, for which proposals. */
async function readLedgerSince(db: Db, after: number | undefined): Promise<LedgerRow> {
  const { rows } = await db.query<LedgerRow>(
    `WITH fresh AS (
       SELECT id, proposal_id, kind FROM ledger
        WHERE id > coalesce($1::bigint, (SELECT max(id) - 1 FROM ledger))
        ORDER BY id LIMIT ${MAX_ENTRIES}
     )
     SELECT max(id) AS head, count(*)::int AS entries, count(DISTINCT proposal_id)::int AS proposals,
            coalesce((SELECT jsonb_object_agg(kind, n) FROM (SELECT kind, count(*)::int AS n FROM fresh GROUP BY kind) k), '{}') AS kinds,
            coalesce((SELECT array_agg(proposal_id::text ORDER BY last)
                        FROM (SELECT proposal_id, max(id) AS last FROM fresh GROUP BY proposal_id ORDER BY last DESC LIMIT ${MAX_IDS}) p), '{}') AS proposal_ids
       FROM fresh`,
    [after ?? null],
  );
  return rows[0]!;
}

export function createEventReader(db: Db): EventReader {
  let breaker: string | undefined;
  let ledgerHead: number | undefined;

  async function breakerEvents(): Promise<LiveEvent[]> {
    const row = await readBreaker(db);
    const state = JSON.stringify(row);
    if (state === breaker) return [];
    breaker = state;
    return [{ event: 'breaker', data: { type: 'breaker', ...row } }];
  }

  async function ledgerEvents(): Promise<LiveEvent[]> {
    const row = await readLedgerSince(db, ledgerHead);
    if (row.head === null || row.entries === 0) return [];
    ledgerHead = row.head;
    const { head, ...counts } = row;
    return [{ event: 'ledger', data: { type: 'ledger', ledger_head: head, ...counts } }];
  }

  async function rejectionEvents(ids: string[]): Promise<LiveEvent[]> {
    if (ids.length === 0) return [];
    const { rows } = await db.query<{ proposal_id: string; code: string }>(
      `SELECT proposal_id::text, validation_error_code AS code FROM rejected_proposals
        WHERE proposal_id = ANY($1::uuid[]) ORDER BY rejected_at, proposal_id`,
      [ids],
    );
    if (rows.length === 0) return [];
    const byCode: Record<string, number> = {};
    for (const row of rows) byCode[row.code] = (byCode[row.code] ?? 0) + 1;
    const proposalIds = rows.slice(-MAX_IDS).map((row) => row.proposal_id);
    return [{ event: 'rejection', data: { type: 'rejection', rejections: rows.length, by_code: byCode, proposal_ids: proposalIds } }];
  }

  async function epochEvents(claims: Announcement[]): Promise<LiveEvent[]> {
    const keys = claims
      .map((c) => ({ run: c.payload.run_id, epoch: c.payload.epoch }))
      .filter(
        (k): k is { run: string; epoch: number } =>
          typeof k.run === 'string' &&
          UUID.test(k.run) &&
          Number.isInteger(k.epoch) &&
          (k.epoch as number) >= 0 &&
          (k.epoch as number) < 2 ** 31,
      )
      .slice(-MAX_KEYS);
    if (keys.length === 0) return [];
    const { rows } = await db.query<{ run_id: string; epoch: number }>(
      `SELECT e.run_id::text, e.epoch FROM epochs e
         JOIN unnest($1::uuid[], $2::int[]) AS k(run_id, epoch) ON (e.run_id, e.epoch) = (k.run_id, k.epoch)
        WHERE e.finished_at IS NOT NULL
        GROUP BY e.run_id, e.epoch ORDER BY e.epoch`,
      [keys.map((k) => k.run), keys.map((k) => k.epoch)],
    );
    return rows.map((row) => ({ event: 'epoch', data: { type: 'epoch', run_id: row.run_id, epoch: row.epoch } }));
  }

  return {
    async baseline() {
      ledgerHead = (await db.query<{ head: number | null }>('SELECT max(id) AS head FROM ledger')).rows[0]?.head ?? 0;
    },
    async read(batch) {
      const of = (type: string) => batch.filter((a) => a.type === type);
      const rejected = uniqueUuids(
        of('rejection').flatMap((a) => (Array.isArray(a.payload.proposal_ids) ? (a.payload.proposal_ids as unknown[]) : [])),
      );
      return [
        ...(of('breaker').length > 0 ? await breakerEvents() : []),
        ...(of('ledger').length > 0 ? await ledgerEvents() : []),
        ...(await rejectionEvents(rejected.slice(-MAX_KEYS))),
        ...(await epochEvents(of('epoch'))),
      ];
    },
  };
}
