/**
 * `npm run test:chaos`: the bank test under faults (see test/chaos/bank.ts). CHAOS_PROFILE=full
 * (default: 50,000 proposals) or short (CI); CHAOS_PROPOSALS, CHAOS_CLIENTS, CHAOS_SEED override.
 * The server: TEST_DATABASE_URL's (no PostgreSQL crashes then: the run did not start that server),
 * TEST_POSTGRES=stock for Debian's package as shipped, else the embedded one (test/chaos/cluster.ts).
 * Prints the summary table and exits 1 on any violation. The full profile also writes the table to
 * BENCHMARKS.md (CHAOS_BENCHMARKS=0 to skip, =1 to write from any profile).
 *
 * Everything it starts is stopped by PID when it ends, fails, is interrupted or runs past the
 * profile's hard timeout.
 */
import { loadavg } from 'node:os';
import { chaosSetup, runBankTest } from '../test/chaos/bank.ts';
import { testServerKind } from '../test/support/stock-postgres.ts';
import { harnessScript, printViolations } from '../test/chaos/script.ts';
import { chaosProfile } from '../test/chaos/profile.ts';
import { summaryTable } from '../test/chaos/report.ts';
import { writeSection } from '../bench/report.ts';
import { machine } from '../bench/support.ts';

const SERVER_NAMES = {
  embedded: 'the embedded PostgreSQL 17',
  stock: "Debian's PostgreSQL as packaged",
  external: "TEST_DATABASE_URL's PostgreSQL",
};
const loadAtStart = loadavg()[0]!.toFixed(1);
const script = harnessScript('chaos');
const log = script.log;

async function main(): Promise<number> {
  const profile = chaosProfile();
  if (testServerKind() === 'external' && profile.faults.postgresRestarts > 0) {
    log(`${profile.faults.postgresRestarts} PostgreSQL crash faults skipped: TEST_DATABASE_URL's server is not this run's to crash`);
    profile.faults.postgresRestarts = 0;
  }
  script.hardTimeout(profile.hardTimeoutMs);
  log(`profile ${profile.name}: ${profile.proposals} proposals, ${profile.clients} clients, seed ${profile.seed}`);
  const summary = await runBankTest(profile, log, chaosSetup);
  const table = summaryTable(summary);
  console.log(`\n${table}\n`);
  printViolations(summary);
  const write = process.env.CHAOS_BENCHMARKS ?? (profile.name === 'full' ? '1' : '0');
  if (write === '1') {
    const date = new Date().toISOString().slice(0, 10);
    await writeSection(
      'chaos',
      [
        '## Chaos: the bank test under faults',
        '',
        `\`npm run test:chaos\` (profile ${profile.name}), ${date}, on ${machine()}, load average ${loadAtStart} at the start`,
        '(faults, restarts and retries set the pace: the rates say little, the counts and violations are the result).',
        `Two \`gridgov validator\` replicas and a \`gridgov dispatcher\` reach ${SERVER_NAMES[testServerKind()]} through a TCP proxy;`,
        'clients fail over between replicas and retry with the same proposal id. See README, "Chaos testing".',
        '',
        table,
      ].join('\n'),
    );
    log('wrote the table to BENCHMARKS.md');
  }
  return summary.violations.length > 0 ? 1 : 0;
}

script.run(main);
