/**
 * `npm test`: starts one real PostgreSQL for the whole run (embedded, or TEST_DATABASE_URL's
 * server), migrates a template database that each test file clones, runs Node's test runner, then
 * stops the server and exits with the runner's code.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import pg from 'pg';
import { createDb } from '../src/db/db.ts';
import { databaseUrl, startEmbeddedPostgres } from '../src/db/embedded.ts';
import { migrate } from '../src/db/migrate.ts';

const TEMPLATE = 'gridgov_template';

function findTests(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return entry === 'support' ? [] : findTests(path);
    return entry.endsWith('.test.ts') ? [relative(process.cwd(), path)] : [];
  });
}

async function prepareTemplate(serverUrl: string): Promise<void> {
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${TEMPLATE} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${TEMPLATE}`);
  await admin.end();
  const db = createDb(databaseUrl(serverUrl, TEMPLATE), { max: 1 });
  await migrate(db);
  await db.close();
}

async function run(): Promise<number> {
  const files = process.argv.slice(2).length > 0 ? process.argv.slice(2) : findTests('test').sort();
  const dataDir = mkdtempSync(join(tmpdir(), 'gridgov-test-'));
  const server = process.env.TEST_DATABASE_URL
    ? { url: process.env.TEST_DATABASE_URL, stop: async () => undefined }
    : await startEmbeddedPostgres({ dataDir });
  try {
    await prepareTemplate(server.url);
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--test', `--test-concurrency=${process.env.TEST_CONCURRENCY ?? 2}`, ...files],
      {
        stdio: 'inherit',
        // Dispatchers and runners that tests start listen for scrapes on any free port, never the fixed defaults.
        env: { GRIDGOV_DISPATCHER_METRICS_PORT: '0', GRIDGOV_RUNNER_METRICS_PORT: '0', ...process.env, TEST_PG_URL: server.url, TEST_TEMPLATE_DB: TEMPLATE },
      },
    );
    return await new Promise<number>((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0))));
  } finally {
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

run().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
