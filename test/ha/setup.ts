import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { restoreServices, type BankSetup } from '../chaos/bank.ts';
import { DECISIVE, runClients, type SendRecord } from '../chaos/clients.ts';
import type { ChaosProfile } from '../chaos/profile.ts';
import { startHaCluster, type HaCluster } from './cluster.ts';
import { ALL_FAULTS, createHaInjector, HaFault, SHORT_FAULTS, type FailoverEvent } from './faults.ts';
import { AnomalyKind, checkListAppend, type Anomaly } from './anomalies.ts';
import { listAppendWorkload, prepareListAppend, type ListAppendWorkload } from './listappend.ts';

/** The two Patroni settings compared: with strict, no commit is acknowledged without a synchronous standby. */
export const SyncSetting = { sync: 'synchronous_mode', strict: 'synchronous_mode_strict' } as const;
export type SyncSetting = (typeof SyncSetting)[keyof typeof SyncSetting];

export interface HaProfile extends ChaosProfile {
  schedule: HaFault[];
  settings: SyncSetting[];
  /** Runs per setting, and the least time each run's load lasts. */
  runs: number;
  minLoadMs: number;
  appendClients: number;
}

/** HA_FAULTS: fault names of test/ha/faults.ts (minorityLeader,pause…), in the order to play them. */
function faults(raw: string | undefined): HaFault[] | undefined {
  if (!raw) return undefined;
  return raw.split(',').map((name) => {
    const fault = (HaFault as Record<string, HaFault>)[name];
    if (!fault) throw new Error(`HA_FAULTS takes ${Object.keys(HaFault).join(', ')}; got "${name}"`);
    return fault;
  });
}

/**
 * How hard `npm run test:ha` pushes: the full profile plays every fault under both settings, ten
 * runs of at least five minutes each; the short one, what CI runs, one partition and one pause
 * under the strict setting. HA_PROPOSALS, HA_CLIENTS, HA_SEED, HA_RUNS, HA_FAULTS, HA_SETTINGS
 * (synchronous_mode,synchronous_mode_strict) and HA_TIMEOUT_MS (per run) override.
 */
export function haProfile(env: NodeJS.ProcessEnv = process.env): HaProfile {
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
  const settings = (env.HA_SETTINGS ?? (full ? `${SyncSetting.sync},${SyncSetting.strict}` : SyncSetting.strict)).split(',');
  const known = Object.values(SyncSetting) as string[];
  const unknown = settings.find((setting) => !known.includes(setting));
  if (unknown) throw new Error(`HA_SETTINGS takes ${known.join(', ')}; got "${unknown}"`);
  return {
    name,
    proposals: number('HA_PROPOSALS', full ? 40_000 : 1_500),
    clients: number('HA_CLIENTS', full ? 16 : 8),
    seed: number('HA_SEED', 1),
    // The chaos harness's own faults stay off: the failovers are the faults here.
    faults: { validatorKills: 0, postgresRestarts: 0, proxyCuts: 0, dispatcherKills: 0, breakerFlips: 0 },
    notifierSlotMs: 1_000,
    // A client keeps retrying one proposal through a whole failover.
    sendDeadlineMs: 180_000,
    drainTimeoutMs: (full ? 600 : 120) * 1000,
    hardTimeoutMs: number('HA_TIMEOUT_MS', (full ? 40 : 8) * 60_000),
    schedule: faults(env.HA_FAULTS) ?? (full ? ALL_FAULTS : SHORT_FAULTS),
    settings: settings as SyncSetting[],
    runs: number('HA_RUNS', full ? 10 : 1),
    minLoadMs: full ? 300_000 : 1,
    appendClients: full ? 4 : 3,
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
  const { rows } = await cluster.db.query<{ address: string; recovery: boolean }>(
    'SELECT host(inet_server_addr()) AS address, pg_is_in_recovery() AS recovery',
  );
  if (rows[0]!.recovery || rows[0]!.address !== leader.host)
    violations.push(`leader: the checker read ${rows[0]!.address}, Patroni's leader is ${leader.name} on ${leader.host}`);
  const sql = 'SELECT count(*) AS n FROM ledger';
  const onLeader = (await cluster.db.query<{ n: number }>(sql)).rows[0]!.n;
  for (const member of members.filter((m) => m.role !== 'leader')) {
    const url = cluster.topology.nodeUrl(cluster.directUrl, member.name);
    const deadline = Date.now() + 60_000;
    let seen = -1;
    while (Date.now() < deadline && (seen = await count(url, sql).catch(() => -1)) !== onLeader) await sleep(250);
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

/** What a run's list-append workload recorded, and the checker's verdict on it. */
export interface AppendOutcome {
  workload: ListAppendWorkload;
  anomalies: Anomaly[];
}

/** The bank test on the HA topology, under one setting, with the list-append workload beside it. */
export function haSetup(
  profile: HaProfile,
  setting: SyncSetting,
): BankSetup<HaCluster> & { failovers(): FailoverEvent[]; appends(): AppendOutcome | undefined } {
  let injector: ReturnType<typeof createHaInjector> | undefined;
  let workload: ListAppendWorkload | undefined;
  let outcome: AppendOutcome | undefined;
  return {
    async start(options) {
      const cluster = await startHaCluster({ ...options, strict: setting === SyncSetting.strict });
      await prepareListAppend(cluster.topology.writeUrl, 'lists');
      const url = new URL(cluster.topology.writeUrl);
      url.pathname = '/lists';
      workload = listAppendWorkload(url.toString(), { clients: profile.appendClients, seed: profile.seed, maxTxns: 2_000_000 });
      return cluster;
    },
    describe: (cluster) =>
      `${cluster.server}, ${setting}: ${cluster.topology.nodes.map((n) => n.name).join(', ')} under Patroni behind HAProxy, validators ${cluster.validators.map((v) => v.url).join(' ')}, runner on ${cluster.runnerValidator.url}, ${profile.appendClients} list-append clients`,
    injector(cluster, _profile, progress, log) {
      injector = createHaInjector(cluster, profile.schedule, progress, log, { minLoadMs: profile.minLoadMs, workload });
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
      if (failovers.length !== profile.schedule.length)
        violations.push(`faults: ${failovers.length} of the ${profile.schedule.length} faults played`);
      violations.push(...(await leaderCheck(cluster)));
      violations.push(...(await replayCheck(cluster, records, 16)));
      violations.push(...(await runnerCheck(cluster, Math.max(0, ...failovers.map((f) => f.healedAt)))));
      if (workload) {
        outcome = { workload, anomalies: checkListAppend(workload.history, workload.finalReads) };
        const committed = workload.history.filter((t) => t.type === 'ok').length;
        if (committed === 0) violations.push('list-append: no transaction committed');
        // A read of a commit failover then dropped is PostgreSQL's own behaviour (docs/deployment.md): a finding, counted apart.
        for (const anomaly of outcome.anomalies.filter((a) => a.kind !== AnomalyKind.readLost))
          violations.push(`list-append ${anomaly.kind}: ${anomaly.message}`);
      }
      return violations;
    },
    failovers: () => injector?.failovers ?? [],
    appends: () => outcome,
  };
}
