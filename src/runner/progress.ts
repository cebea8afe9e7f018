import type { EpochStats } from '../domain/stats.ts';

const fmt = (n: number) => (Number.isInteger(n) ? String(n) : n.toFixed(n >= 100 ? 0 : 2));

/** Why agents lost their turns this epoch: each cause with how many turns it cost, most first. */
export function lostTurnCauses(slots: ReadonlyArray<{ error?: string }>): Array<[string, number]> {
  const causes = new Map<string, number>();
  for (const slot of slots) if (slot.error) causes.set(slot.error, (causes.get(slot.error) ?? 0) + 1);
  return [...causes].sort((a, b) => b[1] - a[1]);
}

/** The runner's one line per epoch; `causes` names why turns were lost. */
export function progressLine(stats: EpochStats & { duration_ms: number }, target: number | undefined, causes: Array<[string, number]> = []): string {
  const p = stats.proposals;
  const codes = Object.entries(p.rejected_by_code)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([code, n]) => `${code} ${n}`)
    .join(', ');
  const unmet = Object.entries(stats.deficit.unmet).filter(([, v]) => v > 0);
  const parts = [
    `epoch ${stats.epoch}${target ? `/${target}` : ''}`,
    `applied ${p.applied}`,
    `rejected ${p.rejected}${codes ? ` (${codes})` : ''}`,
    ...(p.conflicts ? [`conflicts ${p.conflicts}`] : []),
    `deals ${stats.negotiation.agreed}/${stats.negotiation.sessions}`,
    `deficit ${stats.deficit.actors}${unmet.length ? ` (unmet ${unmet.map(([r, v]) => `${r} ${fmt(v)}`).join(', ')})` : ''}`,
    `supply ${Object.entries(stats.supply).map(([r, v]) => `${r} ${fmt(v)}`).join(' ')}`,
    `gini ${Object.entries(stats.gini).map(([r, v]) => `${r} ${v.toFixed(2)}`).join(' ')}`,
    ...(stats.llm.calls ? [`llm ${stats.llm.calls} calls, ${stats.llm.total_tokens} tokens${stats.llm.errors ? `, ${stats.llm.errors} lost turns` : ''}`] : []),
    ...(causes.length ? [`lost turns: ${causes.slice(0, 2).map(([cause, n]) => `${cause} (${n}×)`).join('; ')}${causes.length > 2 ? `; ${causes.length - 2} more causes` : ''}`] : []),
    `${stats.duration_ms} ms`,
  ];
  return parts.join('  ');
}
