import type { Logger } from 'pino';
import type { Db } from '../../db/db.ts';
import type { ExecuteOutcome } from '../writing/execute.ts';

/** The Postgres channel every validator LISTENs on and NOTIFYs to (the breaker writes to it too). */
export const EVENTS_CHANNEL = 'gridgov_events';

/** What one notification on EVENTS_CHANNEL carries; each stays far below NOTIFY's 8000-byte limit. */
export type ActivityEvent =
  | { type: 'ledger'; ledger_head: number; proposals: number; entries: number; kinds: Record<string, number>; proposal_ids: string[] }
  | { type: 'rejection'; rejections: number; by_code: Record<string, number>; proposal_ids: string[] };

const MAX_IDS = 10;

interface Pending {
  head: number;
  proposals: number;
  entries: number;
  kinds: Record<string, number>;
  appliedIds: string[];
  rejections: number;
  byCode: Record<string, number>;
  rejectedIds: string[];
}

const empty = (): Pending => ({ head: 0, proposals: 0, entries: 0, kinds: {}, appliedIds: [], rejections: 0, byCode: {}, rejectedIds: [] });
const keepLatest = (ids: string[], id: string) => {
  ids.push(id);
  if (ids.length > MAX_IDS) ids.shift();
};

/**
 * Tells every validator (and so every dashboard) about new ledger entries and rejections, after
 * they commit. A NOTIFY inside the deciding transaction would take Postgres's global notify lock
 * until that commit is flushed, serialising every /execute commit; instead, what each process
 * decided is summed and sent as at most one NOTIFY statement per interval, outside any
 * transaction. A crash can lose one summary: dashboards treat events as hints and re-read the API.
 */
export function createActivityPublisher(deps: { db: Db; logger: Logger; intervalMs?: number }) {
  const interval = deps.intervalMs ?? 100;
  let pending = empty();
  let timer: NodeJS.Timeout | undefined;
  let flushing: Promise<void> = Promise.resolve();

  function events(p: Pending): ActivityEvent[] {
    const out: ActivityEvent[] = [];
    if (p.entries > 0) {
      out.push({
        type: 'ledger',
        ledger_head: p.head,
        proposals: p.proposals,
        entries: p.entries,
        kinds: p.kinds,
        proposal_ids: p.appliedIds,
      });
    }
    if (p.rejections > 0) out.push({ type: 'rejection', rejections: p.rejections, by_code: p.byCode, proposal_ids: p.rejectedIds });
    return out;
  }

  async function flush(): Promise<void> {
    timer = undefined;
    const batch = events(pending);
    pending = empty();
    if (batch.length === 0) return;
    try {
      await deps.db.query(
        `SELECT pg_notify('${EVENTS_CHANNEL}', payload) FROM unnest($1::text[]) WITH ORDINALITY AS e(payload, n) ORDER BY n`,
        [batch.map((event) => JSON.stringify(event))],
      );
    } catch (error) {
      deps.logger.warn({ err: error }, 'could not publish live events');
    }
  }

  function schedule(): void {
    if (timer) return;
    timer = setTimeout(() => {
      flushing = flushing.then(flush);
    }, interval);
    timer.unref();
  }

  /** Ledger entries that committed, all of one proposal and one kind. */
  function appended(proposalId: string, ledgerIds: readonly number[], kind: string): void {
    if (ledgerIds.length === 0) return;
    pending.proposals += 1;
    pending.entries += ledgerIds.length;
    pending.kinds[kind] = (pending.kinds[kind] ?? 0) + ledgerIds.length;
    pending.head = Math.max(pending.head, ...ledgerIds);
    keepLatest(pending.appliedIds, proposalId);
    schedule();
  }

  function rejected(proposalId: string, code: string): void {
    pending.rejections += 1;
    pending.byCode[code] = (pending.byCode[code] ?? 0) + 1;
    keepLatest(pending.rejectedIds, proposalId);
    schedule();
  }

  return {
    appended,
    rejected,
    /** What /execute decided: replays and conflicts recorded nothing new and are left out. */
    decided(outcomes: readonly ExecuteOutcome[]): void {
      for (const outcome of outcomes) {
        if (outcome.status === 'applied' && !outcome.replayed) appended(outcome.proposal_id, outcome.ledger_ids, 'trade');
        else if (outcome.status === 'rejected' && !outcome.replayed) rejected(outcome.proposal_id, outcome.error_code);
      }
    },
    /** Sends what is pending now; for shutdown and tests. */
    async flush(): Promise<void> {
      if (timer) clearTimeout(timer);
      flushing = flushing.then(flush);
      await flushing;
    },
  };
}

export type ActivityPublisher = ReturnType<typeof createActivityPublisher>;
