import { loadConfig } from '../config.ts';
import { deriveId, isUuid } from '../domain/ids.ts';
import { createEpisodeDatabase, dropEpisodeDatabase, episodeDatabaseName } from '../experiments/databases.ts';
import { findRunWorld } from '../experiments/experiment.ts';
import { changedInputs, manifestOfRun, scenarioChanged } from '../experiments/manifest.ts';
import { readStoredRun, replayRun, ReplayError, type StoredRun } from '../experiments/replay.ts';
import type { Db } from '../db/db.ts';
import { openEpisodeWorld } from '../experiments/world.ts';
import { runDigest } from '../ledger/integrity/digest.ts';
import { parseFlags, UsageError, type Command } from './args.ts';
import { openExperimentContext } from './episode-server.ts';

/**
 * A run an experiment produced is replayed (or forked) only with the inputs its manifest recorded:
 * the same prompt templates, validator and packages, and the same scenario. `--force` goes on anyway.
 */
export async function refuseChangedInputs(db: Db, run: StoredRun, validatorVersion: string, force: boolean, flag: string): Promise<void> {
  const manifest = await manifestOfRun(db, run.run_id);
  if (!manifest) return; // a run outside any experiment has no manifest to hold it to
  const scenario = scenarioChanged(manifest, run.scenario);
  const changes = [...(scenario ? [scenario] : []), ...changedInputs(manifest, validatorVersion)];
  if (changes.length === 0) return;
  const list = changes.map((c) => `  - ${c}`).join('\n');
  if (force) {
    process.stderr.write(`warning: the inputs of run ${run.run_id} changed since experiment ${manifest.experiment_id}:\n${list}\n`);
    return;
  }
  throw new UsageError(
    `${flag}: the inputs of run ${run.run_id} changed since experiment ${manifest.experiment_id} recorded them:\n${list}\n` +
      'add --force to go on anyway',
  );
}

export const command: Command = {
  summary: "Re-execute a stored run's plans in a fresh world and check that its ledger digest matches",
  usage: 'gridgov replay --run RUN_ID [--keep] [--force] [--database-url URL] [--data-dir DIR]',
  async run(args) {
    const { values } = parseFlags(args, { run: { type: 'string' }, keep: { type: 'boolean' }, force: { type: 'boolean' } });
    if (!values.run || !isUuid(values.run)) throw new UsageError('--run RUN_ID (a UUID) is required');
    const runId = values.run.toLowerCase();
    const config = loadConfig(process.env, values);
    const ctx = await openExperimentContext(config, 'replay');
    try {
      const source = await findRunWorld(ctx, runId);
      if (!source) throw new UsageError(`--run: no run ${runId} in this database or in any finished episode`);
      let run;
      let expected;
      try {
        run = (await readStoredRun(source.db, runId))!;
        expected = await runDigest(source.db, runId, run.epochs.length);
      } catch (error) {
        if (error instanceof ReplayError) throw new UsageError(`--run: ${error.message}`);
        throw error;
      } finally {
        if (source.own) await source.db.close();
      }
      await refuseChangedInputs(ctx.control, run, config.validatorVersion, values.force === true, '--run');
      const through = run.epochs.length;
      console.log(`replaying run ${runId} from ${source.where}: ${through} epoch(s) of scenario "${run.scenario.name}"`);
      const name = episodeDatabaseName(deriveId('replay', runId), 1);
      const database = await createEpisodeDatabase(ctx.server, name);
      const world = await openEpisodeWorld(ctx.server, database, config, ctx.logger);
      let actual;
      try {
        await replayRun(world.client, run, (epoch) => process.stderr.write(`replayed epoch ${epoch}/${through}\n`));
        actual = await runDigest(world.owner, runId, through);
      } finally {
        await world.close();
        if (!values.keep) await dropEpisodeDatabase(ctx.server, name);
      }
      console.log(`digest of the run's ledger rows and rejections, epochs 1-${through}, in ledger order, without ids or times:`);
      console.log(`  stored    ${expected.digest}  (${expected.rows} rows, ${expected.rejections} rejections)`);
      console.log(`  replayed  ${actual.digest}  (${actual.rows} rows, ${actual.rejections} rejections)`);
      if (values.keep) console.log(`the replayed world is kept in database ${name}`);
      if (actual.digest !== expected.digest) {
        console.log('MISMATCH: the replay wrote another history');
        return 1;
      }
      console.log('the digests match');
      return 0;
    } finally {
      await ctx.close();
    }
  },
};
