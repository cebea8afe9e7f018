import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { runCli, waitForHealth } from '../support/validator.ts';
import { checkRun } from './checker.ts';
import { runClients, type SendRecord } from './clients.ts';
import { startCluster, type Cluster, type ServiceCluster } from './cluster.ts';
import { createFaultInjector, type FaultLog } from './faults.ts';
import type { ChaosProfile } from './profile.ts';
import type { RunSummary } from './report.ts';
import { watchEvents } from './events.ts';
import { genesisSupply, startReader } from './reader.ts';
import { chaosScenario, makeWorkload, payloadKey, RICH, SendKind, type Send } from './workload.ts';

const REQUEST_TIMEOUT_MS = 10_000;

/**
 * `gridgov verify`, as an operator would run it after an incident: seals what has settled and
 * checks every block of the ledger's hash chain, sealed under crashes and cuts.
 */
async function verifyChain(cluster: ServiceCluster): Promise<{ ok: boolean; output: string; summary: string }> {
  const run = await runCli(['verify', '--json'], cluster.directUrl);
  try {
    const report = JSON.parse(run.stdout) as { ok: boolean; blocks: number; rows: number };
    return {
      ok: run.code === 0 && report.ok,
      output: run.stdout + run.stderr,
      summary: `${report.blocks.toLocaleString('en-US')} blocks, ${report.rows.toLocaleString('en-US')} ledger rows verified, intact`,
    };
  } catch {
    return { ok: false, output: run.stdout + run.stderr, summary: 'unreadable report' };
  }
}

/** A plain transfer under a fresh id, sent once everything is restored. */
function probeSend(): Send {
  const legs = [{ actor_from: RICH[0]!, actor_to: RICH[1]!, resource: 'credits', amount: '0.000001' }];
  const id = randomUUID();
  return {
    index: -1,
    id,
    kind: SendKind.fresh,
    key: payloadKey(legs),
    legs,
    body: { proposal_id: id, ...legs[0], metadata: { probe: true } },
  };
}

/** Brings the services back: both validators and the dispatcher running, targets healthy. */
export async function restoreServices(cluster: ServiceCluster): Promise<void> {
  await Promise.all([...cluster.validators.map((v) => v.start()), cluster.dispatcher.start()]);
  cluster.linear.setMode('ok');
  cluster.discord.setMode('ok');
}

export interface FaultInjector {
  faults: FaultLog;
  /** Slows the load while faults remain to be played (see ClientOptions.pace). */
  pace?: () => Promise<void>;
  start(): void;
  /** Ends the schedule (playing what it still holds) and throws if a fault could not be undone. */
  finish(): Promise<void>;
}

/**
 * A topology the bank test runs on, and the faults it suffers: the chaos one (one PostgreSQL
 * behind a TCP proxy), or the high-availability one (test/ha).
 */
export interface BankSetup<C extends ServiceCluster> {
  start(options: { keepDir: () => boolean; log: (line: string) => void }): Promise<C>;
  describe(cluster: C): string;
  injector(cluster: C, profile: ChaosProfile, progress: () => number, log: (line: string) => void): FaultInjector;
  /** Everything back up once the load is over. */
  restore(cluster: C): Promise<void>;
  /** Further checks of the run, as violations. */
  check?(cluster: C, records: SendRecord[]): Promise<string[]>;
}

/** One PostgreSQL (crashed and restarted) behind a TCP proxy (cut); see test/chaos/cluster.ts. */
export const chaosSetup: BankSetup<Cluster> = {
  start: startCluster,
  describe: (cluster) =>
    `${cluster.server} behind proxy :${cluster.proxy.port}, validators ${cluster.validators.map((v) => v.url).join(' ')}`,
  injector: createFaultInjector,
  async restore(cluster) {
    if (cluster.postgres && (!cluster.postgres.server || !isRunning(cluster.postgres.server.pid))) await cluster.postgres.start();
    await restoreServices(cluster);
  },
};

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Waits until no outbox row is pending (or the time is up); the dispatcher does the work. */
async function drainOutbox(cluster: ServiceCluster, timeoutMs: number): Promise<{ drained: boolean; counts: Record<string, number> }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { rows } = await cluster.db.query<{ key: string; count: number }>(
      `SELECT topic || ' ' || status AS key, count(*)::int AS count FROM outbox GROUP BY 1 ORDER BY 1`,
    );
    const counts = Object.fromEntries(rows.map((r) => [r.key, r.count]));
    const pending = rows.filter((r) => r.key.endsWith(' pending')).reduce((a, r) => a + r.count, 0);
    if (pending === 0 || Date.now() > deadline) return { drained: pending === 0, counts };
    await sleep(250);
  }
}

