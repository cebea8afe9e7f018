import { execFile, execFileSync } from 'node:child_process';
import { chownSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import { runAs } from '../../src/db/embedded.ts';
import { stockBinDir } from '../support/stock-postgres.ts';

/**
 * pgBackRest as the recipe in docs/backups.md runs it: the configuration and PostgreSQL settings
 * are the files in scripts/backup/, with only the paths and the port replaced, and every command
 * runs as the user that owns the cluster.
 */

const run = promisify(execFile);
const RECIPE = fileURLToPath(new URL('../../scripts/backup/', import.meta.url));
export const STANZA = 'gridgov';

/** Whether `pgbackrest` is on PATH. */
function pgbackrestInstalled(): boolean {
  try {
    execFileSync('pgbackrest', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** The Debian packages the recipe needs that are not installed. */
function missingPackages(): string[] {
  return [...(stockBinDir() ? [] : ['postgresql']), ...(pgbackrestInstalled() ? [] : ['pgbackrest'])];
}

/**
 * Installs Debian's postgresql and pgbackrest when they are missing (as root, as `.ci/run`
 * does). Returns why they cannot be had, or undefined when both are there.
 */
export function ensureBackupTools(): string | undefined {
  const missing = missingPackages();
  if (missing.length === 0) return undefined;
  if (process.getuid?.() !== 0)
    return `${missing.join(' and ')} not installed, and only root can install them (apt-get install ${missing.join(' ')})`;
  try {
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'ignore', timeout: 300_000 });
    execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], {
      stdio: 'ignore',
      timeout: 300_000,
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  } catch (error) {
    return `${missing.join(' and ')} not installed, and apt-get could not install them: ${(error as Error).message}`;
  }
  const still = missingPackages();
  return still.length === 0 ? undefined : `${still.join(' and ')} still missing after apt-get install ${missing.join(' ')}`;
}

/**
 * scripts/backup/pgbackrest.conf with the values of some keys replaced, per section. A key the
 * recipe does not have is an error, so the test cannot drift from the documented file.
 */
export function renderConfig(overrides: Record<string, Record<string, string>>): string {
  const lines = readFileSync(join(RECIPE, 'pgbackrest.conf'), 'utf8').split('\n');
  const pending = new Set(Object.entries(overrides).flatMap(([section, keys]) => Object.keys(keys).map((key) => `${section}/${key}`)));
  let section = '';
  const out = lines.map((line) => {
    const header = /^\[(.+)\]$/.exec(line);
    if (header) section = header[1]!;
    const setting = /^([a-z0-9-]+)=/.exec(line);
    const value = setting ? overrides[section]?.[setting[1]!] : undefined;
    if (!setting || value === undefined) return line;
    pending.delete(`${section}/${setting[1]}`);
    return `${setting[1]}=${value}`;
  });
  if (pending.size > 0) throw new Error(`scripts/backup/pgbackrest.conf has no ${[...pending].join(', ')}`);
  return out.join('\n');
}

/** scripts/backup/archiving.conf as name/value pairs (quotes removed). */
export function archivingSettings(): Array<{ name: string; value: string }> {
  return readFileSync(join(RECIPE, 'archiving.conf'), 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.startsWith('#'))
    .map((line) => {
      const match = /^([a-z_]+) = (?:'(.*)'|(\S+))$/.exec(line);
      if (!match) throw new Error(`scripts/backup/archiving.conf: cannot read "${line}"`);
      return { name: match[1]!, value: match[2] ?? match[3]! };
    });
}

/**
 * Writes the recipe's settings into the cluster's postgresql.auto.conf (ALTER SYSTEM), with
 * archive_command pointed at `configPath`. archive_mode takes effect at the next restart.
 */
export async function enableArchiving(url: string, configPath: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    for (const { name, value } of archivingSettings()) {
      const setting = name === 'archive_command' ? value.replace(/^pgbackrest /, `pgbackrest --config=${configPath} `) : value;
      await client.query(`ALTER SYSTEM SET ${name} = ${client.escapeLiteral(setting)}`);
    }
  } finally {
    await client.end();
  }
}

export interface Pgbackrest {
  configPath: string;
  repoPath: string;
  /** Runs `pgbackrest --config=… --stanza=gridgov <args>` as the cluster's owner; fails on a non-zero exit. */
  run(args: string[], timeoutMs?: number): Promise<string>;
}

/**
 * A repository, log and lock folder under `dir` and a configuration for the cluster in
 * `dataDir` listening on 127.0.0.1:`port`. Test clusters listen on TCP only, so the commands
 * that talk to PostgreSQL get PGHOST and PGPASSWORD; the recipe's own cluster uses the socket.
 */
export function setUpPgbackrest(dir: string, cluster: { dataDir: string; port: number; password: string }): Pgbackrest {
  const owner = runAs();
  const folders = { repo: join(dir, 'repo'), log: join(dir, 'log'), lock: join(dir, 'lock') };
  for (const folder of [dir, ...Object.values(folders)]) {
    mkdirSync(folder, { recursive: true, mode: 0o700 });
    if (owner) chownSync(folder, owner.uid, owner.gid);
  }
  const configPath = join(dir, 'pgbackrest.conf');
  writeFileSync(
    configPath,
    renderConfig({
      global: { 'repo1-path': folders.repo, 'log-path': folders.log, 'lock-path': folders.lock },
      [STANZA]: { 'pg1-path': cluster.dataDir, 'pg1-port': String(cluster.port) },
    }),
    { mode: 0o644 },
  );
  return {
    configPath,
    repoPath: folders.repo,
    async run(args, timeoutMs = 180_000) {
      try {
        const { stdout } = await run('pgbackrest', [`--config=${configPath}`, `--stanza=${STANZA}`, ...args], {
          ...(owner ?? {}),
          cwd: dir,
          timeout: timeoutMs,
          killSignal: 'SIGTERM',
          env: { PATH: process.env.PATH ?? '/usr/bin:/bin', PGHOST: '127.0.0.1', PGPASSWORD: cluster.password },
        });
        return stdout;
      } catch (error) {
        const failed = error as Error & { stdout?: string; stderr?: string };
        throw new Error(`pgbackrest ${args.join(' ')} failed: ${failed.message}\n${failed.stdout ?? ''}${failed.stderr ?? ''}`, {
          cause: error,
        });
      }
    },
  };
}
