/**
 * The run manifest: recorded in the database when an experiment is defined, written to its
 * folder as manifest.json, and used to refuse a replay or fork whose inputs changed, naming them.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { UsageError } from '../../src/cli/args.ts';
import { refuseChangedInputs } from '../../src/cli/replay.ts';
import { defineExperiment, exportExperiment, findRunWorld } from '../../src/experiments/experiment.ts';
import { changedInputs, getManifest, manifestOfRun, promptHashes } from '../../src/experiments/manifest.ts';
import { listEpisodes } from '../../src/experiments/registry.ts';
import { readStoredRun, type StoredRun } from '../../src/experiments/replay.ts';
import { scenarioDigest } from '../../src/runs/registry.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { dropEpisodes, experimentContext, filesExporter, scenario, workToEnd } from './support.ts';

let t: TestDatabase;
let dir: string;
let experimentId: string | undefined;
let run: StoredRun;

before(async () => {
  t = await createTestDatabase();
  dir = await mkdtemp(join(tmpdir(), 'gridgov-manifest-'));
});

after(async () => {
  if (experimentId) await dropEpisodes(t, experimentId);
  await rm(dir, { recursive: true, force: true });
  await t?.drop();
});

test('manifest.json holds the command, scenarios with hash and contents, seeds, strategies, prompt hashes and versions, as the database does', async () => {
  const ctx = await experimentContext(t);
  const commons = await scenario('commons');
  const command = 'gridgov experiment --scenario scenarios/commons.json --strategies heuristic:greedy --seeds 4 --epochs 1 --out DIR';
  const experiment = await defineExperiment(ctx, command, {
    scenarios: [commons],
    strategies: ['heuristic:greedy'],
    seeds: ['4'],
    epochs: 1,
  });
  experimentId = experiment.id;
  assert.equal(await workToEnd(ctx, experiment), 'done');
  await exportExperiment(ctx, experiment, filesExporter, dir);
  const record = await getManifest(t.db, experiment.id);
  assert.deepEqual(JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')), record, 'the file is the record');
  const file = record!;
  assert.equal(file.experiment_id, experiment.id);
  assert.equal(file.command, command);
  assert.deepEqual(
    file.scenarios.map((s) => [s.name, s.sha256]),
    [['commons', scenarioDigest(commons)]],
  );
  assert.deepEqual(file.scenarios[0]!.contents, JSON.parse(JSON.stringify(commons)));
  assert.deepEqual([file.seeds, file.strategies, file.epochs, file.fork], [['4'], ['heuristic:greedy'], 1, null]);
  assert.deepEqual(file.models, {});
  assert.deepEqual(file.prompts, promptHashes());
  assert.match(file.prompts.SYSTEM_INSTRUCTION!, /^[0-9a-f]{64}$/);
  assert.match(file.prompts.proposePrompt!, /^[0-9a-f]{64}$/);
  assert.equal(file.versions.validator, 'test');
  assert.equal(file.versions.packages.pg, JSON.parse(await readFile('package.json', 'utf8')).dependencies.pg);
  const [episode] = await listEpisodes(t.db, experiment.id);
  const world = (await findRunWorld(ctx, episode!.run_id!))!;
  try {
    run = (await readStoredRun(world.db, episode!.run_id!))!;
  } finally {
    if (world.own) await world.db.close();
  }
  assert.equal((await manifestOfRun(t.db, run.run_id))?.experiment_id, experiment.id);
});

test('a replay or fork whose inputs changed is refused, naming each change; --force goes on', async () => {
  await refuseChangedInputs(t.db, run, 'test', false, '--run'); // nothing changed
  assert.deepEqual(changedInputs((await manifestOfRun(t.db, run.run_id))!, 'v2'), ['validator version test is now v2']);
  await t.db.query(
    `UPDATE experiment_manifests SET manifest = jsonb_set(jsonb_set(manifest, '{prompts,proposePrompt}', '"0"'), '{versions,packages,pg}', '"1.0.0"')`,
  );
  await assert.rejects(refuseChangedInputs(t.db, run, 'v2', false, '--fork'), (error: unknown) => {
    assert.ok(error instanceof UsageError);
    assert.match(error.message, /^--fork: the inputs of run [0-9a-f-]{36} changed since experiment [0-9a-f-]{36} recorded them:/);
    assert.match(error.message, /- prompt template proposePrompt changed\n/);
    assert.match(error.message, /- validator version test is now v2\n/);
    assert.match(error.message, /- package pg 1\.0\.0 is now \d/);
    assert.match(error.message, /add --force to go on anyway$/);
    return true;
  });
  await refuseChangedInputs(t.db, run, 'v2', true, '--run');
  const changed = { ...run, scenario: { ...run.scenario, description: 'edited' } };
  await assert.rejects(
    refuseChangedInputs(t.db, changed, 'v2', false, '--run'),
    /- scenario commons: the run.s definition \([0-9a-f]{12}\) is none the experiment recorded/,
  );
});
