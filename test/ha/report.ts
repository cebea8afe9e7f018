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

/** What clients must see while writes are unavailable, and what every retried send must do. */
export function clientViolations(figures: FailoverFigures[]): string[] {
  return figures.flatMap((f) => [
    ...[...f.failures.keys()]
      .filter((key) => key !== '503 DATABASE_UNAVAILABLE')
      .map((key) => `clients: during ${f.event.kind}, ${f.failures.get(key)} replies were ${key}, not 503 DATABASE_UNAVAILABLE`),
    ...(f.retriedSettled < f.retriedSends
      ? [`clients: during ${f.event.kind}, ${f.retriedSends - f.retriedSettled} of ${f.retriedSends} retried sends never settled`]
      : []),
  ]);
}

/** One run of one setting, as the comparison needs it. */
export interface HaRunResult {
  setting: string;
  figures: FailoverFigures[];
  /** The list-append anomalies, each with when its transaction ended (ms since epoch). */
  anomalies: Array<{ kind: string; at: number | undefined }>;
  bankViolations: number;
  /** Distinct drops of the ledger head the bank readers saw: commits seen on a primary that failover dropped. */
  headWentBack: number;
  appendCommitted: number;
  loadMs: number;
}

/**
 * Per fault and setting, over every run: seconds without writes (the bank's longest gap between
 * commits around the fault), acknowledged appends lost and other anomalies whose transaction
 * ended between this fault and the next, whether the cluster came back by itself, and what
 * clients saw. An anomaly of the final read (no transaction) is counted on the last fault.
 */
export function comparisonTable(results: HaRunResult[]): string {
  const rows: string[] = [];
  const kinds = [...new Set(results.flatMap((r) => r.figures.map((f) => f.event.kind)))];
  const settings = [...new Set(results.map((r) => r.setting))];
  for (const kind of kinds) {
    for (const setting of settings) {
      const runs = results.filter((r) => r.setting === setting);
      let lost = 0;
      let readLost = 0;
      let anomalies = 0;
      let recovered = 0;
      const gaps: number[] = [];
      const seen = new Map<string, number>();
      for (const run of runs) {
        const index = run.figures.findIndex((f) => f.event.kind === kind);
        const figure = run.figures[index];
        if (!figure) continue;
        const next = run.figures[index + 1]?.event.at ?? Infinity;
        const inWindow = run.anomalies.filter((a) =>
          a.at === undefined ? index === run.figures.length - 1 : a.at >= figure.event.at && a.at < next,
        );
        lost += inWindow.filter((a) => a.kind === 'lost').length;
        readLost += inWindow.filter((a) => a.kind === 'read-lost').length;
        anomalies += inWindow.filter((a) => a.kind !== 'lost' && a.kind !== 'read-lost').length;
        if (figure.event.recovered) recovered++;
        gaps.push(figure.unavailableMs);
        for (const [key, count] of figure.failures) seen.set(key, (seen.get(key) ?? 0) + count);
      }
      if (gaps.length === 0) continue;
      gaps.sort((a, b) => a - b);
      const median = gaps[Math.floor(gaps.length / 2)]!;
      const saw = seen.size ? [...seen].map(([k, v]) => `${k} ×${n(v)}`).join(', ') : 'no failed request';
      rows.push(
        `| ${kind} | ${setting} | ${gaps.length} | ${lost} | ${anomalies} | ${readLost} | ${s(median)} / ${s(gaps[gaps.length - 1]!)} | ${recovered} of ${gaps.length} | ${saw} |`,
      );
    }
  }
  const totals = settings.map((setting) => {
    const runs = results.filter((r) => r.setting === setting);
    const minutes = runs.map((r) => (r.loadMs / 60_000).toFixed(1)).join(', ');
    return `- ${setting}: ${runs.length} runs (load ${minutes} min), bank-test violations ${runs.reduce((a, r) => a + r.bankViolations, 0)}, drops of the ledger head the bank readers saw ${runs.reduce((a, r) => a + r.headWentBack, 0)}, list-append transactions committed ${n(runs.reduce((a, r) => a + r.appendCommitted, 0))}`;
  });
  return [
    '| fault | setting | runs | acknowledged appends lost | anomalies (G0, G1a/b/c, G-single, G2, stale, reordered) | reads of an append in doubt, later lost | writes unavailable, median / worst | came back by itself | what clients saw meanwhile (all runs) |',
    '|---|---|---|---|---|---|---|---|---|',
    ...rows,
    '',
    ...totals,
  ].join('\n');
}
