import type { Config } from '../config.ts';
import { prepareEpisodeTemplate, type EpisodeServer } from '../experiments/databases.ts';
import type { ExperimentContext } from '../experiments/experiment.ts';
import { createLogger, openDatabase, poolOptions } from './runtime.ts';

/**
 * The configured database as the home of experiments: migrated (the record's tables), with the
 * episode template ready on its server. Episodes are made by the owning login, and their
 * validators connect as the application login, as on the configured database itself.
 */
export async function openExperimentContext(
  config: Readonly<Config>,
  name: string,
): Promise<ExperimentContext & { close(): Promise<void> }> {
  const logger = createLogger(config, name);
  const database = await openDatabase(config, logger, 4, { migrate: true });
  try {
    const server: EpisodeServer = {
      ownerUrl: database.ownerUrl,
      appUrl: await database.appUrl(),
      ownerSetting: config.databaseOwnerUrl ? 'DATABASE_OWNER_URL' : config.databaseUrl ? 'DATABASE_URL' : 'the embedded server',
      poolOptions: poolOptions(config, 'service'),
    };
    await prepareEpisodeTemplate(server);
    return { control: database.db, server, config, logger, close: () => database.close() };
  } catch (error) {
    await database.close();
    throw error;
  }
}
