import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { SettlementSummary } from '../domain/economy.ts';
import { runSummary } from '../domain/run-summary.ts';
import type { AgentEpochStats, EpochStats, StoredEpochStats } from '../domain/stats.ts';
import type { Db } from '../db/db.ts';
import { writeReport } from './report.ts';
import { episodeOrder } from './summary.ts';
import { kindLabel, parsePopulation } from './spec.ts';
import type { Scenario } from '../domain/scenario.ts';
import { EXPORT_COLUMNS } from './columns.ts';
import { csvText, parquetBytes, withExtraColumns, writeFileAtomic, type Table } from './tables.ts';
import type { EpisodeData, EpisodeMeta, ExperimentMeta } from './types.ts';

type Row = Record<string, unknown>;

const total = (r: Record<string, number> | undefined) => round6(Object.values(r ?? {}).reduce((a, b) => a + b, 0));
const round6 = (v: number) => Math.round(v * 1e6) / 1e6;
/** The total of the figures that apply; null when none does (every resource collapsed). */
const totalOrNull = (r: Record<string, number | null>) => {
  const known = Object.values(r).filter((v): v is number => v !== null);
  return known.length ? round6(known.reduce((a, b) => a + b, 0)) : null;
};

const prefixed = (prefix: string, r: Record<string, number | null> | undefined) =>
  Object.fromEntries(Object.entries(r ?? {}).map(([k, v]) => [`${prefix}_${k}`, v]));
const iso = (d: Date | null) => d?.toISOString() ?? null;

interface EpochDbRow {
  epoch: number;
  started_at: Date;
  finished_at: Date;
  settlement: SettlementSummary | null;
  stats: EpochStats & { duration_ms?: number };
}

/**
 * Reads one finished episode out of its database (one episode is one run): its summary, each
 * epoch, each agent in each epoch and each rejected proposal. Epochs count when their stats are
 * recorded; a failed episode exports what it finished.
 */
export async function collectEpisode(db: Db, episode: EpisodeMeta): Promise<EpisodeData> {
  const key: Row = {
    experiment_id: episode.experiment_id,
    episode_id: episode.episode_id,
    scenario: episode.scenario,
    strategy: episode.strategy,
    seed: episode.seed,
    run_id: episode.run_id,
    ...modelColumns(episode),
  };
  const { rows: runs } = await db.query<{ started_at: Date; ended_at: Date | null; definition: Scenario }>(
    'SELECT started_at, ended_at, definition FROM runs WHERE id = $1',
    [episode.run_id],
  );
  if (!runs[0]) throw new Error(`episode ${episode.episode_id}: database ${episode.database} holds no run ${episode.run_id}`);
  const { rows: epochRows } = await db.query<EpochDbRow>(
    `SELECT epoch, started_at, finished_at, settlement, stats FROM epochs
      WHERE run_id = $1 AND finished_at IS NOT NULL ORDER BY epoch`,
    [episode.run_id],
  );
  const { rows: rejected } = await db.query<{
    proposal_id: string;
    code: string;
    message: string;
    metadata: Record<string, unknown> | null;
    rejected_at: Date;
  }>(
    `SELECT proposal_id::text, validation_error_code AS code, message, proposal_json->'metadata' AS metadata, rejected_at
       FROM rejected_proposals WHERE proposal_json->'metadata'->>'run_id' = $1 ORDER BY rejected_at, proposal_id`,
    [episode.run_id],
  );
  const stats = epochRows.map((r) => r.stats);
  const kinds = agentKinds(runs[0].definition, episode.strategy);
  return {
    meta: episode,
    runs: [runRow(key, episode, stats, runs[0])],
    epochs: epochRows.map((r) => epochRow(key, r)),
    agents: epochRows.flatMap((r) => agentRows(key, r, kinds)),
    rejections: rejected.map((r) => {
      const m = r.metadata ?? {};
      const text = (v: unknown) => (typeof v === 'string' ? v : null);
      const int = (v: unknown) => (typeof v === 'number' && Number.isInteger(v) ? v : null);
      return {
        ...key,
        epoch: int(m.epoch),
        agent: text(m.agent),
        slot: int(m.slot),
        proposal_id: r.proposal_id,
        code: r.code,
        message: r.message,
        kind: text(m.kind),
        counterparty: text(m.counterparty),
        rejected_at: iso(r.rejected_at),
      };
    }),
  };
}

/** The model columns of every row; the runs table's fixed columns put them last. */
function modelColumns(episode: EpisodeMeta): Row {
  const m = episode.model;
  return {
    provider: m?.provider ?? null,
    model: m?.model ?? null,
    temperature: m?.temperature ?? null,
    price_input_per_mtok: m?.price_input_per_mtok ?? null,
    price_output_per_mtok: m?.price_output_per_mtok ?? null,
  };
}

