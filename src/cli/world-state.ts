import { loadConfig } from '../config.ts';
import { CodedError } from '../domain/errors.ts';
import { getWorldState } from '../ledger/reads/world-state.ts';
import { parseFlags, UsageError } from './args.ts';
import type { Command } from './args.ts';
import { createLogger, openDatabase } from './runtime.ts';

export const command: Command = {
  summary: 'Print the WorldState as JSON, now or as of a ledger id or a timestamp',
  usage: 'gridgov world-state [--at LEDGER_ID|TIMESTAMP] [--database-url URL] [--data-dir DIR]',
  async run(args) {
    const { values } = parseFlags(args, { at: { type: 'string' } });
    const byId = values.at !== undefined && /^\d+$/.test(values.at);
    const at = byId ? Number(values.at) : undefined;
    const atTime = values.at !== undefined && !byId ? values.at : undefined;
    if (at !== undefined && !Number.isSafeInteger(at)) throw new UsageError('--at must be a ledger id or a timestamp');
    if (atTime !== undefined && Number.isNaN(Date.parse(atTime)))
      throw new UsageError('--at must be a ledger id or an ISO 8601 timestamp such as 2025-02-28T12:00:00Z');
    const config = loadConfig(process.env, values);
    const database = await openDatabase(config, createLogger(config, 'world-state'), 2);
    try {
      console.log(JSON.stringify(await getWorldState(database.db, { at, atTime }), null, 2));
      return 0;
    } catch (error) {
      if (error instanceof CodedError && error.code === 'BAD_REQUEST') throw new UsageError(`--${error.message}`);
      throw error;
    } finally {
      await database.close();
    }
  },
};
