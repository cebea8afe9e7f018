import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import pg from 'pg';
import type { Config } from '../config.ts';
import { createDb, type Db, type DbOptions } from '../db/db.ts';
import { databaseUrl, startEmbeddedPostgres } from '../db/embedded.ts';
import { migrate } from '../db/migrate.ts';
import { registerBootstrapKey, registerExecuteAuth } from '../governance/keys.ts';
import { shutdownTracing } from '../observability/tracing.ts';

export { createLogger } from './logger.ts';

export interface Database {
  /** The pool for this process: the application role's for services, the owner's for operations. */
  db: Db;
  /** Reads that may lag (world-state, ledger, dashboards): DATABASE_READ_URL's replica, else db. */
  readDb: Db;
  url: string;
  /** The owning login's URL (migrations, DDL, CREATE DATABASE): DATABASE_OWNER_URL's, else url's server as owner. */
  ownerUrl: string;
  /** The URL of the login services use (the application role where there is one). */
  appUrl(): Promise<string>;
  embedded: boolean;
  /** Runs fn on a short-lived pool of the owning login (seeding, which sets the limits). */
  asOwner<T>(fn: (db: Db) => Promise<T>): Promise<T>;
  /** Where the data lives, for people: the embedded cluster's folder, or the server's host. */
  location: string;
  close(): Promise<void>;
}

async function withPool<T>(url: string, fn: (db: Db) => Promise<T>, options: DbOptions = {}): Promise<T> {
  const db = createDb(url, { max: 2, ...options });
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

export interface OpenOptions {
  poolSize?: number;
  /** `app` for services (validator, dispatcher): no DDL, no rewriting of history. */
  role?: 'owner' | 'app';
  /** Apply pending migrations first, as the owner. */
  migrate?: boolean;
}

const APP_LOGIN = 'gridgov_validator';

/** In the embedded cluster, the LOGIN role services use: a member of gridgov_app. */
async function provisionAppLogin(ownerUrl: string, dataDir: string): Promise<string | undefined> {
  const file = join(dataDir, 'app-password');
  if (!existsSync(file)) writeFileSync(file, randomBytes(18).toString('base64url'), { mode: 0o600 });
  const password = readFileSync(file, 'utf8').trim();
  const client = new pg.Client({ connectionString: ownerUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query("SELECT 1 FROM pg_roles WHERE rolname = 'gridgov_app'");
    if (rowCount === 0) return undefined;
    const exists = await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [APP_LOGIN]);
    const literal = password.replace(/'/g, "''");
    await client.query(
      exists.rowCount === 0
        ? `CREATE ROLE ${APP_LOGIN} LOGIN PASSWORD '${literal}' IN ROLE gridgov_app`
        : `ALTER ROLE ${APP_LOGIN} LOGIN PASSWORD '${literal}'`,
    );
  } finally {
    await client.end();
  }
  const url = new URL(ownerUrl);
  url.username = APP_LOGIN;
  url.password = encodeURIComponent(password);
  return url.toString();
}

/** A pool's bounds (src/config.ts, `database`): services get them all, operations their own. */
export function poolOptions(config: Pick<Config, 'database'>, purpose: 'service' | 'operations'): DbOptions {
  const bounds = config.database;
  return purpose === 'service' ? bounds : { ...bounds, statementTimeoutMs: bounds.operationsStatementTimeoutMs, lockTimeoutMs: 0 };
}

/** A failure to reach a configured server says which setting named it, and where it points. */
async function naming<T>(setting: string, url: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code && /^(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|ECONNRESET|EHOSTUNREACH|28P01|28000|3D000)$/.test(code)) {
      const where = new URL(url);
      throw new Error(`cannot connect to ${setting} (${where.host}${where.pathname}): ${(error as Error).message || code}`, {
        cause: error,
      });
    }
    throw error;
  }
}

/** Migrates as the owner, and registers the bootstrap key, which only an owning login may. */
async function migrateAs(url: string, config: Readonly<Config>): Promise<void> {
  await withPool(
    url,
    async (owner) => {
      await migrate(owner);
      if (config.adminKey) await registerBootstrapKey(owner, config.adminKey);
      await registerExecuteAuth(owner, config.auth.execute);
    },
    poolOptions(config, 'operations'),
  );
}

/**
 * The configured database: DATABASE_URL (and DATABASE_OWNER_URL for migrations and operations)
 * when set, else the embedded PostgreSQL under GRIDGOV_DATA_DIR (started here, stopped by
 * close()), where services connect as a generated application login.
 */
