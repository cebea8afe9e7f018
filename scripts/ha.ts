/**
 * `npm run test:ha`: the bank test on a high-availability topology (test/ha): three PostgreSQL
 * nodes under Patroni with synchronous replication, etcd, HAProxy, two validators, a dispatcher
 * and a runner, through four failovers (kill -9 of the leader's postmaster, Patroni stopped on
 * the leader, a planned switchover, the old leader rejoining). HA_PROFILE=full (default: 20,000
 * proposals) or short (CI); HA_PROPOSALS, HA_CLIENTS, HA_SEED, HA_TIMEOUT_MS override.
 *
 * Installs Debian's etcd-server, patroni and haproxy when missing (as root). Prints the summary
 * and the failover table and exits 1 on any violation; the full profile writes both to
 * BENCHMARKS.md (HA_BENCHMARKS=0 to skip, =1 to write from any profile). Everything it starts is
 * stopped by PID when it ends, fails, is interrupted or runs past the hard timeout.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { readdirSync } from 'node:fs';
import { runBankTest } from '../test/chaos/bank.ts';
import { killEverything } from '../test/chaos/processes.ts';
import { summaryTable } from '../test/chaos/report.ts';
import { haProfile, haSetup } from '../test/ha/setup.ts';
import { failoverFigures, failoverTable } from '../test/ha/report.ts';
import { missingPackages } from '../test/ha/topology.ts';
import { writeSection } from '../bench/report.ts';
import { machine } from '../bench/support.ts';

const started = Date.now();
const loadAtStart = loadavg().map((l) => l.toFixed(1));
const log = (line: string) => console.error(`[ha +${((Date.now() - started) / 1000).toFixed(1)}s] ${line}`);
let runDir: string | undefined;

/**
 * Last resort: SIGKILL every registered child, then the postmasters Patroni left behind (their
 * PIDs from each node's postmaster.pid), so nothing of the run outlives it.
 */
function killAll(): number[] {
  const killed = killEverything();
  const dirs = runDir ? [runDir] : [];
  for (const dir of dirs) {
    for (const node of existsSync(dir) ? readdirSync(dir) : []) {
      const file = join(dir, node, 'data', 'postmaster.pid');
      if (!existsSync(file)) continue;
      const pid = Number(readFileSync(file, 'utf8').split('\n')[0]);
      try {
        process.kill(pid, 'SIGKILL');
        killed.push(pid);
      } catch {
        // gone
      }
    }
  }
  return killed;
}

function abort(reason: string, code: number): never {
  const killed = killAll();
  console.error(`ha: ${reason}; killed ${killed.length ? `pids ${killed.join(', ')}` : 'nothing left running'}`);
  process.exit(code);
}

process.on('exit', () => killAll());
process.once('SIGINT', () => abort('interrupted', 130));
process.once('SIGTERM', () => abort('terminated', 143));

/** Debian's packages, as .ci/run installs Chromium: only when missing, only as root. */
function installMissing(): void {
  const missing = missingPackages();
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) throw new Error(`missing packages ${missing.join(' ')}: apt-get install them as root`);
  log(`installing ${missing.join(' ')} from Debian`);
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
  execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
}

async function main(): Promise<number> {
  const profile = haProfile();
  installMissing();
  const hardTimeout = setTimeout(() => abort(`hard timeout of ${profile.hardTimeoutMs / 60_000} min reached`, 2), profile.hardTimeoutMs);
  hardTimeout.unref();
  log(
    `profile ${profile.name}: ${profile.proposals} proposals, ${profile.clients} clients, seed ${profile.seed}; temp folder under ${tmpdir()}`,
  );
  const setup = haSetup();
  const start = setup.start;
  setup.start = async (options) => {
    const cluster = await start(options);
    runDir = cluster.dir;
    return cluster;
  };
  const summary = await runBankTest(profile, log, setup);
  const table = summaryTable(summary);
  const failovers = failoverTable(failoverFigures(summary.records, setup.failovers()));
  console.log(`\n${table}\n\n${failovers}\n`);
  if (summary.violations.length > 0) {
    console.log(`VIOLATIONS (${summary.violations.length}); the run's logs and data are kept in ${summary.dir}`);
    for (const violation of summary.violations.slice(0, 100)) console.log(`  - ${violation}`);
  } else {
    console.log('no violations');
  }
  const write = process.env.HA_BENCHMARKS ?? (profile.name === 'full' ? '1' : '0');
  if (write === '1') {
    const date = new Date().toISOString().slice(0, 10);
    await writeSection(
      'ha',
      [
        '## High availability: failover under load',
        '',
        `\`npm run test:ha\` (HA_PROFILE=${profile.name}), ${date}, on ${machine()}, load average ${loadAtStart.join(' ')} at the start`,
        `(a machine shared with other work; ${summary.cluster.server}). Three nodes under Patroni (synchronous_mode on), one etcd,`,
        'HAProxy; two `gridgov validator`s and a dispatcher on the write frontend, a runner on a validator of its own. See docs/deployment.md.',
        '',
        failovers,
        '',
        table,
      ].join('\n'),
    );
    log('wrote the tables to BENCHMARKS.md');
  }
  return summary.violations.length > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    abort('the run failed', 1);
  },
);
