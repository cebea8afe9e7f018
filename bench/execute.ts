/**
 * `npm run bench`: the validator's /execute and /execute/batch against pgbench's tpcb-like, on the
 * same PostgreSQL in the same run. Medians of BENCH_RUNS runs are written to BENCHMARKS.md.
 *
 * `--database-url URL` (or DATABASE_URL) runs on that server, else on an embedded one; each server
 * kind has its own section. Environment: BENCH_RUNS (3), BENCH_SECONDS (10), BENCH_CLIENTS
 * (1,8,32,64), BENCH_ACTORS (1000).
 */
import {
  benchEnv,
  benchServer,
  checkpoint,
  freshDatabase,
  initPgbench,
  loadAverage,
  machine,
  median,
  peakRssMiB,
  pgbenchRun,
  type PgbenchResult,
  seedBenchWorld,
  startValidatorProcess,
  warmUp,
  wrkLoad,
} from './support.ts';
import { writeSection } from './report.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CLIENTS = (process.env.BENCH_CLIENTS ?? '1,8,32,64').split(',').map(Number);
const ACTORS = Number(process.env.BENCH_ACTORS ?? 1000);
const BATCH = 100;

interface LoadResult {
  requests_per_s: number;
  applied_per_s: number;
  proposals_per_s: number;
  p50_ms: number;
  p99_ms: number;
  statuses: Record<string, number>;
}

/** Drives the validator with wrk for SECONDS; see bench/execute.lua. */
async function load(url: string, clients: number, mode: '' | 'batch' = ''): Promise<LoadResult> {
  const batch = mode === 'batch' ? BATCH : 0;
  const r = await wrkLoad(url, { clients, seconds: SECONDS, actors: ACTORS, batch });
  const answered = batch ? (r.statuses['200'] ?? 0) * batch : r.requests;
  return {
    requests_per_s: r.requests / r.seconds,
    applied_per_s: r.applied / r.seconds,
    proposals_per_s: answered / r.seconds,
    p50_ms: r.p50_us / 1000,
    p99_ms: r.p99_us / 1000,
    statuses: r.statuses,
  };
}

/**
 * RUNS pairs of runs, alternating: pgbench tpcb-like at `clients`, then the validator's load; one
 * table row of medians. `rate` is what the row compares with pgbench's transactions per second.
 */
async function measure(
  serverUrl: string,
  validatorUrl: string,
  row: { label: string; clients: number; mode?: 'batch'; unit?: string },
): Promise<string> {
  const base: PgbenchResult[] = [];
  const results: LoadResult[] = [];
  const loads: number[] = [];
  const rate = (r: LoadResult) => (row.mode === 'batch' ? r.proposals_per_s : r.requests_per_s);
  for (let i = 0; i < RUNS; i++) {
    loads.push(loadAverage());
    await checkpoint(serverUrl);
    base.push(await pgbenchRun(serverUrl, row.clients, SECONDS));
    await checkpoint(serverUrl);
    results.push(await load(validatorUrl, row.clients, row.mode));
    console.error(
      `${row.label}, ${row.clients} clients, run ${i + 1}: pgbench ${base.at(-1)!.tps.toFixed(0)} tps (p99 ${base.at(-1)!.p99_ms.toFixed(1)} ms), ` +
        `validator ${rate(results.at(-1)!).toFixed(0)}/s (p99 ${results.at(-1)!.p99_ms.toFixed(1)} ms)`,
    );
  }
  const tps = median(base.map((b) => b.tps));
  const validated = median(results.map(rate));
  const ms = (values: number[]) => median(values).toFixed(2);
  return (
    `| ${row.label} | ${row.clients} | ${tps.toFixed(0)} | ${ms(base.map((b) => b.p50_ms))} / ${ms(base.map((b) => b.p99_ms))} | ` +
    `${validated.toFixed(0)}${row.unit ?? ''} | ${median(results.map((r) => r.applied_per_s)).toFixed(0)} | ${(validated / tps).toFixed(2)}× | ` +
    `${ms(results.map((r) => r.p50_ms))} / ${ms(results.map((r) => r.p99_ms))} | ${median(loads).toFixed(1)} |`
  );
}

async function main(): Promise<void> {
  const server = await benchServer();
  try {
    const benchUrl = await freshDatabase(server.url, 'gridgov_bench');
    await seedBenchWorld(benchUrl, ACTORS);
    await initPgbench(server.url);

    const rows: string[] = [];
    const validator = await startValidatorProcess(benchUrl);
    let peak = 0;
    try {
      await warmUp([validator.url], ACTORS);
      for (const clients of CLIENTS) rows.push(await measure(server.url, validator.url, { label: '/execute', clients }));
      rows.push(
        await measure(server.url, validator.url, {
          label: `/execute/batch (${BATCH} per request)`,
          clients: 8,
          mode: 'batch',
          unit: ' validated',
        }),
      );
      peak = peakRssMiB(validator.pid);
    } finally {
      await validator.stop();
    }
    // The same lone client against a validator that gives every call its own transaction.
    const alone = await startValidatorProcess(benchUrl, { GRIDGOV_GROUP_MAX: '1' });
    try {
      await warmUp([alone.url], ACTORS);
      rows.push(await measure(server.url, alone.url, { label: '/execute, no coalescing (`GRIDGOV_GROUP_MAX=1`)', clients: 1 }));
    } finally {
      await alone.stop();
    }
    const section = [
      `Measured ${new Date().toISOString().slice(0, 10)} on ${machine()}; ${server.label} (fsync on), ${ACTORS} actors; medians of ${RUNS} runs of ${SECONDS} s each. Command: \`${benchEnv(['BENCH_RUNS', 'BENCH_SECONDS', 'BENCH_CLIENTS', 'BENCH_ACTORS'])}npm run bench${server.kind === 'external' ? ' -- --database-url postgres://…' : ''}\`. Load: the machine's 1-minute load average before each run (median).`,
      '',
      '| route | clients | pgbench tpcb-like tps | pgbench p50 / p99 ms | validator /s | applied/s | ratio to pgbench | validator p50 / p99 ms | load |',
      '|---|---|---|---|---|---|---|---|---|',
      ...rows,
      '',
      `Validator peak RSS over the whole run: ${peak} MiB.`,
    ].join('\n');
    console.log(section);
    await writeSection(`execute-${server.kind}`, section);
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
