import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { createDb, type Db } from '../../src/db/db.ts';
import { freePort } from '../../src/db/embedded.ts';
import { seedScenario } from '../../src/ledger/writing/seed.ts';
import { applicationLogin, runScaffold, startServices, type ServiceCluster } from '../chaos/cluster.ts';
import { GridgovProcess, live } from '../chaos/processes.ts';
import { chaosScenario } from '../chaos/workload.ts';
import { ADMIN_KEY, BIN, runCli } from '../support/validator.ts';
import { startTopology, type Topology, type TopologyOptions } from './topology.ts';

/**
 * The bank test's world on the HA topology (test/ha/topology.ts): the database is made through
 * HAProxy's write frontend (an owner login, `gridgov migrate`, an application login, as an
 * operator would), the services reach it only through that frontend, and a runner drives its own
 * run through a validator of its own, on a second database of the same cluster, so that its
 * production and consumption cannot disturb the bank's accounts.
 */
export interface HaCluster extends ServiceCluster {
  topology: Topology;
  /** The runner's database, as its owner, through the write frontend. */
  runnerDb: Db;
  runnerValidator: GridgovProcess & { url: string };
  runner: { child: ChildProcess; log: string; exit: { code: number | null; signal: string | null } | undefined };
}

/** postgres://user:password@(the write frontend)/database */
function loginUrl(base: string, user: string, password: string, database: string): string {
  const url = new URL(base);
  url.username = user;
  url.password = password;
  url.pathname = `/${database}`;
  return url.toString();
}

/** A database owned by a login of its own, migrated by `gridgov migrate` as that owner. */
async function makeDatabase(topology: Topology, name: string, owner: string): Promise<string> {
  const admin = new pg.Client({ connectionString: topology.writeUrl });
  await admin.connect();
  const password = randomBytes(18).toString('base64url');
  try {
    const exists = await admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [owner]);
    // CREATEROLE: the migrations create the gridgov_app role the services' logins belong to.
    if (exists.rowCount === 0) await admin.query(`CREATE ROLE ${owner} LOGIN CREATEROLE PASSWORD '${password}'`);
    else await admin.query(`ALTER ROLE ${owner} PASSWORD '${password}'`);
    await admin.query(`CREATE DATABASE ${name} OWNER ${owner}`);
  } finally {
    await admin.end();
  }
  const url = loginUrl(topology.writeUrl, owner, password, name);
  const migrated = await runCli(['migrate'], url, { GRIDGOV_ADMIN_KEY: ADMIN_KEY });
  if (migrated.code !== 0) throw new Error(`gridgov migrate on ${name} failed: ${migrated.stderr}${migrated.stdout}`);
  return url;
}

export async function startHaCluster(
  options: { keepDir: () => boolean; log: (line: string) => void } & TopologyOptions,
): Promise<HaCluster> {
  const run = runScaffold('gridgov-ha-', options);
  const { dir, cleanups, unexpectedExits, stop, closing } = run;
  try {
    const topology = await startTopology(dir, options.log, options);
    cleanups.push(() => topology.stop());

    const directUrl = await makeDatabase(topology, 'gridgov', 'gridgov_owner');
    const db = createDb(directUrl, { max: 4, applicationName: 'ha-checker' });
    cleanups.push(() => db.close());
    const { rows } = await db.query<{ server: string }>(
      "SELECT split_part(version(), ' on ', 1) || ', jit ' || current_setting('jit') AS server",
    );
    await seedScenario(db, chaosScenario, 'chaos');
    const serviceUrl = await applicationLogin(directUrl, 'ha_service');
    const services = await startServices({
      dir,
      // Linear and Discord stay up here (the failovers are the faults), but on a busy machine
      // the fakes, in the harness's process, may take longer than the chaos run's 400 ms.
      env: { DATABASE_URL: serviceUrl, GRIDGOV_OUTBOX_TIMEOUT_MS: '3000', GRIDGOV_OUTBOX_LEASE_MS: '10000' },
      cleanups,
      closing,
      log: options.log,
      unexpectedExits,
    });

    // The runner: a validator of its own on a database of its own, same cluster, same frontend.
    const runnerOwnerUrl = await makeDatabase(topology, 'gridgov_runs', 'gridgov_runs_owner');
    const runnerDb = createDb(runnerOwnerUrl, { max: 2, applicationName: 'ha-runner-checker' });
    cleanups.push(() => runnerDb.close());
    const runnerServiceUrl = await applicationLogin(runnerOwnerUrl, 'ha_runner_service');
    const port = await freePort();
    const env = { ...process.env, DATABASE_URL: runnerServiceUrl, GRIDGOV_ADMIN_KEY: ADMIN_KEY, LOG_LEVEL: 'warn' };
    const runnerValidator: HaCluster['runnerValidator'] = Object.assign(
      new GridgovProcess(
        'validator-runner',
        ['validator', '--no-migrate', '--port', String(port)],
        env,
        /listening on http:\/\/\S+/,
        join(dir, 'validator-runner.log'),
        (exit) => {
          if (closing()) return;
          unexpectedExits.push(exit);
          options.log(`validator-runner (pid ${exit.pid}) exited on its own: ${exit.code ?? exit.signal}; restarting it`);
          setTimeout(() => void runnerValidator.start().catch((error: unknown) => options.log(String(error))), 200);
        },
      ),
      { url: `http://127.0.0.1:${port}` },
    );
    cleanups.push(() => runnerValidator.kill('SIGTERM'));
    await runnerValidator.start();

    const runnerLog = join(dir, 'runner.log');
    const logFd = openSync(runnerLog, 'a');
    // No --epochs: it runs until stopped; its progress after the last failover is the check.
    const child = spawn(
      process.execPath,
      [
        BIN,
        'runner',
        '--validator',
        runnerValidator.url,
        '--scenario',
        resolve('scenarios/commons.json'),
        '--interval',
        '250',
        '--seed',
        '7',
      ],
      { env: { ...env, GRIDGOV_RUNNER_METRICS_PORT: '0' }, stdio: ['ignore', logFd, logFd] },
    );
    closeSync(logFd);
    const runner: HaCluster['runner'] = { child, log: runnerLog, exit: undefined };
    live.add(child.pid!);
    child.once('exit', (code, signal) => {
      live.delete(child.pid!);
      runner.exit = { code, signal };
      if (!closing()) options.log(`the runner exited on its own (${code ?? signal}); see ${runnerLog}`);
    });
    cleanups.push(async () => {
      if (runner.exit) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 20_000))]);
      if (!runner.exit) child.kill('SIGKILL');
    });

    return {
      dir,
      server: rows[0]!.server,
      directUrl,
      db,
      ...services,
      topology,
      runnerDb,
      runnerValidator,
      runner,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
