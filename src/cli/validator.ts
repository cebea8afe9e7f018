import { createValidatorApp } from '../api/validator.ts';
import { loadConfig } from '../config.ts';
import { setupTracing } from '../observability/tracing.ts';
import { parseFlags } from './args.ts';
import type { Command } from './args.ts';
import { createLogger, onShutdown, openDatabase } from './runtime.ts';

export const command: Command = {
  summary: 'Serve the validator API (the only ledger writer); replicas may share one database',
  usage:
    'gridgov validator [--port N] [--host H] [--database-url URL] [--data-dir DIR] [--no-migrate] [--execute-auth required|open] [--read-auth required|open]',
  async run(args) {
    const { values } = parseFlags(args, {
      'no-migrate': { type: 'boolean' },
      'execute-auth': { type: 'string' },
      'read-auth': { type: 'string' },
    });
    const config = loadConfig(process.env, values);
    await setupTracing({ serviceName: 'gridgov-validator', otlpEndpoint: config.observability.otlpEndpoint });
    const logger = createLogger(config, 'validator');
    const database = await openDatabase(config, logger, 20, { role: 'app', migrate: !values['no-migrate'] });
    try {
      const app = await createValidatorApp({ db: database.db, readDb: database.readDb, config, logger });
      await app.listen({ port: config.port, host: config.host });
      onShutdown(async () => {
        await app.close();
        await database.close();
      }, logger);
      const address = app.server.address();
      const port = typeof address === 'object' && address ? address.port : config.port;
      console.log(`validator listening on http://${config.host}:${port}`);
    } catch (error) {
      await database.close();
      throw error;
    }
    return new Promise<number>(() => undefined); // runs until a signal ends the process
  },
};
