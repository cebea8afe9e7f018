import { cacheStats, pruneCache } from '../agents/cache.ts';
import { loadConfig } from '../config.ts';
import { parseFlags, UsageError, type Command } from './args.ts';
import { createLogger, openDatabase } from './runtime.ts';

const UNITS: Record<string, number> = { m: 60, h: 3600, d: 86_400 };

/** `30d`, `12h`, `90m`: an age in seconds; anything else is a usage error naming the flag. */
export function parseAge(raw: string | undefined): number {
  const match = raw === undefined ? null : /^(\d+)([mhd])$/.exec(raw.trim());
  if (!match || Number(match[1]) < 1) throw new UsageError(`--older-than takes an age such as 30d, 12h or 90m, got "${raw ?? ''}"`);
  return Number(match[1]) * UNITS[match[2]!]!;
}

export const command: Command = {
  summary: 'The response cache of model answers: stats, or prune the answers unused for a while',
  usage: 'gridgov cache stats | gridgov cache prune --older-than AGE (30d, 12h, 90m) [--database-url URL] [--data-dir DIR]',
  async run(args) {
    const { values, positionals } = parseFlags(args, { 'older-than': { type: 'string' } });
    const [action, more] = positionals;
    if ((action !== 'stats' && action !== 'prune') || more !== undefined) throw new UsageError('gridgov cache takes stats or prune');
    if (action === 'stats' && values['older-than'] !== undefined) throw new UsageError('--older-than goes with prune');
    const age = action === 'prune' ? parseAge(values['older-than']) : 0;
    const config = loadConfig(process.env, values);
    const database = await openDatabase(config, createLogger(config, 'cache'), 2, { migrate: true });
    try {
      if (action === 'prune') {
        console.log(`pruned ${await pruneCache(database.db, age)} cached answer(s) unused for ${values['older-than']}`);
        return 0;
      }
      const stats = await cacheStats(database.db);
      if (stats.length === 0) console.log('the response cache is empty');
      for (const s of stats)
        console.log(
          `${s.provider} ${s.model} at ${s.base_url}: ${s.answers} answers, ${s.hits} hits, ${s.total_tokens} tokens stored; ` +
            `oldest ${s.oldest.toISOString()}, last used ${s.last_used.toISOString()}`,
        );
      return 0;
    } finally {
      await database.close();
    }
  },
};
