import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { databaseUrl, startEmbeddedPostgres } from '../../src/db/embedded.ts';

/**
 * The PostgreSQL a benchmark runs on: BENCH_DATABASE_URL's server, or a fresh embedded
 * PostgreSQL 17 in a temporary folder, tuned as one would tune a server on this machine
 * (shared_buffers, fewer checkpoints during the bulk load), then restarted to apply it.
 */
export async function benchServer(
  log: (line: string) => void,
): Promise<{ url: string; settings: Record<string, string>; stop(): Promise<void> }> {
  const settings: Record<string, string> = {
    shared_buffers: '2GB',
    max_wal_size: '16GB',
    checkpoint_timeout: '30min',
    maintenance_work_mem: '512MB',
  };
  if (process.env.BENCH_DATABASE_URL) return { url: process.env.BENCH_DATABASE_URL, settings: {}, stop: async () => undefined };
  const dataDir = mkdtempSync(join(tmpdir(), 'gridgov-bench-'));
  let server = await startEmbeddedPostgres({ dataDir, log });
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  for (const [name, value] of Object.entries(settings)) await admin.query(`ALTER SYSTEM SET ${name} = '${value}'`);
  await admin.end();
  await server.stop();
  server = await startEmbeddedPostgres({ dataDir, log });
  const current = server;
  return {
    url: current.url,
    settings,
    async stop() {
      await current.stop();
      if (!process.env.BENCH_KEEP) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A new, empty database on the server; returns its URL. */
export async function freshDatabase(serverUrl: string, name: string): Promise<string> {
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  return databaseUrl(serverUrl, name);
}
