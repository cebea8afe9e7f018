import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import type { Db } from '../db/db.ts';
import { databaseUrl } from '../db/embedded.ts';
import { episodePool, type EpisodeServer } from './databases.ts';
import { openEpisodeQueue, type EpisodeQueue } from './queue.ts';
import {
  episodeOfRun,
  getExperiment,
  listEpisodes,
  markExperimentFinished,
  recordExperiment,
  type EpisodeRow,
  type ExperimentRow,
} from './registry.ts';
import { buildManifest, getManifest, recordManifest } from './manifest.ts';
import { resolveModels } from './models.ts';
import { writeFileAtomic } from './tables.ts';
import { episodesOf, experimentIdFor, type ExperimentSpec } from './spec.ts';
import type { EpisodeData, EpisodeMeta, ExperimentMeta } from './types.ts';

/** Everything an experiment works with: the record's database, the server episodes live on. */
export interface ExperimentContext {
  /** The owning login's pool on the configured database, which holds the record and the queue. */
  control: Db;
  server: EpisodeServer;
  config: Readonly<Config>;
  logger: Logger;
}

/** Reads finished episodes and writes the experiment's files (src/experiments/export.ts). */
export interface Exporter {
  collect(db: Db, episode: EpisodeMeta): Promise<EpisodeData>;
  write(dir: string, episodes: EpisodeData[], meta: ExperimentMeta): Promise<void>;
}

/**
 * Records an experiment and queues its episodes. The id follows from what is asked (and the
 * database that holds the record), so asking again resumes it: finished episodes stay finished,
 * and queueing again adds no job that exists.
 */
export async function defineExperiment(ctx: ExperimentContext, command: string, spec: ExperimentSpec): Promise<ExperimentRow> {
  const { rows } = await ctx.control.query<{ name: string }>('SELECT current_database() AS name');
  // The models are recorded with the experiment: another model, setting or price is another experiment.
  if (!spec.models) spec = { ...spec, models: resolveModels(spec.strategies, ctx.config.agents) };
  const id = experimentIdFor(spec, rows[0]!.name);
  await recordExperiment(ctx.control, id, command, spec, episodesOf(id, spec));
  await recordManifest(ctx.control, buildManifest(id, command, spec, ctx.config.validatorVersion));
  const queue = await openQueue(ctx, id);
  try {
    await queue.enqueue((await listEpisodes(ctx.control, id)).filter((e) => e.status !== 'finished').map((e) => e.episode_id));
  } finally {
    await queue.stop();
  }
  return (await getExperiment(ctx.control, id))!;
}

export function openQueue(ctx: ExperimentContext, experimentId: string): Promise<EpisodeQueue> {
  return openEpisodeQueue(ctx.server.ownerUrl, ctx.control, experimentId, ctx.config.experiments, ctx.logger);
}

export function episodeMeta(experiment: ExperimentRow, e: EpisodeRow): EpisodeMeta {
  return {
    experiment_id: experiment.id,
    episode_id: e.episode_id,
    scenario: e.scenario,
    strategy: e.strategy,
    seed: e.seed,
    model: experiment.spec.models?.[e.strategy] ?? null,
    epochs: e.epochs_done,
    run_id: e.run_id ?? '',
    database: e.database ?? '',
    status: e.status === 'finished' ? 'finished' : 'failed',
    cost_usd: e.cost_usd,
    started_at: e.started_at?.toISOString() ?? '',
    finished_at: e.finished_at?.toISOString() ?? '',
  };
}

/** Collects every ended episode (a failed one without data) and writes the files to dir. */
export async function exportExperiment(
  ctx: ExperimentContext,
  experiment: ExperimentRow,
  exporter: Exporter,
  dir: string,
): Promise<number> {
  const all = await listEpisodes(ctx.control, experiment.id);
  const ended = all.filter((e) => e.status === 'finished' || e.status === 'failed');
  const open = all.filter((e) => e.status !== 'finished' && e.status !== 'failed');
  const data: EpisodeData[] = [];
  for (const e of ended) {
    const meta = episodeMeta(experiment, e);
    if (e.status !== 'finished' || !e.database) {
      data.push({ meta, runs: [], epochs: [], agents: [], rejections: [] });
      continue;
    }
    const db = episodePool(databaseUrl(ctx.server.ownerUrl, e.database), ctx.server, 2);
    try {
      data.push(await exporter.collect(db, meta));
    } finally {
      await db.close();
    }
  }
  const { rows } = await ctx.control.query<{ version: string }>("SELECT current_setting('server_version') AS version");
  const finished = data.map((d) => d.meta.finished_at).sort();
  await exporter.write(dir, data, {
    experiment_id: experiment.id,
    command: experiment.command,
    versions: { gridgov: ctx.config.validatorVersion, node: process.version, postgresql: rows[0]?.version ?? 'unknown' },
    started_at: experiment.created_at.toISOString(),
    finished_at: finished[finished.length - 1] ?? new Date().toISOString(),
    ...(open.length
      ? { not_run: open.map((e) => ({ scenario: e.scenario, strategy: e.strategy, seed: e.seed, epochs_done: e.epochs_done })) }
      : {}),
  });
  const manifest = await getManifest(ctx.control, experiment.id);
  if (manifest) {
    await mkdir(dir, { recursive: true });
    await writeFileAtomic(join(dir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  }
  if (ended.length === (await listEpisodes(ctx.control, experiment.id)).length) await markExperimentFinished(ctx.control, experiment.id);
  return data.length;
}

/**
 * The world a run lives in: the configured database when the run is there, else the database of
 * the newest finished episode that ran it. The caller closes the pool it gets.
 */
export async function findRunWorld(ctx: ExperimentContext, runId: string): Promise<{ db: Db; where: string; own: boolean } | undefined> {
  const { rowCount } = await ctx.control.query('SELECT 1 FROM runs WHERE id = $1', [runId]);
  if (rowCount === 1) return { db: ctx.control, where: 'the configured database', own: false };
  const episode = await episodeOfRun(ctx.control, runId);
  if (!episode?.database) return undefined;
  return {
    db: episodePool(databaseUrl(ctx.server.ownerUrl, episode.database), ctx.server, 2),
    where: `episode ${episode.episode_id} (database ${episode.database})`,
    own: true,
  };
}
