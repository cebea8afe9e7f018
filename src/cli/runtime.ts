import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino, destination, type Logger } from 'pino';
import pg from 'pg';
import type { Config } from '../config.ts';
import { createDb, type Db, type DbOptions } from '../db/db.ts';
import { databaseUrl, startEmbeddedPostgres } from '../db/embedded.ts';
import { migrate } from '../db/migrate.ts';
import { registerBootstrapKey } from '../governance/keys.ts';
import { shutdownTracing, traceLogFields } from '../observability/tracing.ts';

export function createLogger(config: Pick<Config, 'logLevel'>, name: string): Logger {
  return pino(
    {
      name,
      level: config.logLevel,
      // Lines written inside a traced request carry its trace_id and span_id.
      mixin: traceLogFields,
      // Keys and credentials must never reach a log line, whatever object is logged.
      redact: { paths: ['*.authorization', 'headers.authorization', '*.apiKey', '*.password', 'config.adminKey'], censor: '[redacted]' },
    },
    destination({ fd: 2, sync: true }),
  );
}

export interface Database {
  /** The pool for this process: the application role's for services, the owner's for operations. */
  db: Db;
  /** Reads that may lag (world-state, ledger, dashboards): DATABASE_READ_URL's replica, else db. */
  readDb: Db;
  url: string;
  embedded: boolean;
  /** Runs fn on a short-lived pool of the owning login (seeding, which sets the limits). */
  asOwner<T>(fn: (db: Db) => Promise<T>): Promise<T>;
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
  return purpose === 'service'
    ? bounds
    : { ...bounds, statementTimeoutMs: bounds.operationsStatementTimeoutMs, lockTimeoutMs: 0 };
}

/** Migrates as the owner, and registers the bootstrap key, which only an owning login may. */
async function migrateAs(url: string, config: Readonly<Config>): Promise<void> {
  await withPool(url, async (owner) => {
    await migrate(owner);
    if (config.adminKey) await registerBootstrapKey(owner, config.adminKey);
  }, poolOptions(config, 'operations'));
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
    const ownerUrl = config.databaseOwnerUrl ?? config.databaseUrl;
    if (options.migrate) await migrateAs(ownerUrl, config);
    const url = role === 'app' ? config.databaseUrl : ownerUrl;
    const db = createDb(url, { max: poolSize, ...bounds });
    const reads = readDb(db);
    return {
      db,
      readDb: reads,
      url,
      embedded: false,
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
    embedded: true,
    asOwner: (fn) => withPool(ownerUrl, fn, poolOptions(config, 'operations')),
    async close() {
      await db.close().catch(() => undefined);
      if (reads !== db) await reads.close().catch(() => undefined);
      await server.stop();
    },
  };
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
  process.once('SIGINT', handler);
  process.once('SIGTERM', handler);
}