export async function openDatabase(config: Readonly<Config>, logger: Logger, poolSize = 20, options: OpenOptions = {}): Promise<Database> {
  const role = options.role ?? 'owner';
  const bounds = poolOptions(config, role === 'app' ? 'service' : 'operations');
  const readDb = (db: Db) =>
    config.databaseReadUrl ? createDb(config.databaseReadUrl, { max: poolSize, applicationName: 'gridgov-read', ...bounds }) : db;
  if (config.databaseUrl) {
    const appUrl = config.databaseUrl;
    const ownerUrl = config.databaseOwnerUrl ?? appUrl;
    const ownerSetting = config.databaseOwnerUrl ? 'DATABASE_OWNER_URL' : 'DATABASE_URL';
    if (options.migrate) await naming(ownerSetting, ownerUrl, () => migrateAs(ownerUrl, config));
    const url = role === 'app' ? config.databaseUrl : ownerUrl;
    const db = createDb(url, { max: poolSize, ...bounds });
    // Operations commands fail at once, naming the setting; services (validator, dispatcher)
    // start anyway and answer, or retry, until the database is back.
    if (role !== 'app') {
      await naming(ownerSetting, url, () => db.query('SELECT 1')).catch(async (error: unknown) => {
        await db.close();
        throw error;
      });
    }
    const reads = readDb(db);
    const where = new URL(url);
    return {
      db,
      readDb: reads,
      url,
      ownerUrl,
      appUrl: () => Promise.resolve(appUrl),
      embedded: false,
      location: `PostgreSQL at ${where.host}${where.pathname} (DATABASE_URL)`,
      asOwner: (fn) => withPool(ownerUrl, fn, poolOptions(config, 'operations')),
      close: async () => void (await Promise.all([db.close(), reads !== db ? reads.close() : undefined])),
    };
  }
  const server = await startEmbeddedPostgres({ dataDir: config.dataDir, log: (line) => logger.info(line) });
  let url: string;
  let ownerUrl: string;
  try {
    const admin = new pg.Client({ connectionString: server.url });
    await admin.connect();
    const exists = await admin.query("SELECT 1 FROM pg_database WHERE datname = 'gridgov'");
    if (exists.rowCount === 0) await admin.query('CREATE DATABASE gridgov');
    await admin.end();
    ownerUrl = databaseUrl(server.url, 'gridgov');
    if (options.migrate || role === 'app') await migrateAs(ownerUrl, config);
    url = role === 'app' ? ((await provisionAppLogin(ownerUrl, config.dataDir)) ?? ownerUrl) : ownerUrl;
  } catch (error) {
    await server.stop();
    throw error;
  }
  const db = createDb(url, { max: poolSize, ...bounds });
  const reads = readDb(db);
  return {
    db,
    readDb: reads,
    url,
    ownerUrl,
    appUrl: async () => (await provisionAppLogin(ownerUrl, config.dataDir)) ?? ownerUrl,
    embedded: true,
    asOwner: (fn) => withPool(ownerUrl, fn, poolOptions(config, 'operations')),
    location: `embedded PostgreSQL in ${server.cluster}${server.attached ? ` (the server of process ${readOwner(server)})` : ''}`,
    async close() {
      await db.close().catch(() => undefined);
      if (reads !== db) await reads.close().catch(() => undefined);
      await server.stop();
    },
  };
}

function readOwner(server: { dataDir: string }): string {
  try {
    return readFileSync(join(server.dataDir, 'owner.pid'), 'utf8').trim();
  } catch {
    return 'another gridgov process';
  }
}

/** Runs cleanup once on SIGINT/SIGTERM, then exits with the given code. */
export function onShutdown(cleanup: () => Promise<void>, logger: Logger): void {
  let closing = false;
  const handler = (signal: string) => {
    if (closing) return;
    closing = true;
    logger.info({ signal }, 'shutting down');
    const timer = setTimeout(() => process.exit(1), 20_000);
    timer.unref();
    cleanup()
      .then(shutdownTracing)
      .catch((error: unknown) => logger.error({ err: error }, 'error while shutting down'))
      .finally(() => process.exit(0));
  };
  // Not once: Ctrl+C under `npm start` arrives twice (from the terminal, and forwarded by npm),
  // and a second signal must not kill the process halfway through its ordered stop.
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}
