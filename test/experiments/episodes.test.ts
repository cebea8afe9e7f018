import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ConfigError } from '../../src/config.ts';
import type { Db } from '../../src/db/db.ts';
import { seededActors } from '../../src/domain/scenario.ts';
import { createEpisodeDatabase, dropEpisodeDatabase, episodeDatabaseName, episodePool } from '../../src/experiments/databases.ts';
import { runEpisode } from '../../src/experiments/episode.ts';
import { defineExperiment, exportExperiment, openQueue, type ExperimentContext, type Exporter } from '../../src/experiments/experiment.ts';
import { getEpisode, listEpisodes, type ExperimentRow } from '../../src/experiments/registry.ts';
import { readStoredRun } from '../../src/experiments/replay.ts';
import type { ExperimentSpec } from '../../src/experiments/spec.ts';
import type { EpisodeData, EpisodeMeta } from '../../src/experiments/types.ts';
import { workExperiment } from '../../src/experiments/worker.ts';
import { deriveId } from '../../src/domain/ids.ts';
import { ledgerDigest, runDigest } from '../../src/ledger/integrity/digest.ts';
import { databaseUrl } from '../../src/db/embedded.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { seedTestScenario } from '../support/scenario.ts';
import { runCli } from '../support/validator.ts';
import { dropEpisodes, EXPERIMENT_ENV, experimentContext, scenario } from './support.ts';

let live: TestDatabase;
let other: TestDatabase;
let ctx: ExperimentContext;
let otherCtx: ExperimentContext;
const experiments: Array<[TestDatabase, string]> = [];

before(async () => {
  live = await createTestDatabase();
  other = await createTestDatabase();
  await seedTestScenario(live.db);
  ctx = await experimentContext(live);
  otherCtx = await experimentContext(other);
});

after(async () => {
  for (const [t, id] of experiments) await dropEpisodes(t, id);
  await live?.drop();
  await other?.drop();
});

const balances = (db: Db) =>
  db.query('SELECT actor_id::text, resource, amount::text FROM balances ORDER BY actor_id, resource').then((r) => r.rows);

/** What the tests compare of an episode: its history and its epochs, without times or durations. */
const collector: Exporter['collect'] = async (db: Db, meta: EpisodeMeta): Promise<EpisodeData> => {
  const epochs = await db.query(
    `SELECT epoch, settlement, plan, (stats - 'duration_ms' - 'http_retries') AS stats FROM epochs WHERE run_id = $1 ORDER BY epoch`,
    [meta.run_id],
  );
  return { meta, runs: [{ digest: (await ledgerDigest(db)).digest }], epochs: epochs.rows, agents: [], rejections: [] };
};

function recordingExporter(): Exporter & { calls: Array<{ dir: string; episodes: EpisodeData[] }> } {
  const calls: Array<{ dir: string; episodes: EpisodeData[] }> = [];
  return { calls, collect: collector, write: async (dir, episodes) => void calls.push({ dir, episodes }) };
}

async function work(
  c: ExperimentContext,
  experiment: ExperimentRow,
  signal: AbortSignal,
  onChange?: Parameters<typeof workExperiment>[2]['onChange'],
) {
  const queue = await openQueue(c, experiment.id);
  try {
    return await workExperiment({ ...c, queue }, experiment, { concurrency: 1, signal, pollMs: 100, ...(onChange ? { onChange } : {}) });
  } finally {
    await queue.stop();
  }
}

