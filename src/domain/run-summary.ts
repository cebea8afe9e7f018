import {
  addUsage,
  emptyUsage,
  equalityOf,
  type ActorSurvival,
  type EpochStats,
  type StoredEpochStats as Stored,
  type TokenUsage,
} from './stats.ts';

/**
 * The figures of a whole run. The commons' figures follow GovSim (Piatti et al., 2024, "Cooperate
 * or Collapse", NeurIPS 2024), for a horizon of T epochs and the sustainable harvest f(0) of the first
 * epoch; docs/economy.md gives each formula. Actor survival (who is still trading) is a different
 * thing and keeps its own name.
 */
export interface RunSummary {
  epochs: number;
  /** The commons' survival: time in epochs until it collapsed (T if never), rate 1 if it lasted T; null without a commons. */
  survival: { time: number; rate: number } | null;
  /** R_i, what each agent harvested in all, over every commons resource. */
  gains: Record<string, number> | null;
  /** 1 − max(0, T·f(0) − Σ R_i) / (T·f(0)), the mean over commons resources. */
  efficiency: number | null;
  /** 1 − Gini of the gains; null when every gain is 0. */
  equality: number | null;
  /** Harvest actions above the sustainable share, of all harvest actions while the commons lived. */
  over_usage: { rate: number | null; actions: number; over: number; over_harvest: Record<string, number> } | null;
  commons: {
    stock: Record<string, number>;
    collapsed_at: number | null;
    sustainable_harvest_at_start: Record<string, number | null>;
  } | null;
  actor_survival: ActorSurvival & { first_failure_at: number | null };
  /** Need met / need, over the run. */
  need_met: number;
  /** 1 − Gini of the payoffs at the end; null when every payoff is 0. */
  payoff_equality: number | null;
  payoff: Record<string, number>;
  rounds_to_deal: number | null;
  proposals: { sent: number; applied: number; rejected: number; rejected_by_code: Record<string, number> };
  deals: { sessions: number; agreed: number };
  llm: TokenUsage;
}

const round = (v: number, places: number) => Math.round(v * 10 ** places) / 10 ** places;
const sum = (values: Iterable<number>) => [...values].reduce((a, b) => a + b, 0);

/**
 * The commons' survival over epochs in order: it collapses in the epoch whose harvest leaves it
 * below its threshold (found at the start of the next epoch, or by the last epoch's harvest).
 * GovSim's survival time is the last epoch that began above the threshold: that epoch.
 */
export function commonsSurvival(
  epochs: ReadonlyArray<{ epoch: number; collapsed: readonly string[]; collapsed_after?: readonly string[] }>,
): { time: number; rate: number; collapsed_at: number | null } {
  const first = epochs[0]?.epoch ?? 1;
  let at: number | null = null;
  for (const e of epochs) {
    if (e.collapsed.length > 0) at = e.epoch - 1;
    else if ((e.collapsed_after?.length ?? 0) > 0) at = e.epoch;
    if (at !== null) break;
  }
  return at === null
    ? { time: epochs.length, rate: 1, collapsed_at: null }
    : { time: Math.max(0, at - first + 1), rate: 0, collapsed_at: at };
}

/** GovSim's efficiency: 1 − max(0, T·f0 − harvested) / (T·f0); null when f0 is 0 (nothing could be taken sustainably). */
export function harvestEfficiency(horizon: number, f0: number, harvested: number): number | null {
  const best = horizon * f0;
  if (!(best > 0)) return null;
  return round(1 - Math.max(0, best - harvested) / best, 4);
}