function runRow(key: Row, episode: EpisodeMeta, stats: EpochStats[], run: { started_at: Date; ended_at: Date | null }): Row {
  const s = runSummary(stats);
  return {
    ...key,
    status: episode.status,
    epochs_planned: episode.epochs,
    epochs: s.epochs,
    survival_rate: s.survival?.rate ?? null,
    survival_time: s.survival?.time ?? null,
    alive: s.actor_survival.alive,
    total_actors: s.actor_survival.total,
    actor_survival_rate: s.actor_survival.rate,
    first_failure_at: s.actor_survival.first_failure_at,
    efficiency: s.efficiency,
    equality: s.equality,
    need_met: s.need_met,
    payoff_equality: s.payoff_equality,
    gini_payoff: s.payoff_equality === null ? null : round6(1 - s.payoff_equality),
    over_harvest: s.over_usage ? total(s.over_usage.over_harvest) : null,
    over_usage_rate: s.over_usage?.rate ?? null,
    harvest_actions: s.over_usage?.actions ?? null,
    harvested: s.gains ? total(s.gains) : null,
    sustainable_harvest_at_start: s.commons ? totalOrNull(s.commons.sustainable_harvest_at_start) : null,
    collapsed_at: s.commons?.collapsed_at ?? null,
    rounds_to_deal: s.rounds_to_deal,
    proposals_sent: s.proposals.sent,
    applied: s.proposals.applied,
    rejected: s.proposals.rejected,
    deals_sessions: s.deals.sessions,
    deals_agreed: s.deals.agreed,
    llm_calls: s.llm.calls,
    llm_errors: s.llm.errors,
    prompt_tokens: s.llm.prompt_tokens,
    completion_tokens: s.llm.completion_tokens,
    total_tokens: s.llm.total_tokens,
    cost_usd: s.llm.cost_usd,
    started_at: episode.started_at || iso(run.started_at),
    finished_at: episode.finished_at || iso(run.ended_at),
    llm_cache_hits: s.llm.cache_hits ?? null,
    llm_cache_hit_rate: s.llm.cache_hits !== undefined && s.llm.calls > 0 ? round6(s.llm.cache_hits / s.llm.calls) : null,
    llm_saved_usd: s.llm.saved_usd ?? null,
  };
}

function epochRow(key: Row, r: EpochDbRow): Row {
  const s: StoredEpochStats & { duration_ms?: number } = r.stats;
  const commons = s.commons;
  const survival = s.actor_survival ?? s.survival;
  return {
    ...key,
    epoch: r.epoch,
    alive: survival?.alive ?? null,
    total_actors: survival?.total ?? null,
    actor_survival_rate: survival?.rate ?? null,
    need_met: s.need_met ?? s.efficiency ?? null,
    payoff_equality: s.payoff_equality ?? s.equality ?? null,
    proposals_sent: s.proposals.sent,
    applied: s.proposals.applied,
    rejected: s.proposals.rejected,
    conflicts: s.proposals.conflicts,
    malformed: s.proposals.malformed,
    moves_pass: s.moves.pass,
    moves_transfer: s.moves.transfer,
    moves_offer: s.moves.offer,
    moves_invalid: s.moves.invalid,
    deals_sessions: s.negotiation.sessions,
    deals_agreed: s.negotiation.agreed,
    rounds_to_deal: s.rounds_to_deal,
    deficit_actors: s.deficit.actors,
    need: r.settlement ? total(r.settlement.need) : null,
    consumed: total(s.consumed),
    unmet: total(s.deficit.unmet),
    stock: commons ? total(commons.stock) : null,
    regrowth: commons ? total(commons.regrowth) : null,
    sustainable_harvest: commons?.sustainable_harvest ? totalOrNull(commons.sustainable_harvest) : null,
    harvest_requested: commons?.requested ? total(commons.requested) : null,
    harvested: commons ? total(commons.extracted) : null,
    over_harvest: commons?.over_harvest ? total(commons.over_harvest) : null,
    harvest_actions: commons?.harvest_actions ?? null,
    over_usage_actions: commons?.over_usage_actions ?? null,
    over_usage_rate: commons?.over_usage_rate ?? null,
    collapsed: commons ? commons.collapsed.length > 0 : null,
    llm_calls: s.llm.calls,
    prompt_tokens: s.llm.prompt_tokens,
    completion_tokens: s.llm.completion_tokens,
    total_tokens: s.llm.total_tokens,
    cost_usd: s.llm.cost_usd,
    duration_ms: typeof s.duration_ms === 'number' ? Math.round(s.duration_ms) : null,
    started_at: iso(r.started_at),
    finished_at: iso(r.finished_at),
    ...prefixed('supply', s.supply),
    ...prefixed('gini', s.gini),
    ...prefixed('price', s.prices),
    ...prefixed('unmet', s.deficit.unmet),
    ...prefixed('stock', commons?.stock),
    ...prefixed('regrowth', commons?.regrowth),
    ...prefixed('sustainable_harvest', commons?.sustainable_harvest),
    ...prefixed('harvested', commons?.extracted),
  };
}

