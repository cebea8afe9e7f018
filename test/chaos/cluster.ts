import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { createDb, type Db } from '../../src/db/db.ts';
import { databaseUrl, freePort } from '../../src/db/embedded.ts';
import { migrate } from '../../src/db/migrate.ts';
import { registerBootstrapKey } from '../../src/governance/keys.ts';
import { seedScenario } from '../../src/ledger/writing/seed.ts';
import { startFakeDiscord, type FakeDiscord } from '../support/fake-discord.ts';
import { startFakeLinear, type FakeLinear } from '../support/fake-linear.ts';
import { testServerKind } from '../support/stock-postgres.ts';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.ts';
import { ADMIN_KEY } from '../support/validator.ts';
import { ChaosPostgres, GridgovProcess, type ExitRecord } from './processes.ts';
import { chaosScenario } from './workload.ts';

/**
 * Everything under test, on loopback only: PostgreSQL, a TCP proxy in front of it, two validator
 * replicas and a dispatcher that reach PostgreSQL only through the proxy (as the application
 * role), and fake Linear and Discord servers. The checker reads PostgreSQL directly, as the owner.
 *
 * PostgreSQL is TEST_DATABASE_URL's server when set (a superuser URL: the run makes and drops a
 * database and a login of its own there, and cannot crash that server), else one the run starts
 * and may crash: Debian's package as shipped with TEST_POSTGRES=stock, the embedded one otherwise.
 */
export interface Cluster extends ServiceCluster {
  /** The server this run started, crashes and restarts; absent on TEST_DATABASE_URL's. */
  postgres: ChaosPostgres | undefined;
  proxy: TcpProxy;
}

/** What the bank test needs of any topology: the database as its owner, the services, the fakes. */
export interface ServiceCluster extends Services {
  dir: string;
  /** e.g. "PostgreSQL 15.14 (Debian …), jit on". */
  server: string;
  /** The chaos database as its owner, straight to PostgreSQL (not through the chaos proxy). */
  directUrl: string;
  db: Db;
  stop(): Promise<void>;
}

/** Two validator replicas, a dispatcher and fake Linear and Discord servers, as child processes. */
export interface Services {
  validators: Array<GridgovProcess & { url: string }>;
  dispatcher: GridgovProcess;
  linear: FakeLinear;
  /** issueCreate calls that created an issue, per Linear issue id. */
  linearCreates: Map<string, number>;
  discord: FakeDiscord;
  unexpectedExits: ExitRecord[];
}

/**
 * Services connect as operators run them: a LOGIN role in gridgov_app, which may append but not
 * rewrite history. Falls back to the owner when the migrations made no such role.
 */
export async function applicationLogin(ownerUrl: string, login: string): Promise<string> {
  const client = new pg.Client({ connectionString: ownerUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query("SELECT 1 FROM pg_roles WHERE rolname = 'gridgov_app'");
    if (rowCount === 0) return ownerUrl;
    const password = randomBytes(18).toString('base64url');
    await client.query(`CREATE ROLE ${login} LOGIN PASSWORD '${password}' IN ROLE gridgov_app`);
    const url = new URL(ownerUrl);
    url.username = login;
    url.password = password;
    return url.toString();
  } finally {
    await client.end();
  }
}

async function dropDatabaseAndLogin(serverUrl: string, database: string, login: string): Promise<void> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await client.query(`DROP ROLE IF EXISTS ${login}`);
  } finally {
    await client.end();
  }
}

/**
 * A run's folder and teardown: what is started pushes its cleanup, stop() runs them in reverse
 * order (logging, not throwing, what fails) and removes the folder unless it is to be kept.
 */
