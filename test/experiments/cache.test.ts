/**
 * The response cache: an experiment with a model whose answers are random, run again as a new
 * experiment (`--fresh`) with the cache read-only, asks the model nothing and writes the same
 * tables and the same ledgers; a read-only run that needs an answer it lacks fails, naming the call.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parquetReadObjects } from 'hyparquet';
import { databaseUrl } from '../../src/db/embedded.ts';
import { episodePool } from '../../src/experiments/databases.ts';
import { defineExperiment, exportExperiment, type ExperimentContext } from '../../src/experiments/experiment.ts';
import { listEpisodes, type ExperimentRow } from '../../src/experiments/registry.ts';
import type { ExperimentSpec } from '../../src/experiments/spec.ts';
import type { WorkEnd } from '../../src/experiments/worker.ts';
import { ConfigError, type Env } from '../../src/config.ts';
import { cacheStats, pruneCache } from '../../src/agents/cache.ts';
import { parseAge } from '../../src/cli/cache.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { ledgerDigest } from '../support/digest.ts';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.ts';
import { dropEpisodes, experimentContext, filesExporter, scenario, workToEnd } from './support.ts';

let t: TestDatabase;
let openai: FakeOpenAI;
const experiments: string[] = [];
const dirs: string[] = [];

/** Answers nobody could guess twice: without the cache, a second run would differ. */
function randomAnswer(schema: string): string {
  const note = `r${Math.random().toString(36).slice(2, 10)}`;
  if (schema === 'agent_extraction') return JSON.stringify({ water: Math.round(Math.random() * 3000) / 100, reasoning: note });
  if (schema === 'agent_reflection') return JSON.stringify({ reflection: note });
  return JSON.stringify({ action: 'pass', reasoning: note });
}

before(async () => {
  t = await createTestDatabase();
  openai = await startFakeOpenAI();
  openai.setResponder((request) => {
    const format = request.body.response_format as { json_schema?: { name?: string } } | undefined;
    return { text: randomAnswer(format?.json_schema?.name ?? '') };
  });
});

after(async () => {
  for (const id of experiments) await dropEpisodes(t, id);
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  await openai?.close();
  await t?.drop();
});

const modelEnv = (cache: string): Env => ({
  OPENAI_MODEL: 'fake-model',
  OPENAI_BASE_URL: openai.baseUrl,
  OPENAI_API_KEY: 'sk-test',
  OPENAI_PRICE_INPUT_PER_MTOK: '1',
  OPENAI_PRICE_OUTPUT_PER_MTOK: '4',
  GRIDGOV_LLM_CACHE: cache,
});

async function runExperiment(ctx: ExperimentContext, spec: ExperimentSpec): Promise<{ experiment: ExperimentRow; end: WorkEnd }> {
  const experiment = await defineExperiment(ctx, 'gridgov experiment (cache test)', spec);
  experiments.push(experiment.id);
  return { experiment, end: await workToEnd(ctx, experiment) };
}

async function exportTo(ctx: ExperimentContext, experiment: ExperimentRow): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'gridgov-cache-'));
  dirs.push(dir);
  await exportExperiment(ctx, experiment, filesExporter, dir);
  return dir;
}

async function ledgerDigests(ctx: ExperimentContext, experimentId: string): Promise<string[]> {
  const digests: string[] = [];
  for (const e of await listEpisodes(ctx.control, experimentId)) {
    const db = episodePool(databaseUrl(ctx.server.ownerUrl, e.database!), ctx.server, 1);
    try {
      digests.push(JSON.stringify(await ledgerDigest(db)));
    } finally {
      await db.close();
    }
  }
  return digests;
}

/** What differs between two runs of one experiment by design: ids of the experiment, times, the cache's own figures. */
const VARYING = new Set([
  'experiment_id',
  'episode_id',
  'started_at',
  'finished_at',
  'rejected_at',
  'duration_ms',
  'llm_cache_hits',
  'llm_cache_hit_rate',
  'llm_saved_usd',
]);

async function tables(dir: string): Promise<Record<string, unknown[]>> {
  const out: Record<string, unknown[]> = {};
  for (const name of ['runs', 'epochs', 'agents', 'rejections']) {
    const bytes = await readFile(join(dir, `${name}.parquet`));
    const rows = await parquetReadObjects({ file: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) });
    out[name] = rows.map((row) => Object.fromEntries(Object.entries(row).filter(([column]) => !VARYING.has(column))));
  }
  return out;
}

