import { ConfigError } from '../config.ts';
import { MigrationIntegrityError } from '../db/migrate.ts';
import { UsageError, type Command } from './args.ts';

const commands: Record<string, () => Promise<Command>> = {
  start: async () => (await import('./start.ts')).command,
  validator: async () => (await import('./validator.ts')).command,
  migrate: async () => (await import('./migrate.ts')).command,
  seed: async () => (await import('./seed.ts')).command,
  'world-state': async () => (await import('./world-state.ts')).command,
  dispatcher: async () => (await import('./dispatcher.ts')).command,
  keys: async () => (await import('./keys.ts')).command,
  admin: async () => (await import('./admin.ts')).command,
  runner: async () => (await import('./runner.ts')).command,
  dashboard: async () => (await import('./dashboard.ts')).command,
  rehydrate: async () => (await import('./rehydrate.ts')).command,
  checkpoint: async () => (await import('./checkpoint.ts')).command,
  verify: async () => (await import('./verify.ts')).command,
  reset: async () => (await import('./reset.ts')).command,
  experiment: async () => (await import('./experiment.ts')).command,
  replay: async () => (await import('./replay.ts')).command,
  episode: async () => (await import('./episode.ts')).command,
  cache: async () => (await import('./cache.ts')).command,
};

async function help(): Promise<string> {
  const lines = await Promise.all(Object.entries(commands).map(async ([name, load]) => `  ${name.padEnd(14)}${(await load()).summary}`));
  return `Usage: gridgov <command> [options]\n\nCommands:\n${lines.join('\n')}\n\nRun "gridgov <command> --help" for a command's options.`;
}

/** The gridgov CLI: returns the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(await help());
    return name ? 0 : 2;
  }
  const load = commands[name];
  if (!load) {
    console.error(`gridgov: unknown command "${name}"\n\n${await help()}`);
    return 2;
  }
  const command = await load();
  if (args.includes('--help') || args.includes('-h')) {
    console.log(`Usage: ${command.usage}\n\n${command.summary}`);
    return 0;
  }
  try {
    return await command.run(args);
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`gridgov ${name}: ${error.message}\nUsage: ${command.usage}`);
      return 2;
    }
    if (error instanceof ConfigError) {
      console.error(`gridgov ${name}: configuration error: ${error.message}`);
      return 2;
    }
    if (error instanceof MigrationIntegrityError) {
      console.error(`gridgov ${name}: ${error.message}`);
      return 2;
    }
    console.error(`gridgov ${name}: ${(error as Error).message}`);
    return 1;
  }
}
