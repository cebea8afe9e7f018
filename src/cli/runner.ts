import { join, resolve } from 'node:path';
import { createStrategies, databaseLayers, StrategyUnavailableError } from '../agents/strategies.ts';
import { ConfigError, loadConfig } from '../config.ts';
import { isUuid } from '../domain/ids.ts';
import { readScenarioFile } from '../ledger/writing/seed.ts';
import { createValidatorClient, ValidatorRefusedError } from '../runner/client.ts';
import { summaryLines } from '../runner/progress.ts';
import { runSimulation } from '../runner/runner.ts';
import { markRunEnded } from '../runner/end.ts';
import type { RunEnd } from '../runs/registry.ts';
import { runnerMetrics } from '../runner/metrics.ts';
import { createRegistry } from '../observability/metrics.ts';
import { startMetricsServer } from '../observability/server.ts';
import { setupTracing, shutdownTracing } from '../observability/tracing.ts';
import type { RunSummary } from '../domain/run-summary.ts';
import { agentProfiles } from '../runner/view.ts';
import { strategyNames } from '../domain/strategies.ts';
import { parseFlags, positiveInteger, strategyFlag, UsageError } from './args.ts';
import type { Command } from './args.ts';
import { createLogger, openDatabase } from './runtime.ts';
import { ADMIN_KEY_FILE, readStoredAdminKey } from './admin-key.ts';
import { validatorUrl } from './running.ts';
import { CacheMissError } from '../agents/cache.ts';
import { hasLimits } from '../agents/limits.ts';
import { resolveModels, unpricedWarnings } from '../experiments/models.ts';

export const command: Command = {
  summary: 'Run the agents: epochs of settlement, negotiation and trades against a validator over HTTP',
  usage: `gridgov runner --scenario FILE [--validator URL] [--epochs N] [--interval MS] [--strategy ${strategyNames.join('|')}] [--seed S] [--run-id UUID] [--key KEY] [--concurrency N] [--batch-size N] [--max-cost USD] [--merge-scenario] [--llm-cache read-write|read-only|off]`,
  async run(args) {
    const { values } = parseFlags(args, {
      validator: { type: 'string' },
      scenario: { type: 'string', short: 's' },
      epochs: { type: 'string' },
      interval: { type: 'string' },
      strategy: { type: 'string' },
      seed: { type: 'string' },
      'run-id': { type: 'string' },
      key: { type: 'string' },
      concurrency: { type: 'string' },
      'batch-size': { type: 'string' },
      'max-cost': { type: 'string' },
      'merge-scenario': { type: 'boolean' },
      'llm-cache': { type: 'string' },
    });
    if (!values.scenario) throw new UsageError('--scenario FILE is required');
    const strategy = strategyFlag(values.strategy);
    if (values['run-id'] !== undefined && !isUuid(values['run-id'])) throw new UsageError('--run-id must be a UUID');
    const epochs = positiveInteger('epochs', values.epochs);
    const intervalMs = positiveInteger('interval', values.interval, 0) ?? 0;
    const concurrency = positiveInteger('concurrency', values.concurrency) ?? 4;
    const batchSize = positiveInteger('batch-size', values['batch-size']) ?? 250;
    const maxCost = values['max-cost'] === undefined ? undefined : Number(values['max-cost']);
    if (maxCost !== undefined && !(Number.isFinite(maxCost) && maxCost > 0))
      throw new UsageError('--max-cost must be a positive number of dollars');

    const config = loadConfig(process.env, values);
    // --validator or GRIDGOV_URL, else the validator `gridgov start` runs on this data dir.
    const validator = validatorUrl(config);
    const scenario = await readScenarioFile(resolve(values.scenario));
    // As `gridgov admin` does: the flag, the environment, then the key `gridgov start` keeps.
    const key = values.key ?? config.runnerKey ?? readStoredAdminKey(config.dataDir);
    if (!key)
      throw new ConfigError(
        `the runner needs an API key with the system role: --key, GRIDGOV_RUNNER_KEY, GRIDGOV_ADMIN_KEY or ${join(config.dataDir, ADMIN_KEY_FILE)}`,
      );
    const names = ['heuristic' as const, ...agentProfiles(scenario, strategy).map((a) => a.strategy)];
    // The response cache and the provider limits are in the database; a runner of heuristic agents needs neither.
    const limited = [config.agents.gemini, config.agents.openai].some((s) => s?.limits && hasLimits(s.limits));
    const cacheDb =
      (config.agents.cache !== 'off' || limited) && names.some((n) => n !== 'heuristic')
        ? await openDatabase(config, createLogger(config, 'runner'), 2, { role: 'app' })
        : undefined;
    let strategies;
    try {
      strategies = createStrategies(names, config.agents, cacheDb && databaseLayers(cacheDb.db, config.agents.cache));
    } catch (error) {
      await cacheDb?.close();
      if (error instanceof StrategyUnavailableError) throw new ConfigError(error.message);
      throw error;
    }
    for (const warning of unpricedWarnings(resolveModels([...new Set(names)], config.agents))) process.stderr.write(`${warning}\n`);
    await setupTracing({ serviceName: 'gridgov-runner', otlpEndpoint: config.observability.otlpEndpoint });
    const logger = createLogger(config, 'runner');
    const registry = createRegistry();
    const metrics = runnerMetrics(registry);
    const server = await startMetricsServer(registry, {
      host: config.observability.metricsHost,
      port: config.observability.runnerMetricsPort,
      setting: 'GRIDGOV_RUNNER_METRICS_PORT',
    });
    console.log(`runner metrics on ${server.url}`);

    const stop = new AbortController();
    const onSignal = () => stop.abort();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    const client = createValidatorClient({ baseUrl: validator, apiKey: key, logger, signal: stop.signal });
    let runId: string | undefined;
    let ended: RunEnd | undefined = 'failed';
    try {
      const result = await runSimulation({
        client,
        merge: values['merge-scenario'] === true,
        onRun: (id) => void (runId = id),
        scenario,
        seed: values.seed,
        strategy,
        strategies,
        runId: values['run-id'],
        epochs,
        intervalMs,
        concurrency,
        batchSize,
        signal: stop.signal,
        logger,
        onEpoch: (stats, line) => {
          metrics.epochRecorded(stats);
          console.log(line);
        },
        maxCost,
      });
      if (result.pause) {
        // Not ended: the next runner with this run id resumes it.
        console.error(result.pause);
        ended = undefined;
        return 1;
      }
      ended = stop.signal.aborted || epochs === undefined ? 'stopped' : 'finished';
      const how = result.stopped === 'budget' ? `stopped at its budget of $${maxCost}` : ended;
      console.log(`run ${result.runId}: ${how} after epoch ${result.lastEpoch}`);
      if (!stop.signal.aborted)
        for (const line of summaryLines(await client.expectOk<RunSummary>('GET', `/runs/${result.runId}/summary`))) console.log(line);
      return 0;
    } catch (error) {
      if (stop.signal.aborted) {
        ended = 'stopped';
        console.log('runner stopped');
        return 0;
      }
      if (
        error instanceof ValidatorRefusedError &&
        (error.body as { error_code?: string } | undefined)?.error_code === 'SCENARIO_MISMATCH'
      ) {
        throw new UsageError(`${(error.body as { message: string }).message.replace('merge: true, ', '')}`);
      }
      if (error instanceof CacheMissError) throw new ConfigError(error.message);
      throw error;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      if (runId && ended) await markRunEnded({ baseUrl: validator, apiKey: key }, runId, ended);
      await cacheDb?.close();
      await server.close();
      await shutdownTracing();
    }
  },
};
