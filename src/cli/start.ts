import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createValidatorApp } from '../api/validator.ts';
import { ConfigError, loadConfig } from '../config.ts';
import { setupTracing } from '../observability/tracing.ts';
import { strategyNames } from '../domain/strategies.ts';
import { createDashboardApp } from '../dashboard/server.ts';
import { hasActors, lastSeededScenario, readScenarioFile, seedScenario } from '../ledger/writing/seed.ts';
import { dispatcherFromConfig } from '../notify/index.ts';
import { databaseLayers } from '../agents/strategies.ts';
import { startBackgroundRunner } from '../runner/embedded.ts';
import { parseFlags, strategyFlag } from './args.ts';
import type { Command } from './args.ts';
import { createLogger, onShutdown, openDatabase } from './runtime.ts';
import { DEFAULT_DASHBOARD_PORT } from './dashboard.ts';
import { ensureStoredAdminKey, storedKeyLines } from './admin-key.ts';
import { publishValidator } from './running.ts';

const DEMO = fileURLToPath(new URL('../../scenarios/demo.json', import.meta.url));

export const command: Command = {
  summary: 'All in one: database (embedded unless DATABASE_URL), migrate, seed the demo when empty, serve',
  usage: `gridgov start [--port N] [--host H] [--dashboard-port N] [--scenario FILE] [--database-url URL] [--data-dir DIR] [--no-runner] [--interval MS] [--strategy ${strategyNames.join('|')}] [--llm-cache read-write|read-only|off]`,
  async run(args) {
    const { values } = parseFlags(args, {
      scenario: { type: 'string' },
      'dashboard-port': { type: 'string' },
      'no-runner': { type: 'boolean' },
      interval: { type: 'string' },
      strategy: { type: 'string' },
      'llm-cache': { type: 'string' },
      'execute-auth': { type: 'string' },
      'read-auth': { type: 'string' },
    });
    const chosenStrategy = strategyFlag(values.strategy);
    // Without GRIDGOV_ADMIN_KEY the first start makes one and keeps it in the data dir, so the
    // dashboard's Admin page, the CLI and the in-process runner (system role) have a key at once.
    const preliminary = loadConfig(process.env, values);
    const { enabled: withRunner, intervalMs } = preliminary.runner;
    const stored = preliminary.adminKey ? undefined : ensureStoredAdminKey(preliminary.dataDir);
    const config = stored ? loadConfig({ ...process.env, GRIDGOV_ADMIN_KEY: stored.key }, values) : preliminary;
    // Both ports checked before anything starts, so that two busy ones are named together.
    const dashboardPort = config.dashboard.port ?? (config.port === 0 ? 0 : DEFAULT_DASHBOARD_PORT);
    const busy = await busyPorts(config.host, [
      { port: config.port, name: `the validator's port`, setting: '--port or PORT' },
      { port: dashboardPort, name: `the dashboard's port`, setting: '--dashboard-port or GRIDGOV_DASHBOARD_PORT' },
    ]);
    if (busy.length > 0) throw new ConfigError(busy.join('; '));
    await setupTracing({ serviceName: 'gridgov', otlpEndpoint: config.observability.otlpEndpoint });
    const logger = createLogger(config, 'gridgov');
    const database = await openDatabase(config, logger, 20, { role: 'app', migrate: true });
    try {
      if (!(await hasActors(database.db))) {
        const scenario = await readScenarioFile(values.scenario ? resolve(values.scenario) : DEMO);
        const seeded = await database.asOwner((owner) => seedScenario(owner, scenario, config.validatorVersion, config.adminKey));
        console.log(`seeded scenario "${scenario.name}" (${seeded.actorsAdded} actors) into the empty database`);
      }
      const app = await createValidatorApp({ db: database.db, readDb: database.readDb, config, logger });
      try {
        await app.listen({ port: config.port, host: config.host });
      } catch (error) {
        await app.close(); // its ledger guard too, before the database closes under it
        if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
          throw new ConfigError(`the validator's port ${config.host}:${config.port} is in use; choose another with --port or PORT`);
        }
        throw error;
      }
      const address = app.server.address();
      const base = `http://${config.host}:${typeof address === 'object' && address ? address.port : config.port}`;
      // The dashboard reads through the validator's HTTP API like any client, over loopback.
      const loopback = base.replace(/\/\/(0\.0\.0\.0|\[?::\]?)(?=:)/, '//127.0.0.1');
      const dashboard = await createDashboardApp({ validatorUrl: loopback, logger: logger.child({ component: 'dashboard' }) });
      try {
        await dashboard.listen({ port: dashboardPort, host: config.host });
      } catch (error) {
        await app.close();
        if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
          throw new ConfigError(
            `the dashboard's port ${config.host}:${dashboardPort} is in use; choose another with --dashboard-port or GRIDGOV_DASHBOARD_PORT`,
          );
        }
        throw error;
      }
      const dashboardAddress = dashboard.server.address();
      const dispatcher = dispatcherFromConfig(database.db, config, logger);
      dispatcher.start();
      let runnerLine = 'off';
      let runner: { stop(): Promise<void> } | undefined;
      if (withRunner) {
        // The scenario to simulate: the flag's, else the one seeded last, else the demo.
        const stored = await lastSeededScenario(database.db);
        const scenario = values.scenario || !stored ? await readScenarioFile(values.scenario ? resolve(values.scenario) : DEMO) : stored;
        const strategy = chosenStrategy ?? (config.agents.gemini ? 'gemini' : 'heuristic');
        runner = startBackgroundRunner({
          validatorUrl: base,
          apiKey: config.runnerKey!,
          scenario,
          strategy,
          agents: config.agents,
          cache: databaseLayers(database.db, config.agents.cache),
          intervalMs,
          logger,
          print: (line) => console.log(line),
        });
        runnerLine = `scenario "${scenario.name}", ${strategy} agents, an epoch every ${intervalMs} ms (GET /epochs)`;
      }
      const unpublish = publishValidator(config.dataDir, loopback);
      // In order, each part once the one that uses it has stopped: the runner ends its run
      // through the validator, the validator and dispatcher need the database. One line each.
      onShutdown(async () => {
        unpublish();
        if (runner) {
          await runner.stop();
          console.log('stopped  runner (its run is marked stopped)');
        }
        await dashboard.close();
        await app.close();
        await dispatcher.stop();
        console.log('stopped  validator, dashboard and dispatcher');
        await database.close();
        console.log(`stopped  database`);
      }, logger);
      const dashboardUrl = `http://${config.host}:${typeof dashboardAddress === 'object' && dashboardAddress ? dashboardAddress.port : ''}`;
      console.log(
        [
          'Grid Governance Engine is running',
          `  validator  ${base}`,
          `  dashboard  ${dashboardUrl}`,
          `  api docs   ${base}/docs`,
          `  runner     ${runnerLine}`,
          `  database   ${database.location}`,
          ...(stored ? storedKeyLines(stored, dashboardUrl, process.stdout.isTTY === true) : ['  admin key  GRIDGOV_ADMIN_KEY']),
          `  outbox     linear ${config.linear ? 'on' : 'off (logged locally)'}, discord ${config.discord ? 'on' : 'off (logged locally)'}`,
          'Press Ctrl+C to stop.',
        ].join('\n'),
      );
    } catch (error) {
      await database.close();
      throw error;
    }
    return new Promise<number>(() => undefined);
  },
};

/** Which of the given ports another process holds on `host`, each as a sentence naming its setting. */
async function busyPorts(host: string, ports: Array<{ port: number; name: string; setting: string }>): Promise<string[]> {
  const inUse = (port: number) =>
    new Promise<boolean>((resolveInUse) => {
      const probe = createServer();
      probe.once('error', (error: NodeJS.ErrnoException) => resolveInUse(error.code === 'EADDRINUSE'));
      probe.listen({ port, host, exclusive: true }, () => probe.close(() => resolveInUse(false)));
    });
  const busy = [];
  for (const { port, name, setting } of ports) {
    if (port !== 0 && (await inUse(port))) busy.push(`${name} ${host}:${port} is in use; choose another with ${setting}`);
  }
  return busy;
}
