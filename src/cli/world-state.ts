import { loadConfig } from '../config.ts';
import { getWorldState } from '../ledger/world-state.ts';
import { parseFlags, UsageError } from './args.ts';
import type { Command } from './main.ts';
import { createLogger, openDatabase } from './runtime.ts';

export const command: Command = {
  summary: 'Print the WorldState as JSON, now or as of a ledger id',
  usage: 'gridgov world-state [--at LEDGER_ID] [--database-url URL] [--data-dir DIR]',
  async run(args) {
    const { values } = parseFlags(args, { at: { type: 'string' } });
    const at = values.at === undefined ? undefined : Number(values.at);
    if (at !== undefined && (!Number.isInteger(at) || at < 0)) throw new UsageError('--at must be a ledger id (a non-negative integer)');
    const config = loadConfig(process.env, values);
    const database = await openDatabase(config, createLogger(config, 'world-state'), 2);
    try {
      console.log(JSON.stringify(await getWorldState(database.db, { at }), null, 2));
      return 0;
    } finally {
      await database.close();
    }
  },
};
