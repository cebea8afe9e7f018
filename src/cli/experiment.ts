import { randomUUID } from 'node:crypto';
import { extname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../config.ts';
import { isUuid } from '../domain/ids.ts';
import { defineExperiment, exportExperiment, findRunWorld, openQueue, type Exporter } from '../experiments/experiment.ts';
import { createProgress } from '../experiments/progress.ts';
import { keepBelowLogLines } from './logger.ts';
import { getExperiment, listEpisodes } from '../experiments/registry.ts';
import { readStoredRun, ReplayError } from '../experiments/replay.ts';
import { estimateExperiment } from '../experiments/estimate.ts';
import { resolveModels, unpricedWarnings } from '../experiments/models.ts';
import { checkPopulation, parseSeeds, parseStrategies, SpecError, type ExperimentSpec } from '../experiments/spec.ts';
import { workExperiment } from '../experiments/worker.ts';
import { readScenarioFile } from '../ledger/writing/seed.ts';
import { parseFlags, positiveInteger, UsageError, type Command } from './args.ts';
import { openExperimentContext } from './episode-server.ts';
import { refuseChangedInputs } from './replay.ts';

function spec<T>(make: () => T): T {
  try {
    return make();
  } catch (error) {
    if (error instanceof SpecError) throw new UsageError(error.message);
    throw error;
  }
}

/** The file writers, loaded when the files are written (src/experiments/export.ts). */
async function fileExporter(): Promise<Exporter> {
  // Named at run time (.ts in src/, .js in dist/), so this builds before the writers exist.
  const path = new URL(`../experiments/export${extname(fileURLToPath(import.meta.url))}`, import.meta.url).href;
  let module: { collectEpisode: Exporter['collect']; writeExports: Exporter['write'] };
  try {
    module = (await import(path)) as typeof module;
  } catch (error) {
    if ((error as { code?: string }).code !== 'ERR_MODULE_NOT_FOUND') throw error;
    throw new Error(
      'this build has no file writers (src/experiments/export.ts): the episodes are finished and recorded, but no files were written',
      { cause: error },
    );
  }
  return { collect: module.collectEpisode, write: module.writeExports };
}

export const command: Command = {
  summary: 'Run episodes of scenarios × strategies × seeds, each in a fresh database, and write their results',
  usage:
    'gridgov experiment --scenario FILE [--scenario FILE …] --strategies heuristic,gemini,openai-compatible,heuristic:greedy,openai-compatible:MODEL --seeds 1-5 --epochs N --out DIR [--concurrency K] [--max-cost USD] [--fork RUN_ID:EPOCH [--force]] [--fresh] [--dry-run] [--llm-cache read-write|read-only|off] | --join ID [--concurrency K] [--llm-cache MODE]',
  async run(args) {
    const { values } = parseFlags(args, {
      scenario: { type: 'string', short: 's', multiple: true },
      strategies: { type: 'string' },
      seeds: { type: 'string' },
      epochs: { type: 'string' },
      out: { type: 'string' },
      concurrency: { type: 'string' },
      'max-cost': { type: 'string' },
      join: { type: 'string' },
      fork: { type: 'string' },
      fresh: { type: 'boolean' },
      force: { type: 'boolean' },
      'dry-run': { type: 'boolean' },
      'llm-cache': { type: 'string' },
    });
    const concurrency = positiveInteger('concurrency', values.concurrency) ?? 2;
    const maxCost = values['max-cost'] === undefined ? undefined : Number(values['max-cost']);
    if (maxCost !== undefined && !(Number.isFinite(maxCost) && maxCost > 0))
      throw new UsageError(`--max-cost must be a positive number of dollars, got "${values['max-cost']}"`);
    const join = values.join;
    if (join !== undefined && !isUuid(join)) throw new UsageError(`--join takes an experiment id (a UUID), got "${join}"`);
    const fork = values.fork === undefined ? undefined : /^([0-9a-f-]{36}):(\d+)$/i.exec(values.fork);
    if (values.fork !== undefined && (!fork || !isUuid(fork[1]!) || Number(fork[2]) < 1))
      throw new UsageError(`--fork takes RUN_ID:EPOCH (a run's UUID and an epoch of at least 1), got "${values.fork}"`);
    if (join === undefined) {
      if (!fork && !values.scenario?.length) throw new UsageError('--scenario FILE is required (or --join ID, or --fork RUN_ID:EPOCH)');
      if (fork && values.scenario?.length) throw new UsageError("--fork runs the forked run's scenario: leave out --scenario");
      if (!values.strategies) throw new UsageError('--strategies is required');
      if (!values.out && !values['dry-run']) throw new UsageError('--out DIR is required');
    }
    const seeds = values.seeds === undefined ? undefined : spec(() => parseSeeds(values.seeds!));
    const strategies = values.strategies === undefined ? undefined : spec(() => parseStrategies(values.strategies!));
    const epochs = positiveInteger('epochs', values.epochs);

    if (values.fresh && join !== undefined) throw new UsageError('--fresh starts a new experiment: leave out --join');
    const config = loadConfig(process.env, { ...values, scenario: undefined });
    const scenarios = join === undefined && !fork ? await Promise.all(values.scenario!.map((f) => readScenarioFile(resolve(f)))) : [];
    const names = scenarios.map((s) => s.name);
    const twice = names.find((n, i) => names.indexOf(n) !== i);
    if (twice) throw new UsageError(`--scenario: two files define the scenario "${twice}"`);

    if (values['dry-run']) {
      if (join !== undefined || fork) throw new UsageError('--dry-run estimates a new experiment: give --scenario, not --join or --fork');
      const models = spec(() => resolveModels(strategies!, config.agents));
      for (const warning of unpricedWarnings(models)) process.stderr.write(`${warning}\n`);
      const e = estimateExperiment({ scenarios, strategies: strategies!, seeds: seeds ?? ['1'], epochs: epochs ?? 10, models });
      const range = (r: { low: number; high: number }, f: (n: number) => string) => `${f(r.low)} to ${f(r.high)}`;
      console.log(
        `${e.episodes} episode(s); model calls ${range(e.calls, String)}, tokens ${range(e.tokens, (n) => String(Math.round(n)))}`,
      );
      console.log(`cost $${range(e.usd, (n) => n.toFixed(4))} (without negotiation to every offer negotiated to the last round)`);
      return 0;
    }
    const ctx = await openExperimentContext(config, 'experiment');
    const stop = new AbortController();
    const onSignal = () => stop.abort();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    const progress = createProgress();
    keepBelowLogLines(progress);
    try {
      let experiment;
      if (join !== undefined) {
        experiment = await getExperiment(ctx.control, join);
        if (!experiment) throw new UsageError(`--join: there is no experiment ${join} in this database`);
      } else {
        let forked: ExperimentSpec['fork'];
        if (fork) {
          const world = await findRunWorld(ctx, fork[1]!.toLowerCase());
          if (!world) throw new UsageError(`--fork: no run ${fork[1]} in this database or in any finished episode`);
          try {
            const run = await readStoredRun(world.db, fork[1]!.toLowerCase(), Number(fork[2]));
            await refuseChangedInputs(ctx.control, run!, config.validatorVersion, values.force === true, '--fork');
            forked = { epoch: Number(fork[2]), run: run! };
          } catch (error) {
            if (error instanceof ReplayError) throw new UsageError(`--fork: ${error.message}`);
            throw error;
          } finally {
            if (world.own) await world.db.close();
          }
        }
        const models = spec(() => resolveModels(strategies!, config.agents));
        for (const warning of unpricedWarnings(models)) process.stderr.write(`${warning}\n`);
        const wanted: ExperimentSpec = {
          scenarios: forked ? [forked.run.scenario] : scenarios,
          strategies: strategies!,
          models,
          seeds: seeds ?? (forked ? [forked.run.seed] : ['1']),
          epochs: epochs ?? 10,
          ...(forked ? { fork: forked } : {}),
          ...(values.fresh ? { fresh: randomUUID() } : {}),
        };
        for (const scenario of wanted.scenarios) for (const s of wanted.strategies) spec(() => checkPopulation(scenario, s));
        experiment = await defineExperiment(ctx, ['gridgov', 'experiment', ...args].join(' '), wanted);
      }
      process.stderr.write(`experiment ${experiment.id}: more machines join with: gridgov experiment --join ${experiment.id}\n`);
      const queue = await openQueue(ctx, experiment.id);
      let end;
      try {
        end = await workExperiment({ ...ctx, queue }, experiment, {
          concurrency,
          ...(maxCost !== undefined ? { maxCost } : {}),
          signal: stop.signal,
          onChange: (episodes) => progress.update(episodes),
        });
      } finally {
        progress.end();
        keepBelowLogLines(undefined);
        await queue.stop();
      }
      if (end === 'stopped') {
        console.log(`experiment ${experiment.id} stopped; run the same command again (or --join ${experiment.id}) to resume`);
        return 130;
      }
      if (end === 'budget') console.log(`experiment ${experiment.id} stopped at its budget of $${maxCost}, before a call would pass it`);
      if (join !== undefined) {
        if (end === 'budget') return 1;
        console.log(`experiment ${experiment.id}: no episode left to run here`);
        return 0;
      }
      const written = await exportExperiment(ctx, experiment, await fileExporter(), resolve(values.out!));
      console.log(`experiment ${experiment.id}: ${written} episode(s) written to ${resolve(values.out!)}`);
      if (end !== 'budget') return 0;
      const open = (await listEpisodes(ctx.control, experiment.id)).filter((e) => e.status !== 'finished' && e.status !== 'failed');
      console.log(`${open.length} episode(s) did not run to the end (listed in report.html):`);
      for (const e of open) console.log(`  ${e.scenario} ${e.strategy} seed ${e.seed} (${e.epochs_done} epoch(s) done)`);
      console.log(`raise --max-cost and run the same command again to finish them`);
      return 1;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      await ctx.close();
    }
  },
};
