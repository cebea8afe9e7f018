import { isStrategyName, strategyNames, type StrategyName } from '../domain/strategies.ts';
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

/** An integer flag of at least `min`, or undefined when absent; anything else is a usage error naming it. */
export function positiveInteger(name: string, raw: string | undefined, min = 1): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be an integer of at least ${min}`);
  return n;
}

/** One `gridgov` command: src/cli/main.ts dispatches to it by name. */
export interface Command {
  summary: string;
  usage: string;
  run(args: string[]): Promise<number>;
}

/** The `--strategy` flag: a name of the strategy table, or a usage error listing them. */
export function strategyFlag(raw: string | undefined): StrategyName | undefined {
  if (raw === undefined || isStrategyName(raw)) return raw;
  throw new UsageError(`--strategy must be one of ${strategyNames.join(', ')}`);
}
