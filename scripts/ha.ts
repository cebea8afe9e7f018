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
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBankTest } from '../test/chaos/bank.ts';
import { harnessScript, printViolations } from '../test/chaos/script.ts';
import { summaryTable } from '../test/chaos/report.ts';
import { haProfile, haSetup } from '../test/ha/setup.ts';
import { failoverFigures, failoverTable } from '../test/ha/report.ts';
import { missingPackages } from '../test/ha/topology.ts';
import { writeSection } from '../bench/report.ts';
import { machine } from '../bench/support.ts';

const loadAtStart = loadavg().map((l) => l.toFixed(1));
let runDir: string | undefined;

/** The postmasters Patroni started, by the PIDs in each node's postmaster.pid: a killed Patroni leaves its own running. */
function killPostmasters(): number[] {
  const killed: number[] = [];
  for (const node of runDir && existsSync(runDir) ? readdirSync(runDir) : []) {
    const file = join(runDir!, node, 'data', 'postmaster.pid');
    if (!existsSync(file)) continue;
    const pid = Number(readFileSync(file, 'utf8').split('\n')[0]);
    try {
      process.kill(pid, 'SIGKILL');
      killed.push(pid);
    } catch {
      // gone
    }
  }
  return killed;
}

const script = harnessScript('ha', killPostmasters);
const log = script.log;

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
  script.hardTimeout(profile.hardTimeoutMs);
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
  printViolations(summary);
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

script.run(main);
