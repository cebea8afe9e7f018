/**
 * `npm test`: starts one real PostgreSQL for the whole run, migrates a template database that each
 * test file clones, runs Node's test runner, then stops the server and exits with the runner's code.
 *
 * The server: TEST_DATABASE_URL's (a superuser URL; the run makes and drops its own databases
 * there), else TEST_POSTGRES=stock for Debian's postgresql package as shipped (started here on a
 * free port, see test/support/stock-postgres.ts), else the embedded one.
 *
 * Two loops: with no file named, `npm test` runs the fast loop, every test file outside the
 * folders in FULL_ONLY; `npm run test:all` (`--all`) runs every file. Files named on the command
 * line run whatever folder they are in.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import pg from 'pg';
import { createDb } from '../src/db/db.ts';
import { databaseUrl, startEmbeddedPostgres } from '../src/db/embedded.ts';
import { migrate } from '../src/db/migrate.ts';
import { startStockPostgres, testServerKind } from '../test/support/stock-postgres.ts';

// A server of someone else's may be shared by several runs: each migrates a template of its own.
const TEMPLATE = process.env.TEST_DATABASE_URL ? `gridgov_template_${process.pid}` : 'gridgov_template';

/**
 * Folders of test/ that only the full loop runs: the n8n workflow, the chaos harness, the browser
 * (Chromium), long simulations, the fuzzing floods, request and socket floods (load), the `gridgov`
 * commands run as processes (cli), the agents' runner against a validator (runner), the lint
 * configuration's own test, the backup and restore run (pgBackRest on clusters of its own), and
 * experiments (whole episodes in databases of their own). What stays is domain, API, ledger and
 * governance on a real PostgreSQL.
 */
const FULL_ONLY = new Set(['n8n', 'chaos', 'browser', 'simulation', 'fuzz', 'load', 'cli', 'runner', 'lint', 'backup', 'experiments']);

function findTests(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return entry === 'support' ? [] : findTests(path);
    return entry.endsWith('.test.ts') ? [relative(process.cwd(), path)] : [];
  });
}

async function prepareTemplate(serverUrl: string): Promise<void> {
  await dropDatabase(serverUrl, TEMPLATE);
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${TEMPLATE}`);
  await admin.end();
  const db = createDb(databaseUrl(serverUrl, TEMPLATE), { max: 1 });
  await migrate(db);
  await db.close();
}

async function startServer(dataDir: string): Promise<{ url: string; stop(): Promise<void> }> {
  const kind = testServerKind();
  if (kind === 'external') {
    const external = process.env.TEST_DATABASE_URL!;
    return { url: external, stop: () => dropDatabase(external, TEMPLATE) };
  }
  if (kind === 'stock') {
    const stock = await startStockPostgres();
    console.error(`tests run on ${stock.version} (jit=${stock.jit}) at 127.0.0.1:${stock.port}`);
    return stock;
  }
  return startEmbeddedPostgres({ dataDir });
}

async function dropDatabase(serverUrl: string, name: string): Promise<void> {
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.end();
}

async function run(): Promise<number> {
  const all = process.argv.includes('--all');
  // A folder named on the command line stands for every test file below it.
  const named = process.argv
    .slice(2)
    .filter((arg) => arg !== '--all')
    .flatMap((arg) => (statSync(arg, { throwIfNoEntry: false })?.isDirectory() ? findTests(arg).sort() : [arg]));
  const everything = findTests('test').sort();
  const files = named.length > 0 ? named : all ? everything : everything.filter((file) => !FULL_ONLY.has(file.split(/[\\/]/)[1] ?? ''));
  const dataDir = mkdtempSync(join(tmpdir(), 'gridgov-test-'));
  const server = await startServer(dataDir);
  try {
    await prepareTemplate(server.url);
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--test', `--test-concurrency=${process.env.TEST_CONCURRENCY ?? 2}`, ...files],
      {
        stdio: 'inherit',
        // Dispatchers and runners that tests start listen for scrapes on any free port, never the fixed defaults.
        env: {
          GRIDGOV_DISPATCHER_METRICS_PORT: '0',
          GRIDGOV_RUNNER_METRICS_PORT: '0',
          ...process.env,
          TEST_PG_URL: server.url,
          TEST_TEMPLATE_DB: TEMPLATE,
        },
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
