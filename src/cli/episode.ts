import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../config.ts';
import { databaseUrl } from '../db/embedded.ts';
import { isUuid } from '../domain/ids.ts';
import { getEpisode } from '../experiments/registry.ts';
import { parseFlags, UsageError, type Command } from './args.ts';
import { openExperimentContext } from './episode-server.ts';

const BIN = fileURLToPath(new URL('../../bin/gridgov', import.meta.url));

/**
 * Every tool works on an episode's world by being pointed at its database: this command runs
 * another gridgov command with DATABASE_URL (the application login) and DATABASE_OWNER_URL set
 * to the episode's database, and keeps the embedded server up while it runs.
 */
export const command: Command = {
  summary: "Run a gridgov command on an episode's database (verify, rehydrate, validator, start …), or print its URL",
  usage: 'gridgov episode EPISODE_ID [--url] [-- COMMAND [OPTIONS …]]',
  async run(args) {
    const split = args.indexOf('--');
    const own = split === -1 ? args : args.slice(0, split);
    const rest = split === -1 ? [] : args.slice(split + 1);
    const { values, positionals } = parseFlags(own, { url: { type: 'boolean' } });
    const [id, ...more] = [...positionals, ...(split === -1 ? [] : rest)];
    const commandArgs = split === -1 ? more : rest;
    if (!id || !isUuid(id)) throw new UsageError('EPISODE_ID (a UUID, as gridgov experiment prints) is required');
    const config = loadConfig(process.env, values);
    const ctx = await openExperimentContext(config, 'episode');
    try {
      const episode = await getEpisode(ctx.control, id.toLowerCase());
      if (!episode?.database) throw new UsageError(`no episode ${id} with a database in this experiment record`);
      const appUrl = databaseUrl(ctx.server.appUrl, episode.database);
      const ownerUrl = databaseUrl(ctx.server.ownerUrl, episode.database);
      if (values.url || commandArgs.length === 0) {
        console.log(`DATABASE_URL=${appUrl}`);
        console.log(`DATABASE_OWNER_URL=${ownerUrl}`);
        return 0;
      }
      const child = spawn(process.execPath, [BIN, ...commandArgs], {
        stdio: 'inherit',
        env: { ...process.env, DATABASE_URL: appUrl, DATABASE_OWNER_URL: ownerUrl, DATABASE_READ_URL: '' },
      });
      const forward = (signal: NodeJS.Signals) => child.kill(signal);
      process.on('SIGINT', forward);
      process.on('SIGTERM', forward);
      try {
        return await new Promise<number>((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0))));
      } finally {
        process.off('SIGINT', forward);
        process.off('SIGTERM', forward);
      }
    } finally {
      await ctx.close();
    }
  },
};
