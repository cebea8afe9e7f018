import type { SendRecord } from '../chaos/clients.ts';
import type { FailoverEvent } from './faults.ts';

/**
 * Per failover, from what the clients were told: the write unavailability (the last decision
 * committed before the fault to the first one after it, as acknowledged), what clients saw
 * meanwhile (503 DATABASE_UNAVAILABLE, no answer…) and whether those sends then succeeded on a
 * retry, and the commit rate in the 10 s before the fault and the 10 s after writes resumed.
 */
export interface FailoverFigures {
  event: FailoverEvent;
  unavailableMs: number;
  healedMs: number;
  failures: Map<string, number>;
  retriedSends: number;
  retriedSettled: number;
  before: number;
  after: number;
}

const WINDOW_MS = 10_000;

export function failoverFigures(records: ReadonlyArray<SendRecord>, failovers: FailoverEvent[]): FailoverFigures[] {
  // Each first decision (not a replay) is one commit: a ledger write or a rejection row.
  const commits = records
    .flatMap((r) => r.replies.filter((reply) => DECIDED.has(reply.status) && reply.replayed === false))
    .map((reply) => reply.at)
    .sort((a, b) => a - b);
  const rate = (from: number, to: number) => commits.filter((t) => t >= from && t < to).length / ((to - from) / 1000);
  return failovers.map((event) => {
    // Replies to commits made just before the fault still arrive after it: the outage is the
    // longest gap between two consecutive commits that reaches into the fault's stretch.
    let lastBefore = event.at;
    let firstAfter = event.at;
    for (let i = 0; i + 1 < commits.length; i++) {
      const [a, b] = [commits[i]!, commits[i + 1]!];
      if (b >= event.at && a <= event.healedAt && b - a > firstAfter - lastBefore) [lastBefore, firstAfter] = [a, b];
    }
    const failures = new Map<string, number>();
    let retriedSends = 0;
    let retriedSettled = 0;
    for (const record of records) {
      const failed = record.replies.filter(
        (r) => r.at >= event.at && r.at <= Math.max(firstAfter, event.healedAt) && !DECIDED.has(r.status),
      );
      if (failed.length === 0) continue;
      retriedSends++;
      if (record.decisive) retriedSettled++;
      for (const reply of failed) {
        const key = reply.status === 0 ? `no answer (${reply.code})` : `${reply.status} ${reply.code ?? ''}`.trim();
        failures.set(key, (failures.get(key) ?? 0) + 1);
      }
    }
    return {
      event,
      unavailableMs: firstAfter - lastBefore,
      healedMs: event.healedAt - event.at,
      failures,
      retriedSends,
      retriedSettled,
      before: rate(event.at - WINDOW_MS, event.at),
      after: rate(firstAfter, firstAfter + WINDOW_MS),
    };
  });
}

const DECIDED = new Set([200, 409, 422]);
const n = (value: number) => Math.round(value).toLocaleString('en-US');
const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

export function failoverTable(figures: FailoverFigures[]): string {
  const rows = figures.map((f) => {
    const seen = f.retriedSends
      ? `${[...f.failures].map(([k, v]) => `${k} ×${n(v)}`).join(', ')}; ${n(f.retriedSettled)} of those ${n(f.retriedSends)} sends then settled on a retry`
      : 'no failed request';
    return `| ${f.event.kind} | ${f.event.leaderBefore} → ${f.event.leaderAfter} | ${s(f.unavailableMs)} | ${s(f.healedMs)} | ${seen} | ${f.before.toFixed(1)} → ${f.after.toFixed(1)} |`;
  });
  return [
    '| failover | leader | writes unavailable (last commit before → first after) | until Patroni reports every node streaming and HAProxy routes to the leader | what clients saw meanwhile | commits/s, 10 s before → 10 s after writes resumed |',
    '|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
}