test('two episodes of different scenarios run at once on one server never see each other, and the live world is unchanged', async () => {
  const before = { digest: await ledgerDigest(live.db), balances: await balances(live.db) };
  const [commons, drought] = await Promise.all([scenario('commons'), scenario('drought')]);
  const spec: ExperimentSpec = { scenarios: [commons, drought], strategies: ['heuristic'], seeds: ['3'], epochs: 3 };
  const names = [commons, drought].map((s, i) => episodeDatabaseName(deriveId('isolation', i), 1));
  const databases = await Promise.all(names.map((n) => createEpisodeDatabase(ctx.server, n)));
  try {
    const results = await Promise.all(
      [commons, drought].map((s, i) =>
        runEpisode({
          ...ctx,
          database: databases[i]!,
          spec,
          episode: { episode_id: deriveId('isolation-episode', i), ordinal: i, scenario: s.name, strategy: 'heuristic', seed: '3' },
          signal: new AbortController().signal,
        }),
      ),
    );
    for (const [i, s] of [commons, drought].entries()) {
      assert.equal(results[i]!.last_epoch, 3);
      const db = episodePool(databases[i]!.ownerUrl, ctx.server, 1);
      try {
        const { rows } = await db.query<{ name: string }>("SELECT name FROM actors WHERE kind <> 'system' ORDER BY name");
        assert.deepEqual(
          rows.map((r) => r.name),
          seededActors(s)
            .map((a) => a.name)
            .sort(),
          `episode ${s.name} holds exactly its own scenario's actors`,
        );
        const { rows: runs } = await db.query<{ scenario: string }>('SELECT scenario FROM runs');
        assert.deepEqual(runs, [{ scenario: s.name }]);
        const { rows: strangers } = await db.query(
          `SELECT 1 FROM balances b JOIN actors a ON a.id = b.actor_id WHERE a.kind <> 'system' AND NOT (a.name = ANY($1))`,
          [seededActors(s).map((a) => a.name)],
        );
        assert.equal(strangers.length, 0, 'no balance of another world');
      } finally {
        await db.close();
      }
    }
    assert.deepEqual(await ledgerDigest(live.db), before.digest, 'the live ledger is unchanged');
    assert.deepEqual(await balances(live.db), before.balances, 'the live balances are unchanged');
  } finally {
    for (const n of names) await dropEpisodeDatabase(ctx.server, n);
  }
});

test('a login that may not create databases is told which setting to change, and nothing is made', async () => {
  const role = `x1_nocreatedb_${process.pid}`;
  await live.db.query(`CREATE ROLE ${role} LOGIN PASSWORD 'episode-test-password' NOCREATEDB`);
  try {
    const url = new URL(live.url);
    url.username = role;
    url.password = 'episode-test-password';
    const server = { ...ctx.server, ownerUrl: url.toString(), ownerSetting: 'DATABASE_OWNER_URL' };
    const name = episodeDatabaseName(deriveId('no-createdb'), 1);
    await assert.rejects(createEpisodeDatabase(server, name), (error: Error) => {
      assert.ok(error instanceof ConfigError, String(error));
      assert.match(error.message, /CREATEDB/);
      assert.match(error.message, /DATABASE_OWNER_URL/);
      return true;
    });
    const { rows } = await live.db.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    assert.equal(rows.length, 0);
  } finally {
    await live.db.query(`DROP ROLE ${role}`);
  }
});

let finishedRun: { runId: string; database: string; episodeId: string } | undefined;

test('an interrupted experiment resumes without repeating a finished episode and ends as an uninterrupted one', async () => {
  const commons = await scenario('commons');
  const spec: ExperimentSpec = { scenarios: [commons], strategies: ['heuristic', 'heuristic:greedy'], seeds: ['1'], epochs: 3 };

  const whole = await defineExperiment(otherCtx, 'uninterrupted', spec);
  experiments.push([other, whole.id]);
  assert.equal(await work(otherCtx, whole, new AbortController().signal), 'done');
  const reference = recordingExporter();
  await exportExperiment(otherCtx, whole, reference, '/tmp/reference');

  const first = await defineExperiment(ctx, 'interrupted', spec);
  experiments.push([live, first.id]);
  const stop = new AbortController();
  const end = await work(ctx, first, stop.signal, (episodes) => {
    if (episodes.some((e) => e.status === 'finished') && episodes.some((e) => e.status === 'running' && e.epochs_done >= 1)) stop.abort();
  });
  assert.equal(end, 'stopped');
  const midway = await listEpisodes(ctx.control, first.id);
  assert.deepEqual(
    midway.map((e) => e.status),
    ['finished', 'queued'],
  );

  const again = await defineExperiment(ctx, 'interrupted', spec);
  assert.equal(again.id, first.id, 'asking again names the same experiment');
  assert.equal(await work(ctx, again, new AbortController().signal), 'done');
  const episodes = await listEpisodes(ctx.control, first.id);
  assert.deepEqual(
    episodes.map((e) => [e.status, e.attempt]),
    [
      ['finished', 1],
      ['finished', 2],
    ],
    'the finished episode ran once; the interrupted one started afresh',
  );
  const resumed = recordingExporter();
  await exportExperiment(ctx, again, resumed, '/tmp/resumed');
  assert.equal(resumed.calls.length, 1, 'writeExports was called once');
  assert.equal(resumed.calls[0]!.episodes.length, 2);
  const comparable = (data: EpisodeData[]) =>
    data.map((d) => ({ scenario: d.meta.scenario, strategy: d.meta.strategy, seed: d.meta.seed, runs: d.runs, epochs: d.epochs }));
  assert.deepEqual(comparable(resumed.calls[0]!.episodes), comparable(reference.calls[0]!.episodes));
  finishedRun = { runId: episodes[0]!.run_id!, database: episodes[0]!.database!, episodeId: episodes[0]!.episode_id };
});

