/**
 * `npm run bench:replicas`: 1, 2 and 3 `gridgov validator` processes on one database, the same 16
 * clients spread over them (wrk with bench/execute.lua, one per validator), among 12 actors (every
 * group shares balance rows with others) and among 1,000. Replicas add when 2 do at least what 1
 * does. Medians of BENCH_RUNS runs of BENCH_SECONDS each, written to BENCHMARKS.md.
 *
 * `--database-url URL` (or DATABASE_URL) runs on that server, else on an embedded one.
 * Environment: BENCH_RUNS (3), BENCH_SECONDS (10), BENCH_CLIENTS (16).
 */
import {
  benchEnv,
  benchServer,
  checkpoint,
  freshDatabase,
  loadAverage,
  machine,
  median,
  seedBenchWorld,
  startValidatorProcess,
  warmUp,
  wrkLoad,
} from './support.ts';
import { writeSection } from './report.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 16);
const WORLDS = [12, 1000];
const REPLICAS = [1, 2, 3];

/** The clients split over the replicas as evenly as whole numbers allow (16 over 3: 6, 5, 5). */
const spread = (replicas: number) =>
  Array.from({ length: replicas }, (_, i) => Math.floor(CLIENTS / replicas) + (i < CLIENTS % replicas ? 1 : 0));

/**
 * One run: every replica loaded at once; requests per second summed, the worst replica's p99. The
 * load generator has two threads in all, as against one validator (one wrk per replica, a thread each).
 */
async function runOnce(urls: string[], actors: number): Promise<{ rps: number; applied: number; p99: number; load: number }> {
  const load = loadAverage();
  const threads = Math.max(1, Math.floor(2 / urls.length));
  const results = await Promise.all(
    urls.map((url, i) => wrkLoad(url, { clients: spread(urls.length)[i]!, seconds: SECONDS, actors, threads })),
  );
  return {
    rps: results.reduce((sum, r) => sum + r.requests / r.seconds, 0),
    applied: results.reduce((sum, r) => sum + r.applied / r.seconds, 0),
    p99: Math.max(...results.map((r) => r.p99_us / 1000)),
    load,
  };
}

async function main(): Promise<void> {
  const server = await benchServer();
  const rows: string[] = [];
  try {
    for (const actors of WORLDS) {
      const url = await freshDatabase(server.url, 'gridgov_replicas');
      await seedBenchWorld(url, actors);
      // All three run throughout, and each run measures 1, 2 and 3 in turn, starting one further
      // on each run: on a shared machine a slow spell then falls on every count alike. Each
      // count is compared with one validator in the same run; the row gives the median ratio.
      const validators = [];
      for (let i = 0; i < Math.max(...REPLICAS); i++) validators.push(await startValidatorProcess(url));
      try {
        await warmUp(
          validators.map((v) => v.url),
          actors,
        );
        const runs = new Map(REPLICAS.map((count) => [count, [] as Array<Awaited<ReturnType<typeof runOnce>>>]));
        for (let i = 0; i < RUNS; i++) {
          for (const count of REPLICAS.map((_, k) => REPLICAS[(k + i) % REPLICAS.length]!)) {
            await checkpoint(server.url);
            const result = await runOnce(
              validators.slice(0, count).map((v) => v.url),
              actors,
            );
            runs.get(count)!.push(result);
            console.error(
              `${actors} actors, ${count} validator(s), run ${i + 1}: ${result.rps.toFixed(0)} req/s, p99 ${result.p99.toFixed(1)} ms`,
            );
          }
        }
        const single = runs.get(1)!;
        for (const count of REPLICAS) {
          const results = runs.get(count)!;
          const ratio = median(results.map((r, i) => r.rps / single[i]!.rps));
          rows.push(
            `| ${actors} | ${count} | ${spread(count).join(' + ')} | ${median(results.map((r) => r.rps)).toFixed(0)} | ${median(results.map((r) => r.applied)).toFixed(0)} | ${ratio.toFixed(2)}× | ${median(results.map((r) => r.p99)).toFixed(1)} | ${median(results.map((r) => r.load)).toFixed(1)} |`,
          );
        }
      } finally {
        for (const v of validators) await v.stop();
      }
    }
  } finally {
    await server.stop();
  }
  const section = [
    `Measured ${new Date().toISOString().slice(0, 10)} on ${machine()}; ${server.label}; medians of ${RUNS} runs of ${SECONDS} s each. Command: \`${benchEnv(['BENCH_RUNS', 'BENCH_SECONDS', 'BENCH_CLIENTS'])}npm run bench:replicas${server.kind === 'external' ? ' -- --database-url postgres://…' : ''}\`. Load: the machine's 1-minute load average before each run (median).`,
    '',
    '| actors | validators | clients each | req/s (all) | applied/s | vs one validator (median of per-run ratios) | worst p99 ms | load |',
    '|---|---|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
  console.log(section);
  await writeSection(`replicas-${server.kind}`, section);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
