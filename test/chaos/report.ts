import type { SendRecord } from './clients.ts';
import { FaultKind, type FaultLog } from './faults.ts';
import type { ChaosProfile } from './profile.ts';
import type { EventStreamLog } from './events.ts';
import type { ReadLog } from './reader.ts';
import type { Verdict } from './checker.ts';

export interface RunSummary {
  profile: ChaosProfile;
  records: ReadonlyArray<SendRecord>;
  verdict: Verdict;
  violations: string[];
  faults: FaultLog;
  reads: ReadLog;
  streams: EventStreamLog[];
  /** What `gridgov verify` checked of the ledger's hash chain after the run. */
  chain: string;
  /** Sends still unresolved when the load ended, settled by the retry pass once all was restored. */
  settledAfterLoad: number;
  outbox: Record<string, number>;
  discordDuplicates: number;
  durations: { loadMs: number; drainMs: number; totalMs: number };
}

const n = (value: number) => value.toLocaleString('en-US');
const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

function countBy<T>(items: Iterable<T>, key: (item: T) => string | undefined): Map<string, number> {
  const counts = new Map<string, number>();
  for (const item of items) {
    const k = key(item);
    if (k !== undefined) counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return counts;
}

const list = (counts: Map<string, number>) =>
  [...counts]
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${n(v)}`)
    .join(', ') || '—';

/** The run as a Markdown table: what was sent, what was acknowledged, what broke, what was found. */
export function summaryTable(summary: RunSummary): string {
  const { faults, verdict, profile } = summary;
  // The probe sent after the faults (index -1) is reported with the live events, not the load.
  const records = summary.records.filter((r) => r.send.index >= 0);
  const kinds = countBy(records, (r) => r.send.kind);
  const decisive = records.filter((r) => r.decisive);
  const replayed = (status: number) => decisive.filter((r) => r.decisive!.status === status && r.decisive!.replayed).length;
  const byStatus = countBy(decisive, (r) => String(r.decisive!.status));
  const codes = countBy(
    decisive.filter((r) => r.decisive!.status === 422),
    (r) => r.decisive!.errorCode,
  );
  const failed = records.flatMap((r) => r.replies.filter((reply) => reply !== r.decisive));
  const causes = countBy(failed, (reply) =>
    reply.status === 0 ? `no answer (${reply.code})` : `${reply.status} ${reply.code ?? ''}`.trim(),
  );
  const retried = records.filter((r) => r.replies.length > 1).length;
  const unresolved = records.filter((r) => !r.decisive).length;
  const faultRows = faults.kinds.map((kind) => {
    let detail = '';
    if (kind === FaultKind.proxyCut) detail = ` (${n(faults.connectionsCut)} connections reset)`;
    if (kind === FaultKind.linearDown)
      detail = ` of ${n([...faults.notifierModes.linear.values()].reduce((a, b) => a + b, 0))} (${list(faults.notifierModes.linear)})`;
    if (kind === FaultKind.discordDown)
      detail = ` of ${n([...faults.notifierModes.discord.values()].reduce((a, b) => a + b, 0))} (${list(faults.notifierModes.discord)})`;
    return `| fault: ${kind} | ${n(faults.counts.get(kind) ?? 0)}${detail} |`;
  });
  const loadSeconds = summary.durations.loadMs / 1000;
  // The longest stretch in which no client was told anything decisive: how long the worst fault hurt.
  const times = decisive.map((r) => r.decisive!.at).sort((a, b) => a - b);
  const longestGap = times.slice(1).reduce((gap, t, i) => Math.max(gap, t - times[i]!), 0);
  return [
    `| chaos bank test (profile ${profile.name}, seed ${profile.seed}) | |`,
    '|---|---|',
    `| proposals sent | ${n(records.length)} by ${profile.clients} clients to 2 validators: ${n(kinds.get('fresh') ?? 0)} new, ${n(kinds.get('duplicate') ?? 0)} duplicate retries (same id, same payload), ${n(kinds.get('reuse') ?? 0)} id reuses with another payload; ${n(new Set(records.map((r) => r.send.id)).size)} distinct ids |`,
    `| acknowledged 200 applied | ${n(byStatus.get('200') ?? 0)} (${n(replayed(200))} replayed) |`,
    `| acknowledged 422 rejected | ${n(byStatus.get('422') ?? 0)} (${n(replayed(422))} replayed): ${list(codes)} |`,
    `| acknowledged 409 IDEMPOTENCY_CONFLICT | ${n(byStatus.get('409') ?? 0)} |`,
    `| unresolved | ${n(unresolved)} (${n(summary.settledAfterLoad)} settled by the retry pass after the faults) |`,
    `| retries | ${n(failed.length)} over ${n(retried)} sends: ${list(causes)} |`,
    `| ids whose first decision no client heard (settled by a retry's replay) | ${n(verdict.stats.inDoubtSettled)}; of them answered only 503 before, though recorded: ${list(verdict.stats.recordedDespite503)} |`,
    `| concurrent bank reads (GET /world-state: supply conserved, no negative balance, head never back) | ${n(summary.reads.reads)} checked; unavailable: ${list(summary.reads.failures)} |`,
    `| live events (GET /events on each replica, reopened when dropped; a probe trade after the faults must reach both) | ${summary.streams.map((st, i) => `replica ${'ab'[i] ?? i}: ${list(st.events)}; ${n(st.streams)} streams`).join('; ')} |`,
    ...faultRows,
    `| hash chain after the run (gridgov verify) | ${summary.chain} |`,
    `| outbox after drain | ${list(new Map(Object.entries(summary.outbox)))}; Linear issues ${n(verdict.stats.linearIssues)} for ${n(verdict.stats.rejected)} rejected ids; Discord duplicate alerts ${n(summary.discordDuplicates)} |`,
    `| violations | **${n(summary.violations.length)}** |`,
    `| longest stretch without a decisive reply | ${s(longestGap)} |`,
    `| duration | load ${s(summary.durations.loadMs)} (${n(Math.round(records.length / loadSeconds))} proposals/s), drain ${s(summary.durations.drainMs)}, total ${s(summary.durations.totalMs)} |`,
  ].join('\n');
}
