import { setTimeout as sleep } from 'node:timers/promises';
import type { FaultInjector } from '../chaos/bank.ts';
import type { FaultLog } from '../chaos/faults.ts';
import type { HaCluster } from './cluster.ts';
import { PATRONI_TIMINGS } from './configs.ts';
import type { Host } from './network.ts';
import type { NodeProcess, Topology } from './topology.ts';

/**
 * The faults of `npm run test:ha`. Four look like a process dying: kill -9 of the leader's
 * postmaster (Patroni, still holding the leader key, restarts it in place after crash recovery),
 * Patroni stopped on the leader (it stops PostgreSQL and releases the key), a planned switchover,
 * and the stopped node started again. The others leave every process alive and change who can
 * hear whom (rules in the namespaces, test/ha/network.ts), or freeze the leader:
 *
 * - minority leader: the leader cut from etcd and both replicas (HAProxy still reaches it);
 * - the leader cut from its synchronous standby only (both still reach etcd);
 * - asymmetric: etcd stops hearing the leader, the leader still sends to etcd;
 * - a lossy, slow link on the leader (netem, or nftables loss and a token bucket without it);
 * - SIGSTOP of the leader's Patroni and PostgreSQL for longer than Patroni's ttl, and for half of it;
 * - the double fault: the leader and its synchronous standby both cut from everything.
 *
 * Each is held for HOLD_MS (the brief pause for half of ttl), lifted, and the next waits until Patroni reports a leader and two
 * streaming replicas and HAProxy routes to that leader; if that does not happen within
 * RECOVERY_MS, the cluster did not come back by itself (recorded, and the run fails).
 */
export const HaFault = {
  postmasterKill: "kill -9 of the leader's postmaster",
  patroniStop: 'Patroni stopped on the leader',
  switchover: 'planned switchover (Patroni REST API)',
  rejoin: 'the old leader rejoins as a replica',
  minorityLeader: 'the leader cut from etcd and the replicas',
  syncStandbyCut: 'the leader cut from its synchronous standby only',
  asymmetric: 'etcd stops hearing the leader (asymmetric)',
  lossyLink: "loss and delay on the leader's link",
  pause: 'SIGSTOP of the leader longer than ttl',
  briefPause: 'SIGSTOP of the leader shorter than ttl',
  doubleFault: 'the leader and its synchronous standby lost together',
} as const;
export type HaFault = (typeof HaFault)[keyof typeof HaFault];

/** Every fault, in the order a full run plays them (the rejoin needs the stopped node before it). */
export const ALL_FAULTS: HaFault[] = Object.values(HaFault);
/**
 * The short profile: one partition, one pause. The pause is shorter than ttl, so that the leader
 * keeps its key: after a pause past ttl, Patroni 3 sometimes leaves the synchronous-standby key
 * stuck ("Synchronous replication key updated by someone else", docs/deployment.md), which the
 * full profile records and CI cannot wait out.
 */
export const SHORT_FAULTS: HaFault[] = [HaFault.minorityLeader, HaFault.briefPause];

/** Longer than ttl, so that a cut or frozen leader loses its key. */
export const HOLD_MS = (PATRONI_TIMINGS.ttl + 8) * 1000;
/** Half of ttl: a frozen leader that keeps its key. */
const BRIEF_HOLD_MS = (PATRONI_TIMINGS.ttl / 2) * 1000;
const RECOVERY_MS = 180_000;
const LOSSY = { lossPercent: 20, delayMs: 200 };

export interface FailoverEvent {
  kind: HaFault;
  detail: string;
  /** When the fault was injected, lifted, and when Patroni and HAProxy agreed on a healthy leader again (ms since epoch). */
  at: number;
  liftedAt: number;
  healedAt: number;
  leaderBefore: string;
  leaderAfter: string;
  /** The cluster came back by itself once the fault was lifted (no process restarted by hand). */
  recovered: boolean;
}

