import pg from 'pg';
import { ConfigError } from '../config.ts';
import { createDb, type Db, type DbOptions } from '../db/db.ts';
import { databaseUrl } from '../db/embedded.ts';
import { migrate } from '../db/migrate.ts';
import { backoffMs } from '../retry.ts';

/**
 * Episode databases: each episode's world is a database of its own on the configured server,
 * cloned from a migrated template (`CREATE DATABASE ep_… TEMPLATE gridgov_episode`). A clone is a
 * file copy, so a fresh world costs milliseconds and never sees another episode's actors, balances
 * or ledger, nor the live world in the configured database.
 */

export const EPISODE_TEMPLATE = 'gridgov_episode';

/** Where episode databases are made: the owning login makes them, services use the app login. */
export interface EpisodeServer {
  ownerUrl: string;
  appUrl: string;
  /** The setting that names the owning login, for errors (DATABASE_OWNER_URL, DATABASE_URL, or the embedded server). */
  ownerSetting: string;
  poolOptions: DbOptions;
}

export interface EpisodeDatabase {
  name: string;
  ownerUrl: string;
  appUrl: string;
}

/** An episode's database name: `ep_` and the episode id's hex, with the attempt that made it. */
export function episodeDatabaseName(episodeId: string, attempt: number): string {
  return `ep_${episodeId.replace(/-/g, '')}_${attempt}`;
}

const NAME = /^[a-z_][a-z0-9_]{0,62}$/;

function quoted(name: string): string {
  if (!NAME.test(name)) throw new Error(`not a database name we make: ${name}`);
  return `"${name}"`;
}

async function onServer<T>(server: EpisodeServer, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: server.ownerUrl });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** CREATE DATABASE without the right says which setting names the login that lacks it. */
function explained(server: EpisodeServer, error: unknown): unknown {
  if ((error as { code?: string }).code === '42501') {
    return new ConfigError(
      `episodes need a login that may create databases: grant CREATEDB to the role of ${server.ownerSetting} (ALTER ROLE … CREATEDB), or point ${server.ownerSetting} at one that has it (${(error as Error).message})`,
    );
  }
  return error;
}

/** Runs fn, retrying while the template is being copied or migrated by another process. */
async function whileTemplateBusy<T>(fn: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      // 55006: source database is being accessed by other users (a concurrent clone or migrate).
      if ((error as { code?: string }).code !== '55006' || attempt >= 60) throw error;
      await new Promise((r) => setTimeout(r, backoffMs(attempt, { baseMs: 50, maxMs: 1000 })));
    }
  }
}

/**
 * Makes the episode template if it is missing and migrates it to the current schema. Safe to call
 * from several workers at once: creation tolerates a winner, migrations take an advisory lock.
 */
export async function prepareEpisodeTemplate(server: EpisodeServer): Promise<void> {
  await onServer(server, async (client) => {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [EPISODE_TEMPLATE]);
    if (rowCount) return;
    try {
      await client.query(`CREATE DATABASE ${quoted(EPISODE_TEMPLATE)}`);
    } catch (error) {
      // 42P04: another worker made it first; 23505: it did so while this CREATE was under way.
      const code = (error as { code?: string }).code;
      if (code !== '42P04' && code !== '23505') throw explained(server, error);
    }
  });
  const db = createDb(databaseUrl(server.ownerUrl, EPISODE_TEMPLATE), { ...server.poolOptions, max: 1 });
  try {
    await migrate(db);
  } finally {
    await db.close();
  }
}

/** A fresh world: a clone of the template. An older database of the same name is dropped first. */
export async function createEpisodeDatabase(server: EpisodeServer, name: string): Promise<EpisodeDatabase> {
  await dropEpisodeDatabase(server, name);
  await onServer(server, (client) =>
    whileTemplateBusy(() => client.query(`CREATE DATABASE ${quoted(name)} TEMPLATE ${quoted(EPISODE_TEMPLATE)}`)).catch(
      (error: unknown) => {
        throw explained(server, error);
      },
    ),
  );
  return { name, ownerUrl: databaseUrl(server.ownerUrl, name), appUrl: databaseUrl(server.appUrl, name) };
}

export async function dropEpisodeDatabase(server: EpisodeServer, name: string): Promise<void> {
  await onServer(server, (client) => client.query(`DROP DATABASE IF EXISTS ${quoted(name)} WITH (FORCE)`));
}

/** A pool on an episode's database. */
export function episodePool(url: string, server: EpisodeServer, max = 10): Db {
  return createDb(url, { ...server.poolOptions, max, applicationName: 'gridgov-episode' });
}
