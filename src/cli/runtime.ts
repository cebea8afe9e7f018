import { pino, destination, type Logger } from 'pino';
import pg from 'pg';
import type { Config } from '../config.ts';
import { createDb, type Db } from '../db/db.ts';
import { databaseUrl, startEmbeddedPostgres } from '../db/embedded.ts';

export function createLogger(config: Pick<Config, 'logLevel'>, name: string): Logger {
  return pino(
    {
      name,
      level: config.logLevel,
      // Keys and credentials must never reach a log line, whatever object is logged.
      redact: { paths: ['*.authorization', 'headers.authorization', '*.apiKey', '*.password', 'config.adminKey'], censor: '[redacted]' },
    },
    destination({ fd: 2, sync: true }),
  );
}

export interface Database {
  db: Db;
  url: string;
  embedded: boolean;
  close(): Promise<void>;
}

/**
 * The configured database: DATABASE_URL when set, else the embedded PostgreSQL under
 * GRIDGOV_DATA_DIR (started here, stopped by close()).
 */
export async function openDatabase(config: Readonly<Config>, logger: Logger, poolSize = 20): Promise<Database> {
  if (config.databaseUrl) {
    const db = createDb(config.databaseUrl, { max: poolSize });
    return { db, url: config.databaseUrl, embedded: false, close: () => db.close() };
  }
  const server = await startEmbeddedPostgres({ dataDir: config.dataDir, log: (line) => logger.info(line) });
  try {
    const admin = new pg.Client({ connectionString: server.url });
    await admin.connect();
    const exists = await admin.query("SELECT 1 FROM pg_database WHERE datname = 'gridgov'");
    if (exists.rowCount === 0) await admin.query('CREATE DATABASE gridgov');
    await admin.end();
  } catch (error) {
    await server.stop();
    throw error;
  }
  const url = databaseUrl(server.url, 'gridgov');
  const db = createDb(url, { max: poolSize });
  return {
    db,
    url,
    embedded: true,
    async close() {
      await db.close().catch(() => undefined);
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
      .catch((error: unknown) => logger.error({ err: error }, 'error while shutting down'))
      .finally(() => process.exit(0));
  };
  process.once('SIGINT', handler);
  process.once('SIGTERM', handler);
}
