import { loadConfig } from '../config.ts';
import { migrate } from '../db/migrate.ts';
import { registerBootstrapKey, registerExecuteAuth } from '../governance/keys.ts';
import { wallGaps } from '../governance/wall.ts';
import { parseFlags } from './args.ts';
import type { Command } from './args.ts';
import { createLogger, openDatabase } from './runtime.ts';

export const command: Command = {
  summary: 'Apply pending database migrations (a second run changes nothing); registers GRIDGOV_ADMIN_KEY when set',
  usage: 'gridgov migrate [--database-url URL] [--data-dir DIR]',
  async run(args) {
    const { values } = parseFlags(args, {});
    const config = loadConfig(process.env, values);
    const logger = createLogger(config, 'migrate');
    const database = await openDatabase(config, logger, 2);
    try {
      let applied: string[];
      try {
        applied = await migrate(database.db);
      } catch (error) {
        // GG016: the database wall could not be built (migration 000150); say what, and how to fix it.
        const { code, message, hint } = error as { code?: string; message?: string; hint?: string };
        if (code !== 'GG016') throw error;
        console.error(`gridgov migrate: ${message}${hint ? `\n  fix: ${hint}` : ''}`);
        return 2;
      }
      console.log(applied.length ? `applied ${applied.length} migration(s): ${applied.join(', ')}` : 'schema is up to date');
      for (const gap of await wallGaps(database.db)) console.warn(`warning: ${gap}`);
      if (await registerExecuteAuth(database.db, config.auth.execute))
        console.log(`GRIDGOV_EXECUTE_AUTH ${config.auth.execute} registered`);
      // Validators that connect as the application role cannot register the bootstrap key.
      if (config.adminKey) {
        const registered = await registerBootstrapKey(database.db, config.adminKey);
        console.log(registered ? 'GRIDGOV_ADMIN_KEY registered' : 'GRIDGOV_ADMIN_KEY not registered: this login does not own the schema');
      }
      return 0;
    } finally {
      await database.close();
    }
  },
};
