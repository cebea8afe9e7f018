import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { databaseLayers } from '../agents/strategies.ts';
import { BudgetExhaustedError, createDbBudgetStore, type BudgetStore } from '../agents/budget.ts';
import { ConfigError, type Config } from '../config.ts';
import type { Db } from '../db/db.ts';
import { createEpisodeDatabase, dropEpisodeDatabase, episodeDatabaseName, type EpisodeServer } from './databases.ts';
import { runEpisode } from './episode.ts';
import type { EpisodeJob, EpisodeQueue } from './queue.ts';
import { beginAttempt, endAttempt, holdsAttempt, listEpisodes, recordProgress, type EpisodeRow, type ExperimentRow } from './registry.ts';

export interface WorkerDeps {
  control: Db;
  queue: EpisodeQueue;
  server: EpisodeServer;
  config: Readonly<Config>;
  logger: Logger;
}

export interface WorkOptions {
  concurrency: number;
  /**
   * Dollars: every model call reserves its estimated price against this budget, shared by all the
   * experiment's workers, and is refused when it would pass it; the episode it belongs to stops
   * there and goes back to the queue, and no episode starts once the budget is spent.
   */
  maxCost?: number;
  signal: AbortSignal;
  /** Called after every change worth showing (an epoch, an episode's end), with the record. */
  onChange?: (episodes: EpisodeRow[]) => void;
  pollMs?: number;
}

export type WorkEnd = 'done' | 'budget' | 'stopped';

export const workerName = () => `${hostname()}:${process.pid}`;

/**
 * Works on an experiment until none of its episodes is left to run: fetches episodes from the
 * queue, K at a time, and runs each on a fresh database. While an episode runs, its lease is
 * renewed; if the lease is lost (this process stalled and another worker took over), the episode
 * is abandoned. Returns 'done' when every episode is finished or failed, 'budget' when --max-cost
 * stopped new starts, 'stopped' on the signal.
 */
export async function workExperiment(deps: WorkerDeps, experiment: ExperimentRow, options: WorkOptions): Promise<WorkEnd> {
  const running = new Set<Promise<void>>();
  const { control, queue, logger } = deps;
  const budget = options.maxCost !== undefined ? createDbBudgetStore(control, experiment.id, options.maxCost) : undefined;
  let budgetHit = false;
  const poll = options.pollMs ?? 1000;
  const changed = async () => options.onChange?.(await listEpisodes(control, experiment.id));
  let fatal: Error | undefined;
  while (!options.signal.aborted && fatal === undefined) {
    const episodes = await listEpisodes(control, experiment.id);
    options.onChange?.(episodes);
    const open = episodes.filter((e) => e.status === 'queued' || e.status === 'running');
    if (open.length === 0 && running.size === 0) return 'done';
    const overBudget = budget !== undefined && (budgetHit || (await budget.spent()) >= budget.maxUsd);
    if (overBudget && running.size === 0) return 'budget';
    const free = options.concurrency - running.size;
    const jobs = overBudget || free <= 0 ? [] : await queue.fetch(free);
    for (const job of jobs) {
      const task = runJob(deps, experiment, job, options.signal, changed, budget).catch((error: unknown) => {
        // Only a configuration problem stops the worker: every episode would fail the same way.
        if (error instanceof ConfigError) fatal = error;
        else if (error instanceof BudgetExhaustedError) {
          budgetHit = true;
          logger.warn({ episode_id: job.episode_id, reason: error.message }, 'the budget stopped the episode; it stays queued');
        } else logger.error({ err: error, episode_id: job.episode_id }, 'the episode could not be run');
      });
      running.add(task);
      void task.finally(() => running.delete(task));
    }
    if (jobs.length === 0 && running.size === 0 && (await queue.pending()) === 0) {
      // Nothing queued, nothing running here or anywhere: what is still open ran out of attempts.
      for (const e of open)
        await endAttempt(control, e.episode_id, e.attempt, 'failed', 'no attempts left (its workers stopped or failed)');
      continue;
    }
    const wait = sleep(poll, undefined, { signal: options.signal }).catch(() => undefined);
    await Promise.race([wait, ...running]);
  }
  await Promise.allSettled([...running]);
  if (fatal !== undefined) throw fatal;
  return 'stopped';
}

