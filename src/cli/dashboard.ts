import { loadConfig } from '../config.ts';
import { createDashboardApp } from '../dashboard/server.ts';
import { parseFlags } from './args.ts';
import type { Command } from './args.ts';
import { createLogger, onShutdown } from './runtime.ts';
import { validatorUrl } from './running.ts';

export const DEFAULT_DASHBOARD_PORT = 8081;

export const command: Command = {
  summary: 'Serve the web dashboard; it reads only through the validator API (no database needed)',
  usage: 'gridgov dashboard [--validator URL] [--port N] [--host H]',
  async run(args) {
    const { values } = parseFlags(args, { validator: { type: 'string' } });
    const config = loadConfig(process.env, values);
    const logger = createLogger(config, 'dashboard');
    const validator = validatorUrl(config);
    const app = await createDashboardApp({ validatorUrl: validator, logger });
    // --port is this server's own; without it, GRIDGOV_DASHBOARD_PORT, then 8081.
    const port = typeof values.port === 'string' ? config.port : (config.dashboard.port ?? DEFAULT_DASHBOARD_PORT);
    await app.listen({ port, host: config.host });
    onShutdown(() => app.close(), logger);
    const address = app.server.address();
    const actual = typeof address === 'object' && address ? address.port : port;
    console.log(`dashboard listening on http://${config.host}:${actual} (validator ${validator})`);
    return new Promise<number>(() => undefined); // runs until a signal ends the process
  },
};