test('a fresh rerun with the cache read-only asks the model nothing and writes the same tables and ledgers', async () => {
  const spec: ExperimentSpec = { scenarios: [await scenario('commons')], strategies: ['openai-compatible'], seeds: ['1', '2'], epochs: 2 };
  const first = await experimentContext(t, modelEnv('read-write'));
  const recorded = await runExperiment(first, spec);
  assert.equal(recorded.end, 'done');
  const asked = openai.requests.length;
  assert.ok(asked > 0, 'the first run asked the model');
  const firstDir = await exportTo(first, recorded.experiment);

  const second = await experimentContext(t, modelEnv('read-only'));
  const rerun = await runExperiment(second, { ...spec, fresh: 'rerun' });
  assert.notEqual(rerun.experiment.id, recorded.experiment.id, '--fresh is a new experiment');
  assert.equal(rerun.end, 'done');
  assert.equal(openai.requests.length, asked, 'the rerun made no call to the model');
  const secondDir = await exportTo(second, rerun.experiment);

  assert.deepEqual(await tables(secondDir), await tables(firstDir));
  assert.deepEqual(await ledgerDigests(second, rerun.experiment.id), await ledgerDigests(first, recorded.experiment.id));

  const [run] = (await tables(firstDir)).runs as Array<{ llm_calls: number }>;
  const readRuns = async (dir: string) => {
    const bytes = await readFile(join(dir, 'runs.parquet'));
    return parquetReadObjects({ file: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) });
  };
  const [firstRun] = await readRuns(firstDir);
  const [rerunRow] = await readRuns(secondDir);
  assert.equal(firstRun!.llm_cache_hits, 0);
  assert.equal(rerunRow!.llm_cache_hits, run!.llm_calls, 'every call of the rerun was a cache hit');
  assert.equal(rerunRow!.llm_cache_hit_rate, 1);
  assert.ok((rerunRow!.llm_saved_usd as number) > 0, 'the rerun saved what the first run paid');
  assert.equal(rerunRow!.llm_saved_usd, firstRun!.cost_usd);
  const paid = (await listEpisodes(t.db, rerun.experiment.id)).map((e) => e.cost_usd);
  assert.deepEqual(paid, [0, 0], 'the rerun paid nothing');
  assert.match(await readFile(join(secondDir, 'report.html'), 'utf8'), /answered by the response cache/);
});

test('a read-only run that needs an answer the cache lacks stops with an error naming the call', async () => {
  const ctx = await experimentContext(t, { ...modelEnv('read-only'), OPENAI_MODEL: 'another-model' });
  const before = openai.requests.length;
  await assert.rejects(
    runExperiment(ctx, { scenarios: [await scenario('commons')], strategies: ['openai-compatible'], seeds: ['1'], epochs: 1 }),
    (error: unknown) =>
      error instanceof ConfigError &&
      /read-only: no stored answer for the agent_\w+ call to openai-compatible model another-model at http:\/\/127\.0\.0\.1:\d+\/v1/.test(
        error.message,
      ),
  );
  assert.equal(openai.requests.length, before, 'the model was not asked');
});

test('gridgov cache stats counts answers and hits by model; prune drops only what went unused for longer than asked', async () => {
  const [stats] = await cacheStats(t.db);
  assert.equal(stats!.provider, 'openai-compatible');
  assert.equal(stats!.model, 'fake-model');
  assert.equal(stats!.base_url, openai.baseUrl);
  assert.ok(
    stats!.answers > 0 && stats!.hits >= stats!.answers,
    `every stored answer was served again (${stats!.answers}, ${stats!.hits})`,
  );
  assert.equal(await pruneCache(t.db, 3600), 0, 'nothing is an hour old');
  await t.db.query("UPDATE llm_cache SET last_used_at = now() - interval '2 days' WHERE key = (SELECT min(key) FROM llm_cache)");
  assert.equal(await pruneCache(t.db, parseAge('1d')), 1);
  assert.equal((await cacheStats(t.db))[0]!.answers, stats!.answers - 1);
  assert.equal(parseAge('90m'), 5400);
  assert.throws(() => parseAge('soon'), /--older-than takes an age such as 30d/);
});