test("gridgov episode runs a tool on an episode's world", async () => {
  assert.ok(finishedRun, 'an earlier test finished an episode');
  const reply = await runCli(['episode', finishedRun.episodeId, '--', 'verify'], live.url, EXPERIMENT_ENV);
  assert.equal(reply.code, 0, reply.stdout + reply.stderr);
  const rows = /verified \d+ block\(s\), (\d+) ledger row/.exec(reply.stdout);
  assert.ok(rows, reply.stdout);
  const db = episodePool(databaseUrl(ctx.server.ownerUrl, finishedRun.database), ctx.server, 1);
  try {
    assert.equal(Number(rows[1]), (await ledgerDigest(db)).rows, "it verified the episode's ledger, not the live one");
  } finally {
    await db.close();
  }
  assert.match(reply.stdout, /the chain is intact/);
});

test('replay re-executes a stored run in a fresh world and its digest matches', async () => {
  assert.ok(finishedRun, 'the previous test finished an episode');
  const reply = await runCli(['replay', '--run', finishedRun.runId], live.url, EXPERIMENT_ENV);
  assert.equal(reply.code, 0, reply.stdout + reply.stderr);
  const digests = [...reply.stdout.matchAll(/(stored|replayed)\s+([0-9a-f]{64})/g)].map((m) => m[2]);
  assert.equal(digests.length, 2, reply.stdout);
  assert.equal(digests[0], digests[1]);
  assert.match(reply.stdout, /the digests match/);
});

test('a fork starts from the stored world as of its epoch and goes on under another strategy', async () => {
  assert.ok(finishedRun, 'an earlier test finished an episode');
  const source = episodePool(databaseUrl(ctx.server.ownerUrl, finishedRun.database), ctx.server, 1);
  try {
    const run = (await readStoredRun(source, finishedRun.runId, 2))!;
    const spec: ExperimentSpec = {
      scenarios: [run.scenario],
      strategies: ['heuristic:naive'],
      seeds: [run.seed],
      epochs: 2,
      fork: { epoch: 2, run },
    };
    const fork = await defineExperiment(ctx, 'fork', spec);
    experiments.push([live, fork.id]);
    assert.equal(await work(ctx, fork, new AbortController().signal), 'done');
    const [episode] = await listEpisodes(ctx.control, fork.id);
    assert.equal(episode!.status, 'finished', episode!.error ?? '');
    assert.equal(episode!.run_id, finishedRun.runId, 'the fork continues the stored run');
    const forked = episodePool(databaseUrl(ctx.server.ownerUrl, episode!.database!), ctx.server, 1);
    try {
      assert.deepEqual(await runDigest(forked, run.run_id, 2), await runDigest(source, run.run_id, 2), 'epochs 1-2 are the stored ones');
      const { rows } = await forked.query<{ epoch: number; supply: unknown }>(
        "SELECT epoch, stats->'supply' AS supply FROM epochs ORDER BY epoch",
      );
      const { rows: stored } = await source.query<{ supply: unknown }>("SELECT stats->'supply' AS supply FROM epochs WHERE epoch = 2");
      assert.deepEqual(
        rows.map((r) => r.epoch),
        [1, 2, 3, 4],
      );
      assert.deepEqual(rows[1]!.supply, stored[0]!.supply, "the fork's epoch 2 holds the stored epoch's balances");
      const { rows: runs } = await forked.query<{ strategy: string; definition: { actors: Array<{ character: string }> } }>(
        'SELECT strategy, definition FROM runs',
      );
      assert.ok(
        runs[0]!.definition.actors.every((a) => a.character === 'naive'),
        'after the fork every agent is naive',
      );
      assert.equal((await getEpisode(ctx.control, episode!.episode_id))!.epochs_done, 4);
    } finally {
      await forked.close();
    }
  } finally {
    await source.close();
  }
});
