import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { createValidatorApp } from '../api/validator.ts';
import type { Config } from '../config.ts';
import type { Db } from '../db/db.ts';
import { registerBootstrapKey } from '../governance/keys.ts';
import { createValidatorClient, type ValidatorClient } from '../runner/client.ts';
import { episodePool, type EpisodeDatabase, type EpisodeServer } from './databases.ts';

/**
 * One episode's world at work: its own validator, in this process on 127.0.0.1:0, over a pool of
 * the application login on the episode's database (the same wall as a deployed validator), with a
 * fresh system key registered in that database by the owning login. The runner reaches it over
 * HTTP like any client.
 */
export interface EpisodeWorld {
  url: string;
  key: string;
  client: ValidatorClient;
  /** The owning login's pool on the episode's database (digests, fork adjustments). */
  owner: Db;
  close(): Promise<void>;
}

export async function openEpisodeWorld(
  server: EpisodeServer,
  database: EpisodeDatabase,
  config: Readonly<Config>,
  logger: Logger,
  signal?: AbortSignal,
): Promise<EpisodeWorld> {
  const key = randomBytes(24).toString('base64url');
  const owner = episodePool(database.ownerUrl, server, 2);
  const app = episodePool(database.appUrl, server, 10);
  try {
    await registerBootstrapKey(owner, key);
    const validator = await createValidatorApp({
      db: app,
      config: { ...config, adminKey: key, linear: undefined, discord: undefined },
      logger: logger.child({ component: 'episode-validator', database: database.name }),
    });
    await validator.listen({ host: '127.0.0.1', port: 0 });
    const address = validator.server.address();
    const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    return {
      url,
      key,
      owner,
      client: createValidatorClient({ baseUrl: url, apiKey: key, logger, ...(signal ? { signal } : {}) }),
      async close() {
        await validator.close();
        await Promise.all([app.close(), owner.close()]);
      },
    };
  } catch (error) {
    await Promise.all([app.close(), owner.close()]);
    throw error;
  }
}
