import { loadConfig } from '../config.ts';
import { migrate } from '../db/migrate.ts';
import { createApiKey, KeyError, listApiKeys, revokeApiKey } from '../governance/keys.ts';
import { Role } from '../governance/auth.ts';
import { parseFlags, UsageError } from './args.ts';
import type { Command } from './args.ts';
import { createLogger, openDatabase } from './runtime.ts';

export const command: Command = {
  summary: 'Manage API keys: create (the key is printed once, alone on the last line), list, revoke',
  usage: 'gridgov keys create --name N --role viewer|operator|admin|system|agent [--actor ACTOR_NAME] | keys list | keys revoke --name N',
  async run(args) {
    const { values, positionals } = parseFlags(args, { name: { type: 'string' }, role: { type: 'string' }, actor: { type: 'string' } });
    const [action] = positionals;
    if (!action || !['create', 'list', 'revoke'].includes(action)) throw new UsageError('expected create, list or revoke');
    if (action !== 'list' && !values.name) throw new UsageError('--name is required');
    if (action === 'create' && !values.role) throw new UsageError('--role is required');
    if (action === 'create' && !Object.values(Role).includes(values.role as Role)) {
      throw new UsageError(`--role must be one of ${Object.values(Role).join(', ')}, got "${values.role}"`);
    }
    const config = loadConfig(process.env, values);
    const database = await openDatabase(config, createLogger(config, 'keys'), 2);
    try {
      await migrate(database.db);
      if (action === 'create') {
        const { key, info } = await createApiKey(database.db, values.name!, values.role!, values.actor);
        console.log(
          `created ${info.role} key "${info.name}"${values.actor ? ` for actor "${values.actor}"` : ''}; store it now, it is not shown again:`,
        );
        console.log(key);
      } else if (action === 'list') {
        const keys = await listApiKeys(database.db);
        if (keys.length === 0) console.log('no API keys (the bootstrap key GRIDGOV_ADMIN_KEY is not stored)');
        for (const k of keys)
          console.log(`${k.name.padEnd(24)} ${k.role.padEnd(9)} created ${k.created_at}${k.revoked_at ? `  revoked ${k.revoked_at}` : ''}`);
      } else {
        await revokeApiKey(database.db, values.name!);
        console.log(`revoked key "${values.name}"`);
      }
      return 0;
    } catch (error) {
      if (error instanceof KeyError) {
        console.error(`gridgov keys: ${error.message}`);
        return 1;
      }
      throw error;
    } finally {
      await database.close();
    }
  },
};