/** Discord alerts posted more than once for one proposal (Discord webhooks have no idempotency key). */
function discordDuplicates(cluster: ServiceCluster): number {
  const seen = new Map<string, number>();
  for (const message of cluster.discord.messages) {
    for (const embed of (message.body.embeds ?? []) as Array<{ fields?: Array<{ name: string; value: string }> }>) {
      const id = embed.fields?.find((field) => field.name === 'Proposal')?.value.replace(/`/g, '');
      if (id) seen.set(id, (seen.get(id) ?? 0) + 1);
    }
  }
  return [...seen.values()].reduce((sum, count) => sum + Math.max(0, count - 1), 0);
}

/**
 * One bank-test run: start the cluster, send the workload from many clients while the schedule
 * injects faults, restore everything, settle what was left in doubt, drain the outbox, and check.
 * `failed` tells the caller to keep the run's folder (logs, data) for a post-mortem.
 */
export async function runBankTest<C extends ServiceCluster>(
  profile: ChaosProfile,
  log: (line: string) => void,
  setup: BankSetup<C>,
): Promise<RunSummary & { dir: string; cluster: C }> {
  const startedAt = Date.now();
  let failed = true;
  const cluster = await setup.start({ keepDir: () => failed || process.env.CHAOS_KEEP === '1', log });
  try {
    log(`cluster up in ${cluster.dir}: ${setup.describe(cluster)}`);
    const records: SendRecord[] = makeWorkload(profile.proposals, profile.seed).map((send) => ({ send, replies: [] }));
    let settled = 0;
    const injector = setup.injector(cluster, profile, () => settled / records.length, log);
    const options = {
      replicas: cluster.validators.map((v) => v.url),
      requestTimeoutMs: REQUEST_TIMEOUT_MS,
      sendDeadlineMs: profile.sendDeadlineMs,
    };
    const loadOptions = { ...options, pace: injector.pace };

    const loadStart = Date.now();
    const ticker = setInterval(() => log(`progress ${settled}/${records.length}`), 5_000);
    injector.start();
    const reader = startReader(options.replicas, genesisSupply(chaosScenario));
    const events = watchEvents(options.replicas);
    try {
      await runClients(records, profile.clients, loadOptions, () => settled++);
    } finally {
      clearInterval(ticker);
    }
    const loadMs = Date.now() - loadStart;
    const reads = await reader.stop();
    await injector.finish();
    await setup.restore(cluster);

    const leftOver = records.filter((r) => !r.decisive && !r.unexpected);
    log(`load done in ${(loadMs / 1000).toFixed(1)} s; ${leftOver.length} sends unresolved, retrying them now that all is restored`);
    await runClients(leftOver, profile.clients, options, () => undefined);

    const drainStart = Date.now();
    const outbox = await drainOutbox(cluster, profile.drainTimeoutMs);
    const drainMs = Date.now() - drainStart;

    // After every fault, one more trade through one replica must reach every replica's /events.
    const probe: SendRecord = { send: probeSend(), replies: [] };
    records.push(probe);
    await runClients([probe], 1, options, () => undefined);
    const deaf = await events.awaitProposal(probe.send.id, 10_000);
    const streams = await events.stop();

    const verdict = await checkRun(
      cluster.db,
      records,
      { issues: cluster.linear.issues, creates: cluster.linearCreates },
      { drained: outbox.drained },
    );
    const violations = [...verdict.violations, ...reads.violations];
    for (const replica of deaf) violations.push(`events: ${replica}/events did not show a trade made after the faults within 10 s`);
    for (const exit of cluster.unexpectedExits)
      violations.push(`crash: ${exit.name} (pid ${exit.pid}) exited on its own with ${exit.code ?? exit.signal}; log in ${cluster.dir}`);
    for (const record of records) {
      if (record.unexpected)
        violations.push(`reply: ${record.send.id} got HTTP ${record.unexpected.status} ${record.unexpected.code ?? ''}`);
      else if (!record.decisive) violations.push(`unresolved: ${record.send.id} got no decisive answer, even after every fault was over`);
    }
    if (!outbox.drained) violations.push(`outbox: still pending after ${profile.drainTimeoutMs} ms: ${JSON.stringify(outbox.counts)}`);
    for (const [key, count] of Object.entries(outbox.counts)) if (key.endsWith(' dead')) violations.push(`outbox: ${count} ${key} rows`);
    // /health reports the background verifier's verdict: give it a few ticks to see the end state.
    for (const validator of cluster.validators) {
      await waitForHealth(validator.url, (reply) => reply.status === 200, 30_000).catch((error: unknown) => {
        violations.push(`health: ${validator.name}: ${String(error)}`);
      });
    }
    const chain = await verifyChain(cluster);
    if (!chain.ok) violations.push(`hash chain: gridgov verify failed: ${chain.output.slice(0, 500)}`);
    if (setup.check) violations.push(...(await setup.check(cluster, records)));

    failed = violations.length > 0;
    return {
      dir: cluster.dir,
      cluster,
      profile,
      records,
      verdict,
      violations,
      faults: injector.faults,
      reads,
      streams,
      chain: chain.summary,
      settledAfterLoad: leftOver.filter((r) => r.decisive).length,
      outbox: outbox.counts,
      discordDuplicates: discordDuplicates(cluster),
      durations: { loadMs, drainMs, totalMs: Date.now() - startedAt },
    };
  } finally {
    await cluster.stop();
  }
}
