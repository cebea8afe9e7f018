import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { freePort, isAlive, runAs, waitForExit, waitUntilReady } from '../../src/db/embedded.ts';

/**
 * PostgreSQL as a distribution ships it: Debian's `postgresql` package, a cluster made by its own
 * initdb with the postgresql.conf initdb writes (JIT on, every default kept). Only what a test
 * server needs is set on the command line: the port, loopback-only listening, no Unix socket.
 * Never the cluster the package may have created: a fresh one in a folder of its own.
 *
 * `scripts/stock-postgres.ts` starts and stops the same server from a shell (CI).
 */
export interface StockPostgres {
  /** A superuser URL for the `postgres` database. */
  url: string;
  port: number;
  /** The postmaster's PID. */
  pid: number;
  /** The folder holding the cluster (`data/`), its log and the superuser's password. */
  dir: string;
  /** e.g. "PostgreSQL 15.14 (Debian 15.14-0+deb12u1)". */
  version: string;
  jit: string;
  /** Fast shutdown by PID; the folder is removed unless `keep` was set. */
  stop(): Promise<void>;
}

export interface StockOptions {
  /** Where the cluster lives; a fresh temporary folder when absent. An existing cluster is reused. */
  dir?: string;
  port?: number;
  /** Keep the folder on stop (the cluster can then be started again in place). */
  keep?: boolean;
  /** Let the server outlive this process (the shell script's `start`). */
  detached?: boolean;
}

const SUPERUSER = 'postgres';

/**
 * Which PostgreSQL a test run uses: TEST_DATABASE_URL's server (`external`), a stock cluster it
 * starts (TEST_POSTGRES=stock), or the embedded one (the default, or TEST_POSTGRES=embedded).
 */
export function testServerKind(env: NodeJS.ProcessEnv = process.env): 'external' | 'stock' | 'embedded' {
  if (env.TEST_DATABASE_URL) return 'external';
  if (env.TEST_POSTGRES === 'stock') return 'stock';
  if (env.TEST_POSTGRES && env.TEST_POSTGRES !== 'embedded')
    throw new Error(`TEST_POSTGRES must be stock or embedded, got "${env.TEST_POSTGRES}"`);
  return 'embedded';
}

/** The newest installed server's binaries (Debian: /usr/lib/postgresql/N/bin), or STOCK_PG_BIN. */
export function stockBinDir(): string | undefined {
  const explicit = process.env.STOCK_PG_BIN;
  if (explicit) return existsSync(join(explicit, 'postgres')) ? explicit : undefined;
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => /^\d+$/.test(v) && existsSync(join(root, v, 'bin', 'postgres')) && existsSync(join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(root, versions[0], 'bin') : undefined;
}

function initCluster(bin: string, dir: string, owner: { uid: number; gid: number } | undefined): string {
  const data = join(dir, 'data');
  mkdirSync(data, { mode: 0o700 });
  const password = randomBytes(18).toString('base64url');
  const pwFile = join(dir, 'initdb-password');
  writeFileSync(pwFile, `${password}\n`, { mode: 0o600 });
  try {
    if (owner) {
      chownSync(data, owner.uid, owner.gid);
      chownSync(pwFile, owner.uid, owner.gid);
    }
    execFileSync(
      join(bin, 'initdb'),
      [`--pgdata=${data}`, `--username=${SUPERUSER}`, `--pwfile=${pwFile}`, '--auth=scram-sha-256', '--encoding=UTF8'],
      {
        ...(owner ?? {}),
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
  } finally {
    rmSync(pwFile, { force: true });
  }
  writeFileSync(join(dir, 'password'), password, { mode: 0o600 });
  return password;
}

/**
 * Lets other users pass through every folder above the cluster: temporary folders (a 0700 mkdtemp
 * of a test run) are opened to search-only; any other closed folder is named in an error.
 */
function openPath(folder: string): void {
  const temp = resolve(tmpdir());
  for (let current = folder; ; current = resolve(current, '..')) {
    const mode = statSync(current).mode;
    if ((mode & 0o001) === 0) {
      if (!current.startsWith(`${temp}/`))
        throw new Error(`the postgres user cannot pass through ${current}: put the cluster elsewhere (a folder under ${temp})`);
      chmodSync(current, mode | 0o711);
    }
    if (current === resolve(current, '..')) return;
  }
}

/** Initialises (when needed) and starts a stock cluster on a free loopback port. */
export async function startStockPostgres(options: StockOptions = {}): Promise<StockPostgres> {
  const bin = stockBinDir();
  if (!bin)
    throw new Error("Debian's postgresql package is not installed (no /usr/lib/postgresql/N/bin/postgres): apt-get install postgresql");
  const owner = runAs();
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'gridgov-stock-'));
  mkdirSync(dir, { recursive: true });
  // The postgres user must reach data/ and write its log; secrets stay in 0600 files.
  chmodSync(dir, 0o711);
  if (owner) openPath(resolve(dir, '..'));
  const password = existsSync(join(dir, 'data', 'PG_VERSION'))
    ? readFileSync(join(dir, 'password'), 'utf8').trim()
    : initCluster(bin, dir, owner);
  const port = options.port ?? (await freePort());
  const logFile = join(dir, 'postgres.log');
  const log = openSync(logFile, 'a');
  if (owner) chownSync(logFile, owner.uid, owner.gid);
  const child = spawn(
    join(bin, 'postgres'),
    ['-D', join(dir, 'data'), '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    { ...(owner ?? {}), stdio: ['ignore', log, log], detached: options.detached ?? false },
  );
  closeSync(log);
  if (options.detached) child.unref();
  const url = `postgres://${SUPERUSER}:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;
  try {
    await waitUntilReady(url, child, 60_000);
  } catch (error) {
    child.kill('SIGQUIT');
    throw new Error(`${(error as Error).message}\n${readFileSync(logFile, 'utf8').slice(-2000)}`, { cause: error });
  }
  const pid = child.pid!;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const { rows } = await client.query<{ version: string; jit: string }>(
    "SELECT split_part(version(), ' on ', 1) AS version, current_setting('jit') AS jit",
  );
  await client.end();

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      await stopPostmaster(pid);
      if (!options.keep) rmSync(dir, { recursive: true, force: true });
    })());
  return { url, port, pid, dir, version: rows[0]!.version, jit: rows[0]!.jit, stop };
}

/** Fast shutdown (SIGINT), then immediate (SIGQUIT) if it lingers. */
export async function stopPostmaster(pid: number): Promise<void> {
  if (!isAlive(pid)) return;
  process.kill(pid, 'SIGINT');
  if (!(await waitForExit(pid, 30_000))) {
    process.kill(pid, 'SIGQUIT');
    await waitForExit(pid, 10_000);
  }
}

/** The postmaster's PID as the cluster in `dir` records it, when it runs. */
export function postmasterPid(dir: string): number | undefined {
  const file = join(dir, 'data', 'postmaster.pid');
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, 'utf8').split('\n')[0]);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}
