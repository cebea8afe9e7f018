import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { after, before, test } from 'node:test';
import { defineExperiment, type ExperimentContext } from '../../src/experiments/experiment.ts';
import { episodeDatabaseName } from '../../src/experiments/databases.ts';
import { listEpisodes } from '../../src/experiments/registry.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { BIN } from '../support/validator.ts';
import { waitUntil } from '../support/wait.ts';
import { dropEpisodes, EXPERIMENT_ENV, experimentContext, scenario } from './support.ts';

let t: TestDatabase;
let ctx: ExperimentContext;
let experimentId: string | undefined;
const children: ChildProcess[] = [];

before(async () => {
  t = await createTestDatabase();
  ctx = await experimentContext(t);
});

after(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  if (experimentId) await dropEpisodes(t, experimentId);
  await t?.drop();
});

function joinWorker(id: string): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [BIN, 'experiment', '--join', id, '--concurrency', '1'], {
    // A lease long enough for a busy machine, short enough that the takeover comes soon.
    env: {
      ...process.env,
      ...EXPERIMENT_ENV,
      GRIDGOV_EXPERIMENT_LEASE_SECONDS: '10',
      DATABASE_URL: t.url,
      LOG_LEVEL: process.env.TEST_WORKER_LOG_LEVEL ?? 'warn',
      LOG_FORMAT: 'pretty',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

test('two workers share an experiment; one is killed mid-episode and the other finishes its episode on a fresh database', async () => {
  const commons = await scenario('commons');
  const experiment = await defineExperiment(ctx, 'workers', {
    scenarios: [commons],
    strategies: ['heuristic'],
    seeds: ['1', '2'],
    epochs: 6,
  });
  experimentId = experiment.id;
  const doomed = joinWorker(experiment.id);
  const survivor = joinWorker(experiment.id);
  const doomedName = `:${doomed.child.pid}`;

  let victim: string | undefined;
  await waitUntil(
    async () => {
      const episodes = await listEpisodes(t.db, experiment.id);
      victim = episodes.find((e) => e.status === 'running' && e.worker?.endsWith(doomedName) && e.epochs_done >= 1)?.episode_id;
      return victim !== undefined;
    },
    'the first worker to be part-way through an episode',
    { timeoutMs: 180_000, pollMs: 100 },
  );
  doomed.child.kill('SIGKILL');
  assert.equal(await doomed.exited, null, 'killed, not ended');

  const code = await survivor.exited;
  assert.equal(code, 0, survivor.output());
  const episodes = await listEpisodes(t.db, experiment.id);
  assert.deepEqual(
    episodes.map((e) => [e.status, e.epochs_done]),
    [
      ['finished', 6],
      ['finished', 6],
    ],
  );
  const taken = episodes.find((e) => e.episode_id === victim)!;
  assert.ok(taken.attempt >= 2, `the killed attempt was followed by another (attempt ${taken.attempt})`);
  assert.ok(taken.worker?.endsWith(`:${survivor.child.pid}`), `the survivor finished it (worker ${taken.worker})`);
  assert.equal(taken.database, episodeDatabaseName(taken.episode_id, taken.attempt));
  const earlier = Array.from({ length: taken.attempt - 1 }, (_, i) => episodeDatabaseName(taken.episode_id, i + 1));
  const { rows } = await t.db.query('SELECT datname FROM pg_database WHERE datname = ANY($1)', [earlier]);
  assert.deepEqual(rows, [], `the dead attempt's world was dropped, not continued\n${survivor.output()}`);
});