/** Each agent's row for one epoch; epochs recorded before stats carried `agents` give payoff and deficit only. */
function agentRows(key: Row, r: EpochDbRow, kinds: ReadonlyMap<string, string>): Row[] {
  const s = r.stats;
  const unmet = new Map<string, number>();
  for (const d of r.settlement?.deficits ?? []) unmet.set(d.actor, round6((unmet.get(d.actor) ?? 0) + d.unmet));
  const failed = new Set(r.settlement?.failed ?? []);
  const names = [...new Set([...Object.keys(s.agents ?? {}), ...Object.keys(s.payoff ?? {})])].sort();
  return names.map((agent) => {
    const a: AgentEpochStats | undefined = s.agents?.[agent];
    return {
      ...key,
      epoch: r.epoch,
      agent,
      kind: kinds.get(agent) ?? null,
      failed: a?.failed ?? failed.has(agent),
      payoff: a?.payoff ?? s.payoff?.[agent] ?? null,
      deficit: a ? total(a.unmet) : (unmet.get(agent) ?? 0),
      harvest_requested: a?.harvest ? total(Object.fromEntries(Object.entries(a.harvest).map(([k, h]) => [k, h.requested]))) : null,
      harvest_granted: a?.harvest ? total(Object.fromEntries(Object.entries(a.harvest).map(([k, h]) => [k, h.granted]))) : null,
      moves_pass: a?.moves.pass ?? null,
      moves_transfer: a?.moves.transfer ?? null,
      moves_offer: a?.moves.offer ?? null,
      moves_invalid: a?.moves.invalid ?? null,
      proposals_sent: a?.proposals.sent ?? null,
      applied: a?.proposals.applied ?? null,
      rejected: a?.proposals.rejected ?? null,
      llm_calls: a?.llm.calls ?? s.llm.by_agent?.[agent]?.calls ?? null,
      total_tokens: a?.llm.total_tokens ?? s.llm.by_agent?.[agent]?.total_tokens ?? null,
      cost_usd: a?.llm.cost_usd ?? s.llm.by_agent?.[agent]?.cost_usd ?? null,
      ...prefixed('balance', a?.balances),
    };
  });
}

/** Each agent's kind (`heuristic:greedy`, `gemini`, …), from the run's scenario as the episode ran it. */
function agentKinds(definition: Scenario | null, strategy: string): Map<string, string> {
  const parts = parsePopulation(strategy);
  const override = parts.length === 1 && !parts[0]!.kind && parts[0]!.count === undefined ? parts[0]!.name : undefined;
  return new Map((definition?.actors ?? []).map((a) => [a.name, kindLabel(override ?? a.strategy ?? 'heuristic', a.character)]));
}

/** The four tables of an experiment, episodes in natural order. */
export function exportTables(episodes: readonly EpisodeData[]): Table[] {
  const sorted = [...episodes].sort((a, b) => episodeOrder(a.meta, b.meta));
  return (Object.keys(EXPORT_COLUMNS) as Array<keyof typeof EXPORT_COLUMNS>).map((name) =>
    withExtraColumns(
      name,
      EXPORT_COLUMNS[name],
      sorted.flatMap((e) => e[name]),
    ),
  );
}

/**
 * Writes DIR/{runs,epochs,agents,rejections}.{csv,parquet} and DIR/report.html for the episodes
 * collected so far; each file replaces the previous one whole. Returns the paths written.
 */
export async function writeExports(dir: string, episodes: readonly EpisodeData[], meta: ExperimentMeta): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const kv = { experiment_id: meta.experiment_id, command: meta.command, versions: JSON.stringify(meta.versions) };
  const written: string[] = [];
  for (const table of exportTables(episodes)) {
    const csv = join(dir, `${table.name}.csv`);
    const parquet = join(dir, `${table.name}.parquet`);
    await writeFileAtomic(csv, csvText(table));
    await writeFileAtomic(parquet, parquetBytes(table, kv));
    written.push(csv, parquet);
  }
  written.push(await writeReport(dir, episodes, meta));
  return written;
}
