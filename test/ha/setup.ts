import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { restoreServices, type BankSetup } from '../chaos/bank.ts';
import { DECISIVE, runClients, type SendRecord } from '../chaos/clients.ts';
import type { ChaosProfile } from '../chaos/profile.ts';
import { startHaCluster, type HaCluster } from './cluster.ts';
import { createHaInjector, type FailoverEvent } from './faults.ts';

/**
 * How hard `npm run test:ha` pushes: the full profile is the figure run (≥ 20,000 proposals),
 * the short one what CI runs. HA_PROPOSALS, HA_CLIENTS, HA_SEED and HA_TIMEOUT_MS override.
 */
export function haProfile(env: NodeJS.ProcessEnv = process.env): ChaosProfile {
  const name = env.HA_PROFILE ?? 'full';
  if (name !== 'full' && name !== 'short') throw new Error(`HA_PROFILE must be full or short, got "${name}"`);
  const number = (key: string, fallback: number) => {
    const raw = env[key];
    if (raw === undefined || raw === '') return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < 1) throw new Error(`${key} must be a positive integer, got "${raw}"`);
    return value;
  };
  const full = name === 'full';
  return {
    name,
    proposals: number('HA_PROPOSALS', full ? 20_000 : 3_000),
    clients: number('HA_CLIENTS', full ? 32 : 16),
    seed: number('HA_SEED', 1),
    // The chaos harness's own faults stay off: the failovers are the faults here.
    faults: { validatorKills: 0, postgresRestarts: 0, proxyCuts: 0, dispatcherKills: 0, breakerFlips: 0 },
    notifierSlotMs: 1_000,
    // A client keeps retrying one proposal through a whole failover.
    sendDeadlineMs: 180_000,
    drainTimeoutMs: (full ? 600 : 300) * 1000,
    hardTimeoutMs: number('HA_TIMEOUT_MS', (full ? 40 : 14) * 60_000),
  };
}

const REPLAY_SAMPLE = 2_000;

/**
 * A retry with the same proposal_id gets the original outcome: a sample of the decided sends,
 * spread over the whole run (before, between and after the failovers), sent again.
 */
async function replayCheck(cluster: HaCluster, records: SendRecord[], clients: number): Promise<string[]> {
  const decided = records.filter((r) => r.decisive && r.decisive.status !== 409 && r.send.index >= 0);
  const step = Math.max(1, Math.floor(decided.length / REPLAY_SAMPLE));
  const sample = decided.filter((_, i) => i % step === 0);
  const again: SendRecord[] = sample.map((r) => ({ send: r.send, replies: [] }));
  await runClients(
    again,
    clients,
    { replicas: cluster.validators.map((v) => v.url), requestTimeoutMs: 10_000, sendDeadlineMs: 60_000 },
    () => undefined,
  );
  const violations: string[] = [];
  sample.forEach((original, i) => {
    const first = original.decisive!;
    const retry = again[i]!.decisive;
    const id = original.send.id;
    if (!retry || !DECISIVE.has(retry.status)) violations.push(`replay: ${id} got no decisive answer on a retry`);
    else if (retry.status !== first.status) violations.push(`replay: ${id} was answered ${first.status}, then ${retry.status} on a retry`);
    else if (!retry.replayed) violations.push(`replay: ${id} was decided again instead of replayed`);
    else if (JSON.stringify(retry.ledgerIds) !== JSON.stringify(first.ledgerIds) || retry.errorCode !== first.errorCode)
      violations.push(`replay: ${id} answered ${JSON.stringify(first)} then ${JSON.stringify(retry)}`);
  });
  return violations;
}

async function count(url: string, sql: string): Promise<number> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    return Number((await client.query<{ n: string }>(sql)).rows[0]!.n);
  } finally {
    await client.end();
  }
}

/**
 * The checker reads the new leader (Patroni's word, not only HAProxy's); every replica, the old
 * leader that rejoined included, catches up to the same ledger.
 */
async function leaderCheck(cluster: HaCluster): Promise<string[]> {
  const violations: string[] = [];
  const members = await cluster.topology.waitHealthy(2);
  const leader = members.find((m) => m.role === 'leader')!;
  const { rows } = await cluster.db.query<{ port: number; recovery: boolean }>(
    'SELECT inet_server_port() AS port, pg_is_in_recovery() AS recovery',
  );
  if (rows[0]!.recovery || rows[0]!.port !== leader.port)
    violations.push(`leader: the checker read port ${rows[0]!.port}, Patroni's leader is ${leader.name} on ${leader.port}`);
  const sql = 'SELECT count(*) AS n FROM ledger';
  const onLeader = (await cluster.db.query<{ n: number }>(sql)).rows[0]!.n;
  for (const member of members.filter((m) => m.role !== 'leader')) {
    const url = new URL(cluster.directUrl);
    url.port = String(member.port);
    const deadline = Date.now() + 60_000;
    let seen = -1;
    while (Date.now() < deadline && (seen = await count(url.toString(), sql).catch(() => -1)) !== onLeader) await sleep(250);
    if (seen !== onLeader) violations.push(`replica ${member.name} holds ${seen} ledger rows, the leader ${onLeader}`);
  }
  const viaReads = await count(cluster.topology.readUrl, 'SELECT pg_is_in_recovery()::int AS n');
  if (viaReads !== 1) violations.push('the read frontend reached a server that is not a replica');
  return violations;
}

/** The runner carried on by itself: still running, with ledger rows committed after the last failover healed. */
async function runnerCheck(cluster: HaCluster, lastHealedAt: number): Promise<string[]> {
  const since = new Date(lastHealedAt).toISOString();
  const deadline = Date.now() + 90_000;
  let rows = 0;
  while (Date.now() < deadline && !cluster.runner.exit) {
    rows = (await cluster.runnerDb.query<{ n: number }>('SELECT count(*)::int AS n FROM ledger WHERE executed_at > $1', [since])).rows[0]!
      .n;
    if (rows > 0) break;
    await sleep(500);
  }
  if (cluster.runner.exit)
    return [`runner: exited with ${cluster.runner.exit.code ?? cluster.runner.exit.signal}; see ${cluster.runner.log}`];
  return rows > 0 ? [] : [`runner: nothing recorded after the last failover healed (${since}); see ${cluster.runner.log}`];
}

/** The bank test on the HA topology; failovers() holds what each fault did once the run is over. */
export function haSetup(): BankSetup<HaCluster> & { failovers(): FailoverEvent[] } {
  let injector: ReturnType<typeof createHaInjector> | undefined;
  return {
    start: startHaCluster,
    describe: (cluster) =>
      `${cluster.server}: ${cluster.topology.nodes.map((n) => n.name).join(', ')} under Patroni behind HAProxy, validators ${cluster.validators.map((v) => v.url).join(' ')}, runner on ${cluster.runnerValidator.url}`,
    injector(cluster, profile, progress, log) {
      injector = createHaInjector(cluster, profile, progress, log);
      return injector;
    },
    async restore(cluster) {
      await cluster.topology.waitHealthy(2);
      await restoreServices(cluster);
      await cluster.runnerValidator.start();
    },
    async check(cluster, records) {
      const failovers = injector?.failovers ?? [];
      const violations: string[] = [];
      if (failovers.length !== 4) violations.push(`failovers: ${failovers.length} of the 4 faults played`);
      violations.push(...(await leaderCheck(cluster)));
      violations.push(...(await replayCheck(cluster, records, 16)));
      violations.push(...(await runnerCheck(cluster, Math.max(0, ...failovers.map((f) => f.healedAt)))));
      return violations;
    },
    failovers: () => injector?.failovers ?? [],
  };
}
