import type { Db } from '../db/db.ts';
import type { EpisodeSpec, ExperimentSpec } from './spec.ts';

/**
 * The experiment's record (migration 000130): which episodes exist and how each one stands. The
 * queue only hands episodes out; this record decides what is finished, and fences a worker whose
 * lease another has taken over (every write names the attempt it belongs to).
 */

export interface ExperimentRow {
  id: string;
  command: string;
  spec: ExperimentSpec;
  created_at: Date;
  finished_at: Date | null;
}

export interface EpisodeRow extends EpisodeSpec {
  experiment_id: string;
  status: 'queued' | 'running' | 'finished' | 'failed';
  attempt: number;
  database: string | null;
  worker: string | null;
  run_id: string | null;
  epochs_done: number;
  cost_usd: number;
  error: string | null;
  started_at: Date | null;
  finished_at: Date | null;
}

const EPISODE_COLUMNS = `episode_id::text, experiment_id::text, ordinal, scenario, strategy, seed, status, attempt, database, worker,
  run_id::text, epochs_done, cost_usd::float8 AS cost_usd, error, started_at, finished_at`;

/** Records the experiment and its episodes; a second call with the same id adds nothing. */
export async function recordExperiment(db: Db, id: string, command: string, spec: ExperimentSpec, episodes: EpisodeSpec[]): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.query('INSERT INTO experiments (id, command, spec) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING', [
      id,
      command,
      JSON.stringify(spec),
    ]);
    await tx.query(
      `INSERT INTO experiment_episodes (episode_id, experiment_id, ordinal, scenario, strategy, seed)
       SELECT e.episode_id, $1, e.ordinal, e.scenario, e.strategy, e.seed
         FROM jsonb_to_recordset($2::jsonb) AS e(episode_id uuid, ordinal int, scenario text, strategy text, seed text)
       ON CONFLICT (episode_id) DO NOTHING`,
      [id, JSON.stringify(episodes)],
    );
  });
}

export async function getExperiment(db: Db, id: string): Promise<ExperimentRow | undefined> {
  const { rows } = await db.query<ExperimentRow>('SELECT id::text, command, spec, created_at, finished_at FROM experiments WHERE id = $1', [
    id,
  ]);
  return rows[0];
}

export async function listEpisodes(db: Db, experimentId: string): Promise<EpisodeRow[]> {
  const { rows } = await db.query<EpisodeRow>(
    `SELECT ${EPISODE_COLUMNS} FROM experiment_episodes WHERE experiment_id = $1 ORDER BY ordinal`,
    [experimentId],
  );
  return rows;
}

export async function getEpisode(db: Db, episodeId: string): Promise<EpisodeRow | undefined> {
  const { rows } = await db.query<EpisodeRow>(`SELECT ${EPISODE_COLUMNS} FROM experiment_episodes WHERE episode_id = $1`, [episodeId]);
  return rows[0];
}

/** The newest finished episode that ran this run, for tools that take a run id. */
export async function episodeOfRun(db: Db, runId: string): Promise<EpisodeRow | undefined> {
  const { rows } = await db.query<EpisodeRow>(
    `SELECT ${EPISODE_COLUMNS} FROM experiment_episodes WHERE run_id = $1 AND status = 'finished' ORDER BY finished_at DESC LIMIT 1`,
    [runId],
  );
  return rows[0];
}

/**
 * Starts a new attempt of an episode that is not finished: returns the attempt number and the
 * previous attempt's database (to drop), or undefined when the episode is finished or failed.
 */
export async function beginAttempt(
  db: Db,
  episodeId: string,
  worker: string,
  databaseFor: (attempt: number) => string,
): Promise<{ attempt: number; database: string; previous: string | null } | undefined> {
  return db.transaction(async (tx) => {
    const { rows } = await tx.query<{ attempt: number; status: string; database: string | null }>(
      'SELECT attempt, status, database FROM experiment_episodes WHERE episode_id = $1 FOR UPDATE',
      [episodeId],
    );
    const row = rows[0];
    if (!row || row.status === 'finished' || row.status === 'failed') return undefined;
    const attempt = row.attempt + 1;
    const database = databaseFor(attempt);
    await tx.query(
      `UPDATE experiment_episodes SET status = 'running', attempt = $2, database = $3, worker = $4, run_id = NULL,
              epochs_done = 0, cost_usd = 0, error = NULL, started_at = now(), finished_at = NULL
        WHERE episode_id = $1`,
      [episodeId, attempt, database, worker],
    );
    return { attempt, database, previous: row.database };
  });
}

/** Progress of the current attempt; false when another attempt has taken the episode over. */
export async function recordProgress(
  db: Db,
  episodeId: string,
  attempt: number,
  progress: { run_id?: string; epochs_done?: number; cost_usd?: number },
): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE experiment_episodes SET run_id = coalesce($3, run_id), epochs_done = coalesce($4, epochs_done), cost_usd = coalesce($5, cost_usd)
      WHERE episode_id = $1 AND attempt = $2 AND status = 'running'`,
    [episodeId, attempt, progress.run_id ?? null, progress.epochs_done ?? null, progress.cost_usd ?? null],
  );
  return rowCount === 1;
}

/** Whether this attempt is still the episode's current, running one. */
export async function holdsAttempt(db: Db, episodeId: string, attempt: number): Promise<boolean> {
  const { rowCount } = await db.query("SELECT 1 FROM experiment_episodes WHERE episode_id = $1 AND attempt = $2 AND status = 'running'", [
    episodeId,
    attempt,
  ]);
  return rowCount === 1;
}

/** Ends the current attempt (finished, or failed for good); false when it was not the current one. */
export async function endAttempt(
  db: Db,
  episodeId: string,
  attempt: number,
  status: 'finished' | 'failed' | 'queued',
  error?: string,
): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE experiment_episodes SET status = $3, error = $4, finished_at = CASE WHEN $3 = 'queued' THEN NULL ELSE now() END
      WHERE episode_id = $1 AND attempt = $2 AND status = 'running'`,
    [episodeId, attempt, status, error ?? null],
  );
  return rowCount === 1;
}

export async function markExperimentFinished(db: Db, id: string): Promise<void> {
  await db.query('UPDATE experiments SET finished_at = coalesce(finished_at, now()) WHERE id = $1', [id]);
}
