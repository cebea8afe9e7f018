import { parseArgs, type ParseArgsConfig } from 'node:util';

export class UsageError extends Error {}

type Options = NonNullable<ParseArgsConfig['options']>;

export const commonOptions = {
  help: { type: 'boolean', short: 'h' },
  port: { type: 'string' },
  host: { type: 'string' },
  'database-url': { type: 'string' },
  'data-dir': { type: 'string' },
} satisfies Options;

/** Parses a command's flags strictly; an unknown flag is a usage error naming it. */
export function parseFlags<T extends Options>(args: string[], options: T) {
  try {
    return parseArgs({ args, options: { ...commonOptions, ...options }, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** One `gridgov` command: src/cli/main.ts dispatches to it by name. */
export interface Command {
  summary: string;
  usage: string;
  run(args: string[]): Promise<number>;
}
