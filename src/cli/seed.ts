import { loadConfig } from '../config.ts';
import { migrate } from '../db/migrate.ts';
import { readScenarioFile, seedScenario } from '../ledger/writing/seed.ts';
import { parseFlags, UsageError } from './args.ts';
import type { Command } from './args.ts';
import { createLogger, openDatabase } from './runtime.ts';

export const command: Command = {
  summary: 'Seed a scenario (JSON or YAML): resources, limits, actors and genesis balances; idempotent',
  usage: 'gridgov seed --scenario FILE [--database-url URL] [--data-dir DIR]',
  async run(args) {
    const { values } = parseFlags(args, { scenario: { type: 'string', short: 's' } });
    if (!values.scenario) throw new UsageError('--scenario FILE is required');
    const config = loadConfig(process.env, values);
    const scenario = await readScenarioFile(values.scenario);
    const logger = createLogger(config, 'seed');
    const database = await openDatabase(config, logger, 2);
    try {
      await migrate(database.db);
      const result = await seedScenario(database.db, scenario, config.validatorVersion);
      console.log(
        `seeded scenario "${scenario.name}": ${result.actorsAdded} actor(s) and ${result.entriesAdded} genesis entr${result.entriesAdded === 1 ? 'y' : 'ies'} added`,
      );
      return 0;
    } finally {
      await database.close();
    }
  },
};
