import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createValidatorApp } from '../api/validator.ts';
import { loadConfig } from '../config.ts';
import { createDashboardApp } from '../dashboard/server.ts';
import { migrate } from '../db/migrate.ts';
import { readScenarioFile, seedScenario } from '../ledger/seed.ts';
import { dispatcherFromConfig } from '../notify/index.ts';
import { parseFlags } from './args.ts';
import type { Command } from './main.ts';
import { createLogger, onShutdown, openDatabase } from './runtime.ts';
import { DEFAULT_DASHBOARD_PORT } from './dashboard.ts';

const DEMO = fileURLToPath(new URL('../../scenarios/demo.json', import.meta.url));

export const command: Command = {
  summary: 'All in one: database (embedded unless DATABASE_URL), migrate, seed the demo when empty, serve',
  usage: 'gridgov start [--port N] [--host H] [--dashboard-port N] [--scenario FILE] [--database-url URL] [--data-dir DIR]',
  async run(args) {
    const { values } = parseFlags(args, { scenario: { type: 'string' }, 'dashboard-port': { type: 'string' } });
    const config = loadConfig(process.env, values);
    const logger = createLogger(config, 'gridgov');
    const database = await openDatabase(config, logger);
    try {
      await migrate(database.db);
      const { rows } = await database.db.query<{ n: number }>("SELECT count(*) AS n FROM actors WHERE kind <> 'system'");
      if (rows[0]!.n === 0) {
        const scenario = await readScenarioFile(values.scenario ? resolve(values.scenario) : DEMO);
        const seeded = await seedScenario(database.db, scenario, config.validatorVersion);
        console.log(`seeded scenario "${scenario.name}" (${seeded.actorsAdded} actors) into the empty database`);
      }
      const app = await createValidatorApp({ db: database.db, config, logger });
      await app.listen({ port: config.port, host: config.host });
      const address = app.server.address();
      const base = `http://${config.host}:${typeof address === 'object' && address ? address.port : config.port}`;
      // The dashboard reads through the validator's HTTP API like any client, over loopback.
      const loopback = base.replace(/\/\/(0\.0\.0\.0|\[?::\]?)(?=:)/, '//127.0.0.1');
      const dashboard = await createDashboardApp({ validatorUrl: loopback, logger: logger.child({ component: 'dashboard' }) });
      try {
        await dashboard.listen({ port: config.dashboard.port ?? (config.port === 0 ? 0 : DEFAULT_DASHBOARD_PORT), host: config.host });
      } catch (error) {
        await app.close();
        throw error;
      }
      const dashboardAddress = dashboard.server.address();
      const dispatcher = dispatcherFromConfig(database.db, config, logger);
      dispatcher.start();
      onShutdown(async () => {
        await dashboard.close();
        await app.close();
        await dispatcher.stop();
        await database.close();
      }, logger);
      console.log(
        [
          'Grid Governance Engine is running',
          `  validator  ${base}`,
          `  dashboard  http://${config.host}:${typeof dashboardAddress === 'object' && dashboardAddress ? dashboardAddress.port : ''}`,
          `  api docs   ${base}/docs`,
          `  database   ${database.embedded ? `embedded PostgreSQL in ${resolve(config.dataDir)}` : 'DATABASE_URL'}`,
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