export function createHaInjector(
  cluster: HaCluster,
  schedule: HaFault[],
  progress: () => number,
  log: (line: string) => void,
  options: { minLoadMs: number; workload?: { start(): void; stop(): Promise<void> } },
): FaultInjector & { failovers: FailoverEvent[] } {
  const topology: Topology = cluster.topology;
  const network = topology.network;
  const faults: FaultLog = {
    kinds: [...new Set(schedule)],
    counts: new Map(),
    connectionsCut: 0,
    notifierModes: { linear: new Map(), discord: new Map() },
    events: [],
  };
  const failovers: FailoverEvent[] = [];
  const started = Date.now();
  let stopping = false;
  let stopped: NodeProcess | undefined;

  const syncStandby = async (): Promise<NodeProcess> => {
    const member = (await topology.members()).find((m) => m.role === 'sync_standby');
    const node = topology.nodes.find((n) => n.name === member?.name);
    if (!node) throw new Error('no synchronous standby to cut');
    return node;
  };
  const everyoneBut = (...hosts: Host[]) =>
    [topology.etcd, topology.proxy, ...topology.nodes.map((n) => n.host)].filter((h) => !hosts.includes(h));

  /** Injects the fault; returns what it did and how to lift it (nothing to lift for the crash faults). */
  async function inject(kind: HaFault, leader: NodeProcess): Promise<{ detail: string; lift?: () => void; replicas: number }> {
    switch (kind) {
      case HaFault.postmasterKill:
        return { detail: `${leader.name} postmaster pid ${await topology.killPostmaster(leader)}`, replicas: 2 };
      case HaFault.patroniStop:
        stopped = leader;
        return { detail: `${leader.name} patroni pid ${await topology.stopPatroni(leader)}`, replicas: 1 };
      case HaFault.switchover: {
        const running = await topology.members();
        const candidate = topology.nodes.find((n) => n !== leader && running.some((m) => m.name === n.name && m.state !== 'stopped'));
        if (!candidate) throw new Error('no running replica to switch over to');
        await topology.switchover(leader, candidate);
        return { detail: `${leader.name} → ${candidate.name}`, replicas: stopped ? 1 : 2 };
      }
      case HaFault.rejoin: {
        if (!stopped) throw new Error('no stopped node to rejoin');
        topology.startPatroni(stopped);
        const detail = `${stopped.name} started again under leader ${leader.name}`;
        stopped = undefined;
        return { detail, replicas: 2 };
      }
      case HaFault.minorityLeader: {
        const peers = [topology.etcd, ...topology.nodes.filter((n) => n !== leader).map((n) => n.host)];
        network.block(leader.host, { from: peers, to: peers });
        return {
          detail: `${leader.name} cut from etcd, ${peers
            .slice(1)
            .map((p) => p.name)
            .join(', ')}`,
          lift: network.heal,
          replicas: 2,
        };
      }
      case HaFault.syncStandbyCut: {
        const standby = await syncStandby();
        network.block(leader.host, { from: [standby.host], to: [standby.host] });
        return { detail: `${leader.name} cut from ${standby.name}`, lift: network.heal, replicas: 2 };
      }
      case HaFault.asymmetric:
        network.block(topology.etcd, { from: [leader.host] });
        return { detail: `etcd drops what ${leader.name} sends`, lift: network.heal, replicas: 2 };
      case HaFault.lossyLink: {
        const applied = network.shape(leader.host, LOSSY);
        return {
          detail: `${leader.name}: ${applied.lossPercent}% loss, ${applied.delayMs} ms (${applied.method})`,
          lift: network.heal,
          replicas: 2,
        };
      }
      case HaFault.pause:
      case HaFault.briefPause: {
        const pids = topology.pause(leader);
        return { detail: `${leader.name}: ${pids.length} processes stopped`, lift: () => topology.resume(leader), replicas: 2 };
      }
      case HaFault.doubleFault: {
        const standby = await syncStandby();
        for (const node of [leader, standby]) {
          const others = everyoneBut(node.host);
          network.block(node.host, { from: others, to: others });
        }
        return { detail: `${leader.name} and ${standby.name} cut from everything`, lift: network.heal, replicas: 2 };
      }
    }
  }

  async function play(kind: HaFault): Promise<void> {
    const leader = await topology.leader();
    const at = Date.now();
    const fault = await inject(kind, leader);
    faults.counts.set(kind, (faults.counts.get(kind) ?? 0) + 1);
    faults.events.push({ at: at - started, kind, detail: fault.detail });
    log(`fault ${kind}: ${fault.detail}`);
    if (fault.lift) {
      await sleep(kind === HaFault.briefPause ? BRIEF_HOLD_MS : HOLD_MS);
      fault.lift();
      log(`lifted after ${((Date.now() - at) / 1000).toFixed(1)} s`);
    }
    const liftedAt = Date.now();
    const recovered = await topology.waitHealthy(fault.replicas, RECOVERY_MS).then(
      () => true,
      () => false,
    );
    const after = recovered ? await topology.leader() : undefined;
    failovers.push({
      kind,
      detail: fault.detail,
      at,
      liftedAt,
      healedAt: Date.now(),
      leaderBefore: leader.name,
      leaderAfter: after?.name ?? 'none',
      recovered,
    });
    if (!recovered) throw new Error(`the cluster did not come back by itself within ${RECOVERY_MS / 1000} s after ${kind}`);
    log(`healthy again after ${((Date.now() - at) / 1000).toFixed(1)} s: leader ${after!.name}`);
  }

  let running: Promise<void> | undefined;
  let failure: unknown;
  let played = 0;
  return {
    faults,
    failovers,
    /**
     * The load keeps pace with time, so that a run lasts at least minLoadMs; past 85% of it with
     * faults still to play, each client sends at most one proposal a second, so every fault
     * still lands on proposals in flight.
     */
    async pace() {
      if (stopping) return;
      const elapsed = Date.now() - started;
      if (progress() > elapsed / options.minLoadMs) await sleep(200);
      else if (played < schedule.length && progress() >= 0.85) await sleep(1_000);
    },
    start() {
      options.workload?.start();
      running = (async () => {
        for (const [i, kind] of schedule.entries()) {
          const at = (i + 1) / (schedule.length + 1) - 0.05;
          while (progress() < at && !stopping) await sleep(20);
          await play(kind);
          played++;
        }
      })().catch((error: unknown) => {
        failure = error;
        try {
          network.heal();
          for (const node of topology.nodes) topology.resume(node);
        } catch (cleanup) {
          log(`lifting the faults failed too: ${String(cleanup)}`);
        }
        log(`fault schedule failed: ${String(error)}`);
      });
    },
    async finish() {
      stopping = true;
      await running;
      await options.workload?.stop();
      if (failure !== undefined) throw failure instanceof Error ? failure : new Error(JSON.stringify(failure));
    },
  };
}
