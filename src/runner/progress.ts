import type { EpochStats } from '../domain/stats.ts';
import type { RunSummary } from '../domain/run-summary.ts';
import { strategyTable, type StrategyName } from '../domain/strategies.ts';

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
    ...(stats.actor_survival && stats.actor_survival.alive < stats.actor_survival.total
      ? [`alive ${stats.actor_survival.alive}/${stats.actor_survival.total}`]
      : []),
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
  const opt = (v: number | null) => (v === null ? '–' : v.toFixed(3));
  const codes = Object.entries(s.proposals.rejected_by_code)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([code, n]) => `${code} ${n}`)
    .join(', ');
  const payoffs = Object.entries(s.payoff)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([name, v]) => `${name} ${fmt(v)}`)
    .join(', ');
  return [
    `epochs ${s.epochs}  actors alive ${s.actor_survival.alive}/${s.actor_survival.total}${s.actor_survival.failed.length ? `  failed ${s.actor_survival.failed.join(', ')}` : ''}`,
    `need met ${pct(s.need_met)}  payoff equality ${opt(s.payoff_equality)}${s.rounds_to_deal !== null ? `  rounds to deal ${s.rounds_to_deal}` : ''}  deals ${s.deals.agreed}/${s.deals.sessions}`,
    ...(s.commons && s.survival
      ? [
          `commons ${Object.entries(s.commons.stock)
            .map(([r, v]) => `${r} ${fmt(v)}`)
            .join(
              ' ',
            )}  survival time ${s.survival.time}${s.commons.collapsed_at !== null ? ` (collapsed in epoch ${s.commons.collapsed_at})` : ''}`,
          `efficiency ${opt(s.efficiency)}  equality of gains ${opt(s.equality)}  over-usage ${s.over_usage?.rate === null || !s.over_usage ? '–' : pct(s.over_usage.rate)} of harvest actions`,
        ]
      : []),
    `proposals ${s.proposals.applied} applied, ${s.proposals.rejected} rejected${codes ? ` (${codes})` : ''}`,
    `payoff ${payoffs}`,
    ...(s.llm.calls ? [`llm ${s.llm.calls} calls, ${s.llm.total_tokens} tokens, $${s.llm.cost_usd.toFixed(4)}${cacheLine(s.llm)}`] : []),
  ];
}

/**
 * The line that pauses a run whose model is out of reach: when every turn of a model's agents
 * this epoch was lost to a failed call (refused, unreachable or unanswered; an answer that could
 * not be used does not count), going on would only starve those agents, epoch after epoch. It
 * names the provider, the host and what to check. Undefined while every model answers.
 */
export function modelOutage(
  slots: ReadonlyArray<{ agent: string; error?: string }>,
  agents: ReadonlyArray<{ name: string; strategy: StrategyName }>,
  strategies: ReadonlyMap<StrategyName, { host?: string }>,
  epoch: number,
): string | undefined {
  for (const [name, strategy] of strategies) {
    const settings = strategyTable[name].settings;
    if (!settings) continue;
    const mine = slots.filter((slot) => agents.some((a) => a.name === slot.agent && a.strategy === name));
    const failed = (error: string | undefined) =>
      error !== undefined && (error.startsWith(`${name}: `) || error.startsWith('no answer from'));
    if (mine.length === 0 || !mine.every((slot) => failed(slot.error))) continue;
    const cause = mine[0]!.error!;
    return (
      `run paused after epoch ${epoch}: every ${name} call failed (${cause}). ` +
      `Check the network to ${strategy.host ?? 'the model'} and ${settings}, or use --strategy heuristic; ` +
      `start again to resume at epoch ${epoch + 1}.`
    );
  }
  return undefined;
}
