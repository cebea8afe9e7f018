// Reads GET /epochs into one shape for the charts. Pure (no DOM), so Node tests import it too.
// It accepts the flat stats ({applied, rejected, rejected_by_code, unmet_need, deficit_actors,
// llm_tokens}) and the runner's nested ones ({proposals: {...}, deficit: {actors, unmet},
// llm: {total_tokens}}), and a body with `runs` or a single `run`.

const object = (v) => (v && typeof v === 'object' && !Array.isArray(v) ? v : {});
const number = (v) =>
  typeof v === 'number' && Number.isFinite(v) ? v : Number.isFinite(Number(v)) && v !== null && v !== '' ? Number(v) : 0;
const numbers = (v) => Object.fromEntries(Object.entries(object(v)).map(([k, n]) => [k, number(n)]));

/** One run as the charts name it. */
function runOf(run) {
  const r = object(run);
  return {
    id: r.run_id ?? r.id ?? null,
    scenario: r.scenario ?? null,
    strategy: r.strategy ?? null,
    seed: r.seed ?? null,
    started_at: r.started_at ?? null,
    status: r.status ?? null,
  };
}

/**
 * { runs, runId, epochs: [{ epoch, applied, rejected, rejectedByCode, supply, gini, unmet,
 * deficitActors, tokens, cost, alive, total, actorSurvivalRate, needMet, payoffEquality, overUsage,
 * stock, finishedAt }] } in epoch order; alive, actorSurvivalRate, needMet, payoffEquality and
 * overUsage are null where the stats lack them (stats stored before these names carry survival,
 * efficiency and equality, read as the same figures). Epochs without stats yet are left out.
 */
export function normalizeEpochs(body) {
  const b = object(body);
  const runs = (Array.isArray(b.runs) ? b.runs : b.run ? [b.run] : []).map(runOf).filter((r) => r.id);
  const rows = Array.isArray(b.epochs) ? b.epochs : [];
  const epochs = rows
    .map((row) => {
      const e = object(row);
      const s = object(e.stats);
      if (Object.keys(s).length === 0) return null;
      const p = object(s.proposals);
      const deficit = object(s.deficit);
      const llm = object(s.llm);
      const survival = s.actor_survival ?? s.survival;
      const needMet = s.need_met ?? s.efficiency;
      const payoffEquality = s.payoff_equality ?? s.equality;
      const overUsage = s.commons ? object(s.commons).over_usage_rate : null;
      return {
        runId: e.run_id ?? null,
        epoch: number(e.epoch ?? s.epoch),
        applied: number(s.applied ?? p.applied),
        rejected: number(s.rejected ?? p.rejected),
        rejectedByCode: numbers(s.rejected_by_code ?? p.rejected_by_code),
        supply: numbers(s.supply),
        gini: numbers(s.gini),
        unmet: numbers(s.unmet_need ?? deficit.unmet),
        deficitActors: number(s.deficit_actors ?? deficit.actors),
        tokens: number(s.llm_tokens ?? llm.total_tokens),
        cost: number(llm.cost_usd),
        alive: survival ? number(object(survival).alive) : null,
        actorSurvivalRate: survival ? number(object(survival).rate) : null,
        needMet: needMet === undefined || needMet === null ? null : number(needMet),
        payoffEquality: payoffEquality === undefined || payoffEquality === null ? null : number(payoffEquality),
        overUsage: overUsage === undefined || overUsage === null ? null : number(overUsage),
        total: survival ? number(object(survival).total) : null,
        stock: numbers(object(s.commons).stock),
        finishedAt: e.finished_at ?? null,
      };
    })
    .filter(Boolean)
    .sort((x, y) => x.epoch - y.epoch);
  const runId = runs[0]?.id ?? epochs[0]?.runId ?? null;
  return { runs, runId, epochs };
}

/** The union of the keys of one field over all epochs, sorted: the series of a chart. */
export function keysOf(epochs, field) {
  return [...new Set(epochs.flatMap((e) => Object.keys(e[field])))].sort();
}
