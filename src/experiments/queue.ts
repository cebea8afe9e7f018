import PgBoss from 'pg-boss';
import type { Logger } from 'pino';
import type { Db } from '../db/db.ts';

/**
 * The episode queue: pg-boss, in the configured database (schema `pgboss`), one queue per
 * experiment. A worker fetches an episode (`FOR UPDATE SKIP LOCKED`), which then holds a lease:
 * pg-boss's expiry, renewed by the worker's heartbeat while the episode runs. A worker that dies
 * stops renewing; pg-boss's maintenance fails the job once the lease runs out and puts it back for
 * another worker to fetch (up to `retries` more times).
 */

export interface QueueSettings {
  leaseSeconds: number;
  sweepSeconds: number;
  retries: number;
}

export interface EpisodeJob {
  id: string;
  episode_id: string;
  /** How many times the job was fetched before this one. */
  retryCount: number;
  retryLimit: number;
}

export interface EpisodeQueue {
  /** Queues episodes, to be handed out in the order given. */
  enqueue(episodeIds: string[]): Promise<void>;
  fetch(count: number): Promise<EpisodeJob[]>;
  complete(job: EpisodeJob): Promise<void>;
  fail(job: EpisodeJob, message: string): Promise<void>;
  /** Extends the job's lease; false when it is no longer this worker's (expired and handed on). */
  heartbeat(job: EpisodeJob): Promise<boolean>;
  /** Jobs not yet completed or failed for good (waiting, to retry, or running). */
  pending(): Promise<number>;
  stop(): Promise<void>;
}

const SCHEMA = 'pgboss';

export function queueName(experimentId: string): string {
  return `experiment-${experimentId}`;
}

export async function openEpisodeQueue(
  ownerUrl: string,
  control: Db,
  experimentId: string,
  settings: QueueSettings,
  logger: Pick<Logger, 'warn'>,
): Promise<EpisodeQueue> {
  const boss = new PgBoss({
    connectionString: ownerUrl,
    schema: SCHEMA,
    max: 3,
    application_name: 'gridgov-experiment-queue',
    schedule: false,
    supervise: true,
    maintenanceIntervalSeconds: settings.sweepSeconds,
  });
  boss.on('error', (error: Error) => logger.warn({ err: error }, 'the episode queue reported an error'));
  await boss.start();
  const name = queueName(experimentId);
  if (!(await boss.getQueue(name))) {
    await boss
      .createQueue(name, {
        name,
        retryLimit: settings.retries,
        retryDelay: 0,
        expireInSeconds: settings.leaseSeconds,
        retentionMinutes: 60 * 24 * 14,
      })
      .catch(async (error: unknown) => {
        if (!(await boss.getQueue(name))) throw error; // another worker created it first otherwise
      });
  }
  return {
    async enqueue(episodeIds) {
      // The job's id is the episode's: queueing an experiment again adds nothing while its jobs exist.
      await boss.insert(episodeIds.map((id, i) => ({ id, name, priority: episodeIds.length - i, data: { episode_id: id } })));
    },
    async fetch(count) {
      const jobs = await boss.fetch<{ episode_id: string }>(name, { batchSize: count, includeMetadata: true });
      return jobs.map((j) => ({ id: j.id, episode_id: j.data.episode_id, retryCount: j.retryCount, retryLimit: j.retryLimit }));
    },
    complete: (job) => boss.complete(name, job.id),
    fail: (job, message) => boss.fail(name, job.id, { message }),
    async heartbeat(job) {
      // pg-boss expires an active job at started_on + expire_in: moving expire_in renews the lease.
      const { rowCount } = await control.query(
        `UPDATE ${SCHEMA}.job SET expire_in = (now() - started_on) + make_interval(secs => $3)
          WHERE name = $1 AND id = $2 AND state = 'active'`,
        [name, job.id, settings.leaseSeconds],
      );
      return rowCount === 1;
    },
    pending: async () => (await boss.getQueueSize(name, { before: 'completed' })) ?? 0,
    stop: () => boss.stop({ graceful: false, wait: true }),
  };
}