export function runSummary(stats: ReadonlyArray<EpochStats>): RunSummary {
  const rows = stats as ReadonlyArray<Stored>;
  const last = rows[rows.length - 1];
  const codes: Record<string, number> = {};
  const proposals = { sent: 0, applied: 0, rejected: 0, rejected_by_code: codes };
  const deals = { sessions: 0, agreed: 0 };
  const llm = emptyUsage();
  let need = 0;
  let met = 0;
  let rounds = 0;
  let roundCount = 0;
  let firstFailure: number | null = null;
  for (const s of rows) {
    proposals.sent += s.proposals.sent;
    proposals.applied += s.proposals.applied;
    proposals.rejected += s.proposals.rejected;
    for (const [code, n] of Object.entries(s.proposals.rejected_by_code)) codes[code] = (codes[code] ?? 0) + n;
    deals.sessions += s.negotiation.sessions;
    deals.agreed += s.negotiation.agreed;
    addUsage(llm, s.llm);
    met += sum(Object.values(s.consumed ?? {}));
    need += sum(Object.values(s.consumed ?? {})) + sum(Object.values(s.deficit?.unmet ?? {}));
    if (s.rounds_to_deal !== null && s.rounds_to_deal !== undefined) {
      rounds += s.rounds_to_deal * s.negotiation.agreed;
      roundCount += s.negotiation.agreed;
    }
    if (firstFailure === null && ((s.actor_survival ?? s.survival)?.failed.length ?? 0) > 0) firstFailure = s.epoch;
  }
  const survival = last?.actor_survival ?? last?.survival ?? { rate: 1, alive: 0, total: 0, failed: [] };
  return {
    epochs: rows.length,
    ...commonsFigures(rows),
    actor_survival: { ...survival, first_failure_at: firstFailure },
    need_met: need === 0 ? 1 : round(met / need, 4),
    payoff_equality: last ? equalityOf(last.payoff ?? {}) : null,
    payoff: last?.payoff ?? {},
    rounds_to_deal: roundCount ? round(rounds / roundCount, 2) : null,
    proposals,
    deals,
    llm,
  };
}

/** GovSim's figures over the epochs that have a commons; all null without one. */
function commonsFigures(
  rows: ReadonlyArray<Stored>,
): Pick<RunSummary, 'survival' | 'gains' | 'efficiency' | 'equality' | 'over_usage' | 'commons'> {
  const withCommons = rows.filter((s) => s.commons);
  const last = withCommons[withCommons.length - 1]?.commons;
  if (!last) return { survival: null, gains: null, efficiency: null, equality: null, over_usage: null, commons: null };
  const survived = commonsSurvival(withCommons.map((s) => ({ epoch: s.epoch, ...s.commons! })));
  const f0 = withCommons[0]!.commons!.sustainable_harvest ?? {};
  const taken: Record<string, number> = {};
  const overHarvest: Record<string, number> = {};
  const gains: Record<string, number> = {};
  let actions = 0;
  let over = 0;
  let perAgent = false;
  for (const s of withCommons) {
    const c = s.commons!;
    for (const [r, v] of Object.entries(c.extracted)) taken[r] = round((taken[r] ?? 0) + v, 6);
    for (const [r, v] of Object.entries(c.over_harvest ?? {})) overHarvest[r] = round((overHarvest[r] ?? 0) + v, 6);
    actions += c.harvest_actions ?? 0;
    over += c.over_usage_actions ?? 0;
    for (const [name, a] of Object.entries(s.agents ?? {})) {
      if (!a.harvest) continue;
      perAgent = true;
      gains[name] = round((gains[name] ?? 0) + sum(Object.values(a.harvest).map((h) => h.granted)), 6);
    }
  }
  const efficiencies = Object.entries(f0).flatMap(([r, f]) => {
    const e = f === null ? null : harvestEfficiency(withCommons.length, f, taken[r] ?? 0);
    return e === null ? [] : [e];
  });
  return {
    survival: { time: survived.time, rate: survived.rate },
    gains: perAgent ? gains : null,
    efficiency: efficiencies.length ? round(sum(efficiencies) / efficiencies.length, 4) : null,
    equality: perAgent ? equalityOf(gains) : null,
    over_usage: { rate: actions ? round(over / actions, 4) : null, actions, over, over_harvest: overHarvest },
    commons: { stock: last.stock, collapsed_at: survived.collapsed_at, sustainable_harvest_at_start: f0 },
  };
}
