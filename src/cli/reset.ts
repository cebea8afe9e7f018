import { existsSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { ConfigError, loadConfig } from '../config.ts';
import { embeddedLocations, runningOwner } from '../db/embedded.ts';
import { parseFlags, UsageError } from './args.ts';
import type { Command } from './args.ts';

async function confirmed(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

export const command: Command = {
  summary: 'Delete the embedded database (its cluster wherever it lives, and the data dir) to start afresh',
  usage: 'gridgov reset [--yes] [--data-dir DIR]',
  async run(args) {
    const { values } = parseFlags(args, { yes: { type: 'boolean', short: 'y' } });
    const config = loadConfig(process.env, values);
    if (config.databaseUrl) {
      throw new ConfigError(
        'DATABASE_URL is set: gridgov reset only deletes the embedded database; drop and recreate your own database instead',
      );
    }
    const where = embeddedLocations(config.dataDir);
    const owner = runningOwner(where.dataDir);
    if (owner) {
      console.error(
        `gridgov reset: process ${owner} is running the embedded database in ${where.cluster}; stop it (Ctrl+C in its terminal) first`,
      );
      return 1;
    }
    const targets = [...new Set([where.dataDir, where.cluster, where.moved])].filter((path) => existsSync(path));
    if (targets.length === 0) {
      console.log(`nothing to reset: no embedded database for ${where.dataDir}`);
      return 0;
    }
    if (!values.yes) {
      if (!process.stdin.isTTY) throw new UsageError('this deletes every trade; pass --yes to confirm');
      const answer = await confirmed(
        `This deletes the ledger, the keys and every other record in:\n${targets.map((t) => `  ${t}`).join('\n')}\nContinue? [y/N] `,
      );
      if (!answer) {
        console.log('nothing deleted');
        return 1;
      }
    }
    for (const target of targets) rmSync(resolve(target), { recursive: true, force: true });
    console.log(`deleted ${targets.join(', ')}; the next start begins with an empty database`);
    return 0;
  },
};