/** One fetched episode: a new attempt on a fresh database, its lease renewed while it runs. */
async function runJob(
  deps: WorkerDeps,
  experiment: ExperimentRow,
  job: EpisodeJob,
  stop: AbortSignal,
  changed: () => Promise<void>,
  budget: BudgetStore | undefined,
): Promise<void> {
  const { control, queue, server, config } = deps;
  const logger = deps.logger.child({ episode_id: job.episode_id });
  const begun = await beginAttempt(control, job.episode_id, workerName(), (n) => episodeDatabaseName(job.episode_id, n));
  if (!begun) {
    await queue.complete(job); // finished (or failed for good) already: nothing to repeat
    return;
  }
  const { attempt } = begun;
  const episode = (await listEpisodes(control, experiment.id)).find((e) => e.episode_id === job.episode_id)!;
  const lost = new AbortController();
  const signal = AbortSignal.any([stop, lost.signal]);
  // The record decides whose attempt this is (the queue's job keeps its id across attempts): a
  // worker that stalled past its lease learns here that another has taken the episode over.
  const renew = setInterval(
    () =>
      void (async () => {
        if (!(await holdsAttempt(control, job.episode_id, attempt))) lost.abort(new Error('the episode passed to another worker'));
        else if (!(await queue.heartbeat(job))) lost.abort(new Error('the lease on this episode lapsed'));
      })().catch((error: unknown) => logger.warn({ err: error }, 'could not renew the lease on the episode')),
    Math.max(500, (config.experiments.leaseSeconds * 1000) / 3),
  );
  renew.unref();
  try {
    // The previous attempt's world is abandoned, never continued: this one starts afresh.
    if (begun.previous) await dropEpisodeDatabase(server, begun.previous);
    const database = await createEpisodeDatabase(server, begun.database);
    const result = await runEpisode({
      server,
      database,
      config,
      logger,
      spec: experiment.spec,
      episode,
      signal,
      cache: { ...databaseLayers(control, config.agents.cache), ...(budget ? { budget } : {}) },
      onRun: (runId) => void recordProgress(control, job.episode_id, attempt, { run_id: runId }).catch(() => undefined),
      onEpoch: (stats, spentUsd) =>
        void recordProgress(control, job.episode_id, attempt, { epochs_done: stats.epoch, cost_usd: spentUsd })
          .then(changed)
          .catch(() => undefined),
    });
    await recordProgress(control, job.episode_id, attempt, { run_id: result.run_id, cost_usd: result.cost_usd });
    if (await endAttempt(control, job.episode_id, attempt, 'finished')) await queue.complete(job);
    await changed();
  } catch (error) {
    const message = (error as Error).message;
    if (lost.signal.aborted && !stop.aborted) {
      logger.warn({ reason: (lost.signal.reason as Error).message }, 'this attempt of the episode is abandoned');
      return;
    }
    // Stopped here (by the signal or the budget), or failed: back to the queue while attempts remain, else failed for good.
    const halted = stop.aborted || error instanceof BudgetExhaustedError;
    const last = !halted && job.retryCount >= job.retryLimit;
    // Only the current attempt hands the job back; a fenced-out one leaves it to its new holder.
    if (!(await endAttempt(control, job.episode_id, attempt, last ? 'failed' : 'queued', message))) return;
    await queue.fail(job, message);
    if (!halted)
      logger.error({ err: error, attempt }, last ? 'the episode failed on its last attempt' : 'the episode failed; it is retried');
    if (error instanceof ConfigError || error instanceof BudgetExhaustedError) throw error;
  } finally {
    clearInterval(renew);
  }
}