export function runScaffold(prefix: string, options: { keepDir: () => boolean; log: (line: string) => void }) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const cleanups: Array<() => Promise<void>> = [];
  const unexpectedExits: ExitRecord[] = [];
  let closing = false;
  return {
    dir,
    cleanups,
    unexpectedExits,
    closing: () => closing,
    async stop(): Promise<void> {
      closing = true;
      for (const cleanup of cleanups.reverse()) await cleanup().catch((error: unknown) => options.log(`cleanup: ${String(error)}`));
      if (!options.keepDir()) rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function startCluster(options: { keepDir: () => boolean; log: (line: string) => void }): Promise<Cluster> {
  const run = runScaffold('gridgov-chaos-', options);
  const { dir, cleanups, unexpectedExits, stop } = run;
  try {
    const kind = testServerKind();
    let postgres: ChaosPostgres | undefined;
    let serverUrl: string;
    if (kind === 'external') {
      serverUrl = process.env.TEST_DATABASE_URL!;
    } else {
      postgres = new ChaosPostgres(join(dir, 'data'), await freePort(), kind);
      const started = postgres;
      serverUrl = (await started.start()).url;
      cleanups.push(() => started.stop());
    }
    // Names of its own, so that runs sharing a server do not meet.
    const suffix = kind === 'external' ? `_${randomBytes(4).toString('hex')}` : '';
    const database = `chaos${suffix}`;
    const login = `chaos_service${suffix}`;
    const admin = new pg.Client({ connectionString: serverUrl });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${database}`);
    const { rows } = await admin.query<{ server: string }>(
      "SELECT split_part(version(), ' on ', 1) || ', jit ' || current_setting('jit') || CASE WHEN pg_jit_available() THEN '' ELSE ' (no LLVM: nothing is compiled)' END AS server",
    );
    await admin.end();
    if (kind === 'external') cleanups.push(() => dropDatabaseAndLogin(serverUrl, database, login));
    const directUrl = databaseUrl(serverUrl, database);
    const db = createDb(directUrl, { max: 4, applicationName: 'chaos-checker' });
    cleanups.push(() => db.close());
    await migrate(db);
    // As `gridgov migrate` does with GRIDGOV_ADMIN_KEY: the database learns the bootstrap key,
    // which the validators (the application role) present for the breaker flips.
    await registerBootstrapKey(db, ADMIN_KEY);
    await seedScenario(db, chaosScenario, 'chaos');
    const serviceUrl = await applicationLogin(directUrl, login);

    const target = new URL(serverUrl);
    const proxy = await startTcpProxy({ targetHost: target.hostname, targetPort: Number(target.port || 5432) });
    cleanups.push(() => proxy.close());
    const services = await startServices({
      dir,
      env: { DATABASE_URL: proxy.url(serviceUrl) },
      cleanups,
      closing: run.closing,
      log: options.log,
      unexpectedExits,
    });
    return {
      dir,
      postgres,
      server: rows[0]!.server,
      directUrl,
      db,
      proxy,
      ...services,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * Starts the services on `env`'s database (DATABASE_URL, the application login): fake Linear and
 * Discord, two validators and a dispatcher. Each is stopped by the cleanups pushed here; one that
 * dies on its own is recorded in unexpectedExits and restarted.
 */
export async function startServices(options: {
  dir: string;
  /** DATABASE_URL, and any setting to change from the chaos run's. */
  env: NodeJS.ProcessEnv;
  cleanups: Array<() => Promise<void>>;
  closing: () => boolean;
  log: (line: string) => void;
  unexpectedExits: ExitRecord[];
}): Promise<Services> {
  const { dir, cleanups, unexpectedExits } = options;
  const linear = await startFakeLinear();
  cleanups.push(() => linear.close());
  const discord = await startFakeDiscord();
  cleanups.push(() => discord.close());
  const linearCreates = new Map<string, number>();
  const set = linear.issues.set.bind(linear.issues);
  // The fake stores an issue only when issueCreate succeeds: counting stores counts successes.
  linear.issues.set = (id, issue) => {
    linearCreates.set(id, (linearCreates.get(id) ?? 0) + 1);
    return set(id, issue);
  };

  const env: NodeJS.ProcessEnv = {
    GRIDGOV_DISPATCHER_METRICS_PORT: '0',
    ...process.env,
    GRIDGOV_ADMIN_KEY: ADMIN_KEY,
    GRIDGOV_VALIDATOR_VERSION: 'chaos',
    LOG_LEVEL: process.env.CHAOS_LOG_LEVEL ?? 'warn',
    LINEAR_API_KEY: linear.apiKey,
    LINEAR_TEAM_ID: 'team-chaos',
    LINEAR_API_URL: linear.url,
    DISCORD_WEBHOOK_URL: discord.webhookUrl,
    // Short enough that every delivery settles within the run, however often the targets fail.
    GRIDGOV_OUTBOX_MAX_ATTEMPTS: '100',
    GRIDGOV_OUTBOX_TIMEOUT_MS: '400',
    GRIDGOV_OUTBOX_LEASE_MS: '1000',
    GRIDGOV_OUTBOX_BASE_DELAY_MS: '50',
    GRIDGOV_OUTBOX_MAX_DELAY_MS: '1000',
    GRIDGOV_OUTBOX_POLL_MS: '100',
    // Last, so that a topology may change any of the above.
    ...options.env,
  };
  const processes = new Map<string, GridgovProcess>();
  // A process that dies on its own is a finding; it is restarted so the run can go on.
  const onExit = (exit: ExitRecord) => {
    if (options.closing()) return;
    unexpectedExits.push(exit);
    options.log(`${exit.name} (pid ${exit.pid}) exited on its own: ${exit.code ?? exit.signal}; restarting it`);
    setTimeout(
      () =>
        void processes
          .get(exit.name)
          ?.start()
          .catch((error: unknown) => options.log(String(error))),
      200,
    );
  };
  const validators: Cluster['validators'] = [];
  for (const name of ['validator-a', 'validator-b']) {
    const port = await freePort();
    const validator = Object.assign(
      new GridgovProcess(
        name,
        ['validator', '--no-migrate', '--port', String(port)],
        env,
        /listening on http:\/\/\S+/,
        join(dir, `${name}.log`),
        onExit,
      ),
      { url: `http://127.0.0.1:${port}` },
    );
    validators.push(validator);
    processes.set(name, validator);
    cleanups.push(() => validator.kill('SIGTERM'));
  }
  const dispatcher = new GridgovProcess('dispatcher', ['dispatcher'], env, /dispatcher running/, join(dir, 'dispatcher.log'), onExit);
  processes.set('dispatcher', dispatcher);
  cleanups.push(() => dispatcher.kill('SIGTERM'));
  await Promise.all([...validators.map((v) => v.start()), dispatcher.start()]);
  return { validators, dispatcher, linear, linearCreates, discord, unexpectedExits };
}
