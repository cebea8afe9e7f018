/**
 * `npm run bench:sigstop`: two validator replicas on one database under load; one (A) is frozen
 * with SIGSTOP for 10 s, caught between two statements of a transaction holding row locks, then
 * resumed. Reports the other replica's (B's) applied proposals per second during the pause
 * against before it, and checks that every acknowledged proposal is in the ledger exactly once.
 * The same run as test/db/replica-pause.test.ts (test/support/replica-pause.ts), longer.
 *
 *   npm run bench:sigstop -- [--database-url URL | --stock] [--clients N] [--actors N] [--write]
 *
 * The server: --database-url (a superuser URL; a database bench_sigstop is made there), --stock
 * (Debian's postgresql package as shipped, started here), else the embedded one. --clients is per
 * replica (8); --actors (12) share the load; --write puts the table in BENCHMARKS.md.
 */
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { createDb } from '../src/db/db.ts';
import { runReplicaPause } from '../test/support/replica-pause.ts';
import { startStockPostgres } from '../test/support/stock-postgres.ts';
import { benchServer, freshDatabase, machine, seedBenchWorld } from './support.ts';
import { writeSection } from './report.ts';

const { values } = parseArgs({
  options: {
    'database-url': { type: 'string' },
    stock: { type: 'boolean', default: false },
    clients: { type: 'string', default: '8' },
    actors: { type: 'string', default: '12' },
    'pause-ms': { type: 'string', default: '10000' },
    'before-ms': { type: 'string', default: '10000' },
    write: { type: 'boolean', default: false },
  },
});
const CLIENTS = Number(values.clients);
const ACTORS = Number(values.actors);
const PAUSE_MS = Number(values['pause-ms']);
const BEFORE_MS = Number(values['before-ms']);
const loadAtStart = loadavg()[0]!.toFixed(1);
const log = (line: string) => console.error(`[sigstop] ${line}`);

async function server(): Promise<{ url: string; stop(): Promise<void> }> {
  if (values['database-url']) return { url: values['database-url'], stop: async () => undefined };
  if (values.stock) return startStockPostgres();
  return benchServer();
}

async function main(): Promise<void> {
  const pg = await server();
  try {
    const url = await freshDatabase(pg.url, 'bench_sigstop');
    await seedBenchWorld(url, ACTORS);
    const actors = Array.from({ length: ACTORS }, (_, i) => `bench-${i}`);
    const db = createDb(url, { max: 1 });
    const { rows } = await db.query<{ server: string }>(
      "SELECT split_part(version(), ' on ', 1) || ', jit ' || current_setting('jit') || CASE WHEN pg_jit_available() THEN '' ELSE ' (no LLVM: nothing is compiled)' END AS server",
    );
    await db.close();
    const serverName = rows[0]!.server;
    log(`${serverName}; ${CLIENTS} clients per replica, ${ACTORS} actors`);

    const result = await runReplicaPause({
      databaseUrl: url,
      actors,
      resources: ['energy', 'water', 'credits'],
      clientsPerReplica: CLIENTS,
      warmupMs: BEFORE_MS + 1000,
      catchMs: 10_000,
      pauseMs: PAUSE_MS,
      afterMs: 3_000,
      env: { GRIDGOV_LEDGER_GUARD: 'off' },
      log,
    });
    const ratio = result.bBeforePerS > 0 ? result.bDuringPerS / result.bBeforePerS : NaN;
    const date = new Date().toISOString().slice(0, 10);
    const table = [
      `## One replica frozen (SIGSTOP) while the other keeps committing: ${serverName}`,
      '',
      `\`npm run bench:sigstop -- ${values.stock ? '--stock ' : values['database-url'] ? '--database-url URL ' : ''}--clients ${CLIENTS} --actors ${ACTORS}\`, ${date}, on ${machine()}, load average ${loadAtStart} at the start;`,
      `${serverName}, default pool bounds (idle_in_transaction_session_timeout 5 s, lock_timeout 10 s, statement_timeout 30 s).`,
      `Two \`gridgov validator\` processes on one database, ${CLIENTS} clients pinned to each; replica A is frozen for ${(PAUSE_MS / 1000).toFixed(0)} s`,
      `${result.pausedHoldingLocks ? 'between two statements of a transaction holding row locks' : 'wherever it was (no transaction of its was caught holding locks)'}, then resumed.`,
      '',
      '| replica B, applied proposals | per second |',
      '|---|---|',
      `| before the pause (${((result.pauseStart - result.warmupStart - 1000) / 1000).toFixed(1)} s) | ${result.bBeforePerS.toFixed(1)} |`,
      `| during the pause (${((result.pauseEnd - result.pauseStart) / 1000).toFixed(1)} s) | ${result.bDuringPerS.toFixed(1)} (${(ratio * 100).toFixed(0)}% of before) |`,
      '',
      'While A is frozen its clients wait on it, so B meets less contention on the shared rows than before.',
      `Acknowledged ${result.acknowledged.toLocaleString('en-US')}; lost or doubled ${result.lost.length}; invariant violations ${result.violations.length}; unresolved ${result.unresolved}; A applied ${result.aAfter} after it was resumed.`,
    ].join('\n');
    console.log(`\n${table}\n`);
    for (const line of [...result.lost, ...result.violations].slice(0, 20)) console.log(`  - ${line}`);
    if (values.write) {
      await writeSection(`sigstop-${values['database-url'] ? 'external' : values.stock ? 'stock' : 'embedded'}`, table);
      log('wrote the table to BENCHMARKS.md');
    }
    if (result.lost.length || result.violations.length) process.exitCode = 1;
  } finally {
    await pg.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
