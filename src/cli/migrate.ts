import { loadConfig } from '../config.ts';
import { migrate } from '../db/migrate.ts';
import { registerBootstrapKey } from '../governance/keys.ts';
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
      const applied = await migrate(database.db);
      console.log(applied.length ? `applied ${applied.length} migration(s): ${applied.join(', ')}` : 'schema is up to date');
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
