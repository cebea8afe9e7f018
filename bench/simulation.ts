/**
 * `npm run bench:simulation`: one epoch of 1,000 heuristic agents end to end (settle, snapshot,
 * plan, trades, stats) through a `gridgov validator` process over real HTTP. Goal: ≤ 2 s.
 * Environment: DATABASE_URL (else an embedded server), BENCH_AGENTS (1000), BENCH_EPOCHS (5).
 */
import { pino } from 'pino';
import { createStrategies } from '../src/agents/strategies.ts';
import { loadConfig } from '../src/config.ts';
import { createDb } from '../src/db/db.ts';
import { migrate } from '../src/db/migrate.ts';
import { parseScenario, type Scenario } from '../src/domain/scenario.ts';
import { createValidatorClient } from '../src/runner/client.ts';
import { runSimulation } from '../src/runner/runner.ts';
import { writeSection } from './report.ts';
import { prng } from '../test/support/load.ts';
import { benchServer, freshDatabase, machine, median, startValidatorProcess } from './support.ts';

const AGENTS = Number(process.env.BENCH_AGENTS ?? 1000);
const EPOCHS = Number(process.env.BENCH_EPOCHS ?? 5);
const KEY = 'bench-bootstrap-key-0123456789';

/** A large scarce world: producers of each resource and consumers of the others. */
function bigScenario(): Scenario {
  const random = prng(7);
  const resources = ['energy', 'water', 'credits'];
  const parsed = parseScenario({
    name: `bench-${AGENTS}`,
    seed: 7,
    resources: resources.map((name) => ({ name })),
    constraints: { max_transfer: 50, min_balance: 5, per_resource: { credits: { max_transfer: 500, min_balance: 0 } } },
    negotiation: { turns_per_agent: 1, max_rounds: 3, horizon_epochs: 3, prices: { energy: 2, water: 3, credits: 1 } },
    actors: Array.from({ length: AGENTS }, (_, i) => {
      const makes = resources[i % 2]!;
      const needs = resources[(i + 1) % 2]!;
      return {
        name: `agent-${i}`,
        kind: 'agent',
        balances: {
          energy: Math.round(50 + random() * 100),
          water: Math.round(50 + random() * 100),
          credits: Math.round(200 + random() * 300),
        },
        production: { [makes]: Math.round(10 + random() * 10) },
        consumption: { [needs]: Math.round(8 + random() * 10), [makes]: 2 },
        strategy: 'heuristic',
      };
    }),
  });
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.scenario;
}

async function main(): Promise<void> {
  const server = await benchServer();
  const url = await freshDatabase(server.url, 'gridgov_sim');
  const db = createDb(url, { max: 2 });
  await migrate(db);
  await db.close();
  const validator = await startValidatorProcess(url, { GRIDGOV_ADMIN_KEY: KEY });
  try {
    const scenario = bigScenario();
    const client = createValidatorClient({ baseUrl: validator.url, apiKey: KEY });
    // Seeding goes through the operations path, as `gridgov seed` would.
    const seedDb = createDb(url, { max: 2 });
    const { seedScenario } = await import('../src/ledger/writing/seed.ts');
    await seedScenario(seedDb, scenario, 'bench');
    await seedDb.close();
    const durations: number[] = [];
    const lines: string[] = [];
    await runSimulation({
      client,
      scenario,
      strategies: createStrategies(['heuristic'], loadConfig({}).agents),
      epochs: EPOCHS,
      logger: pino({ level: 'warn' }),
      onEpoch: (stats, line) => {
        durations.push(stats.duration_ms);
        lines.push(line);
        console.error(line);
      },
    });
    const section = [
      `Measured ${new Date().toISOString().slice(0, 10)} on ${machine()}. Command: \`npm run bench:simulation\`.`,
      '',
      `One epoch of ${AGENTS} heuristic agents end to end through a \`gridgov validator\` process over HTTP (settle production and consumption, read the world state, plan the negotiations, send the proposals in batches, record the stats), ${EPOCHS} epochs:`,
      '',
      `| epochs | median epoch | slowest epoch | goal |`,
      `|---|---|---|---|`,
      `| ${durations.length} | ${median(durations)} ms | ${Math.max(...durations)} ms | ≤ 2000 ms |`,
      '',
      'Last progress line: `' + (lines.at(-1) ?? '') + '`',
    ].join('\n');
    console.log(section);
    await writeSection('simulation', section);
  } finally {
    await validator.stop();
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
