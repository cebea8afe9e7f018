import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { SettlementSummary } from '../domain/economy.ts';
import { runSummary, type AgentEpochStats, type EpochStats } from '../domain/stats.ts';
import type { Db } from '../db/db.ts';
import { writeReport } from './report.ts';
import { episodeOrder } from './summary.ts';
import { EXPORT_COLUMNS } from './columns.ts';
import { csvText, parquetBytes, withExtraColumns, writeFileAtomic, type Table } from './tables.ts';
import type { EpisodeData, EpisodeMeta, ExperimentMeta } from './types.ts';

type Row = Record<string, unknown>;

const total = (r: Record<string, number> | undefined) => round6(Object.values(r ?? {}).reduce((a, b) => a + b, 0));
const round6 = (v: number) => Math.round(v * 1e6) / 1e6;
const prefixed = (prefix: string, r: Record<string, number> | undefined) =>
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
  const { rows: runs } = await db.query<{ started_at: Date; ended_at: Date | null }>(
    'SELECT started_at, ended_at FROM runs WHERE id = $1',
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
  return {
    meta: episode,
    runs: [runRow(key, episode, stats, runs[0])],
    epochs: epochRows.map((r) => epochRow(key, r)),
    agents: epochRows.flatMap((r) => agentRows(key, r)),
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
    survival_rate: s.survival.rate,
    survival_time: s.survival.time,
    alive: s.survival.alive,
    total_actors: s.survival.total,
    efficiency: s.efficiency,
    equality: s.equality,
    gini_payoff: round6(1 - s.equality),
    over_usage: s.over_usage ? total(s.over_usage.amount) : null,
    over_usage_rate: s.over_usage?.rate ?? null,
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
  const s = r.stats;
  const commons = s.commons;
  return {
    ...key,
    epoch: r.epoch,
    alive: s.survival?.alive ?? null,
    total_actors: s.survival?.total ?? null,
    survival_rate: s.survival?.rate ?? null,
    efficiency: s.efficiency ?? null,
    equality: s.equality ?? null,
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
    over_usage: commons ? total(commons.over_usage) : null,
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
  };
}

/** Each agent's row for one epoch; epochs recorded before stats carried `agents` give payoff and deficit only. */
function agentRows(key: Row, r: EpochDbRow): Row[] {
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
      failed: a?.failed ?? failed.has(agent),
      payoff: a?.payoff ?? s.payoff?.[agent] ?? null,
      deficit: a ? total(a.unmet) : (unmet.get(agent) ?? 0),
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
