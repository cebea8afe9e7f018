import type { EpochStats, RunSummary } from '../domain/stats.ts';

const fmt = (n: number) => (Number.isInteger(n) ? String(n) : n.toFixed(n >= 100 ? 0 : 2));

/** Why agents lost their turns this epoch: each cause with how many turns it cost, most first. */
export function lostTurnCauses(slots: ReadonlyArray<{ error?: string }>): Array<[string, number]> {
  const causes = new Map<string, number>();
  for (const slot of slots) if (slot.error) causes.set(slot.error, (causes.get(slot.error) ?? 0) + 1);
  return [...causes].sort((a, b) => b[1] - a[1]);
}

/** The runner's one line per epoch; `causes` names why turns were lost. */
export function progressLine(
  stats: EpochStats & { duration_ms: number },
  target: number | undefined,
  causes: Array<[string, number]> = [],
): string {
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
    `supply ${Object.entries(stats.supply)
      .map(([r, v]) => `${r} ${fmt(v)}`)
      .join(' ')}`,
    `gini ${Object.entries(stats.gini)
      .map(([r, v]) => `${r} ${v.toFixed(2)}`)
      .join(' ')}`,
    ...(stats.survival && stats.survival.alive < stats.survival.total ? [`alive ${stats.survival.alive}/${stats.survival.total}`] : []),
    ...(stats.commons
      ? [
          `commons ${Object.entries(stats.commons.stock)
            .map(([r, v]) => `${r} ${fmt(v)}${stats.commons!.collapsed.includes(r) ? ' (collapsed)' : ''}`)
            .join(' ')}`,
        ]
      : []),
    ...(stats.llm.calls
      ? [
          `llm ${stats.llm.calls} calls, ${stats.llm.total_tokens} tokens, $${(stats.llm.cost_usd ?? 0).toFixed(4)}${stats.llm.errors ? `, ${stats.llm.errors} lost turns` : ''}`,
        ]
      : []),
    ...(causes.length
      ? [
          `lost turns: ${causes
            .slice(0, 2)
            .map(([cause, n]) => `${cause} (${n}×)`)
            .join('; ')}${causes.length > 2 ? `; ${causes.length - 2} more causes` : ''}`,
        ]
      : []),
    `${stats.duration_ms} ms`,
  ];
  return parts.join('  ');
}

/** The response cache's share of the calls: hit rate, calls and dollars saved. */
function cacheLine(llm: RunSummary['llm']): string {
  if (!llm.cache_hits) return '';
  return `; cache ${((llm.cache_hits / llm.calls) * 100).toFixed(1)}% hits, ${llm.cache_hits} calls and $${(llm.saved_usd ?? 0).toFixed(4)} saved`;
}

/** The runner's closing lines: the figures of the whole run. */
export function summaryLines(s: RunSummary): string[] {
  const pct = (v: number) => `${(v * 100).toFixed(1)}%`;
  const codes = Object.entries(s.proposals.rejected_by_code)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([code, n]) => `${code} ${n}`)
    .join(', ');
  const payoffs = Object.entries(s.payoff)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([name, v]) => `${name} ${fmt(v)}`)
    .join(', ');
  return [
    `epochs ${s.epochs}  survival ${pct(s.survival.rate)} (${s.survival.alive}/${s.survival.total} alive, ${s.survival.time} epochs before ${s.commons ? 'collapse' : 'a failure'})${s.survival.failed.length ? `  failed ${s.survival.failed.join(', ')}` : ''}`,
    `efficiency ${pct(s.efficiency)}  equality ${s.equality.toFixed(3)}${s.rounds_to_deal !== null ? `  rounds to deal ${s.rounds_to_deal}` : ''}  deals ${s.deals.agreed}/${s.deals.sessions}`,
    ...(s.commons
      ? [
          `commons ${Object.entries(s.commons.stock)
            .map(([r, v]) => `${r} ${fmt(v)}`)
            .join(
              ' ',
            )}${s.commons.collapsed_at !== null ? ` (collapsed at epoch ${s.commons.collapsed_at})` : ''}  over-usage ${pct(s.over_usage?.rate ?? 0)} of requests, ${Object.entries(
            s.over_usage?.amount ?? {},
          )
            .map(([r, v]) => `${r} ${fmt(v)}`)
            .join(' ')} beyond the yield`,
        ]
      : []),
    `proposals ${s.proposals.applied} applied, ${s.proposals.rejected} rejected${codes ? ` (${codes})` : ''}`,
    `payoff ${payoffs}`,
    ...(s.llm.calls ? [`llm ${s.llm.calls} calls, ${s.llm.total_tokens} tokens, $${s.llm.cost_usd.toFixed(4)}${cacheLine(s.llm)}`] : []),
  ];
}
