import { loadConfig } from '../config.ts';
import { migrate } from '../db/migrate.ts';
import { checkpointNow, listCheckpoints } from '../ledger/integrity/checkpoint.ts';
import { parseFlags } from './args.ts';
import type { Command } from './args.ts';
import { createLogger, openDatabase } from './runtime.ts';

export const command: Command = {
  summary: 'Record a checkpoint (ledger id, balances digest, supply) at the settled head, or --list them',
  usage: 'gridgov checkpoint [--list] [--database-url URL] [--data-dir DIR]',
  async run(args) {
    const { values } = parseFlags(args, { list: { type: 'boolean' } });
    const config = loadConfig(process.env, values);
    const database = await openDatabase(config, createLogger(config, 'checkpoint'), 2);
    try {
      await migrate(database.db);
      if (values.list) {
        for (const c of await listCheckpoints(database.db, 50)) {
          console.log(
            `${String(c.ledger_id).padStart(12)}  ${c.created_at}  ${c.made_by.padEnd(9)}  ${c.entries} entries  ${c.balances_digest}`,
          );
        }
        return 0;
      }
      const checkpoint = await checkpointNow(database.db);
      console.log(`checkpoint at ledger id ${checkpoint.ledger_id} (${checkpoint.entries} entries)`);
      console.log(`balances digest ${checkpoint.balances_digest}`);
      console.log(`supply ${JSON.stringify(checkpoint.supply)}`);
      return 0;
    } finally {
      await database.close();
    }
  },
};
